"""Typed asks over HTTP, on every dialect: the schema as each wire sends it, the answer validated
into the type, tools first and the typed answer last, one repair, a second failure that keeps the
raw answer, and the fallback for a server that refuses JSON schemas."""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from assistant_magic import Assistant
from assistant_magic.errors import AnswerInvalid, AnswerRefused
from assistant_magic.testing import FunctionCall, HttpError, Refusal, ScriptedServer, Text

from conftest import API_KEY, EventLog, one_line

DIALECTS = ("responses", "chat", "assistants")


class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]


@dataclasses.dataclass
class Record:
    city: str
    year: int


class Point(TypedDict):
    x: float
    y: float


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


GOKU = {"name": "Goku", "power": 9001, "race": "saiyan"}
KINDS: list[tuple[Any, Any, Any]] = [
    (Fighter, GOKU, Fighter(**GOKU)),
    (Record, {"city": "Oslo", "year": 1990}, Record("Oslo", 1990)),
    (Point, {"x": 1.5, "y": 2.0}, {"x": 1.5, "y": 2.0}),
    (Colour, {"answer": "blue"}, Colour.BLUE),
    (Literal["yes", "no"], {"answer": "yes"}, "yes"),
    (int, {"answer": 42}, 42),
    (float, {"answer": 0.5}, 0.5),
    (bool, {"answer": False}, False),
    (str, {"answer": "Kakarot"}, "Kakarot"),
    (list[Fighter], {"answer": [GOKU, GOKU]}, [Fighter(**GOKU)] * 2),
    (dict[str, int], {"answer": {"Goku": 9001}}, {"Goku": 9001}),
]


def calc_strength(fighter: str) -> int:
    """The battle strength of a fighter.

    Args:
        fighter: The fighter's name.
    """
    return 9001 if fighter == "Goku" else 530_000


@pytest.fixture
def assistants(server: ScriptedServer, tmp_path: Path) -> Iterator[dict[str, Assistant]]:
    made: dict[str, Assistant] = {}

    def make(dialect: str) -> Assistant:
        made[dialect] = Assistant(
            store=tmp_path / f"{dialect}.sqlite3",
            base_url=server.base_url,
            dialect=dialect,
            model="gpt-5.4-mini",
            environ={"OPENAI_API_KEY": API_KEY},
        )
        return made[dialect]

    yield make  # type: ignore[misc]
    for assistant in made.values():
        assistant.close()


def model_requests(server: ScriptedServer, dialect: str) -> list[dict[str, Any]]:
    """The bodies of the requests that asked the model for a response, in order."""
    if dialect == "responses":
        return [r.body for r in server.requests_to("POST", "/responses")]
    if dialect == "chat":
        return [r.body for r in server.requests_to("POST", "/chat/completions")]
    return [
        r.body
        for r in server.requests
        if r.method == "POST" and r.path.endswith("/runs") and isinstance(r.body, dict)
    ]


