"""The small vocabulary every dialect speaks while an ask runs.

Backends ask wire formats into these events; the ask routes them to the view and the store.
Nothing here knows HTTP or IPython.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

#: Run status as the user sees it. It follows the Responses API's ``status`` (and the seed's run
#: status); ``interrupted`` is ours: the user stopped the ask from the notebook.
Status: TypeAlias = Literal[
    "starting",
    "queued",
    "in_progress",
    "requires_action",
    "calling_tools",
    "completed",
    "failed",
    "incomplete",
    "cancelling",
    "cancelled",
    "expired",
    "interrupted",
]

FINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "failed", "incomplete", "cancelled", "expired", "interrupted"}
)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        """Two requests' usage together (an ask's rounds, a thread's asks)."""
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(frozen=True)
class ResponseStarted:
    """The server accepted the request and named the response."""

    response_id: str
    model: str


@dataclass(frozen=True)
class StatusChanged:
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class UsageReported:
    usage: Usage


@dataclass(frozen=True)
class ToolCallRequested:
    """The model asks for a call; `arguments` is its raw JSON text, possibly invalid."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ApprovalRequested:
    """A call that the server makes itself (a hosted MCP tool) once the client approves it."""

    request_id: str
    server: str
    name: str
    arguments: str
    #: What the server's tool list said of the tool: True destructive, False not, None unknown.
    destructive: bool | None = None


@dataclass(frozen=True)
class ToolCallDelta:
    """Part of a call's arguments while the model is still writing them."""

    call_id: str
    name: str
    delta: str


@dataclass(frozen=True)
class ToolCallStarted:
    call_id: str
    name: str
    display: str  # how the call reads to a person: calc_strength(name='Mamezou')


@dataclass(frozen=True)
class ToolCallFinished:
    call_id: str
    name: str
    display: str
    status: Literal["ok", "error", "denied", "interrupted"]
    output: str  # exactly what the model receives
    duration: float | None = None
    note: str = ""  # for the user, where the output is written for the model
    images: tuple[Any, ...] = ()  # pictures the tool returned (`AssistantImage`s)


@dataclass(frozen=True)
class ImageData:
    """An image the model made, still undecoded: bytes, or base64 text as the wire carried it.

    Only the images module decodes images; the rounds hands these to it.
    """

    data: bytes | str
    source: str  # "image generation", "code interpreter", "tool calc_chart"
    name: str  # a readable base name: "chart", "image-1"
    #: Groups the partial previews of one image with the final image (the output item's id).
    key: str = ""
    partial: bool = False


@dataclass(frozen=True)
class ImageShown:
    """A decoded, validated image, ready to show (an `AssistantImage`)."""

    image: Any
    key: str = ""
    partial: bool = False


@dataclass(frozen=True)
class TableShown:
    """A table a tool returned (a pandas DataFrame or Series), shown to the user as it is."""

    value: Any
    title: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know about this ask (a tool changed, a limit was hit)."""

    text: str


@dataclass(frozen=True)
class ResponseFinished:
    """The last event of one model response: what the server finally said about it.

    When the model asked for tools, `tool_calls` lists them and the ask goes on.
    """

    status: Status
    text: str
    response_id: str | None = None
    usage: Usage | None = None
    error: str | None = None
    model: str | None = None
    tool_calls: tuple[ToolCallRequested, ...] = ()
    #: What the model said instead of an answer in the schema asked for (a refusal).
    refusal: str | None = None
    #: Calls of hosted MCP tools that wait for the client's approval.
    approvals: tuple[ApprovalRequested, ...] = ()


Event: TypeAlias = (
    ResponseStarted
    | StatusChanged
    | TextDelta
    | UsageReported
    | ToolCallDelta
    | ToolCallRequested
    | ToolCallStarted
    | ToolCallFinished
    | ImageData
    | ImageShown
    | TableShown
    | Notice
    | ResponseFinished
)
