"""Tool calls a server passed on as text.

Small local models write a tool call as JSON, and servers that cannot parse their format
(llama-cpp-python with most chat formats) hand it over as the answer's text:
``{"name": "calc_strength", "arguments": {"name": "Mamezou"}}``, alone, in a ```json fence or
in ``<tool_call>`` tags. An answer that is exactly such a call of an offered tool is taken as
that call; its arguments are then checked like any call's. While an answer could still be one,
its text is held back, so a call never flashes by as an answer; anything else streams as it
comes.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Collection, Generator, Iterable
from dataclasses import replace

from ..events import Event, ResponseFinished, TextDelta, ToolCallRequested

#: How an answer that is a call may begin (a prefix of one of these, once stripped).
_OPENINGS = ("{", "```json", "```\n{", "<tool_call>")
#: Characters after which an answer's opening can no longer change whether it may be a call.
_DECIDED = max(len(opening) for opening in _OPENINGS)
_WRAPPED = re.compile(r"^(?:```(?:json)?\s*|<tool_call>\s*)(.*?)(?:\s*```|\s*</tool_call>)?$", re.S)


def textual_calls(
    events: Iterable[Event], offered: Collection[str]
) -> Generator[Event, None, None]:
    """`events`, with an answer that is exactly a call of an `offered` tool made that call."""
    held: list[TextDelta] = []
    holding = bool(offered)
    start: str | None = (
        ""  # the held text, until its first characters decide whether it may be a call
    )
    for event in events:
        if holding and isinstance(event, TextDelta):
            held.append(event)
            if start is not None:
                start += event.text
                if not _may_be_call(start):
                    holding = False
                    yield from held
                    held = []
                elif len(start.lstrip()) >= _DECIDED:
                    start = None  # it opens as a call does: held to the end of the answer
            continue
        if isinstance(event, ResponseFinished) and held:
            call = None if event.tool_calls else call_in(event.text, offered)
            held, release = [], held
            if call is not None:
                yield call
                yield replace(event, text="", tool_calls=(call,))
                continue
            yield from release
        yield event
    yield from held


def call_in(text: str, offered: Collection[str]) -> ToolCallRequested | None:
    """The call `text` is, if it is exactly one JSON call of an offered tool."""
    body = text.strip()
    wrapped = _WRAPPED.match(body)
    if wrapped:
        body = wrapped.group(1).strip()
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(parsed, dict) or set(parsed) - {"name", "arguments", "parameters"}:
        return None
    name = parsed.get("name")
    arguments = parsed.get("arguments", parsed.get("parameters", {}))
    if not isinstance(name, str) or name not in offered:
        return None
    # Some models write the arguments as JSON text already.
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCallRequested(f"call_{uuid.uuid4().hex[:24]}", name, raw)


def _may_be_call(text: str) -> bool:
    start = text.lstrip()
    return not start or any(
        start.startswith(opening) or opening.startswith(start) for opening in _OPENINGS
    )
