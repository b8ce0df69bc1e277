"""The OpenAPI checks the scripted server runs, on the vendored spec and on tiny documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from assistant_magic.testing import ScriptedServer, Text
from assistant_magic.testing.openapi import (
    SPEC_ENV_VAR,
    TrafficValidator,
    load_spec,
    resolve_spec_path,
)
from assistant_magic.testing.openapi_spec import OpenApiSpec
from assistant_magic.testing.responses.events import text_events
from assistant_magic.testing.responses.response import Turn, initial_resource
from assistant_magic.testing.state import ServerState

SPEC = Path(__file__).parent / "data" / "openai-openapi" / "openapi.json"


@pytest.fixture(scope="module")
def validator() -> TrafficValidator:
    return TrafficValidator(load_spec(SPEC))


def generated_events(reply: Text) -> list[dict[str, Any]]:
    """The events the server would stream for ``reply``, without any HTTP."""
    state = ServerState()
    body = {"model": "gpt-5.4-mini", "input": "hi"}
    turn = Turn(
        state,
        initial_resource(body, conversation_id=None),
        conversation=None,
        context_items=[],
        input_items=[],
    )
    turn.begin()
    return list(text_events(turn, reply, delay=0))


# -- outgoing events ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Text("Fine words."),
        Text("queued", queued=True),
        Text("cut", status="incomplete"),
        Text("a b c", fail_after=1),
    ],
    ids=["completed", "queued", "incomplete", "failed"],
)
def test_generated_events_match_the_spec(validator: TrafficValidator, reply: Text) -> None:
    events = generated_events(reply)

    assert events
    assert [problem for e in events for problem in validator.event_violations(e)] == []


def test_a_broken_delta_event_is_caught(validator: TrafficValidator) -> None:
    delta = next(e for e in generated_events(Text("hi")) if e["type"].endswith("text.delta"))
    del delta["logprobs"]
    delta["output_index"] = "0"

    problems = validator.event_violations(delta)

    assert len(problems) == 2
    assert all(p.startswith("stream event 'response.output_text.delta' #") for p in problems)
    assert any(
        "ResponseTextDeltaEvent at $: 'logprobs' is a required property" in p for p in problems
    )
    assert any(
        "ResponseTextDeltaEvent at $.output_index: '0' is not of type 'integer'" in p
        for p in problems
    )


def test_a_broken_response_inside_an_event_is_caught(validator: TrafficValidator) -> None:
    completed = generated_events(Text("hi"))[-1]
    del completed["response"]["tools"]
    completed["response"]["usage"]["input_tokens_details"] = {"cached_tokens": 0}
    completed["response"]["output"][0]["content"][0]["type"] = "output_txt"

    problems = validator.event_violations(completed)

    joined = "\n".join(problems)
    assert "ResponseCompletedEvent at $.response: 'tools' is a required property" in joined
    assert "$.response.usage.input_tokens_details: 'cache_write_tokens' is a required" in joined
    assert "$.response.output[0].content[0]: type 'output_txt' is not one of" in joined


def test_an_unknown_event_type_is_caught(validator: TrafficValidator) -> None:
    (problem,) = validator.event_violations({"type": "response.thinking", "sequence_number": 1})

    assert "ResponseStreamEvent at $: type 'response.thinking' is not one of" in problem


# -- requests and answers ----------------------------------------------------------------------


def test_overlapping_one_of_branches_are_accepted(validator: TrafficValidator) -> None:
    # A user message with a content list is both an EasyInputMessage and an InputMessage: strict
    # oneOf rejects what the real API accepts.
    body = {
        "model": "m",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}],
    }
    spec = load_spec(SPEC)
    strict = Draft202012Validator(
        {"$ref": "urn:openai-openapi#/components/schemas/CreateResponse"},
        registry=Registry().with_resource(
            "urn:openai-openapi", DRAFT202012.create_resource(spec.document)
        ),
    )

    assert not strict.is_valid(body)
    assert validator.request_violations("POST", "/responses", body) == []


def test_request_violations_name_the_place(validator: TrafficValidator) -> None:
    body = {"model": "m", "input": "hi", "temperature": "hot", "conversation": 3}

    problems = validator.request_violations("POST", "/responses", body)

    assert problems == [
        "POST /v1/responses request body: CreateResponse at $.conversation: "
        "3 is not of type object or string or null",
        "POST /v1/responses request body: CreateResponse at $.temperature: "
        "'hot' is not of type number or null",
    ]


def test_required_body_is_enforced(validator: TrafficValidator) -> None:
    assert validator.request_violations("POST", "/responses", None) == [
        "POST /v1/responses request body: a JSON body is required"
    ]
    assert validator.request_violations("POST", "/conversations", None) == []


def test_unknown_parameters_come_from_all_of_parts(validator: TrafficValidator) -> None:
    body = {
        "model": "m",
        "input": "x",
        "conversation": "c",
        "metadata": {},
        "temperature": 1,
        "bogus": 1,
        "stream_options": {},
    }

    assert validator.unknown_parameters("POST", "/responses", body) == ["bogus"]
    assert validator.unknown_parameters("POST", "/conversations/c1/items", {"itemz": []}) == [
        "itemz"
    ]
    assert validator.unknown_parameters("GET", "/models", None) == []


def test_answers_are_checked_against_the_200_schema_or_the_error_schema(
    validator: TrafficValidator,
) -> None:
    conversation = {"id": "conv_1", "object": "conversation", "created_at": 1, "metadata": {}}
    assert validator.answer_violations("GET", "/conversations/conv_1", 200, conversation) == []

    broken = {**conversation, "created_at": "yesterday"}
    (problem,) = validator.answer_violations("GET", "/conversations/conv_1", 200, broken)
    assert problem.startswith("GET /v1/conversations/conv_1 answer 200: ConversationResource at")

    error = {"error": {"message": "no", "type": "invalid_request_error", "param": None}}
    (problem,) = validator.answer_violations("GET", "/models/x", 404, error)
    assert "ErrorResponse at $.error: 'code' is a required property" in problem


def test_operations_prefer_literal_paths(validator: TrafficValidator) -> None:
    spec = validator.spec
    compact = spec.operation("POST", "/responses/compact")
    by_id = spec.operation("GET", "/responses/resp_123")

    assert compact is not None and compact.template == "/responses/compact"
    assert by_id is not None and by_id.template == "/responses/{response_id}"
    assert spec.operation("PUT", "/responses") is None
    assert spec.operation("GET", "/nowhere") is None


# -- spec handling -----------------------------------------------------------------------------


def tiny_document(schema: dict[str, Any]) -> dict[str, Any]:
    return {"openapi": "3.1.0", "paths": {}, "components": {"schemas": {"Thing": schema}}}


def test_nullable_true_is_understood() -> None:
    spec = OpenApiSpec(
        tiny_document(
            {
                "type": "object",
                "properties": {
                    "size": {"type": "string", "enum": ["s", "m"], "nullable": True},
                    "ref": {"$ref": "#/components/schemas/Thing", "nullable": True},
                },
            }
        )
    )

    assert spec.violations("#/components/schemas/Thing", {"size": None, "ref": None}) == []
    assert spec.violations("#/components/schemas/Thing", {"size": "m", "ref": {}}) == []
    (problem,) = spec.violations("#/components/schemas/Thing", {"size": "xl"})
    assert problem.startswith("Thing at $.size:")


def test_discriminator_narrows_to_the_tagged_branch() -> None:
    document = tiny_document(
        {
            "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
            "discriminator": {"propertyName": "type"},
        }
    )
    document["components"]["schemas"]["Cat"] = {
        "type": "object",
        "required": ["type", "lives"],
        "properties": {"type": {"type": "string", "enum": ["cat"]}, "lives": {"type": "integer"}},
    }
    document["components"]["schemas"]["Dog"] = {
        "allOf": [
            {
                "type": "object",
                "required": ["type"],
                "properties": {"type": {"type": "string", "enum": ["dog"]}},
            }
        ],
    }
    spec = OpenApiSpec(document)

    assert spec.violations("#/components/schemas/Thing", {"type": "dog"}) == []
    assert spec.violations("#/components/schemas/Thing", {"type": "cat"}) == [
        "Thing at $: 'lives' is a required property"
    ]
    assert spec.violations("#/components/schemas/Thing", {"type": "cow"}) == [
        "Thing at $: type 'cow' is not one of ['cat', 'dog']"
    ]


def test_the_spec_is_loaded_once_per_process() -> None:
    assert load_spec(SPEC) is load_spec(str(SPEC))


def test_spec_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SPEC_ENV_VAR, raising=False)
    assert resolve_spec_path(None) is None
    monkeypatch.setenv(SPEC_ENV_VAR, str(tmp_path / "env.json"))
    assert resolve_spec_path(None) == tmp_path / "env.json"
    assert resolve_spec_path(tmp_path / "explicit.json") == tmp_path / "explicit.json"


def test_validation_is_off_without_a_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    import openai

    monkeypatch.delenv(SPEC_ENV_VAR, raising=False)
    with ScriptedServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
        answer = client.responses.create(model="gpt-5.4", input="hi", extra_body={"bogus": 1})

    assert server.validator is None
    assert answer.output_text == "You said: hi"
    assert server.validation_errors == []
