"""A thread's earlier asks, read from the store newest first, a page at a time."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_magic.earlier_asks import FIRST_PAGE, PastMemo, StoredAsks
from assistant_magic.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "threads.sqlite3")
    yield opened
    opened.close()


def fill(store: Store, thread_id: str, count: int) -> list[int]:
    """`count` asks: every fifth unanswered (left out), every seventh answered by a tool call
    only (kept), the rest answered."""
    ids = []
    for i in range(count):
        ask = store.start_ask(thread_id, f"question {i}", "m")
        ids.append(ask.id)
        if i % 7 == 3:
            call = store.start_tool_call(ask.id, round=1, call_id=f"c{i}", name="f", arguments="{}")
            store.finish_tool_call(call.id, status="ok", output=f"out {i}", duration=0.1)
            store.finish_ask(ask.id, status="interrupted", answer_text="")
        elif i % 5 == 4:
            store.finish_ask(ask.id, status="failed", answer_text="", error="boom")
        else:
            store.finish_ask(ask.id, status="completed", answer_text=f"answer {i}")
    return ids


def test_asks_come_newest_first_across_pages_as_the_model_saw_them(store: Store) -> None:
    thread = store.create_thread(model="m", dialect="chat", base_url="u", notebook="nb")
    other = store.create_thread(model="m", dialect="chat", base_url="u", notebook="nb")
    count = FIRST_PAGE * 4
    ids = fill(store, thread.id, count)
    fill(store, other.id, 10)  # another thread's asks never show
    current = store.start_ask(thread.id, "the question now", "m")

    earlier = StoredAsks(store, thread.id, current=current.id)
    read = list(earlier.newest_first())
    expected = [i for i in reversed(range(count)) if i % 7 == 3 or i % 5 != 4]
    assert [past.user_text for past in read] == [f"question {i}" for i in expected]
    assert [past.key for past in read] == [(thread.id, ids[i]) for i in expected]
    with_call = next(past for past in read if past.user_text == "question 3")
    assert with_call.answer == "" and with_call.rounds[0].outputs[0].output == "out 3"
    assert all(past.rounds == () for past in read if past.user_text != "question 3" and past.answer)


class CountingStore(Store):
    """A store that counts the pages of asks it reads."""

    pages: list[int]

    def replayed_asks(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        page = super().replayed_asks(*args, **kwargs)
        self.pages.append(len(page))
        return page


def test_reading_stops_where_the_reader_stops(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "threads.sqlite3")
    thread = store.create_thread(model="m", dialect="chat", base_url="u", notebook="nb")
    fill(store, thread.id, 2_000)
    store.pages = []
    newest = next(iter(StoredAsks(store, thread.id).newest_first()))
    assert newest.user_text == "question 1998"
    assert store.pages == [FIRST_PAGE], "one page read, not the thread"
    store.close()


def test_the_next_ask_reads_only_what_was_made_since(tmp_path: Path) -> None:
    store = CountingStore(tmp_path / "threads.sqlite3")
    thread = store.create_thread(model="m", dialect="chat", base_url="u", notebook="nb")
    fill(store, thread.id, 500)
    memo = PastMemo()
    store.pages = []
    first = [past.user_text for past in StoredAsks(store, thread.id, memo=memo).newest_first()]
    assert sum(store.pages) > 400, "the first ask reads the thread"
    ask = store.start_ask(thread.id, "a new question", "m")
    pending = [p.user_text for p in StoredAsks(store, thread.id, ask.id, memo).newest_first()]
    assert pending == first, "the ask being made is not its own past"
    store.finish_ask(ask.id, status="completed", answer_text="a new answer")
    store.pages = []
    second = [past.user_text for past in StoredAsks(store, thread.id, memo=memo).newest_first()]
    assert second == ["a new question", *first]
    assert store.pages == [1, 0], "only the new ask is read, then nothing older is left"
    store.close()
