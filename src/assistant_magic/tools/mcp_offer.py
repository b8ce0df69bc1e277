"""Which MCP tools an ask offers: a server's name offers all its tools, ``SERVER__TOOL`` one.

A server that cannot list its tools is one `Notice`: its tools are left out of this ask, and the
ask goes on with the others.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..events import Notice
from .mcp_tool import McpTool
from .naming import mcp_tool_name

if TYPE_CHECKING:
    from ..mcp_servers.servers import McpServers


def offers_mcp(servers: McpServers | None, name: str) -> bool:
    """Whether `name` names a server, or a tool of one."""
    return servers is not None and (name in servers.configs or servers.owner(name) is not None)


def server_tools(
    servers: McpServers, name: str, taken: Collection[str]
) -> tuple[list[McpTool], list[Notice]]:
    """The tools `name` selects (a server's, or one ``SERVER__TOOL``), named apart from `taken`."""
    from ..mcp_servers.servers import ServerFailed

    server = name if name in servers.configs else servers.owner(name)
    if server is None:
        return [], [Notice(f"no MCP server offers {name}: see %assistant mcp")]
    try:
        listed = servers.tools(server)
    except ServerFailed as failed:
        return [], [Notice(f"{failed}: its tools are not offered in this ask")]
    confirm = servers.configs[server].confirm
    tools: list[McpTool] = []
    names = set(taken)
    for tool in listed:
        tool_name = mcp_tool_name(server, tool.name, names)
        names.add(tool_name)
        tools.append(McpTool(servers, server, tool, tool_name, confirm=confirm))
    if name == server:
        return tools, []
    chosen = [tool for tool in tools if tool.name == name]
    if not chosen:
        known = ", ".join(tool.name for tool in tools) or "none"
        return [], [Notice(f"MCP server {server} has no tool {name} (its tools: {known})")]
    return chosen, []
