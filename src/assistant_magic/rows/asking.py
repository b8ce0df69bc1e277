"""A job over rows made from an ask's settings: what `Assistant.ask_each` and `%%ask --each`
run, and what `--dry-run` shows of it before anything is sent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..tokens import count_tokens
from .budget import JobBudget
from .cache import Cached, RowCache
from .job import DEFAULT_CONCURRENCY, Job, JobSpec
from .requests import RowRequest
from .table import table

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from ..answer_types import AnswerType
    from ..events import Usage
    from ..settings import Settings
    from .progress import ProgressView


@dataclass(frozen=True)
class RowsAsk:
    """How to ask a question of every row."""

    question: str
    rows: Any
    name: str = "rows"
    answer: AnswerType | None = None
    fields: tuple[str, ...] = ()
    concurrency: int | None = None
    rows_per_request: int = 1
    fresh: bool = False


def job(
    ask: RowsAsk,
    settings: Settings,
    store: str | Path,
    view: ProgressView | None,
    carried: Mapping[str, Cached] | None = None,
) -> Job:
    """The job, planned against the store (and the answers `carried` by a replay file) but not
    started."""
    _check(ask)
    request = RowRequest(settings, ask.answer.schema if ask.answer is not None else None)
    price = _pricer(settings)
    overhead = count_tokens(settings.instructions) + (
        count_tokens(json.dumps(request.answer.schema)) if request.answer else 0
    )
    budget = JobBudget(
        tokens=settings.max_job_tokens,
        cost=settings.max_job_cost,
        price=price,
        overhead=overhead,
        max_output=settings.max_output_tokens,
    )
    spec = JobSpec(
        question=ask.question,
        table=table(ask.rows, ask.name, ask.fields),
        request=request,
        answer=ask.answer,
        concurrency=ask.concurrency or settings.row_concurrency or DEFAULT_CONCURRENCY,
        rows_per_request=ask.rows_per_request,
        fresh=ask.fresh,
        budget=budget,
    )
    return Job(spec, RowCache(store, carried), view, price)


def preview(ask: RowsAsk, settings: Settings, store: str | Path) -> str:
    """What `--dry-run` shows of a job: the first request, how many there would be, and the
    tokens and cost they would take (estimated); nothing is sent."""
    planned = job(ask, settings, store, None)
    try:
        plan = planned.plan()
    finally:
        planned.cache.close()
    spec = planned.spec
    rows, unique = len(spec.table), len(plan.rows_of)
    lines = [
        f"Dry run, nothing sent: {settings.dialect} dialect at {settings.public_base_url}, "
        f"model {settings.model}.",
        f"Rows: {rows:,} ({unique:,} different; {len(plan.cached):,} answered in the store).",
        f"Requests: {plan.requests:,} (at most {spec.concurrency} at once, "
        f"{spec.rows_per_request} row{'s' if spec.rows_per_request > 1 else ''} each).",
    ]
    if plan.works:
        first = plan.works[0]
        body = spec.request.body(first.text, first.answer)
        lines += ["", f"POST {spec.request.path} (the first)", json.dumps(body, indent=2)]
        given = sum(count_tokens(spec.request.body(w.text, w.answer)) for w in plan.works)
        answered = spec.budget.max_output or 100 * spec.rows_per_request
        estimate = f"~{given:,} input tokens, and up to about {answered * plan.requests:,} output"
        dollars = planned.price(_usage(given, answered * plan.requests))
        cost = f", about ${dollars:,.4f}" if dollars is not None else ", price unknown"
        lines += ["", f"Estimated: {estimate}{cost}."]
    return "\n".join(lines)


def _check(ask: RowsAsk) -> None:
    if not 1 <= ask.rows_per_request <= 100:
        raise AssistantError(
            f"--rows-per-request {ask.rows_per_request}: give 1 to 100 rows per request."
        )
    if ask.concurrency is not None and not 1 <= ask.concurrency <= 256:
        raise AssistantError(f"--concurrency {ask.concurrency}: give 1 to 256 requests at once.")
    try:
        import pandas  # noqa: F401
    except ImportError:
        raise AssistantError(
            "--each gives its answers as a pandas Series: pip install pandas."
        ) from None


def _pricer(settings: Settings) -> Any:
    from ..pricing import PriceTable, PricingError

    try:
        table_ = PriceTable.default().with_overrides(settings.prices)
    except PricingError:
        return lambda usage: None

    def price(usage: Usage) -> float | None:
        try:
            return table_.cost(settings.model, usage)
        except PricingError:
            return None

    return price


def _usage(given: int, answered: int) -> Usage:
    from ..events import Usage

    return Usage(given, answered, given + answered)
