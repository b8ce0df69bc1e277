"""Markdown transcripts: exact documents for small threads, verbatim text, status notes,
tool calls."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_magic.events import Usage
from assistant_magic.store import AskRecord, Store, ThreadRecord, ToolCallRecord
from assistant_magic.transcript import export, to_markdown

CREATED = 1_700_000_000.0  # 2023-11-14T22:13:20 UTC


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Pin local time to UTC so the created date in the document is predictable."""
    if not hasattr(time, "tzset"):
        pytest.skip("needs time.tzset to pin the local timezone")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def thread(title: str = "Plot ${x} in {braces}", remote_id: str | None = "conv_42") -> ThreadRecord:
    return ThreadRecord(
        id="th_0123456789ab",
        title=title,
        model="gpt-4o",
        dialect="responses",
        base_url="https://api.openai.com/v1",
        remote_id=remote_id,
        notebook="analysis.ipynb",
        created=CREATED,
        updated=CREATED + 60,
    )


def ask(
    seq: int,
    user_text: str,
    answer_text: str,
    *,
    status: str = "completed",
    model: str = "gpt-4o",
    error: str | None = None,
) -> AskRecord:
    return AskRecord(
        id=seq,
        thread_id="th_0123456789ab",
        seq=seq,
        user_text=user_text,
        answer_text=answer_text,
        model=model,
        status=status,
        response_id=None if status == "pending" else f"resp_{seq}",
        error=error,
        usage=Usage(10, 5, 15, 0) if status == "completed" else None,
        started=CREATED + seq,
        finished=None if status == "pending" else CREATED + seq + 0.5,
    )


HEADER = (
    "# Plot ${x} in {braces}\n"
    "\n"
    "Thread `th_0123456789ab` · server `conv_42` · model `gpt-4o` · responses"
    " · created 2023-11-14T22:13:20+00:00\n"
)


def test_small_thread_with_failed_and_interrupted_turns() -> None:
    asks = [
        ask(
            1,
            'What does f"{x!r}" print when x = "$HOME"?\n\n```python\nprint({"a": 1})\n```\n',
            "It prints `'$HOME'`; `{\"a\": 1}` is a dict.\n",
        ),
        ask(2, "Faster model, please: {{ }} $$", "Sure: $$ {{ }}", model="gpt-4o-mini"),
        ask(3, "And then?", "", status="failed", error="ApiError: 429 rate limited\nretry later"),
        ask(4, "Write a long essay", "Once upon a", status="interrupted"),
    ]

    assert to_markdown(thread(), asks) == (
        HEADER + "\n"
        "## You\n"
        "\n"
        'What does f"{x!r}" print when x = "$HOME"?\n'
        "\n"
        "```python\n"
        'print({"a": 1})\n'
        "```\n"
        "\n"
        "## Assistant\n"
        "\n"
        "It prints `'$HOME'`; `{\"a\": 1}` is a dict.\n"
        "\n"
        "## You\n"
        "\n"
        "Faster model, please: {{ }} $$\n"
        "\n"
        "## Assistant (gpt-4o-mini)\n"
        "\n"
        "Sure: $$ {{ }}\n"
        "\n"
        "## You\n"
        "\n"
        "And then?\n"
        "\n"
        "## Assistant\n"
        "\n"
        "*failed: ApiError: 429 rate limited retry later*\n"
        "\n"
        "## You\n"
        "\n"
        "Write a long essay\n"
        "\n"
        "## Assistant\n"
        "\n"
        "*interrupted — partial answer*\n"
        "\n"
        "Once upon a\n"
    )


def test_untitled_local_thread_with_a_pending_ask() -> None:
    doc = to_markdown(
        thread(title="", remote_id=None), [ask(1, "    indented code", "", status="pending")]
    )

    assert doc == (
        "# Untitled thread\n"
        "\n"
        "Thread `th_0123456789ab` · model `gpt-4o` · responses"
        " · created 2023-11-14T22:13:20+00:00\n"
        "\n"
        "## You\n"
        "\n"
        "    indented code\n"
        "\n"
        "## Assistant\n"
        "\n"
        "*no answer yet*\n"
    )


