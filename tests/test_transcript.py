"""Markdown transcripts: exact documents for small threads, verbatim text, status notes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant_magic.events import Usage
from assistant_magic.store import Store, ThreadRecord, TurnRecord
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


def turn(
    seq: int,
    user_text: str,
    answer_text: str,
    *,
    status: str = "completed",
    model: str = "gpt-4o",
    error: str | None = None,
) -> TurnRecord:
    return TurnRecord(
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
    turns = [
        turn(
            1,
            'What does f"{x!r}" print when x = "$HOME"?\n\n```python\nprint({"a": 1})\n```\n',
            "It prints `'$HOME'`; `{\"a\": 1}` is a dict.\n",
        ),
        turn(2, "Faster model, please: {{ }} $$", "Sure: $$ {{ }}", model="gpt-4o-mini"),
        turn(3, "And then?", "", status="failed", error="ApiError: 429 rate limited\nretry later"),
        turn(4, "Write a long essay", "Once upon a", status="interrupted"),
    ]

    assert to_markdown(thread(), turns) == (
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


def test_untitled_local_thread_with_a_pending_turn() -> None:
    doc = to_markdown(
        thread(title="", remote_id=None), [turn(1, "    indented code", "", status="pending")]
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
    turns = [
        turn(1, "a", "", status="interrupted"),
        turn(2, "b", "cut sho", status="incomplete"),
        turn(3, "c", "", status="cancelled"),
        turn(4, "d", "", status="failed"),
    ]

    notes = [line for line in to_markdown(thread(), turns).splitlines() if line.startswith("*")]

    assert notes == [
        "*interrupted — no answer*",
        "*incomplete — partial answer*",
        "*cancelled — no answer*",
        "*failed*",
    ]


def test_export_writes_utf8_and_returns_the_path(tmp_path: Path) -> None:
    turns = [turn(1, "naïve café ∑", "résumé ✓")]
    target = tmp_path / "exports" / "thread.md"

    written = export(thread(), turns, target)

    assert written == target
    assert target.read_bytes() == to_markdown(thread(), turns).encode("utf-8")
    assert "naïve café ∑" in target.read_text(encoding="utf-8")


def test_transcript_of_a_stored_thread(tmp_path: Path) -> None:
    with Store(tmp_path / "threads.sqlite3") as store:
        t = store.create_thread(
            model="gpt-4o", dialect="responses", base_url="http://localhost", notebook="nb"
        )
        first = store.start_turn(t.id, "Sum {a} and ${b}", "gpt-4o")
        store.finish_turn(first.id, status="completed", answer_text="{a} + ${b}")
        stored = store.get_thread(t.id)
        assert stored is not None
        doc = to_markdown(stored, store.turns(t.id))

    assert doc.startswith(f"# Sum {{a}} and ${{b}}\n\nThread `{t.id}` · model `gpt-4o` · ")
    assert doc.endswith("## You\n\nSum {a} and ${b}\n\n## Assistant\n\n{a} + ${b}\n")
