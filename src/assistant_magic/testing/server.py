"""``ScriptedServer``: an OpenAI-compatible HTTP server on loopback that answers from a script.

Tests point the real openai SDK at ``server.base_url`` and get real HTTP: keep-alive JSON answers
with Content-Length, SSE streams with chunked transfer encoding, raw file downloads, multipart
uploads, OpenAI's error bodies, retry headers. With the OpenAPI spec available, every request
body, JSON answer and stream event is checked against it and mismatches collect in
``validation_errors``.

Each request goes through one pipeline: record -> authenticate -> route -> validate the body ->
the API family's handler -> validate what goes out.

Three dialects answer from the same script: the Responses API (``POST /v1/responses``, with
conversations), Chat Completions (``POST /v1/chat/completions``, the whole thread in each
request's ``messages``; see ``chat_api``) and the legacy Assistants API (``/v1/assistants``,
``/v1/threads``: each step of a run takes a reply; see ``assistants_api`` and ``runs``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import json
import os
import secrets
import socket
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .assistants_api import AssistantsApi, AssistantsSettings
from .chat_api import AutoToolStreams, ChatApi
from .containers_api import ContainersApi
from .conversations_api import ConversationsApi
from .files_api import FilesApi, store_upload
from .models_api import ModelsApi
from .multipart import MultipartForm, is_multipart, parse_multipart
from .openapi import traffic_validator
from .responses_api import ResponsesApi, ResponsesSettings
from .routing import Route, Router
from .runs import RunSettings
from .script import REPLY_TYPES, ReplyFactory, ScriptItem, echo
from .sse import ClientDisconnected, HangUp, SseWriter, encode_json
from .state import Container, ServerState, StoredFile, VectorStore
from .vector_stores_api import VectorStoresApi, add_store_file, new_vector_store
from .wire import (
    Answer,
    ApiFailure,
    BytesAnswer,
    Dropped,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    scripted_failure,
)

DEFAULT_MODELS = ("gpt-5.4-mini", "gpt-5.4")

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
    "not valid JSON. If you have trouble figuring out how to fix this, please contact us through "
    "our help center at help.openai.com.)"
)


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
    ``in_progress`` before it is ``completed`` (0: at once); see ``vector_stores_api``.
    ``chat_only``: speak only Chat Completions (and files, models, ...), answering 404 on
    ``/v1/responses``, ``/v1/conversations``, ``/v1/assistants`` and ``/v1/threads`` as llama.cpp's
    server or Ollama do.
    ``assistants``: speak the Assistants API (False: 404 on ``/v1/assistants`` and ``/v1/threads``).
    ``run_polls_per_state``: answers each server-side state of a run nobody streams (queued,
    in_progress, cancelling) lasts; the next read moves it on (see ``runs``).
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
        self.api_key = api_key
        self.models = frozenset(models) if models is not None else None
        self._requested_port = port
        self._state = ServerState()
        self.validator = traffic_validator(openapi)
        self._router = Router()
        self.chat_only = chat_only
        settings = ResponsesSettings(self.models, chunk_delay, default_reply, self._check_event)
        if not chat_only:
            ResponsesApi(self._state, settings).register(self._router)
            ConversationsApi(self._state).register(self._router)
        ChatApi(self._state, settings, auto_tool_streams=chat_auto_tool_streams).register(
            self._router
        )
        self._run_settings = RunSettings(run_polls_per_state, run_expires_after, run_streaming)
        if assistants and not chat_only:
            assistants_settings = AssistantsSettings(
                self.models,
                chunk_delay,
                default_reply,
                self._check_assistant_event,
                self._run_settings,
            )
            AssistantsApi(self._state, assistants_settings).register(self._router)
        ModelsApi(self.models).register(self._router)
        FilesApi(self._state).register(self._router)
        ContainersApi(self._state).register(self._router)
        self._vector_stores_api = VectorStoresApi(self._state, file_polls=vector_store_file_polls)
        self._vector_stores_api.register(self._router)
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        #: Called on the request's thread just before each answer, stream, and stream event goes
        #: out, with what it is ("POST /v1/responses 200", "POST /v1/responses event
        #: response.created"): a test can interrupt its client at that exact moment.
        self.before_send: Callable[[str], None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        if self._httpd is not None:
            return self
        self._httpd = _HttpServer(("127.0.0.1", self._requested_port), self)
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

    # -- the request pipeline --------------------------------------------------------------

    def respond(self, request: RecordedRequest, *, unparsable: bool = False) -> Answer:
        """Everything between reading a request and writing the answer."""
        with self._state.lock:
            self._state.requests.append(request)
            self._state.changed()
        path = request.path.removeprefix("/v1") if request.path.startswith("/v1/") else None
        try:
            self._authenticate(request.headers.get("authorization"))
            if path is None:
                raise ApiFailure(404, f"Invalid URL ({request.method} {request.path})")
            route, params = self._router.resolve(request.method, path)
            if unparsable:
                raise ApiFailure(400, _BAD_JSON)
            self._check_request(request.method, path, request.body, route)
            answer = route.handler(dataclasses.replace(request, params=params))
        except ApiFailure as failure:
            answer = failure.answer()
        except Exception as exc:  # a bug here must fail the test, not be retried by the SDK
            self._record([f"server bug on {request.method} {request.path}: {exc!r}"])
            answer = ApiFailure(
                500, f"{exc!r}", type="server_error", headers={"x-should-retry": "false"}
            ).answer()
        answer = self._validated(request, path, answer)
        self._note_rejection(request, answer)
        return self._tapped(request, answer)

    def _validated(self, request: RecordedRequest, path: str | None, answer: Answer) -> Answer:
        if isinstance(answer, EventStream) and answer.dialect == "chat" and path is not None:
            chunks = self._checked_chunks(request.method, path, answer.events)
            return EventStream(chunks, answer.on_disconnect, answer.dialect)
        if isinstance(answer, EventStream) and answer.dialect == "assistants":
            events = self._checked_assistant_events(answer.events)
            return EventStream(events, answer.on_disconnect, answer.dialect)
        if isinstance(answer, EventStream):
            return EventStream(self._checked(answer.events), answer.on_disconnect)
        if isinstance(answer, JsonAnswer) and self.validator is not None and path is not None:
            self._record(
                self.validator.answer_violations(request.method, path, answer.status, answer.body)
            )
        return answer

    def _note_rejection(self, request: RecordedRequest, answer: Answer) -> None:
        if isinstance(answer, JsonAnswer) and answer.status >= 400:
            error = answer.body.get("error") if isinstance(answer.body, dict) else None
            message = error.get("message") if isinstance(error, dict) else answer.body
            with self._state.lock:
                self._state.rejections.append(
                    f"{request.method} {request.path} {answer.status}: {message}"
                )
                self._state.changed()

    def _tapped(self, request: RecordedRequest, answer: Answer) -> Answer:
        """The answer, with `before_send` called before it and each of its events goes out."""
        tap = self.before_send
        if tap is None:
            return answer
        where = f"{request.method} {request.path}"
        if not isinstance(answer, EventStream):
            tap(f"{where} {getattr(answer, 'status', 'dropped')}")
            return answer
        tap(f"{where} stream")

        def events() -> Generator[Event, None, None]:
            try:
                for event in answer.events:
                    tap(f"{where} event {event.get('type') or event.get('event') or 'chunk'}")
                    yield event
            finally:
                answer.events.close()

        return EventStream(events(), answer.on_disconnect, answer.dialect)

    def _authenticate(self, authorization: str | None) -> None:
        if self.api_key is None:
            return
        if not authorization:
            raise ApiFailure(401, _MISSING_KEY)
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise ApiFailure(
                401,
                f"Incorrect API key provided: {mask_key(key.strip())}. You can find your API key "
                "at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _check_request(self, method: str, path: str, body: object, route: Route) -> None:
        if self.validator is None:
            return
        if isinstance(body, MultipartForm):
            problems = self.validator.form_violations(method, path, body.fields, body.files)
            if problems:
                self._record(problems)
                raise scripted_failure(400, problems[0])
            return
        unknown = self.validator.unknown_parameters(method, path, body)
        if unknown:
            self._record(
                [f"{method} /v1{path} request body: unknown parameter {name!r}" for name in unknown]
            )
            noun = "argument" if len(unknown) == 1 else "arguments"
            raise ApiFailure(400, f"Unrecognized request {noun} supplied: {', '.join(unknown)}")
        problems = self.validator.request_violations(method, path, body)
        if problems:
            self._record(problems)
            known = route.rejection(body) if route.rejection is not None else None
            if known is not None:
                raise known  # the real API's words for this one
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise scripted_failure(400, problems[0] + more)

    def _checked(self, events: Generator[Event, None, None]) -> Generator[Event, None, None]:
        for event in events:
            self._check_event(event)
            yield event

    def _checked_chunks(
        self, method: str, path: str, chunks: Generator[Event, None, None]
    ) -> Generator[Event, None, None]:
        for number, chunk in enumerate(chunks):
            if self.validator is not None:
                self._record(self.validator.chunk_violations(method, path, chunk, number))
            yield chunk

    def _check_event(self, event: Event) -> None:
        if self.validator is not None:
            self._record(self.validator.event_violations(event))

    def _checked_assistant_events(
        self, events: Generator[Event, None, None]
    ) -> Generator[Event, None, None]:
        for event in events:
            self._check_assistant_event(event)
            yield event

    def _check_assistant_event(self, event: Event) -> None:
        if self.validator is not None:
            self._record(self.validator.assistant_event_violations(event))

    def _record(self, messages: list[str]) -> None:
        self._state.report(messages)


def mask_key(key: str) -> str:
    """Show a key the way the API's 401 does: a few characters at each end."""
    if len(key) < 8:
        return "*" * len(key)
    return key[:5] + "*" * max(3, len(key) - 7) + key[-2:]


