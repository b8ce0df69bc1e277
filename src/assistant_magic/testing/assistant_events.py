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

:class:`CodeInterpreter`: a ``tool_calls`` step with one ``code_interpreter`` call whose ``input``
streams in deltas, then one delta with its ``outputs`` (``logs``, then an ``image`` per displayed
image); then, given ``text`` or images, a message: an ``image_file`` block per image, then the text,
whose links ``sandbox:/mnt/data/<name>`` carry ``file_path`` annotations. Images and saved files are
stored in the Files API with purpose ``assistants_output`` (downloadable).

:class:`FileSearch`: a ``tool_calls`` step with one ``file_search`` call (ranking options and
results: ``file_id``, ``file_name``, ``score``, and ``content`` only when the run's create asked for
it in ``include[]``); then, given ``text``, a message whose citations are markers
``【<step>:<result>†source】`` inserted where :class:`FileSearch` ``cite`` places them, each with a
``file_citation`` annotation. Annotations arrive in the delta whose text completes them.

:class:`RunFailure`: ``thread.run.failed`` (with ``last_error``) or ``thread.run.expired`` at once.

A run cancelled while its stream plays sends ``thread.run.cancelling``, then ends what was open
(``thread.message.incomplete`` ``run_cancelled``, ``thread.run.step.cancelled``) and
``thread.run.cancelled``. A polled run plays the same generators, unpaced, to the end.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from .containers_api import SANDBOX_DIR
from .file_search import SearchPlan
from .files_api import store_upload
from .items import new_call_id
from .response_events import Sleep, split_arguments
from .runs import Run
from .script import CodeInterpreter, FileSearch, RunFailure, Text, ToolCalls, split_words
from .sse import HangUp
from .state import StoredFile
from .wire import Event

Events: TypeAlias = Generator[Event, None, None]
#: A reply a run can play as a step.
Playable: TypeAlias = Text | ToolCalls | CodeInterpreter | FileSearch | RunFailure

DONE: Event = {"event": "done", "data": "[DONE]"}
#: What the real file search reports as its ranking when the run sets none.
_RANKING = {"ranker": "default_2024_08_21", "score_threshold": 0.0}


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
class _Opened:
    """A message being written, and the ``message_creation`` step writing it."""

    step_id: str
    message_id: str


def event(name: str, data: Any) -> Event:
    return {"event": name, "data": data}


def opening_events(run: Run) -> Events:
    """A streamed run's first events; the run is ``in_progress`` after them."""
    yield event("thread.run.created", run.snapshot())
    yield event("thread.run.queued", run.snapshot())
    run.set_status("in_progress")
    yield event("thread.run.in_progress", run.snapshot())


def resumed_events(run: Run, completed_step: Mapping[str, Any]) -> Events:
    """A streamed submit_tool_outputs' first events: the answered step, then the run again."""
    yield event("thread.run.step.completed", dict(completed_step))
    yield event("thread.run.queued", run.snapshot())
    run.set_status("in_progress")
    yield event("thread.run.in_progress", run.snapshot())


def step_events(run: Run, play: Play) -> Events:
    """The events of one step (see the module docstring); the run must be ``in_progress``."""
    reply = play.reply
    if isinstance(reply, RunFailure):
        return _run_failure(run, reply)
    if isinstance(reply, ToolCalls):
        return _tool_calls(run, reply, play)
    if isinstance(reply, CodeInterpreter):
        return _code_interpreter(run, reply, play)
    if isinstance(reply, FileSearch):
        return _file_search(run, reply, play)
    return _text(run, reply, play)


# -- the replies ---------------------------------------------------------------------------------


def _text(run: Run, reply: Text, play: Play) -> Events:
    opened = yield from _open_message(run)
    text = yield from _stream_text(
        run,
        opened,
        reply.pieces,
        play,
        limit=reply.fail_after,
        hang_up_after=reply.hang_up_after,
        hang_up_frame=reply.hang_up_frame,
    )
    if text is None:
        yield from _interrupted(run)
    elif reply.fail_after is not None:
        error = {"code": "server_error", "message": reply.fail_message}
        yield from _ended(run, "failed", last_error=error)
    elif reply.status == "incomplete":
        limited = reply.incomplete_reason == "max_output_tokens"
        reason = "max_tokens" if limited else "content_filter"
        if (yield from _close_message(run, opened, reply.usage, text, reason=reason)):
            details = {"reason": "max_completion_tokens"} if limited else {}
            yield from _finish(run, "incomplete", incomplete_details=details)
    elif (yield from _close_message(run, opened, reply.usage, text)):
        yield from _finish(run, "completed")


