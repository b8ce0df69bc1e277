"""Answering the approvals a server asks for before it calls a hosted MCP tool.

The same rules as for the tools the kernel runs: a tool the server's list marks destructive,
or any tool of a server added with `--confirm`, asks the user (the tool box's approver);
others are approved. A tool the ask has no list for asks the user too, and beyond the ask's
tool-call budget every approval is refused, with the reason shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .dialects.interface import ApprovalAnswer
from .events import ApprovalRequested, Event, ToolCallFinished, ToolCallStarted
from .mcp_servers.hosted import asks_user
from .tools import call_display

if TYPE_CHECKING:
    from .tools.running import Approver


@dataclass(frozen=True)
class HostedCall:
    """A hosted MCP tool as the approver sees it (a `Tool` that always asks)."""

    name: str
    confirm: bool = True
    is_async: bool = False


def answer_approvals(
    asked: Sequence[ApprovalRequested],
    servers: Sequence[Any],
    approve: Approver,
    emit: Callable[[Event], None],
    *,
    allowed: int | None = None,
    why: str = "",
) -> tuple[ApprovalAnswer, ...]:
    """Approve or refuse each call the server asks about; `allowed` calls at most (None: all)."""
    by_label = {server.label: server for server in servers}
    answers = []
    for number, item in enumerate(asked):
        name = f"{item.server}__{item.name}"
        display = call_display(name, item.arguments)
        refusal = ""
        if allowed is not None and number >= allowed:
            refusal = f"not run: {why}"
        elif asks_user(by_label.get(item.server), item.destructive):
            emit(ToolCallStarted(call_id=item.request_id, name=name, display=display))
            answer = approve(HostedCall(name), display)  # type: ignore[arg-type]
            if answer is None:
                refusal = "not run: this frontend has no input prompt to ask for approval"
            elif not answer:
                refusal = "denied by the user"
        if refusal:
            emit(
                ToolCallFinished(
                    call_id=item.request_id,
                    name=name,
                    display=display,
                    status="denied",
                    output="The call was not approved.",
                    note=refusal,
                )
            )
        answers.append(ApprovalAnswer(item.request_id, approve=not refusal))
    return tuple(answers)
