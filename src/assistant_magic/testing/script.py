"""What a test scripts the server to answer: reply types and the default echo reply.

``ScriptedServer.script(*replies)`` queues replies; each accepted ``POST /v1/responses`` or
``POST /v1/chat/completions`` takes the next one (the same script plays in both dialects, except
hosted tool steps, which exist only in the Responses API). A queued item may also be a callable
that receives a :class:`ReplyContext` and returns a reply, for answers that depend on the request.

A model step that calls tools is a :class:`ToolCalls` (a lone :class:`FunctionCall` is short for
a one-call step). The client answers with ``function_call_output`` items in its next request, which
a reply factory reads from :attr:`ReplyContext.tool_results`.

Hosted tools run on the server and need no answer: :class:`CodeInterpreter` (code, its outputs and
the files it saves in a container), :class:`ImageGeneration` (an image, real bytes) and
:class:`FileSearch` (a search of the request's vector stores, then an answer citing the files).
Images and files the client sends reach reply factories as :attr:`ReplyContext.input_images` and
:attr:`ReplyContext.input_files`; the files its ``file_search`` tool may search, as
:attr:`ReplyContext.searchable_files`.

Assistants API runs play the same replies, one per model step (see ``assistant_events``), and
:class:`RunFailure` ends a run as ``failed`` or ``expired``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

from PIL import Image

from .items import CALL_ANSWERS, last_user_text, output_text
from .state import StoredFile, VectorStore
from .tool_choice import ToolChoice, find_tool


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
class ToolResult:
    """A ``function_call_output`` of this request, with the ``function_call`` it answers.

    ``name`` and ``arguments`` are empty when the call is not in the context (the server rejects
    such requests before any reply factory runs, so a factory never sees that).
    """

    call_id: str
    name: str
    arguments: str
    output: str


@dataclass(frozen=True)
class CodeInterpreter:
    """One model step that runs Python in a code interpreter container, then (given ``text``)
    answers with an assistant message citing the files the code made.

    The request must offer ``{"type": "code_interpreter", ...}``. The call runs in the container
    the tool names, or (``container: {"type": "auto"}``) one a previous call in the context used,
    else a new one holding the tool's ``file_ids``. Its ``code`` streams in about ``code_chunks``
    deltas, each after ``chunk_delay`` seconds (None: the server's default).

    ``files``: name -> bytes the code saved under ``/mnt/data``. They join the container when the
    call completes (``/v1/containers/{id}/files/{file_id}/content`` serves them) and the message
    cites each with a ``container_file_citation`` spanning ``sandbox:/mnt/data/<name>`` if the
    text links it, else the first ``<name>`` in the text, else the empty span 0..0.
    ``images``: images the code displayed (``plt.show()``). Each becomes an ``image`` output (a
    data URL) and a container file ``cfile_....png`` cited at 0..0, as the real API does.
    ``logs``: what the code printed, a ``logs`` output after the images. Outputs are only sent
    when the request's ``include`` asks for ``code_interpreter_call.outputs`` (else null).
    """

    code: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    images: Sequence[bytes] = ()
    logs: str | None = None
    text: str = ""
    code_chunks: int = 3
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.code_chunks < 1:
            raise ValueError("CodeInterpreter.code_chunks must be >= 1")
        if any(not name or name.endswith("/") for name in self.files):
            raise ValueError("CodeInterpreter.files needs file names")


@dataclass(frozen=True)
class ImageGeneration:
    """One model step that generates an image with the ``image_generation`` tool.

    ``image``: the final image's bytes, sent base64-encoded as the call's ``result`` (any bytes:
    corrupt or huge images are fine when that is the point of the test). ``partials``: preview
    images; at most the tool's ``partial_images`` of them are streamed, and only when streaming.
    ``revised_prompt`` defaults to the user's last text. ``text``: an optional assistant message
    after the call. ``chunk_delay`` paces the partial images and the text.
    """

    image: bytes
    partials: Sequence[bytes] = ()
    text: str = ""
    revised_prompt: str | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SearchResult:
    """One result of a :class:`FileSearch`: a chunk of a searchable file.

    ``file_id``: the id of a file in the request's vector stores (or that file's name).
    ``filename``, ``attributes``: None takes the file's own. ``text``: the chunk found (None: the
    file's content, decoded as UTF-8, up to 2,000 characters). ``score``: relevance in 0..1 (None:
    a score from how many of the query words the text holds, as for automatic results).
    A plain tuple ``(file_id, filename, text, score)`` (or a prefix of it) is read as one.
    """

    file_id: str
    filename: str | None = None
    text: str | None = None
    score: float | None = None
    attributes: Mapping[str, str | float | bool] | None = None


#: Where a :class:`FileSearch` answer cites a file: ``(file id or filename, where)``, ``where``
#: being a character index into the text, or a piece of the text the citation follows.
Citation: TypeAlias = tuple[str, int | str]


@dataclass(frozen=True)
class FileSearch:
    """One model step that searches the request's vector stores with the ``file_search`` tool,
    then (given ``text``) answers with an assistant message citing the files it found.

    The request must offer ``{"type": "file_search", "vector_store_ids": [...]}``.
    ``queries``: what the model searched for (None: the user's last text).
    ``results``: what the search found, as :class:`SearchResult` or tuples; None searches for
    real: every searchable file (completed in one of the tool's stores) is a result, ranked by
    how many query words its text holds, at most the tool's ``max_num_results``. Results are only
    sent when the request's ``include`` has ``file_search_call.results`` (else null).
    ``cite``: where the message cites files, as :data:`Citation` pairs; None cites each file among
    the results once, at the end of the text (as the real model tends to); ``[]`` cites nothing.
    Each citation is a ``file_citation`` annotation (``file_id``, ``filename``, ``index``), streamed
    as ``response.output_text.annotation.added`` once the text reaches its index.
    """

    queries: Sequence[str] | None = None
    results: Sequence[SearchResult | tuple[Any, ...]] | None = None
    text: str = ""
    cite: Sequence[Citation] | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.queries, str):
            object.__setattr__(self, "queries", (self.queries,))
        elif self.queries is not None:
            object.__setattr__(self, "queries", tuple(self.queries))
        if self.results is not None:
            results = tuple(
                r if isinstance(r, SearchResult) else SearchResult(*r) for r in self.results
            )
            object.__setattr__(self, "results", results)
        if self.cite is not None:
            cite = tuple((str(file), where) for file, where in self.cite)
            object.__setattr__(self, "cite", cite)
            for file, where in cite:
                self.citation_index(file, where)

    def citation_index(self, file: str, where: int | str) -> int:
        """The character index a citation of ``file`` at ``where`` takes in ``text``."""
        if isinstance(where, str):
            start = self.text.find(where)
            if not where or start < 0:
                raise ValueError(f"FileSearch.cite: {where!r} (citing {file!r}) is not in text")
            return start + len(where)
        if not 0 <= where <= len(self.text):
            raise ValueError(
                f"FileSearch.cite: index {where} (citing {file!r}) is outside the text "
                f"(0..{len(self.text)})"
            )
        return where


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
    Text | HttpError | ToolCalls | FunctionCall | CodeInterpreter | ImageGeneration | FileSearch
)


def hosted_tool(reply: object) -> str | None:
    """The ``type`` of the hosted tool a scripted step uses (None for other replies)."""
    if isinstance(reply, CodeInterpreter):
        return "code_interpreter"
    if isinstance(reply, ImageGeneration):
        return "image_generation"
    if isinstance(reply, FileSearch):
        return "file_search"
    return None


@dataclass(frozen=True)
class InputImage:
    """An image in this request's input, as the model sees it.

    ``source``: the ``file_id``, the URL of a remote image, or ``"data_url"`` for an inline one.
    ``data``: the image bytes (empty for a remote URL: the scripted server fetches nothing).
    ``media_type``: ``image/png`` etc. ``call_id``: the ``function_call_output`` it came in
    (None for a message).
    """

    source: str
    data: bytes
    media_type: str
    detail: str = "auto"
    call_id: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels (decoded with Pillow; (0, 0) for a remote URL)."""
        if not self.data:
            return (0, 0)
        with Image.open(io.BytesIO(self.data)) as image:
            return image.size


@dataclass(frozen=True)
class InputFile:
    """A file in this request's input (``input_file``), as the model sees it.

    ``source``: the ``file_id``, the ``file_url``, or ``"file_data"`` for inline data.
    ``data``: its bytes (empty for a URL). ``call_id`` as for :class:`InputImage`.
    """

    source: str
    filename: str
    data: bytes
    call_id: str | None = None


@dataclass(frozen=True)
class ReplyContext:
    """What a reply factory may look at: the request and the items the model would see.

    For a Chat Completions request (:attr:`dialect` ``"chat"``) the ``messages`` are read as
    Responses items (see ``chat_items``): ``input_items`` are the messages after the last
    assistant message (the new user message, or the tool messages as ``function_call_output``),
    ``history`` the ones up to it (assistant ``tool_calls`` as ``function_call`` items). So
    :attr:`last_user_text`, :attr:`tool_results`, :attr:`input_images` and the rest read alike in
    every dialect.

    For a step of an Assistants API run (:attr:`dialect` ``"assistants"``) ``body`` is the run
    object (its ``model``, ``instructions``, ``tools``, ``tool_choice``, ...), and the thread's
    messages are read the same way: after submitted tool outputs, ``input_items`` are those
    outputs as ``function_call_output`` items.
    """

    body: Mapping[str, Any]
    input_items: Sequence[Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]
    images: Sequence[InputImage] = ()
    files: Sequence[InputFile] = ()
    stores: Sequence[VectorStore] = ()

    @property
    def dialect(self) -> Literal["responses", "chat", "assistants"]:
        """``"chat"`` for ``POST /v1/chat/completions`` (the body has ``messages``),
        ``"assistants"`` for a step of an Assistants API run (the body is a ``thread.run``), else
        ``"responses"``."""
        if self.body.get("object") == "thread.run":
            return "assistants"
        return "chat" if "messages" in self.body else "responses"

    @property
    def vector_stores(self) -> list[VectorStore]:
        """The vector stores the request's ``file_search`` tool names, as they were when the
        request arrived (copies); empty without the tool."""
        return list(self.stores)

    @property
    def vector_store_ids(self) -> list[str]:
        """The ``vector_store_ids`` of the request's ``file_search`` tool (empty without it); for
        a run, those of its assistant's and thread's ``tool_resources``."""
        if self.dialect == "assistants":
            return [store.id for store in self.stores]
        found = find_tool(self.body, "file_search")
        ids = found[1].get("vector_store_ids") if found else None
        return [str(i) for i in ids] if isinstance(ids, list) else []

    @property
    def searchable_files(self) -> list[StoredFile]:
        """The uploads the request made searchable: files done processing in the ``file_search``
        tool's stores, in store order, each once (``data`` holds the bytes to quote)."""
        found: dict[str, StoredFile] = {}
        for store in self.stores:
            for upload in store.searchable_files:
                found.setdefault(upload.id, upload)
        return list(found.values())

    @property
    def input_images(self) -> list[InputImage]:
        """Images in this request's input (messages and tool outputs), in order."""
        return list(self.images)

    @property
    def input_files(self) -> list[InputFile]:
        """Files (``input_file`` parts) in this request's input, in order."""
        return list(self.files)

    @property
    def last_user_text(self) -> str | None:
        """The newest user text, from this request's input, else from the history."""
        found = last_user_text(self.input_items)
        return found if found is not None else last_user_text(self.history)

    @property
    def tool_outputs(self) -> dict[str, str]:
        """``call_id`` -> output of each ``function_call_output`` in this request's input.

        An output given as content parts reads as its text parts joined.
        """
        return {result.call_id: result.output for result in self.tool_results}

    @property
    def tool_results(self) -> list[ToolResult]:
        """This request's tool outputs in input order, each with the call it answers."""
        calls = {
            str(item.get("call_id")): item
            for item in [*self.history, *self.input_items]
            if item.get("type") in CALL_ANSWERS
        }
        results = []
        for item in self.input_items:
            if item.get("type") not in CALL_ANSWERS.values():
                continue
            call_id = str(item.get("call_id"))
            call = calls.get(call_id, {})
            results.append(
                ToolResult(
                    call_id=call_id,
                    name=str(call.get("name", "")),
                    arguments=str(call.get("arguments", "")),
                    output=output_text(item.get("output")),
                )
            )
        return results

    @property
    def offered_tools(self) -> list[str]:
        """Names of the function tools in the request's ``tools``, in order."""
        return list(ToolChoice.of(self.body).offered)

    @property
    def tool_choice(self) -> str | Mapping[str, Any]:
        """The request's ``tool_choice`` ("auto" when omitted)."""
        choice = self.body.get("tool_choice")
        return choice if isinstance(choice, (str, Mapping)) else "auto"


ReplyFactory: TypeAlias = Callable[[ReplyContext], "Reply | RunFailure"]
ScriptItem: TypeAlias = (
    Text
    | HttpError
    | ToolCalls
    | FunctionCall
    | CodeInterpreter
    | ImageGeneration
    | FileSearch
    | RunFailure
    | ReplyFactory
)
#: The reply types a script may hold as they are (anything else must be a callable).
REPLY_TYPES = (
    Text,
    HttpError,
    ToolCalls,
    FunctionCall,
    CodeInterpreter,
    ImageGeneration,
    FileSearch,
    RunFailure,
)
#: A reply as the server plays it.
Step: TypeAlias = Text | HttpError | ToolCalls | CodeInterpreter | ImageGeneration | FileSearch


def as_step(reply: Reply) -> Step:
    """A reply as the server plays it: a lone FunctionCall is a one-call ToolCalls step."""
    return ToolCalls((reply,)) if isinstance(reply, FunctionCall) else reply


def echo(context: ReplyContext) -> Reply:
    """The default reply: repeats the user's last text, streamed word by word.

    After tool outputs it reports them instead: ``Tool results: now: 12:00; add: 3``.
    """
    results = context.tool_results
    if results:
        return Text(
            "Tool results: "
            + "; ".join(f"{result.name or result.call_id}: {result.output}" for result in results)
        )
    said = context.last_user_text
    return Text(f"You said: {said}" if said else "You said nothing.")


def split_words(text: str) -> list[str]:
    """Word-sized chunks that keep their leading whitespace, like a tokenizer's pieces."""
    return re.findall(r"\s*\S+|\s+$", text)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
