"""The scripted server speaks Chat Completions: the same script, the whole thread in ``messages``.

Driven by the real openai SDK over loopback HTTP, with every request, answer and chunk validated
against OpenAI's OpenAPI description.
"""

from __future__ import annotations

import base64
import io
import json
import urllib.request
from typing import Any

import openai
import pytest
from openai.types.chat import (
    ChatCompletionChunk,
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from PIL import Image

from assistant_magic.testing import (
    CodeInterpreter,
    FunctionCall,
    HttpError,
    ReplyContext,
    ScriptedServer,
    Text,
    ToolCalls,
)
from assistant_magic.testing.chat.items import read_thread
from assistant_magic.testing.openapi import TrafficValidator, load_spec
from assistant_magic.testing.usage import chat_usage, prompt_words

from conftest import API_KEY as KEY
from conftest import SPEC

MODEL = "gpt-5.4-mini"
HI: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def function_tool(name: str, *, strict: bool = False) -> ChatCompletionToolParam:
    parameters = {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"The {name} function.",
            "parameters": parameters,
            "strict": strict,
        },
    }


TOOLS = [function_tool("add"), function_tool("now")]


def raw_stream(server: ScriptedServer, body: dict[str, Any]) -> list[str]:
    """The SSE frames of a streamed chat request, as sent (bypassing the SDK)."""
    request = urllib.request.Request(
        server.base_url + "/chat/completions",
        data=json.dumps({"model": MODEL, "messages": HI, "stream": True, **body}).encode(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/event-stream")
        raw = answer.read().decode()
    assert raw.endswith("\n\n")
    return raw.split("\n\n")[:-1]


def frame_data(frames: list[str]) -> list[Any]:
    """Each frame's JSON (every frame must be a single ``data:`` line), [DONE] left out."""
    assert all(frame.startswith("data: ") and "\n" not in frame for frame in frames), frames
    return [json.loads(frame[6:]) for frame in frames if frame != "data: [DONE]"]


def function_call(call: object) -> ChatCompletionMessageFunctionToolCall:
    assert isinstance(call, ChatCompletionMessageFunctionToolCall), call
    return call


def png(size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "red").save(buffer, "PNG")
    return buffer.getvalue()


# -- streaming text ---------------------------------------------------------------------------


def test_streamed_text_parses_into_typed_chunks(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("Hello there, friend.", chunks=["Hello", " there,", " friend."]))

    chunks = list(client.chat.completions.create(model=MODEL, messages=HI, stream=True))

    assert all(isinstance(chunk, ChatCompletionChunk) for chunk in chunks)
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk.model for chunk in chunks} == {MODEL}
    first, *middle, last = chunks
    assert first.choices[0].delta.role == "assistant" and first.choices[0].delta.content == ""
    assert [c.choices[0].delta.content for c in middle] == ["Hello", " there,", " friend."]
    assert all(c.choices[0].delta.role is None for c in middle)
    assert [c.choices[0].finish_reason for c in chunks] == [None, None, None, None, "stop"]
    assert last.choices[0].delta.content is None
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Hello there, friend."
    assert all(chunk.usage is None for chunk in chunks)
    assert unchecked_server.validation_errors == []


def test_sse_wire_format_ends_with_done(unchecked_server: ScriptedServer) -> None:
    unchecked_server.script(Text("a b"))

    frames = raw_stream(unchecked_server, {})

    assert frames[-1] == "data: [DONE]"
    assert not any(frame.startswith("event:") for frame in frames)
    chunks = frame_data(frames)
    assert [c["choices"][0]["delta"] for c in chunks] == [
        {"role": "assistant", "content": "", "refusal": None},
        {"content": "a"},
        {"content": " b"},
        {},
    ]
    assert all("usage" not in chunk for chunk in chunks)  # only with include_usage
    assert all(isinstance(chunk["obfuscation"], str) for chunk in chunks)
    assert all(chunk["choices"][0]["logprobs"] is None for chunk in chunks)
    assert unchecked_server.validation_errors == []


def test_include_usage_adds_a_last_chunk_with_usage(unchecked_server: ScriptedServer) -> None:
    unchecked_server.script(Text("one two three", usage={"input_tokens": 40}))

    frames = raw_stream(
        unchecked_server, {"stream_options": {"include_usage": True, "include_obfuscation": False}}
    )

    chunks = frame_data(frames)
    *streamed, final = chunks
    assert all(chunk["usage"] is None for chunk in streamed)  # present, null
    assert final["choices"] == [] and final["id"] == streamed[0]["id"]
    usage = final["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (
        40,
        3,
        43,
    )
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0
    assert not any("obfuscation" in chunk for chunk in chunks)
    assert frames[-1] == "data: [DONE]"
    assert unchecked_server.validation_errors == []


def test_include_usage_through_the_sdk(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 3  # "Be brief." + "hi"
    assert chunks[-1].usage.completion_tokens == 3  # "You said: hi"
    assert unchecked_server.validation_errors == []


def test_stream_helper_assembles_the_completion(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("Streamed through the helper."))

    with client.chat.completions.stream(model=MODEL, messages=HI) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()

    assert "".join(deltas) == "Streamed through the helper."
    assert final.choices[0].message.content == "Streamed through the helper."
    assert final.choices[0].finish_reason == "stop"
    assert unchecked_server.validation_errors == []


def test_default_reply_echoes_the_last_user_text(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    completion = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ],
    )

    assert completion.choices[0].message.content == "You said: second question"
    assert unchecked_server.validation_errors == []


# -- non-streaming, endings ------------------------------------------------------------------


def test_non_streaming_answers_a_chat_completion(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        Text("All at once.", usage={"prompt_tokens": 50, "completion_tokens": 3})
    )

    completion = client.chat.completions.create(model="gpt-5.4", messages=HI)

    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert completion.model == "gpt-5.4"
    choice = completion.choices[0]
    assert (choice.index, choice.finish_reason) == (0, "stop")
    message = choice.message
    assert (message.role, message.content, message.refusal) == ("assistant", "All at once.", None)
    assert message.tool_calls is None and message.annotations == []
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.total_tokens) == (50, 53)
    assert unchecked_server.validation_errors == []


