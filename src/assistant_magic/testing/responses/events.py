"""The stream events of a text or tool-calling answer, in the real API's order, and their pieces.

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

A :class:`Refusal` is a message whose one content part is a refusal, not text::

    response.output_item.added    message msg_..., status in_progress, content []
    response.content_part.added   refusal part with refusal ""
    response.refusal.delta        x n (item_id, output_index, content_index, delta)
    response.refusal.done         the whole refusal
    response.content_part.done    {"type": "refusal", "refusal": ...}
    response.output_item.done     status completed
    response.completed            (``output_text`` stays empty: the message has no text)

Hosted tool steps (code interpreter, image generation, file search, remote MCP) reuse the pieces
below; see ``hosted_tool_events``, ``file_search_events`` and ``mcp_events``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..chunking import Sleep, split_arguments, split_words
from ..items import Item, new_call_id, new_id, output_text_part
from ..script import FunctionCall, Refusal, Text, ToolCalls
from ..sse import HangUp
from ..usage import estimate_usage, prompt_words
from ..wire import Event
from .response import Turn


def reply_events(
    turn: Turn, reply: Text | ToolCalls | Refusal, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one scripted answer (text, tool calls or a refusal), updating ``turn`` as
    they go."""
    if isinstance(reply, ToolCalls):
        return tool_call_events(turn, reply, delay=delay, sleep=sleep)
    if isinstance(reply, Refusal):
        return refusal_events(turn, reply, delay=delay, sleep=sleep)
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
        if not (yield from say(turn, event, reply.text, delay=delay, sleep=sleep)):
            return  # cancelled meanwhile
        said.append(reply.text)
    for call in reply.calls:
        arguments = yield from _stream_call(
            turn, event, call, chunks=reply.argument_chunks, delay=delay, sleep=sleep
        )
        if arguments is None:
            return  # cancelled meanwhile
        said.append(f"{call.name} {arguments}")
    yield from complete(turn, event, reply.usage, said)


