"""The scripted model calls tools: function_call output items and the rules around their outputs.

Driven by the real openai SDK over loopback HTTP, with every exchange validated against the spec.
"""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import (
    FunctionToolParam,
    ResponseCompletedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
)

from assistant_magic.testing import (
    FunctionCall,
    ReplyContext,
    ScriptedServer,
    Text,
    ToolCalls,
    ToolResult,
)
from assistant_magic.testing.chunking import split_arguments
from assistant_magic.testing.openapi import TrafficValidator, load_spec
from assistant_magic.testing.responses.events import tool_call_events
from assistant_magic.testing.responses.response import Turn, initial_resource
from assistant_magic.testing.state import ServerState

from conftest import SPEC

MODEL = "gpt-5.4-mini"


def function_tool(name: str, *, strict: bool = False) -> FunctionToolParam:
    properties = {"a": {"type": "number"}, "b": {"type": "number"}}
    parameters = {
        "type": "object",
        "properties": properties,
        "required": ["a", "b"],
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "name": name,
        "description": f"The {name} function.",
        "parameters": parameters,
        "strict": strict,
    }


TOOLS = [function_tool("add"), function_tool("now")]

CALL_SEQUENCE = [
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
]


def function_call(item: object) -> ResponseFunctionToolCall:
    assert isinstance(item, ResponseFunctionToolCall), item
    return item


def calls_of(response: openai.types.responses.Response) -> list[ResponseFunctionToolCall]:
    return [function_call(item) for item in response.output if item.type == "function_call"]


def output_item(call_id: str, output: str) -> Any:
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def rejection(error: pytest.ExceptionInfo[openai.BadRequestError]) -> Any:
    return error.value.body


# -- streaming ---------------------------------------------------------------------------------


