"""The small vocabulary every backend speaks while a turn runs.

Backends turn wire formats into these events; the session routes them to the view and the store.
Nothing here knows HTTP or IPython.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

#: Run status as the user sees it. It follows the Responses API's ``status`` (and the seed's run
#: status); ``interrupted`` is ours: the user stopped the turn from the notebook.
Status: TypeAlias = Literal[
    "starting",
    "queued",
    "in_progress",
    "completed",
    "failed",
    "incomplete",
    "cancelled",
    "interrupted",
]

FINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "failed", "incomplete", "cancelled", "interrupted"}
)


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0


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
class TurnFinished:
    """The last event of a turn: what the server finally said about it."""

    status: Status
    text: str
    response_id: str | None = None
    usage: Usage | None = None
    error: str | None = None
    model: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


Event: TypeAlias = ResponseStarted | StatusChanged | TextDelta | UsageReported | TurnFinished
