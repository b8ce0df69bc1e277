"""The requests of a job, sent concurrently from a worker thread with its own event loop.

The kernel's main thread keeps the store, the budget's verdicts and the display; this thread
only talks HTTP, on an async openai client, and hands each outcome over through a queue. At
most `limit` requests are in flight: the limit halves when the server rate-limits (after the
SDK's own retries, which honour ``Retry-After``), the request goes back in the queue, and the
limit grows back by one per limit's worth of successes (additive increase, multiplicative
decrease, as TCP does), so a job slows down instead of failing rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..events import Usage
from .requests import Reply, RowRequest, send

if TYPE_CHECKING:
    import openai

    from ..answer_types import AnswerSchema

#: A rate-limited request goes back in the queue until it has been refused this many times
#: and for this many seconds: a server whose Retry-After is a few milliseconds refuses a row
#: six times in a fraction of a second, and the job is there to wait it out.
RATE_LIMITED_TRIES, RATE_LIMITED_SECONDS = 6, 60.0
#: Why a request went back in the queue.
RATE_LIMITED, AGAIN = "rate limited", "asked again"
#: A failed row is not kept, so the job's next run asks it again (an ask's advice,
#: `%assistant retry`, would send the thread's last ask instead).
ROW_RETRY = "Run the cell again to ask the rows that failed."


@dataclass
class Work:
    """One request to make: its message, the rows it answers (their numbers in the job), and
    the schema its answer must have when it is not the job's (a group's)."""

    text: str
    numbers: tuple[int, ...]
    answer: AnswerSchema | None = None
    tries: int = 0
    #: When a rate limit first refused it (`time.monotonic`), None before.
    limited_since: float | None = None
    #: Tokens the budget set aside for it while it is in flight.
    reserved: int = 0


@dataclass(frozen=True)
class Outcome:
    """What came of one request: the reply, or why there is none."""

    work: Work
    reply: Reply | None = None
    error: str | None = None


@dataclass
class Limit:
    """How many requests may be in flight: AIMD between 1 and `most`."""

    most: int
    now: float = 0.0
    active: int = 0
    slowed: int = 0  # times a rate limit halved it
    _changed: asyncio.Condition | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.now = float(self.most)

    async def acquire(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await self._changed.wait_for(lambda: self.active < max(1, int(self.now)))
            self.active += 1

    async def release(self, *, rate_limited: bool) -> None:
        assert self._changed is not None
        async with self._changed:
            self.active -= 1
            if rate_limited:
                self.now, self.slowed = max(1.0, self.now / 2), self.slowed + 1
            else:
                self.now = min(float(self.most), self.now + 1 / self.now)
            self._changed.notify_all()


def _as_is(outcome: Outcome) -> tuple[list[Outcome], list[Work]]:
    return [outcome], []


class Runner:
    """Sends `works` from a worker thread; outcomes arrive on `outcomes`, then None when it is
    done. In that thread, `gate(work)` is asked before each request (the budget: False stops
    the job there), `settle(work, usage)` told what each spent, and `follow_up(outcome)` turns
    an outcome into the outcomes to hand over and the works to send next (a group's rows)."""

    def __init__(
        self,
        request: RowRequest,
        works: Iterable[Work],
        *,
        concurrency: int,
        gate: Callable[[Work], bool] = lambda work: True,
        settle: Callable[[Work, Usage | None], None] = lambda work, usage: None,
        follow_up: Callable[[Outcome], tuple[list[Outcome], list[Work]]] = _as_is,
    ) -> None:
        self.request = request
        self.pending: deque[Work] = deque(works)
        self.limit = Limit(concurrency)
        self.gate = gate
        self.settle = settle
        self.follow_up = follow_up
        self._busy = 0  # works taken from `pending` whose follow-ups are not back in it yet
        self.outcomes: queue.Queue[Outcome | None] = queue.Queue()
        #: Why no more requests are sent ("" while they are).
        self.stopped = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._main, name="assistant-magic-rows", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def add(self, works: Iterable[Work]) -> None:
        """More works (rows a group did not answer): from the worker thread only."""
        self.pending.extend(works)

    def stop(self, why: str) -> None:
        """Send nothing more; cancel what is in flight (its rows stay unanswered)."""
        self.stopped = self.stopped or why
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._cancel_all)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- the worker thread ---------------------------------------------------------------------

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        finally:
            self.outcomes.put(None)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        client = _client(self.request)
        try:
            workers = [asyncio.create_task(self._worker(client)) for _ in range(self.limit.most)]
            self._tasks.update(workers)
            await asyncio.gather(*workers, return_exceptions=True)
        finally:
            await client.close()

    def _cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _worker(self, client: openai.AsyncOpenAI) -> None:
        while not self.stopped:
            if not self.pending:
                if not self._busy:
                    return
                await asyncio.sleep(0.005)  # another worker's group may bring rows back
                continue
            work = self.pending.popleft()
            if not self.gate(work):
                self.pending.appendleft(work)
                self.stopped = "budget"
                return
            self._busy += 1
            try:
                await self._send(client, work)
            finally:
                self._busy -= 1

    async def _send(self, client: openai.AsyncOpenAI, work: Work) -> None:
        await self.limit.acquire()
        outcome: Outcome | str = AGAIN
        try:
            outcome = await self._attempt(client, work)
        finally:
            await self.limit.release(rate_limited=outcome == RATE_LIMITED)
        if not isinstance(outcome, Outcome):
            self.settle(work, None)  # queued again: set aside anew when it goes
            return
        self.settle(work, outcome.reply.usage if outcome.reply else None)
        handed, more = self.follow_up(outcome)
        self.pending.extend(more)
        for each in handed:
            self.outcomes.put(each)

    async def _attempt(self, client: openai.AsyncOpenAI, work: Work) -> Outcome | str:
        """The outcome of one request, or, when it went back in the queue, why."""
        import openai

        from ..dialects.openai_sdk import describe

        try:
            body = self.request.body(work.text, work.answer)
            return Outcome(work, reply=await send(client, self.request, body))
        except openai.RateLimitError as exc:
            work.tries += 1
            if work.limited_since is None:
                work.limited_since = time.monotonic()
            waited = time.monotonic() - work.limited_since
            if work.tries >= RATE_LIMITED_TRIES and waited >= RATE_LIMITED_SECONDS:
                return Outcome(work, error=describe(exc, self.request.settings, retry=ROW_RETRY))
            await asyncio.sleep(_retry_after(exc, work.tries))
            self.pending.append(work)
            return RATE_LIMITED
        except openai.APIStatusError as exc:
            if self._json_schema_refused(exc):
                self.pending.appendleft(work)  # asked again, the way this server takes
                return AGAIN
            return Outcome(work, error=describe(exc, self.request.settings, retry=ROW_RETRY))
        except openai.OpenAIError as exc:
            return Outcome(work, error=describe(exc, self.request.settings, retry=ROW_RETRY))

    def _json_schema_refused(self, exc: openai.APIStatusError) -> bool:
        """A server that refuses `json_schema` answers is asked for a JSON object instead."""
        from ..dialects.chat import refuses_json_schema
        from ..dialects.openai_sdk import server_message

        request = self.request
        if request.settings.dialect != "chat" or not request.json_schema:
            return False
        if request.answer is None:
            return False
        if not refuses_json_schema(exc.status_code, server_message(exc)):
            return False
        self.request = RowRequest(request.settings, request.answer, json_schema=False)
        return True


def _client(request: RowRequest) -> openai.AsyncOpenAI:
    import openai

    settings = request.settings
    return openai.AsyncOpenAI(
        api_key=settings.require_key(),
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


def _retry_after(exc: Any, tries: int) -> float:
    """The server's Retry-After if it gave one, else a growing pause."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        with contextlib.suppress(TypeError, ValueError):
            return min(float(headers.get(name, "")) * scale, 60.0)
    return min(0.5 * 2**tries, 30.0)
