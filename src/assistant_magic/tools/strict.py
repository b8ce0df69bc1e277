"""Pydantic's JSON schema of a tool's parameters, rewritten for OpenAI's strict mode if it can be.

The schema is made to satisfy OpenAI's strict function-calling rules (every object closed and
fully required, no ``default``, a closed keyword subset) whenever the signature allows it:

=============================================  ==============================================
In the signature                               Schema
=============================================  ==============================================
str, int, float, bool, Literal, Enum, date,    strict
datetime, list[X], tuple[X, ...], set[X],
Optional[X], unions, dataclasses, BaseModels,
total TypedDicts, Annotated[X, Field(...)]
parameter with a default                       strict: required but nullable, the default in
                                               its description; null means "the default"
nested field with a default (dataclass, ...)   strict: required, the default in its
                                               description; the model sends a value
set[X]                                         strict, without ``uniqueItems`` (the set is
                                               built on validation anyway)
string format strict mode lacks (path, uri)    strict, without that ``format``
dict[str, X], plain dict                       NOT strict: a free-form mapping
Any, unannotated parameter                     NOT strict: no type to constrain
TypedDict with total=False / NotRequired keys  NOT strict: strict mode cannot leave a key out
fixed-length tuple[X, Y]                       NOT strict: ``prefixItems`` is not supported
other constraint keywords (maxLength, ...)     NOT strict: the keyword is not supported
=============================================  ==============================================

A NOT strict schema is pydantic's own (with its defaults, only required parameters in
``required``) and `ToolSchema.note` says in one line why strict mode was not possible.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

# Keywords OpenAI's strict mode accepts in a schema node (its "supported schemas" subset).
_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "$ref",
        "$defs",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    }
)
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
#: Set by our JSON schema generator on a TypedDict whose keys may be left out; never emitted.
OPTIONAL_KEYS = "x-assistant-optional-keys"


def parameters_schema(
    schema: dict[str, Any],
    defaults: dict[str, Any],
    null_ok: set[str],
    unannotated: list[str],
    *,
    what: str = "parameter",
) -> tuple[dict[str, Any], str | None]:
    """What the model is told of the parameters: the strict rewrite of pydantic's `schema`, or
    pydantic's own when strict mode is not possible, with a one-line note saying why.

    `defaults` are the parameters' defaults, `null_ok` the defaulted parameters whose type
    takes null already, `unannotated` the parameters without a type hint. `what` names the
    root's properties in the note (a typed answer's are fields).
    """
    strict, problems = _strict_schema(schema, defaults, null_ok, unannotated, what)
    if problems:
        return _plain_schema(schema), _note(problems)
    return strict, None


def _subschemas(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schemas directly inside `node` (never property names or other keyword values)."""
    for key in ("properties", "$defs"):
        if isinstance(node.get(key), dict):
            yield from (value for value in node[key].values() if isinstance(value, dict))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield node[key]
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            yield from (value for value in node[key] if isinstance(value, dict))


def _strip_noise(node: dict[str, Any]) -> None:
    """Remove titles (noise for the model) and our own markers, everywhere."""
    node.pop("title", None)
    node.pop(OPTIONAL_KEYS, None)
    for sub in _subschemas(node):
        _strip_noise(sub)


def _root(properties: dict[str, Any], required: list[str], defs: Any) -> dict[str, Any]:
    root: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if defs:
        root["$defs"] = defs
    return root


def _plain_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's schema as it is, without titles: what non-strict tools send."""
    plain = copy.deepcopy(schema)
    _strip_noise(plain)
    return _root(plain.get("properties", {}), plain.get("required", []), plain.get("$defs"))


def accepts_null(node: dict[str, Any]) -> bool:
    """Whether a value the schema `node` describes may be null."""
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if not any(key in node for key in ("type", "$ref", "anyOf", "oneOf", "enum", "const")):
        return True  # Any
    if None in node.get("enum", ()) or ("const" in node and node["const"] is None):
        return True
    return any(accepts_null(sub) for sub in node.get("anyOf", []) + node.get("oneOf", []))


def _default_text(value: object) -> str:
    from pydantic_core import to_json

    try:
        text = to_json(value).decode()
    except Exception:
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _with_note(node: dict[str, Any], note: str) -> dict[str, Any]:
    description = node.get("description")
    node["description"] = f"{description.rstrip()} {note}" if description else note
    return node


def _strict_schema(
    schema: dict[str, Any],
    defaults: dict[str, Any],
    null_ok: set[str],
    unannotated: list[str],
    what: str = "parameter",
) -> tuple[dict[str, Any], list[str]]:
    """The schema under OpenAI's strict rules, and why it cannot be strict (if it cannot)."""
    work = copy.deepcopy(schema)
    strict = _Strictifier(work)
    optional = work.pop(OPTIONAL_KEYS, None)  # a typed answer's root may be a TypedDict
    if optional:
        strict.problems.append(
            f"optional key '{optional[0]}' (TypedDict total=False or NotRequired)"
        )
    properties = work.get("properties", {})
    for name in list(properties):
        if name in unannotated:
            strict.problems.append(f"unannotated {what} '{name}'")
            continue
        prop = properties[name]
        if name in defaults:
            prop = _nullable_default(prop, defaults[name], null_ok=name in null_ok)
        properties[name] = strict.node(prop, f"{what} '{name}'", None)
    # Definitions after parameters, so the note names parameters first. Order does not
    # matter otherwise: a definition inlined before its turn is rewritten where it lands.
    defs = work.get("$defs", {})
    for def_name in list(defs):
        defs[def_name] = strict.node(defs[def_name], f"'{def_name}'", def_name)
    # OpenAI's size limits for a strict schema.
    if strict.property_count + len(properties) > 5000:
        strict.problems.append("more than 5000 properties in all")
    if strict.enum_count > 1000:
        strict.problems.append("more than 1000 enum values in all")
    root = _root(properties, list(properties), defs)
    _prune_defs(root)
    return root, list(dict.fromkeys(strict.problems))