@pytest.mark.parametrize("stream", [False, True])
def test_incomplete_text_finishes_with_length(
    unchecked_server: ScriptedServer, client: openai.OpenAI, stream: bool
) -> None:
    unchecked_server.script(Text("Cut short", status="incomplete"))

    if stream:
        chunks = list(client.chat.completions.create(model=MODEL, messages=HI, stream=True))
        reason = chunks[-1].choices[0].finish_reason
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
    else:
        completion = client.chat.completions.create(model=MODEL, messages=HI)
        reason = completion.choices[0].finish_reason
        text = completion.choices[0].message.content or ""

    assert (reason, text) == ("length", "Cut short")
    assert unchecked_server.validation_errors == []


def test_content_filter_finish_reason(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("Sorry", status="incomplete", incomplete_reason="content_filter"))

    completion = client.chat.completions.create(model=MODEL, messages=HI)

    assert completion.choices[0].finish_reason == "content_filter"
    assert unchecked_server.validation_errors == []


def test_stream_helper_raises_on_length(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    # The SDK's helpers refuse a cut-off completion even without a response_format.
    unchecked_server.script(Text("Cut short", status="incomplete"))

    with client.chat.completions.stream(model=MODEL, messages=HI) as stream:
        for _ in stream:
            pass
        with pytest.raises(openai.LengthFinishReasonError):
            stream.get_final_completion()
    assert unchecked_server.validation_errors == []


def test_fail_after_sends_an_error_frame(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("one two three four", fail_after=2, fail_message="Boom."))

    received: list[str] = []
    with pytest.raises(openai.APIError, match="Boom"):
        for chunk in client.chat.completions.create(model=MODEL, messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one two"

    unchecked_server.script(Text("one two three", fail_after=1, fail_message="Boom."))
    frames = raw_stream(unchecked_server, {})
    assert frames[-1] != "data: [DONE]"
    assert frame_data(frames)[-1] == {
        "error": {"message": "Boom.", "type": "server_error", "param": None, "code": None}
    }
    assert unchecked_server.validation_errors == []


def test_fail_after_without_streaming_is_a_500(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY, max_retries=0)
    unchecked_server.script(Text("one two", fail_after=1, fail_message="Boom."))

    with pytest.raises(openai.InternalServerError, match="Boom"):
        client.chat.completions.create(model=MODEL, messages=HI)
    assert unchecked_server.validation_errors == []


def test_hang_up_drops_the_connection(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY, max_retries=0)
    unchecked_server.script(
        Text("one two three", hang_up_after=1), Text("one two", hang_up_after=0)
    )

    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model=MODEL, messages=HI, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one"

    with pytest.raises(openai.APIConnectionError):  # no answer at all
        client.chat.completions.create(model=MODEL, messages=HI)
    assert unchecked_server.validation_errors == []


def test_client_disconnect_mid_stream(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text(" ".join(f"w{i}" for i in range(200)), chunk_delay=0.01))

    stream = client.chat.completions.create(model=MODEL, messages=HI, stream=True)
    completion_id = ""
    for chunk in stream:
        completion_id = chunk.id
        if chunk.choices[0].delta.content == " w2":
            break
    stream.close()

    assert unchecked_server.wait_for_disconnect() == completion_id
    assert unchecked_server.validation_errors == []


# -- tool calls --------------------------------------------------------------------------------


def test_one_call_streams_as_indexed_deltas(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("add", {"a": 1, "b": 2}, call_id="call_add1"))

    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "1+2?"}], tools=TOOLS, stream=True
        )
    )

    first = chunks[0].choices[0].delta
    assert (first.role, first.content) == ("assistant", None)
    assert first.tool_calls is not None and len(first.tool_calls) == 1
    head = first.tool_calls[0]
    assert (head.index, head.id, head.type) == (0, "call_add1", "function")
    assert head.function is not None
    assert (head.function.name, head.function.arguments) == ("add", "")
    pieces = []
    for chunk in chunks[1:-1]:
        calls = chunk.choices[0].delta.tool_calls or []
        assert [(c.index, c.id) for c in calls] == [(0, None)]
        assert calls[0].function is not None and calls[0].function.name is None
        pieces.append(calls[0].function.arguments)
    assert len(pieces) == 3  # ToolCalls.argument_chunks
    assert json.loads("".join(p or "" for p in pieces)) == {"a": 1, "b": 2}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert chunks[-1].choices[0].delta.tool_calls is None
    assert unchecked_server.validation_errors == []


