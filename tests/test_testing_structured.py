"""The scripted server answers typed-answer (Structured Outputs) requests as the real API does.

Refusals in every dialect, echo answers valid against the requested schema, and the strict-mode
rules for that schema, driven by the real openai SDK over loopback HTTP with all traffic validated
against OpenAI's OpenAPI description (the ``server`` fixture fails a test whose traffic broke it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import jsonschema
import openai
import pytest
from openai.types.beta.threads import RefusalContentBlock, RefusalDeltaBlock, TextContentBlock
from openai.types.responses import ResponseOutputMessage, ResponseOutputRefusal
from pydantic import BaseModel

from assistant_magic.testing import Refusal, ReplyContext, ScriptedServer, Text
from assistant_magic.testing.schema_instances import schema_instance

from conftest import API_KEY as KEY

# The SDK marks the whole Assistants API deprecated; these tests use it on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "gpt-5.4-mini"
SORRY = "I'm sorry, I can't help with that."


class Address(BaseModel):
    city: str
    zip_code: str | None


class Person(BaseModel):
    name: str
    age: int
    height: float
    retired: bool
    role: Literal["boss", "worker"]
    address: Address
    nicknames: list[str]
    manager: Person | None


class Tree(BaseModel):
    label: str
    children: list[Tree]


@pytest.fixture
def client(server: ScriptedServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=KEY)


def strict_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict schema the openai SDK sends for ``model`` (as ``parse`` does)."""
    from openai.lib._pydantic import to_strict_json_schema

    return to_strict_json_schema(model)


def chat_format(name: str, schema: dict[str, Any], strict: bool = True) -> Any:
    return {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema, "strict": strict},
    }


def text_format(name: str, schema: dict[str, Any], strict: bool = True) -> Any:
    return {"format": {"type": "json_schema", "name": name, "schema": schema, "strict": strict}}


# -- refusals -------------------------------------------------------------------------------------


def test_responses_refusal_streams_as_the_real_api(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(Refusal(SORRY))
    events = list(client.responses.create(model=MODEL, input="hi", stream=True))
    kinds = [event.type for event in events]
    deltas = kinds.count("response.refusal.delta")
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.refusal.delta"] * deltas,
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert deltas > 1
    pieces = [e.delta for e in events if e.type == "response.refusal.delta"]
    assert "".join(pieces) == SORRY
    final = events[-1].response  # type: ignore[union-attr]
    message = final.output[0]
    assert isinstance(message, ResponseOutputMessage)
    assert message.content == [ResponseOutputRefusal(type="refusal", refusal=SORRY)]
    assert final.output_text == ""


def test_responses_refusal_reaches_parse(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(Refusal(SORRY))
    parsed = client.responses.parse(model=MODEL, input="hi", text_format=Address)
    assert parsed.output_parsed is None
    message = parsed.output[0]
    assert isinstance(message, ResponseOutputMessage)
    assert [part.type for part in message.content] == ["refusal"]
    # The refusal stays in the conversation: a follow-up sees it.
    server.script(lambda context: Text(json.dumps(context.history[-1]["content"])))
    again = client.responses.create(model=MODEL, input="why?", previous_response_id=parsed.id)
    assert json.loads(again.output_text) == [{"type": "refusal", "refusal": SORRY}]


@pytest.mark.parametrize("stream", [True, False])
def test_chat_refusal(server: ScriptedServer, client: openai.OpenAI, stream: bool) -> None:
    server.script(Refusal(SORRY))
    messages: Any = [{"role": "user", "content": "hi"}]
    if not stream:
        completion = client.chat.completions.create(model=MODEL, messages=messages)
        assert completion.choices[0].message.refusal == SORRY
        assert completion.choices[0].message.content is None
        assert completion.choices[0].finish_reason == "stop"
        return
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, stream=True))
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    assert deltas[0].role == "assistant" and deltas[0].content is None
    assert "".join(delta.refusal or "" for delta in deltas) == SORRY
    assert all(not delta.content for delta in deltas)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_refusal_reaches_the_sdk_helpers(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(Refusal(SORRY), Refusal(SORRY))
    messages: Any = [{"role": "user", "content": "hi"}]
    parsed = client.chat.completions.parse(model=MODEL, messages=messages, response_format=Address)
    assert parsed.choices[0].message.refusal == SORRY
    assert parsed.choices[0].message.parsed is None
    with client.chat.completions.stream(
        model=MODEL, messages=messages, response_format=Address
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_completion()
    assert "refusal.delta" in kinds and "refusal.done" in kinds
    assert final.choices[0].message.refusal == SORRY


def _assistant_and_thread(client: openai.OpenAI, **run_format: Any) -> tuple[str, str]:
    assistant = client.beta.assistants.create(model=MODEL, **run_format)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "Oslo"}])
    return assistant.id, thread.id


