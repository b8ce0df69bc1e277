"""A thread's earlier asks, read from the store newest first, a page at a time.

A dialect without server-side threads resends the thread with every request, but only as much
of it as fits the model's context window: it reads newest first and stops there, so an ask on
a thread of 10,000 asks reads about as much of the store as one on a thread of 100. What was
read is remembered (`PastMemo`): an ask that is over never changes, so the next ask reads only
the asks made since.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING

from .dialects.interface import PastAsk, ToolOutput, ToolRound
from .events import FINAL_STATUSES, ToolCallRequested

if TYPE_CHECKING:
    from .records import AskRecord, ToolCallRecord
    from .store import Store

#: Asks read at the first page; each later page reads twice as many.
FIRST_PAGE = 32
#: Asks remembered per thread at most (far more than a context window holds).
MEMO_LIMIT = 20_000


@dataclass
class ThreadMemo:
    """A thread's newest asks that are over, newest first with their seqs, as far as read."""

    asks: list[tuple[int, PastAsk]] = field(default_factory=list)
    #: False once an ask not over yet was met going down: nothing older is remembered.
    growing: bool = True

    @property
    def newest_seq(self) -> int:
        return self.asks[0][0] if self.asks else 0

    @property
    def oldest_seq(self) -> int | None:
        return self.asks[-1][0] if self.asks else None


class PastMemo:
    """What `StoredAsks` read, by thread, for the asks after it."""

    def __init__(self) -> None:
        self._threads: dict[str, ThreadMemo] = {}

    def of(self, thread_id: str) -> ThreadMemo:
        return self._threads.setdefault(thread_id, ThreadMemo())


class StoredAsks:
    """The asks of a thread that reached the model (answered, or with tool calls), but for
    the ask being made, as `dialects.interface.EarlierAsks`."""

    def __init__(
        self,
        store: Store,
        thread_id: str,
        current: int | None = None,
        memo: PastMemo | None = None,
    ) -> None:
        self.store = store
        self.thread_id = thread_id
        self.current = current
        self.memo = (memo or PastMemo()).of(thread_id)

    def newest_first(self) -> Iterator[PastAsk]:
        memo = self.memo
        remembered = list(memo.asks)  # before `_since` adds the new ones in front
        yield from self._since(memo)
        yield from map(itemgetter(1), remembered)  # a window's worth each ask: kept in C
        yield from self._older(memo)

    def _since(self, memo: ThreadMemo) -> Iterator[PastAsk]:
        """The asks made since the memo was last extended (usually one or two)."""
        if not memo.asks:
            return  # nothing remembered: `_older` reads from the newest
        newer = self.store.replayed_asks(
            self.thread_id, after_seq=memo.newest_seq, exclude=self.current
        )
        calls = self.store.tool_calls_of([ask.id for ask in newer])
        read = [(ask.seq, past_ask(ask, calls.get(ask.id, ()))) for ask in newer]
        if all(is_over(ask, calls.get(ask.id, ())) for ask in newer):
            memo.asks[:0] = read
        for _, past in read:
            yield past

    def _older(self, memo: ThreadMemo) -> Iterator[PastAsk]:
        before, size = memo.oldest_seq, FIRST_PAGE
        while True:
            page = self.store.replayed_asks(
                self.thread_id, before_seq=before, limit=size, exclude=self.current
            )
            calls = self.store.tool_calls_of([ask.id for ask in page])
            for ask in page:
                past = past_ask(ask, calls.get(ask.id, ()))
                self._remember(memo, ask, past, is_over(ask, calls.get(ask.id, ())))
                yield past
            if len(page) < size:
                return
            before, size = page[-1].seq, size * 2

    def _remember(self, memo: ThreadMemo, ask: AskRecord, past: PastAsk, over: bool) -> None:
        if not over:
            memo.growing = False
        if memo.growing and len(memo.asks) < MEMO_LIMIT:
            memo.asks.append((ask.seq, past))
        else:
            memo.growing = False


def is_over(ask: AskRecord, calls: Sequence[ToolCallRecord]) -> bool:
    """Whether the ask can no longer change: ended, and with no call waiting for its output
    (an interrupted ask's open calls are answered later)."""
    return ask.status in FINAL_STATUSES and all(call.status != "pending" for call in calls)


def past_ask(ask: AskRecord, calls: Sequence[ToolCallRecord]) -> PastAsk:
    key = (ask.thread_id, ask.id) if is_over(ask, calls) else None  # what may change is not kept
    return PastAsk(ask.user_text, tool_rounds(calls), ask.answer_text, key=key)


def tool_rounds(records: Sequence[ToolCallRecord]) -> tuple[ToolRound, ...]:
    """Recorded calls grouped into the model steps that asked for them."""
    by_round: dict[int, list[ToolCallRecord]] = {}
    for record in records:
        if record.status != "pending":  # a call never answered was never sent back
            by_round.setdefault(record.round, []).append(record)
    return tuple(
        ToolRound(
            calls=tuple(ToolCallRequested(r.call_id, r.name, r.arguments) for r in group),
            outputs=tuple(ToolOutput(r.call_id, r.output) for r in group),
        )
        for _, group in sorted(by_round.items())
    )
