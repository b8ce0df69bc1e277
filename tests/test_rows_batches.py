"""Jobs over rows on the Batch API (`ask_each(batch_api=True)`, `%%ask --each --batch-api`),
end to end against the scripted server's Batch API: one JSONL upload and one batch, rows
waiting until a later run collects them (also from another Assistant on the same store, as a
new kernel), failed lines and expired batches, grouped rows, and `%assistant jobs`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant_magic.testing import HttpError, ScriptedServer
from test_rows import EXPECTED, QUESTION, TICKETS, Label, Served, labeller

from conftest import API_KEY

DIALECTS = ("responses", "chat")
SUBJECT = ("subject",)  # rows 42 and 19 are then the same row, asked once


class Batched(Served):
    """A checking scripted server that labels tickets, and assistants on one store (each new
    one is what a new kernel would make)."""

    def __init__(self, store: Path, polls: int) -> None:
        super().__init__(labeller, store, batch_polls_per_state=polls)

    def input_lines(self, batch: dict[str, Any]) -> list[dict[str, Any]]:
        (stored,) = (f for f in self.server.files if f.id == batch["input_file_id"])
        assert stored.purpose == "batch"
        return [json.loads(line) for line in stored.data.decode().splitlines()]

    def model_requests(self) -> list[Any]:
        """Requests that asked a model directly, outside any batch."""
        return [
            r
            for r in self.server.requests
            if r.method == "POST" and r.path in ("/v1/responses", "/v1/chat/completions")
        ]


@pytest.fixture
def batched(tmp_path: Path) -> Iterator[Any]:
    """`batched(polls)`: a server whose batch states each last `polls` retrievals."""
    started: list[Batched] = []

    def start(polls: int = 1) -> Batched:
        started.append(Batched(tmp_path / "threads.sqlite3", polls))
        return started[-1]

    yield start
    for one in started:
        errors = one.server.validation_errors
        one.close()
        assert errors == [], "\n".join(errors)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rows_go_in_one_batch_and_a_later_run_collects_them(batched, dialect: str) -> None:  # type: ignore[no-untyped-def]
    served = batched(polls=1)
    assistant = served.assistant(dialect)

    sent = assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    (batch,) = served.server.batches
    assert batch["endpoint"] == (
        "/v1/responses" if dialect == "responses" else "/v1/chat/completions"
    )
    assert batch["metadata"]["created_by"] == "assistant_magic"
    lines = served.input_lines(batch)
    assert len(lines) == 4, "the two identical tickets go in one line"
    assert {line["url"] for line in lines} == {batch["endpoint"]}
    assert all("stream" not in line["body"] for line in lines)
    assert sent.isna().all()
    waiting = sent.attrs["errors"]
    assert list(waiting.index) == list(TICKETS.index)
    assert all(
        f"waiting: sent in batch {batch['id']}" in why and "run the cell again" in why
        for why in waiting
    )
    assert served.model_requests() == [], "nothing is asked outside the batch"

    # Until the batch has ended, a run only asks how it is going, and sends no second batch.
    runs = 0
    answers = sent
    while answers.isna().any():
        runs += 1
        assert runs < 6, "the batch should have ended by now"
        answers = assistant.ask_each(
            QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True
        )
        if answers.isna().any():
            assert all(f"batch {batch['id']} is " in why for why in answers.attrs["errors"])
    assert len(served.server.batches) == 1 and served.model_requests() == []
    assert [label.kind for label in answers] == EXPECTED
    assert list(answers.index) == list(TICKETS.index)
    assert answers.attrs["errors"].isna().all()

    # Collected answers are kept like any other: the next run asks the server nothing.
    before = len(served.server.requests)
    again = assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT)
    assert [label.kind for label in again] == EXPECTED
    assert len(served.server.requests) == before


def test_another_assistant_on_the_same_store_collects_the_batch(batched) -> None:  # type: ignore[no-untyped-def]
    """What a kernel restart between submit and collect comes to: the store knows the batch."""
    served = batched(polls=0)
    served.assistant().ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    served.made[0].close()

    later = served.assistant()
    answers = later.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    assert [label.kind for label in answers] == EXPECTED
    assert len(served.server.batches) == 1


def test_a_failed_line_fails_its_rows_only_and_they_are_sent_again(batched) -> None:  # type: ignore[no-untyped-def]
    served = batched(polls=0)
    assistant = served.assistant()
    # The first line (the crash ticket, rows 42 and 19) answers a 500; the others are labelled.
    served.server.script(HttpError(500, "The server had an error processing your request."))
    assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)

    answers = assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    errors = answers.attrs["errors"]
    assert answers.isna().tolist() == [True, False, False, False, True]
    failed = [why for why in errors if isinstance(why, str)]
    assert len(failed) == 2
    assert all("the batch's line failed (500)" in why for why in failed)
    assert [label.kind for label in answers.dropna()] == EXPECTED[1:4]

    # The failed rows go in a new batch of their own at the next run, and are collected after.
    assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    _, second = served.server.batches
    assert len(served.input_lines(second)) == 1
    answers = assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    assert [label.kind for label in answers] == EXPECTED


def test_an_expired_batch_fails_the_rows_it_never_ran(batched) -> None:  # type: ignore[no-untyped-def]
    served = batched(polls=3)
    assistant = served.assistant()
    assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    (batch,) = served.server.batches
    served.server.expire_batch(batch["id"])

    answers = assistant.ask_each(QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True)
    assert answers.isna().all()
    assert all("expired" in why for why in answers.attrs["errors"])
    assert served.model_requests() == []


def test_grouped_rows_share_lines_of_a_batch(batched) -> None:  # type: ignore[no-untyped-def]
    served = batched(polls=0)
    assistant = served.assistant()
    assistant.ask_each(
        QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True, rows_per_request=2
    )
    (batch,) = served.server.batches
    assert len(served.input_lines(batch)) == 2, "4 distinct rows, 2 to a line"
    answers = assistant.ask_each(
        QUESTION, TICKETS, schema=Label, fields=SUBJECT, batch_api=True, rows_per_request=2
    )
    assert [label.kind for label in answers] == EXPECTED


def test_the_magic_sends_a_batch_and_jobs_lists_it(ip, server: ScriptedServer, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["tickets"] = TICKETS
    ip.run_line_magic("assistant", "jobs")
    assert "No batches yet: %%ask --each NAME --batch-api sends one." in capsys.readouterr().out

    result = ip.run_cell(f"%%ask --each tickets --fields subject --batch-api -o labels\n{QUESTION}")
    assert result.error_in_exec is None
    (batch,) = server.batches
    capsys.readouterr()
    ip.run_line_magic("assistant", "jobs")
    listed = capsys.readouterr().out.strip()
    assert listed.startswith(f"{batch['id']}  ")
    assert f"tickets: 4 rows in 4 requests, gpt-5.4-mini at {server.base_url}: " in listed
    assert re.search(r": (validating|in_progress, \d of 4 done)$", listed), listed
    assert API_KEY not in listed
