"""Server-sent events over HTTP/1.1 chunked transfer encoding, one flushed chunk per event."""

from __future__ import annotations

import json
from typing import Any, Protocol

from .wire import Event


class _Writable(Protocol):
    def write(self, data: bytes, /) -> Any: ...

    def flush(self) -> Any: ...


class ClientDisconnected(Exception):
    """The client closed the connection while we were writing."""


class HangUp(Exception):
    """Raised by an event generator to drop the connection mid-stream, as a broken network does.

    ``last_frame``: the data of one more frame sent first, verbatim (it need not be JSON: a proxy
    that loses its upstream may write an HTML error page into the stream).
    """

    def __init__(self, last_frame: str | None = None) -> None:
        super().__init__(last_frame)
        self.last_frame = last_frame


class SseWriter:
    """Writes ``event: <type>`` / ``data: <json>`` frames the way the Responses API does,
    bare ``data: <json>`` frames and ``data: [DONE]`` the way Chat Completions does, or
    ``event: <name>`` / ``data: <object>`` frames the way the Assistants API does."""

    def __init__(self, wfile: _Writable) -> None:
        self._wfile = wfile

    def send(self, event: Event) -> None:
        frame = f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"
        self._chunk(frame.encode("utf-8"))

    def send_named(self, name: str, data: Any) -> None:
        """An Assistants API frame: the event's name, then its object (a string, such as the
        final ``[DONE]``, is written as it is)."""
        body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        self._chunk(f"event: {name}\ndata: {body}\n\n".encode())

    def send_data(self, event: Event) -> None:
        """A frame without an ``event:`` line (a chat completion chunk)."""
        self._chunk(f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode())

    def send_raw(self, data: str) -> None:
        """A frame whose data is written as it is, JSON or not."""
        self._chunk(f"data: {data}\n\n".encode())

    def send_done(self) -> None:
        """Chat Completions' end-of-stream marker."""
        self._chunk(b"data: [DONE]\n\n")

    def close(self) -> None:
        self._write(b"0\r\n\r\n")

    def _chunk(self, payload: bytes) -> None:
        self._write(b"%x\r\n" % len(payload) + payload + b"\r\n")

    def _write(self, data: bytes) -> None:
        try:
            self._wfile.write(data)
            self._wfile.flush()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as exc:
            raise ClientDisconnected() from exc
        except OSError as exc:  # a socket shut down by ScriptedServer.stop()
            raise ClientDisconnected() from exc


def encode_json(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
