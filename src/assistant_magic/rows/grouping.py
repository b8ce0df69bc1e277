"""Several rows in one request (`--rows-per-request N`): the rows numbered in the message, and
the answer a strict list keyed by those numbers, so that each row gets its own answer back and
a missing or extra number is noticed (the missing rows are then asked alone).

With N rows per request the question and the instructions are sent once instead of N times, and
there are N times fewer requests to wait for: fewer tokens, less latency.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..context import render
from .table import row_part

if TYPE_CHECKING:
    from ..answer_types import AnswerSchema, AnswerType

GROUP_HEADING = "The rows to answer for, each with its number:"
GROUP_REQUEST = (
    "Answer the question above for each row below, on its own: one entry per row, with the "
    "row's number and its answer."
)


@dataclass(frozen=True)
class GroupAnswers:
    """What one grouped request answered: a text per row number (the JSON of a typed answer),
    and the numbers asked for that did not come back."""

    answers: dict[int, str]
    missing: tuple[int, ...]


def group_text(question: str, rows: Sequence[tuple[int, Mapping[str, Any]]]) -> str:
    """The user message for several rows: the question, then each row under its number."""
    parts = [row_part(record, label=f"row {number}") for number, record in rows]
    return render(f"{question.rstrip()}\n\n{GROUP_REQUEST}", parts, heading=GROUP_HEADING)


def group_schema(answer: AnswerType | None) -> AnswerSchema:
    """The schema of a grouped answer: ``{"rows": [{"row": 3, "answer": ...}, ...]}``."""
    return _group_type(answer.annotation if answer is not None else str).schema


def split(text: str, numbers: Sequence[int], answer: AnswerType | None) -> GroupAnswers:
    """Each row's answer from a grouped reply; a reply that does not parse answers none."""
    from ..answer_types import InvalidJson

    try:
        entries = _group_type(answer.annotation if answer is not None else str).parse(text)
    except InvalidJson:
        return GroupAnswers({}, tuple(numbers))
    asked = set(numbers)
    found: dict[int, str] = {}
    for entry in entries.rows:
        if entry.row in asked and entry.row not in found:  # an extra or repeated row: ignored
            found[entry.row] = _text(entry.answer, answer)
    return GroupAnswers(found, tuple(n for n in numbers if n not in found))


@functools.lru_cache(maxsize=16)
def _group_type(annotation: Any) -> AnswerType:
    from pydantic import ConfigDict, create_model

    from ..answer_types import AnswerType

    closed = ConfigDict(extra="forbid")
    entry: Any = create_model(
        "RowAnswer", __config__=closed, row=(int, ...), answer=(annotation, ...)
    )
    rows = create_model("RowAnswers", __config__=closed, rows=(list[entry], ...))
    return AnswerType(rows, "RowAnswers")


def _text(value: Any, answer: AnswerType | None) -> str:
    """One row's answer as that row alone would have given it: the text, or the typed value's
    JSON."""
    return str(value) if answer is None else answer.to_json(value)