def _nullable_default(prop: dict[str, Any], default: object, *, null_ok: bool) -> dict[str, Any]:
    """Strict mode has no optional parameters: make it required, and let null mean default."""
    prop.pop("default", None)
    description = prop.pop("description", None)
    if null_ok:
        note = f"(default: {_default_text(default)})"
    else:
        note = f"(default: {_default_text(default)}; pass null to use it)"
        if set(prop) == {"anyOf"}:
            prop["anyOf"].append({"type": "null"})
        else:
            prop = {"anyOf": [prop, {"type": "null"}]}
    if description:
        prop["description"] = description
    return _with_note(prop, note)


class _Strictifier:
    """Walks a schema, rewriting it for strict mode and collecting what cannot be rewritten."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.problems: list[str] = []
        self.property_count = 0
        self.enum_count = 0

    def node(self, node: dict[str, Any], where: str, path: str | None) -> dict[str, Any]:
        node = self._rewrite(node)
        if not any(key in node for key in ("type", "$ref", "anyOf", "enum", "const")):
            self.problems.append(f"untyped value (Any) in {where}")
        if node.get("type") == "object" or "properties" in node:
            self._object(node, where, path)
        if isinstance(node.get("items"), dict):
            node["items"] = self.node(node["items"], where, path)
        if isinstance(node.get("anyOf"), list):
            node["anyOf"] = [self.node(sub, where, path) for sub in node["anyOf"]]
        if "prefixItems" in node:
            self.problems.append(f"fixed-length tuple in {where}")
        self.enum_count += len(node.get("enum", ()))
        for key in node:
            if key not in _STRICT_KEYWORDS and key != "prefixItems":
                self.problems.append(f"'{key}' in {where} is not supported in strict mode")
        return node

    def _rewrite(self, node: dict[str, Any]) -> dict[str, Any]:
        """What can be said the strict way without losing meaning (validation is unchanged)."""
        node.pop("title", None)
        if "$ref" in node and len(node) > 1:
            # Strict mode wants a $ref alone: inline the target under the extra keywords.
            node = {**copy.deepcopy(self._resolve(node.pop("$ref"))), **node}
            node.pop("title", None)
        if "oneOf" in node:  # pydantic's discriminated unions; anyOf means the same here
            node["anyOf"] = node.get("anyOf", []) + node.pop("oneOf")
            node.pop("discriminator", None)
        if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**node.pop("allOf")[0], **node}
        if "default" in node:
            _with_note(node, f"(default: {_default_text(node.pop('default'))})")
        node.pop("uniqueItems", None)  # a set[X] parameter is built as a set on validation
        if "format" in node and node["format"] not in _STRICT_FORMATS:
            del node["format"]  # e.g. "path", "uri": only a hint; validation still checks
        return node

    def _object(self, node: dict[str, Any], where: str, path: str | None) -> None:
        extra = node.get("additionalProperties", False)
        if extra is not False or "properties" not in node:
            self.problems.append(f"free-form dict in {where}")
            node.pop("additionalProperties", None)  # not reported again as a keyword
            return
        optional = node.pop(OPTIONAL_KEYS, None)
        if optional:
            self.problems.append(
                f"optional key '{optional[0]}' in {where} (TypedDict total=False or NotRequired)"
            )
        properties = node["properties"]
        self.property_count += len(properties)
        for key in list(properties):
            sub_path = f"{path}.{key}" if path else None
            sub_where = f"'{sub_path}'" if sub_path else where
            properties[key] = self.node(properties[key], sub_where, sub_path)
        node["required"] = list(properties)
        node["additionalProperties"] = False

    def _resolve(self, ref: str) -> dict[str, Any]:
        prefix = "#/$defs/"
        target = self.root.get("$defs", {}).get(ref.removeprefix(prefix))
        if not ref.startswith(prefix) or not isinstance(target, dict):
            raise ValueError(f"unexpected $ref {ref!r} in a pydantic schema")
        return target


def _prune_defs(root: dict[str, Any]) -> None:
    """Drop definitions no longer referenced (inlining can orphan them): fewer tokens."""
    defs = root.get("$defs")
    if not defs:
        root.pop("$defs", None)
        return
    seen: set[str] = set()
    pending = [node for key, node in root.items() if key != "$defs"]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen and name in defs:
                    seen.add(name)
                    pending.append(defs[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name in [name for name in defs if name not in seen]:
        del defs[name]
    if not defs:
        del root["$defs"]


def _note(problems: list[str]) -> str | None:
    if not problems:
        return None
    shown = "; ".join(problems[:3])
    more = len(problems) - 3
    return f"{shown}; and {more} more" if more > 0 else shown
