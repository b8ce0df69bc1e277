"""A local SQLite record of every thread and turn, whatever the wire dialect.

With the Responses API the conversation itself lives on the server; this store keeps what the
user needs locally: which threads exist, where they came from, what was asked and answered, so
threads can be listed, resumed after a kernel restart, exported and retried. Dialects that keep no
server-side history (Chat Completions) will rebuild their requests from the turns stored here.

One file is shared by every kernel of the user (WAL + ``busy_timeout``), and the connection is
opened on first use so that loading the extension costs no disk access. The schema is versioned
with ``PRAGMA user_version``: ``MIGRATIONS`` is an append-only list of steps, and step ``n``
brings a database from version ``n - 1`` to ``n``.

Version 2 adds ``tool_calls``: every call of a notebook function the model asked for during a
turn, with its raw arguments and the output sent back, in the order the calls were made, so that a
dialect without server-side history can replay them exactly.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from assistant_magic.errors import AssistantError, StoreError
from assistant_magic.events import FINAL_STATUSES, Usage
from assistant_magic.interrupts import deferred_interrupts
from assistant_magic.redaction import redact

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "TOOL_CALL_FINAL_STATUSES",
    "FileRecord",
    "Store",
    "ThreadRecord",
    "ToolCallRecord",
    "TurnRecord",
    "make_title",
]

#: Environment variable that moves the store (tests, shared machines, per-project stores).
STORE_ENV = "ASSISTANT_MAGIC_STORE"

TITLE_MAX = 60
PENDING = "pending"
#: How a tool call can end; until then it is `PENDING`.
TOOL_CALL_FINAL_STATUSES: frozenset[str] = frozenset({"ok", "error", "denied", "interrupted"})
#: How every SQLite database file begins.
SQLITE_HEADER = b"SQLite format 3\x00"
#: How long a write waits for another kernel's transaction before giving up.
BUSY_TIMEOUT_S = 5.0

#: Append-only: never edit a released step, add a new one. Each step runs in one transaction
#: together with the ``user_version`` bump, so a crash leaves the database at a whole version.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        """
        CREATE TABLE threads (
            id        TEXT PRIMARY KEY,
            title     TEXT NOT NULL DEFAULT '',
            model     TEXT NOT NULL,
            dialect   TEXT NOT NULL,
            base_url  TEXT NOT NULL,
            remote_id TEXT,
            notebook  TEXT NOT NULL,
            created   REAL NOT NULL,
            updated   REAL NOT NULL
        )
        """,
        "CREATE INDEX threads_by_updated ON threads (updated)",
        "CREATE INDEX threads_by_notebook ON threads (notebook, updated)",
        "CREATE INDEX threads_by_remote_id ON threads (remote_id)",
        """
        CREATE TABLE turns (
            id            INTEGER PRIMARY KEY,
            thread_id     TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL,
            user_text     TEXT NOT NULL,
            answer_text   TEXT NOT NULL DEFAULT '',
            model         TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'pending',
            response_id   TEXT,
            error         TEXT,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            total_tokens  INTEGER,
            cached_tokens INTEGER,
            started       REAL NOT NULL,
            finished      REAL,
            UNIQUE (thread_id, seq)
        )
        """,
    ),
    # 2: tool calls. Statuses are checked in Python, not by a CHECK constraint, so that a new
    # status never needs a table rebuild (SQLite cannot alter a constraint).
    (
        """
        CREATE TABLE tool_calls (
            id        INTEGER PRIMARY KEY,
            turn_id   INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            round     INTEGER NOT NULL,
            seq       INTEGER NOT NULL,
            call_id   TEXT NOT NULL,
            name      TEXT NOT NULL,
            arguments TEXT NOT NULL,
            output    TEXT NOT NULL DEFAULT '',
            status    TEXT NOT NULL DEFAULT 'pending',
            duration  REAL,
            started   REAL NOT NULL,
            finished  REAL
        )
        """,
        # Also serves the ON DELETE CASCADE from turns.
        "CREATE UNIQUE INDEX tool_calls_by_turn ON tool_calls (turn_id, seq)",
        "CREATE UNIQUE INDEX tool_calls_by_call_id ON tool_calls (turn_id, round, call_id)",
    ),
    # 3: files uploaded to the server for a thread (attachments), so they can be listed and
    # deleted with it. A file outlives the turn that sent it, so only the thread cascades.
    (
        """
        CREATE TABLE files (
            id        INTEGER PRIMARY KEY,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            file_id   TEXT NOT NULL,
            filename  TEXT NOT NULL,
            purpose   TEXT NOT NULL,
            size      INTEGER NOT NULL,
            created   REAL NOT NULL
        )
        """,
        "CREATE INDEX files_by_thread ON files (thread_id, id)",
        "CREATE INDEX files_by_file_id ON files (file_id)",
    ),
    # 4: the vector store that file search reads for a thread.
    ("ALTER TABLE threads ADD COLUMN vector_store_id TEXT",),
    # 5: the assistant an Assistants-API thread runs with, and whether this package made it
    # (only then does cleaning up delete it).
    (
        "ALTER TABLE threads ADD COLUMN assistant_id TEXT",
        "ALTER TABLE threads ADD COLUMN assistant_owned INTEGER NOT NULL DEFAULT 0",
    ),
]

SCHEMA_VERSION = len(MIGRATIONS)

_THREAD_COLUMNS = (
    "id, title, model, dialect, base_url, remote_id, notebook, created, updated, vector_store_id,"
    " assistant_id, assistant_owned"
)
_TURN_COLUMNS = (
    "id, thread_id, seq, user_text, answer_text, model, status, response_id, error,"
    " input_tokens, output_tokens, total_tokens, cached_tokens, started, finished"
)
#: Qualified: tool calls are read joined with their turns (``c`` and ``t``).
_TOOL_CALL_COLUMNS = (
    "c.id, c.turn_id, c.round, c.seq, c.call_id, c.name, c.arguments, c.output, c.status,"
    " c.duration, c.started, c.finished"
)
#: Fields ``update_thread`` may change; id and timestamps belong to the store.
_UPDATABLE = frozenset(
    {"title", "model", "dialect", "base_url", "remote_id", "notebook", "vector_store_id"}
    | {"assistant_id", "assistant_owned"}
)
_AMBIGUOUS_SHOWN = 5


@dataclass(frozen=True)
class ThreadRecord:
    id: str
    """Local id, ``th_`` + 12 hex chars: the id users see and type."""
    title: str
    """First user message on one line (see `make_title`); ``""`` until the first turn."""
    model: str
    dialect: str
    """``"responses"``, ``"chat"`` or ``"assistants"``."""
    base_url: str
    remote_id: str | None
    """Server-side id (``conv_...``, ``thread_...``); None for dialects that keep history
    locally."""
    notebook: str
    """Key of the notebook the thread was created in (a path or ``ipython:<cwd>``)."""
    created: float
    updated: float
    vector_store_id: str | None = None
    """The server-side vector store file search reads for this thread, once it has one."""
    assistant_id: str | None = None
    """Assistants API: the assistant the thread's runs use (``asst_...``)."""
    assistant_owned: bool = False
    """Whether this package created that assistant (and so may delete it)."""


