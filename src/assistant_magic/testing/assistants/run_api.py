"""The Assistants API's runs and run steps: create, read, modify, cancel, submit tool outputs.

The rules (unknown ids, active runs, tool outputs, cancelling) are listed with the rest of the
API's in ``api``. A run's life and how reads drive a polled run are in ``runs``; its events in
``events``. Each model step takes the next scripted reply, as a Responses request does, with a
:class:`ReplyContext` built from the thread: the request that starts the step takes it - a
streamed create or submit_tool_outputs, or for a polled run the read that moves it from
``queued`` to ``in_progress``. A scripted :class:`HttpError` is that request's answer (the run is
not created, or not moved on; the SDK may retry, taking the next reply). :class:`ImageGeneration`
and :class:`McpCall` do not exist here: each is recorded as a mistake and answered with a 500 the
SDK does not retry.
Replies that use tools the run does not offer (or ``tool_choice`` forbids) are recorded as
mistakes and played all the same, as in the other dialects.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..attachments import attachments
from ..crud import list_page
from ..hosted_steps import FileSearch, ImageGeneration, McpCall, hosted_tool
from ..items import Item
from ..playback import http_error_failure, next_reply
from ..reply_context import ReplyContext
from ..routing import Routes
from ..script import HttpError, RunFailure, Step, ToolCalls
from ..search_plan import plan_search
from ..sse import HangUp
from ..state import AssistantThread, VectorStore
from ..structured import check_format
from ..tool_choice import ToolChoice, find_tool
from ..wire import (
    Answer,
    ApiFailure,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    json_object,
    mistake_failure,
    poll_answer,
    scripted_failure,
)
from .events import opening_events, resumed_events, step_events
from .objects import run_resource, thread_items, unknown_object
from .runs import Run, RunSettings, active_run
from .stream import DONE, Events, Play, event

if TYPE_CHECKING:
    from .api import AssistantsApi

#: The ``include[]`` value that asks for the text of file search results.
_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
_CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})
_RUNS = "/threads/{thread_id}/runs"
_RUN = _RUNS + "/{run_id}"


class RunsApi:
    """Runs on the threads ``assistants`` keeps, behaving as ``settings`` says."""

    def __init__(self, assistants: AssistantsApi, settings: RunSettings) -> None:
        self.assistants = assistants
        self.state = assistants.state
        self.playback = assistants.playback
        self.settings = settings

    def register(self, routes: Routes) -> None:
        routes.add("POST", "/threads/runs", self.create_thread_and_run)
        routes.add("POST", _RUNS, self.create_run)
        routes.add("GET", _RUNS, self.list_runs)
        routes.add("GET", _RUN, self.get_run)
        routes.add("POST", _RUN, self.modify_run)
        routes.add("POST", f"{_RUN}/cancel", self.cancel_run)
        routes.add("POST", f"{_RUN}/submit_tool_outputs", self.submit_tool_outputs)
        routes.add("GET", f"{_RUN}/steps", self.list_steps)
        routes.add("GET", f"{_RUN}/steps/{{step_id}}", self.get_step)

    def create_run(self, request: RecordedRequest) -> Answer:
        return self._begin_run(
            self.assistants.threads.find(request), json_object(request.body), request.query
        )

    def create_thread_and_run(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        thread = self.assistants.new_thread(json_object(body.get("thread")))
        if body.get("tool_resources") is not None:
            thread.tool_resources = self.assistants.tool_resources(body["tool_resources"])
        with self.state.lock:
            self.state.threads[thread.id] = thread
        try:
            created = [event("thread.created", thread.resource())]
            return self._begin_run(thread, body, request.query, prelude=created)
        except ApiFailure:
            with self.state.lock:
                self.state.threads.pop(thread.id, None)
            raise

    def list_runs(self, request: RecordedRequest) -> Answer:
        thread = self.assistants.threads.find(request)
        with self.state.lock:
            runs = [self.state.runs[i] for i in thread.run_ids if i in self.state.runs]
            for run in runs:
                run.expire_if_due()
            return JsonAnswer(list_page([run.snapshot() for run in runs], request.query))

    def get_run(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        run.on_read(lambda r: self._start_step(r, streamed=False), self._drain)
        return _run_answer(run)

    def modify_run(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        run = self._run(request)
        with self.state.lock:
            if "metadata" in body:
                run.resource["metadata"] = dict(body.get("metadata") or {})
            self.state.changed()
        return _run_answer(run)

    def cancel_run(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        with self.state.lock:
            if run.status not in _CANCELLABLE:
                raise ApiFailure(400, f"Cannot cancel run with status '{run.status}'.")
            run.request_cancel()
        return _run_answer(run)

    def submit_tool_outputs(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        self._check_streaming(body)
        run = self._run(request)
        outputs = _tool_outputs(run, body.get("tool_outputs"))
        if not body.get("stream"):
            run.accept_outputs(outputs)
            return _run_answer(run)
        step = self._start_step(run, streamed=True, items=run.continuation(outputs))
        with self.state.lock:
            _tool_outputs(run, body.get("tool_outputs"))  # still waiting: no other submit won
            token = run.begin_streaming()
            completed = run.accept_outputs(outputs)
        return self._stream(run, token, resumed_events(run, completed), step)

    def list_steps(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        return JsonAnswer(list_page(run.step_snapshots(), request.query))

    def get_step(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        step_id = request.param("step_id")
        step = run.find_step(step_id)
        if step is None:
            raise unknown_object("run step", step_id)
        return JsonAnswer(step)

    # -- starting runs and their steps -----------------------------------------------------

    def _begin_run(
        self,
        thread: AssistantThread,
        body: Mapping[str, Any],
        query: Mapping[str, str],
        *,
        prelude: Sequence[Event] = (),
    ) -> Answer:
        """Check the request, make the run; a streamed one takes its reply before it exists."""
        self._check_streaming(body)
        assistant = self.assistants.assistant(str(body.get("assistant_id")))
        if body.get("model") is not None:
            self.assistants.check_model(body["model"])
        check_format(body)
        with self.state.lock:
            _check_no_active_run(active_run(self.state, thread), thread)
            extra = [
                self.assistants.new_message(thread.id, m)
                for m in body.get("additional_messages") or []
            ]
            history, input_items = thread_items([*thread.messages, *extra])
        run = Run(
            self.state,
            run_resource(assistant, thread.id, body, expires_at=self.settings.deadline()),
            thread,
            self.settings,
            history=history,
            input_items=input_items,
            include_search_content=_SEARCH_CONTENT in query.get("include[]", ""),
        )
        if not body.get("stream"):
            self._register(run, extra)
            return _run_answer(run)
        step = self._start_step(run, streamed=True)
        with self.state.lock:
            self._register(run, extra)
            token = run.begin_streaming()
        return self._stream(run, token, prelude, opening_events(run), step)

    def _check_streaming(self, body: Mapping[str, Any]) -> None:
        if body.get("stream") and not self.settings.streaming:
            raise scripted_failure(
                400,
                "This server does not stream runs: leave out 'stream' and poll the run.",
                param="stream",
            )

    def _register(self, run: Run, extra: list[dict[str, Any]]) -> None:
        with self.state.lock:
            _check_no_active_run(active_run(self.state, run.thread), run.thread)
            run.thread.messages.extend(extra)
            run.thread.run_ids.append(run.id)
            self.state.runs[run.id] = run
            self.state.changed()

    def _start_step(
        self,
        run: Run,
        *,
        streamed: bool,
        items: tuple[list[Item], list[Item]] | None = None,
    ) -> Events:
        """Take the step's reply (for the run's items, or ``items``) and return its events."""
        with self.state.lock:
            history, input_items = items or (list(run.history), list(run.input_items))
            uploads = dict(self.state.files)
        seen = attachments(input_items, uploads)
        context = ReplyContext(
            run.snapshot(), input_items, history, seen.images, seen.files, self._stores(run)
        )
        return step_events(
            run,
            self._play(
                run, context, next_reply(self.state, self.playback.default_reply, context), streamed
            ),
        )

    def _play(
        self, run: Run, context: ReplyContext, reply: Step | RunFailure, streamed: bool
    ) -> Play:
        """How the reply plays; an error it scripts is raised, tool misuse is recorded."""
        if isinstance(reply, HttpError):
            raise http_error_failure(reply)
        if isinstance(reply, (ImageGeneration, McpCall)):
            raise self._no_such_tool(run, reply)
        body = context.body
        if any(step.get("type") == "tool_calls" for step in run.step_snapshots()):
            # A forced tool_choice forces the run's first step; after the outputs the model is
            # free to answer, as with the other APIs (else a forced run could never end).
            body = {**body, "tool_choice": "auto"}
        self._check_tool_use(body, reply, run.thread_id)
        delay = 0.0
        if streamed and not isinstance(reply, RunFailure):
            own = reply.chunk_delay
            delay = own if own is not None else self.playback.chunk_delay
        if not isinstance(reply, FileSearch):
            return Play(reply, delay)
        found = find_tool(context.body, "file_search")
        tool = json_object(found[1].get("file_search")) if found else {}
        plan, mistakes = plan_search(reply, context, tool, include_results=True)
        self.state.report(mistakes)
        return Play(reply, delay, plan)

    def _check_tool_use(
        self, body: Mapping[str, Any], reply: Step | RunFailure, thread_id: str
    ) -> None:
        choice = ToolChoice.of(body, endpoint=f"/v1/threads/{thread_id}/runs")
        hosted = hosted_tool(reply)
        if isinstance(reply, RunFailure):
            mistakes: list[str] = []
        elif hosted is not None:
            mistakes = choice.hosted_mistakes(hosted)
        else:
            mistakes = choice.reply_mistakes(reply.calls if isinstance(reply, ToolCalls) else None)
        self.state.report([*choice.request_mistakes(), *mistakes])

    def _no_such_tool(self, run: Run, reply: ImageGeneration | McpCall) -> ApiFailure:
        problem = (
            f"scripted reply to a run on {run.thread_id} is an {type(reply).__name__} step, but "
            f"the Assistants API has no {hosted_tool(reply)} tool: script it for "
            "POST /v1/responses only"
        )
        self.state.report([problem])
        return mistake_failure(problem)

    def _stores(self, run: Run) -> list[VectorStore]:
        """Copies of the vector stores a run's ``file_search`` tool searches: its assistant's and
        its thread's (none without the tool)."""
        if find_tool(run.resource, "file_search") is None:
            return []
        with self.state.lock:
            assistant = self.state.assistants.get(str(run.resource["assistant_id"])) or {}
            ids = [
                *_store_ids(assistant.get("tool_resources")),
                *_store_ids(run.thread.tool_resources),
            ]
            stores = self.state.vector_stores
            return [stores[i].snapshot() for i in dict.fromkeys(ids) if i in stores]

    def _stream(self, run: Run, token: object, *parts: Iterable[Event]) -> EventStream:
        """The run's events as an SSE stream, driven by the stream holding ``token``."""
        events = _streamed(run, token, parts)

        def client_gone() -> None:
            events.close()
            run.client_gone(token)

        return EventStream(events, on_disconnect=client_gone, dialect="assistants")

    def _drain(self, events: Iterator[Event]) -> None:
        """Play a polled run's step with nobody reading; a hang-up only drops a stream."""
        with contextlib.suppress(HangUp):
            for played in events:
                self.playback.check_event(played)

    # -- lookups ---------------------------------------------------------------------------

    def _run(self, request: RecordedRequest) -> Run:
        """The run the path names, in the thread it names; expired if it waited too long."""
        thread = self.assistants.threads.find(request)
        run_id = request.param("run_id")
        with self.state.lock:
            run = self.state.runs.get(run_id)
        if run is None or run.thread_id != thread.id:
            raise unknown_object("run", run_id)
        run.expire_if_due()
        return run


