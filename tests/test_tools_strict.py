"""Strict mode: which schemas can be strict, how pydantic's are rewritten, defaults, notes."""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import pytest
from pydantic import Field, TypeAdapter

from tool_definitions import (
    POINT_STRICT,
    Draft,
    Movie,
    Point,
    Review,
    Segment,
    Shape,
    Unit,
    build,
    calc_strength,
    one_parameter,
    strip_titles,
)


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


# -- defaults --------------------------------------------------------------------------------


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


# -- strict or not ---------------------------------------------------------------------------


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


def test_property_called_title_is_kept() -> None:
    made = one_parameter(Movie)
    assert "title" in made.schema.parameters["$defs"]["Movie"]["properties"]