@dataclass(frozen=True)
class TurnRecord:
    id: int
    thread_id: str
    seq: int
    """1, 2, ... within the thread."""
    user_text: str
    answer_text: str
    model: str
    status: str
    """``pending`` until finished, then one of `events.FINAL_STATUSES`."""
    response_id: str | None
    error: str | None
    usage: Usage | None
    started: float
    finished: float | None


@dataclass(frozen=True)
class ToolCallRecord:
    id: int
    turn_id: int
    round: int
    """1, 2, ...: the model step within the turn that asked for the call."""
    seq: int
    """1, 2, ... within the turn, across rounds; assigned by the store."""
    call_id: str
    """The model's id for the call (``call_...``); unique within the turn."""
    name: str
    arguments: str
    """The JSON text the model sent, verbatim (it may not be valid JSON)."""
    output: str
    """The text sent back to the model; ``""`` while pending."""
    status: str
    """``pending``, then one of `TOOL_CALL_FINAL_STATUSES`."""
    duration: float | None
    """Seconds the function ran; None if it did not run (denied) or was not timed."""
    started: float
    finished: float | None


@dataclass(frozen=True)
class FileRecord:
    """A file attached on a thread: uploaded to the server, or an image sent inline."""

    id: int
    thread_id: str
    file_id: str
    """The server's id (``file-...``); ``""`` for an image sent inline (nothing to delete)."""
    filename: str
    purpose: str
    size: int
    created: float


