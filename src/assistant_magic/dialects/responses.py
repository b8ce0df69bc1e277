"""The Responses API dialect: the thread is a server-side Conversation.

One ask is one streamed ``POST /responses`` on the conversation. The seed's run statuses map
onto the response's ``status`` (queued, in_progress, completed, failed, incomplete, cancelled).
"""

from __future__ import annotations

import functools
import itertools
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..events import (
    Event,
    ImageData,
    Notice,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallDelta,
    ToolCallRequested,
    Usage,
    UsageReported,
)
from .files import SdkFiles
from .interface import UNRUN_OUTPUT, ApprovalAnswer, RemoteThread, ResponseRequest, ToolOutput
from .openai_sdk import api_errors, dialect_offered, raise_api_error
from .responses_mcp import Listed, approval_item, approvals_of, item_events

if TYPE_CHECKING:
    from ..answer_types import AnswerSchema
    from ..citations import Citation
    from ..mcp_servers.hosted import HostedMcp
    from ..tools import ToolSchema

FINAL_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
STATUS_EVENTS = {"response.queued": "queued", "response.in_progress": "in_progress"}
#: Settling a thread reads its newest items in pages of this size, and at most this many.
SETTLE_PAGE, SETTLE_LIMIT = 100, 1000
#: Longest wait, in seconds, for a response the client left to end before settling its thread.
SETTLE_WAIT = 10.0
#: Items a conversation takes per request (at its creation, and added after).
SEED_PAGE = 20


class ResponsesDialect(SdkFiles):
    """The Responses API on a server-side Conversation; files and vector stores too."""

    name: ClassVar[str] = "responses"
    uploads_images: ClassVar[bool] = False
    #: What hosted MCP servers' tool lists said, kept for the kernel's life: a conversation
    #: lists a server's tools only at its first use.
    mcp_listed: Listed | None = None

    def create_thread(self, first: ResponseRequest) -> RemoteThread:
        with dialect_offered(self.settings, "responses", "/conversations"):
            conversation = self.client.conversations.create(
                metadata={"created_by": "assistant_magic"}
            )
        return RemoteThread(conversation.id)

    def seed_thread(self, first: ResponseRequest, items: list[dict[str, Any]]) -> RemoteThread:
        """A conversation that already holds `items` (a thread replayed so far, going live)."""
        with dialect_offered(self.settings, "responses", "/conversations"):
            conversation = self.client.conversations.create(
                metadata={"created_by": "assistant_magic"},
                items=items[:SEED_PAGE],  # type: ignore[arg-type]
            )
            for start in range(SEED_PAGE, len(items), SEED_PAGE):
                self.client.conversations.items.create(
                    conversation.id,
                    items=items[start : start + SEED_PAGE],  # type: ignore[arg-type]
                )
        return RemoteThread(conversation.id)

    def delete_thread(self, remote: RemoteThread) -> None:
        with api_errors(self.settings, missing_ok=True):
            self.client.conversations.delete(remote.id)

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        return [("POST /responses", request_params(request))]

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        from openai.types.responses import Response

        with api_errors(self.settings):
            # Events arrive as dicts (`object`): `sdk_events` builds the SDK's models only for
            # the few that need them, not for every delta.
            stream = self.post("/responses", request_params(request), Response, object)
        if self.mcp_listed is None:
            self.mcp_listed = {}
        events = _translate(sdk_events(stream), self._container_file, self.mcp_listed)
        yield from self.read(stream, events)

    def _container_file(self, container_id: str, file_id: str) -> bytes:
        content = self.client.containers.files.content.retrieve(file_id, container_id=container_id)
        return bytes(content.content)

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        if last_response:
            self._wait_until_ended(last_response)
        # The conversation, not the stream, says which calls it holds: a server may keep a
        # call the client never saw finish, or drop one it saw announced.
        open_calls, open_approvals = self._open_calls(remote.id)
        if not open_calls and not open_approvals:
            return []
        answers = [ToolOutput(call, outputs.get(call, UNRUN_OUTPUT)) for call in open_calls]
        # An approval the user never gave is a call not made.
        denials = [ApprovalAnswer(request, approve=False) for request in open_approvals]
        items = [_output_item(answer) for answer in answers]
        items += [approval_item(denial) for denial in denials]
        with api_errors(self.settings):
            self.client.conversations.items.create(remote.id, items=items)  # type: ignore[arg-type]
        done = [
            f"answered {count} {what}{'s' if count > 1 else ''} the last ask left open"
            for count, what in (
                (len(answers), "tool call"),
                (len(denials), "MCP approval request"),
            )
            if count
        ]
        return [f"{' and '.join(done)}, so the conversation takes this ask"]

    def _wait_until_ended(self, response_id: str) -> None:
        """Give a response the client left a moment to end: until it has, the server may
        still add its items to the conversation."""
        import openai

        deadline, wait = time.monotonic() + SETTLE_WAIT, 0.05
        while True:
            try:
                response = self.client.responses.retrieve(response_id)
            except openai.NotFoundError:
                return  # not stored: nothing more will come of it
            except openai.OpenAIError as exc:
                raise_api_error(exc, self.settings)
            if response.status not in ("queued", "in_progress") or time.monotonic() > deadline:
                return
            time.sleep(wait)
            wait = min(wait * 2, 1.0)

    def _open_calls(self, conversation_id: str) -> tuple[list[str], list[str]]:
        """Call ids of the conversation's function calls that have no output, and ids of its
        MCP approval requests that have no answer, oldest first.

        Read newest first, back to the latest user message: every call before it was answered,
        or the server would not have taken that message.
        """
        answered: set[str] = set()
        open_calls: list[str] = []
        open_approvals: list[str] = []
        with api_errors(self.settings):
            items = self.client.conversations.items.list(
                conversation_id, order="desc", limit=SETTLE_PAGE
            )
            for item in itertools.islice(items, SETTLE_LIMIT):
                if item.type == "message" and getattr(item, "role", None) == "user":
                    break
                if item.type == "function_call_output" and item.call_id:
                    answered.add(item.call_id)
                elif item.type == "function_call" and item.call_id not in answered:
                    open_calls.append(item.call_id)
                elif item.type == "mcp_approval_response":
                    answered.add(item.approval_request_id)
                elif item.type == "mcp_approval_request" and item.id not in answered:
                    open_approvals.append(item.id)
        return open_calls[::-1], open_approvals[::-1]

    def cancel(self, response_id: str) -> None:
        # Only background responses can be cancelled, and asks here are not: closing the
        # stream is what stops one.
        pass


