"""The stream events of a :class:`McpCall` step in the Responses API, and of its approval.

The step opens like a text turn (``response.created``, ``response.in_progress``). Unless the
context lists the server's tools already (see ``mcp_plan``), at the next ``output_index``::

    response.output_item.added           mcp_list_tools mcpl_..., server_label, tools []
    response.mcp_list_tools.in_progress
    response.mcp_list_tools.completed
    response.output_item.done            tools (name, input_schema, description, annotations)

Then, when the call waits for approval, the response ends with the request and no call::

    response.output_item.added           mcp_approval_request mcpr_..., server_label, name,
                                         arguments (a JSON string)
    response.output_item.done            the same item
    response.completed

else (or in the request that approves it) the call::

    response.output_item.added           mcp_call mcp_..., arguments "", output null,
                                         error null, approval_request_id, status in_progress
    response.mcp_call.in_progress
    response.mcp_call_arguments.delta    x n
    response.mcp_call_arguments.done     the whole arguments
    response.mcp_call.completed          (response.mcp_call.failed with an error)
    response.output_item.done            status completed with output (failed with error)

then, given ``text``, a message as in a text turn, and ``response.completed``. A denied approval
plays only the message. Each item joins the output (and the conversation) at its
``output_item.done``; non-streamed responses hold the same items.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

from ..chunking import Sleep, split_arguments
from ..hosted_steps import McpCall
from ..items import Item, new_id
from ..mcp_plan import McpApproval, McpPlan, remember_approval
from ..wire import Event
from .events import Numbering, close_item, complete, open_item, opening, say_and_complete
from .response import Turn

#: How many deltas the arguments stream in.
_ARGUMENT_CHUNKS = 3


def mcp_call_events(
    turn: Turn, plan: McpPlan, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one MCP step: the tool list if due, then the approval request or the call
    and the text; updating ``turn``."""
    reply = plan.reply
    event = Numbering()
    yield from opening(turn, event, queued=False)
    listed = plan.list_tools
    if listed is not None and not (yield from _list_tools(turn, event, reply.server_label, listed)):
        return  # cancelled meanwhile
    if plan.needs_approval:
        if (yield from _ask_approval(turn, event, reply)):
            yield from complete(turn, event, reply.usage, [reply.name, reply.arguments_text])
        return
    yield from _call_and_say(turn, event, reply, call=True, delay=delay, sleep=sleep)


def mcp_approval_events(
    turn: Turn, approval: McpApproval, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of the response that answers an approval request: the call if approved, then
    the text."""
    event = Numbering()
    yield from opening(turn, event, queued=False)
    yield from _call_and_say(
        turn,
        event,
        approval.call,
        call=approval.approve,
        approval_request_id=approval.approval_request_id,
        delay=delay,
        sleep=sleep,
    )


def _call_and_say(
    turn: Turn,
    event: Numbering,
    reply: McpCall,
    *,
    call: bool,
    approval_request_id: str | None = None,
    delay: float,
    sleep: Sleep,
) -> Generator[Event, None, None]:
    """The call (unless ``call`` is False: its approval was denied), the message, then
    completed."""
    said: list[str] = []
    if call:
        called = yield from _call(turn, event, reply, approval_request_id, delay=delay, sleep=sleep)
        if called is None:
            return  # cancelled meanwhile
        said.append(called)
    yield from say_and_complete(
        turn, event, reply.text, reply.usage, said, delay=delay, sleep=sleep
    )


def _list_tools(
    turn: Turn, event: Numbering, server_label: str, tools: list[dict[str, Any]]
) -> Generator[Event, None, bool]:
    """The ``mcp_list_tools`` item; False if the turn ended meanwhile."""
    item: Item = {
        "id": new_id("mcpl"),
        "type": "mcp_list_tools",
        "server_label": server_label,
        "tools": [],
    }
    opened = yield from open_item(turn, event, item)
    yield event("response.mcp_list_tools.in_progress", **opened.where)
    yield event("response.mcp_list_tools.completed", **opened.where)
    return (yield from close_item(turn, event, opened, {**item, "tools": tools}))


def _ask_approval(turn: Turn, event: Numbering, reply: McpCall) -> Generator[Event, None, bool]:
    """The ``mcp_approval_request`` item, remembered before the client can see it; False if the
    turn ended meanwhile."""
    item: Item = {
        "id": new_id("mcpr"),
        "type": "mcp_approval_request",
        "server_label": reply.server_label,
        "name": reply.name,
        "arguments": reply.arguments_text,
    }
    remember_approval(turn.state, item["id"], reply)
    opened = yield from open_item(turn, event, item)
    return (yield from close_item(turn, event, opened, item))


def _call(
    turn: Turn,
    event: Numbering,
    reply: McpCall,
    approval_request_id: str | None,
    *,
    delay: float,
    sleep: Sleep,
) -> Generator[Event, None, str | None]:
    """The ``mcp_call`` item; what it said (arguments and output), or None if the turn ended
    meanwhile."""
    arguments = reply.arguments_text
    item: Item = {
        "id": new_id("mcp"),
        "type": "mcp_call",
        "server_label": reply.server_label,
        "name": reply.name,
        "arguments": "",
        "output": None,
        "error": None,
        "approval_request_id": approval_request_id,
        "status": "in_progress",
    }
    opened = yield from open_item(turn, event, item)
    yield event("response.mcp_call.in_progress", **opened.where)
    for piece in split_arguments(arguments, _ARGUMENT_CHUNKS):
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return None
        yield event("response.mcp_call_arguments.delta", **opened.where, delta=piece)
    yield event("response.mcp_call_arguments.done", **opened.where, arguments=arguments)
    error = reply.error_object()
    outcome = "failed" if error is not None else "completed"
    yield event(f"response.mcp_call.{outcome}", **opened.where)
    done = {
        **item,
        "arguments": arguments,
        "output": None if error is not None else reply.output,
        "error": error,
        "status": outcome,
    }
    if not (yield from close_item(turn, event, opened, done)):
        return None
    return f"{arguments} {reply.output or ''}"
