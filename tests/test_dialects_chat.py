"""The chat dialect: the thread replayed as messages, within the context window."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Hashable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assistant_magic import Assistant
from assistant_magic.dialects.chat import encoded_body, request_params
from assistant_magic.dialects.chat_messages import SentAsk, Windows, ask_messages, fit_window
from assistant_magic.dialects.interface import (
    History,
    ListedAsks,
    PastAsk,
    ResponseRequest,
    ToolOutput,
    ToolRound,
)
from assistant_magic.events import ToolCallRequested
from assistant_magic.testing import ScriptedServer, Text
from assistant_magic.tokens import count_tokens

from conftest import API_KEY, CountedAsks


def measured_ask(i: int) -> PastAsk:
    call = ToolCallRequested(f"call_{i}", "calc_strength", '{"name": "Mamezou"}')
    return PastAsk(
        user_text=f"question {i} " + "x" * 400,
        rounds=(ToolRound(calls=(call,), outputs=(ToolOutput(f"call_{i}", "530000"),)),),
        answer=f"answer {i}",
    )


def test_an_ask_with_tools_becomes_paired_messages() -> None:
    messages = ask_messages(measured_ask(1), images=())
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    call = messages[1]["tool_calls"][0]
    assert messages[1]["content"] == "", "llama.cpp's server refuses a null content"
    assert call == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "calc_strength", "arguments": '{"name": "Mamezou"}'},
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "530000"}
    assert messages[3] == {"role": "assistant", "content": "answer 1"}


def test_the_oldest_whole_turns_are_left_out_to_fit() -> None:
    history = History.of(*(measured_ask(i) for i in range(10)), PastAsk("the question now"))
    full, kept, whole, _ = fit_window(ResponseRequest("m", "Be brief.", None, history=history))
    assert whole and kept == 10 and len(full) == 1 + 10 * 4 + 1
    window = 1_000
    fitted, kept, whole, _ = fit_window(
        ResponseRequest("m", "Be brief.", None, history=history, context_window=window)
    )
    assert not whole and 0 < kept < 10
    dropped = 10 - kept
    assert count_tokens(fitted) <= window * 0.75
    assert fitted[0] == {"role": "system", "content": "Be brief."}
    assert fitted[-1] == {"role": "user", "content": "the question now"}
    # Whole asks only: every tool message still follows the assistant message that called it.
    first_kept = fitted[1]
    assert first_kept["role"] == "user" and first_kept["content"].startswith(f"question {dropped} ")
    roles = [m["role"] for m in fitted[1:-1]]
    assert roles == ["user", "assistant", "tool", "assistant"] * (10 - dropped)


def test_the_current_ask_is_never_left_out() -> None:
    history = History.of(measured_ask(0), PastAsk("q " + "y" * 5_000))
    fitted, kept, whole, _ = fit_window(
        ResponseRequest("m", "", None, history=history, context_window=10)
    )
    assert (kept, whole) == (0, False)
    assert fitted == [{"role": "user", "content": "q " + "y" * 5_000}]


def keyed_ask(i: int) -> PastAsk:
    return PastAsk(f"question {i} " + "x" * 400, answer=f"answer {i}", key=i)


def test_a_long_thread_is_read_only_as_far_as_the_window_reaches() -> None:
    earlier = CountedAsks(tuple(keyed_ask(i) for i in range(10_000)))
    request = ResponseRequest(
        "m", "", None, history=History(PastAsk("now"), earlier), context_window=2_000
    )
    sent: dict[Hashable, SentAsk] = {}
    fitted, kept, whole, _ = fit_window(request, sent)
    assert 0 < kept < 20 and not whole and len(fitted) == 2 * kept + 1
    assert earlier.read == kept + 1, "one ask past the window, not the whole thread"
    assert fitted[0]["content"].startswith(f"question {10_000 - kept} "), "the newest are kept"
    assert sorted(sent) == list(range(10_000 - kept - 1, 10_000)), "counted once, by key"


def test_counts_are_cached_by_key_and_reused() -> None:
    earlier = ListedAsks(tuple(keyed_ask(i) for i in range(10)))
    request = ResponseRequest(
        "m", "", None, history=History(PastAsk("now"), earlier), context_window=400
    )
    assert not fit_window(request, {}).whole, "the window holds a few of these asks"
    # (False) cached counts of one token each prove that the cache is what is read.
    sent = {i: SentAsk([], "", tokens=1) for i in range(10)}
    assert fit_window(request, sent).whole


def test_the_body_sent_is_the_request_and_earlier_asks_are_encoded_once() -> None:
    earlier = ListedAsks((*(keyed_ask(i) for i in range(3)), measured_ask(3), keyed_ask(4)))
    now = PastAsk('now: "quoted", naïve ✓')
    request = ResponseRequest("m", "Be brief.", None, history=History(now, earlier))
    sent: dict[Hashable, SentAsk] = {}
    first = fit_window(request, sent)
    assert json.loads(f"[{first.messages_json}]") == first.messages
    params = request_params(request, first.messages)
    assert json.loads(encoded_body(params, first.messages_json)) == params
    assert sorted(sent) == [0, 1, 2, 4], "kept by store key; an ask without one is not kept"
    kept = {key: ask.json for key, ask in sent.items()}
    again = fit_window(request, sent)
    assert again.messages_json == first.messages_json
    assert all(sent[key].json is kept[key] for key in kept), "made once, then reused"


@pytest.fixture
def chat(server: ScriptedServer, tmp_path: Path) -> Iterator[Assistant]:
    """An assistant speaking Chat Completions to the scripted server."""
    assistant = Assistant(
        store=tmp_path / "chat.sqlite3",
        base_url=server.base_url,
        dialect="chat",
        model="gpt-5.4-mini",
        environ={"OPENAI_API_KEY": API_KEY},
    )
    yield assistant
    assistant.close()


def test_streamed_asks_reuse_one_connection(
    chat: Assistant, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's sync stream closes a chat response at [DONE], before the body's end, so each
    request would open a new connection (a TLS handshake, on a remote server); ours reads to
    the end and keeps it."""
    connects: list[object] = []
    connect = socket.socket.connect

    def counted(sock: socket.socket, address: object) -> None:
        connects.append(address)
        connect(sock, address)  # type: ignore[arg-type]

    server.script(Text("One."), Text("Two."), Text("Three."))
    monkeypatch.setattr(socket.socket, "connect", counted)
    answers = [str(chat.ask(q)) for q in ("1?", "2?", "3?")]
    assert answers == ["One.", "Two.", "Three."]
    assert len(connects) == 1


