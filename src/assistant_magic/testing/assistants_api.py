"""The Assistants API (v2): assistants, threads, messages, runs and run steps, kept in memory.

OpenAI shut this API down, but other servers speak it, so the scripted server keeps its rules
(in the real API's words unless marked ``[scripted server]``; "real" wording is as recorded in
other projects' issues and fixtures):

* every request needs ``OpenAI-Beta: assistants=v2`` (the openai SDK sends it); without it, 400
  ``You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by
  setting the header 'OpenAI-Beta: assistants=v2'.``, and for ``assistants=v1`` 400 ``The v1
  Assistants API has been deprecated. ...`` (both ``code: "invalid_beta"``);
* unknown ids: 404 ``No assistant found with id '<id>'.`` and ``No thread found with id
  '<id>'.``; for runs, messages and run steps ``[scripted server] No run found with id '<id>'.``
  (``message``, ``run step`` alike; the real wording is unverified);
* an unknown model (creating or modifying an assistant, or a run's override): 400 ``The requested
  model '<model>' does not exist.`` (``param: "model"``, ``code: "model_not_found"``);
* a thread with an active run (queued, in_progress, requires_action, cancelling) takes no new
  message: 400 ``Can't add messages to <thread> while a run <run> is active.``, and no new run:
  400 ``Thread <thread> already has an active run <run>.``;
* submit_tool_outputs to a run not in ``requires_action``: 400 ``Runs in status "<status>" do not
  accept tool outputs.``; outputs that do not answer exactly the calls asked: 400 ``Expected tool
  outputs for call_ids ['call_a', 'call_b'], got ['call_a']``; one call answered twice: 400
  ``[scripted server] Duplicate tool output for call_id <id>: ...``;
* cancelling a run that is not queued, in_progress or requires_action: 400 ``Cannot cancel run
  with status '<status>'.``;
* files and vector stores that ``tool_resources``, attachments and ``image_file`` blocks name must
  exist: 404 ``Files [<ids>] were not found`` / ``No vector store found with id '<id>'.`` (as the
  Vector Stores API words them; unverified here).

Deleting a thread with an active run is allowed (the real rule is unknown). A run's life and how
reads drive a polled run are in ``runs``; its events in ``assistant_events``. Each model step takes
the next scripted reply, as a Responses request does, with a :class:`ReplyContext` built from the
thread: the request that starts the step takes it - a streamed create or submit_tool_outputs, or
for a polled run the read that moves it from ``queued`` to ``in_progress``. A scripted
:class:`HttpError` is that request's answer (the run is not created, or not moved on; the SDK may
retry, taking the next reply). :class:`ImageGeneration` does not exist here: it is recorded as a
mistake and answered with a 500 the SDK does not retry. Replies that use tools the run does not
offer (or ``tool_choice`` forbids) are recorded as mistakes and played all the same, as in the
other dialects.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .assistant_events import (
    DONE,
    Events,
    Play,
    event,
    opening_events,
    resumed_events,
    step_events,
)
from .attachments import attachments
from .file_search import plan_search
from .items import Item
from .responses_api import http_error_failure, next_reply
from .routing import Handler, Router
from .runs import Run, RunSettings, new_object_id, run_resource, thread_items
from .script import (
    FileSearch,
    HttpError,
    ImageGeneration,
    ReplyContext,
    ReplyFactory,
    RunFailure,
    Step,
    ToolCalls,
    hosted_tool,
)
from .sse import HangUp
from .state import AssistantThread, ServerState, VectorStore
from .tool_choice import ToolChoice, find_tool
from .vector_stores_api import POLL_AFTER_MS, add_store_file, find_store, find_uploads
from .vector_stores_api import new_vector_store as make_vector_store
from .wire import (
    SCRIPTED_PREFIX,
    Answer,
    ApiFailure,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    list_page,
    mistake_failure,
    scripted_failure,
)

_MISSING_BETA = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by "
    "setting the header 'OpenAI-Beta: assistants=v2'."
)
_V1_BETA = (
    "The v1 Assistants API has been deprecated. Please try again by setting the header "
    "'OpenAI-Beta: assistants=v2'. See the migration guide for more information: "
    "https://platform.openai.com/docs/assistants/migration."
)
#: The ``include[]`` value that asks for the text of file search results.
_SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
_CANCELLABLE = frozenset({"queued", "in_progress", "requires_action"})


@dataclass(frozen=True)
class AssistantsSettings:
    """``models``: accepted model ids (None: any). ``check_event`` validates an Assistants API
    stream event, also those played without a client reading them (polled runs)."""

    models: frozenset[str] | None
    chunk_delay: float
    default_reply: ReplyFactory
    check_event: Callable[[Event], None]
    runs: RunSettings


class AssistantsApi:
    def __init__(self, state: ServerState, settings: AssistantsSettings) -> None:
        self.state = state
        self.settings = settings

    def register(self, router: Router) -> None:
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/assistants", self.create_assistant),
            ("GET", "/assistants", self.list_assistants),
            ("GET", "/assistants/{assistant_id}", self.get_assistant),
            ("POST", "/assistants/{assistant_id}", self.modify_assistant),
            ("DELETE", "/assistants/{assistant_id}", self.delete_assistant),
            ("POST", "/threads", self.create_thread),
            ("POST", "/threads/runs", self.create_thread_and_run),
            ("GET", "/threads/{thread_id}", self.get_thread),
            ("POST", "/threads/{thread_id}", self.modify_thread),
            ("DELETE", "/threads/{thread_id}", self.delete_thread),
            ("POST", "/threads/{thread_id}/messages", self.create_message),
            ("GET", "/threads/{thread_id}/messages", self.list_messages),
            ("GET", "/threads/{thread_id}/messages/{message_id}", self.get_message),
            ("POST", "/threads/{thread_id}/messages/{message_id}", self.modify_message),
            ("DELETE", "/threads/{thread_id}/messages/{message_id}", self.delete_message),
            ("POST", "/threads/{thread_id}/runs", self.create_run),
            ("GET", "/threads/{thread_id}/runs", self.list_runs),
            ("GET", "/threads/{thread_id}/runs/{run_id}", self.get_run),
            ("POST", "/threads/{thread_id}/runs/{run_id}", self.modify_run),
            ("POST", "/threads/{thread_id}/runs/{run_id}/cancel", self.cancel_run),
            (
                "POST",
                "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
                self.submit_tool_outputs,
            ),
            ("GET", "/threads/{thread_id}/runs/{run_id}/steps", self.list_steps),
            ("GET", "/threads/{thread_id}/runs/{run_id}/steps/{step_id}", self.get_step),
        ]
        for method, template, handler in routes:
            router.add(method, template, _needs_beta(handler))

    # -- assistants ------------------------------------------------------------------------

    def create_assistant(self, request: RecordedRequest) -> Answer:
        body = _body(request)
        self._check_model(body.get("model"))
        assistant: dict[str, Any] = {
            "id": new_object_id("asst"),
            "object": "assistant",
            "created_at": int(time.time()),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body.get("model"),
            "instructions": body.get("instructions"),
            "tools": copy.deepcopy(body.get("tools") or []),
            "tool_resources": self._tool_resources(body.get("tool_resources")),
            "metadata": dict(body.get("metadata") or {}),
            "temperature": _or(body.get("temperature"), 1.0),
            "top_p": _or(body.get("top_p"), 1.0),
            "response_format": copy.deepcopy(body.get("response_format") or "auto"),
        }
        if body.get("reasoning_effort") is not None:
            assistant["reasoning_effort"] = body["reasoning_effort"]
        with self.state.lock:
            self.state.assistants[assistant["id"]] = assistant
            self.state.changed()
        return JsonAnswer(copy.deepcopy(assistant))

    def list_assistants(self, request: RecordedRequest) -> Answer:
        with self.state.lock:
            found = copy.deepcopy(list(self.state.assistants.values()))
        return JsonAnswer(_page(found, request))

    def get_assistant(self, request: RecordedRequest) -> Answer:
        return JsonAnswer(copy.deepcopy(self._assistant(request.param("assistant_id"))))

    def modify_assistant(self, request: RecordedRequest) -> Answer:
        body = _body(request)
        assistant = self._assistant(request.param("assistant_id"))
        if "model" in body:
            self._check_model(body["model"])
        changes = {key: copy.deepcopy(value) for key, value in body.items()}
        if "tool_resources" in body:
            changes["tool_resources"] = self._tool_resources(body["tool_resources"])
        with self.state.lock:
            assistant.update(changes)
            self.state.changed()
            return JsonAnswer(copy.deepcopy(assistant))

    def delete_assistant(self, request: RecordedRequest) -> Answer:
        assistant = self._assistant(request.param("assistant_id"))
        with self.state.lock:
            self.state.assistants.pop(assistant["id"], None)
            self.state.changed()
        return JsonAnswer({"id": assistant["id"], "object": "assistant.deleted", "deleted": True})

    # -- threads ---------------------------------------------------------------------------

    def create_thread(self, request: RecordedRequest) -> Answer:
        thread = self._new_thread(_body(request))
        with self.state.lock:
            self.state.threads[thread.id] = thread
            self.state.changed()
            return JsonAnswer(thread.resource())

    def get_thread(self, request: RecordedRequest) -> Answer:
        return JsonAnswer(self._thread(request).resource())

    def modify_thread(self, request: RecordedRequest) -> Answer:
        body = _body(request)
        thread = self._thread(request)
        resources = self._tool_resources(body.get("tool_resources"))
        with self.state.lock:
            if "metadata" in body:
                thread.metadata = dict(body.get("metadata") or {})
            if "tool_resources" in body:
                thread.tool_resources = resources
            self.state.changed()
            return JsonAnswer(thread.resource())

    def delete_thread(self, request: RecordedRequest) -> Answer:
        thread = self._thread(request)
        with self.state.lock:
            self.state.threads.pop(thread.id, None)
            self.state.changed()
        return JsonAnswer({"id": thread.id, "object": "thread.deleted", "deleted": True})

    # -- messages --------------------------------------------------------------------------

    def create_message(self, request: RecordedRequest) -> Answer:
        thread = self._thread(request)
        with self.state.lock:
            active = self._active_run(thread)
        if active is not None:
            raise ApiFailure(
                400, f"Can't add messages to {thread.id} while a run {active.id} is active."
            )
        message = self._new_message(thread.id, _body(request))
        with self.state.lock:
            thread.messages.append(message)
            self.state.changed()
        return JsonAnswer(copy.deepcopy(message))

    def list_messages(self, request: RecordedRequest) -> Answer:
        thread = self._thread(request)
        run_id = request.query.get("run_id")
        with self.state.lock:
            found = [m for m in thread.messages if run_id in (None, m.get("run_id"))]
            return JsonAnswer(_page(copy.deepcopy(found), request))

    def get_message(self, request: RecordedRequest) -> Answer:
        _, message = self._message(request)
        with self.state.lock:
            return JsonAnswer(copy.deepcopy(message))

    def modify_message(self, request: RecordedRequest) -> Answer:
        body = _body(request)
        _, message = self._message(request)
        with self.state.lock:
            if "metadata" in body:
                message["metadata"] = dict(body.get("metadata") or {})
            self.state.changed()
            return JsonAnswer(copy.deepcopy(message))

    def delete_message(self, request: RecordedRequest) -> Answer:
        thread, message = self._message(request)
        with self.state.lock:
            thread.messages.remove(message)
            self.state.changed()
        deleted = {"id": message["id"], "object": "thread.message.deleted", "deleted": True}
        return JsonAnswer(deleted)

    # -- runs ------------------------------------------------------------------------------

    def create_run(self, request: RecordedRequest) -> Answer:
        return self._begin_run(self._thread(request), _body(request), request.query)

    def create_thread_and_run(self, request: RecordedRequest) -> Answer:
        body = _body(request)
        thread = self._new_thread(_mapping(body.get("thread")))
        if body.get("tool_resources") is not None:
            thread.tool_resources = self._tool_resources(body["tool_resources"])
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
        thread = self._thread(request)
        with self.state.lock:
            runs = [self.state.runs[i] for i in thread.run_ids if i in self.state.runs]
            for run in runs:
                run.expire_if_due()
            return JsonAnswer(_page([run.snapshot() for run in runs], request))

    def get_run(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        run.on_read(lambda r: self._start_step(r, streamed=False), self._drain)
        return _run_answer(run)

    def modify_run(self, request: RecordedRequest) -> Answer:
        body = _body(request)
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
        body = _body(request)
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
        return JsonAnswer(_page(run.step_snapshots(), request))

    def get_step(self, request: RecordedRequest) -> Answer:
        run = self._run(request)
        step_id = request.param("step_id")
        step = run.find_step(step_id)
        if step is None:
            raise _unknown("run step", step_id)
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
        assistant = self._assistant(str(body.get("assistant_id")))
        if body.get("model") is not None:
            self._check_model(body["model"])
        with self.state.lock:
            _check_no_active_run(self._active_run(thread), thread)
            extra = [self._new_message(thread.id, m) for m in body.get("additional_messages") or []]
            history, input_items = thread_items([*thread.messages, *extra])
        run = Run(
            self.state,
            run_resource(assistant, thread.id, body, self.settings.runs),
            thread,
            self.settings.runs,
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
        if body.get("stream") and not self.settings.runs.streaming:
            raise ApiFailure(
                400,
                f"{SCRIPTED_PREFIX} This server does not stream runs: leave out 'stream' and "
                "poll the run.",
                param="stream",
            )

    def _register(self, run: Run, extra: list[dict[str, Any]]) -> None:
        with self.state.lock:
            _check_no_active_run(self._active_run(run.thread), run.thread)
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
                run, context, next_reply(self.state, self.settings.default_reply, context), streamed
            ),
        )

    def _play(
        self, run: Run, context: ReplyContext, reply: Step | RunFailure, streamed: bool
    ) -> Play:
        """How the reply plays; an error it scripts is raised, tool misuse is recorded."""
        if isinstance(reply, HttpError):
            raise http_error_failure(reply)
        if isinstance(reply, ImageGeneration):
            raise self._no_image_generation(run)
        body = context.body
        if any(step.get("type") == "tool_calls" for step in run.step_snapshots()):
            # A forced tool_choice forces the run's first step; after the outputs the model is
            # free to answer, as with the other APIs (else a forced run could never end).
            body = {**body, "tool_choice": "auto"}
        self._check_tool_use(body, reply, run.thread_id)
        delay = 0.0
        if streamed and not isinstance(reply, RunFailure):
            own = reply.chunk_delay
            delay = own if own is not None else self.settings.chunk_delay
        if not isinstance(reply, FileSearch):
            return Play(reply, delay)
        found = find_tool(context.body, "file_search")
        tool = _mapping(found[1].get("file_search")) if found else {}
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

    def _no_image_generation(self, run: Run) -> ApiFailure:
        problem = (
            f"scripted reply to a run on {run.thread_id} is an ImageGeneration step, but the "
            "Assistants API has no image_generation tool: script it for POST /v1/responses only"
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
                self.settings.check_event(played)

    # -- objects and lookups ---------------------------------------------------------------

    def _new_thread(self, body: Mapping[str, Any]) -> AssistantThread:
        thread = AssistantThread(
            new_object_id("thread"),
            dict(body.get("metadata") or {}),
            self._tool_resources(body.get("tool_resources")),
        )
        thread.messages.extend(self._new_message(thread.id, m) for m in body.get("messages") or [])
        return thread

    def _new_message(self, thread_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A user's (or scripted assistant's) message, its files checked to exist."""
        content = _content_blocks(body.get("content"))
        images = [b["image_file"]["file_id"] for b in content if b["type"] == "image_file"]
        find_uploads(self.state, images, "content")
        attached = [_mapping(a) for a in body.get("attachments") or []]
        find_uploads(self.state, [a.get("file_id") for a in attached], "attachments")
        return {
            "id": new_object_id("msg"),
            "object": "thread.message",
            "created_at": int(time.time()),
            "thread_id": thread_id,
            "status": "completed",
            "incomplete_details": None,
            "completed_at": None,
            "incomplete_at": None,
            "role": body.get("role"),
            "content": content,
            "assistant_id": None,
            "run_id": None,
            "attachments": copy.deepcopy(attached),
            "metadata": dict(body.get("metadata") or {}),
        }

    def _tool_resources(self, raw: object) -> dict[str, Any]:
        """``tool_resources`` as stored: files and stores checked to exist, stores given inline
        (``vector_stores``) made and named by id."""
        resources = _mapping(raw)
        resolved: dict[str, Any] = {}
        code = resources.get("code_interpreter")
        if isinstance(code, Mapping):
            file_ids = [str(i) for i in code.get("file_ids") or []]
            find_uploads(self.state, file_ids, "tool_resources.code_interpreter.file_ids")
            resolved["code_interpreter"] = {"file_ids": file_ids}
        search = resources.get("file_search")
        if isinstance(search, Mapping):
            store_ids = [
                find_store(self.state, str(i)).id for i in search.get("vector_store_ids") or []
            ]
            store_ids += [
                self._inline_store(_mapping(s)).id for s in search.get("vector_stores") or []
            ]
            resolved["file_search"] = {"vector_store_ids": store_ids}
        return resolved

    def _inline_store(self, spec: Mapping[str, Any]) -> VectorStore:
        param = "tool_resources.file_search.vector_stores.file_ids"
        uploads = find_uploads(self.state, spec.get("file_ids") or [], param)
        store = make_vector_store(self.state, metadata=spec.get("metadata"))
        for upload in uploads:
            add_store_file(self.state, store, upload, 0)
        return store

    def _check_model(self, model: object) -> None:
        models = self.settings.models
        if models is not None and model not in models:
            raise ApiFailure(
                400,
                f"The requested model '{model}' does not exist.",
                param="model",
                code="model_not_found",
            )

    def _assistant(self, assistant_id: str) -> dict[str, Any]:
        with self.state.lock:
            assistant = self.state.assistants.get(assistant_id)
        if assistant is None:
            raise ApiFailure(404, f"No assistant found with id '{assistant_id}'.")
        return assistant

    def _thread(self, request: RecordedRequest) -> AssistantThread:
        thread_id = request.param("thread_id")
        with self.state.lock:
            thread = self.state.threads.get(thread_id)
        if thread is None:
            raise ApiFailure(404, f"No thread found with id '{thread_id}'.")
        return thread

    def _message(self, request: RecordedRequest) -> tuple[AssistantThread, dict[str, Any]]:
        thread = self._thread(request)
        message_id = request.param("message_id")
        with self.state.lock:
            message = thread.find(message_id)
        if message is None:
            raise _unknown("message", message_id)
        return thread, message

    def _run(self, request: RecordedRequest) -> Run:
        """The run the path names, in the thread it names; expired if it waited too long."""
        thread = self._thread(request)
        run_id = request.param("run_id")
        with self.state.lock:
            run = self.state.runs.get(run_id)
        if run is None or run.thread_id != thread.id:
            raise _unknown("run", run_id)
        run.expire_if_due()
        return run

    def _active_run(self, thread: AssistantThread) -> Run | None:
        """The thread's run that is not over yet (expiring those that waited too long)."""
        for run_id in thread.run_ids:
            run = self.state.runs.get(run_id)
            if run is not None:
                run.expire_if_due()
                if run.is_active:
                    return run
        return None


