"""A JSON document valid against a JSON schema, made from the schema: what the echo reply answers
to a request that asks for Structured Outputs.

The instance is the plainest one the schema allows, so tests can predict it: every property of an
object, strings made of a given text, numbers 0 (or the nearest bound), booleans false, the first
``enum`` value or the ``const``, the first non-null ``anyOf``/``oneOf`` branch, arrays of one item
(or ``minItems``). ``$ref`` is resolved within the schema (``#/$defs/...``, ``#``); recursion is
bounded: past :data:`MAX_DEPTH` levels the smallest choice is taken (a null branch, an empty
array) so a recursive type ends.

Not covered: ``pattern`` (a string is not made to match a regular expression), ``not``,
``if``/``then``, ``uniqueItems`` with several items, ``patternProperties``. The schemas typed asks
send (pydantic's, made strict) use none of them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: Nesting levels past which the instance stops growing (see the module docstring).
MAX_DEPTH = 6
#: Levels past which a schema that admits no finite document (an object that requires itself)
#: is given up on: None there, so the answer stays finite though invalid.
_GIVE_UP_DEPTH = 64

#: Strings in the common ``format``s, each valid for its format.
_FORMATTED = {
    "date-time": "1970-01-01T00:00:00Z",
    "date": "1970-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def schema_instance(schema: Mapping[str, Any] | bool, *, text: str = "") -> Any:
    """A document valid against ``schema`` (a JSON schema as a dict), strings made of ``text``."""
    root = schema if isinstance(schema, Mapping) else {}
    return _Maker(root, text).make(schema, 0)


class _Maker:
    def __init__(self, root: Mapping[str, Any], text: str) -> None:
        self.root = root
        self.text = text

    def make(self, schema: Mapping[str, Any] | bool, depth: int) -> Any:
        if schema is True or schema == {}:
            return self.text  # anything goes: a string is as good as any
        if not isinstance(schema, Mapping) or depth > _GIVE_UP_DEPTH:
            return None  # `false` admits nothing; no document can be valid
        if "$ref" in schema:
            target = self._resolve(str(schema["$ref"]))
            # Keywords beside a $ref (a description, a default) only annotate.
            return self.make(target, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        for key in ("anyOf", "oneOf"):
            branches = schema.get(key)
            if isinstance(branches, list) and branches:
                return self.make(self._branch(branches, depth), depth + 1)
        if isinstance(schema.get("allOf"), list):
            return self.make(_merged(schema["allOf"]), depth + 1)
        return self._typed(schema, _type_of(schema), depth)

    def _typed(self, schema: Mapping[str, Any], kind: str, depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties")
            if not isinstance(properties, Mapping):
                return {}
            return {name: self.make(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return _string(schema, self.text)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer")
        if kind == "boolean":
            return False
        return None

    def _array(self, schema: Mapping[str, Any], depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        made = [self.make(sub, depth + 1) for sub in prefix] if isinstance(prefix, list) else []
        least = int(schema.get("minItems", 0))
        # One item shows the item's shape; past the depth bound only what minItems demands.
        wanted = max(least, len(made) if depth >= MAX_DEPTH else len(made) + 1)
        if "maxItems" in schema:
            wanted = min(wanted, int(schema["maxItems"]))
        items = schema.get("items", True)
        if items is False:
            return made
        while len(made) < wanted:
            made.append(self.make(items, depth + 1))
        return made

    def _branch(self, branches: list[Any], depth: int) -> Any:
        """The first non-null branch; past the depth bound a null one, which ends recursion."""
        nulls = [b for b in branches if isinstance(b, Mapping) and b.get("type") == "null"]
        if depth >= MAX_DEPTH and nulls:
            return nulls[0]
        others = [b for b in branches if b not in nulls]
        return others[0] if others else branches[0]

    def _resolve(self, ref: str) -> Mapping[str, Any] | bool:
        """A ``#``-pointer within the root schema (other references are not followed)."""
        if not ref.startswith("#"):
            return True
        found: Any = self.root
        for token in filter(None, ref[1:].split("/")):
            token = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(found, Mapping) or token not in found:
                return True
            found = found[token]
        return found if isinstance(found, (Mapping, bool)) else True


def _type_of(schema: Mapping[str, Any]) -> str:
    """The schema's type: the first non-null one of a list, else guessed from its keywords."""
    kind = schema.get("type")
    if isinstance(kind, list):
        named = [k for k in kind if k != "null"]
        kind = named[0] if named else "null"
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    return "string"


def _merged(parts: list[Any]) -> dict[str, Any]:
    """``allOf`` as one schema: properties and ``required`` joined, other keywords the last's."""
    merged: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for part in parts:
        if isinstance(part, Mapping):
            properties.update(part.get("properties") or {})
            merged.update({k: v for k, v in part.items() if k != "properties"})
    if properties:
        merged["properties"] = properties
    return merged


def _string(schema: Mapping[str, Any], text: str) -> str:
    fixed = _FORMATTED.get(str(schema.get("format")))
    value = fixed if fixed is not None else text
    least = int(schema.get("minLength", 0))
    if len(value) < least:
        value = value + "x" * (least - len(value))
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value


def _number(schema: Mapping[str, Any], *, integer: bool) -> int | float:
    """0 when the bounds allow it, else the lowest value they allow (rounded up to an integer,
    and to ``multipleOf``), or the middle of a narrow exclusive range."""
    low = schema.get("minimum")
    above = schema.get("exclusiveMinimum")
    high = schema.get("maximum")
    below = schema.get("exclusiveMaximum")
    value: float = 0
    if low is not None and value < low:
        value = low
    if above is not None and value <= above:
        value = math.floor(above) + 1 if integer else above + 1
    ceiling = min((b for b in (high, below) if b is not None), default=None)
    if ceiling is not None and (value > ceiling or (below is not None and value >= below)):
        floor = low if low is not None else above if above is not None else ceiling - 2
        value = (floor + ceiling) / 2
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0 and value % step:
        value = math.ceil(value / step) * step
    if integer:
        return math.ceil(value)
    return int(value) if float(value).is_integer() else value
