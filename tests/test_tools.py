"""Tools: schemas from signatures, strict-mode decisions, argument validation, result text."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import enum
import functools
import json
import pathlib
import subprocess
import sys
import types
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pytest
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import NotRequired, TypedDict

from assistant_magic.errors import AssistantError
from assistant_magic.tools import (
    FunctionTool,
    ToolArgumentError,
    ToolDefinitionError,
    ToolOptions,
    ToolSchema,
    result_text,
    tool,
    tool_options,
)

# -- types the tools below use (module level, so `from __future__ import annotations` resolves) --


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


# -- one parameter of each supported type ----------------------------------------------------


POINT_STRICT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}

# (annotation, property schema, $defs, strict, good JSON value, the Python value it becomes,
#  a bad JSON value)
TYPE_CASES: list[tuple[Any, dict[str, Any], dict[str, Any], bool, Any, Any, Any]] = [
    (str, {"type": "string"}, {}, True, "hi", "hi", 3),
    (int, {"type": "integer"}, {}, True, 3, 3, "three"),
    (float, {"type": "number"}, {}, True, 2.5, 2.5, "x"),
    (bool, {"type": "boolean"}, {}, True, True, True, "maybe"),
    (Literal["kg", "lb"], {"enum": ["kg", "lb"], "type": "string"}, {}, True, "kg", "kg", "st"),
    (
        Color,
        {"$ref": "#/$defs/Color"},
        {"Color": {"enum": ["red", "green"], "type": "string"}},
        True,
        "red",
        Color.RED,
        "pink",
    ),
    (
        Priority,
        {"$ref": "#/$defs/Priority"},
        {"Priority": {"enum": [1, 2], "type": "integer"}},
        True,
        2,
        Priority.HIGH,
        3,
    ),
    (
        list[int],
        {"items": {"type": "integer"}, "type": "array"},
        {},
        True,
        [1, 2],
        [1, 2],
        [1, "x"],
    ),
    (tuple[int, ...], {"items": {"type": "integer"}, "type": "array"}, {}, True, [1], (1,), "1"),
    (
        tuple[int, str],
        {
            "maxItems": 2,
            "minItems": 2,
            "prefixItems": [{"type": "integer"}, {"type": "string"}],
            "type": "array",
        },
        {},
        False,
        [1, "a"],
        (1, "a"),
        [1],
    ),
    # uniqueItems is not a strict keyword; validation makes the set anyway.
    (set[str], {"items": {"type": "string"}, "type": "array"}, {}, True, ["a", "a"], {"a"}, [1]),
    (
        dict[str, int],
        {"additionalProperties": {"type": "integer"}, "type": "object"},
        {},
        False,
        {"a": 1},
        {"a": 1},
        {"a": "x"},
    ),
    (dict, {"additionalProperties": True, "type": "object"}, {}, False, {"a": [1]}, {"a": [1]}, 1),
    (Any, {}, {}, False, [1, "a"], [1, "a"], None),
    (
        Optional[int],  # noqa: UP045 - the spelling under test
        {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        {},
        True,
        None,
        None,
        "x",
    ),
    (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}, {}, True, 4, 4, "x"),
    (
        Point,
        {"$ref": "#/$defs/Point"},
        {"Point": POINT_STRICT},
        True,
        {"x": 1, "y": 2},
        Point(1, 2),
        {"x": 1},
    ),
    (
        Shape,
        {"$ref": "#/$defs/Shape"},
        {
            "Shape": {
                "type": "object",
                "description": "A named polygon.",
                "properties": {
                    "name": {"description": "What to call it", "type": "string"},
                    "corners": {"items": {"$ref": "#/$defs/Point"}, "type": "array"},
                    "color": {
                        "anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}],
                        "description": "(default: null)",
                    },
                },
                "required": ["name", "corners", "color"],
                "additionalProperties": False,
            },
            "Point": POINT_STRICT,
            "Color": {"enum": ["red", "green"], "type": "string"},
        },
        True,
        {"name": "tri", "corners": [{"x": 0, "y": 0}], "color": "green"},
        Shape(name="tri", corners=[Point(0, 0)], color=Color.GREEN),
        {"name": "tri", "corners": [{"x": "a", "y": 0}], "color": None},
    ),
    (
        Movie,
        {"$ref": "#/$defs/Movie"},
        {
            "Movie": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
                "required": ["title", "year"],
                "additionalProperties": False,
            }
        },
        True,
        {"title": "Alien", "year": 1979},
        {"title": "Alien", "year": 1979},
        {"title": "Alien"},
    ),
    (
        Draft,
        {"$ref": "#/$defs/Draft"},
        {
            "Draft": {
                "type": "object",
                "properties": {"title": {"type": "string"}},
                "additionalProperties": False,  # our arguments forbid extras, nested ones too
            }
        },
        False,
        {},
        {},
        {"title": 1},
    ),
    (
        Annotated[int, Field(ge=0, le=10, description="How many")],
        {"description": "How many", "maximum": 10, "minimum": 0, "type": "integer"},
        {},
        True,
        3,
        3,
        11,
    ),
    (
        datetime.date,
        {"format": "date", "type": "string"},
        {},
        True,
        "2024-02-29",
        datetime.date(2024, 2, 29),
        "2023-02-29",
    ),
    (
        datetime.datetime,
        {"format": "date-time", "type": "string"},
        {},
        True,
        "2024-01-02T03:04:05",
        datetime.datetime(2024, 1, 2, 3, 4, 5),
        "yesterday",
    ),
]


@pytest.mark.parametrize(
    ("annotation", "prop", "defs", "strict", "good", "value", "bad"),
    TYPE_CASES,
    ids=[repr(case[0]) for case in TYPE_CASES],
)
def test_each_supported_type(
    annotation: Any,
    prop: dict[str, Any],
    defs: dict[str, Any],
    strict: bool,
    good: Any,
    value: Any,
    bad: Any,
) -> None:
    made = one_parameter(annotation)
    schema = made.schema.parameters
    expected: dict[str, Any] = {
        "type": "object",
        "properties": {"value": prop},
        "required": ["value"],
        "additionalProperties": False,
    }
    if defs:
        expected["$defs"] = defs
    assert schema == expected
    assert made.schema.strict is strict

    # The schema describes what validation accepts, and validation gives the function's types.
    jsonschema.validate({"value": good}, schema)
    parsed = made.parse_arguments(json.dumps({"value": good}))
    assert parsed == {"value": value}
    assert type(parsed["value"]) is type(value)

    if bad is not None:
        message = argument_error(made, json.dumps({"value": bad}))
        assert "'value" in message


SAME_AS_PYDANTIC = [str, int, float, bool, Literal["a", "b"], list[int], int | None, dict[str, int]]


@pytest.mark.parametrize("annotation", SAME_AS_PYDANTIC, ids=repr)
def test_plain_types_keep_pydantics_own_schema(annotation: Any) -> None:
    made = one_parameter(annotation)
    own = strip_titles(TypeAdapter(annotation).json_schema())
    assert made.schema.parameters["properties"]["value"] == own


def test_nested_definitions_are_pydantics_modulo_strict_rules() -> None:
    """A dataclass's definition: pydantic's, closed, every field required, defaults noted."""
    made = one_parameter(Segment)
    own = strip_titles(TypeAdapter(Segment).json_schema())
    segment = made.schema.parameters["$defs"]["Segment"]
    assert own["required"] == ["start", "end"]
    assert segment["required"] == ["start", "end", "label", "tags"]
    assert segment["additionalProperties"] is False
    assert own["properties"]["label"] == {"default": "unnamed", "type": "string"}
    assert segment["properties"]["label"] == {
        "type": "string",
        "description": '(default: "unnamed")',
    }
    assert segment["properties"]["tags"] == own["properties"]["tags"]
    assert segment["description"] == own["description"] == "Two points."
    parsed = made.parse_arguments(
        '{"value": {"start": {"x": 0, "y": 0}, "end": {"x": 1, "y": 1}, "label": "a", "tags": []}}'
    )
    assert parsed["value"] == Segment(Point(0, 0), Point(1, 1), "a", [])


def test_recursive_dataclass_keeps_its_ref() -> None:
    made = one_parameter(Tree)
    tree = made.schema.parameters["$defs"]["Tree"]
    assert tree["properties"]["children"] == {"items": {"$ref": "#/$defs/Tree"}, "type": "array"}
    parsed = made.parse_arguments(
        '{"value": {"value": 1, "children": [{"value": 2, "children": []}]}}'
    )
    assert parsed["value"] == Tree(1, [Tree(2, [])])


def test_typing_typeddict_on_old_python_says_to_use_typing_extensions() -> None:
    if sys.version_info >= (3, 12):
        pytest.skip("typing.TypedDict works with pydantic from Python 3.12")
    import typing

    class Old(typing.TypedDict):
        a: int

    with pytest.raises(ToolDefinitionError, match="typing_extensions"):
        one_parameter(Old)


# -- docstrings --------------------------------------------------------------------------------


def lift_google(name: str, reps: int = 5) -> str:
    """Record a lift.

    The lift is stored in the training log.

    Args:
        name: Who lifted.
        reps: How many repetitions,
            counted by the spotter.

    Returns:
        A confirmation.
    """
    return name


def lift_numpy(name: str, reps: int = 5) -> str:
    """Record a lift.

    The lift is stored in the training log.

    Parameters
    ----------
    name : str
        Who lifted.
    reps : int
        How many repetitions.

    Returns
    -------
    str
        A confirmation.
    """
    return name


def lift_sphinx(name: str, reps: int = 5) -> str:
    """Record a lift.

    The lift is stored in the training log.

    :param name: Who lifted.
    :param int reps: How many repetitions.
    :returns: A confirmation.
    """
    return name


def lift_epydoc(name: str, reps: int = 5) -> str:
    """Record a lift.

    The lift is stored in the training log.

    @param name: Who lifted.
    @param reps: How many repetitions.
    @return: A confirmation.
    """
    return name


@pytest.mark.parametrize("fn", [lift_google, lift_numpy, lift_sphinx, lift_epydoc])
def test_docstring_styles(fn: Any) -> None:
    made = build(fn)
    assert made.schema.description == "Record a lift.\n\nThe lift is stored in the training log."
    properties = made.schema.parameters["properties"]
    assert properties["name"]["description"] == "Who lifted."
    assert properties["reps"]["description"].startswith("How many repetitions")
    assert properties["reps"]["description"].endswith("(default: 5; pass null to use it)")


def test_google_continuation_lines_stay_with_their_parameter() -> None:
    reps = build(lift_google).schema.parameters["properties"]["reps"]["description"]
    assert reps.startswith("How many repetitions,\ncounted by the spotter.")


def test_annotated_description_beats_the_docstring() -> None:
    def fn(count: Annotated[int, Field(description="From Annotated")]) -> None:
        """Count.

        Args:
            count: From the docstring.
        """

    assert build(fn).schema.parameters["properties"]["count"]["description"] == "From Annotated"


def test_no_docstring_means_empty_description() -> None:
    def fn(a: int) -> None:
        pass

    made = build(fn)
    assert made.schema.description == ""
    assert "description" not in made.schema.parameters["properties"]["a"]


# -- strict or not, and defaults ----------------------------------------------------------------


def calc_strength(name: str, unit: Literal["kg", "lb"] = "kg", reps: int = 1) -> str:
    """Estimate a one-rep max."""
    return name


def test_defaults_in_strict_mode_are_required_nullable_and_noted() -> None:
    made = build(calc_strength)
    assert made.schema.strict
    params = made.schema.parameters
    assert params["required"] == ["name", "unit", "reps"]
    assert params["properties"]["unit"] == {
        "anyOf": [{"enum": ["kg", "lb"], "type": "string"}, {"type": "null"}],
        "description": '(default: "kg"; pass null to use it)',
    }
    # null, or nothing at all, means the signature's default.
    assert made.parse_arguments('{"name": "Ann", "unit": null, "reps": null}') == {
        "name": "Ann",
        "unit": "kg",
        "reps": 1,
    }
    assert made.parse_arguments('{"name": "Ann"}') == {"name": "Ann", "unit": "kg", "reps": 1}
    assert made.parse_arguments('{"name": "Ann", "unit": "lb", "reps": 3}')["unit"] == "lb"


def test_null_keeps_its_meaning_when_the_type_allows_it() -> None:
    def fetch(limit: int | None = 10, tag: str | None = None) -> None: ...

    made = build(fetch)
    limit = made.schema.parameters["properties"]["limit"]
    assert limit == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "description": "(default: 10)",
    }
    assert made.parse_arguments('{"limit": null, "tag": null}') == {"limit": None, "tag": None}
    assert made.parse_arguments("{}") == {"limit": 10, "tag": None}


def test_defaults_come_back_as_the_signatures_own_objects() -> None:
    shared: list[str] = ["a"]
    when = datetime.date(2024, 1, 1)

    def fn(tags: list[str] = shared, unit: Unit = Unit.KG, day: datetime.date = when) -> None: ...

    made = build(fn)
    parsed = made.parse_arguments('{"tags": null, "unit": null, "day": null}')
    assert parsed["tags"] is shared and parsed["unit"] is Unit.KG and parsed["day"] is when
    day = made.schema.parameters["properties"]["day"]
    assert day["description"] == '(default: "2024-01-01"; pass null to use it)'
    assert made.parse_arguments('{"unit": "lb", "day": "2024-05-06"}')["unit"] is Unit.LB


def test_a_parameter_with_a_docstring_and_a_model_type_is_inlined_for_strict_mode() -> None:
    def place(where: Point) -> None:
        """Place it.

        Args:
            where: The spot.
        """

    params = build(place).schema.parameters
    assert params["properties"]["where"] == {**POINT_STRICT, "description": "The spot."}
    assert "$defs" not in params  # the inlined definition is not sent twice


def test_non_strict_schema_is_pydantics_with_defaults() -> None:
    def configure(options: dict[str, int], retries: int = 3, verbose: bool = False) -> None:
        """Configure.

        Args:
            options: Free-form options.
        """

    made = build(configure)
    assert not made.schema.strict
    assert made.schema.note == "free-form dict in parameter 'options'"
    assert made.schema.parameters == {
        "type": "object",
        "properties": {
            "options": {
                "additionalProperties": {"type": "integer"},
                "description": "Free-form options.",
                "type": "object",
            },
            "retries": {"default": 3, "type": "integer"},
            "verbose": {"default": False, "type": "boolean"},
        },
        "required": ["options"],
        "additionalProperties": False,
    }
    # Models still send null for optional values: it means the default here too.
    assert made.parse_arguments('{"options": {}, "retries": null}') == {
        "options": {},
        "retries": 3,
        "verbose": False,
    }


def untyped(a, b: int):  # type: ignore[no-untyped-def]
    return a


def anything(a: Any) -> None: ...


def free_form(options: dict[str, Any]) -> None: ...


def drafts(draft: Draft) -> None: ...


def reviews(review: Review) -> None: ...


def pair(p: tuple[int, str]) -> None: ...


def short_name(name: Annotated[str, Field(max_length=10)]) -> None: ...


def everything(
    name: str,
    unit: Unit,
    when: datetime.datetime,
    shape: Shape,
    movies: list[Movie],
    tags: frozenset[str] = frozenset(),
) -> None: ...


@pytest.mark.parametrize(
    ("fn", "strict", "note"),
    [
        (everything, True, None),
        (calc_strength, True, None),
        (untyped, False, "unannotated parameter 'a'"),
        (anything, False, "untyped value (Any) in parameter 'a'"),
        (free_form, False, "free-form dict in parameter 'options'"),
        (drafts, False, "optional key 'title' in 'Draft' (TypedDict total=False or NotRequired)"),
        (reviews, False, "optional key 'text' in 'Review' (TypedDict total=False or NotRequired)"),
        (pair, False, "fixed-length tuple in parameter 'p'"),
        (short_name, False, "'maxLength' in parameter 'name' is not supported in strict mode"),
    ],
    ids=lambda value: getattr(value, "__name__", None) if callable(value) else None,
)
def test_strict_decisions(fn: Any, strict: bool, note: str | None) -> None:
    schema = build(fn).schema
    assert (schema.strict, schema.note) == (strict, note)


def test_note_lists_several_reasons_on_one_line() -> None:
    def messy(a, b: dict[str, int], c: tuple[int, int], d: Any, e: Draft) -> None:  # type: ignore[no-untyped-def]
        pass

    note = build(messy).schema.note
    assert note == (
        "unannotated parameter 'a'; free-form dict in parameter 'b'; "
        "fixed-length tuple in parameter 'c'; and 2 more"
    )


def test_optional_typeddict_keys_may_be_left_out() -> None:
    made = build(reviews)
    assert made.schema.parameters["$defs"]["Review"]["required"] == ["stars"]
    assert made.parse_arguments('{"review": {"stars": 4}}') == {"review": {"stars": 4}}


def test_parameter_names_pydantic_reserves_still_work() -> None:
    def odd(json: str, model_config: int, _private: bool, schema: float = 1.0) -> None: ...

    made = build(odd)
    assert list(made.schema.parameters["properties"]) == [
        "json",
        "model_config",
        "_private",
        "schema",
    ]
    parsed = made.parse_arguments('{"json": "j", "model_config": 1, "_private": true}')
    assert parsed == {"json": "j", "model_config": 1, "_private": True, "schema": 1.0}


def test_property_called_title_is_kept() -> None:
    made = one_parameter(Movie)
    assert "title" in made.schema.parameters["$defs"]["Movie"]["properties"]


def test_functions_from_a_notebook_namespace_with_postponed_annotations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # IPython runs cells in the namespace of a module it installs in sys.modules as __main__.
    notebook = types.ModuleType("notebook_main")
    monkeypatch.setitem(sys.modules, "notebook_main", notebook)
    code = (
        "from __future__ import annotations\n"
        "from dataclasses import dataclass\n"
        "@dataclass\n"
        "class Lift:\n"
        "    kg: float\n"
        "@dataclass\n"
        "class Session:\n"
        "    lifts: list[Lift]\n"
        "def log(session: Session, note: str | None = None) -> str:\n"
        "    '''Log a session.'''\n"
        "    return note or ''\n"
    )
    exec(compile(code, "<cell>", "exec"), notebook.__dict__)
    made = build(notebook.log)
    assert made.schema.strict
    assert made.schema.parameters["$defs"]["Lift"]["properties"] == {"kg": {"type": "number"}}
    parsed = made.parse_arguments('{"session": {"lifts": [{"kg": 100}]}, "note": null}')
    assert parsed == {"session": notebook.Session([notebook.Lift(100.0)]), "note": None}


def test_methods_partials_and_callable_objects() -> None:
    class Gym:
        def book(self, slot: int) -> int:
            """Book a slot."""
            return slot

        def __call__(self, reps: int) -> int:
            """Count reps."""
            return reps

    bound = build(Gym().book)
    assert (bound.name, list(bound.schema.parameters["properties"])) == ("book", ["slot"])
    assert bound.schema.description == "Book a slot."

    partial = build(functools.partial(calc_strength, unit="lb"))
    assert partial.name == "calc_strength"
    assert partial.schema.description == "Estimate a one-rep max."
    assert partial.parse_arguments('{"name": "Ann"}') == {"name": "Ann", "unit": "lb", "reps": 1}

    obj = build(Gym())
    assert (obj.name, obj.schema.description) == ("Gym", "Count reps.")
    assert list(obj.schema.parameters["properties"]) == ["reps"]


def test_no_parameters() -> None:
    def ping() -> str:
        return "pong"

    made = build(ping)
    assert made.schema.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    assert made.parse_arguments("{}") == {} == made.parse_arguments("")


# -- argument errors, as the model reads them ------------------------------------------------------


def test_argument_error_messages() -> None:
    made = build(calc_strength)
    assert argument_error(made, '{"name": "Ann", "unit": "stone"}') == (
        "Invalid arguments for calc_strength: 'unit' must be one of 'kg', 'lb' (got 'stone')."
    )
    assert argument_error(made, '{"unit": "kg"}') == (
        "Invalid arguments for calc_strength: missing required argument 'name'."
    )
    assert argument_error(made, '{"name": "Ann", "nme": "x"}') == (
        "Invalid arguments for calc_strength: unknown argument 'nme' "
        "(arguments are: name, unit, reps)."
    )
    assert argument_error(made, '{"name": "Ann", "reps": "many"}') == (
        "Invalid arguments for calc_strength: 'reps' must be a valid integer, unable to parse "
        "string as an integer (got 'many')."
    )
    assert argument_error(made, '{"unit": "stone"}') == (
        "Invalid arguments for calc_strength: missing required argument 'name'; "
        "'unit' must be one of 'kg', 'lb' (got 'stone')."
    )


def test_invalid_json_and_non_objects() -> None:
    made = build(calc_strength)
    invalid = argument_error(made, '{"name": "Ann"')
    assert "not valid JSON" in invalid and "send one JSON object of arguments" in invalid
    assert argument_error(made, '["Ann"]').endswith(
        "expected a JSON object of arguments, got an array."
    )
    assert argument_error(made, '"Ann"').endswith("got a string.")
    assert argument_error(made, "null").endswith("got null.")


def test_nested_errors_name_the_path() -> None:
    def draw(shape: Shape, points: list[Point]) -> None: ...

    made = build(draw)
    message = argument_error(
        made,
        json.dumps(
            {
                "shape": {"name": "t", "corners": [{"x": 1}], "color": "blue"},
                "points": [{"x": 1, "y": 2}, {"x": 1, "y": 2, "z": 3}],
            }
        ),
    )
    assert message == (
        "Invalid arguments for draw: missing required field 'shape.corners[0].y'; "
        "'shape.color' must be one of 'red', 'green' (got 'blue'); unknown field 'points[1].z'."
    )


def test_union_errors_are_said_once() -> None:
    def pick(value: int | Point) -> None: ...

    message = argument_error(build(pick), '{"value": "x"}')
    assert message == (
        "Invalid arguments for pick: 'value' must be a valid integer, unable to parse string as "
        "an integer or an object (got 'x')."
    )


def test_enum_and_date_arguments() -> None:
    def plan(color: Color, day: datetime.date) -> None: ...

    made = build(plan)
    message = argument_error(made, '{"color": "pink", "day": "2024-02-30"}')
    assert "'color' must be one of 'red', 'green' (got 'pink')" in message
    assert "'day' must be a valid date" in message


def test_many_errors_are_capped() -> None:
    def wide(a: int, b: int, c: int, d: int, e: int, f: int, g: int, h: int) -> None: ...

    message = argument_error(build(wide), "{}")
    assert message.endswith("missing required argument 'f'; and 2 more problems.")


# -- definitions that cannot be tools -----------------------------------------------------------


def test_star_args_and_kwargs() -> None:
    def spread(*numbers: int) -> None: ...

    def options(**settings: str) -> None: ...

    with pytest.raises(
        ToolDefinitionError, match=r"spread\(\) cannot be a tool: it takes \*numbers"
    ):
        FunctionTool(spread)
    with pytest.raises(ToolDefinitionError, match=r"it takes \*\*settings"):
        FunctionTool(options)


def test_positional_only_parameters() -> None:
    def div(a: int, b: int, /) -> float:
        return a / b

    with pytest.raises(
        ToolDefinitionError, match=r"parameter 'a' is positional-only.*remove the '/'"
    ):
        FunctionTool(div)


def test_bad_names() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool named '<lambda>'.*pass name="):
        FunctionTool(lambda x: x)
    assert build(lambda x: x, name="identity").name == "identity"
    with pytest.raises(ToolDefinitionError, match=r"tool named 'has space'.*choose another name"):
        FunctionTool(calc_strength, name="has space")
    with pytest.raises(ToolDefinitionError, match="1 to 64"):
        FunctionTool(calc_strength, name="x" * 65)
    assert FunctionTool(calc_strength, name="x" * 64).name == "x" * 64


def test_not_callable() -> None:
    with pytest.raises(ToolDefinitionError, match=r"42 cannot be a tool: it is not callable"):
        FunctionTool(42)  # type: ignore[arg-type]


def test_type_without_a_json_schema_names_the_parameter() -> None:
    def inspect_it(name: str, thing: Opaque) -> None: ...

    with pytest.raises(ToolDefinitionError) as caught:
        FunctionTool(inspect_it)
    message = str(caught.value)
    assert message.startswith("test_type_without_a_json_schema_names_the_parameter.<locals>")
    assert "parameter 'thing' has type Opaque, which has no JSON schema" in message
    assert "\n" not in message


def test_unresolvable_hints() -> None:
    namespace: dict[str, Any] = {}
    exec("from __future__ import annotations\ndef later(x: Missing) -> None: ...", namespace)
    with pytest.raises(
        ToolDefinitionError, match=r"later\(\) cannot be a tool: its type hints do not resolve"
    ):
        FunctionTool(namespace["later"])


def test_definition_errors_are_assistant_errors_shown_in_one_line() -> None:
    with pytest.raises(AssistantError) as caught:
        FunctionTool(42)  # type: ignore[arg-type]
    assert caught.value._render_traceback_() == [f"ToolDefinitionError: {caught.value}"]


# -- the decorator, options and async --------------------------------------------------------------


def test_tool_decorator_forms() -> None:
    @tool
    def plain(a: int) -> int:
        return a

    @tool()
    def empty_call(a: int) -> int:
        return a

    @tool(name="renamed", confirm=True)
    def configured(a: int) -> int:
        return a

    def later(a: int) -> int:
        return a

    assert plain(2) == 2 and configured(3) == 3  # still the user's functions
    assert tool_options(plain) == ToolOptions(name=None, confirm=False)
    assert tool_options(empty_call) == ToolOptions()
    assert tool_options(configured) == ToolOptions(name="renamed", confirm=True)
    assert tool(later) is later and tool_options(later) == ToolOptions()
    assert tool_options(calc_strength) is None
    assert tool_options(42) is None


def test_function_tool_reads_the_decorators_options() -> None:
    @tool(name="renamed", confirm=True)
    def configured(a: int) -> int:
        return a

    made = build(configured)
    assert (made.name, made.confirm, made.fn) == ("renamed", True, configured)
    assert build(configured, name="other").name == "other"
    plain = build(calc_strength)
    assert (plain.name, plain.confirm) == ("calc_strength", False)
    assert build(calc_strength, confirm=True).confirm


def test_decorator_rejects_what_cannot_be_a_tool_at_once() -> None:
    with pytest.raises(ToolDefinitionError, match=r"\*args"):

        @tool
        def spread(*args: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"cannot be a tool named 'bad name'.*choose"):
        tool(name="bad name")(calc_strength)
    with pytest.raises(ToolDefinitionError, match="tool named '<lambda>'"):
        tool(lambda x: x)
    assert tool(name="ident")(lambda x: x)(1) == 1


def test_async_detection() -> None:
    async def fetch(url: str) -> str:
        return url

    class Client:
        async def get(self, path: str) -> str:
            return path

        async def __call__(self, path: str) -> str:
            return path

    class SyncCallable:
        def __call__(self, path: str) -> str:
            return path

    assert build(fetch).is_async
    assert build(functools.partial(fetch, url="x"), name="fetch").is_async
    assert build(Client().get).is_async
    assert build(Client()).is_async
    assert not build(SyncCallable()).is_async
    assert not build(calc_strength).is_async
    kwargs = build(fetch).parse_arguments('{"url": "u"}')
    assert asyncio.run(fetch(**kwargs)) == "u"


# -- schema identity -----------------------------------------------------------------------------


def test_fingerprint_is_stable_and_notices_redefinition() -> None:
    def v1(a: int) -> None:
        """Doc."""

    def v2(a: str) -> None:
        """Doc."""

    v2.__name__ = "v1"
    first, again = build(v1).schema, build(v1).schema
    assert first.fingerprint() == again.fingerprint()
    assert len(first.fingerprint()) == 64
    assert build(v2).schema.fingerprint() != first.fingerprint()
    assert (
        first.fingerprint()
        == ToolSchema(
            name="v1", description="Doc.", parameters=first.parameters, strict=True, note="ignored"
        ).fingerprint()
    )


def test_importing_the_module_stays_cheap() -> None:
    code = (
        "import sys, assistant_magic.tools\n"
        "heavy = ['pydantic', 'pydantic_core', 'docstring_parser', 'pandas', 'numpy']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- results -------------------------------------------------------------------------------------


class Mood(enum.Enum):
    HAPPY = "happy"


class Reading(BaseModel):
    value: decimal.Decimal
    at: datetime.datetime


@dataclass
class Report:
    mood: Mood
    points: list[Point]
    day: datetime.date


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain text", "plain text"),
        ("", ""),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (42, "42"),
        (2.5, "2.5"),
        ({"a": [1, None, 2.5], "b": "x"}, '{"a":[1,null,2.5],"b":"x"}'),
        ([1, "two"], '[1,"two"]'),
        ((1, 2), "[1,2]"),
        ({3}, "[3]"),
        (Point(1, 2), '{"x":1,"y":2}'),
        (
            Report(Mood.HAPPY, [Point(0, 1)], datetime.date(2024, 1, 2)),
            '{"mood":"happy","points":[{"x":0,"y":1}],"day":"2024-01-02"}',
        ),
        (
            Reading(value=decimal.Decimal("1.50"), at=datetime.datetime(2024, 1, 2, 3, 4)),
            '{"value":"1.50","at":"2024-01-02T03:04:00"}',
        ),
        (Color.RED, "red"),
        (Priority.HIGH, "2"),
        (Mood.HAPPY, "happy"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (decimal.Decimal("3.10"), "3.10"),
        (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
        (pathlib.PurePosixPath("/tmp/data.csv"), "/tmp/data.csv"),
        (
            {"when": datetime.date(2024, 1, 2), "who": Opaque},
            '{"when":"2024-01-02","who":"' + str(Opaque) + '"}',
        ),
        (b"raw", "b'raw'"),
    ],
    ids=repr,
)
def test_result_text(value: Any, text: str) -> None:
    assert result_text(value) == text


def test_result_text_of_other_objects_is_their_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<Thing 7>"

    assert result_text(Thing()) == "<Thing 7>"
    assert result_text(Opaque).startswith("<class ")


def test_result_text_never_raises() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("repr exploded")

    assert result_text(Broken()) == "<unrepresentable Broken: repr exploded>"
    loop: list[Any] = []
    loop.append(loop)
    assert result_text(loop) == "[[...]]"


def test_str_subclasses_come_back_as_plain_str() -> None:
    class Shouty(str):
        def __str__(self) -> str:
            return "NOPE"

    text = result_text(Shouty("fine"))
    assert text == "fine" and type(text) is str


def test_truncation() -> None:
    assert result_text("x" * 100, limit=100) == "x" * 100
    assert (
        result_text("x" * 12_345, limit=100)
        == "x" * 100 + "\n… [truncated: 12,245 more characters]"
    )
    assert result_text(list(range(10_000)), limit=10).startswith("[0,1,2,3,4")
    assert result_text("x" * 30_000).endswith("[truncated: 10,000 more characters]")


def test_result_text_of_a_dataframe() -> None:
    pd = pytest.importorskip("pandas", reason="pandas is not installed (not a dependency)")
    frame = pd.DataFrame({"lift": ["squat", "bench"] * 30, "kg": range(60)})
    text = result_text(frame)
    lines = text.splitlines()
    assert lines[0] == "DataFrame with 60 rows and 2 columns"
    assert lines[1].split() == ["lift", "kg"]
    assert "..." in text and len(lines) < 30  # the middle rows are elided
    series = result_text(frame["kg"].head(3))
    assert series.splitlines()[0] == "Series 'kg': 3 values, dtype int64"


def test_result_text_of_numpy_values() -> None:
    np = pytest.importorskip("numpy", reason="numpy is not installed (not a dependency)")
    text = result_text(np.arange(6).reshape(2, 3))
    assert text.splitlines()[0] == "ndarray shape (2, 3), dtype int64"
    assert result_text(np.int64(3)) == "3"
    assert result_text({"a": np.arange(3), "n": np.float64(0.5)}) == '{"a":[0,1,2],"n":0.5}'
