"""A typed answer as a person reads it, in Markdown: records as a table, one object as a short
field list, a plain value as itself. The thread keeps the JSON; this is only what is shown."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any

#: Longest cell or field value shown; the value itself is whole in the variable.
CELL_LIMIT = 120
#: Rows shown of a long list (the rest are counted).
ROW_LIMIT = 200


def markdown(value: Any) -> str:
    """The value in Markdown."""
    data = plain(value)
    if isinstance(data, Mapping):
        return _fields(data)
    if isinstance(data, list):
        if data and all(isinstance(item, Mapping) for item in data):
            return _table(data)
        if not data:
            return "*(an empty list)*"
        return "\n".join(f"- {_cell(item)}" for item in data[:ROW_LIMIT]) + _more(data)
    if isinstance(data, str):
        return data  # a text answer: the model's own Markdown
    return _cell(data, limit=None)


def plain(value: Any) -> Any:
    """The value as JSON-like data: models, dataclasses and enums as what they hold."""
    if hasattr(value, "model_dump"):
        return plain(value.model_dump(mode="python"))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(item) for item in value]
    return value


def _fields(record: Mapping[str, Any]) -> str:
    if not record:
        return "*(no fields)*"
    return "\n".join(f"- **{_escape(key)}**: {_cell(item)}" for key, item in record.items())


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    lines = [
        "| " + " | ".join(_escape(column) for column in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for row in rows[:ROW_LIMIT]:
        cells = [_cell(row[column]) if column in row else "" for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + _more(rows)


def _more(rows: Sequence[Any]) -> str:
    hidden = len(rows) - ROW_LIMIT
    return f"\n\n*…and {hidden:,} more*" if hidden > 0 else ""


def _cell(value: Any, limit: int | None = CELL_LIMIT) -> str:
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, (Mapping, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return _escape(" ".join(text.split()) if limit is not None else text)


def _escape(text: str) -> str:
    """Text that Markdown shows as it is, in a table cell too."""
    for char in "\\|*_`[]<>#":
        text = text.replace(char, f"\\{char}")
    return text
