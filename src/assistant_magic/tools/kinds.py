"""`Tool`: what the tool box and the turn loop need of any tool, whatever runs it.

Two kinds implement it: `schema.FunctionTool` (a notebook function) and `mcp_tool.McpTool` (a
tool of an MCP server). Only `running.ToolBox` tells them apart, to run a call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .schema import ToolSchema


class Tool(Protocol):
    name: str
    schema: ToolSchema
    #: Ask the user before each call.
    confirm: bool
    is_async: bool

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """The model's JSON arguments, validated; raises `ToolArgumentError` for the model."""
        ...