def request_params(request: ResponseRequest) -> dict[str, Any]:
    """The body of ``POST /responses`` for one request of an ask."""
    items: list[dict[str, Any]] = [_output_item(o) for o in request.tool_outputs]
    items += [approval_item(answer) for answer in request.approvals]
    if request.user_text is not None:
        items.append(_user_message(request))
    params: dict[str, Any] = {"model": request.model, "input": items, "stream": True}
    if request.instructions:
        params["instructions"] = request.instructions
    if request.max_output_tokens:
        params["max_output_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.remote_thread:
        params["conversation"] = request.remote_thread.id
    if request.answer_format is not None:
        params["text"] = {"format": answer_format(request.answer_format)}
    tools = [_function_tool(schema) for schema in request.tools]
    tools += [_hosted_tool(name, request) for name in request.hosted_tools]
    tools += [server.tool() for server in request.mcp_servers]
    if tools:
        params["tools"] = tools
        params["tool_choice"] = _tool_choice(request.tool_choice, request.mcp_servers)
    return params


def answer_format(answer: AnswerSchema) -> dict[str, Any]:
    """A typed ask's ``text.format``: Structured Outputs."""
    return {
        "type": "json_schema",
        "name": answer.name,
        "schema": answer.schema,
        "strict": answer.strict,
    }


def _user_message(request: ResponseRequest) -> dict[str, Any]:
    text = request.user_text or ""
    # A file goes where a hosted tool reads it (the sandbox, the vector store), else inline.
    sandbox = "code_interpreter" in request.hosted_tools
    search = "file_search" in request.hosted_tools
    files = [f for f in request.files if not sandbox and not (search and f.searchable)]
    if not request.images and not files:
        return {"type": "message", "role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    parts += [
        {"type": "input_image", "image_url": image.data_url(), "detail": "auto"}
        for image in request.images
    ]
    parts += [{"type": "input_file", "file_id": f.file_id} for f in files]
    return {"type": "message", "role": "user", "content": parts}


def _hosted_tool(name: str, request: ResponseRequest) -> dict[str, Any]:
    if name == "code_interpreter":
        # Attached files go into the sandbox, where the model's code can open them.
        container: dict[str, Any] = {"type": "auto"}
        if request.files:
            container["file_ids"] = [f.file_id for f in request.files]
        return {"type": "code_interpreter", "container": container}
    if name == "image_generation":
        tool: dict[str, Any] = {"type": "image_generation"}
        if request.partial_images:
            tool["partial_images"] = request.partial_images
        return tool
    if name == "file_search":
        return {"type": "file_search", "vector_store_ids": list(request.vector_store_ids)}
    raise ValueError(f"unknown hosted tool {name!r}")


def _function_tool(schema: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "name": schema.name,
        "description": schema.description,
        "parameters": schema.parameters,
        "strict": schema.strict,
    }


def _tool_choice(choice: str, hosted: Sequence[HostedMcp] = ()) -> str | dict[str, str]:
    if choice in ("auto", "none", "required"):
        return choice
    for server in hosted:  # a hosted MCP server, or one of its tools (SERVER__TOOL)
        if choice == server.label:
            return {"type": "mcp", "server_label": server.label}
        if choice.startswith(f"{server.label}__"):
            return {"type": "mcp", "server_label": server.label, "name": choice.split("__", 1)[1]}
    return {"type": "function", "name": choice}


def _output_item(output: ToolOutput) -> dict[str, Any]:
    if not output.images:
        return {"type": "function_call_output", "call_id": output.call_id, "output": output.output}
    # A tool that returned a picture: the model sees the picture itself, and the text beside it.
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": output.output}]
    parts += [
        {"type": "input_image", "image_url": image.data_url(), "detail": "auto"}
        for image in output.images
    ]
    return {"type": "function_call_output", "call_id": output.call_id, "output": parts}


class RawEvent:
    """A stream event as the server sent it, read by attribute like the SDK's model of it:
    its kind, and for a delta, the text and the item it adds to."""

    __slots__ = ("delta", "item_id", "type")

    def __init__(self, data: dict[str, Any]) -> None:
        self.type: str = data.get("type") or ""
        self.delta: str = data.get("delta") or ""
        self.item_id: str = data.get("item_id") or ""


def sdk_events(stream: Iterable[Any]) -> Iterator[Any]:
    """The stream's events: the SDK's model of those whose content `_translate` reads (built
    for their own class: building one from the union of every event validates it against each,
    which cost more than the rest of a short ask together), `RawEvent` for the others."""
    from openai._models import construct_type  # how the SDK itself builds stream events

    models = _event_models()
    for data in stream:
        model = models.get(str(data.get("type"))) if isinstance(data, dict) else None
        yield construct_type(type_=model, value=data) if model else RawEvent(data)


@functools.cache
def _event_models() -> dict[str, type]:
    from openai.types import responses as events

    return {
        "response.created": events.ResponseCreatedEvent,
        "response.output_item.added": events.ResponseOutputItemAddedEvent,
        "response.output_item.done": events.ResponseOutputItemDoneEvent,
        "response.image_generation_call.partial_image": (
            events.ResponseImageGenCallPartialImageEvent
        ),
        "response.completed": events.ResponseCompletedEvent,
        "response.incomplete": events.ResponseIncompleteEvent,
        "response.failed": events.ResponseFailedEvent,
        "error": events.ResponseErrorEvent,
    }


#: Fetches a code interpreter's file: (container id, file id) -> bytes.
FetchFile = Callable[[str, str], bytes]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def _translate(stream: Any, fetch: FetchFile, listed: Listed) -> Generator[Event, None, None]:
    """SDK stream events → our events, ending with exactly one `ResponseFinished`."""
    text: list[str] = []
    response_id: str | None = None
    calls: dict[str, tuple[str, str]] = {}  # output item id -> (call_id, name)
    images = 0
    for event in stream:
        kind = event.type
        if kind == "response.output_text.delta":
            text.append(event.delta)
            yield TextDelta(event.delta)
        elif kind == "response.image_generation_call.partial_image":
            yield ImageData(
                event.partial_image_b64,
                source="image generation",
                name=f"image-{images + 1}",
                key=event.item_id,
                partial=True,
            )
        elif (
            kind == "response.output_item.done"
            and event.item.type == "image_generation_call"
            and event.item.result
        ):
            images += 1
            yield ImageData(
                event.item.result, "image generation", f"image-{images}", key=event.item.id
            )
        elif kind == "response.output_item.done" and event.item.type.startswith("mcp_"):
            yield from item_events(event.item, listed)
        elif kind == "response.function_call_arguments.delta":
            call_id, name = calls.get(event.item_id, (event.item_id, ""))
            yield ToolCallDelta(call_id=call_id, name=name, delta=event.delta)
        elif kind == "response.output_item.added" and event.item.type == "function_call":
            calls[event.item.id or event.item.call_id] = (event.item.call_id, event.item.name)
            yield ToolCallDelta(call_id=event.item.call_id, name=event.item.name, delta="")
        elif kind == "response.created":
            response_id = event.response.id
            yield ResponseStarted(response_id=response_id, model=event.response.model)
            yield StatusChanged(event.response.status or "in_progress")
        elif kind in STATUS_EVENTS:
            yield StatusChanged(STATUS_EVENTS[kind])  # type: ignore[arg-type]
        elif kind in FINAL_EVENTS:
            yield from _container_images(event.response, fetch)
            yield from _finish(event.response, FINAL_EVENTS[kind], "".join(text), listed)
            return
        elif kind == "error":
            yield ResponseFinished(
                status="failed",
                text="".join(text),
                response_id=response_id,
                error=_error_text(getattr(event, "code", None), event.message),
            )
            return
    yield ResponseFinished(
        status="failed",
        text="".join(text),
        response_id=response_id,
        error="The stream ended before the response finished.",
    )


def _finish(
    response: Any, status: str, streamed: str, listed: Listed
) -> Generator[Event, None, None]:
    usage = usage_of(response.usage)
    if usage is not None:
        yield UsageReported(usage)
    error = None
    if response.error is not None:
        error = _error_text(response.error.code, response.error.message)
    elif status == "incomplete" and response.incomplete_details is not None:
        error = f"stopped early: {response.incomplete_details.reason}"
    calls = tuple(
        ToolCallRequested(call_id=item.call_id, name=item.name, arguments=item.arguments)
        for item in response.output
        if item.type == "function_call"
    )
    from ..citations import render

    yield ResponseFinished(
        status=status,  # type: ignore[arg-type]
        text=render(response.output_text or streamed, _citations(response)),
        response_id=response.id,
        usage=usage,
        error=error,
        model=response.model,
        tool_calls=calls,
        refusal=refusal_of(response),
        approvals=approvals_of(response.output, listed),
    )


def refusal_of(response: Any) -> str | None:
    """What the model said instead of the answer the schema asked for, if it refused."""
    said = [
        part.refusal
        for item in response.output
        if item.type == "message"
        for part in item.content
        if part.type == "refusal"
    ]
    return "\n".join(said) if said else None


def _citations(response: Any) -> list[Citation]:
    from ..citations import Citation

    found = []
    for note in _annotations(response):
        if note.type in ("container_file_citation", "file_citation"):
            found.append(
                Citation(
                    kind=note.type,
                    filename=note.filename,
                    file_id=note.file_id,
                    index=getattr(note, "index", 0) or 0,
                    container_id=getattr(note, "container_id", "") or "",
                )
            )
    return found


def _annotations(response: Any) -> Generator[Any, None, None]:
    for item in response.output:
        if item.type == "message":
            for part in item.content:
                yield from getattr(part, "annotations", None) or ()


def _container_images(response: Any, fetch: FetchFile) -> Generator[Event, None, None]:
    """The images a code interpreter wrote and the answer cites, downloaded from its container.

    Other files it cites (a CSV, say) stay in the container: the answer names them.
    """
    seen: set[str] = set()
    for note in _annotations(response):
        if note.type != "container_file_citation" or note.file_id in seen:
            continue
        seen.add(note.file_id)
        if note.filename.lower().endswith(IMAGE_SUFFIXES):
            stem = note.filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
            try:
                data = fetch(note.container_id, note.file_id)
            except Exception as exc:  # the answer stands without its picture
                yield Notice(
                    f"could not download {note.filename} from the code "
                    f"interpreter: {type(exc).__name__}: {exc}"
                )
                continue
            yield ImageData(data, "code interpreter", stem, key=note.file_id)


def usage_of(usage: Any) -> Usage | None:
    if usage is None:
        return None
    details = getattr(usage, "input_tokens_details", None)
    return Usage(
        input_tokens=usage.input_tokens or 0,
        output_tokens=usage.output_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cached_tokens=(getattr(details, "cached_tokens", 0) or 0) if details else 0,
    )


def _error_text(code: object, message: str) -> str:
    return f"{code}: {message}" if code else message
