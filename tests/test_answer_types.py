"""`answer_types`: a type as the answer's schema (strict where it can be), `--schema`'s
expressions, and the model's text validated back into the type."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from typing_extensions import NotRequired, TypedDict

from assistant_magic.answer_display import markdown
from assistant_magic.answer_types import (
    AnswerCheck,
    AnswerType,
    InvalidJson,
    SchemaError,
    resolve,
)


class Fighter(BaseModel):
    """A fighter of Dragon Ball."""

    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]


@dataclasses.dataclass
class Record:
    city: str
    year: int = 2000


class Point(TypedDict):
    x: float
    y: float


class Loose(TypedDict):
    x: float
    label: NotRequired[str]


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


NAMESPACE: dict[str, Any] = {
    "Fighter": Fighter,
    "Record": Record,
    "Point": Point,
    "Loose": Loose,
    "Colour": Colour,
}
GOKU = '{"name": "Goku", "power": 9001, "race": "saiyan"}'


def test_a_model_is_the_schema_itself_strict_with_its_docstring() -> None:
    answer = resolve("Fighter", NAMESPACE)
    assert not answer.wrapped
    assert answer.schema.name == "Fighter" and answer.schema.strict
    assert answer.schema.schema == {
        "description": "A fighter of Dragon Ball.",
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "power": {"type": "integer"},
            "race": {"enum": ["human", "saiyan", "frieza-race", "other"], "type": "string"},
        },
        "required": ["name", "power", "race"],
        "additionalProperties": False,
    }
    assert answer.parse(GOKU) == Fighter(name="Goku", power=9001, race="saiyan")


@pytest.mark.parametrize(
    ("expression", "json", "value"),
    [
        ("int", '{"answer": 42}', 42),
        ("float", '{"answer": 2.5}', 2.5),
        ("bool", '{"answer": true}', True),
        ("str", '{"answer": "hi"}', "hi"),
        ("Colour", '{"answer": "blue"}', Colour.BLUE),
        ('Literal["yes", "no"]', '{"answer": "no"}', "no"),
        (
            "list[Fighter]",
            f'{{"answer": [{GOKU}]}}',
            [Fighter(name="Goku", power=9001, race="saiyan")],
        ),
        ("list[Record]", '{"answer": [{"city": "Oslo", "year": 1990}]}', [Record("Oslo", 1990)]),
        ("dict[str, int]", '{"answer": {"a": 1}}', {"a": 1}),
        ("Fighter | None", '{"answer": null}', None),
    ],
)
def test_other_types_are_wrapped_in_one_field_and_unwrapped(
    expression: str, json: str, value: object
) -> None:
    answer = resolve(expression, NAMESPACE)
    assert answer.wrapped
    root = answer.schema.schema
    assert root["type"] == "object" and root["required"] == ["answer"]
    assert root["additionalProperties"] is False
    assert answer.parse(json) == value


@pytest.mark.parametrize(
    ("expression", "strict", "note"),
    [
        ("Record", True, None),  # a default: required, the default in the description
        ("Point", True, None),
        ("list[Point]", True, None),
        ("dict[str, int]", False, "free-form dict in field 'answer'"),
        ("Loose", False, "optional key 'label' (TypedDict"),
    ],
)
def test_strict_when_the_type_allows_it_else_one_line_why(
    expression: str, strict: bool, note: str | None
) -> None:
    schema = resolve(expression, NAMESPACE).schema
    assert schema.strict is strict
    if note is None:
        assert schema.note is None
    else:
        assert schema.note is not None and note in schema.note and "\n" not in schema.note


def test_the_schema_name_is_one_the_api_takes() -> None:
    assert resolve("list[Fighter]", NAMESPACE).schema.name == "list_Fighter"
    assert resolve('Literal["a", "b"]', NAMESPACE).schema.name == "Literal_a_b"


def test_a_bare_value_or_a_fenced_answer_is_read_too() -> None:
    """Small local models, asked for a JSON object without a grammar, write these."""
    fighters = resolve("list[Fighter]", NAMESPACE)
    assert fighters.parse(f"[{GOKU}]")[0].name == "Goku"
    assert fighters.parse(f"```json\n[{GOKU}]\n```")[0].power == 9001
    assert resolve("Fighter", NAMESPACE).parse(f"```\n{GOKU}\n```").race == "saiyan"


def test_an_invalid_answer_says_which_field_in_one_line_and_lists_all_for_the_model() -> None:
    fighters = resolve("list[Fighter]", NAMESPACE)
    bad = '[{"name": "Goku", "power": "over 9000", "race": "saiyan"}, {"name": "Krillin"}]'
    with pytest.raises(InvalidJson) as caught:
        fighters.parse(bad)
    problem = caught.value
    assert problem.line.startswith("[0].power: Input should be a valid integer")
    assert '(got "over 9000")' in problem.line and "(and 2 more)" in problem.line
    assert "\n" not in problem.line
    assert "- [1].power: Field required" in problem.detail
    request = fighters.repair_request(problem)
    assert "does not match the JSON schema list_Fighter" in request
    assert problem.detail in request


def test_not_json_at_all() -> None:
    with pytest.raises(InvalidJson, match="the answer: Invalid JSON"):
        resolve("Fighter", NAMESPACE).parse("Goku is strong.")


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("Nobody", "name 'Nobody' is not defined; define or import the type"),
        ("make_type()", "no calls"),
        ("__import__('os')", "no calls"),
        ("list[", "not a type expression"),
        ("list[object]", "name 'object' is not defined"),
        ("3", "pydantic cannot describe it"),
    ],
)
def test_a_bad_schema_is_one_line_that_says_what_to_do(expression: str, says: str) -> None:
    with pytest.raises(SchemaError) as caught:
        resolve(expression, {"make_type": lambda: int})
    assert says in str(caught.value) and "\n" not in str(caught.value)


def test_typing_names_need_no_import() -> None:
    assert resolve("Optional[int]", {}).parse('{"answer": null}') is None
    assert resolve('Literal["a"]', {}).parse('{"answer": "a"}') == "a"


def test_the_check_repairs_once_then_gives_up_with_the_raw_text() -> None:
    check = AnswerCheck(AnswerType(Fighter), repairs=1)
    first = check.check('{"name": "Goku"}')
    assert first is not None and "power: Field required" in first
    assert check.check('{"name": "Goku", "power": "x"}') is None  # out of repairs
    assert not check.valid and check.raw == '{"name": "Goku", "power": "x"}'
    failure = check.failure()
    assert failure == (
        "The answer did not match Fighter after 2 tries: power: Input should be a valid integer, "
        'unable to parse string as an integer (got "x") (and 1 more).'
    )


def test_the_check_takes_a_valid_answer_and_a_refusal() -> None:
    check = AnswerCheck(AnswerType(Fighter))
    assert check.check(GOKU) is None and check.valid and check.failure() is None
    refused = AnswerCheck(AnswerType(Fighter))
    assert refused.check("", refusal="I can't help with that.") is None
    assert refused.raw == "I can't help with that."
    assert refused.failure() == "The model refused to answer as Fighter: “I can't help with that.”"


# -- how a value reads ---------------------------------------------------------------------------


def test_records_read_as_a_table() -> None:
    rows = [Fighter(name="Goku", power=9001, race="saiyan"), Record("Oslo | Norway", 1990)]
    assert markdown(rows) == (
        "| name | power | race | city | year |\n"
        "|---|---|---|---|---|\n"
        "| Goku | 9001 | saiyan |  |  |\n"
        "|  |  |  | Oslo \\| Norway | 1990 |"
    )


def test_one_object_reads_as_a_field_list_and_a_value_as_itself() -> None:
    assert markdown(Fighter(name="Goku", power=9001, race="saiyan")) == (
        "- **name**: Goku\n- **power**: 9001\n- **race**: saiyan"
    )
    assert markdown(Colour.RED) == "red"
    assert markdown(42) == "42"
    assert markdown(["a", "b"]) == "- a\n- b"
    assert markdown("The *answer*.") == "The *answer*."
    assert markdown({"a": [1, 2]}) == "- **a**: \\[1, 2\\]"
