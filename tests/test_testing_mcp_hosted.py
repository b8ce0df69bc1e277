"""The scripted model calls tools of hosted remote MCP servers (``tools: [{"type": "mcp", ...}]``).

Driven by the real openai SDK over loopback HTTP, every exchange validated against OpenAI's
OpenAPI description: the tool list the first time a server is used, approval requests and the
client's answers, calls that succeed or fail, streamed and not.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.responses.response_output_item import (
    McpApprovalRequest,
    McpListTools,
)
from openai.types.responses.response_output_item import (
    McpCall as McpCallItem,
)

from assistant_magic.testing import McpCall, ScriptedServer, Text

from conftest import API_KEY

MODEL = "gpt-5.4-mini"
ARGS = {"notation": "2d4+1"}
ARGS_TEXT = '{"notation": "2d4+1"}'


def mcp_tool(require_approval: Any = "always", **extra: Any) -> Any:
    return {
        "type": "mcp",
        "server_label": "dmcp",
        "server_url": "https://dmcp.example/sse",
        "headers": {"Authorization": "Bearer token"},
        "require_approval": require_approval,
        **extra,
    }


def roll(**fields: Any) -> McpCall:
    return McpCall("dmcp", "roll", ARGS, **{"output": "4", "text": "You rolled 4.", **fields})


@pytest.fixture
def client(server: ScriptedServer) -> openai.OpenAI:
    """The real SDK pointed at the validating ``server`` (it asserts no mistakes at teardown)."""
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY)


def approve(request_id: str, approve: bool = True) -> Any:
    return [
        {"type": "mcp_approval_response", "approval_request_id": request_id, "approve": approve}
    ]


# -- approvals -----------------------------------------------------------------------------------


def test_approval_request_then_approve_plays_the_call_and_the_text(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll())

    asked = client.responses.create(model=MODEL, input="Roll 2d4+1", tools=[mcp_tool()])

    assert asked.status == "completed"
    listed, request = asked.output
    assert isinstance(listed, McpListTools)
    assert listed.id.startswith("mcpl_") and listed.server_label == "dmcp"
    assert [tool.name for tool in listed.tools] == ["roll"]
    assert listed.tools[0].input_schema["properties"] == {"notation": {"type": "string"}}
    assert isinstance(request, McpApprovalRequest)
    assert request.id.startswith("mcpr_")
    assert (request.server_label, request.name, request.arguments) == ("dmcp", "roll", ARGS_TEXT)
    assert asked.output_text == ""

    answered = client.responses.create(
        model=MODEL,
        previous_response_id=asked.id,
        input=approve(request.id),
        tools=[mcp_tool()],
    )

    call, message = answered.output  # no second tool list: the context holds one
    assert isinstance(call, McpCallItem)
    assert call.id.startswith("mcp_")
    assert (call.name, call.arguments, call.output) == ("roll", ARGS_TEXT, "4")
    assert call.approval_request_id == request.id
    assert call.status == "completed" and call.error is None
    assert message.type == "message"
    assert answered.output_text == "You rolled 4."
    assert len(server.requests) == 2


def test_denied_approval_answers_with_the_text_only(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll(text="Fine, no dice."), Text("Next."))
    conversation = client.conversations.create()

    asked = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Roll", tools=[mcp_tool()]
    )
    request = asked.output[-1]
    assert isinstance(request, McpApprovalRequest)
    denied = client.responses.create(
        model=MODEL,
        conversation=conversation.id,
        input=approve(request.id, approve=False),
        tools=[mcp_tool()],
    )

    assert [item.type for item in denied.output] == ["message"]
    assert denied.output_text == "Fine, no dice."
    # The script item was continued, not consumed twice: the next request takes the next one.
    after = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Thanks", tools=[mcp_tool()]
    )
    assert after.output_text == "Next."
    items = client.conversations.items.list(conversation.id, order="asc")
    assert [item.type for item in items] == [
        "message",
        "mcp_list_tools",
        "mcp_approval_request",
        "mcp_approval_response",
        "message",
        "message",
        "message",
    ]


def test_an_approval_without_stored_context_re_sends_the_items(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll())
    asked = client.responses.create(model=MODEL, input="Roll", tools=[mcp_tool()], store=False)
    request = asked.output[-1]
    assert isinstance(request, McpApprovalRequest)

    replayed = [item.model_dump(exclude_none=True) for item in asked.output]
    answered = client.responses.create(
        model=MODEL,
        input=[{"role": "user", "content": "Roll"}, *replayed, *approve(request.id)],
        tools=[mcp_tool()],
        store=False,
    )

    assert [item.type for item in answered.output] == ["mcp_call", "message"]


def test_the_tool_list_comes_once_per_conversation(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll(), roll(output="7", text="7 this time."), roll())
    conversation = client.conversations.create()
    tools = [mcp_tool("never")]

    first = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Roll", tools=tools
    )
    second = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Again", tools=tools
    )
    alone = client.responses.create(model=MODEL, input="Roll", tools=tools)  # no context

    assert [item.type for item in first.output] == ["mcp_list_tools", "mcp_call", "message"]
    assert [item.type for item in second.output] == ["mcp_call", "message"]
    assert second.output_text == "7 this time."
    assert [item.type for item in alone.output] == ["mcp_list_tools", "mcp_call", "message"]
    kinds = [item.type for item in client.conversations.items.list(conversation.id, order="asc")]
    assert kinds == [
        "message",
        "mcp_list_tools",
        "mcp_call",
        "message",
        "message",
        "mcp_call",
        "message",
    ]


def test_no_approval_needed_plays_the_call_at_once(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll())

    response = client.responses.create(model=MODEL, input="Roll", tools=[mcp_tool("never")])

    listed, call, _ = response.output
    assert isinstance(listed, McpListTools) and isinstance(call, McpCallItem)
    assert call.approval_request_id is None
    assert (call.status, call.output) == ("completed", "4")
    assert response.output_text == "You rolled 4."


@pytest.mark.parametrize(
    ("require_approval", "asks"),
    [
        ({"never": {"tool_names": ["roll"]}}, False),
        ({"never": {"tool_names": ["other"]}}, True),
        ({"always": {"tool_names": ["roll"]}}, True),
        ({"always": {"tool_names": ["other"]}}, False),
        ({"never": {"read_only": True}}, False),
        (None, True),  # the default is "always"
    ],
)
def test_require_approval_per_tool(
    server: ScriptedServer, client: openai.OpenAI, require_approval: Any, asks: bool
) -> None:
    tools = [{"name": "roll", "input_schema": {}, "annotations": {"read_only": True}}]
    server.script(roll(tools=tools))
    tool = mcp_tool(require_approval)
    if require_approval is None:
        del tool["require_approval"]

    response = client.responses.create(model=MODEL, input="Roll", tools=[tool])

    wanted = "mcp_approval_request" if asks else "mcp_call"
    assert response.output[1].type == wanted


def test_allowed_tools_narrow_the_list(server: ScriptedServer, client: openai.OpenAI) -> None:
    tools = [{"name": "roll"}, {"name": "flip", "description": "Flip a coin."}]
    server.script(roll(tools=tools))

    response = client.responses.create(
        model=MODEL, input="Roll", tools=[mcp_tool("never", allowed_tools=["roll"])]
    )

    listed = response.output[0]
    assert isinstance(listed, McpListTools)
    assert [tool.name for tool in listed.tools] == ["roll"]


def test_a_failed_call_carries_its_error(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(roll(output=None, error="Invalid dice notation", text="That failed."))

    response = client.responses.create(model=MODEL, input="Roll", tools=[mcp_tool("never")])

    call = response.output[1]
    assert isinstance(call, McpCallItem)
    assert call.status == "failed" and call.output is None
    assert call.error is not None
    assert call.error.model_dump() == {
        "type": "mcp_tool_execution_error",
        "content": [{"type": "text", "text": "Invalid dice notation"}],
    }
    assert response.output_text == "That failed."


# -- streaming -----------------------------------------------------------------------------------

LIST_EVENTS = [
    "response.output_item.added",
    "response.mcp_list_tools.in_progress",
    "response.mcp_list_tools.completed",
    "response.output_item.done",
]
MESSAGE_EVENTS = ["response.output_item.added", "response.content_part.added"]


def test_streamed_approval_then_call(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(roll(text="Four."))

    with client.responses.stream(model=MODEL, input="Roll", tools=[mcp_tool()]) as stream:
        asked = [event.type for event in stream]
        request = stream.get_final_response().output[-1]

    assert asked == [
        "response.created",
        "response.in_progress",
        *LIST_EVENTS,
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    assert isinstance(request, McpApprovalRequest)

    events = list(
        client.responses.create(
            model=MODEL,
            input=approve(request.id),
            previous_response_id=stream.get_final_response().id,
            tools=[mcp_tool()],
            stream=True,
        )
    )
    kinds = [event.type for event in events]
    deltas = kinds.count("response.mcp_call_arguments.delta")
    assert deltas >= 1
    call_events = [
        "response.output_item.added",
        "response.mcp_call.in_progress",
        *["response.mcp_call_arguments.delta"] * deltas,
        "response.mcp_call_arguments.done",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert kinds[: 2 + len(call_events) + 2] == [
        "response.created",
        "response.in_progress",  # no tool list: the previous response holds one
        *call_events,
        *MESSAGE_EVENTS,
    ]
    assert kinds[-1] == "response.completed"
    pieces = [e.delta for e in events if e.type == "response.mcp_call_arguments.delta"]
    assert "".join(pieces) == ARGS_TEXT
    added = events[2]
    assert added.type == "response.output_item.added"
    assert added.item.type == "mcp_call" and added.item.arguments == ""
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_streamed_failed_call(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(
        roll(output=None, error={"type": "mcp_protocol_error", "code": -32602, "message": "bad"})
    )

    kinds = [
        event.type
        for event in client.responses.create(
            model=MODEL, input="Roll", tools=[mcp_tool("never")], stream=True
        )
    ]

    assert "response.mcp_call.failed" in kinds
    assert "response.mcp_call.completed" not in kinds
    assert kinds[2:6] == LIST_EVENTS


# -- the rules -----------------------------------------------------------------------------------


def test_an_unknown_approval_id_is_a_400(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(Text("never played"))

    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=MODEL, input=approve("mcpr_nope"), tools=[mcp_tool()])

    assert caught.value.body["param"] == "input"  # type: ignore[index]
    assert (
        "No approval request found for mcp_approval_response with approval_request_id "
        "mcpr_nope." in str(caught.value)
    )
    assert server.unused_replies == [Text("never played")]  # a rejected request takes none


def test_an_unanswered_approval_request_blocks_the_conversation(
    server: ScriptedServer, client: openai.OpenAI
) -> None:
    server.script(roll())
    conversation = client.conversations.create()
    asked = client.responses.create(
        model=MODEL, conversation=conversation.id, input="Roll", tools=[mcp_tool()]
    )

    with pytest.raises(
        openai.BadRequestError,
        match=f"No approval response found for mcp_approval_request {asked.output[-1].id}",
    ):
        client.responses.create(
            model=MODEL, conversation=conversation.id, input="Never mind", tools=[mcp_tool()]
        )


def test_an_approval_is_answered_once(server: ScriptedServer, client: openai.OpenAI) -> None:
    server.script(roll())
    asked = client.responses.create(model=MODEL, input="Roll", tools=[mcp_tool()])
    request_id = asked.output[-1].id
    answered = client.responses.create(
        model=MODEL, previous_response_id=asked.id, input=approve(request_id), tools=[mcp_tool()]
    )

    with pytest.raises(openai.BadRequestError, match="Duplicate mcp_approval_response"):
        client.responses.create(
            model=MODEL,
            previous_response_id=answered.id,
            input=approve(request_id),
            tools=[mcp_tool()],
        )


def test_the_step_without_its_mcp_tool_is_recorded(
    unchecked_server: ScriptedServer,
) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=API_KEY)
    unchecked_server.script(roll(), roll())

    response = client.responses.create(model=MODEL, input="Roll")
    other = client.responses.create(
        model=MODEL, input="Roll", tools=[{**mcp_tool("never"), "server_label": "other"}]
    )

    # Answered all the same, as the tool's default ("always" asks) would have it.
    assert response.output[-1].type == "mcp_approval_request"
    assert other.output[-1].type == "mcp_approval_request"
    assert unchecked_server.validation_errors == [
        "scripted McpCall reply to POST /v1/responses uses the mcp tool of server 'dmcp', but "
        "the request offers no mcp tool with that server_label (mcp servers: [])",
        "scripted McpCall reply to POST /v1/responses uses the mcp tool of server 'dmcp', but "
        "the request offers no mcp tool with that server_label (mcp servers: ['other'])",
    ]


def test_mcp_call_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="output or an error"):
        McpCall("dmcp", "roll", output="1", error="no")
    with pytest.raises(ValueError, match="must list the called tool"):
        McpCall("dmcp", "roll", tools=[{"name": "flip"}])
