"""The HTTP-level vocabulary every API family shares: a recorded request, answers, OpenAI errors.

Handlers take a :class:`RecordedRequest` and return a :class:`JsonAnswer`, an
:class:`EventStream`, a :class:`BytesAnswer` or :class:`Dropped`, or raise :class:`ApiFailure`;
only the server touches sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: A stream event as sent on the wire: a JSON object (with a ``type`` in the Responses API; a
#: ``chat.completion.chunk`` or an ``{"error": ...}`` frame in Chat Completions; ``{"event": name,
#: "data": object}`` in the Assistants API, whose ``data`` alone is the frame's JSON).
Event = dict[str, Any]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it.

    ``path`` is the full path (``/v1/responses``); ``query`` keeps the last value of a repeated
    key; header names are lower-cased; ``body`` is the parsed JSON, a
    :class:`~.multipart.MultipartForm` for an upload, or None; ``received_at`` is
    ``time.monotonic()`` at arrival, so tests can measure retry gaps; ``params`` holds the path
    parameters once the request is routed.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    received_at: float
    params: dict[str, str] = field(default_factory=dict)

    def param(self, name: str) -> str:
        return self.params[name]


@dataclass(frozen=True)
class JsonAnswer:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class EventStream:
    """A server-sent event stream: ``events`` is pulled one event at a time while writing.

    ``on_disconnect`` runs (instead of further pulls) when the client goes away mid-stream.
    ``dialect`` sets the framing: ``"responses"`` writes ``event: <type>`` and ``data:`` lines;
    ``"chat"`` writes ``data:`` lines only and ends with ``data: [DONE]`` (unless the last frame
    was an ``{"error": ...}``), as Chat Completions does; ``"assistants"`` writes ``event:
    <event>`` and ``data: <data>`` lines (``data: [DONE]`` after ``event: done``), as the
    Assistants API does.
    """

    events: Generator[Event, None, None]
    on_disconnect: Callable[[], None]
    dialect: Literal["responses", "chat", "assistants"] = "responses"


@dataclass(frozen=True)
class BytesAnswer:
    """Raw bytes (a file's content), sent with ``content_type`` and not validated as JSON."""

    content: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dropped:
    """No answer at all: the server closes the connection, as a dying upstream does."""


Answer = JsonAnswer | EventStream | BytesAnswer | Dropped


#: Milliseconds the ``openai-poll-after-ms`` header asks pollers to wait.
POLL_AFTER_MS = 10


def poll_answer(body: Any, *, busy: bool) -> JsonAnswer:
    """``body``, with the hint the openai SDK's pollers honour while the work it reports is
    unfinished (``busy``), so polling tests stay fast."""
    headers = {"openai-poll-after-ms": str(POLL_AFTER_MS)} if busy else {}
    return JsonAnswer(body, headers=headers)


def is_error_frame(event: Mapping[str, Any]) -> bool:
    """Whether a chat stream's frame is an ``{"error": ...}`` one, which ends it without
    ``data: [DONE]`` (a chunk also has an ``object``)."""
    return "error" in event and "object" not in event


def error_body(
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """OpenAI's error envelope; every error answer uses it."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


class ApiFailure(Exception):
    """Raised by a handler to answer with an OpenAI-style error."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def answer(self) -> JsonAnswer:
        body = error_body(self.message, type=self.type, param=self.param, code=self.code)
        return JsonAnswer(body, self.status, self.headers)


def missing_parameter(name: str) -> ApiFailure:
    """The real API's words for a required parameter left out."""
    return ApiFailure(
        400,
        f"Missing required parameter: '{name}'.",
        param=name,
        code="missing_required_parameter",
    )


def not_found(kind: str, ident: str, *, param: str | None = None) -> ApiFailure:
    """The real API's wording for a missing object: ``Conversation with id 'x' not found.``"""
    return ApiFailure(404, f"{kind} with id '{ident}' not found.", param=param)


SCRIPTED_PREFIX = "[scripted server]"


def scripted_failure(status: int, message: str, *, param: str | None = None) -> ApiFailure:
    """A rejection the real API words differently: marked so nobody mistakes it for OpenAI's."""
    return ApiFailure(status, f"{SCRIPTED_PREFIX} {message}", param=param)


def mistake_failure(problem: str) -> ApiFailure:
    """The 500 for a script that asks an API for something it cannot play (recorded by the
    caller in ``validation_errors``); marked not to be retried, so the test fails at once."""
    return ApiFailure(
        500,
        f"{SCRIPTED_PREFIX} {problem}",
        type="server_error",
        headers={"x-should-retry": "false"},
    )


def json_object(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one: handlers read bodies the spec check
    may have let through in any shape (or that came without a spec to check them)."""
    return value if isinstance(value, Mapping) else {}
