"""The Response object and the stream events of an answer, in the real API's order.

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

A tool-calling turn (:class:`ToolCalls`) opens the same way, streams its optional text as the
message above, then for each call, at the next ``output_index``::

    response.output_item.added               function_call fc_..., arguments "", in_progress
    response.function_call_arguments.delta   x n (item_id, output_index, delta)
    response.function_call_arguments.done    the whole arguments and the name
    response.output_item.done                status completed, the whole arguments

and ends with ``response.completed``, whose ``output`` holds the message and every call. Each
item joins the response's output (and the conversation) when its ``output_item.done`` is sent.

Hosted tool steps (code interpreter, image generation, file search) reuse the pieces below; see
``hosted_tool_events`` and ``file_search``.
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .items import Item, message_text, new_call_id, new_id, output_text, output_text_part, words
from .script import FunctionCall, Text, ToolCalls, split_words
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
    overrides: Mapping[str, Any] | None,
    *,
    prompt_items: Sequence[Item],
    instructions: object,
    output: str,
) -> dict[str, Any]:
    """Plausible token counts (one per word), overridden key by key by ``overrides``."""
    prompt = sum(words(_prompt_text(item)) for item in prompt_items)
    if isinstance(instructions, str):
        prompt += words(instructions)
    usage: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": words(output),
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(usage.get(key), dict):
            usage[key].update(value)
        else:
            usage[key] = value
    usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
    return usage


def _prompt_text(item: Item) -> str:
    kind = item.get("type")
    if kind == "message":
        return message_text(item)
    if kind == "function_call":
        return f"{item.get('name', '')} {item.get('arguments', '')}"
    if kind == "function_call_output":
        return output_text(item.get("output"))
    return ""


Sleep = Callable[[float], None]


def reply_events(
    turn: Turn, reply: Text | ToolCalls, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one scripted answer, text or tool calls, updating ``turn`` as they go."""
    if isinstance(reply, ToolCalls):
        return tool_call_events(turn, reply, delay=delay, sleep=sleep)
    return text_events(turn, reply, delay=delay, sleep=sleep)