def test_parallel_calls_assemble_by_index(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        ToolCalls(
            [
                FunctionCall("add", {"a": 1, "b": 2}, call_id="call_a"),
                FunctionCall("now", "{}", call_id="call_b"),
            ],
            text="Let me check.",
        )
    )

    chunks = list(
        client.chat.completions.create(model=MODEL, messages=HI, tools=TOOLS, stream=True)
    )

    assembled: dict[int, dict[str, str]] = {}
    text = ""
    for chunk in chunks:
        delta = chunk.choices[0].delta
        text += delta.content or ""
        for call in delta.tool_calls or []:
            entry = assembled.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            if call.function is not None:
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
    assert text == "Let me check."
    assert assembled == {
        0: {"id": "call_a", "name": "add", "arguments": '{"a": 1, "b": 2}'},
        1: {"id": "call_b", "name": "now", "arguments": "{}"},
    }
    first = chunks[0].choices[0].delta
    assert (first.role, first.content, first.tool_calls) == ("assistant", "", None)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert unchecked_server.validation_errors == []


def test_parallel_calls_through_the_helper_and_inline(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    step = ToolCalls(
        [FunctionCall("add", {"a": 1, "b": 2}, call_id="call_a"), FunctionCall("now", "{}")]
    )
    unchecked_server.script(step, step)

    strict = [function_tool("add", strict=True), function_tool("now", strict=True)]
    with client.chat.completions.stream(model=MODEL, messages=HI, tools=strict) as stream:
        done = [event for event in stream if event.type == "tool_calls.function.arguments.done"]
        streamed = stream.get_final_completion().choices[0].message
    assert [(event.index, event.parsed_arguments) for event in done] == [
        (0, {"a": 1, "b": 2}),
        (1, {}),
    ]
    inline = client.chat.completions.create(model=MODEL, messages=HI, tools=TOOLS)

    for message in (streamed, inline.choices[0].message):
        calls = [function_call(call) for call in message.tool_calls or []]
        assert [(c.function.name, c.function.arguments) for c in calls] == [
            ("add", '{"a": 1, "b": 2}'),
            ("now", "{}"),
        ]
        assert calls[0].id == "call_a" and calls[1].id.startswith("call_")
        assert message.content is None
    assert inline.choices[0].finish_reason == "tool_calls"
    assert unchecked_server.validation_errors == []


def test_two_round_exchange(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    seen: list[ReplyContext] = []

    def report(context: ReplyContext) -> Text:
        seen.append(context)
        return Text(f"1+2 = {context.tool_outputs['call_1']}; now {context.tool_outputs['call_2']}")

    unchecked_server.script(
        ToolCalls(
            [FunctionCall("add", {"a": 1, "b": 2}, "call_1"), FunctionCall("now", "{}", "call_2")]
        ),
        report,
    )
    messages: list[ChatCompletionMessageParam] = [
        {"role": "system", "content": "You add."},
        {"role": "user", "content": "1+2, and the time?"},
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    assistant = first.choices[0].message
    messages.append(assistant.model_dump(exclude_none=True))  # type: ignore[arg-type]
    messages += [
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
        {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "12:00"}]},
    ]
    second = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)

    assert second.choices[0].message.content == "1+2 = 3; now 12:00"
    context = seen[0]
    assert context.dialect == "chat"
    assert [(r.call_id, r.name, r.arguments, r.output) for r in context.tool_results] == [
        ("call_1", "add", '{"a": 1, "b": 2}', "3"),
        ("call_2", "now", "{}", "12:00"),
    ]
    assert context.last_user_text == "1+2, and the time?"  # from the history
    assert context.offered_tools == ["add", "now"] and context.tool_choice == "auto"
    assert [item["type"] for item in context.history] == [
        "message",
        "message",
        "function_call",
        "function_call",
    ]
    assert unchecked_server.chat_messages(1) == json.loads(json.dumps(messages))
    assert unchecked_server.chat_messages(0) == unchecked_server.chat_messages(1)[:2]
    assert unchecked_server.tool_outputs == [
        ("call_1", "3"),
        ("call_2", [{"type": "text", "text": "12:00"}]),
    ]
    assert unchecked_server.validation_errors == []


