"""The model's arguments: validated, and the error text the model reads when they are wrong."""

from __future__ import annotations

import datetime
import json

from tool_definitions import Color, Point, Shape, argument_error, build, calc_strength


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