def make_title(text: str) -> str:
    """First non-empty line of ``text``, whitespace collapsed, at most 60 chars."""
    line = next((" ".join(ln.split()) for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= TITLE_MAX:
        return line
    return line[: TITLE_MAX - 1].rstrip() + "…"


def new_thread_id() -> str:
    import uuid  # here: uuid pulls in `platform`, a few ms on every extension load

    return "th_" + uuid.uuid4().hex[:12]


class Store:
    """Threads and turns in one SQLite file, safe to share between kernels and threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        #: (device, inode) of the file the connection has open: a file deleted or replaced
        #: under a live connection takes every later write with it, so it is checked.
        self._identity: tuple[int, int] | None = None
        # One connection for the kernel; a widget timer thread may read while a turn writes.
        self._lock = threading.RLock()
        self._last_time = 0.0

    def __repr__(self) -> str:
        return f"Store({self.path!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def default_path() -> Path:
        override = os.environ.get(STORE_ENV)
        if override:
            return Path(override).expanduser()
        # Imported here so that importing the store stays cheap.
        import platformdirs

        return platformdirs.user_data_path("assistant-magic") / "threads.sqlite3"

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    # -- connection -----------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(
                    f"cannot open the thread store {self.path}: {exc}"
                    f" (set {STORE_ENV} to use another file)"
                ) from None
            self._identity = self._file_identity()
        return self._conn

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path == ":memory:":
            return None
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def _header_intact(self) -> bool:
        """Whether the file still starts as a database: SQLite itself may read its first page
        from the WAL, and so not notice the file overwritten in place until it is too late."""
        try:
            with open(self.path, "rb") as file:
                start = file.read(len(SQLITE_HEADER))
        except OSError:
            return False
        return start in (SQLITE_HEADER, b"")  # an empty file is a database not yet written

    def check_file(self) -> None:
        """Raise `StoreError` if the file this store has open was deleted or replaced since.

        Writes would go on "succeeding" into the old, unlinked file and vanish when the kernel
        exits; the caller says so instead. The next use opens whatever file is at the path now.
        """
        with self._lock:
            if self.path == ":memory:":
                return
            opened, now = self._identity, self._file_identity()
            if now is not None and not self._header_intact():
                self.close()
                raise StoreError(
                    f"The thread store {self.path} could not be read (it is not a database "
                    f"any more): {_remedy(sqlite3.DatabaseError('not a database'), self.path)}"
                )
            if self._conn is None or now == opened:
                return
            self.close()
            what = "deleted" if now is None else "replaced by another file"
        raise StoreError(
            f"The thread store {self.path} was {what} while this kernel had it open: what was "
            "recorded since is lost with the old file. The next %%ask starts a new thread in "
            f"a fresh store (set {STORE_ENV} to keep the store elsewhere)."
        )

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (see _transaction), not the module's.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL syncs at checkpoints only: a turn does not pay an fsync per write.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # A write is whole or absent: an interrupt waits until it is committed or rolled back.
        with deferred_interrupts(), self._lock, self._failures("written"):
            conn = self._connection()
            with _transaction(conn, self.path):
                yield conn

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._failures("read"):
            return self._connection().execute(sql, params).fetchall()

    @contextmanager
    def _failures(self, verb: str) -> Iterator[None]:
        """SQLite's and the disk's errors, as one line that says what to do."""
        try:
            yield
        except (sqlite3.Error, OSError, UnicodeError) as exc:
            damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.IntegrityError
            )
            if damaged or (self._conn is not None and self._conn.in_transaction):
                self.close()  # reopened at the next use, in case the file was mended meanwhile
            raise StoreError(
                f"The thread store {self.path} could not be {verb} ({_reason(exc)}): "
                f"{_remedy(exc, self.path)}"
            ) from None

    def _now(self) -> float:
        # Strictly increasing, so "newest updated first" follows the order of writes even where
        # the clock is coarse (time.time() ticks every ~16 ms on Windows).
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    def close(self) -> None:
        """Close the connection; the next call opens it again (``:memory:`` starts empty)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                    self._conn.close()
                self._conn = None
                self._identity = None

    # -- threads --------------------------------------------------------------------------

    def create_thread(
        self,
        *,
        model: str,
        dialect: str,
        base_url: str,
        notebook: str,
        remote_id: str | None = None,
        title: str = "",
    ) -> ThreadRecord:
        with self._write() as conn:
            now = self._now()
            record = ThreadRecord(
                id=new_thread_id(),
                title=redact(title),
                model=model,
                dialect=dialect,
                base_url=redact(base_url),
                remote_id=remote_id,
                notebook=notebook,
                created=now,
                updated=now,
            )
            conn.execute(
                f"INSERT INTO threads ({_THREAD_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                _thread_values(record),
            )
        return record

    def get_thread(self, key: str) -> ThreadRecord | None:
        """The thread whose local or remote id is ``key`` or starts with it.

        An exact id wins over prefixes; a prefix of several threads raises `AssistantError`.
        """
        key = key.strip()
        if not key:
            return None
        exact = self._threads_where("id = ? OR remote_id = ?", (key, key))
        if exact:
            by_local_id = [t for t in exact if t.id == key]
            return (by_local_id or exact)[0]
        matches = self._threads_where(
            "substr(id, 1, ?) = ? OR substr(remote_id, 1, ?) = ?",
            (len(key), key, len(key), key),
        )
        if len(matches) > 1:
            raise AssistantError(_ambiguous_message(key, matches))
        return matches[0] if matches else None

    def list_threads(
        self, *, notebook: str | None = None, limit: int | None = 50
    ) -> list[ThreadRecord]:
        """Threads, newest ``updated`` first, optionally only those of one notebook."""
        where, params = ("notebook = ?", (notebook,)) if notebook is not None else ("1", ())
        return self._threads_where(where, params, limit=limit)

    def latest_thread(self, notebook: str) -> ThreadRecord | None:
        found = self.list_threads(notebook=notebook, limit=1)
        return found[0] if found else None

    def update_thread(self, thread_id: str, **fields: object) -> ThreadRecord:
        """Change ``title``, ``model``, ``remote_id``, ...; always bumps ``updated``."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise TypeError(f"update_thread() cannot set {', '.join(sorted(unknown))}")
        assignments = "".join(f"{name} = ?, " for name in fields)
        values = [redact(value) if isinstance(value, str) else value for value in fields.values()]
        with self._write() as conn:
            cursor = conn.execute(
                f"UPDATE threads SET {assignments}updated = ? WHERE id = ?",
                (*values, self._now(), thread_id),
            )
            if cursor.rowcount == 0:
                raise _missing_thread(thread_id)
            # Read back inside the transaction: another thread may delete it right after.
            return self._threads_where("id = ?", (thread_id,))[0]

    def delete_thread(self, thread_id: str) -> None:
        """Delete the thread and its turns; deleting a missing thread does nothing."""
        with self._write() as conn:
            conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    def _threads_where(
        self, where: str, params: tuple[object, ...], *, limit: int | None = None
    ) -> list[ThreadRecord]:
        # rowid breaks ties so threads written in the same clock tick still list newest first.
        rows = self._read(
            f"SELECT {_THREAD_COLUMNS} FROM threads WHERE {where}"
            " ORDER BY updated DESC, rowid DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [_thread_from_row(row) for row in rows]

    # -- turns ----------------------------------------------------------------------------

    def start_turn(self, thread_id: str, user_text: str, model: str) -> TurnRecord:
        """Record a pending turn; the first one also names the thread."""
        user_text = redact(user_text)
        with self._write() as conn:
            now = self._now()
            cursor = conn.execute(
                "UPDATE threads SET updated = ?,"
                " title = CASE WHEN title = '' THEN ? ELSE title END WHERE id = ?",
                (now, make_title(user_text), thread_id),
            )
            if cursor.rowcount == 0:
                raise _missing_thread(thread_id)
            # Inside BEGIN IMMEDIATE, so another kernel cannot take the same seq meanwhile.
            (seq,) = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM turns WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            cursor = conn.execute(
                "INSERT INTO turns (thread_id, seq, user_text, model, status, started)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (thread_id, seq, user_text, model, PENDING, now),
            )
            turn_id = cursor.lastrowid
        assert turn_id is not None
        return TurnRecord(
            id=turn_id,
            thread_id=thread_id,
            seq=seq,
            user_text=user_text,
            answer_text="",
            model=model,
            status=PENDING,
            response_id=None,
            error=None,
            usage=None,
            started=now,
            finished=None,
        )

    def finish_turn(
        self,
        turn_id: int,
        *,
        status: str,
        answer_text: str,
        response_id: str | None = None,
        usage: Usage | None = None,
        error: str | None = None,
    ) -> TurnRecord:
        """Record how a turn ended; also bumps the thread's ``updated``."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final turn status: {status!r}")
        tokens = _usage_values(usage)
        answer_text, error = redact(answer_text), redact(error) if error else error
        with self._write() as conn:
            now = self._now()
            cursor = conn.execute(
                "UPDATE turns SET status = ?, answer_text = ?, response_id = ?, error = ?,"
                " input_tokens = ?, output_tokens = ?, total_tokens = ?, cached_tokens = ?,"
                " finished = ? WHERE id = ?",
                (status, answer_text, response_id, error, *tokens, now, turn_id),
            )
            if cursor.rowcount == 0:
                raise _missing_turn(turn_id)
            conn.execute(
                "UPDATE threads SET updated = ?"
                " WHERE id = (SELECT thread_id FROM turns WHERE id = ?)",
                (now, turn_id),
            )
            return self._turns_where("id = ?", (turn_id,))[0]

    def turns(self, thread_id: str, *, limit: int | None = None) -> list[TurnRecord]:
        """The thread's turns, oldest first; with ``limit``, only the last ``limit`` of them."""
        if limit is None:
            return self._turns_where("thread_id = ?", (thread_id,))
        # The last `limit` seqs, read newest first and turned back into conversation order.
        newest = self._turns_where("thread_id = ?", (thread_id,), newest_first=True, limit=limit)
        return newest[::-1]

    def last_turn(self, thread_id: str) -> TurnRecord | None:
        newest = self._turns_where("thread_id = ?", (thread_id,), newest_first=True, limit=1)
        return newest[0] if newest else None

    def message_count(self, thread_id: str) -> int:
        """User messages plus non-empty answers, as a chat UI would count bubbles."""
        (count,) = self._read(
            "SELECT COUNT(*) + COALESCE(SUM(answer_text != ''), 0) FROM turns WHERE thread_id = ?",
            (thread_id,),
        )[0]
        return int(count)

    def usage_by_model(
        self, *, thread_id: str | None = None, turn_ids: Sequence[int] | None = None
    ) -> dict[str, Usage]:
        """Tokens used, summed per model: of one thread's turns, or of the turns named."""
        params: tuple[object, ...]
        if thread_id is not None:
            where, params = "thread_id = ?", (thread_id,)
        else:
            ids = list(turn_ids or ())
            where, params = f"id IN ({', '.join('?' * len(ids))})", tuple(ids)
        rows = self._read(
            "SELECT model, SUM(input_tokens), SUM(output_tokens), SUM(total_tokens),"
            f" SUM(cached_tokens) FROM turns WHERE {where} AND total_tokens IS NOT NULL"
            " GROUP BY model ORDER BY model",
            params,
        )
        return {model: Usage(*(int(n or 0) for n in counts)) for model, *counts in rows}

    def tool_call_count(self, thread_id: str) -> int:
        """Calls of notebook functions the model made on the thread (refused ones too)."""
        (count,) = self._read(
            "SELECT COUNT(*) FROM tool_calls c JOIN turns t ON c.turn_id = t.id"
            " WHERE t.thread_id = ?",
            (thread_id,),
        )[0]
        return int(count)

    def _turns_where(
        self,
        where: str,
        params: tuple[object, ...],
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[TurnRecord]:
        order = "DESC" if newest_first else "ASC"
        rows = self._read(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE {where} ORDER BY seq {order} LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [_turn_from_row(row) for row in rows]

    # -- tool calls -----------------------------------------------------------------------

    def start_tool_call(
        self, turn_id: int, *, round: int, call_id: str, name: str, arguments: str
    ) -> ToolCallRecord:
        """Record a pending call, next in the turn's order; ``arguments`` is kept verbatim.

        Calls are recorded in the order they were made, so ``round`` never goes back to an
        earlier step, and a ``call_id`` appears once per round (some servers number their
        calls call_0, call_1, ... afresh each round): both raise `ValueError`.
        """
        if round < 1:
            raise ValueError(f"tool call rounds start at 1, not {round}")
        arguments = redact(arguments)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM turns WHERE id = ?", (turn_id,)).fetchone() is None:
                raise _missing_turn(turn_id)
            # Inside BEGIN IMMEDIATE, like the turn's seq.
            seq, last_round, reused = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1, COALESCE(MAX(round), 0),"
                " COALESCE(SUM(call_id = ? AND round = ?), 0) FROM tool_calls WHERE turn_id = ?",
                (call_id, round, turn_id),
            ).fetchone()
            if round < last_round:
                raise ValueError(
                    f"turn {turn_id} already has calls of round {last_round}; cannot add one"
                    f" to round {round}"
                )
            if reused:
                raise ValueError(
                    f"round {round} of turn {turn_id} already has a tool call {call_id!r}"
                )
            now = self._now()
            cursor = conn.execute(
                "INSERT INTO tool_calls (turn_id, round, seq, call_id, name, arguments, status,"
                " started) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (turn_id, round, seq, call_id, name, arguments, PENDING, now),
            )
            record_id = cursor.lastrowid
        assert record_id is not None
        return ToolCallRecord(
            id=record_id,
            turn_id=turn_id,
            round=round,
            seq=seq,
            call_id=call_id,
            name=name,
            arguments=arguments,
            output="",
            status=PENDING,
            duration=None,
            started=now,
            finished=None,
        )

    def finish_tool_call(
        self, record_id: int, *, status: str, output: str, duration: float | None
    ) -> ToolCallRecord:
        """Record the output sent back to the model, once: the first finish wins.

        Finishing a call again changes nothing and returns the record as stored, so an
        interrupt handler may answer a call whose result landed a moment before.
        """
        if status not in TOOL_CALL_FINAL_STATUSES:
            raise ValueError(f"not a final tool call status: {status!r}")
        output = redact(output)
        with self._write() as conn:
            row = conn.execute(
                "SELECT status FROM tool_calls WHERE id = ?", (record_id,)
            ).fetchone()
            if row is None:
                raise AssistantError(
                    f"tool call {record_id} is no longer in the thread store (deleted from"
                    " another kernel?)"
                )
            if row[0] == PENDING:  # else its output may have gone to the model: keep it
                conn.execute(
                    "UPDATE tool_calls SET status = ?, output = ?, duration = ?, finished = ?"
                    " WHERE id = ?",
                    (status, output, duration, self._now(), record_id),
                )
            return self._tool_calls_where("c.id = ?", (record_id,))[0]

    def tool_calls(self, turn_id: int) -> list[ToolCallRecord]:
        """The turn's calls in the order they were made (``seq``)."""
        return self._tool_calls_where("c.turn_id = ?", (turn_id,))

    def thread_tool_calls(self, thread_id: str) -> dict[int, list[ToolCallRecord]]:
        """Every call of the thread by turn id, turns oldest first; turns without calls are
        left out."""
        by_turn: dict[int, list[ToolCallRecord]] = {}
        for call in self._tool_calls_where("t.thread_id = ?", (thread_id,)):
            by_turn.setdefault(call.turn_id, []).append(call)
        return by_turn

    def pending_tool_calls(self, thread_id: str) -> list[ToolCallRecord]:
        """The thread's calls that never got an output (crash, interrupt), oldest first."""
        return self._tool_calls_where("t.thread_id = ? AND c.status = ?", (thread_id, PENDING))

    # -- files --------------------------------------------------------------------------

    def record_file(
        self, thread_id: str, *, file_id: str, filename: str, purpose: str, size: int
    ) -> FileRecord:
        filename = redact(filename)
        with self._write() as conn:
            now = self._now()
            cursor = conn.execute(
                "INSERT INTO files (thread_id, file_id, filename, purpose, size, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (thread_id, file_id, filename, purpose, size, now),
            )
        return FileRecord(
            int(cursor.lastrowid or 0), thread_id, file_id, filename, purpose, size, now
        )

    def files(self, thread_id: str) -> list[FileRecord]:
        """The thread's uploaded files, oldest first."""
        rows = self._read(
            "SELECT id, thread_id, file_id, filename, purpose, size, created FROM files"
            " WHERE thread_id = ? ORDER BY id",
            (thread_id,),
        )
        return [FileRecord(*row) for row in rows]

    def forget_file(self, record_id: int) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM files WHERE id = ?", (record_id,))

    def _tool_calls_where(self, where: str, params: tuple[object, ...]) -> list[ToolCallRecord]:
        rows = self._read(
            f"SELECT {_TOOL_CALL_COLUMNS} FROM tool_calls AS c JOIN turns AS t"
            f" ON t.id = c.turn_id WHERE {where} ORDER BY t.seq, c.seq",
            params,
        )
        # _TOOL_CALL_COLUMNS lists the columns in field order.
        return [ToolCallRecord(*row) for row in rows]


# -- schema -------------------------------------------------------------------------------


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database to `SCHEMA_VERSION`, one step per transaction."""
    steps = MIGRATIONS  # read at call time: tests append a step to rehearse an upgrade
    while True:
        # The write lock is taken before reading the version: two kernels opening a fresh file
        # at once must not both run step 1.
        with _transaction(conn, path):
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(steps):
                raise AssistantError(
                    f"the thread store {path} has schema version {version} but this"
                    f" assistant-magic reads up to {len(steps)}: upgrade the package"
                    " (pip install -U assistant-magic)"
                )
            if version == len(steps):
                return
            for statement in steps[version]:
                conn.execute(statement)
            # PRAGMA takes no parameters; the value is our own int.
            conn.execute(f"PRAGMA user_version = {version + 1:d}")


@contextmanager
def _transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """A write transaction: committed if the block completes, rolled back otherwise."""
    # IMMEDIATE takes the write lock up front, so a write never has to upgrade a read lock
    # (the upgrade can fail with SQLITE_BUSY at once, without waiting for busy_timeout).
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise AssistantError(
            f"the thread store {path} stayed locked by another process for"
            f" {BUSY_TIMEOUT_S:g} s; try again"
        ) from exc
    try:
        yield
        conn.execute("COMMIT")
    finally:
        # Also after a failed COMMIT, which leaves the transaction open. A damaged file may
        # refuse the rollback too: the error to report is the first one, and the caller then
        # drops the connection (see Store._failures).
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")


def _thread_values(t: ThreadRecord) -> tuple[object, ...]:
    return (
        t.id,
        t.title,
        t.model,
        t.dialect,
        t.base_url,
        t.remote_id,
        t.notebook,
        t.created,
        t.updated,
        t.vector_store_id,
        t.assistant_id,
        int(t.assistant_owned),
    )


def _thread_from_row(row: tuple[Any, ...]) -> ThreadRecord:
    # _THREAD_COLUMNS lists the columns in field order; SQLite keeps the flag as 0 or 1.
    record = ThreadRecord(*row)
    return replace(record, assistant_owned=bool(record.assistant_owned))


def _usage_values(usage: Usage | None) -> tuple[int | None, ...]:
    if usage is None:
        return (None, None, None, None)
    return (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cached_tokens)


def _turn_from_row(row: tuple[Any, ...]) -> TurnRecord:
    # _TURN_COLUMNS lists the columns in field order, with usage spread over four columns.
    id_, thread_id, seq, user_text, answer_text, model, status, response_id, error = row[:9]
    tokens, (started, finished) = row[9:13], row[13:]
    return TurnRecord(
        id=id_,
        thread_id=thread_id,
        seq=seq,
        user_text=user_text,
        answer_text=answer_text,
        model=model,
        status=status,
        response_id=response_id,
        error=error,
        usage=None if tokens[0] is None else Usage(*tokens),
        started=started,
        finished=finished,
    )


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeError):
        return "the text holds a character that is not valid Unicode, such as a lone surrogate"
    return str(exc) or type(exc).__name__


def _remedy(exc: BaseException, path: str) -> str:
    """What the user can do about a store failure."""
    if isinstance(exc, UnicodeError):
        return "remove the character and ask again."
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            "the file is damaged; move it aside (the next ask starts a fresh store) or set "
            f"{STORE_ENV} to another file."
        )
    if "full" in text:
        return f"free some disk space where it lives, or set {STORE_ENV} to a file elsewhere."
    if "readonly" in text or "read-only" in text or "i/o" in text or "permission" in text:
        return (
            f"check that {Path(path).parent} is writable and has free space, or set {STORE_ENV} "
            "to a file elsewhere."
        )
    return f"try again, or set {STORE_ENV} to another file."


def _missing_turn(turn_id: int) -> AssistantError:
    return AssistantError(
        f"turn {turn_id} is no longer in the thread store (deleted from another kernel?)"
    )


def _missing_thread(thread_id: str) -> AssistantError:
    return AssistantError(
        f"thread {thread_id} is not in the thread store (deleted from another kernel?)"
    )


def _ambiguous_message(key: str, matches: list[ThreadRecord]) -> str:
    shown = ", ".join(_describe(t) for t in matches[:_AMBIGUOUS_SHOWN])
    more = len(matches) - _AMBIGUOUS_SHOWN
    tail = f" and {more} more" if more > 0 else ""
    return f"{key!r} matches {len(matches)} threads: {shown}{tail}; type more of the id"


def _describe(t: ThreadRecord) -> str:
    return f"{t.id} ({t.title})" if t.title else t.id
