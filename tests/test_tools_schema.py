"""FunctionTool: schemas from signatures, type hints and docstrings; schema identity."""

from __future__ import annotations

import datetime
import functools
import json
import subprocess
import sys
import types
from typing import Annotated, Any, Literal, Optional

import jsonschema
import pytest
from pydantic import Field, TypeAdapter

from assistant_magic.tools import FunctionTool, ToolDefinitionError, ToolSchema
from tool_definitions import (
    POINT_STRICT,
    Color,
    Draft,
    Movie,
    Opaque,
    Point,
    Priority,
    Shape,
    Tree,
    argument_error,
    build,
    calc_strength,
    one_parameter,
    strip_titles,
)

# -- one parameter of each supported type ----------------------------------------------------


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


# -- what a function may be ------------------------------------------------------------------


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


# -- schema identity, import cost ------------------------------------------------------------


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
        "heavy = ['pydantic', 'pydantic_core', 'docstring_parser', 'pandas', 'numpy', 'PIL',\n"
        "         'asyncio', 'nest_asyncio']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
