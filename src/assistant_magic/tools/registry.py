"""Which tools an ask offers: notebook functions added by name or marked with @tool, found each
ask, and the tools of MCP servers (`mcp_offer`), both kinds behind one interface (`kinds.Tool`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..events import Notice
from .kinds import Tool
from .marking import tool_options
from .mcp_offer import offers_mcp, server_tools
from .schema import FunctionTool, ToolSchema

if TYPE_CHECKING:
    from ..mcp_servers.servers import McpServers


@dataclass
class ToolRegistry:
    """The tools of a namespace, looked up by name at every ask, so re-running the cell that
    defines one takes effect at once."""

    namespace: Mapping[str, Any]
    #: Names added with `%assistant tools add`, and whether each needs the user's approval.
    registered: dict[str, bool] = field(default_factory=dict)
    _fingerprints: dict[str, str] = field(default_factory=dict)
    #: The kernel's MCP servers, whose tools an ask may offer too.
    servers: McpServers | None = None

    def add(self, name: str, *, confirm: bool = False) -> FunctionTool:
        tool = self._build(name, confirm=confirm)
        self.registered[name] = confirm
        return tool

    def remove(self, name: str) -> None:
        if name not in self.registered:
            raise AssistantError(f"{name!r} is not a registered tool: see %assistant tools.")
        del self.registered[name]

    def available(self) -> list[str]:
        """Registered names, then functions marked with @assistant_magic.tool."""
        names = list(self.registered)
        for name, value in list(self.namespace.items()):
            if name not in self.registered and callable(value) and tool_options(value):
                names.append(name)
        return names

    def resolve(self, names: Iterable[str]) -> tuple[list[Tool], list[Notice]]:
        """The current definitions of `names` (a function, an MCP server's name for all its
        tools, or one ``SERVER__TOOL``), and notices for those that changed or failed."""
        names = list(names)
        remote = [name for name in names if self._is_remote(name)]
        tools: list[Tool] = [
            self._build(name, confirm=self.registered.get(name))
            for name in names
            if name not in remote
        ]
        notices: list[Notice] = []
        for name in remote:
            found, failed = server_tools(self.servers, name, [t.name for t in tools])  # type: ignore[arg-type]
            tools += [tool for tool in found if tool.name not in {t.name for t in tools}]
            notices += failed
        return tools, [*notices, *self._changed(tools)]

    def _is_remote(self, name: str) -> bool:
        """An MCP selection, unless a registered notebook function has the name."""
        return name not in self.registered and offers_mcp(self.servers, name)

    def _changed(self, tools: Sequence[Tool]) -> list[Notice]:
        notices = []
        for tool in tools:
            fingerprint = tool.schema.fingerprint()
            before = self._fingerprints.get(tool.name)
            if before is not None and before != fingerprint:
                notices.append(
                    Notice(f"tool {tool.name} changed since the last ask: new schema sent")
                )
            self._fingerprints[tool.name] = fingerprint
        return notices

    def schemas(self, tools: Sequence[Tool]) -> tuple[ToolSchema, ...]:
        return tuple(tool.schema for tool in tools)

    def _build(self, name: str, *, confirm: bool | None) -> FunctionTool:
        value = self.namespace.get(name)
        if value is None:
            raise AssistantError(f"No function named {name!r} in the notebook: define it first.")
        if not callable(value):
            raise AssistantError(f"{name!r} is a {type(value).__name__}, not a function.")
        options = tool_options(value)
        wants_confirm = bool(confirm) or bool(options and options.confirm)
        tool_name = options.name if options and options.name else name
        return FunctionTool(value, name=tool_name, confirm=wants_confirm)
