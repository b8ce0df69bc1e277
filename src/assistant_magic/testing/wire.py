"""The HTTP-level vocabulary every API family shares: a recorded request, answers, OpenAI errors.

Handlers take a :class:`RecordedRequest` and return a :class:`JsonAnswer`, an
:class:`EventStream`, a :class:`BytesAnswer` or :class:`Dropped`, or raise :class:`ApiFailure`;
only the server touches sockets.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
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


def list_page(
    resources: list[dict[str, Any]],
    query: dict[str, str],
    *,
    default_limit: int,
    max_limit: int | None = None,
) -> dict[str, Any]:
    """One page of a cursor-paginated list (``resources`` oldest first): ``order`` (default
    "desc"), ``limit``, ``after`` and ``before`` (the page just before that id) from the query,
    in the spec's list envelope."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiFailure(400, f"Invalid value for 'order': '{order}'.", param="order")
    raw = query.get("limit", str(default_limit))
    limit = int(raw) if raw.isdigit() else 0
    if limit < 1 or (max_limit is not None and limit > max_limit):
        raise scripted_failure(400, f"Invalid 'limit': {raw}.", param="limit")
    ordered = resources if order == "asc" else resources[::-1]
    after = query.get("after")
    if after:
        ids = [resource.get("id") for resource in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    before = query.get("before")
    if before:
        ids = [resource.get("id") for resource in ordered]
        ordered = ordered[: ids.index(before)] if before in ids else []
    page = ordered[-limit:] if before and not after else ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else "",
        "last_id": page[-1]["id"] if page else "",
        "has_more": len(ordered) > limit,
    }
