"""The Assistants API (v2): assistants, threads and messages kept in memory (runs: ``run_api``).

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
* a ``response_format`` JSON schema (creating or modifying an assistant, or a run's override)
  has a fit name and, with ``strict: true``, a schema fit for strict mode (see ``structured``);
* files and vector stores that ``tool_resources``, attachments and ``image_file`` blocks name must
  exist: 404 ``Files [<ids>] were not found`` / ``No vector store found with id '<id>'.`` (as the
  Vector Stores API words them; unverified here).

Deleting a thread with an active run is allowed (the real rule is unknown). Runs and their steps
are served by ``run_api``; a run's life is in ``runs``, its events in ``events``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from ..crud import Collection, find_listed, list_page
from ..playback import PlaybackSettings
from ..resources.vector_stores import add_store_file, find_store, find_uploads, new_vector_store
from ..routing import Guarded, Handler, Routes
from ..state import AssistantThread, ServerState, VectorStore
from ..structured import check_format
from ..wire import Answer, ApiFailure, JsonAnswer, RecordedRequest, json_object
from .objects import content_blocks, new_object_id, thread_message, unknown_object
from .run_api import RunsApi
from .runs import RunSettings, active_run

_MISSING_BETA = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by "
    "setting the header 'OpenAI-Beta: assistants=v2'."
)
_V1_BETA = (
    "The v1 Assistants API has been deprecated. Please try again by setting the header "
    "'OpenAI-Beta: assistants=v2'. See the migration guide for more information: "
    "https://platform.openai.com/docs/assistants/migration."
)
_MESSAGES = "/threads/{thread_id}/messages"


class AssistantsApi:
    """``playback``: its ``check_event`` validates an Assistants API stream event, also those
    played without a client reading them (polled runs). ``runs``: how runs behave."""

    def __init__(self, state: ServerState, playback: PlaybackSettings, runs: RunSettings) -> None:
        self.state = state
        self.playback = playback
        self.assistants = Collection(
            state, "/assistants/{assistant_id}", state.assistants, _no_assistant, copy.deepcopy
        )
        self.threads = Collection(
            state, "/threads/{thread_id}", state.threads, _no_thread, AssistantThread.resource
        )
        self.runs = RunsApi(self, runs)

    def register(self, routes: Routes) -> None:
        beta = Guarded(routes, _needs_beta)
        self.assistants.register(
            beta,
            create=self.create_assistant,
            listing=self.list_assistants,
            update=self.modify_assistant,
        )
        self.threads.register(beta, create=self.create_thread, update=self.modify_thread)
        beta.add("POST", _MESSAGES, self.create_message)
        beta.add("GET", _MESSAGES, self.list_messages)
        beta.add("GET", f"{_MESSAGES}/{{message_id}}", self.get_message)
        beta.add("POST", f"{_MESSAGES}/{{message_id}}", self.modify_message)
        beta.add("DELETE", f"{_MESSAGES}/{{message_id}}", self.delete_message)
        self.runs.register(beta)

    # -- assistants ------------------------------------------------------------------------

    def create_assistant(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        self.check_model(body.get("model"))
        check_format(body)
        assistant: dict[str, Any] = {
            "id": new_object_id("asst"),
            "object": "assistant",
            "created_at": int(time.time()),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": body.get("model"),
            "instructions": body.get("instructions"),
            "tools": copy.deepcopy(body.get("tools") or []),
            "tool_resources": self.tool_resources(body.get("tool_resources")),
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
        return JsonAnswer(list_page(found, request.query))

    def modify_assistant(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        assistant = self.assistants.find(request)
        if "model" in body:
            self.check_model(body["model"])
        check_format(body)
        changes = {key: copy.deepcopy(value) for key, value in body.items()}
        if "tool_resources" in body:
            changes["tool_resources"] = self.tool_resources(body["tool_resources"])
        with self.state.lock:
            assistant.update(changes)
            self.state.changed()
            return JsonAnswer(copy.deepcopy(assistant))

    # -- threads ---------------------------------------------------------------------------

    def create_thread(self, request: RecordedRequest) -> Answer:
        thread = self.new_thread(json_object(request.body))
        with self.state.lock:
            self.state.threads[thread.id] = thread
            self.state.changed()
            return JsonAnswer(thread.resource())

    def modify_thread(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        thread = self.threads.find(request)
        resources = self.tool_resources(body.get("tool_resources"))
        with self.state.lock:
            if "metadata" in body:
                thread.metadata = dict(body.get("metadata") or {})
            if "tool_resources" in body:
                thread.tool_resources = resources
            self.state.changed()
            return JsonAnswer(thread.resource())

    # -- messages: a list on their thread, oldest first ------------------------------------

    def create_message(self, request: RecordedRequest) -> Answer:
        thread = self.threads.find(request)
        with self.state.lock:
            active = active_run(self.state, thread)
        if active is not None:
            raise ApiFailure(
                400, f"Can't add messages to {thread.id} while a run {active.id} is active."
            )
        message = self.new_message(thread.id, json_object(request.body))
        with self.state.lock:
            thread.messages.append(message)
            self.state.changed()
        return JsonAnswer(copy.deepcopy(message))

    def list_messages(self, request: RecordedRequest) -> Answer:
        thread = self.threads.find(request)
        run_id = request.query.get("run_id")
        with self.state.lock:
            found = [m for m in thread.messages if run_id in (None, m.get("run_id"))]
            return JsonAnswer(list_page(copy.deepcopy(found), request.query))

    def get_message(self, request: RecordedRequest) -> Answer:
        _, message = self._message(request)
        with self.state.lock:
            return JsonAnswer(copy.deepcopy(message))

    def modify_message(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
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

    def _message(self, request: RecordedRequest) -> tuple[AssistantThread, dict[str, Any]]:
        thread = self.threads.find(request)
        message_id = request.param("message_id")
        missing = unknown_object("message", message_id)
        return thread, find_listed(self.state, thread.messages, message_id, missing)

    # -- what runs share: objects made with their references checked -----------------------

    def assistant(self, assistant_id: str) -> dict[str, Any]:
        """The assistant a run's body names, or the API's 404."""
        with self.state.lock:
            assistant = self.state.assistants.get(assistant_id)
        if assistant is None:
            raise _unknown_assistant(assistant_id)
        return assistant

    def new_thread(self, body: Mapping[str, Any]) -> AssistantThread:
        thread = AssistantThread(
            new_object_id("thread"),
            dict(body.get("metadata") or {}),
            self.tool_resources(body.get("tool_resources")),
        )
        thread.messages.extend(self.new_message(thread.id, m) for m in body.get("messages") or [])
        return thread

    def new_message(self, thread_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A user's (or scripted assistant's) message, its files checked to exist."""
        content = content_blocks(body.get("content"))
        images = [b["image_file"]["file_id"] for b in content if b["type"] == "image_file"]
        find_uploads(self.state, images, "content")
        attached = [json_object(a) for a in body.get("attachments") or []]
        find_uploads(self.state, [a.get("file_id") for a in attached], "attachments")
        return thread_message(
            thread_id,
            body.get("role"),
            content,
            attachments=attached,
            metadata=body.get("metadata"),
        )

    def tool_resources(self, raw: object) -> dict[str, Any]:
        """``tool_resources`` as stored: files and stores checked to exist, stores given inline
        (``vector_stores``) made and named by id."""
        resources = json_object(raw)
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
                self._inline_store(json_object(s)).id for s in search.get("vector_stores") or []
            ]
            resolved["file_search"] = {"vector_store_ids": store_ids}
        return resolved

    def _inline_store(self, spec: Mapping[str, Any]) -> VectorStore:
        param = "tool_resources.file_search.vector_stores.file_ids"
        uploads = find_uploads(self.state, spec.get("file_ids") or [], param)
        store = new_vector_store(self.state, metadata=spec.get("metadata"))
        for upload in uploads:
            add_store_file(self.state, store, upload, 0)
        return store

    def check_model(self, model: object) -> None:
        models = self.playback.models
        if models is not None and model not in models:
            raise ApiFailure(
                400,
                f"The requested model '{model}' does not exist.",
                param="model",
                code="model_not_found",
            )


def _needs_beta(handler: Handler) -> Handler:
    """Wrap a handler so it answers only requests that carry ``OpenAI-Beta: assistants=v2``."""

    def checked(request: RecordedRequest) -> Answer:
        flags = [flag.strip() for flag in request.headers.get("openai-beta", "").split(",")]
        if "assistants=v2" not in flags:
            v1 = any(flag.startswith("assistants=") for flag in flags)
            raise ApiFailure(400, _V1_BETA if v1 else _MISSING_BETA, code="invalid_beta")
        return handler(request)

    return checked


def _no_assistant(request: RecordedRequest) -> ApiFailure:
    return _unknown_assistant(request.param("assistant_id"))


def _unknown_assistant(assistant_id: str) -> ApiFailure:
    return ApiFailure(404, f"No assistant found with id '{assistant_id}'.")


def _no_thread(request: RecordedRequest) -> ApiFailure:
    return ApiFailure(404, f"No thread found with id '{request.param('thread_id')}'.")


def _or(value: object, default: object) -> object:
    return default if value is None else value