# -- helpers -------------------------------------------------------------------------------------


def _needs_beta(handler: Handler) -> Handler:
    """Wrap a handler so it answers only requests that carry ``OpenAI-Beta: assistants=v2``."""

    def checked(request: RecordedRequest) -> Answer:
        flags = [flag.strip() for flag in request.headers.get("openai-beta", "").split(",")]
        if "assistants=v2" not in flags:
            v1 = any(flag.startswith("assistants=") for flag in flags)
            raise ApiFailure(400, _V1_BETA if v1 else _MISSING_BETA, code="invalid_beta")
        return handler(request)

    return checked


def _streamed(run: Run, token: object, parts: Sequence[Iterable[Event]]) -> Events:
    """The stream's events, then ``done``; the stream lets go of the run once it stops."""
    try:
        for part in parts:
            yield from part
        yield DONE
    finally:
        run.stop_streaming(token)


def _run_answer(run: Run) -> JsonAnswer:
    """The run as it stands; an active one tells pollers (the SDK's ``poll``) to come back soon."""
    snapshot = run.snapshot()
    busy = snapshot["status"] in ("queued", "in_progress", "cancelling")
    headers = {"openai-poll-after-ms": str(POLL_AFTER_MS)} if busy else {}
    return JsonAnswer(snapshot, headers=headers)