def test_default_reply_reports_tool_results(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "time?"},
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_n", "type": "function", "function": {"name": "now", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_n", "content": "12:00"},
    ]

    completion = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)

    assert completion.choices[0].message.content == "Tool results: now: 12:00"
    assert unchecked_server.validation_errors == []


# -- the real API's rules --------------------------------------------------------------------


def asked(*call_ids: str) -> ChatCompletionMessageParam:
    calls = [
        {"id": call_id, "type": "function", "function": {"name": "now", "arguments": "{}"}}
        for call_id in call_ids
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}  # type: ignore[typeddict-item]


def answered(call_id: str, output: str = "ok") -> ChatCompletionMessageParam:
    return {"role": "tool", "tool_call_id": call_id, "content": output}


def rejection(
    client: openai.OpenAI, messages: list[ChatCompletionMessageParam], **options: Any
) -> Any:
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=MODEL, messages=messages, **options)
    return error.value.body


def test_unanswered_tool_calls_are_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(Text("never sent"))
    user: ChatCompletionMessageParam = {"role": "user", "content": "go"}

    partly = rejection(
        client, [user, asked("call_x", "call_y", "call_z"), answered("call_y"), user]
    )
    at_end = rejection(client, [user, asked("call_x")])

    assert partly == {
        "message": "An assistant message with 'tool_calls' must be followed by tool messages "
        "responding to each 'tool_call_id'. The following tool_call_ids did not have response "
        "messages: call_x, call_z",
        "type": "invalid_request_error",
        "param": "messages.[1].role",
        "code": None,
    }
    assert at_end["message"].endswith("did not have response messages: call_x")
    # rejected requests take no reply
    assert unchecked_server.unused_replies == [Text("never sent")]
    assert unchecked_server.validation_errors == []


