"""Structured Outputs: the JSON schema a request asks its answer to follow, and the real API's
rules for it.

Where each dialect asks (:func:`requested_format` reads them all):

* Responses: ``text.format`` ``{"type": "json_schema", "name", "schema", "strict"}``;
* Chat Completions: ``response_format`` ``{"type": "json_schema", "json_schema": {"name",
  "schema", "strict"}}``, or ``{"type": "json_object", "schema": {...}}`` (llama-cpp-python's
  extension, which the spec's open object allows: no name, never strict);
* Assistants: the run's ``response_format``, shaped as for Chat Completions (the run request's, or
  else its assistant's).

The rules (:func:`check_format`), each a 400 ``invalid_request_error`` in the real API's words:

* the name matches ``^[a-zA-Z0-9_-]+$`` and has at most 64 characters (``Invalid
  'text.format.name': string does not match pattern. ...``, code ``invalid_value``; ``... string
  too long. ...``, code ``string_above_max_length``);
* with ``strict: true``, the root is an object: ``Invalid schema for response_format 'NAME':
  schema must be a JSON Schema of 'type: "object"', got 'type: "array"'.``;
* with ``strict: true``, every object (at the root, in ``properties``, ``items``, ``anyOf``,
  ``$defs``, ...) sets ``additionalProperties: false`` and lists every property in ``required``:
  ``Invalid schema for response_format 'NAME': In context=('properties', 'x'),
  'additionalProperties' is required to be supplied and to be false.``, ``... 'required' is
  required to be supplied and to be an array including every key in properties. Missing 'y'.``
  (the first object that breaks a rule, depth first; the root's context is ``()``).

Schema errors carry ``param`` ``text.format.schema`` and code ``invalid_json_schema`` in the
Responses API, ``param`` ``response_format`` and no code in the others, as the real API answers.
The real API has more strict-mode rules (supported keywords, nesting and size limits); they are
not checked here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .wire import ApiFailure

_NAME = re.compile(r"[a-zA-Z0-9_-]+")
_NAME_PATTERN = "^[a-zA-Z0-9_-]+$"
_MAX_NAME = 64
#: Keywords whose value is one subschema, or a list or mapping of them (where objects may hide).
_SUBSCHEMA_KEYS = ("items", "additionalProperties", "not")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions")


@dataclass(frozen=True)
class AnswerFormat:
    """The answer format a request asks for. ``name`` is None for a ``json_object`` (which
    may carry a ``schema``, or none: any JSON object). ``where``: the request field holding it
    (``text.format`` or ``response_format``)."""

    name: str | None
    schema: Mapping[str, Any] | None
    strict: bool
    where: str

    @property
    def responses(self) -> bool:
        return self.where == "text.format"


def requested_format(body: Mapping[str, Any]) -> AnswerFormat | None:
    """The JSON answer format of a Responses or Chat Completions request, or of a run (its
    ``response_format``); None for plain text."""
    text = body.get("text")
    if isinstance(text, Mapping) and isinstance(text.get("format"), Mapping):
        wanted = text["format"]
        if wanted.get("type") == "json_schema":
            return _format(wanted, "text.format")
        return None
    wanted = body.get("response_format")
    if not isinstance(wanted, Mapping):
        return None  # absent, or "auto" on a run
    if wanted.get("type") == "json_schema" and isinstance(wanted.get("json_schema"), Mapping):
        return _format(wanted["json_schema"], "response_format")
    if wanted.get("type") == "json_object":
        schema = wanted.get("schema")
        return AnswerFormat(
            None, schema if isinstance(schema, Mapping) else None, False, "response_format"
        )
    return None


def _format(config: Mapping[str, Any], where: str) -> AnswerFormat:
    schema = config.get("schema")
    return AnswerFormat(
        name=str(config.get("name", "")),
        schema=schema if isinstance(schema, Mapping) else None,
        strict=config.get("strict") is True,
        where=where,
    )


def check_format(body: Mapping[str, Any]) -> None:
    """The request's answer format keeps the real API's rules (module docstring); else the
    400 it answers."""
    found = requested_format(body)
    if found is None or found.name is None:
        return
    _check_name(found)
    if found.strict and found.schema is not None:
        problem = strict_problem(found.schema)
        if problem is not None:
            raise ApiFailure(
                400,
                f"Invalid schema for response_format '{found.name}': {problem}",
                param="text.format.schema" if found.responses else "response_format",
                code="invalid_json_schema" if found.responses else None,
            )


def _check_name(found: AnswerFormat) -> None:
    name = found.name or ""
    param = f"{found.where}.name" if found.responses else "response_format.json_schema.name"
    if len(name) > _MAX_NAME:
        raise ApiFailure(
            400,
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{_MAX_NAME}, but got a string with length {len(name)} instead.",
            param=param,
            code="string_above_max_length",
        )
    if not _NAME.fullmatch(name):
        raise ApiFailure(
            400,
            f"Invalid '{param}': string does not match pattern. Expected a string that matches "
            f"the pattern '{_NAME_PATTERN}'.",
            param=param,
            code="invalid_value",
        )


def strict_problem(schema: Mapping[str, Any]) -> str | None:
    """What makes ``schema`` unfit for strict mode, in the real API's words (None: fit)."""
    root_type = schema.get("type")
    if root_type != "object":
        return (
            "schema must be a JSON Schema of 'type: \"object\"', "
            f"got 'type: \"{_type_name(root_type)}\"'."
        )
    for context, subschema in _subschemas(schema, ()):
        if not _is_object(subschema):
            continue
        if subschema.get("additionalProperties") is not False:
            return (
                f"In context={context!r}, 'additionalProperties' is required to be supplied and "
                "to be false."
            )
        properties = subschema.get("properties") or {}
        required = subschema.get("required")
        listed = required if isinstance(required, list) else []
        missing = [name for name in properties if name not in listed]
        if missing:
            return (
                f"In context={context!r}, 'required' is required to be supplied and to be an "
                f"array including every key in properties. Missing '{missing[0]}'."
            )
    return None


def _subschemas(
    schema: Any, context: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], Mapping[str, Any]]]:
    """Every subschema with its place, the schema first, depth first."""
    if not isinstance(schema, Mapping):
        return
    yield context, schema
    for key in _SUBSCHEMA_KEYS:
        yield from _subschemas(schema.get(key), (*context, key))
    for key in _SUBSCHEMA_LISTS:
        value = schema.get(key)
        for index, sub in enumerate(value if isinstance(value, list) else []):
            yield from _subschemas(sub, (*context, key, index))
    for key in _SUBSCHEMA_MAPS:
        value = schema.get(key)
        for name, sub in (value if isinstance(value, Mapping) else {}).items():
            yield from _subschemas(sub, (*context, key, str(name)))


def _is_object(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    return kind == "object" or (isinstance(kind, list) and "object" in kind)


def _type_name(kind: object) -> str:
    if isinstance(kind, list):
        return ", ".join(str(k) for k in kind)
    return str(kind)