def test_one_call_streams_as_typed_events(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("add", {"a": 1, "b": 2}, call_id="call_add1"))

    events = list(client.responses.create(model=MODEL, input="1+2?", tools=TOOLS, stream=True))

    kinds = [e.type for e in events]
    assert kinds == [
        "response.created",
        "response.in_progress",
        *CALL_SEQUENCE,
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    added, *deltas, done, item_done = events[2:-1]
    assert isinstance(added, ResponseOutputItemAddedEvent)
    call = function_call(added.item)
    assert (call.call_id, call.name, call.arguments, call.status) == (
        "call_add1",
        "add",
        "",
        "in_progress",
    )
    assert call.id is not None and call.id.startswith("fc_")
    assert all(isinstance(d, ResponseFunctionCallArgumentsDeltaEvent) for d in deltas)
    arguments = [d for d in deltas if isinstance(d, ResponseFunctionCallArgumentsDeltaEvent)]
    assert {(d.item_id, d.output_index) for d in arguments} == {(call.id, 0)}
    assembled = "".join(d.delta for d in arguments)
    assert json.loads(assembled) == {"a": 1, "b": 2}
    assert isinstance(done, ResponseFunctionCallArgumentsDoneEvent)
    assert done.arguments == assembled and done.item_id == call.id
    assert getattr(done, "name", None) == "add"  # in the spec, not (yet) a field of the SDK model
    assert isinstance(item_done, ResponseOutputItemDoneEvent)
    finished = function_call(item_done.item)
    assert (finished.status, finished.arguments) == ("completed", assembled)
    completed = events[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    assert completed.response.status == "completed"
    assert calls_of(completed.response) == [finished]
    assert completed.response.output_text == ""
    assert completed.response.usage is not None and completed.response.usage.output_tokens > 0
    assert unchecked_server.validation_errors == []


def test_stream_helper_assembles_calls_and_parses_strict_arguments(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(ToolCalls([FunctionCall("add", {"a": 2, "b": 3})], argument_chunks=5))

    with client.responses.stream(
        model=MODEL, input="2+3?", tools=[function_tool("add", strict=True)]
    ) as stream:
        snapshots = [
            e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        final = stream.get_final_response()

    assert len(snapshots) == 5 and snapshots[-1] == '{"a": 2, "b": 3}'
    (call,) = final.output
    assert call.type == "function_call" and call.parsed_arguments == {"a": 2, "b": 3}
    assert unchecked_server.validation_errors == []


def test_parallel_calls_in_one_step(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(ToolCalls([FunctionCall("add", {"a": 1, "b": 1}), FunctionCall("now")]))

    events = list(client.responses.create(model=MODEL, input="go", tools=TOOLS, stream=True))

    # "{}" is two characters: two pieces
    assert [e.type for e in events[2:-1]] == [
        *CALL_SEQUENCE,
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    added = [e for e in events if isinstance(e, ResponseOutputItemAddedEvent)]
    assert [e.output_index for e in added] == [0, 1]
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    first, second = calls_of(final.response)
    assert (first.name, second.name, second.arguments) == ("add", "now", "{}")
    assert first.call_id != second.call_id
    assert all(c.call_id.startswith("call_") and len(c.call_id) == 29 for c in (first, second))
    assert unchecked_server.validation_errors == []


def test_text_then_calls_in_one_step(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(ToolCalls([FunctionCall("now")], text="Let me check the time."))

    events = list(client.responses.create(model=MODEL, input="time?", tools=TOOLS, stream=True))

    kinds = [e.type for e in events]
    assert kinds[2:6] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
    ]
    assert kinds[-6:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    message, call = final.response.output
    assert isinstance(message, ResponseOutputMessage) and message.status == "completed"
    assert final.response.output_text == "Let me check the time."
    assert function_call(call).name == "now"
    assert unchecked_server.validation_errors == []


def test_non_streaming_answers_the_same_response(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        ToolCalls([FunctionCall("add", {"a": 1, "b": 2}), FunctionCall("now")], text="On it.")
    )

    response = client.responses.create(model=MODEL, input="go", tools=TOOLS)

    assert response.status == "completed"
    assert [item.type for item in response.output] == ["message", "function_call", "function_call"]
    assert [(c.name, c.status) for c in calls_of(response)] == [
        ("add", "completed"),
        ("now", "completed"),
    ]
    assert client.responses.retrieve(response.id).output == response.output
    assert unchecked_server.validation_errors == []


def test_background_tool_calls_complete_and_can_be_polled(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("now"))

    started = client.responses.create(model=MODEL, input="go", tools=TOOLS, background=True)
    unchecked_server.wait_for_status(started.id, "completed")

    (call,) = calls_of(client.responses.retrieve(started.id))
    assert call.name == "now"
    assert unchecked_server.validation_errors == []


def test_arguments_are_sent_verbatim(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        ToolCalls(
            [
                FunctionCall("add", '{"a": "one", "b": '),  # invalid JSON
                FunctionCall("add", '{"a": "one", "b": null}'),  # wrong types
                FunctionCall("now", ""),
            ]
        )
    )

    stream = client.responses.create(model=MODEL, input="go", tools=TOOLS, stream=True)
    events = list(stream)

    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    assert [c.arguments for c in calls_of(final.response)] == [
        '{"a": "one", "b": ',
        '{"a": "one", "b": null}',
        "",
    ]
    deltas = [e for e in events if isinstance(e, ResponseFunctionCallArgumentsDeltaEvent)]
    assert "".join(d.delta for d in deltas if d.output_index == 0) == '{"a": "one", "b": '
    assert [d.output_index for d in deltas].count(2) == 0  # empty arguments: no delta at all
    assert unchecked_server.validation_errors == []


# -- two rounds ----------------------------------------------------------------------------------


def test_two_round_exchange_on_a_conversation(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    unchecked_server.script(ToolCalls([FunctionCall("add", {"a": 2, "b": 2}), FunctionCall("now")]))

    first = client.responses.create(
        model=MODEL, input="2+2, and the time?", tools=TOOLS, conversation=conversation.id
    )
    add, now = calls_of(first)
    answered = client.responses.create(
        model=MODEL,
        tools=TOOLS,
        conversation=conversation.id,
        input=[output_item(add.call_id, "4"), output_item(now.call_id, "12:00")],
    )

    assert answered.output_text == "Tool results: add: 4; now: 12:00"  # the default echo
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call",
        "function_call_output",
        "function_call_output",
        "message",
    ]
    assert [getattr(item, "call_id", None) for item in items[1:5]] == [
        add.call_id,
        now.call_id,
        add.call_id,
        now.call_id,
    ]
    assert items[1].id == add.id and getattr(items[1], "status", None) == "completed"
    assert unchecked_server.tool_outputs == [(add.call_id, "4"), (now.call_id, "12:00")]
    assert unchecked_server.validation_errors == []


def test_factory_answers_from_tool_outputs(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    seen: list[ReplyContext] = []

    def summarise(context: ReplyContext) -> Text:
        seen.append(context)
        total = context.tool_outputs["call_sum"]
        return Text(f"The sum is {total}.")

    unchecked_server.script(FunctionCall("add", {"a": 20, "b": 22}, call_id="call_sum"), summarise)

    first = client.responses.create(model=MODEL, input="20+22?", tools=TOOLS)
    second = client.responses.create(
        model=MODEL,
        tools=TOOLS,
        tool_choice="auto",
        previous_response_id=first.id,
        input=[output_item("call_sum", "42")],
    )

    assert second.output_text == "The sum is 42."
    (context,) = seen
    assert context.tool_results == [
        ToolResult(call_id="call_sum", name="add", arguments='{"a": 20, "b": 22}', output="42")
    ]
    assert context.offered_tools == ["add", "now"]
    assert context.tool_choice == "auto"
    assert unchecked_server.validation_errors == []


def test_tool_output_as_content_parts(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    first = client.responses.create(model=MODEL, input="go", tools=TOOLS)
    unchecked_server.script(FunctionCall("now", call_id="call_parts"))
    called = client.responses.create(
        model=MODEL, tools=TOOLS, previous_response_id=first.id, input="time?"
    )

    answered = client.responses.create(
        model=MODEL,
        previous_response_id=called.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": "call_parts",
                "output": [{"type": "input_text", "text": "noon"}],
            }
        ],
    )

    assert answered.output_text == "Tool results: now: noon"
    assert unchecked_server.tool_outputs == [
        ("call_parts", [{"type": "input_text", "text": "noon"}])
    ]
    assert unchecked_server.validation_errors == []


# -- the pairing rules ---------------------------------------------------------------------------


def test_unanswered_call_blocks_the_conversation(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    unchecked_server.script(FunctionCall("now", call_id="call_open"), Text("kept for later"))
    client.responses.create(model=MODEL, input="time?", tools=TOOLS, conversation=conversation.id)

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(model=MODEL, input="hello?", conversation=conversation.id)

    assert rejection(rejected) == {
        "message": "No tool output found for function call call_open.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    # a rejected request takes no reply
    assert unchecked_server.unused_replies == [Text("kept for later")]
    assert unchecked_server.validation_errors == []


def test_unanswered_call_blocks_a_previous_response_chain(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("now", call_id="call_chain"))
    called = client.responses.create(model=MODEL, input="time?", tools=TOOLS)
    answered = client.responses.create(
        model=MODEL, previous_response_id=called.id, input=[output_item("call_chain", "9:00")]
    )

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(model=MODEL, previous_response_id=called.id, input="and?")
    later = client.responses.create(model=MODEL, previous_response_id=answered.id, input="and?")

    assert rejected.value.message.endswith("No tool output found for function call call_chain.")
    assert later.output_text == "You said: and?"  # the answered chain goes on
    assert unchecked_server.validation_errors == []


def test_output_for_an_unknown_call_is_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(
            model=MODEL, conversation=conversation.id, input=[output_item("call_ghost", "1")]
        )

    assert rejection(rejected) == {
        "message": "No tool call found for function call output with call_id call_ghost.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    assert list(client.conversations.items.list(conversation.id)) == []  # nothing joined
    assert unchecked_server.tool_outputs == []
    assert unchecked_server.validation_errors == []


def test_second_output_for_one_call_is_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    unchecked_server.script(FunctionCall("now", call_id="call_twice"))
    client.responses.create(model=MODEL, input="time?", tools=TOOLS, conversation=conversation.id)

    with pytest.raises(openai.BadRequestError) as in_one_request:
        client.responses.create(
            model=MODEL,
            conversation=conversation.id,
            input=[output_item("call_twice", "1"), output_item("call_twice", "2")],
        )
    client.responses.create(
        model=MODEL, conversation=conversation.id, input=[output_item("call_twice", "1")]
    )
    with pytest.raises(openai.BadRequestError) as in_a_later_request:
        client.responses.create(
            model=MODEL, conversation=conversation.id, input=[output_item("call_twice", "3")]
        )

    expected = {
        "message": "[scripted server] Duplicate function_call_output for call_id call_twice: "
        "each function_call takes exactly one output.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    assert rejection(in_one_request) == rejection(in_a_later_request) == expected
    assert unchecked_server.tool_outputs == [("call_twice", "1")]
    assert unchecked_server.validation_errors == []


def test_resending_a_stored_call_is_a_duplicate_item(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        FunctionCall("now", call_id="call_again"), FunctionCall("now", call_id="call_own")
    )
    called = client.responses.create(model=MODEL, input="time?", tools=TOOLS)
    (call,) = calls_of(called)
    resent: Any = call.model_dump(exclude_none=True)

    with pytest.raises(openai.BadRequestError) as rejected:
        client.responses.create(
            model=MODEL,
            previous_response_id=called.id,
            input=[resent, output_item("call_again", "8:00")],
        )
    # A client that keeps the history itself sends the call along with its output.
    stateless = client.responses.create(
        model=MODEL,
        store=False,
        tools=TOOLS,
        input=[{"role": "user", "content": "time?"}, resent, output_item("call_again", "8:00")],
    )

    assert rejection(rejected) == {
        "message": f"Duplicate item found with id {call.id}. Remove duplicate items from your "
        "input and try again.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    assert function_call(stateless.output[0]).call_id == "call_own"
    assert unchecked_server.validation_errors == []


def test_hang_up_mid_arguments_drops_the_unfinished_call(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create()
    long_arguments = json.dumps({"a": 1, "b": 2, "note": "x" * 400})
    unchecked_server.script(
        ToolCalls(
            [
                FunctionCall("now", call_id="call_done"),
                FunctionCall("add", long_arguments, "call_cut"),
            ],
            chunk_delay=0.005,
            argument_chunks=100,
        )
    )
    stream = client.responses.create(
        model=MODEL, input="go", tools=TOOLS, conversation=conversation.id, stream=True
    )
    response_id = ""
    for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.function_call_arguments.delta" and event.output_index == 1:
            break
    stream.close()

    assert unchecked_server.wait_for_disconnect() == response_id
    assert unchecked_server.wait_for_status(response_id, "cancelled") == "cancelled"
    items = list(client.conversations.items.list(conversation.id, order="asc"))
    assert [(i.type, getattr(i, "call_id", None)) for i in items] == [
        ("message", None),
        ("function_call", "call_done"),  # completed before the hang-up: it stays, and blocks
    ]
    with pytest.raises(openai.BadRequestError) as blocked:
        client.responses.create(model=MODEL, input="well?", conversation=conversation.id)
    assert blocked.value.message.endswith("No tool output found for function call call_done.")
    with pytest.raises(openai.BadRequestError) as unknown:
        client.responses.create(
            model=MODEL,
            conversation=conversation.id,
            input=[output_item("call_done", "noon"), output_item("call_cut", "3")],
        )
    assert "call_id call_cut." in unknown.value.message
    resumed = client.responses.create(
        model=MODEL, conversation=conversation.id, input=[output_item("call_done", "noon")]
    )
    assert resumed.output_text == "Tool results: now: noon"
    assert unchecked_server.validation_errors == []


def test_outputs_added_as_conversation_items_are_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    conversation = client.conversations.create(
        items=[{"type": "function_call", "call_id": "call_c", "name": "now", "arguments": "{}"}]
    )
    client.conversations.items.create(conversation.id, items=[output_item("call_c", "5 pm")])

    response = client.responses.create(model=MODEL, conversation=conversation.id, input="so?")

    assert response.output_text == "You said: so?"
    assert unchecked_server.tool_outputs == [("call_c", "5 pm")]
    assert unchecked_server.validation_errors == []


# -- what the request allowed --------------------------------------------------------------------


def test_calling_a_tool_that_was_not_offered_is_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("delete_everything"))

    response = client.responses.create(model=MODEL, input="go", tools=TOOLS)

    assert calls_of(response)[0].name == "delete_everything"  # answered all the same
    (problem,) = unchecked_server.validation_errors
    assert problem.startswith(
        "scripted reply to POST /v1/responses calls 'delete_everything', which is not among the "
        "offered tools ['add', 'now']"
    )
    assert "undeclared=True" in problem


def test_calling_tools_when_none_were_offered_is_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("now"))

    client.responses.create(model=MODEL, input="go")

    (problem,) = unchecked_server.validation_errors
    assert "calls 'now', but the request offers no function tools" in problem


def test_undeclared_calls_are_scripted_on_purpose(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        FunctionCall("made_up", undeclared=True),
        FunctionCall("now", undeclared=True),
        FunctionCall("add", undeclared=True),
    )

    offered = client.responses.create(model=MODEL, input="go", tools=TOOLS)
    bare = client.responses.create(model=MODEL, input="go")
    refused = client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice="none")

    assert [calls_of(r)[0].name for r in (offered, bare, refused)] == ["made_up", "now", "add"]
    assert unchecked_server.validation_errors == []


def test_tool_choice_none_forbids_calls(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FunctionCall("now"), Text("Fine."))

    client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice="none")
    text = client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice="none")

    assert text.output_text == "Fine."
    (problem,) = unchecked_server.validation_errors
    assert "calls 'now', but the request set tool_choice 'none'" in problem


def test_forced_function_needs_that_call(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    forced: Any = {"type": "function", "name": "add"}
    unchecked_server.script(FunctionCall("add"), Text("no call"), FunctionCall("now"))

    for _ in range(3):
        client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice=forced)

    assert unchecked_server.validation_errors == [
        "scripted reply to POST /v1/responses is text, but tool_choice function 'add' requires a "
        "tool call",
        "scripted reply to POST /v1/responses calls 'now', but tool_choice forces function 'add' "
        "(script FunctionCall(..., undeclared=True) if that is the point of the test)",
    ]


def test_required_tool_choice_needs_a_call(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        ToolCalls([FunctionCall("add"), FunctionCall("now")]), Text("chatting instead")
    )

    client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice="required")
    client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice="required")

    assert unchecked_server.validation_errors == [
        "scripted reply to POST /v1/responses is text, but tool_choice 'required' requires a "
        "tool call"
    ]


def test_allowed_tools_narrow_the_calls(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    choice: Any = {
        "type": "allowed_tools",
        "mode": "auto",
        "tools": [{"type": "function", "name": "now"}],
    }
    unchecked_server.script(FunctionCall("now"), FunctionCall("add"))

    client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice=choice)
    client.responses.create(model=MODEL, input="go", tools=TOOLS, tool_choice=choice)

    (problem,) = unchecked_server.validation_errors
    assert "calls 'add', which tool_choice allowed_tools does not allow ['now']" in problem


def test_request_contradictions_are_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(
        FunctionCall("add"), ToolCalls([FunctionCall("add"), FunctionCall("now")])
    )

    client.responses.create(
        model=MODEL,
        input="go",
        tools=[function_tool("now")],
        tool_choice={"type": "function", "name": "add"},
    )
    client.responses.create(model=MODEL, input="go", tools=TOOLS, parallel_tool_calls=False)

    first, second, third = unchecked_server.validation_errors
    assert first == (
        "POST /v1/responses request: tool_choice forces function 'add', which is not among the "
        "offered tools ['now']"
    )
    assert "calls 'add', which is not among the offered tools ['now']" in second
    assert third == (
        "scripted reply to POST /v1/responses makes 2 calls in one step, but the request set "
        "parallel_tool_calls false"
    )


# -- scripting -----------------------------------------------------------------------------------


def test_tool_call_scripts_are_checked_early(unchecked_server: ScriptedServer) -> None:
    with pytest.raises(ValueError):
        ToolCalls([])
    with pytest.raises(ValueError):
        ToolCalls([FunctionCall("a", call_id="call_1"), FunctionCall("b", call_id="call_1")])
    with pytest.raises(ValueError):
        ToolCalls([FunctionCall("a")], argument_chunks=0)
    assert ToolCalls(FunctionCall("a")).calls == (FunctionCall("a"),)  # type: ignore[arg-type]
    unchecked_server.script(FunctionCall("a"), ToolCalls([FunctionCall("b")]))
    assert len(unchecked_server.unused_replies) == 2


def test_a_replayed_call_gets_a_fresh_call_id(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    call = FunctionCall("now")
    unchecked_server.script(call, call)

    first = client.responses.create(model=MODEL, input="go", tools=TOOLS)
    second = client.responses.create(model=MODEL, input="go", tools=TOOLS)

    assert calls_of(first)[0].call_id != calls_of(second)[0].call_id
    assert unchecked_server.validation_errors == []


def test_argument_pieces_join_back() -> None:
    text = '{"city": "Zürich", "days": 3}'
    for chunks in (1, 2, 3, 7, 100):
        pieces = split_arguments(text, chunks)
        assert "".join(pieces) == text and len(pieces) == min(chunks, len(text))
        assert all(pieces)
    assert split_arguments("", 3) == []


def test_generated_tool_call_events_match_the_spec() -> None:
    validator = TrafficValidator(load_spec(SPEC))
    state = ServerState()
    body = {"model": MODEL, "input": "hi", "tools": TOOLS}
    turn = Turn(
        state,
        initial_resource(body, conversation_id=None),
        conversation=None,
        context_items=[],
        input_items=[],
    )
    turn.begin()
    reply = ToolCalls([FunctionCall("add", {"a": 1, "b": 2}), FunctionCall("now")], text="Sure.")

    events = list(tool_call_events(turn, reply, delay=0))

    assert [problem for e in events for problem in validator.event_violations(e)] == []
    assert validator.spec.violations("#/components/schemas/Response", events[-1]["response"]) == []
