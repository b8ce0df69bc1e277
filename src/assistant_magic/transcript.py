"""A thread rendered as a Markdown document, for reading, sharing and ``%ask --export``.

User and assistant text go in verbatim: code, braces and dollar signs are the user's words, not
templates, so nothing here formats or escapes them.

Tool calls are the exception: each is a one-line summary (``- 🔧 `f(x=1)` → `2` (0.01 s)``)
whose arguments and output are collapsed to one line, cut to about 200 characters and set in
code spans fenced with more backticks than they contain, so no value can break the document.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from .redaction import redact
from .store import AskRecord, ThreadRecord, ToolCallRecord
from .view import seconds

__all__ = ["export", "to_markdown"]

UNTITLED = "Untitled thread"
#: Arguments and outputs longer than this are cut, with "…".
SHOWN_MAX = 200

ToolCalls = Mapping[int, Sequence[ToolCallRecord]]


def to_markdown(
    thread: ThreadRecord, asks: Sequence[AskRecord], tool_calls: ToolCalls | None = None
) -> str:
    """Title, one metadata line, then ``## You`` / ``## Assistant`` sections per ask.

    ``tool_calls`` maps ask ids to their calls (as `Store.thread_tool_calls` returns them);
    they are listed under the ask's ``## Assistant`` heading, before the answer.
    """
    blocks = [f"# {thread.title or UNTITLED}", _metadata_line(thread)]
    for ask in asks:
        calls = tool_calls.get(ask.id, ()) if tool_calls is not None else ()
        blocks.extend(_ask_blocks(thread, ask, calls))
    return "\n\n".join(blocks) + "\n"


def export(
    thread: ThreadRecord,
    asks: Sequence[AskRecord],
    path: str | os.PathLike[str],
    tool_calls: ToolCalls | None = None,
) -> Path:
    """Write the transcript as UTF-8 (``\\n`` line ends on every OS) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Redacted again on the way out: a store written by an older version may hold a secret.
    text = redact(to_markdown(thread, asks, tool_calls))
    target.write_text(text, encoding="utf-8", newline="\n")
    return target


def _metadata_line(thread: ThreadRecord) -> str:
    parts = [f"Thread `{thread.id}`"]
    if thread.remote_id:
        parts.append(f"server `{thread.remote_id}`")
    parts += [f"model `{thread.model}`", thread.dialect, f"created {_local_iso(thread.created)}"]
    return " · ".join(parts)


def _local_iso(timestamp: float) -> str:
    # The reader's wall clock, with its offset, so the time is unambiguous once shared.
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _ask_blocks(thread: ThreadRecord, ask: AskRecord, calls: Sequence[ToolCallRecord]) -> list[str]:
    heading = "## Assistant"
    if ask.model and ask.model != thread.model:
        heading += f" ({ask.model})"
    blocks = ["## You", _body(ask.user_text), heading]
    if calls:
        blocks.append("\n".join(_tool_call_line(c) for c in sorted(calls, key=lambda c: c.seq)))
    note = _status_note(ask)
    if note:
        blocks.append(note)
    if ask.answer_text.strip():
        blocks.append(_body(ask.answer_text))
    return blocks


def _body(text: str) -> str:
    # Only surrounding blank lines go: the first line's indentation may be code.
    return text.strip("\r\n")


def _status_note(ask: AskRecord) -> str | None:
    """An italic line saying why the answer is missing or partial; None when it is complete."""
    if ask.status == "completed":
        return None
    if ask.status == "pending":
        return "*no answer yet*"
    if ask.status == "failed":
        # Collapsed to one line: a newline would end the italics.
        error = " ".join((ask.error or "").split())
        return f"*failed: {error}*" if error else "*failed*"
    partial = "partial answer" if ask.answer_text.strip() else "no answer"
    return f"*{ask.status} — {partial}*"


# -- tool calls ---------------------------------------------------------------------------


def _tool_call_line(call: ToolCallRecord) -> str:
    """``- 🔧 `name(key=value)` → result (seconds)``, on one line whatever the values hold."""
    call_text = f"{_one_line(call.name)}({_shorten(_arguments(call.arguments))})"
    line = f"- 🔧 {_code(call_text)} → "
    output = _shorten(_one_line(call.output))
    if call.status == "ok":
        line += _code(output) if output else "(empty)"
    elif call.status == "error":
        line += f"error: {_code(output)}" if output else "error"
    elif call.status == "denied":
        line += "denied by the user"
    elif call.status == "pending":
        line += "no result yet"
    else:  # "interrupted", or a status added after this was written
        line += call.status
    if call.duration is not None and call.status != "denied":
        line += f" ({seconds(call.duration)})"
    return line


def _arguments(raw: str) -> str:
    """``key=value, ...`` with values as JSON literals; the raw text if it is not JSON."""
    try:
        parsed = json.loads(raw)
        if not isinstance(parsed, dict):
            return _json(parsed)
        return ", ".join(
            f"{key if key.isidentifier() else _json(key)}={_json(value)}"
            for key, value in parsed.items()
        )
    except (ValueError, RecursionError):  # deep nesting overflows json's recursion
        return _one_line(raw)


def _json(value: object) -> str:
    # json.dumps escapes every control character, so the result is always one line.
    return json.dumps(value, ensure_ascii=False)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str) -> str:
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 1].rstrip() + "…"


def _code(text: str) -> str:
    """A code span that ``text`` cannot close: the fence is longer than any backtick run in it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    # CommonMark strips one space from each end, so padding keeps edge backticks apart.
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"
