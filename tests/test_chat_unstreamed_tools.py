"""Chat servers that cannot stream requests offering tools (llama-cpp-python's server with
``--chat_format chatml-function-calling``): such a request is asked again without streaming,
and so are the later ones; requests without tools keep streaming.

The scripted server plays that server (``chat_auto_tool_streams``): a streamed request offering
tools with ``tool_choice: "auto"`` gets its 200, then a stream that ends, or is cut, before any
chunk. tests/test_local_chat_format.py runs the real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.store import Store
from assistant_magic.testing import FunctionCall, ScriptedServer, Text
from assistant_magic.testing.chat.api import AutoToolStreams

from conftest import API_KEY, SPEC

NOTICE = "this server does not stream requests with tools: asking without streaming"
CALC = '''
def calc_strength(name: str) -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
    """
    return 530_000 if name == "Mamezou" else 9001
'''


@pytest.fixture
def auto_tool_streams() -> AutoToolStreams:
    return "empty"


@pytest.fixture
def server(auto_tool_streams: AutoToolStreams) -> Iterator[ScriptedServer]:
    """The scripted server, failing streamed "auto" tool requests as `auto_tool_streams` says."""
    with ScriptedServer(
        api_key=API_KEY, openapi=SPEC, chat_auto_tool_streams=auto_tool_streams
    ) as srv:
        yield srv
        assert srv.validation_errors == [], "\n".join(srv.validation_errors)


@pytest.fixture
def chat(ip: InteractiveShell) -> InteractiveShell:
    """The shell speaking Chat Completions, with `calc_strength` offered to the model."""
    ip.run_line_magic("assistant", "--dialect chat")
    ip.run_cell(CALC)
    ip.run_line_magic("assistant", "tools add calc_strength")
    return ip


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def chat_bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [request.body for request in server.requests_to("POST", "/chat/completions")]


def forced_call_then_follow_up(
    ip: InteractiveShell, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> str:
    """A forced call (streams fine), then its follow-up ("auto": the stream fails)."""
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_1"),
        Text("Mamezou: 530,000."),
    )
    error, out = run(ip, "%%ask --tool-choice calc_strength\nMamezou's strength?", capsys)
    assert error is None, out
    return out


@pytest.mark.parametrize("auto_tool_streams", ["empty", "cut"])
def test_tool_requests_are_asked_unstreamed_once_a_stream_failed_before_any_chunk(
    chat: InteractiveShell,
    server: ScriptedServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = forced_call_then_follow_up(chat, server, capsys)
    assert "✓ calc_strength(name='Mamezou') → 530000" in first
    assert "Mamezou: 530,000." in first and "✓ completed" in first
    forced, refused, retried = chat_bodies(server)
    assert forced["stream"] is True and refused["stream"] is True
    assert refused["messages"] == retried["messages"], "the same request, asked again"
    assert retried["stream"] is False and "stream_options" not in retried
    assert retried["tool_choice"] == "auto" and retried["tools"] == refused["tools"]

    server.script(FunctionCall("calc_strength", {"name": "Goku"}), Text("Goku: 9001."))
    error, second = run(chat, "%%ask -o answer\nAnd Goku's?", capsys)

    assert error is None, second
    assert chat.user_ns["answer"] == "Goku: 9001."
    # Every status still shows, though nothing streams.
    for status in ("● in progress", "⚑ requires action", "⚙ calling tools", "✓ completed"):
        assert status in second
    assert "✓ calc_strength(name='Goku') → 9001" in second
    asked = chat_bodies(server)[3:]
    assert [body["stream"] for body in asked] == [False, False], "unstreamed at once"
    assert all("tools" in body and "stream_options" not in body for body in asked)
    assert (first + second).count(NOTICE) == 1
    with Store(env) as store:
        (thread,) = store.list_threads()
        asks = store.asks(thread.id)
    assert [ask.status for ask in asks] == ["completed", "completed"]
    assert [ask.answer_text for ask in asks] == ["Mamezou: 530,000.", "Goku: 9001."]
    assert all(ask.usage is not None and ask.usage.output_tokens > 0 for ask in asks)


def test_requests_without_tools_keep_streaming(
    chat: InteractiveShell, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    forced_call_then_follow_up(chat, server, capsys)
    server.script(Text("You are welcome."))

    error, out = run(chat, "%%ask --tools none\nThanks.", capsys)

    assert error is None and "You are welcome." in out and NOTICE not in out
    last = chat_bodies(server)[-1]
    assert "tools" not in last
    assert last["stream"] is True and last["stream_options"] == {"include_usage": True}


def test_a_dry_run_shows_tool_requests_unstreamed_once_the_server_is_known(
    chat: InteractiveShell, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _, before = run(chat, "%%ask --dry-run\nMamezou's strength?", capsys)
    assert '"stream": true' in before and '"stream_options"' in before
    forced_call_then_follow_up(chat, server, capsys)

    _, after = run(chat, "%%ask --dry-run\nAnd Goku's?", capsys)

    assert '"stream": false' in after and '"stream_options"' not in after
    _, untooled = run(chat, "%%ask --dry-run --tools none\nThanks.", capsys)
    assert '"stream": true' in untooled


@pytest.mark.parametrize("auto_tool_streams", ["streamed"])
def test_a_stream_broken_after_output_is_still_a_failure(
    chat: InteractiveShell, server: ScriptedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.script(Text("Mamezou is very strong indeed.", hang_up_after=2))

    error, out = run(chat, "%%ask\nMamezou's strength?", capsys)

    assert str(error).startswith("Lost the connection to ") and "\n" not in str(error)
    assert "Traceback" not in out and NOTICE not in out
    (only,) = chat_bodies(server)
    assert only["stream"] is True, "not asked again"
    server.script(Text("Back."))
    error, out = run(chat, "%%ask\nAgain?", capsys)
    assert error is None and "Back." in out
    assert chat_bodies(server)[-1]["stream"] is True, "the server still streams tool requests"
