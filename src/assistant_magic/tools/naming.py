"""Names the model calls an MCP tool by: unique, valid for every API, saying their server."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection

#: What OpenAI's APIs accept as a function name.
VALID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_LENGTH = 64
SEPARATOR = "__"


def mcp_tool_name(server: str, tool: str, taken: Collection[str] = ()) -> str:
    """``time.get_current_time`` -> ``time__get_current_time``: the server, then the tool with
    every character a function name cannot have as ``_``; a name too long keeps its head and a
    short hash of the whole; a name already `taken` gets ``_2``, ``_3``..."""
    plain = re.sub(r"[^a-zA-Z0-9_-]", "_", tool) or "tool"
    name = f"{server}{SEPARATOR}{plain}"
    if len(name) > MAX_LENGTH:
        digest = hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()[:8]
        name = f"{name[: MAX_LENGTH - 9]}_{digest}"
    unique, count = name, 1
    while unique in taken:
        count += 1
        suffix = f"_{count}"
        unique = f"{name[: MAX_LENGTH - len(suffix)]}{suffix}"
    return unique
