"""What a model, a proxy or a tool can throw at an ask, on every dialect: each ends as one line
(or as error text the model reads), the ask is recorded, and the thread takes the next ask."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.store import Store
from assistant_magic.testing import FunctionCall, ScriptedServer, Text

from conftest import one_line

DEEP = "[" * 100_000 + "]" * 100_000
TOOLS = '''
class Custom(BaseException):
    pass

def measure(name: str) -> int:
    """Measure a fighter.

    Args:
        name: the fighter's name
    """
    if name == "exit":
        raise SystemExit(3)
    if name == "generator":
        raise GeneratorExit("closed")
    if name == "custom":
        raise Custom("a BaseException of its own")
    return 9001
'''


@pytest.fixture(params=["responses", "chat", "assistants"])
def dialect(request: pytest.FixtureRequest, ip: InteractiveShell) -> str:
    ip.run_line_magic("assistant", f"--dialect {request.param}")
    ip.run_cell(TOOLS)
    ip.run_line_magic("assistant", "tools add measure")
    return str(request.param)


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def last_ask(ip: InteractiveShell) -> Any:
    threads = ip._assistant_magics.assistant.threads  # type: ignore[attr-defined]
    store: Store = threads.store
    return store.last_ask(threads.thread.id)


def outputs_sent(server: ScriptedServer) -> list[str]:
    return [str(output) for _, output in server.tool_outputs]


@pytest.mark.parametrize("tool", ["measure", "no_such_tool"])
def test_deeply_nested_arguments_go_back_as_error_text(  # type: ignore[no-untyped-def]
    ip, server, capsys, dialect: str, tool: str
) -> None:
    server.script(
        FunctionCall(tool, DEEP, call_id="call_deep", undeclared=tool == "no_such_tool"),
        Text("Sorry, I will write flatter arguments."),
    )
    error, out = run(ip, "%%ask\nMeasure Goku", capsys)
    assert error is None, out
    assert "Sorry, I will write flatter arguments." in out
    (sent,) = outputs_sent(server)
    expected = "nested too deeply" if tool == "measure" else "Unknown tool 'no_such_tool'"
    assert expected in sent


@pytest.mark.parametrize("raised", ["exit", "generator", "custom"])
def test_a_tool_raising_any_base_exception_is_answered(  # type: ignore[no-untyped-def]
    ip, server, capsys, dialect: str, raised: str
) -> None:
    server.script(FunctionCall("measure", {"name": raised}), Text("That went wrong."))
    error, out = run(ip, "%%ask\nMeasure", capsys)
    assert error is None, out
    assert "That went wrong." in out
    (sent,) = outputs_sent(server)
    assert sent.startswith("The function raised ")
    server.script(Text("Next."))
    error, out = run(ip, "%%ask\nNext?", capsys)
    assert error is None and "Next." in out


def test_a_stream_event_that_is_not_json_ends_like_a_broken_stream(  # type: ignore[no-untyped-def]
    ip, server, capsys, dialect: str
) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    server.script(Text("one two three four", hang_up_after=2, hang_up_frame=page))

    error, _ = run(ip, "%%ask\nCount", capsys)

    assert type(error).__name__ == "ApiError" and one_line(error), error
    assert "sent a stream event that is not JSON ('<html><body><h1>502" in str(error)
    assert "%assistant retry" in str(error)
    ask = last_ask(ip)
    assert ask.status == "failed" and ask.answer_text.strip() == "one two", "the partial answer"
    server.script(Text("one two three four"))
    error, out = run(ip, "%assistant retry", capsys)
    assert error is None and "one two three four" in out
