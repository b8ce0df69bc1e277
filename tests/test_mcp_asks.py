"""MCP tools through %%ask on the three dialects: the time server over stdio, the test server
over streamable HTTP (text, structured content, an image, an error, arguments checked)."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

from mcp_fixtures import TIME_SERVER, dialect, mcp_url, outputs, run

__all__ = ["dialect", "mcp_url"]  # fixtures


def test_the_time_server_over_stdio(ip, server, capsys, dialect: str) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, f"%assistant mcp add time -- {TIME_SERVER}", capsys)
    assert error is None and "MCP server time added (stdio:" in out
    server.script(
        ToolCalls([FunctionCall("time__get_current_time", {"timezone": "UTC"}, call_id="c1")]),
        Text("It is late."),
    )
    error, out = run(ip, "%%ask\nWhat time is it in UTC?", capsys)
    assert error is None and "It is late." in out
    assert "✓ time__get_current_time(timezone='UTC')" in out
    assert '"timezone":"UTC"' in outputs(server)["c1"].replace(" ", "")
    error, out = run(ip, "%assistant mcp", capsys)
    assert "state: running" in out and "time__convert_time" in out


def test_results_of_every_kind_over_http(
    ip: InteractiveShell,
    server: ScriptedServer,
    capsys: pytest.CaptureFixture[str],
    dialect: str,
    mcp_url: str,
) -> None:
    run(ip, f"%assistant mcp add fx {mcp_url}", capsys)
    server.script(
        ToolCalls(
            [
                FunctionCall("fx__echo", {"text": "hi", "times": 2}, call_id="c1"),
                FunctionCall("fx__fighter", {"name": "Goku"}, call_id="c2"),
                FunctionCall("fx__red_square", {}, call_id="c3"),
                FunctionCall("fx__broken", {}, call_id="c4"),
                FunctionCall("fx__echo", {"times": "many"}, call_id="c5"),
            ]
        ),
        Text("Done."),
    )
    error, out = run(ip, "%%ask -o answer\nUse every tool", capsys)
    assert error is None and "Done." in out
    sent = outputs(server)
    assert sent["c1"] == "hi hi"
    assert '"strength":530000' in sent["c2"].replace(" ", "")
    assert "image(s) attached (4x4 PNG)" in sent["c3"]
    assert sent["c4"].startswith("The tool failed")
    assert "Invalid arguments for fx__echo" in sent["c5"] and "'text' is a required" in sent["c5"]
    assert [image.size for image in ip.user_ns["answer"].images] == [(4, 4)]


def test_selection_schema_and_approval(ip, server, capsys, mcp_url: str) -> None:  # type: ignore[no-untyped-def]
    run(ip, f"%assistant mcp add fx {mcp_url}", capsys)
    asked: list[str] = []
    ip._assistant_magics.assistant.toolbox.approve = lambda tool, shown: (
        asked.append(shown) or False
    )
    server.script(
        ToolCalls([FunctionCall("fx__delete_everything", {}, call_id="c1")]),
        Text("Not deleted."),
    )
    error, _ = run(ip, "%%ask --tools fx__delete_everything,fx__echo\nDelete it", capsys)
    assert error is None and asked == ["fx__delete_everything()"]
    assert "denied" in outputs(server)["c1"]
    tools = server.requests_to("POST", "/v1/responses")[0].body["tools"]
    by_name = {tool["name"]: tool for tool in tools}
    assert set(by_name) == {"fx__delete_everything", "fx__echo"}
    echo = by_name["fx__echo"]
    assert echo["strict"] is True
    assert echo["parameters"]["required"] == ["text", "times"]  # strict: times nullable


def test_commands_and_the_setting(ip, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FX_TOKEN", "tok-0123456789abcdef")
    error, out = run(
        ip,
        '%assistant mcp add docs http://127.0.0.1:9/mcp --header "Authorization: Bearer $FX_TOKEN"',
        capsys,
    )
    assert error is None and "MCP server docs added (http: http://127.0.0.1:9/mcp)" in out
    setting = ip._assistant_magics.mcp_servers
    assert setting == {
        "docs": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer $FX_TOKEN"}}
    }
    ip.run_line_magic(
        "config",
        'AssistantMagics.mcp_servers = {"mcpServers": {"t": {"command": "x", "args": ["-y"]}}}',
    )
    error, out = run(ip, "%assistant mcp", capsys)
    assert "t  (stdio: x -y)" in out and "not started" in out
    error, out = run(ip, "%assistant mcp remove t", capsys)
    assert "MCP server t removed" in out
    for line in (
        "%assistant mcp add bad__name -- x",
        "%assistant mcp remove nope",
        "%assistant mcp add",
    ):
        error, out = run(ip, line, capsys)
        assert error is not None and len(str(error).splitlines()) == 1, line
