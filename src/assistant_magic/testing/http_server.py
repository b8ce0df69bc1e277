"""The socket side: a threading HTTP/1.1 server on loopback that reads requests and writes answers.

Keep-alive JSON answers with Content-Length, raw bytes, and SSE streams in chunked transfer
encoding, one flushed chunk per event (see ``sse``). What to answer is the app's business
(:class:`Responder`, the :class:`~.server.ScriptedServer`); nothing here knows any API.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from .multipart import is_multipart, parse_multipart
from .sse import ClientDisconnected, HangUp, SseWriter, encode_json
from .wire import (
    Answer,
    BytesAnswer,
    Dropped,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    is_error_frame,
)


class Responder(Protocol):
    """What answers each request: the whole server behind the socket."""

    def respond(self, request: RecordedRequest, *, unparsable: bool = False) -> Answer: ...


class LoopbackServer(ThreadingHTTPServer):
    """One thread per connection; open connections are tracked so ``stop()`` can end idle
    keep-alive ones at once."""

    daemon_threads = True
    allow_reuse_address = True
    # socketserver's backlog is 5: a client opening more connections at once (a job over rows)
    # would see the rest dropped and retried by TCP a second later.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], app: Responder) -> None:
        super().__init__(address, _RequestHandler)
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


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers, body and each SSE chunk are separate writes; with Nagle's algorithm the second
    # waits for the client's delayed ACK, adding ~40 ms to every exchange.
    disable_nagle_algorithm = True
    server: LoopbackServer

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_DELETE = do_PUT = do_PATCH = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # tests read server.requests, not stderr

    def _serve(self) -> None:
        received = time.monotonic()
        raw = self._read_body()
        if raw is None:
            # The client went away before its request was whole (it cancelled it): there is
            # nothing to answer, and nothing it sent to judge.
            self.close_connection = True
            return
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

    def _read_body(self) -> bytes | None:
        """The request's body; None when the connection closed before it was whole."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        return body if len(body) == length else None

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
            failed = is_error_frame(chunk)
        if not failed:
            writer.send_done()


def _parse_json(raw: bytes) -> tuple[Any, bool]:
    """The parsed body and whether it was unparsable (an empty body is simply None)."""
    if not raw.strip():
        return None, False
    try:
        return json.loads(raw), False
    except ValueError:
        return None, True
