"""The turn loop without IPython: what the view sees and what the store keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant_magic.errors import ApiError, ConfigurationError
from assistant_magic.events import Event, ResponseStarted, TextDelta, TurnFinished
from assistant_magic.session import Session, TurnOutcome
from assistant_magic.settings import Settings, resolve
from assistant_magic.testing import ScriptedServer, Text

from conftest import API_KEY


class RecordingView:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def start(self, *, model: str, thread_id: str) -> None:
        self.calls.append(("start", (model, thread_id)))

    def update(self, event: Event) -> None:
        self.calls.append(("update", event))

    def finish(self, outcome: TurnOutcome) -> None:
        self.calls.append(("finish", outcome))


def settings_for(base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = dict(
        model="gpt-5.4-mini",
        instructions="",
        base_url=base_url,
        api="responses",
        api_key_env="KEY",
        timeout=30.0,
        max_retries=0,
    )
    values.update(overrides)
    return resolve(environ={"KEY": API_KEY}, **values)  # type: ignore[arg-type]


@pytest.fixture
def session(tmp_path: Path) -> Session:
    created = Session(tmp_path / "threads.sqlite3", notebook="nb.ipynb")
    yield created  # type: ignore[misc]
    created.close()


def test_a_turn_reaches_the_view_in_order_and_is_recorded(
    session: Session, server: ScriptedServer
) -> None:
    server.script(Text("Hello there."))
    view = RecordingView()
    outcome = session.ask("Hi", settings_for(server.base_url), view)
    kinds = [kind for kind, _ in view.calls]
    assert kinds[0] == "start" and kinds[-1] == "finish"
    assert kinds.count("finish") == 1
    events = [payload for kind, payload in view.calls if kind == "update"]
    assert isinstance(events[0], ResponseStarted)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there."
    assert isinstance(events[-1], TurnFinished)
    assert view.calls[-1][1] == outcome
    assert (outcome.status, outcome.text) == ("completed", "Hello there.")

    (turn,) = session.store.turns(outcome.thread_id)
    assert (turn.status, turn.user_text, turn.answer_text) == ("completed", "Hi", "Hello there.")
    assert turn.response_id == outcome.response_id == events[0].response_id  # type: ignore[union-attr]
    assert turn.usage == outcome.usage and turn.usage is not None
    thread = session.thread
    assert thread is not None and thread.remote_id is not None
    assert (thread.title, thread.notebook, thread.dialect) == ("Hi", "nb.ipynb", "responses")


def test_a_message_is_kept_even_when_the_server_is_unreachable(
    session: Session, server: ScriptedServer
) -> None:
    view = RecordingView()
    with pytest.raises(ApiError, match="Cannot reach"):
        session.ask("Do not lose me", settings_for("http://127.0.0.1:9/v1"), view)
    thread = session.thread
    assert thread is not None and thread.remote_id is None
    (turn,) = session.store.turns(thread.id)
    assert (turn.user_text, turn.status) == ("Do not lose me", "failed")
    finished = view.calls[-1][1]
    assert isinstance(finished, TurnOutcome) and finished.status == "failed"


def test_a_thread_stays_on_its_server(session: Session, server: ScriptedServer) -> None:
    session.ask("Hi", settings_for(server.base_url), RecordingView())
    elsewhere = settings_for("http://127.0.0.1:9/v1")
    with pytest.raises(ConfigurationError, match="thread new"):
        session.ask("Hi", elsewhere, RecordingView())
    thread, remote_deleted = session.delete_thread(session.thread.id, elsewhere)  # type: ignore[union-attr]
    assert not remote_deleted, "a thread on another server is only forgotten here"
    assert server.requests_to("DELETE", f"/v1/conversations/{thread.remote_id}") == []
    assert session.thread is None


def test_one_backend_per_server_is_reused(session: Session, server: ScriptedServer) -> None:
    settings = settings_for(server.base_url)
    assert session.backend(settings) is session.backend(settings_for(server.base_url))
    assert session.backend(settings) is not session.backend(
        settings_for(server.base_url, timeout=5.0)
    )
