"""The pieces every step of an Assistants API run streams: messages, tool steps, the run's end.

Each event is ``{"event": name, "data": object}`` and updates the run as it goes out, so a stream
that stops early leaves the run as far as the client saw it. Every piece checks that the run may
go on (``run.generating``) and, once it may not, sends what a cancel sends instead.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..chunking import Sleep
from ..hosted_steps import CodeInterpreter, FileSearch
from ..script import Refusal, RunFailure, Text, ToolCalls
from ..search_plan import SearchPlan
from ..sse import HangUp
from ..wire import Event
from .runs import Run

Events: TypeAlias = Generator[Event, None, None]
#: A reply a run can play as a step.
Playable: TypeAlias = Text | Refusal | ToolCalls | CodeInterpreter | FileSearch | RunFailure

DONE: Event = {"event": "done", "data": "[DONE]"}


@dataclass(frozen=True)
class Play:
    """A step's reply as it plays: paced by ``delay`` seconds before each delta (0 when nobody
    streams it); a :class:`FileSearch` plays its ``search`` plan."""

    reply: Playable
    delay: float = 0.0
    search: SearchPlan | None = None
    sleep: Sleep = time.sleep

    def wait(self) -> None:
        if self.delay > 0:
            self.sleep(self.delay)


@dataclass(frozen=True)
class OpenedMessage:
    """A message being written, and the ``message_creation`` step writing it."""

    step_id: str
    message_id: str


def event(name: str, data: Any) -> Event:
    return {"event": name, "data": data}


def open_message(run: Run) -> Generator[Event, None, OpenedMessage]:
    step_id = run.open_step("message_creation")["id"]
    message = run.open_message(step_id)
    step = run.find_step(step_id)  # now naming its message
    yield event("thread.run.step.created", step)
    yield event("thread.run.step.in_progress", step)
    yield event("thread.message.created", message)
    yield event("thread.message.in_progress", message)
    return OpenedMessage(step_id, message["id"])


def stream_text(
    run: Run,
    opened: OpenedMessage,
    pieces: Sequence[str],
    play: Play,
    *,
    index: int = 0,
    annotations: Sequence[Mapping[str, Any]] = (),
    limit: int | None = None,
    hang_up_after: int | None = None,
    hang_up_frame: str | None = None,
) -> Generator[Event, None, str | None]:
    """Text deltas for the message's ``index``-th block (at most ``limit``), each carrying the
    annotations its text completes; the text sent, or None if the run stopped generating."""
    text = ""
    announced = 0
    for sent, piece in enumerate(pieces):
        if limit is not None and sent >= limit:
            break
        if hang_up_after is not None and sent >= hang_up_after:
            run.connection_lost()
            raise HangUp(hang_up_frame)
        play.wait()
        if not run.generating:
            return None
        text += piece
        reached = []
        while announced < len(annotations) and annotations[announced]["end_index"] <= len(text):
            reached.append({"index": announced, **annotations[announced]})
            announced += 1
        block = {"type": "text", "text": {"value": piece, "annotations": reached}}
        run.merge_content(opened.message_id, index, block)
        yield message_delta(opened, index, block)
    return text


def write(
    run: Run,
    opened: OpenedMessage,
    pieces: Sequence[str],
    play: Play,
    index: int = 0,
    annotations: Sequence[Mapping[str, Any]] = (),
) -> Generator[Event, None, bool]:
    """A message's text block, streamed, then the message closed; False if the run stopped
    generating meanwhile (the cancel's events are sent then)."""
    text = yield from stream_text(run, opened, pieces, play, index=index, annotations=annotations)
    if text is None:
        yield from interrupted(run)
        return False
    return (yield from close_message(run, opened, None, text))


def close_message(
    run: Run,
    opened: OpenedMessage,
    usage: Mapping[str, Any] | None,
    text: str,
    *,
    reason: str | None = None,
) -> Generator[Event, None, bool]:
    """The message and its step end (``incomplete`` given a ``reason``); False if the run
    stopped generating first."""
    if not run.generating:
        yield from interrupted(run)
        return False
    counted = run.usage_for(usage, text)
    status = "completed" if reason is None else "incomplete"
    yield event(f"thread.message.{status}", run.close_message(opened.message_id, status, reason))
    step = run.finish_step(opened.step_id, "completed", usage=counted)
    yield event("thread.run.step.completed", step)
    return True


def open_tool_step(run: Run) -> Generator[Event, None, str]:
    step = run.open_step("tool_calls")
    yield event("thread.run.step.created", step)
    yield event("thread.run.step.in_progress", step)
    return str(step["id"])


def complete_tool_step(
    run: Run, step_id: str, usage: Mapping[str, Any] | None, output: str
) -> Generator[Event, None, bool]:
    """A hosted tool's step is done; False if the run stopped generating first."""
    if not run.generating:
        yield from interrupted(run)
        return False
    step = run.finish_step(step_id, "completed", usage=run.usage_for(usage, output))
    yield event("thread.run.step.completed", step)
    return True


def tool_delta(run: Run, step_id: str, index: int, delta: Mapping[str, Any]) -> Event:
    run.merge_tool_call(step_id, index, delta)
    details = {"type": "tool_calls", "tool_calls": [{"index": index, **delta}]}
    data = {"id": step_id, "object": "thread.run.step.delta", "delta": {"step_details": details}}
    return event("thread.run.step.delta", data)


def message_delta(opened: OpenedMessage, index: int, block: Mapping[str, Any]) -> Event:
    delta = {"content": [{"index": index, **block}]}
    return event(
        "thread.message.delta",
        {"id": opened.message_id, "object": "thread.message.delta", "delta": delta},
    )


def finish(run: Run, status: str, **fields: Any) -> Events:
    """The run ends ``completed`` or ``incomplete``, unless it stopped generating first."""
    if not run.generating:
        yield from interrupted(run)
        return
    run.end(status, **fields)
    yield event(f"thread.run.{status}", run.snapshot())


def ended(run: Run, status: str, **fields: Any) -> Events:
    """The run ends ``failed``, ``expired`` or ``cancelled``, and with it what was open."""
    ended = run.end(status, **fields)
    if ended is None:
        return
    for message in ended.messages:
        yield event("thread.message.incomplete", message)
    for step in ended.steps:
        yield event(f"thread.run.step.{step['status']}", step)
    yield event(f"thread.run.{status}", run.snapshot())


def interrupted(run: Run) -> Events:
    """The run stopped generating: a cancel ends it here (anything else already ended it)."""
    if run.status == "cancelling":
        yield event("thread.run.cancelling", run.snapshot())
        yield from ended(run, "cancelled")
