"""What a test scripts the server to answer: reply types and the default echo reply.

``ScriptedServer.script(*replies)`` queues replies; each accepted ``POST /v1/responses`` takes the
next one. A queued item may also be a callable that receives a :class:`ReplyContext` and returns a
reply, for answers that depend on the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from .items import last_user_text


@dataclass(frozen=True)
class Text:
    """An assistant message, streamed as ``response.output_text.delta`` chunks.

    ``chunks`` default to word-sized pieces of ``text`` (they must join back to it).
    ``chunk_delay`` seconds pass before each delta (None: the server's default).
    ``usage`` overrides the computed usage, key by key.
    ``queued`` starts the response in status "queued" and emits ``response.queued``.
    ``status="incomplete"`` ends with ``response.incomplete`` and ``incomplete_reason``.
    ``fail_after=N`` sends N deltas, then ``response.failed`` with ``fail_message``.
    ``hang_up_after=N`` sends N deltas, then drops the connection mid-body (a network failure).
    """

    text: str
    chunks: Sequence[str] | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None
    queued: bool = False
    status: Literal["completed", "incomplete"] = "completed"
    incomplete_reason: Literal["max_output_tokens", "content_filter"] = "max_output_tokens"
    fail_after: int | None = None
    hang_up_after: int | None = None
    fail_message: str = (
        "The server had an error processing your request. Sorry about that! You can retry your "
        "request, or contact us through our help center at help.openai.com if you keep seeing "
        "this error."
    )

    def __post_init__(self) -> None:
        if self.chunks is not None and "".join(self.chunks) != self.text:
            raise ValueError("Text.chunks must join back to Text.text")
        if self.fail_after is not None and self.fail_after < 0:
            raise ValueError("Text.fail_after must be >= 0")
        if self.hang_up_after is not None and self.hang_up_after < 0:
            raise ValueError("Text.hang_up_after must be >= 0")

    @property
    def pieces(self) -> list[str]:
        return list(self.chunks) if self.chunks is not None else split_words(self.text)


@dataclass(frozen=True)
class HttpError:
    """An HTTP error answered instead of a response.

    Empty ``message`` and None ``type``/``code`` take the real API's wording for ``status``.
    ``retry_after`` / ``retry_after_ms`` set the ``Retry-After`` / ``retry-after-ms`` headers the
    openai SDK honours when it retries 408/409/429/5xx (each retry takes the next scripted reply).
    """

    status: int
    message: str = ""
    type: str | None = None
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None
    retry_after_ms: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def error_message(self) -> str:
        return self.message or _DEFAULT_MESSAGES.get(self.status) or HTTPStatus(self.status).phrase

    def error_type(self) -> str:
        if self.type is not None:
            return self.type
        if self.status == 429:
            return "requests"
        return "server_error" if self.status >= 500 else "invalid_request_error"

    def error_code(self) -> str | None:
        if self.code is not None:
            return self.code
        return "rate_limit_exceeded" if self.status == 429 else None

    def response_headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = _number(self.retry_after)
        if self.retry_after_ms is not None:
            headers["retry-after-ms"] = str(self.retry_after_ms)
        return headers


_DEFAULT_MESSAGES = {
    429: "Rate limit reached for requests. Please try again later.",
    500: "The server had an error while processing your request. Sorry about that!",
    502: "Bad gateway.",
    503: "The engine is currently overloaded, please try again later.",
}


Reply: TypeAlias = Text | HttpError


@dataclass(frozen=True)
class ReplyContext:
    """What a reply factory may look at: the request and the items the model would see."""

    body: Mapping[str, Any]
    input_items: Sequence[Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]

    @property
    def last_user_text(self) -> str | None:
        """The newest user text, from this request's input, else from the history."""
        found = last_user_text(self.input_items)
        return found if found is not None else last_user_text(self.history)


ReplyFactory: TypeAlias = Callable[[ReplyContext], Reply]
ScriptItem: TypeAlias = Text | HttpError | ReplyFactory


def echo(context: ReplyContext) -> Reply:
    """The default reply: repeats the user's last text, streamed word by word."""
    said = context.last_user_text
    return Text(f"You said: {said}" if said else "You said nothing.")


def split_words(text: str) -> list[str]:
    """Word-sized chunks that keep their leading whitespace, like a tokenizer's pieces."""
    return re.findall(r"\s*\S+|\s+$", text)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
