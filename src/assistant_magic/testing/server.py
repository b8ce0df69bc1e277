"""``ScriptedServer``: an OpenAI-compatible HTTP server on loopback that answers from a script.

Tests point the real openai SDK at ``server.base_url`` and get real HTTP: keep-alive JSON answers
with Content-Length, SSE streams with chunked transfer encoding, raw file downloads, multipart
uploads, OpenAI's error bodies, retry headers. With the OpenAPI spec available, every request
body, JSON answer and stream event is checked against it and mismatches collect in
``validation_errors``.

Each request goes through one pipeline (``pipeline``): record -> authenticate -> route ->
validate the body -> the API family's handler -> validate what goes out. The sockets are
``http_server``'s.

Three dialects answer from the same script: the Responses API (``POST /v1/responses``, with
conversations), Chat Completions (``POST /v1/chat/completions``, the whole thread in each
request's ``messages``; see ``chat``) and the legacy Assistants API (``/v1/assistants``,
``/v1/threads``: each step of a run takes a reply; see ``assistants``). Files, containers, vector
stores and models are in ``resources``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .assistants.api import AssistantsApi
from .assistants.runs import RunSettings
from .chat.api import AutoToolStreams, ChatApi
from .http_server import LoopbackServer
from .openapi import TrafficValidator, traffic_validator
from .pipeline import Pipeline
from .playback import PlaybackSettings
from .resources.containers import ContainersApi
from .resources.files import FilesApi, store_upload
from .resources.models import ModelsApi
from .resources.vector_stores import VectorStoresApi, add_store_file, new_vector_store
from .responses.api import ResponsesApi
from .responses.conversations import ConversationsApi
from .routing import Router
from .script import REPLY_TYPES, ReplyFactory, ScriptItem, echo
from .state import Container, ServerState, StoredFile, VectorStore
from .wire import Answer, RecordedRequest

DEFAULT_MODELS = ("gpt-5.4-mini", "gpt-5.4")


class ScriptedServer:
    """A scripted OpenAI-compatible server; use as a context manager or ``start()``/``stop()``.

    ``api_key``: the bearer key every request must carry (None: no auth).
    ``models``: model ids accepted by ``POST /v1/responses`` (None: any).
    ``openapi``: path to OpenAI's openapi.json; else ``$ASSISTANT_MAGIC_OPENAPI``; else no checks.
    Checking needs the ``[test]`` extra (jsonschema); without it, a one-line
    ``ValidationUnavailableWarning`` says so and the server runs unchecked.
    ``default_reply``: answers when the script is empty (default: echo the user's last text).
    ``chunk_delay``: seconds before each streamed delta, unless a reply sets its own.
    ``port``: 0 picks a free port.
    ``vector_store_file_polls``: how many reads a file added to a vector store reports
    ``in_progress`` before it is ``completed`` (0: at once); see ``resources.vector_stores``.
    ``chat_only``: speak only Chat Completions (and files, models, ...), answering 404 on
    ``/v1/responses``, ``/v1/conversations``, ``/v1/assistants`` and ``/v1/threads`` as llama.cpp's
    server or Ollama do.
    ``assistants``: speak the Assistants API (False: 404 on ``/v1/assistants`` and ``/v1/threads``).
    ``run_polls_per_state``: answers each server-side state of a run nobody streams (queued,
    in_progress, cancelling) lasts; the next read moves it on (see ``assistants.runs``).
    ``run_expires_after``: seconds a run may wait on its client (``requires_action``, or a stream
    that hung up) before it expires on its next read (None: never).
    ``run_streaming``: False refuses ``stream: true`` on runs (400, ``param: "stream"``), as
    servers that reimplement the Assistants API without streaming do.
    ``chat_auto_tool_streams``: how a streamed ``POST /v1/chat/completions`` that offers tools
    with ``tool_choice: "auto"`` is answered. "streamed" (default): like any other. "empty" or
    "cut": the 200's stream ends at once before any chunk (the SDK reads an empty stream), or its
    connection closes before any chunk (the SDK's transport raises), and the request takes no
    scripted reply; unstreamed requests are answered as usual. This is llama-cpp-python's server
    with ``--chat_format chatml-function-calling``, which raises "Automatic streaming tool choice
    is not supported" once the model picks a tool: it ends the body empty, then closes the
    connection it had called keep-alive ("empty" plays the first part, "cut" the second).
    """

    def __init__(
        self,
        *,
        api_key: str | None = "sk-test",
        models: Iterable[str] | None = DEFAULT_MODELS,
        openapi: str | os.PathLike[str] | None = None,
        default_reply: ReplyFactory = echo,
        chunk_delay: float = 0.0,
        port: int = 0,
        vector_store_file_polls: int = 0,
        chat_only: bool = False,
        assistants: bool = True,
        run_polls_per_state: int = 1,
        run_expires_after: float | None = None,
        run_streaming: bool = True,
        chat_auto_tool_streams: AutoToolStreams = "streamed",
    ) -> None:
        self.models = frozenset(models) if models is not None else None
        self._requested_port = port
        self._state = ServerState()
        router = Router()
        self._pipeline = Pipeline(self._state, router, traffic_validator(openapi), api_key)
        self.chat_only = chat_only
        playback = PlaybackSettings(
            self.models, chunk_delay, default_reply, self._pipeline.check_event
        )
        if not chat_only:
            ResponsesApi(self._state, playback).register(router)
            ConversationsApi(self._state).register(router)
        ChatApi(self._state, playback, auto_tool_streams=chat_auto_tool_streams).register(router)
        self._run_settings = RunSettings(run_polls_per_state, run_expires_after, run_streaming)
        if assistants and not chat_only:
            run_playback = dataclasses.replace(
                playback, check_event=self._pipeline.check_assistant_event
            )
            AssistantsApi(self._state, run_playback, self._run_settings).register(router)
        ModelsApi(self.models).register(router)
        FilesApi(self._state).register(router)
        ContainersApi(self._state).register(router)
        self._vector_stores_api = VectorStoresApi(self._state, file_polls=vector_store_file_polls)
        self._vector_stores_api.register(router)
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None
        #: Called on the request's thread just before each answer, stream, and stream event goes
        #: out, with what it is ("POST /v1/responses 200", "POST /v1/responses event
        #: response.created"): a test can interrupt its client at that exact moment.
        self.before_send: Callable[[str], None] | None = None

    @property
    def api_key(self) -> str | None:
        """The bearer key every request must carry (None: no auth); may be changed."""
        return self._pipeline.api_key

    @api_key.setter
    def api_key(self, key: str | None) -> None:
        self._pipeline.api_key = key

    @property
    def validator(self) -> TrafficValidator | None:
        """The OpenAPI checks run on all traffic (None: unchecked)."""
        return self._pipeline.validator

    def respond(self, request: RecordedRequest, *, unparsable: bool = False) -> Answer:
        """Everything between reading a request and writing the answer (see ``pipeline``)."""
        return self._pipeline.respond(request, unparsable=unparsable, before_send=self.before_send)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        self._httpd = LoopbackServer(("127.0.0.1", self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-openai-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        with self._state.lock:
            live = list(self._state.live)
        for turn in live:
            turn.cancel()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and records -------------------------------------------------------------

    def script(self, *replies: ScriptItem) -> None:
        """Queue replies; each accepted ``POST /v1/responses`` or ``POST /v1/chat/completions``,
        and each model step of an Assistants API run, takes the next one."""
        for reply in replies:
            if not isinstance(reply, REPLY_TYPES) and not callable(reply):
                raise TypeError(
                    f"cannot script {reply!r}: use Text, ToolCalls, FunctionCall, "
                    "CodeInterpreter, ImageGeneration, FileSearch, HttpError, RunFailure or a "
                    "callable"
                )
        with self._state.lock:
            self._state.script.extend(replies)

    def clear_script(self) -> None:
        """Drop the replies not yet played (an interrupted turn leaves some)."""
        with self._state.lock:
            self._state.script.clear()

    @property
    def unused_replies(self) -> list[ScriptItem]:
        with self._state.lock:
            return list(self._state.script)

    def reset(self) -> None:
        """Forget the script, the records and every stored object (vector stores too)."""
        self._state.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests for ``method path`` (``/v1/responses`` or ``/responses``)."""
        full = path if path.startswith("/v1/") else "/v1" + path
        return [r for r in self.requests if r.method == method.upper() and r.path == full]

    def chat_messages(self, index: int = -1) -> list[dict[str, Any]]:
        """The ``messages`` of the ``index``-th ``POST /v1/chat/completions`` request (counting
        every one recorded, rejected or retried ones too; negative counts from the end), as
        sent: the history the client rebuilt for that request."""
        chats = self.requests_to("POST", "/chat/completions")
        if not chats:
            raise IndexError("no POST /v1/chat/completions request was recorded")
        body = chats[index].body
        messages = body.get("messages") if isinstance(body, dict) else None
        return json.loads(json.dumps(messages)) if isinstance(messages, list) else []

    @property
    def validation_errors(self) -> list[str]:
        with self._state.lock:
            return list(self._state.validation_errors)

    @property
    def tool_outputs(self) -> list[tuple[str, Any]]:
        """``(call_id, output)`` of every ``function_call_output`` accepted, in arrival order.

        Counted from ``POST /v1/responses`` input that passed the API's rules, from items added
        to conversations, and from the trailing ``role: "tool"`` messages of accepted
        ``POST /v1/chat/completions`` requests (each once, though the client re-sends them with
        every later request); ``output`` is as sent (a string, or a list of content parts).
        """
        with self._state.lock:
            return list(self._state.tool_outputs)

    @property
    def rejections(self) -> list[str]:
        """Every request answered with an error status, as "POST /v1/responses 400: message",
        in arrival order (scripted ``HttpError``s too)."""
        with self._state.lock:
            return list(self._state.rejections)

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        """Block until no response is still generating: one whose client hung up has ended
        (the server notices a hang-up at its next write). An Assistants run waits for its
        client instead, as on the real API, so it does not count."""
        self._wait(lambda: not self._state.live, timeout, "the responses in progress to end")

    @property
    def disconnects(self) -> list[str]:
        """Ids of responses (or chat completions, or runs) whose streaming client hung up
        mid-stream."""
        with self._state.lock:
            return list(self._state.disconnects)

    def response(self, response_id: str) -> dict[str, Any]:
        """The stored Response object as it stands now."""
        with self._state.lock:
            turn = self._state.responses.get(response_id)
        if turn is None:
            raise KeyError(response_id)
        return turn.snapshot()

    @property
    def files(self) -> list[StoredFile]:
        """Files uploaded to ``POST /v1/files`` (or added with :meth:`add_file`) and not deleted,
        oldest first: ``filename``, ``purpose``, ``data`` (the bytes) and more."""
        with self._state.lock:
            return list(self._state.files.values())

    def add_file(
        self,
        data: bytes,
        *,
        filename: str,
        purpose: str = "user_data",
        content_type: str | None = None,
    ) -> StoredFile:
        """Store a file as if the client had uploaded it (for inputs that name a ``file_id``)."""
        return store_upload(
            self._state, data, filename=filename, purpose=purpose, content_type=content_type
        )

    @property
    def containers(self) -> list[Container]:
        """Code interpreter containers (made by calls or ``POST /v1/containers``), oldest first;
        each a copy whose ``files`` map ids to ``ContainerFile`` (``path``, ``data``, ...)."""
        with self._state.lock:
            return [container.snapshot() for container in self._state.containers.values()]

    @property
    def vector_stores(self) -> list[VectorStore]:
        """Vector stores (made by ``POST /v1/vector_stores`` or :meth:`add_vector_store`), oldest
        first; each a copy whose ``files`` map file ids to ``VectorStoreFile`` (``file``, the
        upload; ``status``; ``attributes``); its ``searchable_files`` are the completed ones."""
        with self._state.lock:
            return [store.snapshot() for store in self._state.vector_stores.values()]

    @property
    def vector_store_file_polls(self) -> int:
        """Reads a newly added vector store file stays ``in_progress`` for; may be changed."""
        return self._vector_stores_api.file_polls

    @vector_store_file_polls.setter
    def vector_store_file_polls(self, polls: int) -> None:
        self._vector_stores_api.file_polls = polls

    def add_vector_store(
        self,
        *files: StoredFile,
        name: str = "",
        metadata: dict[str, str] | None = None,
        polls: int = 0,
    ) -> VectorStore:
        """Make a vector store holding ``files`` (from :meth:`add_file` or :attr:`files`) as if
        the client had; ``polls`` as ``vector_store_file_polls`` (0: searchable at once)."""
        store = new_vector_store(self._state, name=name, metadata=metadata)
        with self._state.lock:
            for upload in files:
                add_store_file(self._state, store, upload, polls)
            return store.snapshot()

    @property
    def assistants(self) -> list[dict[str, Any]]:
        """Assistants API assistants not deleted, oldest first (copies of the objects)."""
        with self._state.lock:
            return copy.deepcopy(list(self._state.assistants.values()))

    @property
    def threads(self) -> list[dict[str, Any]]:
        """Assistants API threads not deleted, oldest first (the ``thread`` objects)."""
        with self._state.lock:
            return [thread.resource() for thread in self._state.threads.values()]

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's ``thread.message`` objects, oldest first, as they stand now."""
        with self._state.lock:
            return copy.deepcopy(self._state.threads[thread_id].messages)

    def runs(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's runs, oldest first, as they stand now (reading them moves none on)."""
        with self._state.lock:
            thread = self._state.threads[thread_id]
            return [self._state.runs[run_id].snapshot() for run_id in thread.run_ids]

    def run(self, run_id: str) -> dict[str, Any]:
        """The ``thread.run`` object as it stands now (reading it moves nothing on)."""
        with self._state.lock:
            return self._state.runs[run_id].snapshot()

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        """The run's ``thread.run.step`` objects, oldest first."""
        with self._state.lock:
            return self._state.runs[run_id].step_snapshots()

    def wait_for_run_status(self, run_id: str, *statuses: str, timeout: float = 5.0) -> str:
        """Block until the run reaches one of ``statuses`` (by a stream, or by the client's
        reads: waiting reads nothing); returns it."""

        def reached() -> bool:
            run = self._state.runs.get(run_id)
            return run is not None and run.status in statuses

        self._wait(reached, timeout, f"{run_id} to reach {statuses}")
        return str(self.run(run_id)["status"])

    @property
    def run_polls_per_state(self) -> int:
        """Answers each server-side state of a polled run lasts; may be changed."""
        return self._run_settings.polls_per_state

    @run_polls_per_state.setter
    def run_polls_per_state(self, polls: int) -> None:
        self._run_settings.polls_per_state = polls

    @property
    def run_expires_after(self) -> float | None:
        """Seconds a run may wait on its client before it expires; may be changed."""
        return self._run_settings.expires_after

    @run_expires_after.setter
    def run_expires_after(self, seconds: float | None) -> None:
        self._run_settings.expires_after = seconds

    def conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._state.lock:
            return json.loads(json.dumps(self._state.conversations[conversation_id].items))

    def wait_for_disconnect(self, timeout: float = 5.0) -> str:
        """Block until a streaming client hung up; the id of the first such response."""
        self._wait(lambda: bool(self._state.disconnects), timeout, "a client disconnect")
        return self.disconnects[0]

    def wait_for_status(self, response_id: str, *statuses: str, timeout: float = 5.0) -> str:
        """Block until the stored response reaches one of ``statuses``; returns it."""

        def reached() -> bool:
            turn = self._state.responses.get(response_id)
            return turn is not None and turn.status in statuses

        self._wait(reached, timeout, f"{response_id} to reach {statuses}")
        return str(self.response(response_id)["status"])

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self._state.lock:
            if not self._state.lock.wait_for(predicate, timeout):
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