def _tool_calls(run: Run, reply: ToolCalls, play: Play) -> Events:
    said: list[str] = []
    if reply.text:
        opened = yield from _open_message(run)
        if not (yield from _write(run, opened, split_words(reply.text), play)):
            return
        said.append(reply.text)
    step_id = yield from _open_tool_step(run)
    for index, call in enumerate(reply.calls):
        arguments = call.arguments_text
        function = {"name": call.name, "arguments": "", "output": None}
        head = {"id": call.call_id or new_call_id(), "type": "function", "function": function}
        yield _tool_delta(run, step_id, index, head)
        for piece in split_arguments(arguments, reply.argument_chunks):
            play.wait()
            if not run.generating:
                yield from _interrupted(run)
                return
            piece_delta = {"type": "function", "function": {"arguments": piece}}
            yield _tool_delta(run, step_id, index, piece_delta)
        said.append(f"{call.name} {arguments}")
    if not run.generating:
        yield from _interrupted(run)
        return
    run.require_action(step_id, run.usage_for(reply.usage, " ".join(said)))
    yield event("thread.run.requires_action", run.snapshot())


def _code_interpreter(run: Run, reply: CodeInterpreter, play: Play) -> Events:
    step_id = yield from _open_tool_step(run)
    head = {"input": "", "outputs": []}
    yield _tool_delta(
        run, step_id, 0, {"id": new_call_id(), "type": "code_interpreter", "code_interpreter": head}
    )
    for piece in split_arguments(reply.code, reply.code_chunks):
        play.wait()
        if not run.generating:
            yield from _interrupted(run)
            return
        code = {"type": "code_interpreter", "code_interpreter": {"input": piece}}
        yield _tool_delta(run, step_id, 0, code)
    images, saved = _save_outputs(run, reply)
    outputs = _code_outputs(reply, images)
    if outputs:
        done = {"type": "code_interpreter", "code_interpreter": {"outputs": outputs}}
        yield _tool_delta(run, step_id, 0, done)
    if not (yield from _complete_tool_step(run, step_id, reply.usage, reply.code)):
        return
    if reply.text or images:
        opened = yield from _open_message(run)
        for index, image in enumerate(images):
            block = {"type": "image_file", "image_file": {"file_id": image.id}}
            run.merge_content(opened.message_id, index, block)
            yield _message_delta(opened, index, block)
        annotations = _file_paths(reply.text, saved)
        pieces = split_words(reply.text)
        if not (yield from _write(run, opened, pieces, play, len(images), annotations)):
            return
    yield from _finish(run, "completed")


def _file_search(run: Run, reply: FileSearch, play: Play) -> Events:
    plan = play.search or SearchPlan([], [], [])
    step_id = yield from _open_tool_step(run)
    head = {"id": new_call_id(), "type": "file_search", "file_search": {}}
    yield _tool_delta(run, step_id, 0, head)
    play.wait()
    if not run.generating:
        yield from _interrupted(run)
        return
    results = _search_results(plan, content=run.include_search_content)
    run.merge_tool_call(
        step_id, 0, {"file_search": {"ranking_options": dict(_RANKING), "results": results}}
    )
    if not (yield from _complete_tool_step(run, step_id, reply.usage, " ".join(plan.queries))):
        return
    if reply.text:
        marked, annotations = _cited(reply.text, plan, step_number=len(run.steps) - 1)
        opened = yield from _open_message(run)
        if not (yield from _write(run, opened, split_words(marked), play, 0, annotations)):
            return
    yield from _finish(run, "completed")


def _run_failure(run: Run, reply: RunFailure) -> Events:
    if reply.status == "failed":
        yield from _ended(run, "failed", last_error={"code": reply.code, "message": reply.message})
    else:
        yield from _ended(run, "expired")


# -- pieces shared by the steps ------------------------------------------------------------------


def _open_message(run: Run) -> Generator[Event, None, _Opened]:
    step_id = run.open_step("message_creation")["id"]
    message = run.open_message(step_id)
    step = run.find_step(step_id)  # now naming its message
    yield event("thread.run.step.created", step)
    yield event("thread.run.step.in_progress", step)
    yield event("thread.message.created", message)
    yield event("thread.message.in_progress", message)
    return _Opened(step_id, message["id"])