def test_other_unfinished_statuses_say_what_is_left() -> None:
    asks = [
        ask(1, "a", "", status="interrupted"),
        ask(2, "b", "cut sho", status="incomplete"),
        ask(3, "c", "", status="cancelled"),
        ask(4, "d", "", status="failed"),
    ]

    notes = [line for line in to_markdown(thread(), asks).splitlines() if line.startswith("*")]

    assert notes == [
        "*interrupted — no answer*",
        "*incomplete — partial answer*",
        "*cancelled — no answer*",
        "*failed*",
    ]


def test_export_writes_utf8_and_returns_the_path(tmp_path: Path) -> None:
    asks = [ask(1, "naïve café ∑", "résumé ✓")]
    target = tmp_path / "exports" / "thread.md"

    written = export(thread(), asks, target)

    assert written == target
    assert target.read_bytes() == to_markdown(thread(), asks).encode("utf-8")
    assert "naïve café ∑" in target.read_text(encoding="utf-8")


def test_transcript_of_a_stored_thread(tmp_path: Path) -> None:
    with Store(tmp_path / "threads.sqlite3") as store:
        t = store.create_thread(
            model="gpt-4o", dialect="responses", base_url="http://localhost", notebook="nb"
        )
        first = store.start_ask(t.id, "Sum {a} and ${b}", "gpt-4o")
        store.finish_ask(first.id, status="completed", answer_text="{a} + ${b}")
        stored = store.get_thread(t.id)
        assert stored is not None
        doc = to_markdown(stored, store.asks(t.id))

    assert doc.startswith(f"# Sum {{a}} and ${{b}}\n\nThread `{t.id}` · model `gpt-4o` · ")
    assert doc.endswith("## You\n\nSum {a} and ${b}\n\n## Assistant\n\n{a} + ${b}\n")


# -- tool calls ---------------------------------------------------------------------------


def tool_call(
    ask_id: int,
    seq: int,
    round: int,
    name: str,
    arguments: str,
    status: str,
    output: str = "",
    duration: float | None = None,
) -> ToolCallRecord:
    return ToolCallRecord(
        id=100 * ask_id + seq,
        ask_id=ask_id,
        round=round,
        seq=seq,
        call_id=f"call_{ask_id}_{seq}",
        name=name,
        arguments=arguments,
        output=output,
        status=status,
        duration=duration,
        started=CREATED + ask_id + seq / 10,
        finished=None if status == "pending" else CREATED + ask_id + seq / 10 + 0.05,
    )


def test_tool_calls_are_listed_before_the_answer() -> None:
    asks = [
        ask(1, "How strong are Mamezou and Tanuki? Then clean up.", "Mamezou: **530000**."),
        ask(2, "Plot it", "", status="interrupted"),
        ask(3, "Thanks", "You're welcome."),
    ]
    calls = {
        1: [
            # Round 1: two calls at once; round 2: one the user refused.
            tool_call(1, 1, 1, "calc_strength", '{"name": "Mamezou"}', "ok", "530000", 0.012),
            tool_call(
                1,
                2,
                1,
                "calc_strength",
                '{"name":"Tanuki"}',
                "error",
                "KeyError: 'Tanuki'\n(raised in calc_strength)",
                0.002,
            ),
            tool_call(1, 3, 2, "delete_file", '{"path": "/tmp/x", "force": true}', "denied"),
        ],
        2: [
            tool_call(
                2,
                1,
                1,
                "plot",
                '{"data": [1, 2.5, null], "options": {"title": "Tanuki\'s 力"}}',
                "interrupted",
                duration=3.2,
            )
        ],
        99: [tool_call(99, 1, 1, "not_in_these_turns", "{}", "ok", "x")],
    }

    assert to_markdown(thread(), asks, calls) == (
        HEADER + "\n"
        "## You\n"
        "\n"
        "How strong are Mamezou and Tanuki? Then clean up.\n"
        "\n"
        "## Assistant\n"
        "\n"
        '- 🔧 `calc_strength(name="Mamezou")` → `530000` (0.01 s)\n'
        '- 🔧 `calc_strength(name="Tanuki")` → error:'
        " `KeyError: 'Tanuki' (raised in calc_strength)` (<0.01 s)\n"
        '- 🔧 `delete_file(path="/tmp/x", force=true)` → denied by the user\n'
        "\n"
        "Mamezou: **530000**.\n"
        "\n"
        "## You\n"
        "\n"
        "Plot it\n"
        "\n"
        "## Assistant\n"
        "\n"
        '- 🔧 `plot(data=[1, 2.5, null], options={"title": "Tanuki\'s 力"})` → interrupted'
        " (3.20 s)\n"
        "\n"
        "*interrupted — no answer*\n"
        "\n"
        "## You\n"
        "\n"
        "Thanks\n"
        "\n"
        "## Assistant\n"
        "\n"
        "You're welcome.\n"
    )
    # Without the calls, the transcript is the one it always was.
    assert "🔧" not in to_markdown(thread(), asks)