class _HttpServer(ThreadingHTTPServer):
    """Tracks open connections so ``stop()`` can end idle keep-alive ones at once."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: ScriptedServer) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up an idle keep-alive connection is normal life, not a server bug.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers, body and each SSE chunk are separate writes; with Nagle's algorithm the second
    # waits for the client's delayed ACK, adding ~40 ms to every exchange.
    disable_nagle_algorithm = True
    server: _HttpServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read server.requests, not stderr

    def _serve(self) -> None:
        received = time.monotonic()
        raw = self._read_body()
        content_type = self.headers.get("Content-Type")
        if is_multipart(content_type):
            body = parse_multipart(str(content_type), raw)
            unparsable = body is None
        else:
            body, unparsable = _parse_json(raw)
        url = urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            received_at=received,
        )
        answer = self.server.app.respond(request, unparsable=unparsable)
        try:
            if isinstance(answer, JsonAnswer):
                self._send_json(answer)
            elif isinstance(answer, BytesAnswer):
                self._send_bytes(answer)
            elif isinstance(answer, Dropped):
                self.close_connection = True  # not a byte: the client sees the connection close
            else:
                self._send_stream(answer)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                self.rfile.readline()
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def _common_headers(self, content_type: str) -> None:
        self.send_header("Content-Type", content_type)
        self.send_header("x-request-id", f"req_{secrets.token_hex(16)}")
        self.send_header("openai-version", "2020-10-01")

    def _send_json(self, answer: JsonAnswer) -> None:
        payload = encode_json(answer.body)
        self.send_response(answer.status)
        self._common_headers("application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_bytes(self, answer: BytesAnswer) -> None:
        self.send_response(answer.status)
        self._common_headers(answer.content_type)
        self.send_header("Content-Length", str(len(answer.content)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer.content)

    def _send_stream(self, stream: EventStream) -> None:
        writer = SseWriter(self.wfile)
        try:
            self.send_response(200)
            self._common_headers("text/event-stream; charset=utf-8")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if stream.dialect == "chat":
                self._send_chunks(writer, stream)
            elif stream.dialect == "assistants":
                for event in stream.events:
                    writer.send_named(event["event"], event["data"])
            else:
                for event in stream.events:
                    writer.send(event)
            writer.close()
        except HangUp as hang_up:
            if hang_up.last_frame is not None:
                with contextlib.suppress(ClientDisconnected):
                    writer.send_raw(hang_up.last_frame)
            self.close_connection = True  # the body stays unterminated, as on a broken network
        except (ClientDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True
            stream.on_disconnect()

    @staticmethod
    def _send_chunks(writer: SseWriter, stream: EventStream) -> None:
        """Chat Completions framing: ``data:`` lines, then ``data: [DONE]`` unless it failed."""
        failed = False
        for chunk in stream.events:
            writer.send_data(chunk)
            failed = _ends_stream(chunk)
        if not failed:
            writer.send_done()


def _ends_stream(event: Event) -> bool:
    """An ``{"error": ...}`` frame ends a chat stream: no ``[DONE]`` follows it."""
    return "error" in event and "object" not in event


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The parsed body and whether it was unparsable (an empty body is simply None)."""
    if not raw.strip():
        return None, False
    try:
        return json.loads(raw), False
    except ValueError:
        return None, True
