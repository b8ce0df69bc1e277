"""What the tool tests build tools from: types, functions, and `build`, which checks each schema."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import BaseModel, Field
from typing_extensions import NotRequired, TypedDict

from assistant_magic.tools import FunctionTool, ToolArgumentError

# -- types the tools take (module level, so `from __future__ import annotations` resolves) ---


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Unit(enum.Enum):
    KG = "kg"
    LB = "lb"


@dataclass
class Point:
    x: float
    y: float


@dataclass
class Segment:
    """Two points."""

    start: Point
    end: Point
    label: str = "unnamed"
    tags: list[str] = field(default_factory=list)


class Shape(BaseModel):
    """A named polygon."""

    name: str = Field(description="What to call it")
    corners: list[Point]
    color: Color | None = None


class Movie(TypedDict):
    title: str
    year: int


class Draft(TypedDict, total=False):
    title: str


class Review(TypedDict):
    stars: int
    text: NotRequired[str]


@dataclass
class Tree:
    value: int
    children: list[Tree]


class Opaque:
    """A class pydantic has no schema for."""


def calc_strength(name: str, unit: Literal["kg", "lb"] = "kg", reps: int = 1) -> str:
    """Estimate a one-rep max."""
    return name


POINT_STRICT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}


# -- OpenAI's strict rules, written down independently of the implementation -------------------

# The keywords OpenAI's structured outputs accept ("Supported schemas" in their guide).
OPENAI_STRICT_KEYWORDS = {
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


def assert_openai_strict(schema: dict[str, Any]) -> None:
    """Every object closed and fully required, no default, only supported keywords."""
    assert schema["type"] == "object" and "anyOf" not in schema
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], where: str) -> None:
        assert "default" not in node and "title" not in node, where
        assert set(node) <= OPENAI_STRICT_KEYWORDS, (where, set(node) - OPENAI_STRICT_KEYWORDS)
        assert {"type", "$ref", "anyOf", "enum", "const"} & set(node), f"untyped at {where}"
        if "$ref" in node:
            assert set(node) == {"$ref"}, f"$ref with siblings at {where}"
            assert node["$ref"].removeprefix("#/$defs/") in defs, where
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, where
            assert node["required"] == list(node["properties"]), where
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{key}")
        if "items" in node:
            walk(node["items"], f"{where}[]")
        for i, sub in enumerate(node.get("anyOf", [])):
            walk(sub, f"{where}|{i}")

    walk({k: v for k, v in schema.items() if k != "$defs"}, "")
    for name, sub in defs.items():
        walk(sub, f"$defs/{name}")


# -- building tools in tests ----------------------------------------------------------------


def build(fn: Any, **kwargs: Any) -> FunctionTool:
    """A FunctionTool whose schema is checked: valid JSON Schema, strict ones to OpenAI's rules."""
    made = FunctionTool(fn, **kwargs)
    schema = made.schema
    jsonschema.Draft202012Validator.check_schema(schema.parameters)
    assert schema.parameters["type"] == "object"
    assert schema.parameters["additionalProperties"] is False
    assert "required" in schema.parameters
    if schema.strict:
        assert schema.note is None
        assert_openai_strict(schema.parameters)
    else:
        assert schema.note and "\n" not in schema.note
    return made


def one_parameter(annotation: Any) -> FunctionTool:
    def fn(value):  # type: ignore[no-untyped-def]
        return value

    fn.__annotations__ = {"value": annotation}
    return build(fn)


def strip_titles(schema: Any) -> Any:
    """pydantic's schema without `title` keywords (never a property that happens to be named so)."""
    if isinstance(schema, dict):
        return {
            key: (
                {name: strip_titles(sub) for name, sub in value.items()}
                if key in ("properties", "$defs")
                else strip_titles(value)
            )
            for key, value in schema.items()
            if key != "title"
        }
    if isinstance(schema, list):
        return [strip_titles(item) for item in schema]
    return schema


def argument_error(made: FunctionTool, raw: str) -> str:
    with pytest.raises(ToolArgumentError) as caught:
        made.parse_arguments(raw)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Invalid arguments for {made.name}: ")
    return message
