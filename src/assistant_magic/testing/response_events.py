"""The Response object and the stream events of a text answer, in the real API's order.

A text turn emits, with ``sequence_number`` counting from 0::

    response.created          (status in_progress, or queued)
    response.queued           (only when queued)
    response.in_progress
    response.output_item.added    message msg_..., status in_progress, content []
    response.content_part.added   output_text part with text ""
    response.output_text.delta    x n
    response.output_text.done
    response.content_part.done
    response.output_item.done     status completed (incomplete for an incomplete answer)
    response.completed | response.incomplete

``fail_after=N`` cuts this after N deltas with ``response.failed``. Deltas are paced by the
reply's delay, and the generator stops as soon as the turn was ended from outside (cancel).
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from .items import Item, message_text, new_id, output_text_part, words
from .script import Text
from .sse import HangUp
from .turns import Turn
from .wire import Event

# Fields the real API echoes from the request, with the value it reports when omitted.
_ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "store": True,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
}


def initial_resource(body: Mapping[str, Any], *, conversation_id: str | None) -> dict[str, Any]:
    """A new Response carrying every field the spec requires, before any output.

    ``usage`` is left out rather than null until the end: the spec types it as an object.
    """
    resource: dict[str, Any] = {
        "id": new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": bool(body.get("background")),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": body.get("model"),
        "output": [],
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "conversation": {"id": conversation_id} if conversation_id else None,
    }
    for name, default in _ECHOED_DEFAULTS.items():
        value = body.get(name)
        resource[name] = copy.deepcopy(value if value is not None else default)
    if isinstance(body.get("text"), Mapping):
        resource["text"].update(copy.deepcopy(dict(body["text"])))
    if isinstance(body.get("reasoning"), Mapping):
        resource["reasoning"].update(copy.deepcopy(dict(body["reasoning"])))
    return resource


def estimate_usage(
    reply: Text, *, prompt_items: Sequence[Item], instructions: object, output: str
) -> dict[str, Any]:
    """Plausible token counts (one per word), overridden key by key by ``reply.usage``."""
    messages = [item for item in prompt_items if item.get("type") == "message"]
    prompt = sum(words(message_text(item)) for item in messages)
    if isinstance(instructions, str):
        prompt += words(instructions)
    usage: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": words(output),
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    for key, value in (reply.usage or {}).items():
        if isinstance(value, Mapping) and isinstance(usage.get(key), dict):
            usage[key].update(value)
        else:
            usage[key] = value
    usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
    return usage


def text_events(
    turn: Turn, reply: Text, *, delay: float, sleep: Callable[[float], None] = time.sleep
) -> Generator[Event, None, None]:
    """The events of one text answer, updating ``turn`` as they go."""
    counter = itertools.count()

    def event(kind: str, **fields: Any) -> Event:
        return {"type": kind, **fields, "sequence_number": next(counter)}

    queued = reply.queued or turn.background
    turn.set_status("queued" if queued else "in_progress")
    yield event("response.created", response=turn.snapshot())
    if queued:
        yield event("response.queued", response=turn.snapshot())
        turn.set_status("in_progress")
    yield event("response.in_progress", response=turn.snapshot())

    item_id = new_id("msg")
    output_index = len(turn.snapshot()["output"])
    where = {"item_id": item_id, "output_index": output_index, "content_index": 0}
    item: Item = {
        "id": item_id,
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    turn.open_item(item)
    yield event("response.output_item.added", output_index=output_index, item=item)
    yield event("response.content_part.added", **where, part=output_text_part(""))

    text = ""
    for sent, piece in enumerate(reply.pieces):
        if reply.fail_after is not None and sent >= reply.fail_after:
            break
        if reply.hang_up_after is not None and sent >= reply.hang_up_after:
            turn.fail("server_error", "The connection was lost.")
            raise HangUp()
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return  # cancelled meanwhile
        text += piece
        turn.grow_text(text)
        yield event("response.output_text.delta", **where, delta=piece, logprobs=[])

    if reply.fail_after is not None:
        if turn.fail("server_error", reply.fail_message):
            yield event("response.failed", response=turn.snapshot())
        return

    status = "completed" if reply.status == "completed" else "incomplete"
    part = output_text_part(text)
    yield event("response.output_text.done", **where, text=text, logprobs=[])
    yield event("response.content_part.done", **where, part=part)
    item = {**item, "status": status, "content": [part]}
    if not turn.complete_item(item):
        return  # cancelled meanwhile
    yield event("response.output_item.done", output_index=output_index, item=item)

    resource = turn.snapshot()
    usage = estimate_usage(
        reply,
        prompt_items=[*turn.context_items, *turn.input_items],
        instructions=resource.get("instructions"),
        output=text,
    )
    if status == "completed":
        ended = turn.finish("completed", usage=usage)
    else:
        ended = turn.finish(
            "incomplete", usage=usage, incomplete_details={"reason": reply.incomplete_reason}
        )
    if ended:
        yield event(f"response.{status}", response=turn.snapshot())