def test_a_new_thread_never_sends_a_deleted_threads_asks(
    chat: Assistant, server: ScriptedServer
) -> None:
    """Ask ids come back after a thread is deleted (SQLite reuses the largest rowids), so what
    is kept of an ask must be kept under more than its id."""
    server.script(Text("A1."), Text("A2."), Text("B1."), Text("B2."))
    chat.ask("On thread A, first?")
    chat.ask("On thread A, second?")  # keeps A's first ask as sent
    settings = chat.settings()
    deleted = chat.threads.thread
    assert deleted is not None
    chat.threads.delete(deleted.id, settings)
    chat.threads.new(settings)
    chat.ask("On thread B, first?")  # under the id A's first ask had
    chat.ask("On thread B, second?")
    last = server.requests_to("POST", "/v1/chat/completions")[-1].body["messages"]
    assert [m["content"] for m in last] == ["On thread B, first?", "B1.", "On thread B, second?"]


def test_windows_kept_between_requests_fit_what_a_walk_from_the_newest_fits() -> None:
    """A request that takes its window from a past one's must fit exactly what a walk over
    the whole thread fits: as the thread grows, within one ask's tool rounds, with windows of
    every size (the whole thread, a few asks, none), and with asks still open."""
    rng = random.Random(7)
    sent: dict[Hashable, SentAsk] = {}
    windows = Windows()
    thread: list[PastAsk] = []
    for i in range(400):
        over = rng.random() > 0.03
        text = f"q{i} " + "x" * rng.randint(0, 600)
        thread.append(PastAsk(text, answer="a" * rng.randint(0, 400), key=(1, i) if over else None))
        for _ in range(rng.randint(1, 3)):  # an ask's requests: the same earlier asks
            now = PastAsk("now " + "y" * rng.randint(0, 900))
            request = ResponseRequest(
                "m",
                "Be brief.",
                None,
                history=History(now, ListedAsks(tuple(thread))),
                context_window=rng.choice([0, 200, 1_000, 2_500, 6_000]),
            )
            assert fit_window(request, sent, windows) == fit_window(request), i


def test_a_request_reads_only_the_asks_made_since_the_last_one() -> None:
    thread = tuple(keyed_ask(i) for i in range(10_000))
    windows, sent = Windows(), {}  # type: ignore[var-annotated]
    first = CountedAsks(thread)
    request = ResponseRequest("m", "", None, history=History(PastAsk("now"), first))
    fitted = fit_window(replace(request, context_window=2_000), sent, windows)
    longer = CountedAsks((*thread, keyed_ask(10_000)))
    later = replace(request, history=History(PastAsk("then"), longer), context_window=2_000)
    from_window = fit_window(later, sent, windows)
    assert longer.read == 2, "the new ask, then the one the last request's window began with"
    assert from_window == fit_window(later)
    assert first.read == fitted.kept + 1
