"""A tool's return value as the text the model reads: `result_text`."""

from __future__ import annotations

import dataclasses
import json
from typing import Any


def result_text(value: Any, *, limit: int = 20_000) -> str:
    """A tool's return value as text for the model; never raises.

    Strings are sent as they are; JSON-like values (containers, dataclasses, pydantic models,
    enums, dates, decimals, UUIDs, paths) as compact JSON; pandas and numpy values as their
    text tables; anything else as its repr. Text over `limit` characters is cut, with a marker
    saying how much was left out.
    """
    try:
        text = _render(value)
    except Exception as exc:
        text = _unrepresentable(value, exc)
    return _truncate(text, limit)


def _render(value: Any) -> str:
    import enum

    if value is None:
        return "null"
    if isinstance(value, enum.Enum):  # before str/int: StrEnum and IntEnum are both
        return _json_text(value)
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, even from a subclass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    package = type(value).__module__.partition(".")[0]
    if package == "pandas":
        text = _pandas_text(value)
        if text is not None:
            return text
    if package == "numpy":
        return _numpy_text(value)
    if _is_jsonable(value):
        return _json_text(value)
    return repr(value)


def _is_jsonable(value: object) -> bool:
    import datetime
    import decimal
    import pathlib
    import sys
    import uuid

    plain = (
        dict,
        list,
        tuple,
        set,
        frozenset,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        decimal.Decimal,
        uuid.UUID,
        pathlib.PurePath,
    )
    if isinstance(value, plain):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    pydantic = sys.modules.get("pydantic")  # a model instance implies pydantic is loaded
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _json_text(value: object) -> str:
    """Compact JSON by pydantic's serializer; a top-level string comes back unquoted."""
    from pydantic_core import to_json

    try:
        text = to_json(value, fallback=_json_fallback).decode()
    except Exception:  # circular data, keys JSON cannot have: the repr still says something
        return repr(value)
    return json.loads(text) if text.startswith('"') else text


def _json_fallback(value: Any) -> Any:
    """Nested values pydantic does not know: numpy's as Python numbers and lists, others str."""
    if type(value).__module__.partition(".")[0] == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _pandas_text(value: Any) -> str | None:
    kind = type(value).__name__
    if kind == "DataFrame":
        rows, columns = value.shape
        table = value.to_string(max_rows=20, max_cols=20, max_colwidth=60)
        return f"DataFrame with {rows:,} rows and {columns:,} columns\n{table}"
    if kind == "Series":
        name = f" {value.name!r}" if value.name is not None else ""
        table = value.to_string(max_rows=20)
        return f"Series{name}: {len(value):,} values, dtype {value.dtype}\n{table}"
    return None


def _numpy_text(value: Any) -> str:
    import numpy

    if isinstance(value, numpy.ndarray):
        body = numpy.array2string(value, threshold=200, edgeitems=5, max_line_width=120)
        return f"ndarray shape {value.shape}, dtype {value.dtype}\n{body}"
    if isinstance(value, numpy.generic):  # numpy scalars: as the Python value they hold
        return _render(value.item())
    return repr(value)


def _unrepresentable(value: object, exc: Exception) -> str:
    try:
        reason = str(exc)
    except Exception:
        reason = type(exc).__name__
    return f"<unrepresentable {type(value).__name__}: {reason[:200]}>"


def _truncate(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [truncated: {len(text) - limit:,} more characters]"
