"""Which notebook functions an ask offers: added by name or marked with @tool, found each ask."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import AssistantError
from ..events import Notice
from .marking import tool_options
from .schema import FunctionTool, ToolSchema


@dataclass
class ToolRegistry:
    """The tools of a namespace, looked up by name at every ask, so re-running the cell that
    defines one takes effect at once."""

    namespace: Mapping[str, Any]
    #: Names added with `%assistant tools add`, and whether each needs the user's approval.
    registered: dict[str, bool] = field(default_factory=dict)
    _fingerprints: dict[str, str] = field(default_factory=dict)

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

    def resolve(self, names: Iterable[str]) -> tuple[list[FunctionTool], list[Notice]]:
        """The current definitions of `names`, and notices for those that changed."""
        tools: list[FunctionTool] = []
        notices: list[Notice] = []
        for name in names:
            tool = self._build(name, confirm=self.registered.get(name))
            fingerprint = tool.schema.fingerprint()
            before = self._fingerprints.get(name)
            if before is not None and before != fingerprint:
                notices.append(Notice(f"tool {name} changed since the last ask: new schema sent"))
            self._fingerprints[name] = fingerprint
            tools.append(tool)
        return tools, notices

    def schemas(self, tools: Sequence[FunctionTool]) -> tuple[ToolSchema, ...]:
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