def schema_sent(body: dict[str, Any], dialect: str) -> dict[str, Any] | None:
    """The JSON schema format a request carried, in the shape common to the dialects."""
    if dialect == "responses":
        found = (body.get("text") or {}).get("format")
        if found is None:
            return None
        return {key: found[key] for key in ("name", "schema", "strict")}
    found = body.get("response_format")
    return None if found is None else found["json_schema"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("kind", "answer", "value"), KINDS, ids=lambda k: getattr(k, "__name__", None)
)
def test_each_kind_of_type_is_asked_for_and_validated(
    assistants, server: ScriptedServer, dialect: str, kind: Any, answer: Any, value: Any
) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants(dialect)
    server.script(Text(json.dumps(answer)))
    reply = assistant.ask("Tell me.", schema=kind)
    assert reply.value == value
    assert json.loads(reply.raw) == answer  # the thread records the JSON
    expected = assistant.answer_type(kind).schema  # type: ignore[union-attr]
    [body] = model_requests(server, dialect)
    assert schema_sent(body, dialect) == {
        "name": expected.name,
        "schema": expected.schema,
        "strict": expected.strict,
    }
    assert assistant.threads.last_ask().answer_text == reply.raw  # type: ignore[union-attr]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_tools_first_then_the_typed_answer(
    assistants, server: ScriptedServer, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants(dialect)
    server.script(
        FunctionCall("calc_strength", {"fighter": "Goku"}),
        Text(json.dumps(GOKU)),
    )
    reply = assistant.ask("Who is Goku?", schema=Fighter, tools=[calc_strength])
    assert reply.value == Fighter(**GOKU)
    assert server.tool_outputs[0][1] == "9001"
    bodies = model_requests(server, dialect)
    assert len(bodies) == 2 if dialect != "assistants" else len(bodies) == 1  # one run, resumed
    assert all(schema_sent(body, dialect) is not None for body in bodies)
    assert bodies[0]["tools"][0]["function" if dialect != "responses" else "name"]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_invalid_answer_is_sent_back_once_with_what_was_wrong(
    assistants, server: ScriptedServer, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants(dialect)
    wrong = json.dumps({**GOKU, "power": "over 9000"})
    server.script(Text(wrong), Text(json.dumps(GOKU)))
    log = EventLog()
    reply = assistant.ask("Who is Goku?", schema=Fighter, view=log)  # type: ignore[arg-type]
    assert reply.value == Fighter(**GOKU)
    assert reply.raw == json.dumps(GOKU)  # the last answer alone, not both
    assert any(
        "did not match Fighter (power: Input should be a valid integer" in n for n in log.notices
    )
    bodies = model_requests(server, dialect)
    assert len(bodies) == 2
    repair = bodies[1]
    assert schema_sent(repair, dialect) is not None
    told = (
        "Your answer does not match the JSON schema Fighter:\n"
        "- power: Input should be a valid integer"
    )
    if dialect == "responses":
        [message] = repair["input"]
        assert message["role"] == "user" and message["content"].startswith(told)
    elif dialect == "chat":
        *_, invalid, request = repair["messages"]
        assert invalid == {"role": "assistant", "content": wrong}
        assert request["role"] == "user" and request["content"].startswith(told)
    else:
        posted = [
            r.body for r in server.requests if r.path.endswith("/messages") and r.method == "POST"
        ]
        assert posted[-1]["content"].startswith(told)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_invalid_twice_is_one_line_and_the_raw_answer_is_kept(
    assistants, server: ScriptedServer, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants(dialect)
    server.script(Text('{"name": "Goku"}'), Text('{"name": "Goku", "power": "lots"}'))
    with pytest.raises(AnswerInvalid) as caught:
        assistant.ask("Who is Goku?", schema=Fighter)
    error = caught.value
    assert one_line(error)
    assert str(error).startswith("The answer did not match Fighter after 2 tries: power:")
    assert str(error).endswith("The raw answer is kept on the thread.")
    assert error.answer.raw == '{"name": "Goku", "power": "lots"}'
    assert assistant.threads.last_ask().answer_text == error.answer.raw  # type: ignore[union-attr]
    # The thread goes on.
    server.script(Text(json.dumps(GOKU)))
    assert assistant.ask_typed("Again?", Fighter) == Fighter(**GOKU)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_refusal_is_one_line_quoting_it_and_is_not_sent_back(
    assistants, server: ScriptedServer, dialect: str
) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants(dialect)
    server.script(Refusal("I can't help with   that\nrequest."))
    with pytest.raises(AnswerRefused) as caught:
        assistant.ask("Who is Goku?", schema=Fighter)
    error = caught.value
    assert one_line(error)
    assert str(error).startswith(
        "The model refused to answer as Fighter: “I can't help with that request.”"
    )
    assert error.answer.raw == "I can't help with   that\nrequest."
    # A refusal is an answer, not a malformed one: no repair request is sent.
    assert len(model_requests(server, dialect)) == 1
    assert server.validation_errors == []
    # The thread goes on.
    server.script(Text(json.dumps(GOKU)))
    assert assistant.ask_typed("Then who is Vegeta's rival?", Fighter) == Fighter(**GOKU)


def test_no_retries_means_no_repair_request(assistants, server: ScriptedServer) -> None:  # type: ignore[no-untyped-def]
    assistant = assistants("responses")
    server.script(Text("{}"))
    with pytest.raises(AnswerInvalid, match="and was not sent back: name: Field required"):
        assistant.ask("Who?", schema=Fighter, retries=0)
    assert len(model_requests(server, "responses")) == 1


def test_a_server_that_refuses_json_schema_is_asked_for_a_json_object_from_then_on(
    assistants, server: ScriptedServer
) -> None:  # type: ignore[no-untyped-def]
    """As llama-cpp-python's server does: 422 on `json_schema`, which it does not know."""
    assistant = assistants("chat")
    refusal = HttpError(
        422,
        "Input should be 'text' or 'json_object' (response_format.type)",
        param="response_format",
    )
    server.script(refusal, Text(json.dumps(GOKU)), Text(json.dumps(GOKU)))
    log = EventLog()
    assert assistant.ask("Who?", schema=Fighter, view=log).value == Fighter(**GOKU)  # type: ignore[arg-type]
    assert any("does not take a JSON schema" in n for n in log.notices)
    assert assistant.ask("And again?", schema=Fighter).value == Fighter(**GOKU)
    first, fallback, remembered = model_requests(server, "chat")
    assert first["response_format"]["type"] == "json_schema"
    expected = assistant.answer_type(Fighter).schema  # type: ignore[union-attr]
    for body in (fallback, remembered):
        assert body["response_format"] == {"type": "json_object", "schema": expected.schema}
        system = body["messages"][0]
        assert system["role"] == "system"
        assert json.dumps(expected.schema) in system["content"]


def test_with_tools_the_fallback_leaves_the_grammar_out_until_tools_are_done(
    assistants, server: ScriptedServer
) -> None:  # type: ignore[no-untyped-def]
    """A grammar for the answer would keep a model from calling the tools it is offered."""
    assistant = assistants("chat")
    assistant.dialect(assistant.settings()).takes_json_schema = False  # type: ignore[attr-defined]
    server.script(Text('{"name": "Goku", "power": 1}'), Text(json.dumps(GOKU)))
    assert assistant.ask("Who?", schema=Fighter, tools=[calc_strength]).value == Fighter(**GOKU)
    first, repair = model_requests(server, "chat")
    assert (
        "response_format" not in first
        and "Answer with only a JSON object" in first["messages"][0]["content"]
    )
    assert repair["tool_choice"] == "none" and repair["response_format"]["type"] == "json_object"


# -- the magic ----------------------------------------------------------------------------------

FIGHTER_CELL = """
from typing import Literal
from pydantic import BaseModel

class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]
"""


def test_the_magic_stores_the_value_and_shows_it_as_fields(
    ip, server: ScriptedServer, capsys
) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    server.script(Text(json.dumps(GOKU)))
    result = ip.run_cell("%%ask --schema Fighter -o goku\nWho is Goku? Estimate his power level.")
    assert result.error_in_exec is None
    goku = ip.user_ns["goku"]
    assert type(goku).__name__ == "Fighter" and goku.power == 9001
    out = capsys.readouterr().out
    assert "- **name**: Goku\n- **power**: 9001\n- **race**: saiyan" in out


def test_the_magic_shows_records_as_a_table(ip, server: ScriptedServer, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    server.script(Text(json.dumps({"answer": [GOKU, {**GOKU, "name": "Vegeta", "power": 8000}]})))
    ip.run_cell('%%ask --schema "list[Fighter]" -o fighters\nList the saiyans.')
    assert [f.name for f in ip.user_ns["fighters"]] == ["Goku", "Vegeta"]
    out = capsys.readouterr().out
    assert (
        "| name | power | race |\n|---|---|---|\n| Goku | 9001 | saiyan |\n| Vegeta | 8000 |" in out
    )


def test_the_magic_keeps_the_raw_answer_in_the_variable_when_it_does_not_validate(
    ip, server: ScriptedServer, capsys
) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    server.script(Text('{"name": "Goku"}'), Text('{"name": "Goku", "power": "lots"}'))
    result = ip.run_cell("%%ask --schema Fighter -o goku\nWho is Goku?")
    error = result.error_in_exec
    assert isinstance(error, AnswerInvalid) and one_line(error)
    assert str(error).endswith("The raw answer is kept on the thread and in goku.raw.")
    assert ip.user_ns["goku"].raw == '{"name": "Goku", "power": "lots"}'


def test_the_magic_shows_a_refusal_as_one_line(ip, server: ScriptedServer) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    server.script(Refusal("I won't rate fighters."))
    result = ip.run_cell("%%ask --schema Fighter -o goku\nWho is Goku?")
    error = result.error_in_exec
    assert isinstance(error, AnswerRefused) and one_line(error)
    assert str(error).startswith("The model refused to answer as Fighter: “I won't rate fighters.”")


def test_a_bad_schema_is_one_line_and_nothing_is_sent(ip, server: ScriptedServer) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%%ask --schema Fightr -o goku\nWho is Goku?")
    error = result.error_in_exec
    assert one_line(error)
    assert "--schema 'Fightr': name 'Fightr' is not defined" in str(error)
    assert server.requests_to("POST", "/responses") == []


def test_dry_run_shows_the_schema_as_it_will_be_sent(ip, server: ScriptedServer, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    capsys.readouterr()
    ip.run_cell("%%ask --schema Fighter --dry-run\nWho is Goku?")
    out = capsys.readouterr().out
    sent = ip._assistant_magics.assistant.answer_type("Fighter").schema  # type: ignore[attr-defined]
    expected = {
        "format": {"type": "json_schema", "name": "Fighter", "schema": sent.schema, "strict": True}
    }
    assert json.dumps({"text": expected}, indent=2)[2:-2] in out
    assert "Answer: JSON of Fighter, validated (strict)." in out
    assert server.requests_to("POST", "/responses") == []
    ip.run_cell('%%ask --schema "dict[str, int]" --dry-run\nPowers?')
    assert "(not strict: free-form dict in field 'answer')" in capsys.readouterr().out


@pytest.mark.parametrize("api", ["chat", "assistants"])
def test_dry_run_shows_the_response_format_on_the_other_dialects(
    ip, server: ScriptedServer, capsys, api: str
) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(FIGHTER_CELL)
    ip.run_line_magic("config", f"AssistantMagics.api = {api!r}")
    capsys.readouterr()
    ip.run_cell("%%ask --schema Fighter --dry-run\nWho is Goku?")
    out = capsys.readouterr().out
    sent = ip._assistant_magics.assistant.answer_type("Fighter").schema  # type: ignore[attr-defined]
    expected = {
        "type": "json_schema",
        "json_schema": {"name": "Fighter", "schema": sent.schema, "strict": True},
    }
    assert json.dumps({"response_format": expected}, indent=2)[2:-2] in out
    assert [r for r in server.requests if r.method == "POST"] == []
