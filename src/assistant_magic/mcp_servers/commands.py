"""`%assistant mcp`: list the servers, `add` one, `remove` one.

`add` and `remove` change the `mcp_servers` setting itself (through `apply`, which the magic
gives), so `%config AssistantMagics.mcp_servers` always shows every server, however it was added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..flags import MCP_COMMANDS
from ..redaction import redact
from .config import ADD_USAGE, from_setting, from_words

if TYPE_CHECKING:
    from .servers import McpServers


def mcp_command(
    words: Sequence[str],
    setting: dict[str, Any],
    servers: McpServers,
    apply: Callable[[dict[str, Any]], None],
    *,
    headers: Sequence[str] = (),
    confirm: bool = False,
    hosted: bool = False,
) -> None:
    verb, rest = (words[0], list(words[1:])) if words else ("list", [])
    # Flat, whatever was pasted (a whole Claude Desktop file has them under "mcpServers").
    setting = {name: config.setting() for name, config in from_setting(setting).items()}
    if verb == "list" and not rest:
        print(redact(listing(setting, servers)))
    elif verb == "add":
        config = from_words(rest, headers, confirm=confirm, hosted=hosted)
        replaced = config.name in setting
        apply({**setting, config.name: config.setting()})
        what = "replaced" if replaced else "added"
        print(
            redact(
                f"MCP server {config.name} {what} ({config.transport}: {config.described()}); "
                "it starts at the next ask that offers its tools."
            )
        )
    elif verb == "remove" and len(rest) == 1:
        if rest[0] not in setting:
            raise AssistantError(f"No MCP server named {rest[0]!r}: see %assistant mcp.")
        apply({name: spec for name, spec in setting.items() if name != rest[0]})
        print(f"MCP server {rest[0]} removed (stopped if it ran).")
    else:
        raise AssistantError(f"Unknown mcp command {' '.join(words)!r}: {MCP_COMMANDS}.")


def listing(setting: dict[str, Any], servers: McpServers) -> str:
    """Each server: how it is reached, its state, and its tools once it has listed them."""
    configs = from_setting(setting)
    if not configs:
        return f"No MCP servers: {ADD_USAGE}."
    lines = []
    for name, config in configs.items():
        asks = "; every call asks first" if config.confirm else ""
        hosted = "; hosted: OpenAI's servers call it on the Responses API" if config.hosted else ""
        lines.append(f"{name}  ({config.transport}: {config.described()}){asks}{hosted}")
        state = servers.state(name)
        if config.hosted:  # the kernel runs it only for the other dialects
            state = f"on the Responses API, OpenAI's; from this kernel: {state}"
        lines.append(f"  state: {state}")
        tools = servers.cached_tools(name)
        if tools is not None:
            names = ", ".join(f"{name}__{tool.name}" for tool in tools) or "none"
            lines.append(f"  tools: {names}")
    return "\n".join(lines)
