"""A job's answers, aligned to its input: a Series on the input's own index (duplicated or
shuffled labels included), with the errors of the rows that have no answer beside it, or with
`expand`, a DataFrame with a column per field of the typed answers and one for the errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .table import Table

ERRORS = "errors"


@dataclass(frozen=True)
class RowResult:
    """One row's answer (its text, or its typed value), or why it has none."""

    value: Any = None
    error: str | None = None


def assemble(table: Table, results: Sequence[RowResult], *, expand: bool = False) -> Any:
    """The answers as a pandas Series named "answer" whose ``attrs["errors"]`` is a Series of
    the failed rows' errors (empty when none failed); with `expand`, a DataFrame."""
    import pandas as pd

    index = table.index if table.index is not None else pd.RangeIndex(len(table))
    values = [result.value for result in results]
    errors = [result.error for result in results]
    if expand:
        return _frame(values, errors, index)
    answers = pd.Series(values, index=index, name="answer", dtype=object)
    failed = [i for i, error in enumerate(errors) if error is not None]
    answers.attrs[ERRORS] = pd.Series(
        [errors[i] for i in failed], index=index[failed], name="error", dtype=object
    )
    return answers


def _frame(values: Sequence[Any], errors: Sequence[str | None], index: Any) -> Any:
    import pandas as pd

    from ..answer_display import plain

    records = []
    for value, error in zip(values, errors, strict=True):
        data = plain(value)
        if value is None:
            record: dict[str, Any] = {}  # a failed row: its columns stay empty
        else:
            record = dict(data) if isinstance(data, dict) else {"answer": data}
        records.append({**record, "error": error})
    return pd.DataFrame.from_records(records, index=index)
