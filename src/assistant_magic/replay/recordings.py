"""Where recordings live: the store (every response recorded, by key), and a file that carries
the ones a notebook used to another machine (`%assistant replay export`): JSON lines, a header
line first, no key or secret inside (every text is redacted on the way out).

The file also carries the answers of the jobs over rows the notebook ran (`%%ask --each`),
which the store keeps by request key (`rows.cache`), so a notebook with jobs runs offline too.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import AssistantError
from ..redaction import redact
from ..store_file import StoreFile
from .keys import key, upgraded

FILE_FORMAT, FILE_VERSION = "assistant-magic-replay", 3
#: Versions this package reads (1 had no rows; before 3, a Chat Completions recording's key
#: held its whole thread, so those recordings are not found: their asks go live once).
READABLE_VERSIONS = (1, 2, 3)


@dataclass(frozen=True)
class Recording:
    """One response as it was: what its request was made of, and the events it gave."""

    key: str
    parent: str
    dialect: str
    model: str
    request: dict[str, Any]
    events: list[dict[str, Any]]
    created: float


@dataclass(frozen=True)
class RowRecording:
    """A job's answer for one request key, as `rows.cache.Cached` keeps it."""

    key: str
    answer: str
    model: str
    #: Input, output and total tokens.
    usage: tuple[int, int, int] = (0, 0, 0)


@dataclass(frozen=True)
class ReplayFile:
    """What a recordings file holds: responses by key, and rows' answers by request key."""

    recordings: dict[str, Recording]
    rows: dict[str, RowRecording]


def upgraded_recording(recording: Recording) -> Recording:
    """A recording keyed as before version 3 (a Chat Completions one held its whole thread),
    keyed as now: what it answers is unchanged, only how its request is named."""
    parts = upgraded(recording.request) if recording.dialect == "chat" else None
    if parts is None:
        return recording
    return replace(recording, key=key(parts, recording.parent), request=parts)


def rekey_chat_recordings(conn: sqlite3.Connection) -> None:
    """The store's step to version 11: its Chat Completions recordings keyed as now."""
    rows = conn.execute(f"SELECT {_COLUMNS} FROM recordings WHERE dialect = 'chat'").fetchall()
    for row in rows:
        old = _recording(row)
        new = upgraded_recording(old)
        if new.key != old.key:
            conn.execute(
                "UPDATE OR IGNORE recordings SET key = ?, request = ? WHERE key = ?",
                (new.key, json.dumps(new.request), old.key),
            )


class RecordingError(AssistantError):
    """A recordings file that cannot be read (damaged, or not one)."""


class Recordings(StoreFile):
    """Recordings in the store's file."""

    def get(self, key: str) -> Recording | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM recordings WHERE key = ?", (key,))
        return _recording(rows[0]) if rows else None

    def children(self, parent: str) -> list[Recording]:
        """The recordings that followed `parent` on a thread, newest first."""
        rows = self._read(
            f"SELECT {_COLUMNS} FROM recordings WHERE parent = ? ORDER BY created DESC LIMIT 20",
            (parent,),
        )
        return [_recording(row) for row in rows]

    def all(self) -> list[Recording]:
        """Every recording, oldest first."""
        rows = self._read(f"SELECT {_COLUMNS} FROM recordings ORDER BY created")
        return [_recording(row) for row in rows]

    def add(self, recording: Recording) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO recordings ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    recording.key,
                    recording.parent,
                    recording.dialect,
                    recording.model,
                    json.dumps(recording.request),
                    json.dumps(recording.events),
                    recording.created,
                ),
            )

    def head(self, thread: str) -> str | None:
        """The key of the last response recorded or replayed on `thread` (a server's id)."""
        rows = self._read("SELECT head FROM replay_heads WHERE thread = ?", (thread,))
        return str(rows[0][0]) if rows else None

    def set_head(self, thread: str, key: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO replay_heads (thread, head, updated) VALUES (?, ?, ?)",
                (thread, key, time.time()),
            )


_COLUMNS = "key, parent, dialect, model, request, events, created"


def _recording(row: tuple[Any, ...]) -> Recording:
    key, parent, dialect, model, request, events, created = row
    return Recording(key, parent, dialect, model, json.loads(request), json.loads(events), created)


def export(
    recordings: Iterable[Recording], path: str | Path, rows: Iterable[RowRecording] = ()
) -> int:
    """Write `recordings` (and rows' answers) to `path`; how many recordings were written."""
    lines = [json.dumps({"format": FILE_FORMAT, "version": FILE_VERSION, "at": time.time()})]
    count = 0
    for recording in recordings:
        lines.append(redact(json.dumps(asdict(recording), ensure_ascii=False)))
        count += 1
    for row in rows:
        lines.append(redact(json.dumps({"row": asdict(row)}, ensure_ascii=False)))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return count


def load(path: str | Path) -> ReplayFile:
    """What a recordings file holds; `RecordingError` (one line) if it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RecordingError(
            f"Cannot read the recordings file {path}: {exc.strerror or exc}; check "
            "$ASSISTANT_MAGIC_REPLAY_FILE or AssistantMagics.replay_file."
        ) from None
    lines = text.splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
        if header.get("format") != FILE_FORMAT or header.get("version") not in READABLE_VERSIONS:
            raise ValueError("no header")
        found: dict[str, Recording] = {}
        rows: dict[str, RowRecording] = {}
        for line in lines[1:]:
            if line.strip():
                record = json.loads(line)
                if "row" in record:
                    row = record["row"]
                    rows[row["key"]] = RowRecording(**{**row, "usage": tuple(row["usage"])})
                else:
                    recording = Recording(**record)
                    if header["version"] < 3:
                        recording = upgraded_recording(recording)
                    found[recording.key] = recording
    except (ValueError, TypeError, AttributeError):
        raise RecordingError(
            f"{path} is not a recordings file of this version (damaged, or another file): "
            "export it again with %assistant replay export."
        ) from None
    return ReplayFile(found, rows)