def text_events(
    turn: Turn, reply: Text, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one text answer, updating ``turn`` as they go."""
    event = Numbering()
    yield from opening(turn, event, queued=reply.queued)
    message = yield from open_message(turn, event)
    text = yield from stream_text(
        turn,
        event,
        message,
        reply.pieces,
        delay=delay,
        sleep=sleep,
        limit=reply.fail_after,
        hang_up_after=reply.hang_up_after,
        hang_up_frame=reply.hang_up_frame,
    )
    if text is None:
        return  # cancelled meanwhile
    if reply.fail_after is not None:
        if turn.fail("server_error", reply.fail_message):
            yield event("response.failed", response=turn.snapshot())
        return

    status = "completed" if reply.status == "completed" else "incomplete"
    if not (yield from close_message(turn, event, message, text, status)):
        return  # cancelled meanwhile
    usage = turn_usage(turn, reply.usage, output=text)
    if status == "completed":
        ended = turn.finish("completed", usage=usage)
    else:
        ended = turn.finish(
            "incomplete", usage=usage, incomplete_details={"reason": reply.incomplete_reason}
        )
    if ended:
        yield event(f"response.{status}", response=turn.snapshot())


def tool_call_events(
    turn: Turn, reply: ToolCalls, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one tool-calling step: optional text, then each call, then completed."""
    event = Numbering()
    yield from opening(turn, event, queued=False)
    said: list[str] = []
    if reply.text:
        message = yield from open_message(turn, event)
        pieces = split_words(reply.text)
        text = yield from stream_text(turn, event, message, pieces, delay=delay, sleep=sleep)
        if text is None or not (yield from close_message(turn, event, message, text)):
            return  # cancelled meanwhile
        said.append(text)
    for call in reply.calls:
        arguments = yield from _stream_call(
            turn, event, call, chunks=reply.argument_chunks, delay=delay, sleep=sleep
        )
        if arguments is None:
            return  # cancelled meanwhile
        said.append(f"{call.name} {arguments}")
    if turn.finish("completed", usage=turn_usage(turn, reply.usage, output=" ".join(said))):
        yield event("response.completed", response=turn.snapshot())


# -- pieces shared by all turns ----------------------------------------------------------------


class Numbering:
    """Builds events numbered from 0, as the API's ``sequence_number`` does."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, kind: str, **fields: Any) -> Event:
        return {"type": kind, **fields, "sequence_number": next(self._counter)}


@dataclass(frozen=True)
class OpenMessage:
    item: Item
    output_index: int

    @property
    def where(self) -> dict[str, Any]:
        return {"item_id": self.item["id"], "output_index": self.output_index, "content_index": 0}


def opening(turn: Turn, event: Numbering, *, queued: bool) -> Generator[Event, None, None]:
    queued = queued or turn.background
    turn.set_status("queued" if queued else "in_progress")
    yield event("response.created", response=turn.snapshot())
    if queued:
        yield event("response.queued", response=turn.snapshot())
        turn.set_status("in_progress")
    yield event("response.in_progress", response=turn.snapshot())


def next_output_index(turn: Turn) -> int:
    # Items stream one after another, so the next index is the number already completed.
    return len(turn.snapshot()["output"])


def open_message(turn: Turn, event: Numbering) -> Generator[Event, None, OpenMessage]:
    item: Item = {
        "id": new_id("msg"),
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    message = OpenMessage(item, next_output_index(turn))
    turn.open_item(item)
    yield event("response.output_item.added", output_index=message.output_index, item=item)
    yield event("response.content_part.added", **message.where, part=output_text_part(""))
    return message


def stream_text(
    turn: Turn,
    event: Numbering,
    message: OpenMessage,
    pieces: Sequence[str],
    *,
    delay: float,
    sleep: Sleep,
    limit: int | None = None,
    hang_up_after: int | None = None,
    hang_up_frame: str | None = None,
) -> Generator[Event, None, str | None]:
    """Text deltas (at most ``limit``); the text sent, or None if the turn ended meanwhile."""
    text = ""
    for sent, piece in enumerate(pieces):
        if limit is not None and sent >= limit:
            break
        if hang_up_after is not None and sent >= hang_up_after:
            turn.fail("server_error", "The connection was lost.")
            raise HangUp(hang_up_frame)
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return None
        text += piece
        turn.grow_text(text)
        yield event("response.output_text.delta", **message.where, delta=piece, logprobs=[])
    return text


def close_message(
    turn: Turn,
    event: Numbering,
    message: OpenMessage,
    text: str,
    status: str = "completed",
    *,
    annotations: Sequence[Mapping[str, Any]] = (),
    announced: int = 0,
) -> Generator[Event, None, bool]:
    """The message's closing events; False if the turn ended meanwhile.

    Annotations arrive after the last delta, one ``response.output_text.annotation.added`` each,
    before ``response.output_text.done`` (the order of the real API's code interpreter streams),
    except the first ``announced``, already sent among the deltas.
    """
    part = {**output_text_part(text), "annotations": [dict(a) for a in annotations]}
    for index, annotation in enumerate(part["annotations"]):
        if index < announced:
            continue
        yield event(
            "response.output_text.annotation.added",
            **message.where,
            annotation_index=index,
            annotation=annotation,
        )
    yield event("response.output_text.done", **message.where, text=text, logprobs=[])
    yield event("response.content_part.done", **message.where, part=part)
    item = {**message.item, "status": status, "content": [part]}
    if not turn.complete_item(item):
        return False
    yield event("response.output_item.done", output_index=message.output_index, item=item)
    return True


def _stream_call(
    turn: Turn, event: Numbering, call: FunctionCall, *, chunks: int, delay: float, sleep: Sleep
) -> Generator[Event, None, str | None]:
    """One function_call item; its arguments, or None if the turn ended meanwhile."""
    arguments = call.arguments_text
    item: Item = {
        "id": new_id("fc"),
        "type": "function_call",
        "status": "in_progress",
        "call_id": call.call_id or new_call_id(),
        "name": call.name,
        "arguments": "",
    }
    output_index = next_output_index(turn)
    where = {"item_id": item["id"], "output_index": output_index}
    turn.open_item(item)
    yield event("response.output_item.added", output_index=output_index, item=item)
    for piece in split_arguments(arguments, chunks):
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return None
        yield event("response.function_call_arguments.delta", **where, delta=piece)
    yield event(
        "response.function_call_arguments.done", **where, name=call.name, arguments=arguments
    )
    item = {**item, "status": "completed", "arguments": arguments}
    if not turn.complete_item(item):
        return None
    yield event("response.output_item.done", output_index=output_index, item=item)
    return arguments


def split_arguments(arguments: str, chunks: int) -> list[str]:
    """``arguments`` in ``chunks`` pieces of near-equal length (fewer if it is shorter)."""
    count = min(max(1, chunks), len(arguments))
    cuts = [len(arguments) * index // count for index in range(count + 1)] if count else []
    return [arguments[start:end] for start, end in itertools.pairwise(cuts)]


def turn_usage(turn: Turn, overrides: Mapping[str, Any] | None, *, output: str) -> dict[str, Any]:
    return estimate_usage(
        overrides,
        prompt_items=[*turn.context_items, *turn.input_items],
        instructions=turn.snapshot().get("instructions"),
        output=output,
    )
