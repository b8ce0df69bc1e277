"""MCP servers handed to OpenAI as the Responses API's hosted `mcp` tool (`mcp add ... --hosted`).

OpenAI's servers list the server's tools and call them; the kernel only answers approvals.
Tools that say they are read-only run without asking; the server asks the client for the
others, and the client approves those the server's tool list does not mark destructive, as it
does for a server it runs itself (`--confirm`: every call asks the user, and the server asks
for each). Headers are read from the environment only as the request is built, like any MCP
server's, and are secrets from then on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .config import ServerConfig

if TYPE_CHECKING:
    from .servers import McpServers


@dataclass(frozen=True)
class HostedMcp:
    """One hosted server an ask offers: all its tools, or those `allowed_tools` names."""

    config: ServerConfig
    allowed_tools: tuple[str, ...] | None = None
    #: Where `$VAR`s in headers are read (None: the process's environment).
    environ: Mapping[str, str] | None = field(default=None, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.config.name

    @property
    def require_approval(self) -> str | dict[str, Any]:
        return "always" if self.config.confirm else {"never": {"read_only": True}}

    def tool(self) -> dict[str, Any]:
        """The `mcp` tool of a `POST /responses` body (headers read now)."""
        tool: dict[str, Any] = {
            "type": "mcp",
            "server_label": self.label,
            "server_url": self.config.url,
            "require_approval": self.require_approval,
        }
        headers = self.config.connect_headers(self.environ)
        if headers:
            tool["headers"] = headers
        if self.allowed_tools is not None:
            tool["allowed_tools"] = list(self.allowed_tools)
        return tool

    def described(self) -> list[Any]:
        """What sets this server's offer apart, without its headers' values (a replay key)."""
        return [self.label, self.config.url, self.allowed_tools, self.require_approval]


def asks_user(server: HostedMcp | None, destructive: bool | None) -> bool:
    """Whether an approval the server asked for goes to the user (else it is approved): with
    `--confirm`, for a destructive tool, and when nothing says what the tool does."""
    return server is None or server.config.confirm or destructive is not False


def split_hosted(
    servers: McpServers, names: Sequence[str]
) -> tuple[tuple[HostedMcp, ...], list[str]]:
    """The hosted servers `names` select (a server's name: all its tools; ``SERVER__TOOL``:
    that one), and the names left for the kernel to offer."""
    chosen: dict[str, list[str] | None] = {}
    rest = []
    for name in names:
        server = name if name in servers.configs else servers.owner(name)
        if server is None or not servers.configs[server].hosted:
            rest.append(name)
        elif name == server:
            chosen[server] = None
        else:
            tools = chosen.setdefault(server, [])
            if tools is not None:
                tools.append(name.removeprefix(f"{server}__"))
    offered = tuple(
        HostedMcp(servers.configs[server], None if tools is None else tuple(tools), servers.environ)
        for server, tools in chosen.items()
    )
    return offered, rest
