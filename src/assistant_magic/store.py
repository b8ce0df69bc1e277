"""What the thread store records, whatever the wire dialect: threads, asks, tool calls, files.

With the Responses API the conversation itself lives on the server; this store keeps what the
user needs locally: which threads exist, where they came from, what was asked and answered, so
threads can be listed, resumed after a kernel restart, exported and retried. Dialects that keep no
server-side history (Chat Completions) will rebuild their requests from the asks stored here.

Besides threads and asks it keeps ``tool_calls`` (every call of a notebook function the model
asked for during an ask, with its raw arguments and the output sent back, in the order the calls
were made, so that a dialect without server-side history can replay them exactly) and ``files``.
The file and its connection are in `store_file`, the schema and its migrations in
`store_schema`, the records in `records`, the tool calls' queries in `store_tool_calls`.
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import AssistantError
from .events import FINAL_STATUSES, Usage
from .records import (
    ASK_COLUMNS,
    THREAD_COLUMNS,
    UPDATABLE_THREAD_FIELDS,
    AskRecord,
    FileRecord,
    ThreadRecord,
    ToolCallRecord,
    ask_from_row,
    make_title,
    new_thread_id,
    thread_from_row,
    thread_values,
    usage_values,
)
from .redaction import redact
from .store_file import STORE_ENV
from .store_schema import SCHEMA_VERSION
from .store_tool_calls import PENDING, TOOL_CALL_FINAL_STATUSES, ToolCallStore, missing_ask

__all__ = [
    "SCHEMA_VERSION",
    "STORE_ENV",
    "TOOL_CALL_FINAL_STATUSES",
    "AskRecord",
    "FileRecord",
    "Store",
    "ThreadRecord",
    "ToolCallRecord",
    "make_title",
]

_AMBIGUOUS_SHOWN = 5
#: The asks of a thread (?) that a dialect without server-side threads resends: those the model
#: saw to the end, or that called tools; but for one (?, the ask being made).
_REPLAYED = (
    "thread_id = ? AND id != ? AND (answer_text != ''"
    " OR EXISTS (SELECT 1 FROM tool_calls AS c WHERE c.ask_id = asks.id))"
)


class Store(ToolCallStore):
    """Threads, asks, tool calls and files in one `StoreFile`, shared by kernels and threads."""

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
                f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES ({', '.join('?' * 12)})",
                thread_values(record),
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
        unknown = set(fields) - UPDATABLE_THREAD_FIELDS
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
        """Delete the thread and its asks; deleting a missing thread does nothing."""
        with self._write() as conn:
            conn.execute("DELETE FROM threads WHERE id = ?", (thread_id,))

    def _threads_where(
        self, where: str, params: tuple[object, ...], *, limit: int | None = None
    ) -> list[ThreadRecord]:
        # rowid breaks ties so threads written in the same clock tick still list newest first.
        rows = self._read(
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE {where}"
            " ORDER BY updated DESC, rowid DESC LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [thread_from_row(row) for row in rows]

    # -- asks ----------------------------------------------------------------------------

    def start_ask(self, thread_id: str, user_text: str, model: str) -> AskRecord:
        """Record a pending ask; the first one also names the thread."""
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
            # The next seq is taken inside BEGIN IMMEDIATE: no other kernel can take it too.
            row = conn.execute(
                "INSERT INTO asks (thread_id, seq, user_text, model, status, started)"
                " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM asks WHERE thread_id = ?"
                f" RETURNING {ASK_COLUMNS}",
                (thread_id, user_text, model, PENDING, now, thread_id),
            ).fetchone()
            return ask_from_row(row)

    def finish_ask(
        self,
        ask_id: int,
        *,
        status: str,
        answer_text: str,
        response_id: str | None = None,
        usage: Usage | None = None,
        error: str | None = None,
    ) -> AskRecord:
        """Record how an ask ended; also bumps the thread's ``updated``."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"not a final ask status: {status!r}")
        tokens = usage_values(usage)
        answer_text, error = redact(answer_text), redact(error) if error else error
        with self._write() as conn:
            now = self._now()
            row = conn.execute(
                "UPDATE asks SET status = ?, answer_text = ?, response_id = ?, error = ?,"
                " input_tokens = ?, output_tokens = ?, total_tokens = ?, cached_tokens = ?,"
                f" finished = ? WHERE id = ? RETURNING {ASK_COLUMNS}",
                (status, answer_text, response_id, error, *tokens, now, ask_id),
            ).fetchone()
            if row is None:
                raise missing_ask(ask_id)
            ask = ask_from_row(row)
            conn.execute("UPDATE threads SET updated = ? WHERE id = ?", (now, ask.thread_id))
            return ask

    def asks(self, thread_id: str, *, limit: int | None = None) -> list[AskRecord]:
        """The thread's asks, oldest first; with ``limit``, only the last ``limit`` of them."""
        if limit is None:
            return self._asks_where("thread_id = ?", (thread_id,))
        # The last `limit` seqs, read newest first and turned back into conversation order.
        newest = self._asks_where("thread_id = ?", (thread_id,), newest_first=True, limit=limit)
        return newest[::-1]

    def last_ask(self, thread_id: str) -> AskRecord | None:
        newest = self._asks_where("thread_id = ?", (thread_id,), newest_first=True, limit=1)
        return newest[0] if newest else None

    def replayed_asks(
        self,
        thread_id: str,
        *,
        before_seq: int | None = None,
        after_seq: int = 0,
        limit: int | None = None,
        exclude: int | None = None,
    ) -> list[AskRecord]:
        """Asks that reached the model (answered, or with tool calls), newest first, between
        ``after_seq`` and ``before_seq`` (None: the newest), at most ``limit``; the ask
        ``exclude`` (the one being made) left out."""
        return self._asks_where(
            f"{_REPLAYED} AND seq > ? AND seq < ?",
            (thread_id, exclude or 0, after_seq, 1 << 62 if before_seq is None else before_seq),
            newest_first=True,
            limit=limit,
        )

    def message_count(self, thread_id: str) -> int:
        """User messages plus non-empty answers, as a chat UI would count bubbles."""
        (count,) = self._read(
            "SELECT COUNT(*) + COALESCE(SUM(answer_text != ''), 0) FROM asks WHERE thread_id = ?",
            (thread_id,),
        )[0]
        return int(count)

    def usage_by_model(
        self, *, thread_id: str | None = None, ask_ids: Sequence[int] | None = None
    ) -> dict[str, Usage]:
        """Tokens used, summed per model: of one thread's asks, or of the asks named."""
        params: tuple[object, ...]
        if thread_id is not None:
            where, params = "thread_id = ?", (thread_id,)
        else:
            ids = list(ask_ids or ())
            where, params = f"id IN ({', '.join('?' * len(ids))})", tuple(ids)
        rows = self._read(
            "SELECT model, SUM(input_tokens), SUM(output_tokens), SUM(total_tokens),"
            f" SUM(cached_tokens) FROM asks WHERE {where} AND total_tokens IS NOT NULL"
            " GROUP BY model ORDER BY model",
            params,
        )
        return {model: Usage(*(int(n or 0) for n in counts)) for model, *counts in rows}

    def _asks_where(
        self,
        where: str,
        params: tuple[object, ...],
        *,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[AskRecord]:
        order = "DESC" if newest_first else "ASC"
        rows = self._read(
            f"SELECT {ASK_COLUMNS} FROM asks WHERE {where} ORDER BY seq {order} LIMIT ?",
            (*params, -1 if limit is None else limit),
        )
        return [ask_from_row(row) for row in rows]

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
