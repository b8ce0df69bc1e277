"""A response's events as JSON and back: what a recording holds.

Only what a dialect yields is recorded (the response's start, status, text, tool calls,
images, usage, notices and its end); a run of text deltas is kept as one, since the replay
shows the answer at once. Bytes (images) go as base64.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from .. import events as ev
from ..events import Event, ResponseFinished, TextDelta, ToolCallRequested, Usage

#: The events a recording may hold, by name.
KINDS: dict[str, type] = {
    kind.__name__: kind
    for kind in (
        ev.ResponseStarted,
        ev.StatusChanged,
        ev.TextDelta,
        ev.UsageReported,
        ev.ToolCallDelta,
        ev.ToolCallStarted,  # a dialect yields these for calls its server made (hosted MCP)
        ev.ToolCallFinished,
        ev.ImageData,
        ev.Notice,
        ev.ResponseFinished,
    )
}


def encode(events: list[Event]) -> list[dict[str, Any]]:
    """The events as JSON-ready dicts, runs of text joined."""
    joined: list[Event] = []
    for event in events:
        if isinstance(event, TextDelta) and joined and isinstance(joined[-1], TextDelta):
            joined[-1] = TextDelta(joined[-1].text + event.text)
        elif type(event).__name__ in KINDS:
            joined.append(event)
    return [{"kind": type(event).__name__, **_plain(asdict(event))} for event in joined]


def decode(records: list[dict[str, Any]]) -> list[Event]:
    """The events again; `ValueError` for a record that is not one."""
    return [_event(dict(record)) for record in records]


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _event(record: dict[str, Any]) -> Event:
    kind = KINDS.get(str(record.pop("kind", "")))
    if kind is None:
        raise ValueError("not a recorded event")
    if kind is ev.UsageReported:
        return ev.UsageReported(Usage(**record["usage"]))
    if kind is ResponseFinished:
        usage = record.get("usage")
        calls = tuple(ToolCallRequested(**call) for call in record.get("tool_calls") or ())
        approvals = tuple(ev.ApprovalRequested(**a) for a in record.get("approvals") or ())
        return ResponseFinished(
            **{
                **record,
                "usage": Usage(**usage) if usage else None,
                "tool_calls": calls,
                "approvals": approvals,
            }
        )
    if kind is ev.ImageData and isinstance(record.get("data"), dict):
        record["data"] = base64.b64decode(record["data"]["base64"])
    if kind is ev.ToolCallFinished:
        record["images"] = ()  # a server's call shows no pictures of its own
    names = {f.name for f in fields(kind)} if is_dataclass(kind) else set()
    return kind(**{name: value for name, value in record.items() if name in names})