def test_tool_call_values_cannot_break_the_line() -> None:
    long_text = "a" * 300
    calls = [
        ("run", '{"code": "print(`x`)"}', "ok", "`x`"),
        ("run", "{}", "ok", "```py\nboom\n```"),
        ("f", '{"name": "Mamezou"', "error", "JSONDecodeError: Expecting ',' delimiter"),
        ("f", '{"name":\n "Mamezou"', "pending", ""),
        ("f", "", "ok", ""),
        ("f", "[1, 2]", "error", ""),
        ("f", '{"my key": "line\\nbreak", "class": "{x}"}', "ok", "two\n\n  lines  "),
        ("f", json.dumps({"text": long_text}), "ok", "b" * 150 + "\n" + "c" * 150),
    ]
    records = [
        tool_call(1, i, 1, name, arguments, status, output)
        for i, (name, arguments, status, output) in enumerate(calls, 1)
    ]

    doc = to_markdown(thread(), [ask(1, "q", "answer")], {1: records})

    lines = [line for line in doc.splitlines() if line.startswith("- 🔧 ")]
    assert lines == [
        '- 🔧 ``run(code="print(`x`)")`` → `` `x` ``',
        "- 🔧 `run()` → ```` ```py boom ``` ````",
        '- 🔧 `f({"name": "Mamezou")` → error: `JSONDecodeError: Expecting \',\' delimiter`',
        '- 🔧 `f({"name": "Mamezou")` → no result yet',
        "- 🔧 `f()` → (empty)",
        "- 🔧 `f([1, 2])` → error",
        '- 🔧 `f("my key"="line\\nbreak", class="{x}")` → `two lines`',
        f'- 🔧 `f(text="{"a" * 193}…)` → `{"b" * 150} {"c" * 48}…`',
    ]
    assert doc.endswith("\n\nanswer\n")


def test_export_with_tool_calls_from_the_store(tmp_path: Path) -> None:
    with Store(tmp_path / "threads.sqlite3") as store:
        t = store.create_thread(
            model="gpt-4o", dialect="chat", base_url="http://localhost", notebook="nb"
        )
        first = store.start_ask(t.id, "Strength?", "gpt-4o")
        record = store.start_tool_call(
            first.id, round=1, call_id="call_1", name="calc_strength", arguments='{"n": 1}'
        )
        store.finish_tool_call(record.id, status="ok", output="530000", duration=0.5)
        store.finish_ask(first.id, status="completed", answer_text="530000")
        stored = store.get_thread(t.id)
        assert stored is not None
        target = export(stored, store.asks(t.id), tmp_path / "t.md", store.thread_tool_calls(t.id))

    assert target.read_text(encoding="utf-8").endswith(
        "## Assistant\n\n- 🔧 `calc_strength(n=1)` → `530000` (0.50 s)\n\n530000\n"
    )
