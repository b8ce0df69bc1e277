"""Reading a Responses API stream: the server's events as the ask's `events`, ending with one
`ResponseFinished` (the answer with its citations, the calls asked for, the approvals waited
for, the usage)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any

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
from .responses_mcp import Listed, approvals_of, item_events

if TYPE_CHECKING:
    from ..citations import Citation

FINAL_EVENTS = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}
STATUS_EVENTS = {"response.queued": "queued", "response.in_progress": "in_progress"}


class RawEvent:
    """A stream event as the server sent it, read by attribute like the SDK's model of it:
    its kind, and for a delta, the text and the item it adds to."""

    __slots__ = ("delta", "item_id", "type")

    def __init__(self, data: dict[str, Any]) -> None:
        self.type: str = data.get("type") or ""
        self.delta: str = data.get("delta") or ""
        self.item_id: str = data.get("item_id") or ""


def sdk_events(stream: Iterable[Any]) -> Iterator[Any]:
    """The stream's events: the SDK's model of those whose content `translate` reads (built
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


def translate(stream: Any, fetch: FetchFile, listed: Listed) -> Generator[Event, None, None]:
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
