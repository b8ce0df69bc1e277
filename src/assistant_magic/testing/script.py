"""What a test scripts the server to answer: reply types and the default echo reply.

``ScriptedServer.script(*replies)`` queues replies; each accepted ``POST /v1/responses`` or
``POST /v1/chat/completions`` takes the next one (the same script plays in both dialects, except
hosted tool steps, which exist only in the Responses API). A queued item may also be a callable
that receives a :class:`ReplyContext` and returns a reply, for answers that depend on the request.

A model step that calls tools is a :class:`ToolCalls` (a lone :class:`FunctionCall` is short for
a one-call step). The client answers with ``function_call_output`` items in its next request, which
a reply factory reads from :attr:`ReplyContext.tool_results`.

Hosted tools run on the server and need no answer: :class:`CodeInterpreter` (code, its outputs and
the files it saves in a container), :class:`ImageGeneration` (an image, real bytes),
:class:`FileSearch` (a search of the request's vector stores, then an answer citing the files) and
:class:`McpCall` (a call to a tool of a remote MCP server, approved by the client if need be).
Images and files the client sends reach reply factories as :attr:`ReplyContext.input_images` and
:attr:`ReplyContext.input_files`; the files its ``file_search`` tool may search, as
:attr:`ReplyContext.searchable_files`.

Assistants API runs play the same replies, one per model step (see ``assistants.events``), and
:class:`RunFailure` ends a run as ``failed`` or ``expired``.

Typed answers (Structured Outputs): a request may ask for JSON following a schema (Responses
``text.format``, Chat Completions ``response_format`` ``json_schema`` - or ``json_object`` with a
``schema``, llama-cpp-python's extension - and a run's ``response_format``); the server checks the
schema as the real API does (see ``structured``) and :attr:`ReplyContext.answer_schema` holds it.
:func:`echo` then answers a JSON document valid against it (see ``schema_instances``), and a
:class:`Refusal` is the model declining, played in each dialect's refusal shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from .chunking import split_words
from .hosted_steps import CodeInterpreter, FileSearch, ImageGeneration, McpCall
from .reply_context import ReplyContext
from .schema_instances import schema_instance


@dataclass(frozen=True)
class Text:
    """An assistant message, streamed as ``response.output_text.delta`` chunks.

    ``chunks`` default to word-sized pieces of ``text`` (they must join back to it).
    ``chunk_delay`` seconds pass before each delta (None: the server's default).
    ``usage`` overrides the computed usage, key by key.
    ``queued`` starts the response in status "queued" and emits ``response.queued``.
    ``status="incomplete"`` ends with ``response.incomplete`` and ``incomplete_reason``.
    ``fail_after=N`` sends N deltas, then ``response.failed`` with ``fail_message``.
    ``hang_up_after=N`` sends N deltas, then drops the connection mid-body (a network failure);
    with ``hang_up_frame``, one more frame with that data (not JSON, say) goes first.
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
    hang_up_frame: str | None = None
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


@dataclass(frozen=True)
class FunctionCall:
    """One ``function_call`` output item: the model asks the client to run ``name``.

    ``arguments``: a str is sent verbatim (invalid JSON or wrong types on demand); a mapping is
    ``json.dumps``'ed. ``call_id``: None draws a fresh ``call_...`` id each time the call is played.
    ``undeclared=True`` scripts a call the request did not allow on purpose (a tool it did not
    offer, or despite ``tool_choice``), as small models do; otherwise that is recorded in
    ``validation_errors`` as a mistake of the test or the client.
    """

    name: str
    arguments: str | Mapping[str, Any] = "{}"
    call_id: str | None = None
    undeclared: bool = False

    @property
    def arguments_text(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class ToolCalls:
    """One model step that calls tools: one call, or several in parallel.

    ``text`` is an optional assistant message streamed before the calls. Each call's arguments
    stream as about ``argument_chunks`` ``response.function_call_arguments.delta`` pieces, each
    after ``chunk_delay`` seconds (None: the server's default). ``usage`` overrides the computed
    usage, key by key.
    """

    calls: Sequence[FunctionCall]
    text: str = ""
    chunk_delay: float | None = None
    argument_chunks: int = 3
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        calls = (self.calls,) if isinstance(self.calls, FunctionCall) else tuple(self.calls)
        object.__setattr__(self, "calls", calls)
        if not calls or not all(isinstance(call, FunctionCall) for call in calls):
            raise ValueError("ToolCalls.calls must hold at least one FunctionCall")
        if self.argument_chunks < 1:
            raise ValueError("ToolCalls.argument_chunks must be >= 1")
        ids = [call.call_id for call in calls if call.call_id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("the calls of one ToolCalls step need distinct call_ids")


@dataclass(frozen=True)
class Refusal:
    """The model declines to answer, as Structured Outputs models do: no text, a refusal.

    Played in each dialect's refusal shape: a Responses ``message`` whose content part is
    ``{"type": "refusal", ...}`` (streamed as ``response.refusal.delta`` events, see
    ``responses.events``), Chat Completions ``delta.refusal`` chunks and ``message.refusal``
    with ``content`` null (``chat.events``), an Assistants message with a ``refusal`` content
    block (``assistants.events``). The text streams word by word, each piece after
    ``chunk_delay`` seconds (None: the server's default).
    """

    text: str
    chunk_delay: float | None = None

    @property
    def pieces(self) -> list[str]:
        return split_words(self.text)


@dataclass(frozen=True)
class RunFailure:
    """A model step that ends an Assistants API run ``failed`` (with ``last_error`` ``code`` and
    ``message``) or ``expired`` (no ``last_error``, as the real API reports it).

    Only runs play it: a Responses or Chat Completions request that takes it from the script
    fails (500, recorded in ``validation_errors``) instead of answering.
    """

    status: Literal["failed", "expired"] = "failed"
    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"] = "server_error"
    message: str = "Sorry, something went wrong."


Reply: TypeAlias = (
    Text
    | Refusal
    | HttpError
    | ToolCalls
    | FunctionCall
    | CodeInterpreter
    | ImageGeneration
    | FileSearch
    | McpCall
)


ReplyFactory: TypeAlias = Callable[[ReplyContext], "Reply | RunFailure"]
ScriptItem: TypeAlias = Reply | RunFailure | ReplyFactory
#: The reply types a script may hold as they are (anything else must be a callable).
#: Spelled out (not read off `Reply`) so that isinstance against it narrows for mypy.
REPLY_TYPES = (
    Text,
    Refusal,
    HttpError,
    ToolCalls,
    FunctionCall,
    CodeInterpreter,
    ImageGeneration,
    FileSearch,
    McpCall,
    RunFailure,
)
#: A reply as the server plays it.
Step: TypeAlias = (
    Text
    | Refusal
    | HttpError
    | ToolCalls
    | CodeInterpreter
    | ImageGeneration
    | FileSearch
    | McpCall
)


def as_step(reply: Reply) -> Step:
    """A reply as the server plays it: a lone FunctionCall is a one-call ToolCalls step."""
    return ToolCalls((reply,)) if isinstance(reply, FunctionCall) else reply


def echo(context: ReplyContext) -> Reply:
    """The default reply: repeats the user's last text, streamed word by word.

    After tool outputs it reports them instead: ``Tool results: now: 12:00; add: 3``. A request
    that asks for a JSON schema (:attr:`ReplyContext.answer_schema`) is answered with a JSON
    document valid against it, its strings made of that same text (see ``schema_instances``).
    """
    results = context.tool_results
    if results:
        said = "Tool results: " + "; ".join(
            f"{result.name or result.call_id}: {result.output}" for result in results
        )
    else:
        user = context.last_user_text
        said = f"You said: {user}" if user else "You said nothing."
    schema = context.answer_schema
    if schema is not None:
        # A typed ask must get its type back, also after tool calls, or the client repairs.
        text = said if results else context.last_user_text or ""
        return Text(json.dumps(schema_instance(schema, text=text), ensure_ascii=False))
    return Text(said)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
