"""Replay keys on a thread that is resent with each request (Chat Completions): its earlier asks
are one chained digest, read only as far back as the newest ask digested already; recordings
keyed the way before (the whole thread) are keyed anew, in files and in the store."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from assistant_magic.dialects.interface import History, ListedAsks, PastAsk, ResponseRequest
from assistant_magic.replay.keys import ROOT, EarlierDigests, key, normalised
from assistant_magic.replay.recordings import (
    FILE_FORMAT,
    Recording,
    Recordings,
    load,
)
from assistant_magic.store import Store

from conftest import CountedAsks


def asked(i: int, *, over: bool = True) -> PastAsk:
    return PastAsk(f"question {i}", answer=f"answer {i}", key=("th_1", i) if over else None)


def request_on(earlier: ListedAsks, now: str = "the question now") -> ResponseRequest:
    return ResponseRequest("m", "", None, user_text=now, history=History(PastAsk(now), earlier))


def test_a_long_threads_key_reads_only_the_asks_made_since_the_last_one_digested() -> None:
    digests = EarlierDigests()
    thread = CountedAsks(tuple(asked(i) for i in range(10_000)))
    first = normalised(request_on(thread), "chat", digests)
    assert thread.read == 10_000, "a session's first ask on the thread reads it once"
    longer = CountedAsks((*thread.asks, asked(10_000), asked(10_001)))
    second = normalised(request_on(longer), "chat", digests)
    assert longer.read == 3, "the two new asks, then the newest one digested"
    assert first["earlier"] != second["earlier"]
    fresh = normalised(request_on(ListedAsks(longer.asks)), "chat", EarlierDigests())
    assert fresh == second, "the same thread has the same key, however it was digested"


def test_any_earlier_ask_that_differs_makes_another_key() -> None:
    asks = [asked(i) for i in range(5)]
    base = normalised(request_on(ListedAsks(tuple(asks))), "chat")
    for i in range(5):
        changed = list(asks)
        changed[i] = replace(asks[i], answer="another answer")
        other = normalised(request_on(ListedAsks(tuple(changed))), "chat")
        assert other["earlier"] != base["earlier"], i
    assert normalised(request_on(ListedAsks(tuple(asks)), "other"), "chat") != base


def test_digests_are_kept_only_up_to_the_first_ask_that_may_still_change() -> None:
    digests = EarlierDigests()
    # The third ask was interrupted with a call still open: it changes when the call returns.
    asks = [asked(0), asked(1), asked(2, over=False), asked(3), asked(4)]
    before = normalised(request_on(ListedAsks(tuple(asks))), "chat", digests)
    asks[2] = replace(asks[2], answer="answered since", key=("th_1", 2))
    after = normalised(request_on(ListedAsks(tuple(asks))), "chat", digests)
    assert after != before, "nothing digested after the open ask was kept"
    assert after == normalised(request_on(ListedAsks(tuple(asks))), "chat", EarlierDigests())


def thread_as_recorded_before(request: ResponseRequest) -> Recording:
    """A recording of `request` as recordings version 2 made it: the whole thread under
    "earlier", each ask as [question, rounds, repairs, answer], the ask being made last."""
    parts = normalised(request, "chat")
    history = request.history
    assert history is not None
    parts["earlier"] = [[past.user_text, [], [], past.answer] for past in history]
    return Recording(key(parts, ROOT), ROOT, "chat", "m", parts, [], 1.0)


def test_a_recordings_file_from_before_is_keyed_anew(tmp_path: Path) -> None:
    request = request_on(ListedAsks(tuple(asked(i) for i in range(3))))
    old = thread_as_recorded_before(request)
    path = tmp_path / "old.replay.jsonl"
    header = {"format": FILE_FORMAT, "version": 2, "at": 1.0}
    lines = [json.dumps(header), json.dumps(old.__dict__)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    now = key(normalised(request, "chat"), ROOT)
    assert now != old.key
    found = load(path).recordings
    assert list(found) == [now], "found under the key an ask makes now"
    assert found[now].request == normalised(request, "chat")


def test_the_store_keys_its_recordings_from_before_anew(tmp_path: Path) -> None:
    request = request_on(ListedAsks(tuple(asked(i) for i in range(3))))
    old = thread_as_recorded_before(request)
    path = tmp_path / "threads.sqlite3"
    Store(path).close()
    with Recordings(path) as recordings:
        recordings.add(old)
    with sqlite3.connect(path) as conn:  # as a store of version 10 left it
        conn.execute("PRAGMA user_version = 10")
    with Recordings(path) as recordings:
        now = key(normalised(request, "chat"), ROOT)
        assert recordings.get(old.key) is None
        moved = recordings.get(now)
        assert moved is not None and moved.request == normalised(request, "chat")
