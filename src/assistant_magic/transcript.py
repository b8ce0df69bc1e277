"""A thread rendered as a Markdown document, for reading, sharing and ``%ask --export``.

User and assistant text go in verbatim: code, braces and dollar signs are the user's words, not
templates, so nothing here formats or escapes them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from assistant_magic.store import ThreadRecord, TurnRecord

__all__ = ["export", "to_markdown"]

UNTITLED = "Untitled thread"


def to_markdown(thread: ThreadRecord, turns: Sequence[TurnRecord]) -> str:
    """Title, one metadata line, then ``## You`` / ``## Assistant`` sections per turn."""
    blocks = [f"# {thread.title or UNTITLED}", _metadata_line(thread)]
    for turn in turns:
        blocks.extend(_turn_blocks(thread, turn))
    return "\n\n".join(blocks) + "\n"


def export(thread: ThreadRecord, turns: Sequence[TurnRecord], path: str | os.PathLike[str]) -> Path:
    """Write the transcript as UTF-8 (``\\n`` line ends on every OS) and return its path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(to_markdown(thread, turns), encoding="utf-8", newline="\n")
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


def _turn_blocks(thread: ThreadRecord, turn: TurnRecord) -> list[str]:
    heading = "## Assistant"
    if turn.model and turn.model != thread.model:
        heading += f" ({turn.model})"
    blocks = ["## You", _body(turn.user_text), heading]
    note = _status_note(turn)
    if note:
        blocks.append(note)
    if turn.answer_text.strip():
        blocks.append(_body(turn.answer_text))
    return blocks


def _body(text: str) -> str:
    # Only surrounding blank lines go: the first line's indentation may be code.
    return text.strip("\r\n")


def _status_note(turn: TurnRecord) -> str | None:
    """An italic line saying why the answer is missing or partial; None when it is complete."""
    if turn.status == "completed":
        return None
    if turn.status == "pending":
        return "*no answer yet*"
    if turn.status == "failed":
        # Collapsed to one line: a newline would end the italics.
        error = " ".join((turn.error or "").split())
        return f"*failed: {error}*" if error else "*failed*"
    partial = "partial answer" if turn.answer_text.strip() else "no answer"
    return f"*{turn.status} — {partial}*"