def refusal_events(
    turn: Turn, reply: Refusal, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of a refusal: a message whose one part is a refusal (see the module doc)."""
    event = Numbering()
    yield from opening(turn, event, queued=False)
    message = yield from open_message(turn, event, part=refusal_part(""))
    refusal = ""
    for piece in reply.pieces:
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return  # cancelled meanwhile
        refusal += piece
        turn.grow_part(refusal_part(refusal))
        yield event("response.refusal.delta", **message.where, delta=piece)
    part = refusal_part(refusal)
    yield event("response.refusal.done", **message.where, refusal=refusal)
    yield event("response.content_part.done", **message.where, part=part)
    done = {**message.item, "status": "completed", "content": [part]}
    if (yield from close_item(turn, event, message, done)):
        yield from complete(turn, event, None, [refusal])


def refusal_part(refusal: str) -> dict[str, Any]:
    return {"type": "refusal", "refusal": refusal}


# -- pieces shared by all turns -------------------------------------------------------------------


class Numbering:
    """Builds events numbered from 0, as the API's ``sequence_number`` does."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, kind: str, **fields: Any) -> Event:
        return {"type": kind, **fields, "sequence_number": next(self._counter)}


@dataclass(frozen=True)
class OpenItem:
    """An output item streaming at ``output_index``, until its ``output_item.done``."""

    item: Item
    output_index: int

    @property
    def where(self) -> dict[str, Any]:
        return {"item_id": self.item["id"], "output_index": self.output_index}


@dataclass(frozen=True)
class OpenMessage(OpenItem):
    """An assistant message streaming its one ``output_text`` part."""

    @property
    def where(self) -> dict[str, Any]:
        return {**super().where, "content_index": 0}


def opening(turn: Turn, event: Numbering, *, queued: bool) -> Generator[Event, None, None]:
    queued = queued or turn.background
    turn.set_status("queued" if queued else "in_progress")
    yield event("response.created", response=turn.snapshot())
    if queued:
        yield event("response.queued", response=turn.snapshot())
        turn.set_status("in_progress")
    yield event("response.in_progress", response=turn.snapshot())


def open_item(turn: Turn, event: Numbering, item: Item) -> Generator[Event, None, OpenItem]:
    """An output item starts streaming (kept by the turn so an interruption can save it)."""
    # Items stream one after another, so the next index is the number already completed.
    opened = OpenItem(item, len(turn.snapshot()["output"]))
    turn.open_item(item)
    yield event("response.output_item.added", output_index=opened.output_index, item=item)
    return opened


def close_item(
    turn: Turn, event: Numbering, opened: OpenItem, done: Item
) -> Generator[Event, None, bool]:
    """The item, as ``done``, joins the output; False if the turn ended meanwhile."""
    if not turn.complete_item(done):
        return False
    yield event("response.output_item.done", output_index=opened.output_index, item=done)
    return True


def open_hosted_call(
    turn: Turn, event: Numbering, kind: str, id_prefix: str, **fields: Any
) -> Generator[Event, None, OpenItem]:
    """A hosted tool step opens the response, then its call item (of type ``kind``, with
    ``fields``), ``in_progress``."""
    yield from opening(turn, event, queued=False)
    item: Item = {"id": new_id(id_prefix), "type": kind, "status": "in_progress", **fields}
    opened = yield from open_item(turn, event, item)
    yield event(f"response.{kind}.in_progress", **opened.where)
    return opened


def open_message(
    turn: Turn, event: Numbering, *, part: Mapping[str, Any] | None = None
) -> Generator[Event, None, OpenMessage]:
    """A message opens with its one content part, empty: ``output_text`` unless ``part``."""
    item: Item = {
        "id": new_id("msg"),
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    opened = yield from open_item(turn, event, item)
    message = OpenMessage(item, opened.output_index)
    empty = dict(part) if part is not None else output_text_part("")
    yield event("response.content_part.added", **message.where, part=empty)
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
        turn.grow_part(output_text_part(text))
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
    done = {**message.item, "status": status, "content": [part]}
    return (yield from close_item(turn, event, message, done))


def say(
    turn: Turn,
    event: Numbering,
    text: str,
    *,
    delay: float,
    sleep: Sleep,
    annotations: Sequence[Mapping[str, Any]] = (),
) -> Generator[Event, None, bool]:
    """A whole assistant message, word by word, then closed with its ``annotations``; False
    if the turn ended meanwhile."""
    message = yield from open_message(turn, event)
    pieces = split_words(text)
    streamed = yield from stream_text(turn, event, message, pieces, delay=delay, sleep=sleep)
    if streamed is None:
        return False
    return (yield from close_message(turn, event, message, streamed, annotations=annotations))


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
    opened = yield from open_item(turn, event, item)
    for piece in split_arguments(arguments, chunks):
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return None
        yield event("response.function_call_arguments.delta", **opened.where, delta=piece)
    yield event(
        "response.function_call_arguments.done",
        **opened.where,
        name=call.name,
        arguments=arguments,
    )
    done = {**item, "status": "completed", "arguments": arguments}
    if not (yield from close_item(turn, event, opened, done)):
        return None
    return arguments


def say_and_complete(
    turn: Turn,
    event: Numbering,
    text: str,
    overrides: Mapping[str, Any] | None,
    said: Sequence[str],
    *,
    delay: float,
    sleep: Sleep,
    annotations: Sequence[Mapping[str, Any]] = (),
) -> Generator[Event, None, None]:
    """A hosted step's closing message (when it has ``text``), then ``complete``: how every
    step that ran a tool on the server ends."""
    if text:
        if not (
            yield from say(turn, event, text, delay=delay, sleep=sleep, annotations=annotations)
        ):
            return  # cancelled meanwhile
        said = [*said, text]
    yield from complete(turn, event, overrides, said)


def complete(
    turn: Turn, event: Numbering, overrides: Mapping[str, Any] | None, said: Sequence[str]
) -> Generator[Event, None, None]:
    """The step ends the turn ``completed``; its usage counts what the step ``said``."""
    if turn.finish("completed", usage=turn_usage(turn, overrides, output=" ".join(said))):
        yield event("response.completed", response=turn.snapshot())


def turn_usage(turn: Turn, overrides: Mapping[str, Any] | None, *, output: str) -> dict[str, Any]:
    return estimate_usage(
        overrides,
        prompt=prompt_words([*turn.context_items, *turn.input_items]),
        instructions=turn.snapshot().get("instructions"),
        output=output,
    )
