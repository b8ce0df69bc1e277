"""One job over rows, start to end: plan what to ask (each row's message and key; rows already
answered, from the store; identical rows, once; groups of rows), send it (`running`), and
record each answer as it comes: checked against the type, kept in the store, counted against
the budget and shown. An interrupt stops the job; what was answered is kept, and the next run
asks only the rest."""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..answer_types import InvalidJson
from ..errors import AskInterrupted
from ..events import Usage
from .budget import JobBudget
from .cache import RowCache
from .grouping import group_schema, group_text, split
from .progress import JobProgress, NoProgress, ProgressView
from .requests import Reply, RowRequest
from .results import RowResult
from .running import Outcome, Runner, Work
from .table import Table, row_text

if TYPE_CHECKING:
    from ..answer_types import AnswerType

DEFAULT_CONCURRENCY = 8


@dataclass(frozen=True)
class JobSpec:
    """What to ask, of which rows, and how."""

    question: str
    table: Table
    request: RowRequest
    answer: AnswerType | None = None
    concurrency: int = DEFAULT_CONCURRENCY
    rows_per_request: int = 1
    fresh: bool = False
    budget: JobBudget = field(default_factory=JobBudget)


@dataclass
class Plan:
    """The job's requests before any is sent: each row's key, the rows that share one, the
    answers the store already holds, and the works to send."""

    texts: list[str]
    keys: list[str]
    rows_of: dict[str, list[int]]
    cached: dict[str, str]
    works: list[Work]

    @property
    def requests(self) -> int:
        return len(self.works)


class JobInterrupted(AskInterrupted):
    """The user stopped a job: what was answered is kept (`results`), and in the store."""

    def __init__(self, message: str, results: list[RowResult]) -> None:
        super().__init__(message)
        self.results = results
        #: The results as the job gives them (set by `Assistant.ask_each`).
        self.answers: Any = None


