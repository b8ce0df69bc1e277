"""MCP servers hosted by the Responses API (`%assistant mcp add NAME URL --hosted`): the `mcp`
tool as it is sent, approvals answered by the same rules as the kernel's own tools, and the
server's calls shown; on the other dialects the kernel calls the server itself."""

from __future__ import annotations

from typing import Any

import pytest

from assistant_magic.errors import ConfigurationError
from assistant_magic.mcp_servers.config import from_setting
from assistant_magic.testing import ScriptedServer

from conftest import one_line
from mcp_fixtures import mcp_url, run

__all__ = ["mcp_url"]  # fixtures

DOCS = "https://mcp.example.com/docs"


def mcp_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [tool for tool in body.get("tools", []) if tool["type"] == "mcp"]


def test_hosted_is_a_setting_of_url_servers_only() -> None:
    (config,) = from_setting({"docs": {"url": DOCS, "hosted": True}}).values()
    assert config.hosted and config.setting() == {"url": DOCS, "hosted": True}
    with pytest.raises(ConfigurationError, match="only a URL server can be hosted"):
        from_setting({"time": {"command": "python", "hosted": True}})
    with pytest.raises(ConfigurationError, match="confirm and hosted are true or false"):
        from_setting({"docs": {"url": DOCS, "hosted": "yes"}})


def test_add_hosted_then_dry_run_shows_the_tool_with_its_secret_masked(
    ip, server: ScriptedServer, capsys, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DOCS_TOKEN", "tok-very-secret-123")
    error, out = run(
        ip,
        f'%assistant mcp add docs {DOCS} --hosted --header "Authorization: Bearer $DOCS_TOKEN"',
        capsys,
    )
    assert error is None and "MCP server docs added (http:" in out
    error, out = run(ip, "%assistant mcp", capsys)
    assert "hosted: OpenAI's servers call it on the Responses API" in out
    error, out = run(ip, "%%ask --dry-run\nSearch the docs.", capsys)
    assert error is None
    assert '"type": "mcp"' in out and '"server_label": "docs"' in out
    assert f'"server_url": "{DOCS}"' in out
    assert '"require_approval": {\n' in out and '"read_only": true' in out
    assert "tok-very-secret-123" not in out and '"Authorization": "Bearer tok…-123"' in out
    assert "Tools: docs (hosted MCP server)." in out
    assert server.requests == [], "nothing is sent, nothing is started"


def test_a_command_server_cannot_be_hosted(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%assistant --hosted mcp add time -- python -m mcp_server_time", capsys)
    assert one_line(error) and "--hosted goes with a URL server" in str(error)


def test_the_request_names_a_forced_hosted_tool_as_an_mcp_choice() -> None:
    from assistant_magic.dialects.interface import ApprovalAnswer, ResponseRequest
    from assistant_magic.dialects.responses import request_params
    from assistant_magic.mcp_servers.hosted import HostedMcp

    (config,) = from_setting({"docs": {"url": DOCS, "hosted": True, "confirm": True}}).values()
    hosted = HostedMcp(config, allowed_tools=("search",), environ={})
    request = ResponseRequest(
        model="gpt-5.4-mini",
        instructions="",
        remote_thread=None,
        user_text=None,
        mcp_servers=(hosted,),
        tool_choice="docs__search",
        approvals=(ApprovalAnswer("mcpr_1", approve=False),),
    )
    body = request_params(request)
    assert body["tool_choice"] == {"type": "mcp", "server_label": "docs", "name": "search"}
    (tool,) = mcp_tools(body)
    assert tool["require_approval"] == "always" and tool["allowed_tools"] == ["search"]
    assert "headers" not in tool
    assert body["input"] == [
        {"type": "mcp_approval_response", "approval_request_id": "mcpr_1", "approve": False}
    ]
