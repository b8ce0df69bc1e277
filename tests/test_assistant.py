"""The Python API, no IPython: `Assistant.ask` runs an ask, returns its `Answer`, shows it in the
view it is given and records it. Most of these run on the in-process fake dialect; the last ones
go over HTTP to the scripted server, for what only the wire can show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_magic import Assistant
from assistant_magic.ask import AskOutcome
from assistant_magic.errors import ApiError, ConfigurationError
from assistant_magic.events import Event, ResponseFinished, ResponseStarted, TextDelta
from assistant_magic.settings import Settings
from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

from conftest import API_KEY
from fake_dialect import FakeDialect


class RecordingView:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, *, model: str, thread_id: str) -> None:
        self.calls.append(("start", (model, thread_id)))

    def update(self, event: Event) -> None:
        self.calls.append(("update", event))

    def finish(self, outcome: AskOutcome) -> None:
        self.calls.append(("finish", outcome))

    def events(self) -> list[object]:
        return [payload for kind, payload in self.calls if kind == "update"]


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[tuple[Assistant, FakeDialect]]:
    dialects: list[FakeDialect] = []

    def make(settings: Settings) -> FakeDialect:
        dialects.append(FakeDialect(settings))
        return dialects[-1]

    assistant = Assistant(
        store=tmp_path / "threads.sqlite3",
        base_url="http://127.0.0.1:9/v1",
        dialect="chat",
        environ={},
        dialect_maker=make,
    )
    assistant.dialect(assistant.settings())  # made now, so the test can script it
    yield assistant, dialects[0]
    assistant.close()


def test_an_ask_reaches_the_view_in_order_and_is_recorded(fake) -> None:  # type: ignore[no-untyped-def]
    assistant, dialect = fake
    dialect.script(Text("Hello there."))
    view = RecordingView()

    answer = assistant.ask("Hi", view=view)

    assert answer == "Hello there." and answer.outcome is not None
    kinds = [kind for kind, _ in view.calls]
    assert kinds[0] == "start" and kinds[-1] == "finish" and kinds.count("finish") == 1
    events = view.events()
    assert isinstance(events[0], ResponseStarted) and isinstance(events[-1], ResponseFinished)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there."
    assert view.calls[-1][1] == answer.outcome
    (ask,) = assistant.threads.store.asks(answer.outcome.thread_id)
    assert (ask.status, ask.user_text, ask.answer_text) == ("completed", "Hi", "Hello there.")
    assert ask.usage == answer.outcome.usage is not None
    assert assistant.ask_ids == [ask.id]


def test_the_next_ask_continues_the_thread(fake) -> None:  # type: ignore[no-untyped-def]
    assistant, dialect = fake
    dialect.script(Text("530,000."), Text("Goku: 9001."))
    assistant.ask("Mamezou's strength?")
    assistant.ask("And Goku?")
    history = dialect.requests[-1].history
    assert [(past.user_text, past.answer) for past in history] == [
        ("Mamezou's strength?", "530,000."),
        ("And Goku?", ""),
    ]


def test_functions_given_as_tools_run_and_answer_the_model(fake) -> None:  # type: ignore[no-untyped-def]
    assistant, dialect = fake

    def calc_strength(name: str) -> int:
        """Calculate battle strength.

        Args:
            name: the fighter's name
        """
        return 530_000 if name == "Mamezou" else 9001

    dialect.script(
        ToolCalls(
            [
                FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_1"),
                FunctionCall("calc_strength", {"name": "Goku"}, call_id="call_2"),
            ]
        ),
        Text("530,000 and 9,001."),
    )

    answer = assistant.ask("Measure them", tools=[calc_strength])

    assert answer == "530,000 and 9,001."
    (first, second) = dialect.requests
    assert [schema.name for schema in first.tools] == ["calc_strength"]
    outputs = {o.call_id: o.output for o in second.tool_outputs}
    assert outputs == {"call_1": "530000", "call_2": "9001"}
    calls = assistant.threads.store.tool_calls(answer.outcome.ask_id)  # type: ignore[union-attr]
    assert [(c.name, c.status, c.output) for c in calls] == [
        ("calc_strength", "ok", "530000"),
        ("calc_strength", "ok", "9001"),
    ]


def test_options_are_checked_and_changes_are_for_one_ask(fake) -> None:  # type: ignore[no-untyped-def]
    assistant, dialect = fake
    with pytest.raises(ConfigurationError, match=r"AssistantMagics\.timeout must be more than 0"):
        Assistant(timeout=-1)
    assistant.ask("Hi", model="gpt-5.4", instructions="Be brief.")
    assistant.ask("Again")
    first, second = dialect.requests
    assert (first.model, first.instructions) == ("gpt-5.4", "Be brief.")
    assert (second.model, second.instructions) == ("gpt-5.4-mini", "")


def test_a_preview_sends_and_records_nothing(fake) -> None:  # type: ignore[no-untyped-def]
    assistant, dialect = fake
    assert assistant.preview("Hi") == [("FAKE", {"model": "gpt-5.4-mini", "input": "Hi"})]
    assert dialect.requests == [] and assistant.threads.thread is None


# -- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def over_http(tmp_path: Path, server: ScriptedServer) -> Iterator[Assistant]:
    assistant = Assistant(
        store=tmp_path / "threads.sqlite3",
        notebook="nb.ipynb",
        base_url=server.base_url,
        dialect="responses",
        max_retries=0,
        timeout=30.0,
        environ={"OPENAI_API_KEY": API_KEY},
    )
    yield assistant
    assistant.close()


def test_an_ask_over_the_responses_api(over_http: Assistant, server: ScriptedServer) -> None:
    server.script(Text("Hello there."))
    answer = over_http.ask("Hi")
    assert answer == "Hello there."
    thread = over_http.threads.thread
    assert thread is not None and thread.remote_id is not None
    assert (thread.title, thread.notebook, thread.dialect) == ("Hi", "nb.ipynb", "responses")


def test_a_message_is_kept_even_when_the_server_is_unreachable(over_http: Assistant) -> None:
    view = RecordingView()
    with pytest.raises(ApiError, match="Cannot reach"):
        over_http.ask("Do not lose me", view=view, base_url="http://127.0.0.1:9/v1")
    thread = over_http.threads.thread
    assert thread is not None and thread.remote_id is None
    (ask,) = over_http.threads.store.asks(thread.id)
    assert (ask.user_text, ask.status) == ("Do not lose me", "failed")
    finished = view.calls[-1][1]
    assert isinstance(finished, AskOutcome) and finished.status == "failed"


def test_a_thread_stays_on_its_server(over_http: Assistant, server: ScriptedServer) -> None:
    over_http.ask("Hi")
    elsewhere = "http://127.0.0.1:9/v1"
    with pytest.raises(ConfigurationError, match="thread new"):
        over_http.ask("Hi", base_url=elsewhere)
    thread, remote_deleted = over_http.threads.delete(
        over_http.threads.thread.id,  # type: ignore[union-attr]
        over_http.settings(base_url=elsewhere),
    )
    assert not remote_deleted, "a thread on another server is only forgotten here"
    assert server.requests_to("DELETE", f"/v1/conversations/{thread.remote_id}") == []
    assert over_http.threads.thread is None


def test_one_dialect_per_server_is_reused(over_http: Assistant) -> None:
    settings = over_http.settings()
    assert over_http.dialect(settings) is over_http.dialect(over_http.settings())
    assert over_http.dialect(settings) is not over_http.dialect(over_http.settings(timeout=5.0))