class Job:
    def __init__(
        self,
        spec: JobSpec,
        cache: RowCache,
        view: ProgressView | None = None,
        price: Callable[[Usage], float | None] | None = None,
    ) -> None:
        self.spec = spec
        self.cache = cache
        self.view = view or NoProgress()
        self.price = price or (lambda usage: None)
        self.results: list[RowResult | None] = [None] * len(spec.table)
        self.progress = JobProgress(len(spec.table), spec.request.settings.model)
        #: The runner of the last `run` (its limit says how often the server slowed it).
        self.runner: Runner | None = None
        #: The values of the answers the store had, read by `plan`.
        self._kept_values: dict[str, Any] = {}

    # -- planning -------------------------------------------------------------------------------

    def plan(self) -> Plan:
        spec = self.spec
        texts = [row_text(spec.question, record) for record in spec.table.records]
        keys = [spec.request.key(text) for text in texts]
        rows_of: dict[str, list[int]] = {}
        for number, key in enumerate(keys):
            rows_of.setdefault(key, []).append(number)
        found = {} if spec.fresh else self.cache.lookup(list(rows_of))
        # An answer kept by a job of another type (a batch collects for all) is asked again;
        # those that validate are read once, here.
        self._kept_values = {}
        for key, kept in found.items():
            try:
                self._kept_values[key] = self._value(kept.answer)
            except InvalidJson:
                continue
        cached = {key: found[key].answer for key in self._kept_values}
        first = [rows[0] for key, rows in rows_of.items() if key not in cached]
        self._plan = Plan(texts, keys, rows_of, cached, [])
        self._plan.works = self.works(first)
        return self._plan

    def works(self, numbers: list[int]) -> list[Work]:
        """The requests that ask about rows `numbers`: one each, or in groups."""
        texts = self._plan.texts
        size = self.spec.rows_per_request
        if size <= 1:
            return [Work(texts[n], (n,)) for n in numbers]
        records = self.spec.table.records
        schema = group_schema(self.spec.answer)
        return [
            Work(
                group_text(self.spec.question, [(n, records[n]) for n in chunk]),
                tuple(chunk),
                answer=schema,
            )
            for chunk in (numbers[i : i + size] for i in range(0, len(numbers), size))
        ]

    # -- running --------------------------------------------------------------------------------

    def begin(self, plan: Plan) -> None:
        """Start from `plan`: the rows the store answered are answered."""
        self._plan = plan
        for key in plan.cached:
            self._set(key, self._kept_values[key], from_store=True)

    def run(self, plan: Plan | None = None) -> list[RowResult]:
        """Every row's result; `JobInterrupted` (holding them) when the user stops it."""
        plan = plan or self.plan()
        self.begin(plan)
        if self.spec.request.settings.replay == "only":
            # Nothing goes to the network: the rows the store has are the answers.
            return self._finish("replay is only, and the store has no answer for this row")
        runner = Runner(
            self.spec.request,
            plan.works,
            concurrency=self.spec.concurrency,
            gate=self.spec.budget.allows,
            settle=self.spec.budget.settle,
            follow_up=self.follow_up,
        )
        self.runner = runner
        runner.start()
        try:
            self._collect(runner)
        except KeyboardInterrupt:
            runner.stop("interrupted")
            runner.join()
            self._drain(runner)
            self.progress.stopped = "interrupted"
            results = self._finish("interrupted by the user")
            done = self.progress.cached + self.progress.answered
            raise JobInterrupted(
                f"Interrupted: {done:,} of {len(results):,} rows answered and kept; run the "
                "cell again to ask the rest.",
                results,
            ) from None
        self.progress.stopped = self.spec.budget.stopped
        return self._finish(self.spec.budget.stopped or "not asked")

    def _collect(self, runner: Runner) -> None:
        self.view.show(self.progress)
        while True:
            try:
                outcome = runner.outcomes.get(timeout=0.2)
            except queue.Empty:
                self.view.show(self.progress)
                continue
            if outcome is None:
                return
            ready, ended = self._waiting(runner)
            self._record([outcome, *ready])
            self.view.show(self.progress)
            if ended:
                return

    def _drain(self, runner: Runner) -> None:
        self._record(self._waiting(runner)[0])

    @staticmethod
    def _waiting(runner: Runner) -> tuple[list[Outcome], bool]:
        """The outcomes already queued, and whether the runner's end (None) came with them."""
        ready: list[Outcome] = []
        while True:
            try:
                outcome = runner.outcomes.get_nowait()
            except queue.Empty:
                return ready, False
            if outcome is None:
                return ready, True
            ready.append(outcome)

    def follow_up(self, outcome: Outcome) -> tuple[list[Outcome], list[Work]]:
        """In the worker thread: a group's reply as an outcome per row, and its missing rows
        as works of their own."""
        work = outcome.work
        if work.answer is None or outcome.reply is None:
            return [outcome], []
        reply = outcome.reply
        got = split(reply.text, work.numbers, self.spec.answer)
        share = _share(reply.usage, len(work.numbers))
        handed = [
            Outcome(Work("", (n,)), reply=Reply(text, usage=share))
            for n, text in got.answers.items()
        ]
        if got.missing and share is not None:
            # What the rows asked again had cost is spent all the same: counted, for no row.
            left = len(got.missing)
            unused = Usage(
                share.input_tokens * left, share.output_tokens * left, share.total_tokens * left
            )
            handed.append(Outcome(Work("", ()), reply=Reply("", usage=unused)))
        more = [Work(self._plan.texts[n], (n,)) for n in got.missing]
        return handed, more

    def _record(self, outcomes: list[Outcome]) -> None:
        keys = self._plan.keys
        self.record_by_key(
            [(keys[o.work.numbers[0]] if o.work.numbers else None, o) for o in outcomes]
        )

    def record_by_key(self, outcomes: list[tuple[str | None, Outcome]]) -> None:
        """Record each outcome for the rows of its key (None: only spent): checked, kept in
        the store, counted, shown. An answer for a key not in this job (collected from a
        batch) is kept for the job it belongs to."""
        kept: list[tuple[str, str, str, Usage | None]] = []
        model = self.spec.request.settings.model
        for key, outcome in outcomes:
            reply = outcome.reply
            if reply is not None and reply.usage is not None:
                self._spend(reply.usage)
            if key is None:
                continue
            if key not in self._plan.rows_of:
                if reply is not None and _failure(reply) is None:
                    kept.append((key, reply.text, model, reply.usage))
                continue
            failure = outcome.error or _failure(reply)
            if failure is None and reply is not None and self._answer(key, reply.text):
                kept.append((key, reply.text, model, reply.usage))
            elif failure is not None:
                self._fail(key, failure)
        self.cache.keep(kept)

    def _answer(self, key: str, text: str) -> bool:
        """Set the answer of every row with this key; False if it does not validate."""
        try:
            value = self._value(text)
        except InvalidJson as problem:
            label = self.spec.answer.label if self.spec.answer is not None else "its type"
            self._fail(key, f"the answer did not match {label}: {problem.line}")
            return False
        self._set(key, value, from_store=False)
        return True

    def _value(self, text: str) -> Any:
        """An answer's value: its text, or the typed value (`InvalidJson` if it is none)."""
        return text if self.spec.answer is None else self.spec.answer.parse(text)

    def _set(self, key: str, value: Any, *, from_store: bool) -> None:
        rows = self._plan.rows_of[key]
        for number in rows:
            self.results[number] = RowResult(value)
        if from_store:
            self.progress.cached += len(rows)
        else:
            self.progress.answered += len(rows)

    def record_failures(self, keys: Sequence[str], error: str) -> None:
        for key in keys:
            if key in self._plan.rows_of:
                self._fail(key, error)

    def plan_keys(self) -> list[str]:
        return list(self._plan.rows_of)

    def planned_keys(self) -> list[str]:
        """The request keys of the job's rows, once planned (none before)."""
        plan = getattr(self, "_plan", None)
        return list(plan.rows_of) if plan is not None else []

    def answered(self, key: str) -> bool:
        rows = self._plan.rows_of.get(key)
        return bool(rows) and self.results[rows[0]] is not None  # type: ignore[index]

    def _fail(self, key: str, error: str) -> None:
        rows = self._plan.rows_of[key]
        for number in rows:
            self.results[number] = RowResult(error=error)
        self.progress.failed += len(rows)

    def _spend(self, usage: Usage) -> None:
        progress = self.progress
        progress.usage = progress.usage + usage
        dollars = self.price(usage)
        progress.cost = (
            None if dollars is None or progress.cost is None else progress.cost + dollars
        )

    def _finish(self, why_unasked: str) -> list[RowResult]:
        return self.finish_with({}, f"not asked: {why_unasked}")

    def finish_with(self, reasons: dict[str, str], otherwise: str = "not asked") -> list[RowResult]:
        """Every row's result; a row with none gets its key's reason, else `otherwise`."""
        keys = self._plan.keys
        results = [
            r if r is not None else RowResult(error=reasons.get(keys[n], otherwise))
            for n, r in enumerate(self.results)
        ]
        self.progress.finished = True
        self.view.finish(self.progress)
        return results


def _failure(reply: Reply | None) -> str | None:
    if reply is None:
        return "no answer"
    if reply.refusal is not None:
        return f"refused: {' '.join(reply.refusal.split())}"
    if reply.status != "completed":
        return reply.status
    return None


def _share(usage: Usage | None, rows: int) -> Usage | None:
    """One row's part of a group's usage (the last row's may differ by rounding)."""
    if usage is None or rows <= 1:
        return usage
    return Usage(
        usage.input_tokens // rows, usage.output_tokens // rows, usage.total_tokens // rows
    )
