"""result_text: a tool's return value as the text the model reads."""

from __future__ import annotations

import datetime
import decimal
import enum
import pathlib
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from assistant_magic.tools import result_text
from tool_definitions import Color, Opaque, Point, Priority


class Mood(enum.Enum):
    HAPPY = "happy"


class Reading(BaseModel):
    value: decimal.Decimal
    at: datetime.datetime


@dataclass
class Report:
    mood: Mood
    points: list[Point]
    day: datetime.date


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.5, "2.5"),
        ({"a": [1, None, 2.5], "b": "x"}, '{"a":[1,null,2.5],"b":"x"}'),
        ([1, "two"], '[1,"two"]'),
        ((1, 2), "[1,2]"),
        ({3}, "[3]"),
        (Point(1, 2), '{"x":1,"y":2}'),
        (
            Report(Mood.HAPPY, [Point(0, 1)], datetime.date(2024, 1, 2)),
            '{"mood":"happy","points":[{"x":0,"y":1}],"day":"2024-01-02"}',
        ),
        (
            Reading(value=decimal.Decimal("1.50"), at=datetime.datetime(2024, 1, 2, 3, 4)),
            '{"value":"1.50","at":"2024-01-02T03:04:00"}',
        ),
        (Color.RED, "red"),
        (Priority.HIGH, "2"),
        (Mood.HAPPY, "happy"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (decimal.Decimal("3.10"), "3.10"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (pathlib.PurePosixPath("/tmp/data.csv"), "/tmp/data.csv"),
        (
            {"when": datetime.date(2024, 1, 2), "who": Opaque},
            '{"when":"2024-01-02","who":"' + str(Opaque) + '"}',
        ),
        (b"raw", "b'raw'"),
    ],
    ids=repr,
)
def test_result_text(value: Any, text: str) -> None:
    assert result_text(value) == text


def test_result_text_of_other_objects_is_their_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing 7>"

    assert result_text(Thing()) == "<Thing 7>"
    assert result_text(Opaque).startswith("<class ")


def test_result_text_never_raises() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("repr exploded")

    assert result_text(Broken()) == "<unrepresentable Broken: repr exploded>"
    loop: list[Any] = []
    loop.append(loop)
    assert result_text(loop) == "[[...]]"


def test_str_subclasses_come_back_as_plain_str() -> None:
    class Shouty(str):
        def __str__(self) -> str:
            return "NOPE"

    text = result_text(Shouty("fine"))
    assert text == "fine" and type(text) is str


def test_truncation() -> None:
    assert result_text("x" * 100, limit=100) == "x" * 100
    assert (
        result_text("x" * 12_345, limit=100)
        == "x" * 100 + "\n… [truncated: 12,245 more characters]"
    )
    assert result_text(list(range(10_000)), limit=10).startswith("[0,1,2,3,4")
    assert result_text("x" * 30_000).endswith("[truncated: 10,000 more characters]")


def test_result_text_of_a_dataframe() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed (not a dependency)")
    frame = pd.DataFrame({"lift": ["squat", "bench"] * 30, "kg": range(60)})
    text = result_text(frame)
    lines = text.splitlines()
    assert lines[0] == "DataFrame with 60 rows and 2 columns"
    assert lines[1].split() == ["lift", "kg"]
    assert "..." in text and len(lines) < 30  # the middle rows are elided
    series = result_text(frame["kg"].head(3))
    assert series.splitlines()[0] == "Series 'kg': 3 values, dtype int64"


def test_result_text_of_numpy_values() -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed (not a dependency)")
    text = result_text(np.arange(6).reshape(2, 3))
    assert text.splitlines()[0] == "ndarray shape (2, 3), dtype int64"
    assert result_text(np.int64(3)) == "3"
    assert result_text({"a": np.arange(3), "n": np.float64(0.5)}) == '{"a":[0,1,2],"n":0.5}'