def test_assistants_refusal_streamed(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(Refusal(SORRY))
    assistant_id, thread_id = _assistant_and_thread(client)
    events = list(
        client.beta.threads.runs.create(
            thread_id=thread_id,
            assistant_id=assistant_id,
            response_format=chat_format("Address", strict_schema(Address)),
            stream=True,
        )
    )
    pieces = []
    for streamed in events:
        if streamed.event == "thread.message.delta":
            block = (streamed.data.delta.content or [])[0]
            assert isinstance(block, RefusalDeltaBlock)
            pieces.append(block.refusal or "")
    assert "".join(pieces) == SORRY
    assert [e.event for e in events][-2:] == ["thread.run.step.completed", "thread.run.completed"]
    message = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    assert message.content == [RefusalContentBlock(type="refusal", refusal=SORRY)]


def test_assistants_refusal_polled(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(Refusal(SORRY))
    assistant_id, thread_id = _assistant_and_thread(client)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "completed"
    message = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    assert message.content == [RefusalContentBlock(type="refusal", refusal=SORRY)]


# -- echo answers ---------------------------------------------------------------------------------


def _valid(answer: str, schema: dict[str, Any]) -> Any:
    document = json.loads(answer)
    jsonschema.validate(document, schema)
    return document


@pytest.mark.parametrize("model", [Person, Tree, Address])
def test_echo_answers_valid_json_on_responses(
    server: ScriptedServer, client: openai.OpenAI, model: type[BaseModel]
) -> None:
    parsed = client.responses.parse(model=MODEL, input="Oslo", text_format=model)
    assert isinstance(parsed.output_parsed, model)  # the SDK validated it with pydantic
    _valid(parsed.output_text, strict_schema(model))


def test_echo_answers_valid_json_on_chat(server: ScriptedServer, client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": "Oslo"}]
    parsed = client.chat.completions.parse(model=MODEL, messages=messages, response_format=Person)
    person = parsed.choices[0].message.parsed
    assert isinstance(person, Person)
    assert person.name == "Oslo" and person.age == 0 and person.role == "boss"
    # llama-cpp-python's json_object with a schema is answered alike.
    schema = Tree.model_json_schema()
    extension: Any = {"type": "json_object", "schema": schema}  # not in the SDK's types
    fallback = client.chat.completions.create(
        model=MODEL, messages=messages, response_format=extension
    )
    _valid(fallback.choices[0].message.content or "", schema)


def test_echo_answers_valid_json_on_assistants(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    schema = strict_schema(Person)
    assistant_id, thread_id = _assistant_and_thread(
        client, response_format=chat_format("Person", schema)
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "completed"
    block = client.beta.threads.messages.list(thread_id=thread_id).data[0].content[0]
    assert isinstance(block, TextContentBlock)
    assert _valid(block.text.value, schema)["name"] == "Oslo"


def test_reply_factories_read_the_schema(server: ScriptedServer, client: openai.OpenAI) -> None:
    seen: list[tuple[str | None, dict[str, Any] | None]] = []

    def spy(context: ReplyContext) -> Text:
        seen.append((context.answer_format_name, context.answer_schema))
        return Text('{"city": "Oslo", "zip_code": null}')

    server.script(spy, spy)
    client.responses.parse(model=MODEL, input="hi", text_format=Address)
    client.responses.create(model=MODEL, input="hi")
    assert seen == [("Address", strict_schema(Address)), (None, None)]


def test_schema_instances_cover_the_keywords() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "when": {"type": "string", "format": "date-time"},
            "code": {"type": "string", "minLength": 5, "maxLength": 6},
            "count": {"type": "integer", "exclusiveMinimum": 2, "maximum": 9},
            "ratio": {"type": "number", "minimum": 0.5, "multipleOf": 0.25},
            "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"const": "x"}]},
            "many": {"type": "array", "items": {"type": "boolean"}, "minItems": 3},
            "any": {},
            "self": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
            "both": {"allOf": [{"properties": {"a": {"type": "integer"}}}, {"type": "object"}]},
        },
    }
    made = schema_instance(schema, text="hi")
    jsonschema.validate(made, schema)
    assert made["code"] == "hixxx" and made["count"] == 3 and made["many"] == [False] * 3


# -- the strict-mode rules ------------------------------------------------------------------------


NOT_AN_OBJECT = (
    "Invalid schema for response_format 'answer': schema must be a JSON Schema of "
    "'type: \"object\"', got 'type: \"array\"'."
)
NESTED: dict[str, Any] = {
    "type": "object",
    "properties": {
        "x": {
            "type": "object",
            "properties": {"y": {"type": "string"}, "z": {"type": "string"}},
            "required": ["z"],
            "additionalProperties": False,
        }
    },
    "required": ["x"],
    "additionalProperties": False,
}
MISSING_REQUIRED = (
    "Invalid schema for response_format 'answer': In context=('properties', 'x'), 'required' is "
    "required to be supplied and to be an array including every key in properties. Missing 'y'."
)
OPEN_OBJECT = (
    "Invalid schema for response_format 'answer': In context=(), 'additionalProperties' is "
    "required to be supplied and to be false."
)
SCHEMA_CASES = [
    ({"type": "array", "items": {"type": "string"}}, NOT_AN_OBJECT),
    (NESTED, MISSING_REQUIRED),
    ({k: v for k, v in NESTED.items() if k != "additionalProperties"}, OPEN_OBJECT),
]


def _ask(client: openai.OpenAI, dialect: str, name: str, schema: dict[str, Any]) -> None:
    if dialect == "responses":
        client.responses.create(model=MODEL, input="hi", text=text_format(name, schema))
    elif dialect == "chat":
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "hi"}],
            response_format=chat_format(name, schema),
        )
    else:
        assistant_id, thread_id = _assistant_and_thread(client)
        client.beta.threads.runs.create(
            thread_id=thread_id,
            assistant_id=assistant_id,
            response_format=chat_format(name, schema),
        )


