"""`McpTool`: a tool of an MCP server, offered and called as a notebook function is.

It has what the tool box needs of any tool (`kinds.Tool`): a name, a `ToolSchema`, whether it
asks first, and `parse_arguments`; `call` runs it on its server. Its schema is the server's
input schema, made strict where the package's strict rules allow (`strict.parameters_schema`),
else sent as it is with the note saying why; the arguments are validated against the server's
own schema with `jsonschema` before anything is sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .arguments import ToolArgumentError, _load_object
from .mcp_results import ToolReply, reply
from .schema import ToolSchema
from .strict import accepts_null, parameters_schema

if TYPE_CHECKING:
    from mcp import types

    from ..images import ImageLimits
    from ..mcp_servers.servers import McpServers


class McpTool:
    """One tool of one MCP server, under the name the model calls it by."""

    #: Run in turn, from the kernel's thread (the call itself waits on the MCP loop).
    is_async = False

    def __init__(
        self, servers: McpServers, server: str, tool: types.Tool, name: str, *, confirm: bool
    ) -> None:
        self.servers = servers
        self.server = server
        self.remote_name = tool.name
        self.name = name
        annotations = tool.annotations
        # Only an explicit destructiveHint asks: it is a hint from the server, and a server
        # that says nothing would otherwise make every call a prompt.
        self.confirm = confirm or bool(annotations and annotations.destructive_hint)
        self.input_schema: dict[str, Any] = tool.input_schema or {"type": "object"}
        self.schema, self._null_means_omit = _describe(name, tool, self.input_schema)
        self.defaulted = frozenset(self._null_means_omit)

    def __repr__(self) -> str:
        return f"McpTool({self.name!r}, server={self.server!r}, strict={self.schema.strict})"

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """The model's JSON arguments, validated against the server's input schema; a null
        for an optional argument (strict schemas make the model send every one) is left out."""
        data = _load_object(raw, self.name)
        for key in self._null_means_omit:
            if data.get(key, 0) is None:
                del data[key]
        problem = _invalid(self.input_schema, data)
        if problem:
            raise ToolArgumentError(f"Invalid arguments for {self.name}: {problem}.")
        return data

    def call(
        self, arguments: dict[str, Any], *, limit: int, images: ImageLimits | None
    ) -> ToolReply:
        """Run the tool on its server. A failed server raises `ServerFailed`; a Ctrl-C cancels
        the call and propagates."""
        result = self.servers.call(self.server, self.remote_name, arguments)
        return reply(result, self.name, limit=limit, image_limits=images)


def _describe(
    name: str, tool: types.Tool, input_schema: dict[str, Any]
) -> tuple[ToolSchema, list[str]]:
    """What the model is told, and the optional arguments whose null means "leave it out"."""
    properties = input_schema.get("properties") or {}
    required = set(input_schema.get("required") or ())
    optional = {key: prop for key, prop in properties.items() if key not in required}
    defaults = {
        key: prop.get("default") if isinstance(prop, dict) else None
        for key, prop in optional.items()
    }
    null_ok = {key for key, prop in optional.items() if _takes_null(prop)}
    try:
        parameters, note = parameters_schema(input_schema, defaults, null_ok, [])
    except ValueError as exc:  # a $ref outside #/$defs, which the strict rewrite does not follow
        parameters, note = _as_sent(input_schema), f"not rewritten for strict mode ({exc})"
    if note is not None:
        parameters = _as_sent(input_schema)
    description = (tool.description or "").strip() or f"Tool {tool.name} of MCP server."
    schema = ToolSchema(
        name=name, description=description, parameters=parameters, strict=note is None, note=note
    )
    return schema, [key for key in optional if key not in null_ok]


def _takes_null(prop: object) -> bool:
    return isinstance(prop, dict) and accepts_null(prop)


def _as_sent(input_schema: dict[str, Any]) -> dict[str, Any]:
    """The server's schema as the model gets it when not strict: all of it, an object at root."""
    schema = json.loads(json.dumps(input_schema))  # a deep copy that also drops non-JSON
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    return schema


def _invalid(schema: dict[str, Any], data: dict[str, Any]) -> str:
    """What is wrong with `data` under `schema`, in a line ("" when valid)."""
    import jsonschema

    try:
        validator_class = jsonschema.validators.validator_for(schema)
        errors = sorted(validator_class(schema).iter_errors(data), key=lambda e: list(e.path))
    except jsonschema.SchemaError:
        return ""  # the server's schema is its own business: the server still checks
    problems = []
    for error in errors[:4]:
        where = "/".join(str(part) for part in error.path)
        message = " ".join(error.message.split())[:200]
        problems.append(f"'{where}' {message}" if where else message)
    if len(errors) > 4:
        problems.append(f"and {len(errors) - 4} more problems")
    return "; ".join(problems)
