"""The stream events of an Assistants API run, in the real API's order, and what they do to it.

Each event is ``{"event": name, "data": object}``; a stream ends with ``event: done`` /
``data: [DONE]``. A streamed run opens with::

    thread.run.created           status queued
    thread.run.queued
    thread.run.in_progress       started_at set

then plays one scripted reply, its step. A :class:`Text`::

    thread.run.step.created      message_creation step, in_progress, its message's id
    thread.run.step.in_progress
    thread.message.created       assistant message, in_progress, content []
    thread.message.in_progress
    thread.message.delta         x n: content [{"index": 0, "type": "text",
                                                "text": {"value": piece, "annotations": []}}]
    thread.message.completed
    thread.run.step.completed    with usage
    thread.run.completed         with usage, the steps' sum

``Text(status="incomplete")`` ends the message ``incomplete`` (``max_tokens``, or
``content_filter``) and the run ``incomplete`` (``max_completion_tokens``, or no reason).
``Text(fail_after=N)`` stops after N deltas: ``thread.message.incomplete`` (``run_failed``),
``thread.run.step.failed`` and ``thread.run.failed``, with ``last_error`` ``server_error``.
``Text(hang_up_after=N)`` drops the connection after N deltas, as a network failure does: the
run goes on without a reader (``in_progress``, stalled) until it is cancelled or expires.

A :class:`Refusal` plays as a :class:`Text` whose message holds a refusal block instead:
``thread.message.delta`` x n with content ``[{"index": 0, "type": "refusal", "refusal": piece}]``,
the completed message's content ``[{"type": "refusal", "refusal": ...}]``, and the run completes.

:class:`ToolCalls` (after a message with its ``text``, if any)::

    thread.run.step.created      tool_calls step, tool_calls []
    thread.run.step.in_progress
    thread.run.step.delta        per call: {"index", "id": "call_...", "type": "function",
                                            "function": {"name", "arguments": "", "output": null}}
    thread.run.step.delta        x n: {"index", "type": "function", "function": {"arguments"}}
    thread.run.requires_action   required_action.submit_tool_outputs.tool_calls: every call

The step stays ``in_progress`` until the client's outputs arrive. A streamed submit_tool_outputs
then sends ``thread.run.step.completed`` (the calls with their ``output``), ``thread.run.queued``,
``thread.run.in_progress`` and the next reply's step.

:class:`CodeInterpreter` and :class:`FileSearch` steps: see ``hosted_tool_events``.

:class:`RunFailure`: ``thread.run.failed`` (with ``last_error``) or ``thread.run.expired`` at once.

A run cancelled while its stream plays sends ``thread.run.cancelling``, then ends what was open
(``thread.message.incomplete`` ``run_cancelled``, ``thread.run.step.cancelled``) and
``thread.run.cancelled``. A polled run plays the same generators, unpaced, to the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..chunking import split_arguments, split_words
from ..hosted_steps import CodeInterpreter, FileSearch
from ..items import new_call_id
from ..script import Refusal, RunFailure, Text, ToolCalls
from .hosted_tool_events import code_interpreter_events, file_search_events
from .runs import Run
from .stream import (
    Events,
    Play,
    close_message,
    ended,
    event,
    finish,
    interrupted,
    message_delta,
    open_message,
    open_tool_step,
    stream_text,
    tool_delta,
    write,
)


def opening_events(run: Run) -> Events:
    """A streamed run's first events; the run is ``in_progress`` after them."""
    yield event("thread.run.created", run.snapshot())
    yield from _to_work(run)


def resumed_events(run: Run, completed_step: Mapping[str, Any]) -> Events:
    """A streamed submit_tool_outputs' first events: the answered step, then the run again."""
    yield event("thread.run.step.completed", dict(completed_step))
    yield from _to_work(run)


def _to_work(run: Run) -> Events:
    """``queued``, then ``in_progress``; or, if the client cancelled it meanwhile, the end of a
    cancelled run (and the stream plays nothing more, see ``run_api._streamed``)."""
    yield event("thread.run.queued", run.snapshot())
    if run.start_working():
        yield event("thread.run.in_progress", run.snapshot())
    else:
        yield from interrupted(run)


def step_events(run: Run, play: Play) -> Events:
    """The events of one step (see the module docstring); the run must be ``in_progress``."""
    reply = play.reply
    if isinstance(reply, RunFailure):
        return _run_failure(run, reply)
    if isinstance(reply, ToolCalls):
        return _tool_calls(run, reply, play)
    if isinstance(reply, CodeInterpreter):
        return code_interpreter_events(run, reply, play)
    if isinstance(reply, FileSearch):
        return file_search_events(run, reply, play)
    if isinstance(reply, Refusal):
        return _refusal(run, reply, play)
    return _text(run, reply, play)


# -- the plain replies ----------------------------------------------------------------------------


def _text(run: Run, reply: Text, play: Play) -> Events:
    opened = yield from open_message(run)
    text = yield from stream_text(
        run,
        opened,
        reply.pieces,
        play,
        limit=reply.fail_after,
        hang_up_after=reply.hang_up_after,
        hang_up_frame=reply.hang_up_frame,
    )
    if text is None:
        yield from interrupted(run)
    elif reply.fail_after is not None:
        error = {"code": "server_error", "message": reply.fail_message}
        yield from ended(run, "failed", last_error=error)
    elif reply.status == "incomplete":
        limited = reply.incomplete_reason == "max_output_tokens"
        reason = "max_tokens" if limited else "content_filter"
        if (yield from close_message(run, opened, reply.usage, text, reason=reason)):
            details = {"reason": "max_completion_tokens"} if limited else {}
            yield from finish(run, "incomplete", incomplete_details=details)
    elif (yield from close_message(run, opened, reply.usage, text)):
        yield from finish(run, "completed")


def _refusal(run: Run, reply: Refusal, play: Play) -> Events:
    opened = yield from open_message(run)
    refusal = ""
    for piece in reply.pieces:
        play.wait()
        if not run.generating:
            yield from interrupted(run)
            return
        refusal += piece
        block = {"type": "refusal", "refusal": piece}
        run.merge_content(opened.message_id, 0, block)  # the pieces join, as the SDK joins them
        yield message_delta(opened, 0, block)
    if (yield from close_message(run, opened, None, refusal)):
        yield from finish(run, "completed")


def _tool_calls(run: Run, reply: ToolCalls, play: Play) -> Events:
    said: list[str] = []
    if reply.text:
        opened = yield from open_message(run)
        if not (yield from write(run, opened, split_words(reply.text), play)):
            return
        said.append(reply.text)
    step_id = yield from open_tool_step(run)
    for index, call in enumerate(reply.calls):
        arguments = call.arguments_text
        function = {"name": call.name, "arguments": "", "output": None}
        head = {"id": call.call_id or new_call_id(), "type": "function", "function": function}
        yield tool_delta(run, step_id, index, head)
        for piece in split_arguments(arguments, reply.argument_chunks):
            play.wait()
            if not run.generating:
                yield from interrupted(run)
                return
            piece_delta = {"type": "function", "function": {"arguments": piece}}
            yield tool_delta(run, step_id, index, piece_delta)
        said.append(f"{call.name} {arguments}")
    if not run.generating:
        yield from interrupted(run)
        return
    run.require_action(step_id, run.usage_for(reply.usage, " ".join(said)))
    yield event("thread.run.requires_action", run.snapshot())


def _run_failure(run: Run, reply: RunFailure) -> Events:
    if reply.status == "failed":
        yield from ended(run, "failed", last_error={"code": reply.code, "message": reply.message})
    else:
        yield from ended(run, "expired")