def _tool_outputs(run: Run, raw: object) -> dict[str, str]:
    """The outputs, which must answer exactly the calls the run waits for."""
    status = run.status
    if status != "requires_action":
        raise ApiFailure(400, f'Runs in status "{status}" do not accept tool outputs.')
    given = [_mapping(output) for output in raw] if isinstance(raw, list) else []
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


def _content_blocks(content: object) -> list[dict[str, Any]]:
    """A message's ``content`` (a string or request parts) as the blocks the API returns."""
    if isinstance(content, str):
        return [_text_block(content)]
    blocks = []
    for part in content if isinstance(content, list) else []:
        part = _mapping(part)
        if part.get("type") == "text":
            blocks.append(_text_block(str(part.get("text", ""))))
        else:
            blocks.append(copy.deepcopy(dict(part)))
    return blocks


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": text, "annotations": []}}


def _store_ids(resources: object) -> list[str]:
    search = _mapping(_mapping(resources).get("file_search"))
    return [str(i) for i in search.get("vector_store_ids") or []]


def _unknown(kind: str, ident: str) -> ApiFailure:
    return scripted_failure(404, f"No {kind} found with id '{ident}'.")


def _page(resources: list[dict[str, Any]], request: RecordedRequest) -> dict[str, Any]:
    return list_page(resources, request.query, default_limit=20, max_limit=100)


def _body(request: RecordedRequest) -> Mapping[str, Any]:
    return _mapping(request.body)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _or(value: object, default: object) -> object:
    return default if value is None else value
