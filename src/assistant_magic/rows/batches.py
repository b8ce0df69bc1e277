"""Jobs over rows sent as batches (`--batch-api`): OpenAI's Batch API answers within 24 hours at
half the price, for jobs that outgrow a notebook session.

The job's requests go in one JSONL file (uploaded with purpose "batch"), one line per request,
and `POST /batches` runs them. The store records which rows each line asks about, so any kernel
can collect the results once the batch has ended: running the same cell again collects what is
ready into the same output (and keeps it like any answer), and sends nothing for rows still in a
batch. `%assistant jobs` lists the batches.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .cache import BatchRecord, RowCache
from .grouping import group_schema
from .requests import Reply, RowRequest, chat_reply, responses_reply
from .running import Outcome, Work

if TYPE_CHECKING:
    import openai

    from .job import Job
    from .results import RowResult

#: Statuses after which a batch changes no more.
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass(frozen=True)
class Collected:
    """What a batch gave: an outcome per line that ended (answered or failed)."""

    batch: BatchRecord
    status: str
    outcomes: list[tuple[list[tuple[int, str]], Reply | None, str | None]]


def submit(
    client: openai.OpenAI,
    request: RowRequest,
    works: list[Work],
    keys: list[str],
    cache: RowCache,
    name: str,
) -> BatchRecord:
    """Send `works` as one batch and record it; `keys` are the job's request keys by row."""
    endpoint = f"/v1{request.path}"
    lines: dict[str, list[tuple[int, str]]] = {}
    payload = []
    for number, work in enumerate(works):
        custom_id = f"request-{number}"
        lines[custom_id] = [(n, keys[n]) for n in work.numbers]
        body = request.body(work.text, work.answer)
        body.pop("stream", None)
        payload.append(
            json.dumps({"custom_id": custom_id, "method": "POST", "url": endpoint, "body": body})
        )
    data = ("\n".join(payload) + "\n").encode()
    uploaded = client.files.create(file=(f"{name}-rows.jsonl", data), purpose="batch")
    batch = client.batches.create(
        input_file_id=uploaded.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        metadata={"created_by": "assistant_magic", "job": name[:500]},
    )
    record = BatchRecord(
        id=batch.id,
        base_url=request.settings.public_base_url,
        endpoint=endpoint,
        name=name,
        model=request.settings.model,
        lines=lines,
        status=batch.status,
        created=time.time(),
    )
    cache.add_batch(record)
    return record


def collect(client: openai.OpenAI, batch: BatchRecord, cache: RowCache) -> Collected:
    """The batch's state; once it has ended, what each of its lines gave (read once)."""
    found = client.batches.retrieve(batch.id)
    if found.status not in ENDED:
        cache.update_batch(batch.id, status=found.status)
        return Collected(batch, _progress(found), [])
    outcomes = []
    for file_id in (found.output_file_id, found.error_file_id):
        if file_id:
            for line in _lines(client.files.content(file_id).read()):
                rows = batch.lines.get(str(line.get("custom_id")))
                if rows is not None:
                    outcomes.append((rows, *_answer(line, batch.endpoint)))
    seen = {key for rows, _, _ in outcomes for _, key in rows}
    for rows in batch.lines.values():  # lines the batch never ran (it expired, was cancelled)
        if not {key for _, key in rows} & seen:
            outcomes.append((rows, None, f"the batch ended {found.status} before this row"))
    cache.update_batch(batch.id, status=found.status, collected=True)
    return Collected(batch, found.status, outcomes)


def _progress(batch: Any) -> str:
    counts = batch.request_counts
    done = f", {counts.completed + counts.failed:,} of {counts.total:,} done" if counts else ""
    return f"{batch.status}{done}"


def _lines(content: bytes) -> Iterator[dict[str, Any]]:
    for raw in content.decode().splitlines():
        if raw.strip():
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a damaged line: its rows stay unanswered, and are asked again
            if isinstance(line, dict):
                yield line


