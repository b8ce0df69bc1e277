"""The hosted `mcp` tool on the Responses API: what its output items mean to an ask.

OpenAI's servers list an MCP server's tools (an ``mcp_list_tools`` item, once per conversation),
call them (``mcp_call``) and, for a tool that needs approval, end the response with an
``mcp_approval_request`` that the next request answers with an ``mcp_approval_response``.
The tool lists say which tools are destructive; a dialect keeps what they said in `Listed`,
since a conversation lists a server's tools only the first time it uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ..events import (
    ApprovalRequested,
    Event,
    Notice,
    ToolCallFinished,
    ToolCallStarted,
)
from ..tools import call_display
from .interface import ApprovalAnswer

#: server label -> tool name -> whether the server's list marked it destructive.
Listed = dict[str, dict[str, bool]]
HOSTED_NOTE = "run by OpenAI's servers (hosted MCP)"


def item_events(item: Any, listed: Listed) -> Iterator[Event]:
    """Events for a finished ``mcp_list_tools`` or ``mcp_call`` output item (none for others)."""
    if item.type == "mcp_list_tools":
        listed[item.server_label] = {tool.name: _destructive(tool) for tool in item.tools}
        if item.error:
            yield Notice(f"MCP server {item.server_label} could not list its tools: {item.error}")
    elif item.type == "mcp_call":
        name = f"{item.server_label}__{item.name}"
        display = call_display(name, item.arguments or "{}")
        yield ToolCallStarted(call_id=item.id, name=name, display=display)
        failed = item.error is not None or item.status == "failed"
        yield ToolCallFinished(
            call_id=item.id,
            name=name,
            display=display,
            status="error" if failed else "ok",
            output=_error_text(item.error) if failed else (item.output or ""),
            note=HOSTED_NOTE,
        )


def approvals_of(output: Iterable[Any], listed: Listed) -> tuple[ApprovalRequested, ...]:
    """The response's calls that wait for the client's approval."""
    return tuple(
        ApprovalRequested(
            request_id=item.id,
            server=item.server_label,
            name=item.name,
            arguments=item.arguments or "{}",
            destructive=listed.get(item.server_label, {}).get(item.name),
        )
        for item in output
        if item.type == "mcp_approval_request"
    )


def approval_item(answer: ApprovalAnswer) -> dict[str, Any]:
    return {
        "type": "mcp_approval_response",
        "approval_request_id": answer.request_id,
        "approve": answer.approve,
    }


def _destructive(tool: Any) -> bool:
    """Whether the tool's MCP annotations mark it destructive: as for a server the kernel runs
    (`tools.mcp_tool`), only an explicit hint counts."""
    annotations = getattr(tool, "annotations", None)
    if not isinstance(annotations, dict):
        annotations = getattr(annotations, "__dict__", None) or {}
    read_only = annotations.get("readOnlyHint") is True
    return annotations.get("destructiveHint") is True and not read_only


def _error_text(error: Any) -> str:
    if error is None:
        return "the hosted MCP call failed"
    if isinstance(error, str):
        return error
    message = getattr(error, "message", None) or (
        error.get("message") if isinstance(error, dict) else None
    )
    return str(message or error)
