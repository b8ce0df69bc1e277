"""The rows a job asks about: a DataFrame, a Series or a list, read as labelled records, and
each record as the context the model receives (bounded, as `--vars` bounds a variable)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..context import ContextPart, render
from ..errors import AssistantError
from ..summaries import clip

#: Characters of one field's value sent to the model (the rest is cut, and says so).
FIELD_LIMIT = 2_000
CONTEXT_HEADING = "The row to answer for:"


class RowsError(AssistantError):
    """`--each` names nothing that has rows, or `--fields` names columns it does not have."""


@dataclass(frozen=True)
class Table:
    """Rows as records: their labels (the input's index, or positions), and their fields."""

    name: str
    labels: list[Any]
    records: list[dict[str, Any]]
    #: The input's own index, to align the answers with (None for a list).
    index: Any = None

    def __len__(self) -> int:
        return len(self.records)


def table(value: Any, name: str, fields: Sequence[str] = ()) -> Table:
    """The rows of a DataFrame (its columns, or `fields`), a Series, or a list (of values or of
    mappings)."""
    if _is_pandas(value, "DataFrame"):
        columns = list(fields) or [str(column) for column in value.columns]
        known = {str(column): column for column in value.columns}
        missing = [column for column in columns if column not in known]
        if missing:
            raise RowsError(
                f"--fields: {name} has no column {missing[0]!r} (it has "
                f"{', '.join(known) or 'none'})."
            )
        frame = value[[known[column] for column in columns]]
        frame.columns = columns
        return Table(name, list(value.index), frame.to_dict("records"), value.index)
    if _is_pandas(value, "Series"):
        if fields:
            raise RowsError(f"--fields goes with a DataFrame; {name} is a Series.")
        field = str(value.name) if value.name is not None else "value"
        return Table(name, list(value.index), [{field: item} for item in value], value.index)
    if isinstance(value, (list, tuple)):
        records = [dict(item) if isinstance(item, Mapping) else {"value": item} for item in value]
        if fields:
            records = [{field: record.get(field) for field in fields} for record in records]
        return Table(name, list(range(len(value))), records)
    raise RowsError(
        f"--each {name}: a {type(value).__name__} has no rows; give a DataFrame, a Series or a "
        "list."
    )


def row_text(question: str, record: Mapping[str, Any]) -> str:
    """The user message for one row: the question as typed, then the row's fields."""
    return render(question, [row_part(record)], heading=CONTEXT_HEADING)


def row_part(record: Mapping[str, Any], label: str = "row") -> ContextPart:
    lines = [f"{field}: {_value(value)}" for field, value in record.items()]
    return ContextPart(label, "\n".join(lines))


def _value(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None, NaN
        return "(missing)"
    text = value if isinstance(value, str) else str(value)
    return clip(text, FIELD_LIMIT)


def _is_pandas(value: Any, kind: str) -> bool:
    cls = type(value)
    return cls.__name__ == kind and cls.__module__.startswith("pandas")