def _answer(line: dict[str, Any], endpoint: str) -> tuple[Reply | None, str | None]:
    """A line of the output or error file as the reply it holds, or the error it reports."""
    from openai._models import construct_type  # how the SDK builds what it reads
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    response = line.get("response") or {}
    error = line.get("error")
    body = response.get("body") if isinstance(response, dict) else None
    status = response.get("status_code", 0) if isinstance(response, dict) else 0
    if status == 200 and isinstance(body, dict):
        if endpoint.endswith("/responses"):
            return responses_reply(construct_type(type_=Response, value=body)), None
        return chat_reply(construct_type(type_=ChatCompletion, value=body)), None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return None, f"the batch's line failed ({status}): {body['error'].get('message', '')}"
    if isinstance(error, dict):
        return None, f"the batch's line failed: {error.get('code', '')} {error.get('message', '')}"
    return None, "the batch's line has no answer"


class BatchRun:
    """A job over rows by batches: what the store has is answered; batches that ended are
    collected; the rows left, if no batch holds them yet, go in a new batch; the rest wait."""

    def __init__(self, job: Job, client: openai.OpenAI) -> None:
        self.job = job
        self.client = client
        #: Why each row key has no answer yet: the batch it waits in.
        self.waiting: dict[str, str] = {}

    def run(self) -> list[RowResult]:
        job = self.job
        plan = job.plan()
        job.begin(plan)
        base_url = job.spec.request.settings.public_base_url
        for batch in job.cache.batches(base_url, open_only=True):
            if batch.keys & self._wanted():
                self._collect(batch)
        missing = [rows[0] for key, rows in plan.rows_of.items() if self._unanswered(key)]
        if missing:
            works = job.works(missing)
            batch = submit(
                self.client, job.spec.request, works, plan.keys, job.cache, job.spec.table.name
            )
            for key in {plan.keys[n] for n in missing}:
                self.waiting[key] = f"sent in batch {batch.id} ({batch.status})"
        waits = {
            key: f"waiting: {why}; run the cell again to collect"
            for key, why in self.waiting.items()
        }
        return job.finish_with(waits)

    def _wanted(self) -> set[str]:
        return {key for key in self.job.plan_keys() if self._unanswered(key)}

    def _unanswered(self, key: str) -> bool:
        return not self.job.answered(key) and key not in self.waiting

    def _collect(self, batch: BatchRecord) -> None:
        got = collect(self.client, batch, self.job.cache)
        if not got.outcomes and got.status not in ENDED:
            for key in batch.keys:
                self.waiting.setdefault(key, f"batch {batch.id} is {got.status}")
            return
        job = self.job
        for rows, reply, error in got.outcomes:
            numbers = tuple(n for n, _ in rows)
            keys = dict(rows)
            if reply is None:
                job.record_failures([keys[n] for n in numbers], error or "no answer")
                continue
            grouped = len(numbers) > 1
            answer = group_schema(job.spec.answer) if grouped else None
            handed, _ = job.follow_up(Outcome(Work("", numbers, answer=answer), reply=reply))
            job.record_by_key(
                [(keys[o.work.numbers[0]] if o.work.numbers else None, o) for o in handed]
            )


def listing(cache: RowCache, client: openai.OpenAI | None, base_url: str) -> str:
    """`%assistant jobs`: the batches sent, newest first, those of `base_url` with their state
    now (asked of the server with `client`)."""
    batches = cache.batches()
    if not batches:
        return "No batches yet: %%ask --each NAME --batch-api sends one."
    lines = []
    for batch in batches:
        status = batch.status
        if batch.collected is None and client is not None and batch.base_url == base_url:
            status = _progress(client.batches.retrieve(batch.id))
            cache.update_batch(batch.id, status=status.split(",")[0])
        state = "collected" if batch.collected is not None else status
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(batch.created))
        rows = sum(len(pairs) for pairs in batch.lines.values())
        lines.append(
            f"{batch.id}  {when}  {batch.name}: {rows:,} rows in {len(batch.lines):,} requests, "
            f"{batch.model} at {batch.base_url}: {state}"
        )
    return "\n".join(lines)
