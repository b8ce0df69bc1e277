"""MCP servers that fail: one notice line, the model told the tool failed, the ask goes on, the
next ask starts the server again; a Ctrl-C during a call cancels it; a real kernel's too."""

from __future__ import annotations

import _thread
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls
from assistant_magic.tools.naming import mcp_tool_name

from mcp_fixtures import http_server, mcp_url, outputs, run

__all__ = ["mcp_url"]  # a fixture


def test_a_call_past_the_timeout_then_a_crash_then_a_restart(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    with http_server() as url:
        run(ip, f"%assistant mcp add fx {url}", capsys)
        ip.run_line_magic("config", "AssistantMagics.mcp_timeout = 1.5")
        server.script(
            ToolCalls([FunctionCall("fx__slow", {"seconds": 10}, call_id="c1")]),
            Text("Too slow."),
            ToolCalls([FunctionCall("fx__crash", {}, call_id="c2")]),
            Text("It crashed."),
            ToolCalls([FunctionCall("fx__echo", {"text": "back"}, call_id="c3")]),
            Text("Back."),
        )
        error, out = run(ip, "%%ask\nBe slow", capsys)
        assert error is None and "Too slow." in out
        notice = [line for line in out.splitlines() if "ⓘ MCP server fx could not run slow" in line]
        assert len(notice) == 1, out
        assert outputs(server)["c1"].startswith("The tool failed: MCP server fx could not run slow")
        error, out = run(ip, "%%ask\nCrash", capsys)
        assert error is None and "It crashed." in out
        assert "could not run crash" in outputs(server)["c2"]
    with http_server() as url:  # the server is back (on a new port): the next ask reaches it
        run(ip, f"%assistant mcp add fx {url}", capsys)
        error, out = run(ip, "%%ask\nAgain", capsys)
        assert error is None and outputs(server)["c3"] == "back"


def test_a_server_that_cannot_start_is_one_line_and_the_ask_goes_on(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(
        ip, f"%assistant mcp add dead -- {sys.executable} -c 'raise SystemExit(\"no way\")'", capsys
    )
    run(
        ip, "%assistant mcp add nokey http://127.0.0.1:9/mcp --header 'X-Key: $NO_SUCH_VAR'", capsys
    )
    server.script(Text("Fine without."))
    error, out = run(ip, "%%ask\nHello", capsys)
    assert error is None and "Fine without." in out
    lines = [line for line in out.splitlines() if "ⓘ MCP server" in line]
    assert len(lines) == 2, out
    assert "dead could not" in lines[0] and "no way" in lines[0]
    assert "$NO_SUCH_VAR is not set" in lines[1]
    assert "tools" not in server.requests_to("POST", "/v1/responses")[0].body


def test_the_header_secret_never_shows(ip, server, capsys, monkeypatch, mcp_url: str) -> None:  # type: ignore[no-untyped-def]
    secret = "tok-s3cr3t-0123456789"
    monkeypatch.setenv("FX_TOKEN", secret)
    run(ip, f"%assistant mcp add fx {mcp_url} --header 'Authorization: Bearer $FX_TOKEN'", capsys)
    server.script(ToolCalls([FunctionCall("fx__echo", {"text": secret})]), Text("ok"))
    error, out = run(ip, "%%ask --tools fx\nEcho", capsys)
    error, listed = run(ip, "%assistant mcp", capsys)
    assert error is None and "state: running" in listed
    assert secret not in out + listed + str(server.tool_outputs)


def test_an_interrupt_cancels_the_call_and_the_next_ask_works(
    ip: InteractiveShell,
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
    mcp_url: str,
) -> None:
    run(ip, f"%assistant mcp add fx {mcp_url}", capsys)
    server.script(
        ToolCalls([FunctionCall("fx__slow", {"seconds": 20}, call_id="c1")]),
        ToolCalls([FunctionCall("fx__echo", {"text": "awake"}, call_id="c2")]),
        Text("Awake."),
    )
    timer = threading.Timer(2.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    error, out = run(ip, "%%ask\nSleep", capsys)
    assert type(error).__name__ == "AskInterrupted" and time.monotonic() - started < 10
    error, out = run(ip, "%%ask\nWake", capsys)
    assert error is None and "Awake." in out and outputs(server)["c2"] == "awake"


def test_names_are_valid_unique_and_say_their_server() -> None:
    assert mcp_tool_name("time", "get_current_time") == "time__get_current_time"
    assert mcp_tool_name("git", "log.show") == "git__log_show"
    assert mcp_tool_name("git", "log", taken={"git__log"}) == "git__log_2"
    long = mcp_tool_name("srv", "x" * 100)
    assert len(long) == 64 and long.startswith("srv__xxx")
    assert long != mcp_tool_name("srv", "x" * 99)


@pytest.mark.kernel
def test_a_real_kernel_interrupts_a_call_and_stops_the_server_at_exit(
    server: ScriptedServer, env: Path, mcp_url: str
) -> None:
    from test_notebooks import Kernel, _reply

    server.script(
        ToolCalls([FunctionCall("fx__slow", {"seconds": 30}, call_id="c1")]),
        ToolCalls([FunctionCall("time__get_current_time", {"timezone": "UTC"}, call_id="c2")]),
        Text("It is now."),
    )
    kernel = Kernel()
    try:
        kernel.run("%load_ext assistant_magic")
        kernel.run(f"%assistant mcp add fx {mcp_url}")
        kernel.run(f"%assistant mcp add time -- {sys.executable} -m mcp_server_time")
        msg_id = kernel.client.execute("%%ask --tools fx\nSleep")
        deadline = time.monotonic() + 30
        while "c1" not in str(server.requests) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # the call is on its way to the server
        kernel.manager.interrupt_kernel()
        reply = _reply(kernel.client, msg_id)
        assert reply["content"]["ename"] == "AskInterrupted"
        kernel.run("%%ask -o answer --tools time\nWhat time is it?", timeout=60)
        printed = "".join(kernel.run("print(answer)"))
        assert "It is now." in printed
        assert '"timezone":"UTC"' in outputs(server)["c2"].replace(" ", "")
    finally:
        kernel.shutdown()
