"""Replay over HTTP on every dialect: recorded, then replayed with no request and no key; what
differs goes live (on) or is one line naming it (only); a replayed thread goes on live holding
what was replayed; tools run again; typed answers, images and usage come back; export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from assistant_magic import Assistant
from assistant_magic.replay.dialect import ReplayMissing
from assistant_magic.replay.recordings import RecordingError, ReplayFile, export, load
from assistant_magic.testing import (
    FunctionCall,
    ImageGeneration,
    ReplyContext,
    ScriptedServer,
    Text,
)

from conftest import API_KEY, EventLog, one_line

DIALECTS = ("responses", "chat", "assistants")
CALLED: list[str] = []


def calc_strength(name: str) -> int:
    """The battle strength of a fighter.

    Args:
        name: The fighter's name.
    """
    CALLED.append(name)
    return 530_000 if name == "Mamezou" else 9_001


class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]


@pytest.fixture
def make(server: ScriptedServer, tmp_path: Path) -> Iterator[Any]:
    made: list[Assistant] = []

    def assistant(dialect: str, replay: str, key: bool = True, **options: Any) -> Assistant:
        made.append(
            Assistant(
                store=tmp_path / "threads.sqlite3",
                base_url=server.base_url,
                dialect=dialect,
                environ={"OPENAI_API_KEY": API_KEY} if key else {},
                replay=replay,
                **{"model": "gpt-5.4-mini", **options},
            )
        )
        return made[-1]

    yield assistant
    for each in made:
        each.close()


def offline(recordings: Path, store: Path) -> Assistant:
    """An assistant on another machine: a fresh store, no key, replay only from `recordings`."""
    return Assistant(
        store=store,
        base_url="http://127.0.0.1:9/v1",  # nothing listens: replay only never connects
        dialect="responses",
        model="gpt-5.4-mini",
        environ={},
        replay="only",
        replay_file=str(recordings),
    )


def model_requests(server: ScriptedServer) -> int:
    return sum(
        1
        for r in server.requests
        if r.method == "POST"
        and (r.path in ("/v1/responses", "/v1/chat/completions") or r.path.endswith("/runs"))
    )


def record_two_asks(assistant: Assistant, server: ScriptedServer) -> list[str]:
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}), Text("530,000."), Text("Goku: less.")
    )
    first = assistant.ask("Strength of Mamezou?", tools=[calc_strength])
    second = assistant.ask("And Goku?")
    return [str(first), str(second)]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_recorded_asks_are_replayed_with_no_request_and_no_key(make, server, dialect) -> None:  # type: ignore[no-untyped-def]
    recorded = record_two_asks(make(dialect, "on"), server)
    sent = len(server.requests)
    CALLED.clear()
    replaying = make(dialect, "only", key=False)
    log = EventLog()
    first = replaying.ask("Strength of Mamezou?", tools=[calc_strength], view=log)  # type: ignore[arg-type]
    second = replaying.ask("And Goku?")
    assert [str(first), str(second)] == recorded
    assert len(server.requests) == sent, "not one request while replaying"
    assert CALLED == ["Mamezou"], "the notebook's tool ran again"
    assert any(n.startswith("replayed: recorded ") and "gpt-5.4-mini" in n for n in log.notices)
    assert first.outcome is not None and first.outcome.usage is not None, "usage is replayed"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_differs_goes_live_when_on_and_is_one_line_when_only(make, server, dialect) -> None:  # type: ignore[no-untyped-def]
    record_two_asks(make(dialect, "on"), server)
    only = make(dialect, "only", key=False)
    with pytest.raises(ReplayMissing) as caught:
        only.ask("Strength of Frieza?", tools=[calc_strength])
    assert one_line(caught.value) and "the message" in str(caught.value)
    with pytest.raises(ReplayMissing) as caught:
        make(dialect, "only", key=False, model="gpt-5.4").ask(
            "Strength of Mamezou?", tools=[calc_strength]
        )
    assert "the model" in str(caught.value)
    before = model_requests(server)
    server.script(Text("Frieza: 1,200,000."))
    live = make(dialect, "on").ask("Strength of Frieza?")
    assert str(live) == "Frieza: 1,200,000." and model_requests(server) == before + 1


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_changed_tool_output_makes_the_next_response_go_live(make, server, dialect) -> None:  # type: ignore[no-untyped-def]
    record_two_asks(make(dialect, "on"), server)

    def calc_strength(name: str) -> int:  # redefined: another output now
        """The battle strength of a fighter.

        Args:
            name: The fighter's name.
        """
        return 1

    with pytest.raises(ReplayMissing, match="a tool's output"):
        make(dialect, "only", key=False).ask("Strength of Mamezou?", tools=[calc_strength])
    before = model_requests(server)
    server.script(Text("Only 1."))
    answer = make(dialect, "on").ask("Strength of Mamezou?", tools=[calc_strength])
    assert str(answer) == "Only 1."
    assert model_requests(server) == before + 1, "the call was replayed, the answer asked"


def test_a_replayed_conversation_goes_on_live_holding_what_was_replayed(make, server) -> None:  # type: ignore[no-untyped-def]
    record_two_asks(make("responses", "on"), server)
    going_on = make("responses", "on")
    going_on.ask("Strength of Mamezou?", tools=[calc_strength])
    going_on.ask("And Goku?")
    server.script(Text("Frieza: 1,200,000."))
    assert str(going_on.ask("And Frieza?")) == "Frieza: 1,200,000."
    made = server.requests_to("POST", "/v1/conversations")[-1].body
    kinds = [(item["type"], item.get("role")) for item in made["items"]]
    assert kinds == [
        ("message", "user"),
        ("function_call", None),
        ("function_call_output", None),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
    last = server.requests_to("POST", "/v1/responses")[-1].body
    thread = going_on.threads.thread
    assert thread is not None and last["conversation"] == thread.remote_id
    assert server.validation_errors == []


@pytest.mark.parametrize("dialect", DIALECTS)
def test_typed_answers_are_replayed(make, server, dialect) -> None:  # type: ignore[no-untyped-def]
    goku = {"name": "Goku", "power": 9001, "race": "saiyan"}
    server.script(Text(json.dumps(goku)))
    assert make(dialect, "on").ask_typed("Who is Goku?", Fighter) == Fighter(**goku)
    sent = len(server.requests)
    assert make(dialect, "only", key=False).ask_typed("Who is Goku?", Fighter) == Fighter(**goku)
    assert len(server.requests) == sent


def test_images_are_replayed(make, server) -> None:  # type: ignore[no-untyped-def]
    from image_samples import drawing, encode

    server.script(ImageGeneration(encode(drawing((32, 32)), "PNG")))
    made = make("responses", "on", image_generation=True).ask("Draw a scouter.")
    sent = len(server.requests)
    again = make("responses", "only", key=False, image_generation=True).ask("Draw a scouter.")
    assert len(server.requests) == sent
    assert [i.data for i in again.images] == [i.data for i in made.images] and made.images


def test_fresh_asks_live_once_and_records_the_new_answer(make, server) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("First."), Text("Second."))
    assert str(make("chat", "on").ask("Hi?")) == "First."
    assert str(make("chat", "on").ask("Hi?", fresh=True)) == "Second."
    assert str(make("chat", "only", key=False).ask("Hi?")) == "Second."


def test_export_carries_what_the_session_used_and_no_secret(make, server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.replay.commands import export_used

    assistant = make("responses", "on")
    record_two_asks(assistant, server)
    path = tmp_path / "quick.replay.jsonl"
    said = export_used(assistant, str(path))
    assert said.startswith("Exported 3 recordings to ")
    text = path.read_text()
    assert API_KEY not in text and "Authorization" not in text
    recordings = load(path).recordings
    assert len(recordings) == 3
    elsewhere = offline(path, tmp_path / "elsewhere.sqlite3")
    try:
        assert str(elsewhere.ask("Strength of Mamezou?", tools=[calc_strength])) == "530,000."
    finally:
        elsewhere.close()


def test_a_job_over_rows_is_exported_and_runs_elsewhere_with_no_network(
    make, server, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A notebook with `%%ask --each` runs offline too: the file carries the rows' answers."""
    from assistant_magic.replay.commands import export_used

    recording = make("responses", "on")

    def label(context: ReplyContext) -> Text:
        return Text("bug" if "crash" in (context.last_user_text or "") else "billing")

    server.script(label, label)
    rows = ["App crash on start", "Double charge", "App crash on start"]
    answers = recording.ask_each("Classify this ticket.", rows)
    assert list(answers) == ["bug", "billing", "bug"]
    path = tmp_path / "rows.replay.jsonl"
    said = export_used(recording, str(path))
    assert "and 2 rows' answers" in said, said
    assert len(load(path).rows) == 2
    elsewhere = offline(path, tmp_path / "elsewhere.sqlite3")
    try:
        again = elsewhere.ask_each("Classify this ticket.", rows)
        assert list(again) == ["bug", "billing", "bug"]
        assert again.attrs["errors"].isna().all()
        # What it used is exported again from there, rows included.
        assert "and 2 rows' answers" in export_used(elsewhere, str(tmp_path / "again.jsonl"))
    finally:
        elsewhere.close()


