"""Reading a batch's input file: one ``BatchRequestInput`` per line, or why the batch fails.

A line is ``{"custom_id", "method": "POST", "url", "body"}``. The file is read while the batch is
``validating``; any problem fails the whole batch (no line is played), each reported in the
batch's ``errors.data`` as a ``BatchError`` with the 1-based ``line`` it is on:

* a line that is not a JSON object: ``invalid_json_line``, ``This line is not parseable as valid
  JSON.`` (the real API's words);
* a ``custom_id`` seen on an earlier line: ``duplicate_custom_id`` (the real API's words);
* a missing ``custom_id``/``method``/``url``/``body``: ``missing_required_parameter``;
* a ``method`` other than POST: ``invalid_method``;
* a ``url`` other than the batch's ``endpoint``: ``url_mismatch``;
* a ``body.model`` other than the first line's: ``model_mismatch``;
* no line at all: ``empty_file``.

The codes are the ones OpenAI documents; the messages of the last five are ours.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: What each line must carry.
_REQUIRED = ("custom_id", "method", "url", "body")


@dataclass(frozen=True)
class BatchLine:
    """One request of a batch: where it is in the file (1-based ``number``) and what it asks."""

    number: int
    custom_id: str
    method: str
    url: str
    body: dict[str, Any]


def batch_error(
    code: str, message: str, *, line: int | None, param: str | None = None
) -> dict[str, Any]:
    """A ``BatchError`` as the batch's ``errors.data`` lists it."""
    return {"code": code, "message": message, "param": param, "line": line}


def read_lines(data: bytes, endpoint: str) -> tuple[list[BatchLine], list[dict[str, Any]]]:
    """The file's requests, and the ``BatchError``s that fail the batch (empty when it is fine).

    Blank lines (a trailing newline, say) are skipped but still counted, so ``line`` numbers are
    those an editor shows.
    """
    lines: list[BatchLine] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    model: object = None
    for number, raw in enumerate(data.decode("utf-8", errors="replace").splitlines(), start=1):
        if not raw.strip():
            continue
        parsed = _parse(raw)
        if parsed is None:
            errors.append(
                batch_error(
                    "invalid_json_line", "This line is not parseable as valid JSON.", line=number
                )
            )
            continue
        problem = _line_problem(parsed, number, endpoint)
        if problem is not None:
            errors.append(problem)
            continue
        custom_id = str(parsed["custom_id"])
        if custom_id in seen:
            errors.append(_duplicate(number))
            continue
        seen.add(custom_id)
        if model is None:
            model = parsed["body"].get("model")
        elif parsed["body"].get("model") != model:
            errors.append(
                batch_error(
                    "model_mismatch",
                    f"The model must be the same for every request in a batch: expected "
                    f"{model!r}, got {parsed['body'].get('model')!r}.",
                    line=number,
                    param="body.model",
                )
            )
            continue
        lines.append(BatchLine(number, custom_id, "POST", endpoint, parsed["body"]))
    if not lines and not errors:
        errors.append(batch_error("empty_file", "The input file has no requests.", line=None))
    return lines, errors


def _parse(raw: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _line_problem(parsed: dict[str, Any], number: int, endpoint: str) -> dict[str, Any] | None:
    for name in _REQUIRED:
        if name not in parsed or parsed[name] is None:
            return batch_error(
                "missing_required_parameter",
                f"Missing required parameter: '{name}'.",
                line=number,
                param=name,
            )
    if not isinstance(parsed["body"], dict):
        return batch_error(
            "invalid_request", "'body' must be a JSON object.", line=number, param="body"
        )
    if str(parsed["method"]).upper() != "POST":
        return batch_error(
            "invalid_method",
            f"The method must be POST, not {parsed['method']!r}.",
            line=number,
            param="method",
        )
    if parsed["url"] != endpoint:
        return batch_error(
            "url_mismatch",
            f"The url {parsed['url']!r} does not match the batch's endpoint {endpoint!r}.",
            line=number,
            param="url",
        )
    return None


def _duplicate(number: int) -> dict[str, Any]:
    return batch_error(
        "duplicate_custom_id",
        "The custom_id for this request is a duplicate of another request. The custom_id "
        "parameter must be unique for each request in a batch.",
        line=number,
        param="custom_id",
    )
