"""A dialect that plays a script in-process: asks and their tool rounds run with no HTTP.

Tests of what happens around the wire (the rounds, budgets, the store, the views, the Python
API) use it; what goes over the wire is tested against the scripted server. It speaks like the
Chat Completions dialect: the server keeps nothing, so each request carries the thread
(`ResponseRequest.history`), which tests can read in `requests`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Generator, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from assistant_magic.dialects.interface import ResponseRequest
from assistant_magic.events import (
    Event,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallDelta,
    ToolCallRequested,
    Usage,
    UsageReported,
)
from assistant_magic.settings import Settings
from assistant_magic.testing import FunctionCall, Text, ToolCalls

Reply = Text | ToolCalls | FunctionCall


@dataclass
class FakeDialect:
    """Plays `replies` in order, one per model response; an empty script echoes the question."""

    settings: Settings
    replies: list[Reply] = field(default_factory=list)
    #: Every request, as the ask sent it.
    requests: list[ResponseRequest] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    closed: bool = False
    name: ClassVar[str] = "fake"
    _ids: Iterable[int] = field(default_factory=itertools.count)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        self.requests.append(request)
        reply = self.replies.pop(0) if self.replies else Text(f"echo: {request.user_text}")
        response_id = f"resp_{next(self._ids)}"  # type: ignore[call-overload]
        yield ResponseStarted(response_id, request.model)
        yield StatusChanged("in_progress")
        if isinstance(reply, Text):
            yield from self._text(reply, request, response_id)
        else:
            yield from self._calls(reply, request, response_id)

    def _text(
        self, reply: Text, request: ResponseRequest, response_id: str
    ) -> Generator[Event, None, None]:
        for piece in reply.pieces:
            yield TextDelta(piece)
        usage = _usage(request, reply.text)
        yield UsageReported(usage)
        yield ResponseFinished(
            "completed", reply.text, response_id, usage=usage, model=request.model
        )

    def _calls(
        self, reply: ToolCalls | FunctionCall, request: ResponseRequest, response_id: str
    ) -> Generator[Event, None, None]:
        calls = reply.calls if isinstance(reply, ToolCalls) else [reply]
        text = reply.text if isinstance(reply, ToolCalls) else ""
        if text:
            yield TextDelta(text)
        requested = []
        for index, call in enumerate(calls):
            call_id = call.call_id or f"call_{response_id}_{index}"
            yield ToolCallDelta(call_id, call.name, call.arguments_text)
            requested.append(ToolCallRequested(call_id, call.name, call.arguments_text))
        usage = _usage(request, text + json.dumps([c.arguments_text for c in calls]))
        yield UsageReported(usage)
        yield ResponseFinished(
            "completed",
            text,
            response_id,
            usage=usage,
            model=request.model,
            tool_calls=tuple(requested),
        )

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        return [("FAKE", {"model": request.model, "input": request.user_text})]

    def cancel(self, response_id: str) -> None:
        self.cancelled.append(response_id)

    def close(self) -> None:
        self.closed = True


def _usage(request: ResponseRequest, output: str) -> Usage:
    """About four characters a token, as a rough server counts."""
    given = sum(len(past.user_text) + len(past.answer) for past in request.history or ()) // 4 + 1
    written = len(output) // 4 + 1
    return Usage(given, written, given + written)
