"""The thread store on real SQLite files: records, lookups, asks, schema versions, sharing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assistant_magic import store_file, store_schema
from assistant_magic.errors import AssistantError
from assistant_magic.events import Usage
from assistant_magic.store import (
    SCHEMA_VERSION,
    AskRecord,
    Store,
    ThreadRecord,
    ToolCallRecord,
    make_title,
)

RESPONSES = {"model": "gpt-4o", "dialect": "responses", "base_url": "https://api.openai.com/v1"}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "threads.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store(db_path)
    yield s
    s.close()


def new_thread(store: Store, notebook: str = "nb.ipynb", **overrides: str) -> ThreadRecord:
    fields: dict[str, str] = {**RESPONSES, "notebook": notebook, **overrides}
    return store.create_thread(**fields)


def raw(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the file behind the store's back, as another program would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# -- threads ------------------------------------------------------------------------------


def test_create_thread_returns_the_stored_record(store: Store) -> None:
    t = new_thread(store, remote_id="conv_123")

    assert t.id.startswith("th_") and len(t.id) == 15
    int(t.id[3:], 16)  # the rest is hex
    assert (t.title, t.model, t.dialect, t.remote_id, t.notebook) == (
        "",
        "gpt-4o",
        "responses",
        "conv_123",
        "nb.ipynb",
    )
    assert t.created == t.updated
    assert store.get_thread(t.id) == t


def test_get_thread_by_remote_id_and_by_prefixes(store: Store) -> None:
    t = new_thread(store, remote_id="conv_68a1b2c3d4")
    other = new_thread(store, remote_id="conv_99ffee")

    assert store.get_thread("conv_68a1b2c3d4") == t
    assert store.get_thread("conv_68a1") == t
    assert store.get_thread(t.id[:8]) == t
    assert store.get_thread(f"  {other.id}\n") == other
    assert store.get_thread("th_not_there") is None
    assert store.get_thread("") is None


def test_ambiguous_prefix_names_the_candidates(store: Store) -> None:
    a = new_thread(store, remote_id="conv_abc1")
    b = new_thread(store, remote_id="conv_abc2")
    store.start_ask(a.id, "plot the residuals", "gpt-4o")

    with pytest.raises(AssistantError) as caught:
        store.get_thread("conv_abc")

    message = str(caught.value)
    assert "\n" not in message
    assert "'conv_abc' matches 2 threads" in message
    assert f"{a.id} (plot the residuals)" in message and b.id in message
    # Every local id starts with "th_", so the bare prefix is ambiguous too.
    with pytest.raises(AssistantError, match="matches 2 threads"):
        store.get_thread("th_")


def test_exact_remote_id_wins_over_a_longer_one_it_prefixes(store: Store) -> None:
    short = new_thread(store, remote_id="conv_1")
    new_thread(store, remote_id="conv_12")

    assert store.get_thread("conv_1") == short


def test_list_threads_newest_updated_first_with_notebook_filter(store: Store) -> None:
    first = new_thread(store, "a.ipynb")
    second = new_thread(store, "b.ipynb")
    third = new_thread(store, "a.ipynb")

    assert [t.id for t in store.list_threads()] == [third.id, second.id, first.id]
    assert [t.id for t in store.list_threads(notebook="a.ipynb")] == [third.id, first.id]
    assert store.list_threads(notebook="c.ipynb") == []
    assert [t.id for t in store.list_threads(limit=2)] == [third.id, second.id]
    assert len(store.list_threads(limit=None)) == 3

    # A new ask makes the oldest thread the most recent one.
    store.start_ask(first.id, "hello again", "gpt-4o")
    assert store.list_threads()[0].id == first.id


def test_latest_thread_follows_activity_per_notebook(store: Store) -> None:
    assert store.latest_thread("a.ipynb") is None
    older = new_thread(store, "a.ipynb")
    newer = new_thread(store, "a.ipynb")
    elsewhere = new_thread(store, "b.ipynb")

    assert store.latest_thread("a.ipynb") == newer
    ask = store.start_ask(older.id, "question", "gpt-4o")
    latest = store.latest_thread("a.ipynb")
    assert latest is not None and latest.id == older.id
    store.finish_ask(ask.id, status="completed", answer_text="answer")
    assert store.latest_thread("b.ipynb") == elsewhere


def test_update_thread_sets_fields_and_bumps_updated(store: Store) -> None:
    t = new_thread(store)

    updated = store.update_thread(t.id, title="Renamed", model="gpt-5", remote_id="conv_9")

    assert (updated.title, updated.model, updated.remote_id) == ("Renamed", "gpt-5", "conv_9")
    assert updated.created == t.created and updated.updated > t.updated
    assert store.get_thread(t.id) == updated
    assert store.update_thread(t.id, remote_id=None).remote_id is None
    with pytest.raises(TypeError, match="created"):
        store.update_thread(t.id, created=0.0)
    with pytest.raises(AssistantError, match="th_missing"):
        store.update_thread("th_missing", title="x")


def test_delete_thread_removes_its_turns(store: Store, db_path: Path) -> None:
    doomed = new_thread(store)
    kept = new_thread(store)
    for text in ("one", "two"):
        store.start_ask(doomed.id, text, "gpt-4o")
    store.start_ask(kept.id, "stays", "gpt-4o")

    store.delete_thread(doomed.id)
    store.delete_thread(doomed.id)  # already gone: nothing to do

    assert store.get_thread(doomed.id) is None
    assert store.asks(doomed.id) == []
    assert raw(db_path, "SELECT thread_id, user_text FROM asks") == [(kept.id, "stays")]


# -- asks --------------------------------------------------------------------------------


def test_ask_lifecycle_and_usage_round_trip(store: Store) -> None:
    t = new_thread(store)
    usage = Usage(input_tokens=120, output_tokens=35, total_tokens=155, cached_tokens=64)

    pending = store.start_ask(t.id, "What is ${x}?", "gpt-4o")
    assert (pending.seq, pending.status, pending.answer_text) == (1, "pending", "")
    assert pending.finished is None and pending.usage is None
    assert store.last_ask(t.id) == pending

    done = store.finish_ask(
        pending.id, status="completed", answer_text="x is {1}", response_id="resp_1", usage=usage
    )

    assert done.status == "completed" and done.answer_text == "x is {1}"
    assert done.response_id == "resp_1" and done.error is None
    assert done.usage == usage
    assert done.finished is not None and done.finished >= done.started
    assert store.asks(t.id) == [done]
    thread = store.get_thread(t.id)
    assert thread is not None and thread.updated >= done.finished


def test_failed_ask_keeps_error_and_has_no_usage(store: Store) -> None:
    t = new_thread(store)
    ask = store.start_ask(t.id, "hi", "gpt-4o")

    failed = store.finish_ask(ask.id, status="failed", answer_text="", error="ApiError: 429")

    assert (failed.status, failed.error, failed.usage) == ("failed", "ApiError: 429", None)
    with pytest.raises(ValueError, match="pending"):
        store.finish_ask(ask.id, status="pending", answer_text="")
    with pytest.raises(AssistantError, match="ask 9999"):
        store.finish_ask(9999, status="completed", answer_text="late")


def test_turns_are_numbered_and_limit_keeps_the_last_ones(store: Store) -> None:
    t = new_thread(store)
    other = new_thread(store)
    store.start_ask(other.id, "not mine", "gpt-4o")
    for i in range(1, 5):
        ask = store.start_ask(t.id, f"q{i}", "gpt-4o")
        store.finish_ask(ask.id, status="completed", answer_text=f"a{i}")

    assert [(x.seq, x.user_text) for x in store.asks(t.id)] == [
        (1, "q1"),
        (2, "q2"),
        (3, "q3"),
        (4, "q4"),
    ]
    assert [x.seq for x in store.asks(t.id, limit=2)] == [3, 4]
    assert [x.seq for x in store.asks(t.id, limit=10)] == [1, 2, 3, 4]
    last = store.last_ask(t.id)
    assert last is not None and last.answer_text == "a4"
    assert store.last_ask(new_thread(store).id) is None


def test_message_count_counts_questions_and_non_empty_answers(store: Store) -> None:
    t = new_thread(store)
    assert store.message_count(t.id) == 0
    answered = store.start_ask(t.id, "one", "gpt-4o")
    store.finish_ask(answered.id, status="completed", answer_text="answer")
    failed = store.start_ask(t.id, "two", "gpt-4o")
    store.finish_ask(failed.id, status="failed", answer_text="", error="boom")
    store.start_ask(t.id, "three", "gpt-4o")  # still pending

    assert store.message_count(t.id) == 4


def test_start_ask_on_a_missing_thread_is_a_user_error(store: Store) -> None:
    with pytest.raises(AssistantError, match="th_gone"):
        store.start_ask("th_gone", "hello", "gpt-4o")

    # The failed write was rolled back, so the next one starts a transaction of its own.
    t = new_thread(store)
    assert store.start_ask(t.id, "hello", "gpt-4o").seq == 1


# -- tool calls ---------------------------------------------------------------------------


def call(
    store: Store,
    ask_id: int,
    round: int,
    call_id: str,
    name: str = "calc_strength",
    arguments: str = '{"name": "Mamezou"}',
) -> ToolCallRecord:
    return store.start_tool_call(
        ask_id, round=round, call_id=call_id, name=name, arguments=arguments
    )


def test_tool_call_lifecycle(store: Store) -> None:
    t = new_thread(store)
    ask = store.start_ask(t.id, "How strong is Mamezou?", "gpt-4o")

    pending = call(store, ask.id, 1, "call_abc")

    assert pending == ToolCallRecord(
        id=pending.id,
        ask_id=ask.id,
        round=1,
        seq=1,
        call_id="call_abc",
        name="calc_strength",
        arguments='{"name": "Mamezou"}',
        output="",
        status="pending",
        duration=None,
        started=pending.started,
        finished=None,
    )
    assert pending.started >= ask.started
    assert store.tool_calls(ask.id) == [pending]
    assert store.pending_tool_calls(t.id) == [pending]

    done = store.finish_tool_call(pending.id, status="ok", output="530000", duration=0.25)

    assert done == replace(
        pending, output="530000", status="ok", duration=0.25, finished=done.finished
    )
    assert done.finished is not None and done.finished >= done.started
    assert store.tool_calls(ask.id) == [done]
    assert store.thread_tool_calls(t.id) == {ask.id: [done]}
    assert store.pending_tool_calls(t.id) == []


def test_tool_calls_keep_their_order_across_rounds_and_turns(store: Store) -> None:
    t = new_thread(store)
    other = new_thread(store)
    first = store.start_ask(t.id, "one", "gpt-4o")
    # Round 1 asks for two calls at once; they finish in the other order.
    a = call(store, first.id, 1, "call_a")
    b = call(store, first.id, 1, "call_b", arguments='{"name": "Tanuki"}')
    noise = call(store, store.start_ask(other.id, "elsewhere", "gpt-4o").id, 1, "call_a")
    store.finish_tool_call(b.id, status="error", output="KeyError: 'Tanuki'", duration=0.1)
    store.finish_tool_call(a.id, status="ok", output="530000", duration=0.2)
    call(store, first.id, 2, "call_c", name="plot", arguments="{}")
    store.finish_ask(first.id, status="completed", answer_text="done")
    quiet = store.start_ask(t.id, "no tools here", "gpt-4o")
    second = store.start_ask(t.id, "two", "gpt-4o")
    d = call(store, second.id, 1, "call_a")  # ids are unique per ask only
    e = call(store, second.id, 3, "call_e")  # a round may be skipped, never revisited

    calls = store.tool_calls(first.id)
    assert [(x.round, x.seq, x.call_id, x.name, x.status) for x in calls] == [
        (1, 1, "call_a", "calc_strength", "ok"),
        (1, 2, "call_b", "calc_strength", "error"),
        (2, 3, "call_c", "plot", "pending"),
    ]
    by_ask = store.thread_tool_calls(t.id)
    assert list(by_ask) == [first.id, second.id]  # asks oldest first, quiet ones left out
    assert by_ask[first.id] == calls
    assert by_ask[second.id] == [d, e]
    assert (d.seq, e.seq) == (1, 2)
    assert store.tool_calls(quiet.id) == []
    assert store.thread_tool_calls(other.id) == {noise.ask_id: [noise]}
    assert store.thread_tool_calls(new_thread(store).id) == {}


def test_tool_call_text_round_trips_exactly(db_path: Path) -> None:
    odd = [
        '{"name": "Mamezou"',  # cut short: not JSON
        '{"名前": "豆蔵 🐿", "note": "naïve ∑"}',
        "{{}} {x} ${y} %(z)s",
        "",
        "  \r\n\t{ }  \n",
        '{"s": "a\\u0000b", "q": "\\"quoted\\"", "b": "\\\\", "tick": "```"}',
        "nul \x00 inside",
        "x" * 100_000,
    ]
    with Store(db_path) as first:
        t = new_thread(first)
        ask = first.start_ask(t.id, "odd", "gpt-4o")
        for i, text in enumerate(odd, 1):
            record = call(first, ask.id, 1, f"call_{i}", name=f"tool_{i}", arguments=text)
            first.finish_tool_call(record.id, status="ok", output=text[::-1], duration=None)

    with Store(db_path) as second:  # a fresh connection reads what the file holds
        stored = second.tool_calls(ask.id)

    assert [x.arguments for x in stored] == odd
    assert [x.output for x in stored] == [text[::-1] for text in odd]
    assert [x.duration for x in stored] == [None] * len(odd)


def test_tool_calls_go_with_their_ask_and_thread(store: Store, db_path: Path) -> None:
    doomed, kept = new_thread(store), new_thread(store)
    for thread in (doomed, kept):
        ask = store.start_ask(thread.id, "q", "gpt-4o")
        call(store, ask.id, 1, f"call_{thread.id}_1")
        call(store, ask.id, 2, f"call_{thread.id}_2")
    kept_ask = store.start_ask(kept.id, "q2", "gpt-4o")
    call(store, kept_ask.id, 1, "call_last")

    store.delete_thread(doomed.id)

    assert store.thread_tool_calls(doomed.id) == {}
    assert raw(db_path, "SELECT call_id FROM tool_calls ORDER BY id") == [
        (f"call_{kept.id}_1",),
        (f"call_{kept.id}_2",),
        ("call_last",),
    ]
    # The store deletes no single ask yet; the schema cascades from asks all the same.
    store._connection().execute("DELETE FROM asks WHERE id = ?", (kept_ask.id,))
    assert raw(db_path, "SELECT call_id FROM tool_calls ORDER BY id") == [
        (f"call_{kept.id}_1",),
        (f"call_{kept.id}_2",),
    ]


def test_pending_tool_calls_are_those_never_answered(store: Store) -> None:
    t = new_thread(store)
    crashed = store.start_ask(t.id, "one", "gpt-4o")
    answered = call(store, crashed.id, 1, "call_1")
    lost_a = call(store, crashed.id, 1, "call_2")
    lost_b = call(store, crashed.id, 1, "call_3")
    store.finish_tool_call(answered.id, status="ok", output="1", duration=0.1)
    later = store.start_ask(t.id, "two", "gpt-4o")
    lost_c = call(store, later.id, 1, "call_1")
    elsewhere = new_thread(store)
    call(store, store.start_ask(elsewhere.id, "x", "gpt-4o").id, 1, "call_9")

    assert store.pending_tool_calls(t.id) == [lost_a, lost_b, lost_c]

    # After a crash, every pending call gets an answer so the conversation can go on.
    for record in store.pending_tool_calls(t.id):
        store.finish_tool_call(record.id, status="interrupted", output="", duration=None)
    assert store.pending_tool_calls(t.id) == []
    assert [x.status for x in store.tool_calls(crashed.id)] == ["ok", "interrupted", "interrupted"]
    assert len(store.pending_tool_calls(elsewhere.id)) == 1


def test_a_call_id_may_come_back_in_a_later_round(store: Store) -> None:
    # Some servers number calls afresh each round (call_0, call_1, ...).
    ask = store.start_ask(new_thread(store).id, "q", "gpt-4o")
    first, again = call(store, ask.id, 1, "call_0"), call(store, ask.id, 2, "call_0")
    assert [(c.round, c.call_id) for c in store.tool_calls(ask.id)] == [
        (1, "call_0"),
        (2, "call_0"),
    ]
    assert first.id != again.id


def test_tool_call_statuses_and_misuse_are_rejected(store: Store) -> None:
    t = new_thread(store)
    ask = store.start_ask(t.id, "q", "gpt-4o")
    record = call(store, ask.id, 2, "call_1")

    for status in ("pending", "OK", "failed", "completed", ""):
        with pytest.raises(ValueError, match="not a final tool call status"):
            store.finish_tool_call(record.id, status=status, output="x", duration=None)
    for status in ("ok", "error", "denied", "interrupted"):
        other = call(store, ask.id, 2, f"call_{status}")
        finished = store.finish_tool_call(other.id, status=status, output="", duration=None)
        assert finished.status == status
    with pytest.raises(ValueError, match="round 1"):
        call(store, ask.id, 1, "call_late")
    with pytest.raises(ValueError, match="round"):
        call(store, ask.id, 0, "call_zero")
    with pytest.raises(ValueError, match="call_1"):
        call(store, ask.id, 2, "call_1")
    denied = store.finish_tool_call(
        record.id, status="denied", output="denied by the user", duration=None
    )
    # A second finish (an interrupt racing the result) keeps what was recorded first.
    again = store.finish_tool_call(record.id, status="interrupted", output="late", duration=1.0)
    assert again == denied and (again.status, again.output) == ("denied", "denied by the user")
    with pytest.raises(AssistantError, match="ask 9999"):
        call(store, 9999, 1, "call_x")
    with pytest.raises(AssistantError, match="tool call 9999"):
        store.finish_tool_call(9999, status="ok", output="", duration=None)

    # The rejected calls wrote nothing: no row, no gap in seq.
    assert [(x.seq, x.call_id, x.status) for x in store.tool_calls(ask.id)] == [
        (1, "call_1", "denied"),
        (2, "call_ok", "ok"),
        (3, "call_error", "error"),
        (4, "call_denied", "denied"),
        (5, "call_interrupted", "interrupted"),
    ]
    assert store.tool_calls(ask.id)[0].output == "denied by the user"


def test_tool_calls_are_indexed_by_ask_and_seq(store: Store, db_path: Path) -> None:
    store.list_threads()  # creates the file

    indexes = {
        name: (unique, [row[2] for row in raw(db_path, f"PRAGMA index_info({name})")])
        for _, name, unique, *_ in raw(db_path, "PRAGMA index_list(tool_calls)")
    }

    assert indexes["tool_calls_by_ask"] == (1, ["ask_id", "seq"])
    assert indexes["tool_calls_by_call_id"] == (1, ["ask_id", "round", "call_id"])
    plan = raw(db_path, "EXPLAIN QUERY PLAN SELECT * FROM tool_calls WHERE ask_id = 1 ORDER BY seq")
    assert "tool_calls_by_ask" in str(plan) and "TEMP B-TREE" not in str(plan)


# -- titles -------------------------------------------------------------------------------


def test_first_user_text_names_the_thread(store: Store) -> None:
    t = new_thread(store)
    store.start_ask(t.id, "\n   \n  Fit a   linear\tmodel to df  \nthen plot it", "gpt-4o")
    store.start_ask(t.id, "A second question", "gpt-4o")

    thread = store.get_thread(t.id)
    assert thread is not None and thread.title == "Fit a linear model to df"


def test_blank_first_message_leaves_the_title_for_the_next(store: Store) -> None:
    t = new_thread(store)
    store.start_ask(t.id, "  \n", "gpt-4o")
    assert store.list_threads()[0].title == ""

    store.start_ask(t.id, "real question", "gpt-4o")
    assert store.list_threads()[0].title == "real question"


def test_explicit_title_is_not_replaced_by_the_first_message(store: Store) -> None:
    t = new_thread(store, title="Chosen")
    store.start_ask(t.id, "something else", "gpt-4o")

    thread = store.get_thread(t.id)
    assert thread is not None and thread.title == "Chosen"


def test_make_title() -> None:
    assert make_title("") == ""
    assert make_title("short") == "short"
    assert make_title("\n\n  a  b\n c") == "a b"
    exactly = "x" * 60
    assert make_title(exactly) == exactly
    cut = make_title("word " * 30)
    assert len(cut) == 60 and cut.endswith("…") and not cut.endswith(" …")


# -- schema and connection ----------------------------------------------------------------


def test_store_opens_lazily_and_creates_parent_dirs(db_path: Path) -> None:
    s = Store(db_path)
    assert not db_path.parent.exists()

    new_thread(s)

    assert db_path.exists()
    s.close()


def test_fresh_database_gets_the_current_schema_and_pragmas(store: Store, db_path: Path) -> None:
    assert store.schema_version == SCHEMA_VERSION >= 1
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(db_path, "PRAGMA journal_mode") == [("wal",)]
    conn = store._connection()
    assert conn.execute("PRAGMA synchronous").fetchone() == (1,)  # NORMAL
    assert conn.execute("PRAGMA foreign_keys").fetchone() == (1,)
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_reopening_keeps_data(db_path: Path) -> None:
    first = Store(db_path)
    t = new_thread(first, remote_id="conv_keep")
    ask = first.start_ask(t.id, "remember me", "gpt-4o")
    first.finish_ask(ask.id, status="completed", answer_text="ok", usage=Usage(1, 2, 3, 0))
    before = first.get_thread(t.id), first.asks(t.id)
    first.close()

    second = Store(db_path)
    assert second.schema_version == SCHEMA_VERSION
    assert (second.get_thread("conv_keep"), second.asks(t.id)) == before
    assert before[1][0].usage == Usage(1, 2, 3, 0)
    second.close()


def test_newer_schema_asks_to_upgrade_in_one_line(db_path: Path) -> None:
    Store(db_path).close()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    s = Store(db_path)
    with pytest.raises(AssistantError) as caught:
        s.list_threads()

    message = str(caught.value)
    assert "\n" not in message
    assert "upgrade" in message and str(db_path) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]  # left untouched


#: Version 1 as released: step 1 of MIGRATIONS, frozen here so that an edit to it shows up.
V1_SCHEMA = (
    """
    CREATE TABLE threads (
        id        TEXT PRIMARY KEY,
        title     TEXT NOT NULL DEFAULT '',
        model     TEXT NOT NULL,
        dialect   TEXT NOT NULL,
        base_url  TEXT NOT NULL,
        remote_id TEXT,
        notebook  TEXT NOT NULL,
        created   REAL NOT NULL,
        updated   REAL NOT NULL
    )
    """,
    "CREATE INDEX threads_by_updated ON threads (updated)",
    "CREATE INDEX threads_by_notebook ON threads (notebook, updated)",
    "CREATE INDEX threads_by_remote_id ON threads (remote_id)",
    """
    CREATE TABLE turns (
        id            INTEGER PRIMARY KEY,
        thread_id     TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
        seq           INTEGER NOT NULL,
        user_text     TEXT NOT NULL,
        answer_text   TEXT NOT NULL DEFAULT '',
        model         TEXT NOT NULL,
        status        TEXT NOT NULL DEFAULT 'pending',
        response_id   TEXT,
        error         TEXT,
        input_tokens  INTEGER,
        output_tokens INTEGER,
        total_tokens  INTEGER,
        cached_tokens INTEGER,
        started       REAL NOT NULL,
        finished      REAL,
        UNIQUE (thread_id, seq)
    )
    """,
)


def _words(statements: tuple[str, ...]) -> list[str]:
    return [" ".join(statement.split()) for statement in statements]


def test_step_one_is_never_edited() -> None:
    assert _words(store_schema.MIGRATIONS[0]) == _words(V1_SCHEMA)


def test_a_version_1_file_migrates_to_version_2(db_path: Path) -> None:
    # A file as the released package left it: WAL, user_version 1, a thread with two asks.
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    for statement in V1_SCHEMA:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO threads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("th_0123456789ab", "Old {x}", "gpt-4o", "responses", "https://api.openai.com/v1",
         "conv_old", "nb.ipynb", 1_700_000_000.0, 1_700_000_100.0),
    )  # fmt: skip
    conn.execute(
        "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (7, "th_0123456789ab", 1, "Old {x}", "answer ${y}", "gpt-4o", "completed", "resp_1",
         None, 10, 5, 15, 0, 1_700_000_010.0, 1_700_000_011.0),
    )  # fmt: skip
    conn.execute(
        "INSERT INTO turns (id, thread_id, seq, user_text, model, started)"
        " VALUES (9, 'th_0123456789ab', 2, 'still pending', 'gpt-4o', 1700000100.0)"
    )
    conn.close()
    assert raw(db_path, "SELECT name FROM sqlite_master WHERE name = 'tool_calls'") == []

    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 2
        assert s.get_thread("conv_old") == ThreadRecord(
            id="th_0123456789ab",
            title="Old {x}",
            model="gpt-4o",
            dialect="responses",
            base_url="https://api.openai.com/v1",
            remote_id="conv_old",
            notebook="nb.ipynb",
            created=1_700_000_000.0,
            updated=1_700_000_100.0,
        )
        answered, pending = s.asks("th_0123456789ab")
        assert answered == AskRecord(
            id=7,
            thread_id="th_0123456789ab",
            seq=1,
            user_text="Old {x}",
            answer_text="answer ${y}",
            model="gpt-4o",
            status="completed",
            response_id="resp_1",
            error=None,
            usage=Usage(10, 5, 15, 0),
            started=1_700_000_010.0,
            finished=1_700_000_011.0,
        )
        assert (pending.id, pending.seq, pending.status, pending.usage) == (9, 2, "pending", None)
        assert s.thread_tool_calls("th_0123456789ab") == {}

        # The new table works with the old rows: calls on an old ask, then the cascade.
        record = call(s, 9, 1, "call_1", arguments='{"x": "{}"')
        s.finish_tool_call(record.id, status="ok", output="42", duration=0.5)
        assert [(x.ask_id, x.arguments, x.output) for x in s.tool_calls(9)] == [
            (9, '{"x": "{}"', "42")
        ]
        assert s.start_ask("th_0123456789ab", "new", "gpt-4o").seq == 3
        s.delete_thread("th_0123456789ab")

    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert raw(db_path, "SELECT COUNT(*) FROM tool_calls") == [(0,)]
    assert raw(db_path, "PRAGMA integrity_check") == [("ok",)]
    assert raw(db_path, "PRAGMA foreign_key_check") == []


def test_an_added_migration_step_upgrades_an_existing_database(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = Store(db_path)
    t = new_thread(old)
    old.close()
    step = ("ALTER TABLE threads ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",)
    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, step])

    upgraded = Store(db_path)

    assert upgraded.schema_version == SCHEMA_VERSION + 1
    assert upgraded.get_thread(t.id) == t
    assert raw(db_path, "SELECT pinned FROM threads") == [(0,)]
    upgraded.close()


def test_a_failing_migration_step_leaves_the_previous_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(db_path).close()
    step = ("ALTER TABLE threads ADD COLUMN half_done INTEGER", "THIS IS NOT SQL")
    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, step])

    with pytest.raises(AssistantError, match="cannot open the thread store"):
        Store(db_path).list_threads()

    assert raw(db_path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    columns = [row[1] for row in raw(db_path, "PRAGMA table_info(threads)")]
    assert "half_done" not in columns


def test_a_file_that_is_not_a_database_is_a_user_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"definitely not sqlite" * 100)

    with pytest.raises(AssistantError, match="ASSISTANT_MAGIC_STORE"):
        Store(db_path).list_threads()


def test_in_memory_store_works() -> None:
    s = Store(":memory:")
    t = new_thread(s)
    s.start_ask(t.id, "hello", "gpt-4o")
    assert [x.user_text for x in s.asks(t.id)] == ["hello"]
    s.close()


def test_default_path_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(tmp_path / "mine.sqlite3"))
    assert Store.default_path() == tmp_path / "mine.sqlite3"

    monkeypatch.delenv("ASSISTANT_MAGIC_STORE")
    default = Store.default_path()
    assert default.name == "threads.sqlite3" and "assistant-magic" in default.parts


# -- sharing ------------------------------------------------------------------------------


def test_two_stores_on_one_file_see_each_others_writes(db_path: Path) -> None:
    kernel_a, kernel_b = Store(db_path), Store(db_path)
    try:
        t = new_thread(kernel_a, remote_id="conv_shared")
        assert kernel_b.get_thread("conv_shared") == t

        from_b = kernel_b.start_ask(t.id, "asked in b", "gpt-4o")
        from_a = kernel_a.start_ask(t.id, "asked in a", "gpt-4o")
        assert (from_b.seq, from_a.seq) == (1, 2)
        kernel_b.finish_ask(from_b.id, status="completed", answer_text="b's answer")

        assert [x.answer_text for x in kernel_a.asks(t.id)] == ["b's answer", ""]
        kernel_a.delete_thread(t.id)
        assert kernel_b.list_threads() == []
    finally:
        kernel_a.close()
        kernel_b.close()


def test_another_writer_blocks_writes_but_not_reads(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_file, "BUSY_TIMEOUT_S", 0.05)
    s = Store(db_path)
    t = new_thread(s)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another kernel in the middle of a long write
    try:
        assert s.get_thread(t.id) == t  # WAL: readers do not wait for the writer
        with pytest.raises(AssistantError, match="locked by another process"):
            new_thread(s)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert new_thread(s).id != t.id
    s.close()


def ask(store: Store, thread_id: str, count: int) -> None:
    for i in range(count):
        ask = store.start_ask(thread_id, f"q{i}", "gpt-4o")
        store.finish_ask(ask.id, status="completed", answer_text=f"a{i}")


def test_threads_share_one_store_while_the_main_thread_writes(store: Store) -> None:
    main, side = new_thread(store), new_thread(store)
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = 0

    def poll() -> None:
        # What a widget timer does: read the threads and the latest asks over and over.
        nonlocal reads
        try:
            while not stop.is_set():
                store.list_threads(limit=5)
                seqs = [x.seq for x in store.asks(main.id, limit=3)]
                assert seqs == sorted(seqs)
                reads += 1
        except BaseException as exc:
            errors.append(exc)

    def write() -> None:
        # A second writer: its transactions must not interleave with the main thread's.
        try:
            ask(store, side.id, 50)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=poll), threading.Thread(target=write)]
    for worker in workers:
        worker.start()
    try:
        ask(store, main.id, 100)
    finally:
        workers[1].join(timeout=10)
        stop.set()
        workers[0].join(timeout=10)

    assert errors == []
    assert not any(worker.is_alive() for worker in workers)
    assert reads > 0
    assert (store.message_count(main.id), store.message_count(side.id)) == (200, 100)
    assert [x.seq for x in store.asks(side.id)] == list(range(1, 51))


def test_files_uploaded_for_a_thread(store: Store) -> None:
    thread = new_thread(store)
    other = new_thread(store)
    first = store.record_file(
        thread.id, file_id="file-1", filename="report.pdf", purpose="user_data", size=1234
    )
    store.record_file(other.id, file_id="file-2", filename="df.csv", purpose="user_data", size=9)
    third = store.record_file(
        thread.id, file_id="file-3", filename="b.csv", purpose="user_data", size=5
    )
    assert [f.file_id for f in store.files(thread.id)] == ["file-1", "file-3"]
    assert store.files(thread.id)[0] == first
    assert (first.filename, first.purpose, first.size) == ("report.pdf", "user_data", 1234)
    store.forget_file(third.id)
    assert [f.file_id for f in store.files(thread.id)] == ["file-1"]
    store.delete_thread(thread.id)
    assert store.files(thread.id) == []
    assert [f.file_id for f in store.files(other.id)] == ["file-2"]


def test_a_thread_keeps_its_vector_store(store: Store) -> None:
    thread = new_thread(store)
    assert thread.vector_store_id is None
    updated = store.update_thread(thread.id, vector_store_id="vs_123")
    assert updated.vector_store_id == "vs_123"
    assert store.get_thread(thread.id) == updated


def test_a_thread_keeps_its_assistant_and_whether_it_made_it(store: Store) -> None:
    thread = new_thread(store)
    assert (thread.assistant_id, thread.assistant_owned) == (None, False)
    updated = store.update_thread(thread.id, assistant_id="asst_1", assistant_owned=True)
    assert (updated.assistant_id, updated.assistant_owned) == ("asst_1", True)
    assert store.get_thread(thread.id) == updated
    reused = store.update_thread(thread.id, assistant_id="asst_2", assistant_owned=False)
    assert reused.assistant_owned is False


def test_usage_is_summed_per_model_and_tool_calls_counted(store: Store) -> None:
    thread = new_thread(store)
    other = new_thread(store)
    asks = []
    for model, tokens, where in (("a", 10, thread), ("b", 100, thread), ("a", 1000, other)):
        ask = store.start_ask(where.id, "q", model)
        store.finish_ask(
            ask.id,
            status="completed",
            answer_text="x",
            response_id=None,
            usage=Usage(tokens, 1, tokens + 1, tokens // 2),
            error=None,
        )
        asks.append(ask)
    unfinished = store.start_ask(thread.id, "q", "a")  # no usage yet: not counted
    assert store.usage_by_model(thread_id=thread.id) == {
        "a": Usage(10, 1, 11, 5),
        "b": Usage(100, 1, 101, 50),
    }
    assert store.usage_by_model(ask_ids=[asks[0].id, asks[2].id, unfinished.id]) == {
        "a": Usage(1010, 2, 1012, 505)
    }
    assert store.usage_by_model(ask_ids=[]) == {}
    call = store.start_tool_call(unfinished.id, round=1, call_id="c", name="f", arguments="{}")
    store.finish_tool_call(call.id, status="ok", output="1", duration=0.1)
    assert store.tool_call_count(thread.id) == 1 and store.tool_call_count(other.id) == 0
