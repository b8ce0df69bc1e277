"""The scripted server, driven over loopback HTTP by the real openai SDK."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import openai
import pytest
from openai.types.conversations import Message
from openai.types.responses import ResponseInputText, ResponseOutputMessage, ResponseOutputText

from assistant_magic.testing import HttpError, ReplyContext, ScriptedServer, Text

from conftest import API_KEY as KEY
from conftest import SPEC

MODEL = "gpt-5.4-mini"

TEXT_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def message(item: object) -> Message:
    """A conversation item that must be a message (narrowed for the type checker too)."""
    assert isinstance(item, Message), item
    return item


def text_of(item: object) -> str:
    part = message(item).content[0]
    assert isinstance(part, (ResponseInputText, ResponseOutputText)), part
    return part.text


def output_message(item: object) -> ResponseOutputMessage:
    assert isinstance(item, ResponseOutputMessage), item
    return item


def raw_request(
    server: ScriptedServer, method: str, path: str, body: Any = None, *, key: str = KEY
) -> tuple[int, dict[str, Any]]:
    """A request that bypasses the SDK, for bodies the SDK would never send."""
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        server.base_url.removesuffix("/v1") + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# -- streaming text ---------------------------------------------------------------------------


def test_streamed_text_parses_into_typed_events(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("Hello there, friend.", chunks=["Hello", " there,", " friend."]))

    events = list(client.responses.create(model=MODEL, input="hi", stream=True))

    assert [e.type for e in events] == TEXT_SEQUENCE
    assert [e.sequence_number for e in events] == list(range(len(events)))
    created, completed = events[0], events[-1]
    assert isinstance(created, openai.types.responses.ResponseCreatedEvent)
    assert created.response.status == "in_progress" and created.response.output == []
    deltas = [e for e in events if isinstance(e, openai.types.responses.ResponseTextDeltaEvent)]
    assert [d.delta for d in deltas] == ["Hello", " there,", " friend."]
    added = events[2]
    assert isinstance(added, openai.types.responses.ResponseOutputItemAddedEvent)
    added_item = output_message(added.item)
    assert added_item.id.startswith("msg_") and added_item.status == "in_progress"
    assert {d.item_id for d in deltas} == {added.item.id}
    assert isinstance(completed, openai.types.responses.ResponseCompletedEvent)
    response = completed.response
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "Hello there, friend."
    assert response.completed_at is not None
    assert response.usage is not None and response.usage.output_tokens == 3
    assert response.usage.total_tokens == response.usage.input_tokens + 3
    assert unchecked_server.validation_errors == []


def test_sse_wire_format(unchecked_server: ScriptedServer) -> None:
    request = urllib.request.Request(
        unchecked_server.base_url + "/responses",
        data=json.dumps({"model": MODEL, "input": "hi", "stream": True}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        assert answer.headers["Transfer-Encoding"] == "chunked"
        raw = answer.read().decode()

    frames = [frame for frame in raw.split("\n\n") if frame]
    first_line, data_line = frames[0].split("\n")
    assert first_line == "event: response.created"
    assert json.loads(data_line.removeprefix("data: "))["type"] == "response.created"
    assert frames[-1].startswith("event: response.completed")
    assert "[DONE]" not in raw
    assert unchecked_server.validation_errors == []


def test_default_reply_echoes_last_user_text(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    response = client.responses.create(
        model=MODEL,
        input=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "input_text", "text": "second question"}]},
        ],
        stream=True,
    )
    deltas = [e.delta for e in response if e.type == "response.output_text.delta"]

    assert "".join(deltas) == "You said: second question"
    assert len(deltas) == 4  # streamed word by word
    assert unchecked_server.validation_errors == []


def test_stream_helper_gives_final_response(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("Streamed through the helper."))

    with client.responses.stream(model=MODEL, input="go", instructions="Be brief.") as stream:
        texts = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()

    assert "".join(texts) == "Streamed through the helper."
    assert final.output_text == "Streamed through the helper."
    assert final.instructions == "Be brief."
    assert unchecked_server.validation_errors == []


def test_non_streaming_create_returns_whole_response(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("All at once.", usage={"input_tokens": 50, "output_tokens": 3}))

    response = client.responses.create(model="gpt-5.4", input="hi", metadata={"cell": "7"})

    assert response.status == "completed"
    assert response.output_text == "All at once."
    assert response.model == "gpt-5.4"
    assert response.metadata == {"cell": "7"}
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.total_tokens) == (50, 53)
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert client.responses.retrieve(response.id).output_text == "All at once."
    assert unchecked_server.validation_errors == []


def test_reply_factory_sees_the_request(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    seen: list[ReplyContext] = []

    def shout(context: ReplyContext) -> Text:
        seen.append(context)
        return Text((context.last_user_text or "").upper())

    unchecked_server.script(shout)
    response = client.responses.create(model=MODEL, input="quiet please")

    assert response.output_text == "QUIET PLEASE"
    assert seen[0].body["model"] == MODEL
    assert unchecked_server.validation_errors == []


# -- conversations -----------------------------------------------------------------------------


def test_conversation_lifecycle(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    conversation = client.conversations.create(
        metadata={"notebook": "demo"}, items=[{"role": "user", "content": "seeded"}]
    )
    assert conversation.id.startswith("conv_") and conversation.object == "conversation"

    assert client.conversations.retrieve(conversation.id).metadata == {"notebook": "demo"}
    updated = client.conversations.update(conversation.id, metadata={"notebook": "renamed"})
    assert updated.metadata == {"notebook": "renamed"}

    deleted = client.conversations.delete(conversation.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (
        conversation.id,
        True,
        "conversation.deleted",
    )
    with pytest.raises(openai.NotFoundError):
        client.conversations.retrieve(conversation.id)
    assert unchecked_server.validation_errors == []


def test_conversation_items_crud(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    conversation = client.conversations.create()
    assert list(client.conversations.items.list(conversation.id)) == []

    added = client.conversations.items.create(
        conversation.id,
        items=[
            {"type": "message", "role": "user", "content": "one"},
            {"type": "message", "role": "assistant", "content": "two"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "3"}]},
        ],
    )
    ids = [message(item).id for item in added.data]
    assert added.first_id == ids[0] and added.last_id == ids[-1] and not added.has_more

    ascending = client.conversations.items.list(conversation.id, order="asc")
    assert [item.id for item in ascending] == ids
    newest = client.conversations.items.list(conversation.id, limit=2)  # default order: desc
    assert [item.id for item in newest.data] == ids[::-1][:2] and newest.has_more
    rest = client.conversations.items.list(conversation.id, limit=2, after=ids[1])
    assert [item.id for item in rest.data] == ids[:1] and not rest.has_more

    item = message(client.conversations.items.retrieve(ids[1], conversation_id=conversation.id))
    assert item.role == "assistant" and item.content[0].type == "output_text"
    after_delete = client.conversations.items.delete(ids[1], conversation_id=conversation.id)
    assert after_delete.id == conversation.id  # the API answers with the conversation
    remaining = client.conversations.items.list(conversation.id, order="asc")
    assert [i.id for i in remaining] == [ids[0], ids[2]]
    with pytest.raises(openai.NotFoundError):
        client.conversations.items.retrieve(ids[1], conversation_id=conversation.id)
    assert unchecked_server.validation_errors == []


def test_response_on_conversation_appends_input_and_answer(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    unchecked_server.script(Text("First answer."), Text("Second answer."))

    first = client.responses.create(model=MODEL, input="question one", conversation=conversation.id)
    stream = client.responses.create(
        model=MODEL, input="question two", conversation={"id": conversation.id}, stream=True
    )
    final = next(e for e in stream if e.type == "response.completed").response

    assert first.conversation is not None and first.conversation.id == conversation.id
    assert final.conversation is not None and final.conversation.id == conversation.id
    items = [message(i) for i in client.conversations.items.list(conversation.id, order="asc")]
    assert [(i.role, i.content[0].type, text_of(i)) for i in items] == [
        ("user", "input_text", "question one"),
        ("assistant", "output_text", "First answer."),
        ("user", "input_text", "question two"),
        ("assistant", "output_text", "Second answer."),
    ]
    assert all(i.status == "completed" and i.id.startswith("msg_") for i in items)
    assert items[1].id == output_message(first.output[0]).id
    assert unchecked_server.validation_errors == []


def test_previous_response_id_carries_the_transcript(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    first = client.responses.create(model=MODEL, input="remember me")
    unchecked_server.script(lambda context: Text(f"{len(context.history)} items before"))

    second = client.responses.create(model=MODEL, input="and?", previous_response_id=first.id)

    assert second.output_text == "2 items before"
    assert second.previous_response_id == first.id
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=MODEL, input="x", previous_response_id="resp_nope")
    assert unchecked_server.validation_errors == []


def test_pending_function_call_blocks_next_response(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    client.conversations.items.create(
        conversation.id,
        items=[{"type": "function_call", "call_id": "call_42", "name": "now", "arguments": "{}"}],
    )

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(model=MODEL, input="hi", conversation=conversation.id)
    assert rejected.value.message.endswith("No tool output found for function call call_42.")

    client.conversations.items.create(
        conversation.id,
        items=[{"type": "function_call_output", "call_id": "call_42", "output": "12:00"}],
    )
    accepted = client.responses.create(model=MODEL, input="so?", conversation=conversation.id)
    assert accepted.output_text == "You said: so?"
    kinds = [i.type for i in client.conversations.items.list(conversation.id, order="asc")]
    assert kinds == ["function_call", "function_call_output", "message", "message"]
    assert unchecked_server.validation_errors == []


def test_function_call_output_in_the_same_request_satisfies_the_rule(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create(
        items=[{"type": "function_call", "call_id": "call_7", "name": "f", "arguments": "{}"}]
    )

    response = client.responses.create(
        model=MODEL,
        conversation=conversation.id,
        input=[{"type": "function_call_output", "call_id": "call_7", "output": "42"}],
    )

    assert response.status == "completed"
    assert unchecked_server.validation_errors == []


# -- errors and retries ------------------------------------------------------------------------


def test_wrong_api_key_is_rejected_like_the_real_api(unchecked_server: ScriptedServer) -> None:
    wrong = openai.OpenAI(
        base_url=unchecked_server.base_url, api_key="sk-abcdefghijklmnopqrstuvwxyz"
    )

    with pytest.raises(openai.AuthenticationError) as rejected:
        wrong.responses.create(model=MODEL, input="hi")

    body = rejected.value.body
    assert isinstance(body, dict) and body["code"] == "invalid_api_key"
    assert body["message"].startswith("Incorrect API key provided: sk-ab***")
    assert "fghijklmnopqrstuvwx" not in body["message"]
    assert len(unchecked_server.requests) == 1  # 401 is not retried
    assert unchecked_server.validation_errors == []


def test_missing_api_key_is_rejected(unchecked_server: ScriptedServer) -> None:
    request = urllib.request.Request(unchecked_server.base_url + "/models")
    with pytest.raises(urllib.error.HTTPError) as rejected:
        urllib.request.urlopen(request, timeout=5)
    assert rejected.value.code == 401
    assert "didn't provide an API key" in json.loads(rejected.value.read())["error"]["message"]


def test_unknown_model_is_404(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as rejected:
        client.responses.create(model="gpt-nope", input="hi")

    assert rejected.value.code == "model_not_found"
    assert "The model `gpt-nope` does not exist" in rejected.value.message
    assert unchecked_server.validation_errors == []


def test_any_model_when_models_is_none() -> None:
    with ScriptedServer(api_key=None, models=None, openapi=SPEC) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="whatever")
        assert client.responses.create(model="my-local-model", input="hi").status == "completed"
        assert client.models.retrieve("my-local-model").id == "my-local-model"
        assert server.validation_errors == []


def test_unknown_conversation_is_404(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.NotFoundError) as rejected:
        client.responses.create(model=MODEL, input="hi", conversation="conv_missing")

    assert rejected.value.body == {
        "message": "Conversation with id 'conv_missing' not found.",
        "type": "invalid_request_error",
        "param": "conversation",
        "code": None,
    }
    assert unchecked_server.validation_errors == []


def test_rate_limit_retry_after_is_honoured(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    # 0.6 s is longer than the SDK's own first backoff (at most 0.5 s): only the header explains it.
    unchecked_server.script(HttpError(429, retry_after=0.6), Text("ok"))

    response = client.responses.create(model=MODEL, input="hi")

    assert response.output_text == "ok"
    first, second = unchecked_server.requests_to("POST", "/v1/responses")
    assert second.received_at - first.received_at >= 0.6
    assert unchecked_server.validation_errors == []


def test_server_error_then_success(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    unchecked_server.script(HttpError(500, retry_after_ms=20), Text("recovered"))

    assert client.responses.create(model=MODEL, input="hi").output_text == "recovered"
    assert len(unchecked_server.requests_to("POST", "/responses")) == 2
    assert unchecked_server.unused_replies == []
    assert unchecked_server.validation_errors == []


def test_errors_surface_when_retries_run_out(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY, max_retries=0)
    unchecked_server.script(HttpError(503))

    with pytest.raises(openai.InternalServerError) as failed:
        client.responses.create(model=MODEL, input="hi")

    assert failed.value.status_code == 503
    assert "overloaded" in failed.value.message
    assert unchecked_server.validation_errors == []


def test_unknown_route_is_openai_style_404(unchecked_server: ScriptedServer) -> None:
    status, body = raw_request(unchecked_server, "GET", "/v1/nothing/here")

    assert status == 404
    assert body["error"]["message"] == "Invalid URL (GET /v1/nothing/here)"
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_unparsable_json_is_400(unchecked_server: ScriptedServer) -> None:
    status, body = raw_request(unchecked_server, "POST", "/v1/responses", b"{not json")

    assert status == 400
    assert "could not parse the JSON body" in body["error"]["message"]


# -- stream endings ----------------------------------------------------------------------------


def test_queued_stream(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    unchecked_server.script(Text("Eventually.", queued=True))

    events = list(client.responses.create(model=MODEL, input="hi", stream=True))

    assert [e.type for e in events[:3]] == [
        "response.created",
        "response.queued",
        "response.in_progress",
    ]
    assert events[0].response.status == "queued"  # type: ignore[union-attr]
    assert events[1].response.status == "queued"  # type: ignore[union-attr]
    assert events[2].response.status == "in_progress"  # type: ignore[union-attr]
    assert events[-1].type == "response.completed"
    assert unchecked_server.validation_errors == []


def test_incomplete_stream(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    unchecked_server.script(Text("Cut short", status="incomplete"))

    events = list(client.responses.create(model=MODEL, input="hi", stream=True))

    last = events[-1]
    assert isinstance(last, openai.types.responses.ResponseIncompleteEvent)
    assert last.response.status == "incomplete"
    assert last.response.incomplete_details is not None
    assert last.response.incomplete_details.reason == "max_output_tokens"
    assert output_message(last.response.output[0]).status == "incomplete"
    assert last.response.output_text == "Cut short"
    assert unchecked_server.validation_errors == []


def test_failed_stream(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    unchecked_server.script(Text("one two three four", fail_after=2, fail_message="boom"))

    events = list(client.responses.create(model=MODEL, input="hi", stream=True))

    assert [e.type for e in events].count("response.output_text.delta") == 2
    last = events[-1]
    assert isinstance(last, openai.types.responses.ResponseFailedEvent)
    assert last.response.status == "failed"
    assert last.response.error is not None
    assert (last.response.error.code, last.response.error.message) == ("server_error", "boom")
    assert unchecked_server.response(last.response.id)["status"] == "failed"
    assert unchecked_server.validation_errors == []


def test_client_disconnect_mid_stream(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    long_text = " ".join(f"w{i}" for i in range(200))
    unchecked_server.script(Text(long_text, chunk_delay=0.01))

    stream = client.responses.create(
        model=MODEL, input="talk", conversation=conversation.id, stream=True
    )
    response_id = ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta" and event.delta == " w2":
            break
    stream.close()

    assert unchecked_server.wait_for_disconnect() == response_id
    assert unchecked_server.wait_for_status(response_id, "cancelled") == "cancelled"
    page = client.conversations.items.list(conversation.id, order="asc")
    items = [message(i) for i in page]
    assert [(i.role, i.status) for i in items] == [
        ("user", "completed"),
        ("assistant", "incomplete"),
    ]
    partial = text_of(items[1])
    assert partial.startswith("w0 w1 w2") and len(partial) < len(long_text)
    assert unchecked_server.validation_errors == []


# -- background and cancel ---------------------------------------------------------------------


def test_background_response_can_be_cancelled(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text(" ".join(["slow"] * 100), chunk_delay=0.02))

    started = client.responses.create(model=MODEL, input="hi", background=True)
    assert started.status == "queued" and started.background is True
    unchecked_server.wait_for_status(started.id, "in_progress")

    cancelled = client.responses.cancel(started.id)

    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(started.id).status == "cancelled"
    assert unchecked_server.validation_errors == []


def test_cancelling_a_background_stream_ends_it(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text(" ".join(["tick"] * 200), chunk_delay=0.01))
    stream = client.responses.create(model=MODEL, input="hi", background=True, stream=True)

    kinds: list[str] = []
    response_id = ""
    for event in stream:
        kinds.append(event.type)
        if event.type == "response.created":
            response_id = event.response.id
        if kinds.count("response.output_text.delta") == 3:
            assert client.responses.cancel(response_id).status == "cancelled"

    assert kinds[:3] == ["response.created", "response.queued", "response.in_progress"]
    assert kinds[-1] == "response.output_text.delta"  # no terminal event: the stream just ends
    assert kinds.count("response.output_text.delta") < 200
    assert unchecked_server.response(response_id)["status"] == "cancelled"
    assert unchecked_server.validation_errors == []


def test_background_stream_outlives_its_client(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text(" ".join(["tock"] * 60), chunk_delay=0.005))
    stream = client.responses.create(model=MODEL, input="hi", background=True, stream=True)
    response_id = ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            break
    stream.close()

    assert unchecked_server.wait_for_disconnect() == response_id
    assert unchecked_server.wait_for_status(response_id, "completed", "cancelled") == "completed"
    assert client.responses.retrieve(response_id).output_text == " ".join(["tock"] * 60)
    assert unchecked_server.validation_errors == []


def test_background_response_completes_and_can_be_polled(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("done in the background"))

    started = client.responses.create(model=MODEL, input="hi", background=True)
    unchecked_server.wait_for_status(started.id, "completed")

    assert client.responses.retrieve(started.id).output_text == "done in the background"
    with pytest.raises(openai.BadRequestError):
        client.responses.cancel(started.id)
    assert unchecked_server.validation_errors == []


def test_cancel_needs_background(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="hi")

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.cancel(response.id)

    assert rejected.value.message.endswith(
        "Only responses created with background=true can be cancelled."
    )
    assert unchecked_server.validation_errors == []


def test_delete_response(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    response = client.responses.create(model=MODEL, input="hi")

    client.responses.delete(response.id)

    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    assert unchecked_server.validation_errors == []


# -- models, records ---------------------------------------------------------------------------


def test_models(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    assert sorted(m.id for m in client.models.list()) == ["gpt-5.4", "gpt-5.4-mini"]
    assert client.models.retrieve("gpt-5.4").owned_by == "system"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-0")
    assert unchecked_server.validation_errors == []


def test_requests_are_recorded(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    client.responses.create(model=MODEL, input="hi", extra_query={"trace": "1"})

    (recorded,) = unchecked_server.requests
    assert (recorded.method, recorded.path) == ("POST", "/v1/responses")
    assert recorded.query == {"trace": "1"}
    assert recorded.headers["authorization"] == f"Bearer {KEY}"
    assert recorded.body == {"model": MODEL, "input": "hi"}

    unchecked_server.script(Text("unused"))
    unchecked_server.reset()
    assert unchecked_server.requests == [] and unchecked_server.unused_replies == []


def test_script_rejects_unknown_reply_types(unchecked_server: ScriptedServer) -> None:
    with pytest.raises(TypeError):
        unchecked_server.script("just a string")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Text("abc", chunks=["a", "b"])


# -- validation of requests --------------------------------------------------------------------


def test_request_violating_the_schema_is_rejected_and_recorded(
    unchecked_server: ScriptedServer,
) -> None:
    status, body = raw_request(
        unchecked_server, "POST", "/v1/responses", {"model": MODEL, "input": 42}
    )

    assert status == 400
    assert body["error"]["message"].startswith("[scripted server] POST /v1/responses request body")
    (problem,) = unchecked_server.validation_errors
    assert "CreateResponse at $.input" in problem


def test_unknown_top_level_parameter_is_rejected(unchecked_server: ScriptedServer) -> None:
    status, body = raw_request(
        unchecked_server,
        "POST",
        "/v1/responses",
        {"model": MODEL, "input": "hi", "temprature": 0.2},
    )

    assert status == 400
    assert body["error"]["message"] == "Unrecognized request argument supplied: temprature"
    assert unchecked_server.validation_errors == [
        "POST /v1/responses request body: unknown parameter 'temprature'"
    ]
    assert unchecked_server.requests_to("POST", "/v1/responses")[0].body["temprature"] == 0.2


def test_bad_item_inside_conversation_items_request(unchecked_server: ScriptedServer) -> None:
    conversation_id = raw_request(unchecked_server, "POST", "/v1/conversations", {})[1]["id"]

    status, body = raw_request(
        unchecked_server,
        "POST",
        f"/v1/conversations/{conversation_id}/items",
        {"items": [{"type": "message", "role": "user", "content": [{"type": "input_txt"}]}]},
    )

    assert status == 400
    assert "$.items[0].content[0]" in body["error"]["message"]


# -- pytest plugin and CLI ---------------------------------------------------------------------


pytest_plugins = ["pytester"]


def test_plugin_fixture_points_the_sdk_at_the_server(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import openai
        from assistant_magic.testing import Text

        def test_offline(openai_server):
            openai_server.script(Text("Paris."))
            answer = openai.OpenAI().responses.create(model="gpt-5.4-mini", input="Capital?")
            assert answer.output_text == "Paris."

        def test_bad_traffic_fails_the_test(openai_server):
            import urllib.request, os
            request = urllib.request.Request(
                os.environ["OPENAI_BASE_URL"] + "/conversations",
                data=b'{"metadata": 5}',
                headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
            )
            try:
                urllib.request.urlopen(request)
            except Exception:
                pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--openai-spec={SPEC}")

    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["*breaks the OpenAPI spec*", "*CreateConversationBody at $.metadata*"]
    )


def test_cli_serves_echo_replies(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant_magic.testing",
            "--chunk-delay",
            "0",
            "--api-key",
            "sk-cli",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "ASSISTANT_MAGIC_OPENAPI": str(SPEC)},
    )
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        base_url = first_line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        assert f"export OPENAI_BASE_URL={base_url}" in process.stdout.readline() + (
            process.stdout.readline()
        )
        client = openai.OpenAI(base_url=base_url, api_key="sk-cli")
        answer = client.responses.create(model="any-model", input="demo time")
        assert answer.output_text == "You said: demo time"
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "Stopped." in output and "validation:" not in output


def test_stop_is_prompt_with_idle_keep_alive_connections() -> None:
    server = ScriptedServer(openapi=SPEC).start()
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
    client.models.list()  # leaves a pooled keep-alive connection open

    started = time.monotonic()
    server.stop()

    assert time.monotonic() - started < 1.0
    client.close()


def test_latency_delays_each_request_and_requests_still_overlap() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ScriptedServer(api_key=KEY, latency=0.25) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)

        def ask(n: int) -> float:
            started = time.monotonic()
            client.responses.create(model=MODEL, input=f"row {n}")
            return time.monotonic() - started

        with ThreadPoolExecutor(8) as pool:
            started = time.monotonic()
            took = list(pool.map(ask, range(8)))
            overall = time.monotonic() - started
        assert min(took) >= 0.25, "each request waits its latency"
        assert overall < 8 * 0.25 * 0.75, "eight requests one after the other would take 2 s"
        server.latency = 0
        assert ask(9) < 0.25
        with pytest.raises(ValueError, match="0 or more"):
            server.latency = -1
