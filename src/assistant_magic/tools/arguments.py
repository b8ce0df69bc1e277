"""The model's JSON arguments for a tool: read, validated, and what is wrong said for the model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_core import ErrorDetails


class ToolArgumentError(Exception):
    """The model's arguments are invalid; ``str(exc)`` is one line written for the model."""


@dataclass(frozen=True)
class ArgumentModel:
    """A tool's parameters as a pydantic model, and how its fields map back to the parameters."""

    model: type[BaseModel]
    #: parameter name -> the model's field name (fields are aliased, see `schema`)
    fields: dict[str, str]
    defaults: dict[str, Any]
    #: parameters whose type rejects null: null from the model means "use the default"
    null_means_default: frozenset[str]

    def parse(self, raw: str, tool_name: str) -> dict[str, Any]:
        """The model's JSON arguments as keyword arguments, validated; see
        `FunctionTool.parse_arguments`."""
        data = _load_object(raw, tool_name)
        for param in self.null_means_default:
            if param in data and data[param] is None:
                del data[param]
        return self._validate(data, tool_name)

    def _validate(self, data: dict[str, Any], tool_name: str) -> dict[str, Any]:
        from pydantic import ValidationError

        # Validate JSON as JSON (not as Python objects): the same rules as the schema promised.
        try:
            values = self.model.model_validate_json(json.dumps(data))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            message = _argument_error(tool_name, errors, data, list(self.fields))
            raise ToolArgumentError(message) from None
        given = values.model_fields_set
        return {
            param: getattr(values, field) if field in given else self.defaults[param]
            for param, field in self.fields.items()
        }


def _load_object(raw: str, tool_name: str) -> dict[str, Any]:
    prefix = f"Invalid arguments for {tool_name}:"
    if not raw.strip():
        return {}  # some models send "" for a function without parameters
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ToolArgumentError(
            f"{prefix} not valid JSON ({exc}); send one JSON object of arguments."
        ) from None
    except RecursionError:  # json recurses once per level of nesting
        raise ToolArgumentError(
            f"{prefix} nested too deeply to read; send one flat JSON object of arguments."
        ) from None
    if not isinstance(data, dict):
        raise ToolArgumentError(
            f"{prefix} expected a JSON object of arguments, got {_json_kind(data)}."
        )
    return data


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    kinds = {bool: "a boolean", str: "a string", list: "an array"}
    return kinds.get(type(value), "a number")


def _argument_error(
    tool_name: str, errors: list[ErrorDetails], data: object, params: list[str]
) -> str:
    """pydantic's errors as one line for the model: which argument, what was wrong."""
    problems: list[tuple[str, str, str]] = []  # (path, problem, what the model sent)
    for error in errors:
        path, problem, got = _explain(error, data, params)
        previous = problems[-1] if problems else None
        # The branches of a union each fail on the same input: say it once, with "or".
        if (
            previous
            and got
            and previous[0] == path
            and previous[2] == got
            and previous[1].startswith("must be ")
            and problem.startswith("must be ")
        ):
            merged = f"{previous[1]} or {problem.removeprefix('must be ')}"
            problems[-1] = (path, merged, got)
            continue
        problems.append((path, problem, got))
    shown = [
        f"'{path}' {problem} (got {got})" if got else problem for path, problem, got in problems[:6]
    ]
    if len(problems) > 6:
        shown.append(f"and {len(problems) - 6} more problems")
    text = f"Invalid arguments for {tool_name}: " + "; ".join(shown) + "."
    return " ".join(text.split())  # one line, whatever the messages held


def _explain(error: ErrorDetails, data: object, params: list[str]) -> tuple[str, str, str]:
    kind = error["type"]
    loc = _input_loc(error["loc"], data, keep_last=kind == "missing")
    path = _loc_text(loc)
    top = len(loc) == 1
    if kind == "missing":
        return path, f"missing required {'argument' if top else 'field'} '{path}'", ""
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        if top:
            expected = ", ".join(params) or "none"
            return path, f"unknown argument '{path}' (arguments are: {expected})", ""
        return path, f"unknown field '{path}'", ""
    message = error["msg"]
    if kind in ("literal_error", "enum"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        head, sep, last = expected.rpartition(" or ")
        message = f"must be one of {head}, {last}" if sep else f"must be {expected}"
    elif message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    else:
        message = f"is invalid: {message}"
    return path, message, _show(error["input"])


def _input_loc(loc: tuple[int | str, ...], data: object, *, keep_last: bool) -> list[int | str]:
    """The error's location in the model's JSON, without pydantic's union-branch tags.

    pydantic puts the name of each union member it tried into `loc` ("int", "Point"); those
    are not keys of the input, which is how they are told apart from field names.
    """
    kept: list[int | str] = []
    for index, part in enumerate(loc):
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]  # type: ignore[index]
        elif isinstance(part, str) and not (keep_last and index == len(loc) - 1):
            continue  # not in the input, and not the missing key itself: a union tag
        kept.append(part)
    return kept or list(loc[:1])


def _loc_text(loc: list[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _show(value: object, width: int = 60) -> str:
    """A value as the model wrote it: JSON, but strings in quotes like the messages use."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"