def test_a_damaged_recordings_file_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    for content in ("not json\n", '{"format": "other"}\n', ""):
        path = tmp_path / "bad.jsonl"
        path.write_text(content)
        with pytest.raises(RecordingError) as caught:
            load(path)
        assert one_line(caught.value) and "export it again" in str(caught.value)
    with pytest.raises(RecordingError, match="Cannot read the recordings file"):
        load(tmp_path / "missing.jsonl")
    export([], tmp_path / "empty.jsonl")
    assert load(tmp_path / "empty.jsonl") == ReplayFile({}, {})


def test_the_replay_command_sets_the_mode_and_exports(ip, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("assistant", "replay on")
    assert "replay: on" in capsys.readouterr().out
    server.script(Text("Recorded once."))
    ip.run_cell("%%ask\nHello?")
    ip.run_line_magic("assistant", "replay")
    assert "1 recording used in this session" in capsys.readouterr().out
    ip.run_cell("%%ask --dry-run\nHello?")  # on the same thread, after the recorded one
    assert "(not recorded: it would go live)." in capsys.readouterr().out
    ip.run_line_magic("assistant", "thread new")
    ip.run_cell("%%ask --dry-run\nHello?")  # as the first ask of a thread
    out = capsys.readouterr().out
    assert "Replay key: " in out and "(recorded: it would be replayed)." in out
    target = tmp_path / "hello.replay.jsonl"
    ip.run_line_magic("assistant", f"replay export {target}")
    assert f"Exported 1 recording to {target}" in capsys.readouterr().out
    error = ip.run_cell("%assistant replay sometimes").error_in_exec
    assert one_line(error) and "replay [on | off | only | export [PATH]]" in str(error)


@pytest.mark.parametrize("dialect", ["responses", "assistants"])
def test_a_thread_resumed_in_a_new_kernel_goes_on_from_its_last_response(
    make, server, dialect
) -> None:  # type: ignore[no-untyped-def]
    """The chain of keys is kept in the store: after a restart, an ask on the resumed thread
    follows its last response, not a thread's start (where a recording of the same message
    would answer it wrongly). Chat Completions needs no chain: its requests hold the thread."""
    first = make(dialect, "on")
    server.script(Text("Hello, Frieza."))
    first.ask("Hello")
    server.script(Text("About 9,001."))
    first.ask("Goku's power?")
    head = first.replayer.heads  # type: ignore[attr-defined]
    assert len(head) == 1
    first.close()

    resumed = make(dialect, "on")
    resumed.threads.resume()
    asked = model_requests(server)
    server.script(Text("Hello again."))
    again = resumed.ask("Hello")
    assert str(again) == "Hello again.", "not the thread's first answer, replayed"
    assert model_requests(server) == asked + 1
    (recording,) = [
        r
        for r in resumed.replayer.recordings.all()
        if r.events[-1].get("text") == "Hello again."  # type: ignore[attr-defined]
    ]
    assert recording.parent == next(iter(head.values()))
