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
stores and models are in ``resources``. The Batch API (``/v1/batches``) plays each line of its
input file as a live request to its endpoint (see ``batches``). What tests read back (records,
stored objects, waits) is ``inspection``'s.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

from .assistants.api import AssistantsApi
from .assistants.runs import RunSettings
from .batches.api import BatchesApi
from .batches.batch import BatchSettings
from .chat.api import AutoToolStreams, ChatApi
from .http_server import LoopbackServer
from .inspection import ServerInspection
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
from .state import ServerState, StoredFile, VectorStore
from .wire import Answer, RecordedRequest

DEFAULT_MODELS = ("gpt-5.4-mini", "gpt-5.4")


class ScriptedServer(ServerInspection):
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
    ``latency``: seconds every request waits before it is answered (its own thread waits, so
    concurrent requests overlap as on a real server); may be changed.
    ``batch_polls_per_state``: answers each server-side state of a batch (validating,
    in_progress, finalizing, cancelling) lasts; the next retrieval moves it on (0: the first
    retrieval after creation runs it to its end; see ``batches.batch``).
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
        batch_polls_per_state: int = 1,
        latency: float = 0.0,
    ) -> None:
        self.models = frozenset(models) if models is not None else None
        self._requested_port = port
        self._state = ServerState()
        router = Router()
        self._pipeline = Pipeline(self._state, router, traffic_validator(openapi), api_key)
        self._pipeline.latency = latency
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
        self._batch_settings = BatchSettings(batch_polls_per_state)
        BatchesApi(self._state, self._batch_settings, self._pipeline.dispatch).register(router)
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
    def latency(self) -> float:
        """Seconds every request waits before it is answered; may be changed."""
        return self._pipeline.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency is a number of seconds, 0 or more")
        self._pipeline.latency = seconds

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

    # -- scripting -------------------------------------------------------------------------

    def script(self, *replies: ScriptItem) -> None:
        """Queue replies; each accepted ``POST /v1/responses`` or ``POST /v1/chat/completions``,
        and each model step of an Assistants API run, takes the next one."""
        for reply in replies:
            if not isinstance(reply, REPLY_TYPES) and not callable(reply):
                raise TypeError(
                    f"cannot script {reply!r}: use Text, ToolCalls, FunctionCall, "
                    "CodeInterpreter, ImageGeneration, FileSearch, McpCall, HttpError, RunFailure "
                    "or a callable"
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

    # -- objects stored as if a client had made them ---------------------------------------

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

    def expire_batch(self, batch_id: str) -> dict[str, Any]:
        """End the batch ``expired`` now, as when its 24 h window closes: the lines it played
        stay in its output (or error) file, the others go to the error file with code
        ``batch_expired``. Returns the batch object; one that already ended raises ValueError."""
        with self._state.lock:
            batch = self._state.batches[batch_id]
        batch.expire()
        return batch.snapshot()

    # -- settings that may change while it runs --------------------------------------------

    @property
    def vector_store_file_polls(self) -> int:
        """Reads a newly added vector store file stays ``in_progress`` for; may be changed."""
        return self._vector_stores_api.file_polls

    @vector_store_file_polls.setter
    def vector_store_file_polls(self, polls: int) -> None:
        self._vector_stores_api.file_polls = polls

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

    @property
    def batch_polls_per_state(self) -> int:
        """Answers each server-side state of a batch lasts; may be changed."""
        return self._batch_settings.polls_per_state

    @batch_polls_per_state.setter
    def batch_polls_per_state(self, polls: int) -> None:
        self._batch_settings.polls_per_state = polls