def _stream_text(
    run: Run,
    opened: _Opened,
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
        yield _message_delta(opened, index, block)
    return text


def _write(
    run: Run,
    opened: _Opened,
    pieces: Sequence[str],
    play: Play,
    index: int = 0,
    annotations: Sequence[Mapping[str, Any]] = (),
) -> Generator[Event, None, bool]:
    """A message's text block, streamed, then the message closed; False if the run stopped
    generating meanwhile (the cancel's events are sent then)."""
    text = yield from _stream_text(run, opened, pieces, play, index=index, annotations=annotations)
    if text is None:
        yield from _interrupted(run)
        return False
    return (yield from _close_message(run, opened, None, text))


def _close_message(
    run: Run,
    opened: _Opened,
    usage: Mapping[str, Any] | None,
    text: str,
    *,
    reason: str | None = None,
) -> Generator[Event, None, bool]:
    """The message and its step end (``incomplete`` given a ``reason``); False if the run
    stopped generating first."""
    if not run.generating:
        yield from _interrupted(run)
        return False
    counted = run.usage_for(usage, text)
    status = "completed" if reason is None else "incomplete"
    yield event(f"thread.message.{status}", run.close_message(opened.message_id, status, reason))
    step = run.finish_step(opened.step_id, "completed", usage=counted)
    yield event("thread.run.step.completed", step)
    return True


def _open_tool_step(run: Run) -> Generator[Event, None, str]:
    step = run.open_step("tool_calls")
    yield event("thread.run.step.created", step)
    yield event("thread.run.step.in_progress", step)
    return str(step["id"])


def _complete_tool_step(
    run: Run, step_id: str, usage: Mapping[str, Any] | None, output: str
) -> Generator[Event, None, bool]:
    """A hosted tool's step is done; False if the run stopped generating first."""
    if not run.generating:
        yield from _interrupted(run)
        return False
    step = run.finish_step(step_id, "completed", usage=run.usage_for(usage, output))
    yield event("thread.run.step.completed", step)
    return True


def _tool_delta(run: Run, step_id: str, index: int, delta: Mapping[str, Any]) -> Event:
    run.merge_tool_call(step_id, index, delta)
    details = {"type": "tool_calls", "tool_calls": [{"index": index, **delta}]}
    data = {"id": step_id, "object": "thread.run.step.delta", "delta": {"step_details": details}}
    return event("thread.run.step.delta", data)


def _message_delta(opened: _Opened, index: int, block: Mapping[str, Any]) -> Event:
    delta = {"content": [{"index": index, **block}]}
    return event(
        "thread.message.delta",
        {"id": opened.message_id, "object": "thread.message.delta", "delta": delta},
    )


def _finish(run: Run, status: str, **fields: Any) -> Events:
    """The run ends ``completed`` or ``incomplete``, unless it stopped generating first."""
    if not run.generating:
        yield from _interrupted(run)
        return
    run.end(status, **fields)
    yield event(f"thread.run.{status}", run.snapshot())


def _ended(run: Run, status: str, **fields: Any) -> Events:
    """The run ends ``failed``, ``expired`` or ``cancelled``, and with it what was open."""
    ended = run.end(status, **fields)
    if ended is None:
        return
    for message in ended.messages:
        yield event("thread.message.incomplete", message)
    for step in ended.steps:
        yield event(f"thread.run.step.{step['status']}", step)
    yield event(f"thread.run.{status}", run.snapshot())


def _interrupted(run: Run) -> Events:
    """The run stopped generating: a cancel ends it here (anything else already ended it)."""
    if run.status == "cancelling":
        yield event("thread.run.cancelling", run.snapshot())
        yield from _ended(run, "cancelled")


# -- hosted tool details -------------------------------------------------------------------------


def _save_outputs(
    run: Run, reply: CodeInterpreter
) -> tuple[list[StoredFile], list[tuple[str, StoredFile]]]:
    """The code ran: what it displayed and saved becomes files the Files API serves."""
    images = [
        store_upload(run.state, data, filename=f"image_{n}.png", purpose="assistants_output")
        for n, data in enumerate(reply.images, 1)
    ]
    saved = [
        (name, store_upload(run.state, data, filename=name, purpose="assistants_output"))
        for name, data in reply.files.items()
    ]
    return images, saved


def _code_outputs(reply: CodeInterpreter, images: Sequence[StoredFile]) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    if reply.logs is not None:
        outputs.append({"type": "logs", "logs": reply.logs})
    outputs += [{"type": "image", "image": {"file_id": image.id}} for image in images]
    return [{"index": index, **output} for index, output in enumerate(outputs)]


def _file_paths(text: str, saved: Sequence[tuple[str, StoredFile]]) -> list[dict[str, Any]]:
    """A ``file_path`` annotation for each saved file the text links as a sandbox path."""
    found = []
    for name, upload in saved:
        target = f"sandbox:{SANDBOX_DIR}{name}"
        start = text.find(target)
        if start >= 0:
            found.append(
                {
                    "type": "file_path",
                    "text": target,
                    "start_index": start,
                    "end_index": start + len(target),
                    "file_path": {"file_id": upload.id},
                }
            )
    return sorted(found, key=lambda annotation: int(annotation["start_index"]))


def _search_results(plan: SearchPlan, *, content: bool) -> list[dict[str, Any]]:
    results = []
    for found in plan.results or []:
        result: dict[str, Any] = {
            "file_id": found["file_id"],
            "file_name": found["filename"],
            "score": found["score"],
        }
        if content:
            result["content"] = [{"type": "text", "text": found["text"]}]
        results.append(result)
    return results


def _cited(text: str, plan: SearchPlan, *, step_number: int) -> tuple[str, list[dict[str, Any]]]:
    """The text with a citation marker where each citation falls, and their annotations."""
    ranked = [str(result["file_id"]) for result in plan.results or []]
    marked = ""
    done = 0
    annotations = []
    for number, citation in enumerate(plan.citations):
        file_id = str(citation["file_id"])
        marked += text[done : int(citation["index"])]
        done = int(citation["index"])
        result = ranked.index(file_id) if file_id in ranked else number
        marker = f"【{step_number}:{result}†source】"
        annotations.append(
            {
                "type": "file_citation",
                "text": marker,
                "start_index": len(marked),
                "end_index": len(marked) + len(marker),
                "file_citation": {"file_id": file_id},
            }
        )
        marked += marker
    return marked + text[done:], annotations
