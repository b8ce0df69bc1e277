"""Asking over rows (`Assistant.ask_each`) over HTTP against the scripted server: answers aligned
to the input, typed, failures kept per row, the store's answers, identical rows, budgets, rate
limits, rows grouped in one request."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest
from pydantic import BaseModel

from assistant_magic import Assistant
from assistant_magic.rows import asking
from assistant_magic.rows.asking import RowsAsk
from assistant_magic.rows.job import JobInterrupted
from assistant_magic.testing import HttpError, ReplyContext, ScriptedServer, Text

from conftest import API_KEY, SPEC

DIALECTS = ("responses", "chat")
QUESTION = "Classify this support ticket: bug, billing, feature request or other."


class Label(BaseModel):
    kind: Literal["bug", "billing", "feature request", "other"]


def kind_of(subject: str) -> str:
    words = subject.lower()
    if "crash" in words or "error" in words:
        return "bug"
    if "charge" in words or "invoice" in words:
        return "billing"
    if "please add" in words:
        return "feature request"
    return "other"


ROW = re.compile(r"^### row(?: (\d+))?\n`{3,}text\n(.*?)\n`{3,}", re.DOTALL | re.MULTILINE)


def rows_in(text: str) -> list[tuple[int | None, dict[str, str]]]:
    """The rows a request's message holds, as the job wrote them: (number, fields)."""
    found = []
    for number, body in ROW.findall(text):
        fields = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
        found.append((int(number) if number else None, fields))
    return found


def labeller(context: ReplyContext) -> Text:
    """Answers each row by its subject, typed or not, one row or a group, as asked."""
    rows = rows_in(context.last_user_text or "")
    schema = context.body.get("text", {}).get("format") or context.body.get("response_format")
    typed = schema is not None
    if len(rows) == 1 and rows[0][0] is None:
        kind = kind_of(rows[0][1].get("subject", ""))
        return Text(json.dumps({"kind": kind}) if typed else kind)
    answers = [
        {"row": number, "answer": {"kind": kind_of(fields.get("subject", ""))}}
        for number, fields in rows
    ]
    return Text(json.dumps({"rows": answers}))


TICKETS = pd.DataFrame(
    {
        "subject": [
            "App crash on start",
            "Double charge on my card",
            "Please add dark mode",
            "Hello there",
            "App crash on start",
        ],
        "customer": ["ann", "bob", "cy", "di", "ed"],
    },
    index=[42, 7, 7, 3, 19],  # shuffled, with a duplicated label
)
EXPECTED = ["bug", "billing", "feature request", "other", "bug"]


class Served:
    """A scripted server answering with `reply`, and assistants pointed at it (one store)."""

    def __init__(self, reply: Any, store: Path, **server_options: Any) -> None:
        self.server = ScriptedServer(
            api_key=API_KEY, openapi=SPEC, default_reply=reply, **server_options
        )
        self.server.__enter__()
        self.store = store
        self.made: list[Assistant] = []

    def assistant(self, dialect: str = "responses", **options: Any) -> Assistant:
        self.made.append(
            Assistant(
                store=self.store,
                base_url=self.server.base_url,
                dialect=dialect,
                model="gpt-5.4-mini",
                environ={"OPENAI_API_KEY": API_KEY},
                **options,
            )
        )
        return self.made[-1]

    def close(self) -> None:
        for assistant in self.made:
            assistant.close()
        self.server.__exit__(None, None, None)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """`serve(reply)`: a server answering with `reply`; checked against the spec at the end."""
    started: list[Served] = []

    def start(reply: Any) -> Served:
        started.append(Served(reply, tmp_path / "threads.sqlite3"))
        return started[-1]

    yield start
    for served in started:
        errors = served.server.validation_errors
        served.close()
        assert errors == [], "\n".join(errors)


