"""An MCP tool's result (`CallToolResult`) as what the model reads: `ToolReply`.

Mapped as a notebook tool's return value is: text as it is, structured content as compact JSON,
images decoded by the package's image code (shown to the user and sent to the model), embedded
resources as their text; what cannot be read (audio, binary blobs) is named in a line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .results import result_text

if TYPE_CHECKING:
    from mcp import types

    from ..images import ImageLimits


@dataclass(frozen=True)
class ToolReply:
    """What an MCP call gave the model: its text, its images, and whether the tool failed."""

    text: str
    images: tuple[Any, ...] = ()
    failed: bool = False


def reply(
    result: types.CallToolResult,
    tool: str,
    *,
    limit: int = 20_000,
    image_limits: ImageLimits | None = None,
) -> ToolReply:
    """The model's view of `result`; a tool that reports an error (`isError`) failed."""
    parts: list[str] = []
    images: list[Any] = []
    for index, block in enumerate(result.content):
        text, image = _block(block, tool, index, image_limits)
        if text:
            parts.append(text)
        if image is not None:
            images.append(image)
    structured = result.structured_content
    if structured is not None and not _said_already(structured, parts):
        parts.append(json.dumps(structured, ensure_ascii=False, separators=(",", ":")))
    text = result_text("\n".join(parts), limit=limit) if parts else ""
    if result.is_error:
        return ToolReply(f"The tool failed: {text or 'no details given'}", failed=True)
    if images:
        sizes = ", ".join(f"{i.size[0]}x{i.size[1]} {i.format}" for i in images)
        note = f"[{len(images)} image(s) attached ({sizes}); the user sees them too]"
        text = f"{text}\n{note}" if text else note
    return ToolReply(text or "(no output)", tuple(images))


def _block(block: Any, tool: str, index: int, limits: ImageLimits | None) -> tuple[str, Any | None]:
    """One content block: (text for the model, a decoded image or None)."""
    kind = getattr(block, "type", "")
    if kind == "text":
        return block.text, None
    if kind == "image":
        from ..images import DEFAULT_LIMITS, ImageError, decode_base64

        try:
            limits = limits or DEFAULT_LIMITS
            image = decode_base64(
                block.data, source=f"tool {tool}", name=f"{tool}-{index}", limits=limits
            )
        except ImageError as exc:
            return f"[an image that could not be read: {exc}]", None
        return "", image
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if text is not None:
            return f"[resource {resource.uri}]\n{text}", None
        kind = resource.mime_type or "unknown type"
        return f"[binary resource {resource.uri} ({kind}), not shown]", None
    if kind == "resource_link":
        return f"[resource link {block.uri}: {block.name}]", None
    return f"[{kind or 'unknown'} content, not shown]", None


def _said_already(structured: Any, parts: list[str]) -> bool:
    """Servers often send the structured content as text too (FastMCP wraps a plain value as
    ``{"result": value}``): do not send it twice."""
    same = [structured]
    if isinstance(structured, dict) and len(structured) == 1:
        same.append(next(iter(structured.values())))
    for part in parts:
        try:
            value = json.loads(part)
        except ValueError:
            value = part
        if value in same or part in same:
            return True
    return False