def test_stray_tool_message_is_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    user: ChatCompletionMessageParam = {"role": "user", "content": "go"}

    alone = rejection(client, [user, answered("call_x")])
    # A context window that dropped the assistant message but kept its tool message.
    after_text = rejection(client, [asked("call_x"), answered("call_x"), user, answered("call_x")])

    assert alone == {
        "message": "Invalid parameter: messages with role 'tool' must be a response to a "
        "preceeding message with 'tool_calls'.",
        "type": "invalid_request_error",
        "param": "messages.[1].role",
        "code": None,
    }
    assert after_text["param"] == "messages.[3].role"
    assert unchecked_server.validation_errors == []


def test_tool_message_for_another_call_is_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    body = rejection(client, [*HI, asked("call_x"), answered("call_other")])

    assert body["message"] == (
        "Invalid parameter: 'tool_call_id' of 'call_other' not found in 'tool_calls' of previous "
        "message."
    )
    assert body["param"] == "messages.[2].tool_call_id"
    assert unchecked_server.validation_errors == []


def test_empty_tool_calls_are_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    message: Any = {"role": "assistant", "content": "hm", "tool_calls": []}

    body = rejection(client, [*HI, message, *HI])

    assert body["message"] == (
        "Invalid 'messages[1].tool_calls': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead."
    )
    assert (body["param"], body["code"]) == ("messages[1].tool_calls", "empty_array")
    assert unchecked_server.validation_errors == []


