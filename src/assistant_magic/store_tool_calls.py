"""The thread store's tool calls: every call of a notebook function the model asked for during
an ask, with its raw arguments and the output sent back, in the order the calls were made, so
that a dialect without server-side history can replay them exactly."""

from __future__ import annotations

from collections.abc import Sequence

from .errors import AssistantError
from .records import TOOL_CALL_COLUMNS, ToolCallRecord
from .redaction import redact
from .store_file import StoreFile

PENDING = "pending"
#: How a tool call can end; until then it is `PENDING`.
TOOL_CALL_FINAL_STATUSES: frozenset[str] = frozenset({"ok", "error", "denied", "interrupted"})


class ToolCallStore(StoreFile):
    """The tool calls of the store's asks (`store.Store` adds threads, asks and files)."""

    def start_tool_call(
        self, ask_id: int, *, round: int, call_id: str, name: str, arguments: str
    ) -> ToolCallRecord:
        """Record a pending call, next in the ask's order; ``arguments`` is kept verbatim.

        Calls are recorded in the order they were made, so ``round`` never goes back to an
        earlier step, and a ``call_id`` appears once per round (some servers number their
        calls call_0, call_1, ... afresh each round): both raise `ValueError`.
        """
        if round < 1:
            raise ValueError(f"tool call rounds start at 1, not {round}")
        arguments = redact(arguments)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM asks WHERE id = ?", (ask_id,)).fetchone() is None:
                raise missing_ask(ask_id)
            # Inside BEGIN IMMEDIATE, like the ask's seq.
            seq, last_round, reused = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1, COALESCE(MAX(round), 0),"
                " COALESCE(SUM(call_id = ? AND round = ?), 0) FROM tool_calls WHERE ask_id = ?",
                (call_id, round, ask_id),
            ).fetchone()
            if round < last_round:
                raise ValueError(
                    f"ask {ask_id} already has calls of round {last_round}; cannot add one"
                    f" to round {round}"
                )
            if reused:
                raise ValueError(
                    f"round {round} of ask {ask_id} already has a tool call {call_id!r}"
                )
            now = self._now()
            cursor = conn.execute(
                "INSERT INTO tool_calls (ask_id, round, seq, call_id, name, arguments, status,"
                " started) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ask_id, round, seq, call_id, name, arguments, PENDING, now),
            )
            return self._tool_calls_where("c.id = ?", (cursor.lastrowid,))[0]

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

    def tool_calls(self, ask_id: int) -> list[ToolCallRecord]:
        """The ask's calls in the order they were made (``seq``)."""
        return self._tool_calls_where("c.ask_id = ?", (ask_id,))

    def thread_tool_calls(self, thread_id: str) -> dict[int, list[ToolCallRecord]]:
        """Every call of the thread by ask id, asks oldest first; asks without calls are
        left out."""
        by_ask: dict[int, list[ToolCallRecord]] = {}
        for call in self._tool_calls_where("t.thread_id = ?", (thread_id,)):
            by_ask.setdefault(call.ask_id, []).append(call)
        return by_ask

    def tool_calls_of(self, ask_ids: Sequence[int]) -> dict[int, list[ToolCallRecord]]:
        """The calls of the asks named, by ask id; asks without calls are left out."""
        by_ask: dict[int, list[ToolCallRecord]] = {}
        if ask_ids:
            marks = ", ".join("?" * len(ask_ids))
            for call in self._tool_calls_where(f"c.ask_id IN ({marks})", tuple(ask_ids)):
                by_ask.setdefault(call.ask_id, []).append(call)
        return by_ask

    def pending_tool_calls(self, thread_id: str) -> list[ToolCallRecord]:
        """The thread's calls that never got an output (crash, interrupt), oldest first."""
        return self._tool_calls_where("t.thread_id = ? AND c.status = ?", (thread_id, PENDING))

    def tool_call_count(self, thread_id: str) -> int:
        """Calls of notebook functions the model made on the thread (refused ones too)."""
        (count,) = self._read(
            "SELECT COUNT(*) FROM tool_calls c JOIN asks t ON c.ask_id = t.id"
            " WHERE t.thread_id = ?",
            (thread_id,),
        )[0]
        return int(count)

    def _tool_calls_where(self, where: str, params: tuple[object, ...]) -> list[ToolCallRecord]:
        rows = self._read(
            f"SELECT {TOOL_CALL_COLUMNS} FROM tool_calls AS c JOIN asks AS t"
            f" ON t.id = c.ask_id WHERE {where} ORDER BY t.seq, c.seq",
            params,
        )
        # TOOL_CALL_COLUMNS lists the columns in field order.
        return [ToolCallRecord(*row) for row in rows]


def missing_ask(ask_id: int) -> AssistantError:
    return AssistantError(
        f"ask {ask_id} is no longer in the thread store (deleted from another kernel?)"
    )