def model_requests(server: ScriptedServer) -> list[dict[str, Any]]:
    return [
        r.body
        for r in server.requests
        if r.method == "POST" and r.path in ("/v1/responses", "/v1/chat/completions")
    ]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_answers_are_aligned_to_the_index_and_typed(serve, dialect) -> None:  # type: ignore[no-untyped-def]
    served = serve(labeller)
    server = served.server
    answers = served.assistant(dialect).ask_each(
        QUESTION, TICKETS, schema=Label, fields=["subject"]
    )
    assert list(answers.index) == [42, 7, 7, 3, 19]
    assert [label.kind for label in answers] == EXPECTED
    assert answers.attrs["errors"].empty
    bodies = model_requests(server)
    assert len(bodies) == 4, "the two identical rows were asked once"
    assert all(body["stream"] is False for body in bodies)
    for body in bodies:
        text = json.dumps(body)
        assert "customer" not in text, "--fields: only the columns named are sent"
        assert "Classify this support ticket" in text


def test_text_answers_from_a_series_and_a_list(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(
        lambda context: Text(kind_of(rows_in(context.last_user_text or "")[0][1].get("value", "")))
    )
    assistant = served.assistant()
    subjects = pd.Series(["App crash", "Invoice wrong"], index=["a", "b"])
    answers = assistant.ask_each(QUESTION, subjects)
    assert answers.to_dict() == {"a": "bug", "b": "billing"}
    listed = assistant.ask_each(QUESTION, ["Please add export", "hi"])
    assert listed.tolist() == ["feature request", "other"] and list(listed.index) == [0, 1]


def test_a_failing_row_is_an_error_and_the_others_are_answered(serve) -> None:  # type: ignore[no-untyped-def]
    def answers(context: ReplyContext) -> Text | HttpError:
        subject = rows_in(context.last_user_text or "")[0][1]["subject"]
        if "Hello" in subject:
            return Text("{not json")
        if "dark mode" in subject:
            return HttpError(500)
        return labeller(context)

    result = (
        serve(answers)
        .assistant(max_retries=0)
        .ask_each(QUESTION, TICKETS, schema=Label, expand=True)
    )
    assert result.loc[42, "kind"] == "bug" and result.loc[19, "kind"] == "bug"
    errors = result["error"]
    assert errors.loc[3].startswith("the answer did not match Label: the answer: Invalid JSON")
    assert "failed (500)" in errors.iloc[2]
    assert errors.iloc[2].endswith("Run the cell again to ask the rows that failed.")
    assert "%assistant retry" not in errors.iloc[2], "that would resend the thread's last ask"
    assert pd.isna(errors.loc[42]) and pd.isna(errors.loc[19])
    assert list(result.columns) == ["kind", "error"]


def test_a_second_run_sends_nothing_and_fresh_asks_again(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(labeller)
    server = served.server
    assistant = served.assistant()
    first = assistant.ask_each(QUESTION, TICKETS, schema=Label)
    sent = len(model_requests(server))
    again = served.assistant().ask_each(QUESTION, TICKETS, schema=Label)  # another kernel
    assert len(model_requests(server)) == sent, "every answer came from the store"
    assert again.equals(first)
    assistant.ask_each(QUESTION, TICKETS, schema=Label, fresh=True)
    assert len(model_requests(server)) == 2 * sent
    assistant.ask_each(QUESTION + " Be brief.", TICKETS, schema=Label)
    assert len(model_requests(server)) == 3 * sent, "another question is another request"


def test_failed_rows_are_not_kept_so_a_second_run_asks_only_them(serve) -> None:  # type: ignore[no-untyped-def]
    failed: list[str] = []

    def flaky(context: ReplyContext) -> Text:
        subject = rows_in(context.last_user_text or "")[0][1]["subject"]
        if "Hello" in subject and not failed:
            failed.append(subject)  # the first time only
            return Text("not JSON at all")
        return labeller(context)

    served = serve(flaky)
    server = served.server
    assistant = served.assistant()
    first = assistant.ask_each(QUESTION, TICKETS, schema=Label)
    assert len(first.attrs["errors"]) == 1
    before = len(model_requests(server))
    second = assistant.ask_each(QUESTION, TICKETS, schema=Label)
    assert len(model_requests(server)) == before + 1
    assert [label.kind for label in second] == EXPECTED


def test_the_token_budget_stops_the_job_before_crossing_it(serve) -> None:  # type: ignore[no-untyped-def]
    rows = pd.DataFrame({"subject": [f"App crash number {i}" for i in range(30)]})
    assistant = serve(labeller).assistant(max_job_tokens=400)
    answers = assistant.ask_each(QUESTION, rows, schema=Label, concurrency=1)
    answered = answers.notna().sum()
    assert 0 < answered < 30
    errors = answers.attrs["errors"]
    assert len(errors) == 30 - answered
    assert errors.iloc[0].startswith("not asked: the next request would cross the job's token")


def test_rate_limits_slow_the_job_down_instead_of_failing_rows(serve) -> None:  # type: ignore[no-untyped-def]
    lock = threading.Lock()
    seen = {"n": 0}

    def limited(context: ReplyContext) -> Text | HttpError:
        with lock:
            seen["n"] += 1
            if seen["n"] % 3 == 0:
                return HttpError(429, retry_after_ms=5)
        return labeller(context)

    rows = pd.DataFrame({"subject": [f"Invoice {i} wrong" for i in range(24)]})
    assistant = serve(limited).assistant(max_retries=0)
    ask = RowsAsk(QUESTION, rows, answer=assistant.answer_type(Label), concurrency=8)
    job = asking.job(ask, assistant.settings(), assistant.threads.store.path, None)
    try:
        results = job.run()
    finally:
        job.cache.close()
    assert all(result.error is None for result in results)
    assert job.runner is not None and job.runner.limit.slowed > 0


def test_rows_share_a_request_and_a_row_left_out_is_asked_alone(serve) -> None:  # type: ignore[no-untyped-def]
    def forgetful(context: ReplyContext) -> Text:
        reply = labeller(context)
        data = json.loads(reply.text)
        if "rows" in data:
            data["rows"] = [entry for entry in data["rows"] if entry["row"] != 1]  # loses one
            data["rows"].append({"row": 99, "answer": {"kind": "other"}})  # and adds one
        return Text(json.dumps(data))

    served = serve(forgetful)
    server = served.server
    rows = pd.DataFrame({"subject": [f"App crash {i}" for i in range(10)]})
    answers = served.assistant().ask_each(QUESTION, rows, schema=Label, rows_per_request=5)
    assert [label.kind for label in answers] == ["bug"] * 10
    bodies = model_requests(server)
    assert len(bodies) == 3, "two groups of five, then row 1 alone"
    first = next(body for body in bodies if "### row 0" in json.dumps(body))
    grouped = first["text"]["format"]
    assert grouped["name"] == "RowAnswers" and grouped["strict"] is True
    assert "### row 4" in json.dumps(first) and "### row 5" not in json.dumps(first)


def test_dry_run_shows_the_first_request_and_how_many(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(labeller)
    server = served.server
    shown = served.assistant().preview_each(
        QUESTION, TICKETS, schema=Label, fields=["subject"], rows_per_request=2
    )
    assert "Rows: 5 (4 different; 0 answered in the store)." in shown
    assert "Requests: 2 (at most 8 at once, 2 rows each)." in shown
    assert "POST /responses (the first)" in shown and '"name": "RowAnswers"' in shown
    assert "Estimated: ~" in shown and "$" in shown
    assert model_requests(server) == []


def test_an_interrupted_job_keeps_what_it_answered(serve) -> None:  # type: ignore[no-untyped-def]
    import _thread
    import time

    answered = {"n": 0}

    def slow(context: ReplyContext) -> Text:
        answered["n"] += 1
        if answered["n"] == 4:
            _thread.interrupt_main()  # as Stop (or Ctrl-C) does, mid-job
        time.sleep(0.02)
        return labeller(context)

    served = serve(slow)
    server = served.server
    rows = pd.DataFrame({"subject": [f"App crash {i}" for i in range(40)]})
    assistant = served.assistant()
    with pytest.raises(JobInterrupted) as caught:
        assistant.ask_each(QUESTION, rows, schema=Label, concurrency=2)
    stopped = caught.value
    kept = stopped.answers.notna().sum()
    assert 0 < kept < 40
    assert str(stopped).startswith(f"Interrupted: {kept} of 40 rows answered and kept")
    before = len(model_requests(server))
    answered["n"] = 100  # no more interrupts
    again = assistant.ask_each(QUESTION, rows, schema=Label)
    assert len(model_requests(server)) - before == 40 - kept
    assert again.notna().all()


# -- the magic ----------------------------------------------------------------------------------


def test_the_magic_runs_a_job_and_says_what_failed(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["tickets"] = TICKETS
    server.script(*[Text("bug")] * 3, HttpError(400, "No."))
    cell = f"%%ask --each tickets --fields subject --concurrency 1 -o labels\n{QUESTION}"
    result = ip.run_cell(cell)
    assert result.error_in_exec is None
    out = capsys.readouterr().out
    labels = ip.user_ns["labels"]
    assert list(labels.index) == list(TICKETS.index)
    assert labels.notna().sum() == 4, "the identical rows share their answer"
    assert labels.attrs["errors"].to_dict() == {
        3: f"{server.base_url} rejected the request (400): No."
    }
    assert "[assistant] ■ gpt-5.4-mini · 5 / 5 rows" in out and "1 failed" in out
    assert "1 row without an answer: see labels.attrs['errors']." in out


def test_the_magic_checks_what_goes_with_each(ip, server) -> None:  # type: ignore[no-untyped-def]
    from conftest import one_line

    for line, says in (
        ("--each nothing", "--each nothing: no variable named 'nothing'"),
        ("--each tickets --tools calc", "--tools does not go with --each"),
        ("--each tickets --rows-per-request 0", "--rows-per-request 0: give 1 to 100"),
        ("--each tickets --fields nope", "--fields: tickets has no column 'nope'"),
    ):
        ip.user_ns["tickets"] = TICKETS
        error = ip.run_cell(f"%%ask {line}\n{QUESTION}").error_in_exec
        assert one_line(error) and says in str(error), (line, error)
    assert model_requests(server) == []


def test_the_magic_dry_run_sends_nothing(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["tickets"] = TICKETS
    ip.run_cell(f"%%ask --each tickets --dry-run\n{QUESTION}")
    out = capsys.readouterr().out
    assert "Rows: 5 (5 different; 0 answered in the store)." in out
    assert "POST /responses (the first)" in out and API_KEY not in out
    assert model_requests(server) == []


def test_with_replay_only_a_job_answers_from_the_store_and_sends_nothing(serve) -> None:  # type: ignore[no-untyped-def]
    served = serve(labeller)
    served.assistant().ask_each(QUESTION, TICKETS.iloc[:2], schema=Label, fields=["subject"])
    sent = len(model_requests(served.server))
    offline = served.assistant(replay="only")
    answers = offline.ask_each(QUESTION, TICKETS, schema=Label, fields=["subject"])
    assert len(model_requests(served.server)) == sent
    assert answers.notna().sum() == 3  # the two rows answered before, one of them twice
    assert answers.attrs["errors"].iloc[0].startswith("not asked: replay is only")


def test_the_job_ends_when_its_end_comes_in_one_read_with_the_last_answers() -> None:
    """The runner's end (None) read together with outcomes still queued must end the wait;
    it once was dropped there, and a fast job waited forever."""
    import queue
    from types import SimpleNamespace

    from assistant_magic.rows.job import Job
    from assistant_magic.rows.running import Outcome, Work

    outcomes: queue.Queue[Outcome | None] = queue.Queue()
    first, last = Outcome(Work("a", (0,)), error="x"), Outcome(Work("b", (1,)), error="y")
    for item in (first, last, None):
        outcomes.put(item)
    recorded: list[Outcome] = []
    job = SimpleNamespace(
        _record=recorded.extend,
        _waiting=Job._waiting,
        view=SimpleNamespace(show=lambda progress: None),
        progress=None,
    )
    finished = threading.Event()
    waiting = threading.Thread(
        target=lambda: (Job._collect(job, SimpleNamespace(outcomes=outcomes)), finished.set()),  # type: ignore[arg-type]
        daemon=True,
    )
    waiting.start()
    assert finished.wait(5), "the job waited on after its runner had ended"
    assert recorded == [first, last]