def _rejected(call: Callable[[], object]) -> openai.BadRequestError:
    with pytest.raises(openai.BadRequestError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize("dialect", ["responses", "chat", "assistants"])
@pytest.mark.parametrize(("schema", "message"), SCHEMA_CASES)
def test_strict_schemas_follow_the_rules(
    server: ScriptedServer, client: openai.OpenAI, dialect: str, schema: Any, message: str
) -> None:
    error = _rejected(lambda: _ask(client, dialect, "answer", schema))
    assert isinstance(error.body, dict) and error.body["message"] == message
    assert error.body["type"] == "invalid_request_error"
    if dialect == "responses":
        assert (error.param, error.code) == ("text.format.schema", "invalid_json_schema")
    else:
        assert (error.param, error.code) == ("response_format", None)
    assert len(server.requests) == len(server.rejections) + (2 if dialect == "assistants" else 0)


def test_non_strict_schemas_are_taken_as_they_are(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    loose = {"type": "object", "properties": {"city": {"type": "string"}}}
    answer = client.responses.create(
        model=MODEL, input="Oslo", text=text_format("loose", loose, strict=False)
    )
    assert json.loads(answer.output_text) == {"city": "Oslo"}


@pytest.mark.parametrize(
    ("name", "words", "code"),
    [
        (
            "has space",
            "string does not match pattern. Expected a string that matches",
            "invalid_value",
        ),
        (
            "n" * 65,
            "string too long. Expected a string with maximum length 64",
            "string_above_max_length",
        ),
    ],
)
@pytest.mark.parametrize("dialect", ["responses", "chat", "assistants"])
def test_format_names_follow_the_pattern(
    server: ScriptedServer, client: openai.OpenAI, dialect: str, name: str, words: str, code: str
) -> None:
    error = _rejected(lambda: _ask(client, dialect, name, strict_schema(Address)))
    param = "text.format.name" if dialect == "responses" else "response_format.json_schema.name"
    assert isinstance(error.body, dict)
    assert error.body["message"].startswith(f"Invalid '{param}': {words}")
    assert (error.param, error.code) == (param, code)


def test_assistants_check_their_own_format(server: ScriptedServer, client: openai.OpenAI) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    error = _rejected(
        lambda: client.beta.assistants.create(
            model=MODEL, response_format=chat_format("answer", schema)
        )
    )
    assert isinstance(error.body, dict) and error.body["message"] == OPEN_OBJECT