def test_empty_messages_are_rejected_with_the_real_words(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    body = rejection(client, [])

    assert body == {
        "message": "Invalid 'messages': empty array. Expected an array with minimum length 1, "
        "but got an empty array instead.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "empty_array",
    }
    assert (
        len(unchecked_server.validation_errors) == 1
        and "messages" in unchecked_server.validation_errors[0]
    )


def test_empty_messages_without_the_spec() -> None:
    with ScriptedServer(api_key=KEY) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        assert rejection(client, [])["code"] == "empty_array"


def test_missing_model_and_messages(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY, max_retries=0)

    no_model = rejection(client, HI, extra_body={"model": None})
    with pytest.raises(openai.BadRequestError) as error:
        client.post("/chat/completions", body={"model": MODEL}, cast_to=object)
    no_messages: Any = error.value.body

    assert no_model["message"] == "you must provide a model parameter"
    assert no_messages == {
        "message": "Missing required parameter: 'messages'.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "missing_required_parameter",
    }
    problems = unchecked_server.validation_errors  # both break the spec
    assert any("$.model" in problem for problem in problems)
    assert problems[-1].endswith("'messages' is a required property")


def test_tool_options_need_tools(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    choice = rejection(client, HI, tool_choice="auto")
    parallel = rejection(client, HI, parallel_tool_calls=False, tools=[])
    client.chat.completions.create(model=MODEL, messages=HI, tool_choice="none")  # allowed

    assert choice["message"] == (
        "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    )
    assert (choice["param"], parallel["param"]) == ("tool_choice", "parallel_tool_calls")
    assert unchecked_server.validation_errors == []


def test_stream_options_need_stream(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    body = rejection(client, HI, stream_options={"include_usage": True})

    assert body["message"] == (
        "The 'stream_options' parameter is only allowed when 'stream' is enabled."
    )
    assert unchecked_server.validation_errors == []


def test_unknown_model_is_404(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    unchecked_server.script(Text("never sent"))

    with pytest.raises(openai.NotFoundError) as error:
        client.chat.completions.create(model="gpt-nope", messages=HI)

    assert error.value.body == {
        "message": "The model `gpt-nope` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }
    assert len(unchecked_server.unused_replies) == 1
    assert unchecked_server.validation_errors == []


def test_http_error_retry_after_is_honoured(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    # 0.6 s is longer than the SDK's own first backoff (at most 0.5 s): only the header explains it.
    unchecked_server.script(HttpError(429, retry_after=0.6), Text("ok"))

    completion = client.chat.completions.create(model=MODEL, messages=HI)

    assert completion.choices[0].message.content == "ok"
    first, second = unchecked_server.requests_to("POST", "/chat/completions")
    assert second.received_at - first.received_at >= 0.6
    assert unchecked_server.chat_messages(0) == unchecked_server.chat_messages(1) == HI
    assert unchecked_server.validation_errors == []


# -- script checks -----------------------------------------------------------------------------


def test_calls_the_request_does_not_allow_are_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        FunctionCall("delete_everything"),
        FunctionCall("delete_everything", undeclared=True),
        Text("no call"),
        FunctionCall("add", {"a": 1, "b": 1}),
    )

    client.chat.completions.create(model=MODEL, messages=HI, tools=TOOLS)
    client.chat.completions.create(model=MODEL, messages=HI, tools=TOOLS)
    client.chat.completions.create(
        model=MODEL,
        messages=HI,
        tools=TOOLS,
        tool_choice={"type": "function", "function": {"name": "now"}},
    )
    client.chat.completions.create(model=MODEL, messages=HI, tools=TOOLS, tool_choice="none")

    first, second, third = unchecked_server.validation_errors
    assert first.startswith(
        "scripted reply to POST /v1/chat/completions calls 'delete_everything', which is not "
        "among the offered tools ['add', 'now']"
    )
    assert "is text, but tool_choice function 'now' requires a tool call" in second
    assert "calls 'add', but the request set tool_choice 'none'" in third


def test_hosted_tool_steps_do_not_exist_in_chat(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(CodeInterpreter(code="print(1)"), Text("next"))

    with pytest.raises(openai.InternalServerError, match="no hosted tools"):
        client.chat.completions.create(model=MODEL, messages=HI)

    assert len(unchecked_server.requests_to("POST", "/chat/completions")) == 1  # not retried
    assert unchecked_server.unused_replies == [Text("next")]
    (problem,) = unchecked_server.validation_errors
    assert "CodeInterpreter" in problem and "code_interpreter" in problem


# -- images ------------------------------------------------------------------------------------


def test_image_url_parts_reach_input_images(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    seen: list[ReplyContext] = []

    def look(context: ReplyContext) -> Text:
        seen.append(context)
        return Text(f"{len(context.input_images)} image(s)")

    unchecked_server.script(look, look)
    data_url = "data:image/png;base64," + base64.b64encode(png((8, 6))).decode()
    messages: list[ChatCompletionMessageParam] = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": data_url, "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            ],
        }
    ]
    first = client.chat.completions.create(model=MODEL, messages=messages)
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "And now?"},
    ]
    client.chat.completions.create(model=MODEL, messages=messages)

    local, remote = seen[0].input_images
    assert (local.source, local.media_type, local.detail, local.size) == (
        "data_url",
        "image/png",
        "low",
        (8, 6),
    )
    assert (remote.source, remote.data, remote.detail) == (
        "https://example.com/cat.png",
        b"",
        "auto",
    )
    assert seen[0].last_user_text == "What is this?"
    assert seen[1].input_images == []  # only the new input's images, as for responses
    assert unchecked_server.validation_errors == []


def test_a_broken_image_is_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    bad = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": bad}}]}
    ]

    body = rejection(client, messages)

    assert body["message"].startswith("The image data you provided does not represent a valid")
    assert unchecked_server.validation_errors == []


# -- chat-only servers -------------------------------------------------------------------------


def test_chat_only_server_has_no_responses_api() -> None:
    with ScriptedServer(api_key=KEY, openapi=SPEC, chat_only=True) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        server.script(Text("chat works"))

        with pytest.raises(openai.NotFoundError) as responses:
            client.responses.create(model=MODEL, input="hi")
        with pytest.raises(openai.NotFoundError):
            client.conversations.create()
        completion = client.chat.completions.create(model=MODEL, messages=HI)

        body: Any = responses.value.body
        assert body["message"] == "Invalid URL (POST /v1/responses)"
        assert completion.choices[0].message.content == "chat works"
        assert [model.id for model in client.models.list()] == ["gpt-5.4", "gpt-5.4-mini"]
        assert server.validation_errors == []


# -- pieces ------------------------------------------------------------------------------------


def test_chat_usage_takes_either_spelling() -> None:
    prompt = prompt_words([{"type": "message", "role": "user", "content": "a b c"}])

    estimated = chat_usage(None, prompt=prompt, output="x y")
    responses_style = chat_usage({"input_tokens": 10}, prompt=prompt, output="x y")
    chat_style = chat_usage(
        {"completion_tokens": 7, "completion_tokens_details": {"reasoning_tokens": 5}},
        prompt=prompt,
        output="x y",
    )

    assert (estimated["prompt_tokens"], estimated["completion_tokens"]) == (3, 2)
    assert estimated["total_tokens"] == 5
    assert responses_style["total_tokens"] == 12
    assert chat_style["total_tokens"] == 10
    assert chat_style["completion_tokens_details"]["reasoning_tokens"] == 5


def test_thread_splits_at_the_last_assistant_message() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "let me see",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "r"},
    ]

    thread = read_thread(messages, {})

    assert [(i["type"], i.get("role")) for i in thread.history] == [
        ("message", "system"),
        ("message", "user"),
        ("message", "assistant"),
        ("function_call", None),
    ]
    assert thread.input_items == [{"type": "function_call_output", "call_id": "c1", "output": "r"}]
    assert read_thread(messages[:2], {}).history == []


def test_a_threads_words_are_counted_from_its_messages_as_from_its_items() -> None:
    """The prompt's words come from the messages, so a long thread's request need not be read
    as items; they must be the words of those items."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "plain words here"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "530000 and more"},
        {"role": "assistant", "content": "let me see", "tool_calls": [{**call, "id": "c2"}]},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "as parts"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]},
        {"role": "assistant", "content": None},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "two "},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "text", "text": "parts joined"},
            ],
        },
    ]
    thread = read_thread(messages, {})
    assert thread.prompt_words == prompt_words(thread.items) == 22


def test_chunks_are_checked_against_the_stream_schema() -> None:
    validator = TrafficValidator(load_spec(SPEC))
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "done"}],
    }

    (problem,) = validator.chunk_violations("POST", "/chat/completions", chunk, 3)
    error = {"error": {"message": "Boom."}}

    assert problem.startswith(
        "POST /v1/chat/completions stream chunk #3: CreateChatCompletionStreamResponse at "
        "$.choices[0].finish_reason: 'done' is not one of"
    )
    assert validator.chunk_violations("POST", "/chat/completions", error, 4)  # ErrorResponse
