"""The same scenarios over the three wire dialects: Responses (a server-side Conversation), Chat
Completions (the thread replayed from the local store) and the legacy Assistants API (a thread
and an assistant on the server, one run per ask)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.store import Store
from assistant_magic.testing import FunctionCall, HttpError, ScriptedServer, Text, ToolCalls

CALC = '''
def calc_strength(name: str) -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
    """
    return 530_000 if name == "Mamezou" else 9001
'''
ENDPOINT = {"responses": "/v1/responses", "chat": "/v1/chat/completions"}
#: Assistants API requests that make the model work: a new run, or outputs for a waiting one.
RUN_REQUEST = re.compile(r"/v1/threads/[^/]+/runs(/[^/]+/submit_tool_outputs)?")


@pytest.fixture(params=["responses", "chat", "assistants"])
def dialect(request: pytest.FixtureRequest, ip: InteractiveShell) -> str:
    ip.run_line_magic("assistant", f"--dialect {request.param}")
    return str(request.param)


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def model_requests(server: ScriptedServer, dialect: str) -> list[dict[str, Any]]:
    if dialect == "assistants":
        return [
            r.body for r in server.requests if r.method == "POST" and RUN_REQUEST.fullmatch(r.path)
        ]
    return [r.body for r in server.requests_to("POST", ENDPOINT[dialect])]


def test_asks_continue_one_thread(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("530,000."), Text("Goku: 9001."))
    error, out = run(ip, "%%ask\nMamezou's strength?", capsys)
    assert error is None and "530,000." in out and "✓ completed" in out
    error, out = run(ip, "%%ask -o answer\nAnd Goku?", capsys)
    assert error is None and ip.user_ns["answer"] == "Goku: 9001."
    if dialect == "chat":
        assert server.chat_messages(-1) == [
            {"role": "user", "content": "Mamezou's strength?"},
            {"role": "assistant", "content": "530,000."},
            {"role": "user", "content": "And Goku?"},
        ]
        assert server.requests_to("POST", "/v1/conversations") == []
    elif dialect == "assistants":
        first, second = [r.path for r in server.requests if RUN_REQUEST.fullmatch(r.path)]
        assert first == second, "both runs on one thread"
        (thread,) = server.threads
        texts = [m["content"][0]["text"]["value"] for m in server.thread_messages(thread["id"])]
        assert texts == ["Mamezou's strength?", "530,000.", "And Goku?", "Goku: 9001."]
    else:
        first, second = model_requests(server, dialect)
        assert first["conversation"] == second["conversation"]


def test_tool_calls_and_their_replay(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(CALC)
    run(ip, "%assistant tools add calc_strength", capsys)
    server.script(
        ToolCalls(
            [
                FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_a"),
                FunctionCall("calc_strength", '{"name": 7', call_id="call_b"),
            ]
        ),
        Text("Mamezou: 530,000."),
        Text("Next."),
    )
    error, out = run(ip, "%%ask\nMeasure them", capsys)
    assert error is None
    assert "✓ calc_strength(name='Mamezou') → 530000" in out
    assert "✗ calc_strength" in out  # invalid JSON went back to the model, the ask went on
    assert [call_id for call_id, _ in server.tool_outputs] == ["call_a", "call_b"]
    assert "not valid JSON" in server.tool_outputs[1][1]
    run(ip, "%%ask\nNext question", capsys)
    if dialect == "chat":
        roles = [m["role"] for m in server.chat_messages(-1)]
        assert roles == ["user", "assistant", "tool", "tool", "assistant", "user"]
        calls = server.chat_messages(-1)[1]["tool_calls"]
        assert [c["id"] for c in calls] == ["call_a", "call_b"]


def test_failure_then_retry(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    server.script(*[HttpError(503, retry_after_ms=1)] * 3, Text("Back."))
    error, out = run(ip, "%%ask\nDo not lose me", capsys)
    assert "(503)" in str(error) and "Traceback" not in out
    error, out = run(ip, "%assistant retry", capsys)
    assert error is None and "Back." in out
    if dialect == "chat":
        # The failed ask is not replayed: the retry carries the question once.
        assert server.chat_messages(-1) == [{"role": "user", "content": "Do not lose me"}]
    if dialect == "assistants":
        # The question stayed on the thread; the retry ran it again instead of repeating it.
        (thread,) = server.threads
        texts = [m["content"][0]["text"]["value"] for m in server.thread_messages(thread["id"])]
        assert texts == ["Do not lose me", "Back."]


def test_interrupt_keeps_the_thread_usable(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import threading
    import time

    words = [f"w{i} " for i in range(40)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.05), Text("Here."))

    def interrupt() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not model_requests(server, dialect):
            time.sleep(0.01)
        time.sleep(0.4)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    error, out = run(ip, "%%ask\nCount", capsys)
    assert type(error).__name__ == "AskInterrupted"
    error, out = run(ip, "%%ask\nStill there?", capsys)
    assert error is None and "Here." in out
    thread = ip._assistant_magics.assistant.threads.thread
    first = Store(ip._assistant_magics.assistant.threads.store_path).asks(thread.id)[0]
    assert first.status == "interrupted" and first.answer_text.startswith("w0 w1 ")
    if dialect == "chat":
        replayed = server.chat_messages(-1)
        assert replayed[0] == {"role": "user", "content": "Count"}
        assert replayed[1]["role"] == "assistant" and replayed[1]["content"].startswith("w0 ")


def test_chat_leaves_old_turns_out_beyond_the_window(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("assistant", "--dialect chat")
    ip.run_line_magic("config", "AssistantMagics.context_window = 400")
    long_answer = "strength " * 60
    for i in range(4):
        server.script(Text(f"{long_answer}{i}"))
        run(ip, f"%%ask\nQuestion {i}", capsys)
    _, out = run(ip, "%%ask\nLast question", capsys)
    assert "sent the last" in out and "context window" in out
    sent = server.chat_messages(-1)
    assert sent[-1] == {"role": "user", "content": "Last question"}
    assert {"role": "user", "content": "Question 0"} not in sent
    thread = ip._assistant_magics.assistant.threads.thread
    assert len(Store(ip._assistant_magics.assistant.threads.store_path).asks(thread.id)) == 5


def test_forcing_a_tool(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(CALC)
    run(ip, "%assistant tools add calc_strength", capsys)
    server.script(FunctionCall("calc_strength", {"name": "Goku"}), Text("9001."))
    error, _ = run(ip, "%%ask --tool-choice calc_strength\nGoku?", capsys)
    assert error is None
    first, second = model_requests(server, dialect)
    forced = (
        {"type": "function", "name": "calc_strength"}
        if dialect == "responses"
        else {"type": "function", "function": {"name": "calc_strength"}}
    )
    assert first["tool_choice"] == forced
    if dialect == "assistants":
        assert set(second) == {"tool_outputs", "stream"}, "the outputs go to the same run"
    else:
        assert second["tool_choice"] == "auto", "forced once, then the model decides"
    error, _ = run(ip, "%%ask --tool-choice power_level\nHi", capsys)
    assert "--tool-choice power_level: not a tool of this ask" in str(error)
    error, _ = run(ip, "%%ask --tools none --tool-choice required\nHi", capsys)
    assert "offers no tools" in str(error)


def test_the_answer_length_can_be_capped(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%%ask\nHi", capsys)
    ip.run_line_magic("config", "AssistantMagics.max_output_tokens = 64")
    run(ip, "%%ask\nHi again", capsys)
    first, second = model_requests(server, dialect)
    field = {
        "responses": "max_output_tokens",
        "chat": "max_tokens",
        "assistants": "max_completion_tokens",
    }[dialect]
    assert field not in first
    # The Assistants API takes no fewer than 256 completion tokens.
    assert second[field] == (256 if dialect == "assistants" else 64)


def test_temperature_is_sent_only_when_set(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, "%assistant --temperature 0.3", capsys)
    assert error is None and "temperature: 0.3" in out
    run(ip, "%%ask\nOne", capsys)
    run(ip, "%%ask --temperature 0\nTwo", capsys)
    run(ip, '%assistant --temperature ""', capsys)
    run(ip, "%%ask\nThree", capsys)
    sent = [body.get("temperature", "unset") for body in model_requests(server, dialect)]
    assert sent == [0.3, 0, "unset"]
    for bad in ("hot", "2.5", "-1"):
        error, out = run(ip, f"%%ask --temperature {bad}\nFour", capsys)
        assert str(error) == f"--temperature takes a number from 0 to 2, not '{bad}'."
    assert len(model_requests(server, dialect)) == 3, "nothing sent for a bad temperature"


@pytest.mark.parametrize("api", ["responses", "assistants"])
def test_a_server_without_the_dialect_says_which_to_try(ip, capsys, api: str) -> None:  # type: ignore[no-untyped-def]
    from conftest import API_KEY, SPEC

    with ScriptedServer(api_key=API_KEY, openapi=SPEC, chat_only=True) as chat_only:
        run(ip, f"%assistant --dialect {api} --base-url {chat_only.base_url}", capsys)
        error, out = run(ip, "%%ask\nHi", capsys)
        endpoint = {"responses": "/conversations", "assistants": "/assistants"}[api]
        assert str(error).startswith(f"{chat_only.base_url} does not offer the ")
        assert f"(404 on {endpoint}): try " in str(error) and "--dialect chat" in str(error)
        assert "Traceback" not in out


def test_a_thread_from_another_dialect_names_the_command_that_switches_back(  # type: ignore[no-untyped-def]
    ip, server, capsys
) -> None:
    server.script(Text("On the Responses API."), Text("Back again."))
    assert run(ip, "%%ask\nHello", capsys)[0] is None
    # As after a kernel restart with another configuration, then `thread resume`.
    ip.run_line_magic("config", "AssistantMagics.api = 'chat'")

    error, _ = run(ip, "%%ask\nStill there?", capsys)

    assert type(error).__name__ == "ConfigurationError"
    message = str(error)
    assert "was made with the responses dialect, and the configuration now uses the chat" in message
    assert "switch back with %assistant --dialect responses," in message
    assert "--base-url" not in message, "the URL is the same: only the dialect differs"
    run(ip, "%assistant --dialect responses", capsys)
    error, out = run(ip, "%%ask\nStill there?", capsys)
    assert error is None and "Back again." in out, "the same thread goes on"
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"]