# -- helpers --------------------------------------------------------------------------------------


def _streamed(run: Run, token: object, parts: Sequence[Iterable[Event]]) -> Events:
    """The stream's events, then ``done``; the stream lets go of the run once it stops. A part
    after the run ended (cancelled as it was queued) is not played."""
    try:
        for part in parts:
            if not run.is_active:
                break
            yield from part
        yield DONE
    finally:
        run.stop_streaming(token)


def _run_answer(run: Run) -> JsonAnswer:
    """The run as it stands; an active one tells pollers (the SDK's ``poll``) to come back soon."""
    snapshot = run.snapshot()
    return poll_answer(snapshot, busy=snapshot["status"] in ("queued", "in_progress", "cancelling"))


def _tool_outputs(run: Run, raw: object) -> dict[str, str]:
    """The outputs, which must answer exactly the calls the run waits for."""
    status = run.status
    if status != "requires_action":
        raise ApiFailure(400, f'Runs in status "{status}" do not accept tool outputs.')
    given = [json_object(output) for output in raw] if isinstance(raw, list) else []
    got = [output.get("tool_call_id") for output in given]
    for index, call_id in enumerate(got):
        if call_id in got[:index]:
            raise scripted_failure(
                400,
                f"Duplicate tool output for call_id {call_id}: each tool call takes exactly one "
                "output.",
                param="tool_outputs",
            )
    expected = run.required_call_ids()
    if set(got) != set(expected):
        raise ApiFailure(400, f"Expected tool outputs for call_ids {expected!r}, got {got!r}")
    return {str(output["tool_call_id"]): str(output.get("output") or "") for output in given}


def _check_no_active_run(active: Run | None, thread: AssistantThread) -> None:
    if active is not None:
        raise ApiFailure(400, f"Thread {thread.id} already has an active run {active.id}.")


def _store_ids(resources: object) -> list[str]:
    search = json_object(json_object(resources).get("file_search"))
    return [str(i) for i in search.get("vector_store_ids") or []]
