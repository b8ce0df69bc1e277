"""The scripted server speaks the legacy Assistants API (v2): assistants, threads, messages, runs.

Driven by the real openai SDK (``client.beta``) over loopback HTTP, with every request, answer and
stream event validated against OpenAI's OpenAPI description (the ``server`` fixture fails a test
whose traffic broke it).
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta import Assistant, AssistantStreamEvent, Thread
from openai.types.beta.threads import (
    FileCitationAnnotation,
    FilePathAnnotation,
    ImageFileContentBlock,
    Message,
    Run,
    TextContentBlock,
    TextDelta,
)
from openai.types.beta.threads import Text as MessageText
from openai.types.beta.threads.runs import (
    CodeInterpreterToolCall,
    FileSearchToolCall,
    FunctionToolCall,
    ToolCallsStepDetails,
)
from PIL import Image

from assistant_magic.testing import (
    CodeInterpreter,
    FileSearch,
    FunctionCall,
    HttpError,
    ImageGeneration,
    ReplyContext,
    RunFailure,
    ScriptedServer,
    Text,
    ToolCalls,
)

from conftest import API_KEY as KEY

# The SDK marks the whole Assistants API deprecated; these tests use it on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MODEL = "gpt-5.4-mini"
BETA = {"OpenAI-Beta": "assistants=v2"}
TEXT_SEQUENCE = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.delta",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]


def function_tool(name: str) -> dict[str, Any]:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    return {"type": "function", "function": {"name": name, "parameters": parameters}}


@pytest.fixture
def client(server: ScriptedServer) -> openai.OpenAI:
    """The real SDK pointed at the validating ``server`` (retries kept, as a client has them)."""
    return openai.OpenAI(base_url=server.base_url, api_key=KEY)


@pytest.fixture
def assistant(client: openai.OpenAI) -> Assistant:
    return client.beta.assistants.create(
        model=MODEL,
        name="Helper",
        instructions="Answer briefly.",
        tools=[function_tool("weather"), function_tool("time")],  # type: ignore[list-item]
    )


@pytest.fixture
def thread(client: openai.OpenAI) -> Thread:
    return client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])


def text_of(message: Message, block: int = 0) -> MessageText:
    content = message.content[block]
    assert isinstance(content, TextContentBlock), content
    return content.text


def tool_calls(step_details: object) -> list[Any]:
    assert isinstance(step_details, ToolCallsStepDetails), step_details
    return list(step_details.tool_calls)


def error_message(error: openai.APIStatusError) -> str:
    """The error body's message, as the server wrote it (the SDK prefixes its own)."""
    body = error.body
    assert isinstance(body, dict), body
    return str(body["message"])


def png(color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(buffer, format="PNG")
    return buffer.getvalue()


def poll_statuses(client: openai.OpenAI, run: Run, reads: int) -> list[str]:
    return [
        client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status
        for _ in range(reads)
    ]


def requires_action(
    server: ScriptedServer, client: openai.OpenAI, thread: Thread, assistant: Assistant
) -> Run:
    """A run waiting for the outputs of two parallel calls, ``call_w`` and ``call_t``."""
    weather = FunctionCall("weather", {"city": "Oslo"}, "call_w")
    server.script(ToolCalls([weather, FunctionCall("time", "{}", "call_t")]))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    return run


# -- the basic life of a run -----------------------------------------------------------------------


def test_polled_run_lifecycle(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    assert assistant.id.startswith("asst_") and thread.id.startswith("thread_")
    question = client.beta.threads.messages.create(thread.id, role="user", content="Weather?")
    assert question.id.startswith("msg_") and text_of(question).value == "Weather?"
    server.script(Text("Sunny and mild."))

    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert run.id.startswith("run_") and run.status == "queued"
    assert run.instructions == "Answer briefly." and run.model == MODEL
    assert poll_statuses(client, run, 3) == ["in_progress", "completed", "completed"]

    done = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert done.usage is not None and done.usage.total_tokens > 0
    assert done.started_at is not None and done.completed_at is not None
    messages = client.beta.threads.messages.list(thread.id)  # newest first
    assert [(m.role, text_of(m).value) for m in messages] == [
        ("assistant", "Sunny and mild."),
        ("user", "Weather?"),
        ("user", "hello"),
    ]
    answer = messages.data[0]
    assert answer.run_id == run.id and answer.assistant_id == assistant.id
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [(s.type, s.status) for s in steps] == [("message_creation", "completed")]
    assert steps.data[0].id.startswith("step_") and steps.data[0].usage is not None

    assert client.beta.threads.delete(thread.id).deleted
    assert client.beta.assistants.delete(assistant.id).deleted
    with pytest.raises(
        openai.NotFoundError, match=re.escape(f"No thread found with id '{thread.id}'")
    ):
        client.beta.threads.retrieve(thread.id)
    with pytest.raises(
        openai.NotFoundError, match=re.escape(f"No assistant found with id '{assistant.id}'")
    ):
        client.beta.assistants.retrieve(assistant.id)


def test_create_and_poll_sees_the_thread(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    seen: list[ReplyContext] = []

    def reply(context: ReplyContext) -> Text:
        seen.append(context)
        return Text(f"You said {context.last_user_text}.")

    server.script(reply)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, additional_instructions="Be kind."
    )
    assert run.status == "completed"
    assert run.instructions == "Answer briefly.\nBe kind."
    assert seen[0].dialect == "assistants" and seen[0].offered_tools == ["weather", "time"]
    latest = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    assert text_of(latest).value == "You said hello."


def test_polls_per_state_and_the_poll_hint(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.run_polls_per_state = 2
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert poll_statuses(client, run, 4) == ["queued", "in_progress", "in_progress", "completed"]
    raw = client.beta.threads.runs.with_raw_response.create(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert raw.headers["openai-poll-after-ms"] == "10"


# -- streaming -------------------------------------------------------------------------------


def test_streamed_run_sends_the_real_events(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(Text("Hello there friend", chunks=["Hello", " there", " friend"]))
    stream = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    events: list[AssistantStreamEvent] = list(stream)

    assert [e.event for e in events] == TEXT_SEQUENCE
    deltas = [e.data for e in events if e.event == "thread.message.delta"]
    pieces = [c.text.value for d in deltas for c in d.delta.content or [] if c.type == "text"]
    assert pieces == ["Hello", " there", " friend"]
    final = events[-1].data
    assert isinstance(final, Run) and final.status == "completed" and final.usage is not None
    assert server.runs(thread.id)[0]["status"] == "completed"


def test_sse_wire_format(server: ScriptedServer, assistant: Assistant, thread: Thread) -> None:
    server.script(Text("Hi"))
    answer = httpx.post(
        f"{server.base_url}/threads/{thread.id}/runs",
        json={"assistant_id": assistant.id, "stream": True},
        headers={"Authorization": f"Bearer {KEY}", **BETA},
        timeout=5,
    )
    frames = answer.text.split("\n\n")[:-1]
    assert frames[0].startswith("event: thread.run.created\ndata: {")
    assert frames[-1] == "event: done\ndata: [DONE]"


def test_stream_helper_with_an_event_handler(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    class Recorder(AssistantEventHandler):
        def __init__(self) -> None:
            super().__init__()
            self.deltas: list[str] = []
            self.done: list[str] = []

        def on_text_delta(self, delta: TextDelta, snapshot: MessageText) -> None:
            self.deltas.append(delta.value or "")

        def on_text_done(self, text: MessageText) -> None:
            self.done.append(text.value)

    server.script(Text("One two three."))
    handler = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
    ) as stream:
        stream.until_done()
        assert stream.get_final_run().status == "completed"
        assert text_of(stream.get_final_messages()[0]).value == "One two three."
    assert handler.deltas == ["One", " two", " three."]
    assert handler.done == ["One two three."]


# -- tool calls ----------------------------------------------------------------------------------


def test_parallel_calls_answered_in_one_submit_polled(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = requires_action(server, client, thread, assistant)
    action = run.required_action
    assert action is not None and action.type == "submit_tool_outputs"
    calls = action.submit_tool_outputs.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_w", "weather", '{"city": "Oslo"}'),
        ("call_t", "time", "{}"),
    ]
    server.script(lambda context: Text(f"Results: {context.tool_outputs}"))

    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[
            {"tool_call_id": "call_t", "output": "noon"},
            {"tool_call_id": "call_w", "output": "sun"},
        ],
    )
    assert done.status == "completed" and done.required_action is None
    answer = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    assert text_of(answer).value == "Results: {'call_t': 'noon', 'call_w': 'sun'}"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    recorded = tool_calls(steps.data[0].step_details)
    assert all(isinstance(call, FunctionToolCall) for call in recorded)
    assert [(c.id, c.function.output) for c in recorded] == [("call_w", "sun"), ("call_t", "noon")]
    assert server.tool_outputs == [("call_t", "noon"), ("call_w", "sun")]


def test_parallel_calls_answered_in_one_submit_streamed(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    calls = [FunctionCall("weather", {"city": "Oslo"}), FunctionCall("time")]
    server.script(ToolCalls(calls, argument_chunks=2), Text("Done."))
    events = list(
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    )
    assert [e.event for e in events][-1] == "thread.run.requires_action"
    final = events[-1].data
    assert isinstance(final, Run) and final.required_action is not None
    asked = [c.id for c in final.required_action.submit_tool_outputs.tool_calls]
    assert len(asked) == 2 and all(call_id.startswith("call_") for call_id in asked)

    resumed = list(
        client.beta.threads.runs.submit_tool_outputs(
            run_id=final.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call_id, "output": "ok"} for call_id in asked],
            stream=True,
        )
    )
    assert [e.event for e in resumed][:5] == [
        "thread.run.step.completed",
        "thread.run.queued",
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.run.step.in_progress",
    ]
    assert resumed[-1].event == "thread.run.completed"


def test_event_handler_submits_outputs_from_on_event(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    """The cookbook pattern: answer ``requires_action`` with a nested submit stream."""
    answered: list[str] = []

    class Handler(AssistantEventHandler):
        def on_event(self, event: AssistantStreamEvent) -> None:
            if event.event != "thread.run.requires_action":
                return
            action = event.data.required_action
            assert action is not None
            outputs = [
                {"tool_call_id": c.id, "output": "42"}
                for c in action.submit_tool_outputs.tool_calls
            ]
            with client.beta.threads.runs.submit_tool_outputs_stream(
                thread_id=thread.id,
                run_id=event.data.id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            ) as inner:
                answered.extend(text_of(m).value for m in inner.get_final_messages())

    server.script(FunctionCall("weather"), lambda context: Text(f"It is {context.tool_outputs}"))
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=Handler()
    ) as stream:
        stream.until_done()
    assert len(answered) == 1 and answered[0].startswith("It is {'call_")
    assert server.runs(thread.id)[0]["status"] == "completed"


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (["call_w"], "Expected tool outputs for call_ids ['call_w', 'call_t'], got ['call_w']"),
        (
            ["call_w", "call_x"],
            "Expected tool outputs for call_ids ['call_w', 'call_t'], got ['call_w', 'call_x']",
        ),
        (
            ["call_w", "call_w", "call_t"],
            "[scripted server] Duplicate tool output for call_id call_w",
        ),
    ],
)
def test_outputs_must_answer_exactly_the_calls(
    server: ScriptedServer,
    client: openai.OpenAI,
    assistant: Assistant,
    thread: Thread,
    outputs: list[str],
    message: str,
) -> None:
    run = requires_action(server, client, thread, assistant)
    with pytest.raises(openai.BadRequestError) as rejected:
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call_id, "output": "x"} for call_id in outputs],
        )
    assert error_message(rejected.value).startswith(message)
    assert (
        client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "requires_action"
    )


def test_active_run_blocks_new_messages_and_runs(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = requires_action(server, client, thread, assistant)
    with pytest.raises(openai.BadRequestError) as message:
        client.beta.threads.messages.create(thread.id, role="user", content="more")
    assert error_message(message.value) == (
        f"Can't add messages to {thread.id} while a run {run.id} is active."
    )
    with pytest.raises(openai.BadRequestError) as second:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert error_message(second.value) == f"Thread {thread.id} already has an active run {run.id}."


def test_tool_use_the_run_does_not_offer_is_recorded(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY)
    plain = client.beta.assistants.create(model=MODEL)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    unchecked_server.script(FunctionCall("launch"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=plain.id)
    assert run.status == "requires_action"  # played all the same
    assert len(unchecked_server.validation_errors) == 1
    assert (
        "calls 'launch', but the request offers no function tools"
        in unchecked_server.validation_errors[0]
    )


# -- cancelling, failing, expiring ---------------------------------------------------------------


def test_cancel_goes_through_cancelling(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = requires_action(server, client, thread, assistant)
    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    cancelled = client.beta.threads.runs.poll(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert [s.status for s in steps] == ["cancelled"]
    with pytest.raises(
        openai.BadRequestError, match=re.escape("Cannot cancel run with status 'cancelled'.")
    ):
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    client.beta.threads.messages.create(thread.id, role="user", content="the thread is free")


def test_cancelling_a_finished_run_is_rejected(
    client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError) as rejected:
        client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert error_message(rejected.value) == "Cannot cancel run with status 'completed'."
    with pytest.raises(openai.BadRequestError) as late:
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_1"}]
        )
    assert error_message(late.value) == 'Runs in status "completed" do not accept tool outputs.'


def test_cancelling_a_streamed_run_ends_its_stream(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(Text(" ".join(f"w{i}" for i in range(100)), chunk_delay=0.005))
    names: list[str] = []
    for streamed in client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    ):
        names.append(streamed.event)
        if streamed.event == "thread.message.delta" and names.count(streamed.event) == 2:
            client.beta.threads.runs.cancel(server.runs(thread.id)[0]["id"], thread_id=thread.id)
    assert names[-4:] == [
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
    ]
    partial = server.thread_messages(thread.id)[-1]
    assert partial["incomplete_details"] == {"reason": "run_cancelled"}


def test_a_run_cancelled_while_queued_never_goes_to_work(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    """The real API never takes a cancelling run back to in_progress, even when the cancel
    lands between the stream's ``created`` and ``queued`` (a client interrupted right then)."""
    server.script(Text("Never said."))
    canceller = openai.OpenAI(base_url=server.base_url, api_key=KEY)

    def cancel_before_queued(what: str) -> None:
        if what.endswith("event thread.run.queued"):
            run_id = server.runs(thread.id)[0]["id"]
            canceller.beta.threads.runs.cancel(run_id, thread_id=thread.id)

    server.before_send = cancel_before_queued
    try:
        names = [
            streamed.event
            for streamed in client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
        ]
    finally:
        server.before_send = None
    assert names == [
        "thread.run.created",
        "thread.run.queued",
        "thread.run.cancelling",
        "thread.run.cancelled",
    ]
    assert server.runs(thread.id)[0]["status"] == "cancelled"
    assert server.thread_messages(thread.id)[-1]["role"] == "user", "no answer was written"


def test_failed_run_reports_last_error(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(Text("Half an answer", fail_after=1, fail_message="Boom."))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error is not None
    assert (run.last_error.code, run.last_error.message) == ("server_error", "Boom.")
    message = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    assert message.status == "incomplete" and text_of(message).value == "Half"
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert steps.data[0].status == "failed" and steps.data[0].last_error is not None

    server.script(RunFailure("failed", code="rate_limit_exceeded", message="Slow down."))
    limited = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id
    )
    assert limited.last_error is not None and limited.last_error.code == "rate_limit_exceeded"


def test_run_failure_can_expire_a_streamed_run(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(RunFailure("expired"))
    events = list(
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    )
    assert [e.event for e in events][-2:] == ["thread.run.in_progress", "thread.run.expired"]
    final = events[-1].data
    assert isinstance(final, Run) and final.last_error is None


def test_run_waiting_too_long_expires(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.run_expires_after = 0.05
    run = requires_action(server, client, thread, assistant)
    time.sleep(0.1)
    expired = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert expired.status == "expired" and expired.expires_at is not None
    with pytest.raises(openai.BadRequestError) as late:
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_w"}]
        )
    assert error_message(late.value) == 'Runs in status "expired" do not accept tool outputs.'
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert steps.data[0].status == "expired"


def test_incomplete_run(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(Text("Cut short", status="incomplete"))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256
    )
    assert run.status == "incomplete" and run.max_completion_tokens == 256
    assert run.incomplete_details is not None
    assert run.incomplete_details.reason == "max_completion_tokens"
    message = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    assert message.status == "incomplete" and message.incomplete_details is not None
    assert message.incomplete_details.reason == "max_tokens"


def test_disconnect_mid_stream_leaves_the_run_busy(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(Text(" ".join(f"w{i}" for i in range(100)), chunk_delay=0.005))
    stream = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=assistant.id, stream=True
    )
    run_id = ""
    for streamed in stream:
        if streamed.event == "thread.run.created":
            run_id = streamed.data.id
        if streamed.event == "thread.message.delta":
            break
    stream.close()

    assert server.wait_for_disconnect() == run_id
    assert poll_statuses(
        client, client.beta.threads.runs.retrieve(run_id, thread_id=thread.id), 2
    ) == [
        "in_progress",
        "in_progress",
    ]
    assert client.beta.threads.runs.cancel(run_id, thread_id=thread.id).status == "cancelling"
    assert client.beta.threads.runs.poll(run_id, thread_id=thread.id).status == "cancelled"
    partial = server.thread_messages(thread.id)[-1]
    assert partial["status"] == "incomplete" and partial["content"][0]["text"]["value"]


# -- scripted HTTP errors and mistakes -----------------------------------------------------------


def test_http_error_answers_the_request_that_takes_it(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    server.script(HttpError(400, "No, thanks."))
    with pytest.raises(openai.BadRequestError, match=re.escape("No, thanks.")):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id, stream=True)
    assert server.runs(thread.id) == []  # a streamed run takes its reply before it exists

    server.script(HttpError(429, retry_after_ms=10), Text("Recovered."))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"  # the read that started the step got the 429; the SDK retried
    reads = server.requests_to("GET", f"/threads/{thread.id}/runs/{run.id}")
    assert len(reads) == 3


def test_http_error_on_a_streamed_submit_leaves_the_run_waiting(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = requires_action(server, client, thread, assistant)
    outputs = [
        {"tool_call_id": "call_w", "output": "sun"},
        {"tool_call_id": "call_t", "output": "9"},
    ]
    server.script(HttpError(400, "Not now."))
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=outputs,  # type: ignore[arg-type]
            stream=True,
        )
    assert server.run(run.id)["status"] == "requires_action"
    assert server.tool_outputs == []
    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=outputs,  # type: ignore[arg-type]
    )
    assert done.status == "completed"


def test_hosted_tool_the_run_does_not_offer_is_recorded(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY)
    plain = client.beta.assistants.create(model=MODEL)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "plot"}])
    unchecked_server.script(CodeInterpreter(code="print(1)", logs="1"))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=plain.id)
    assert run.status == "completed"  # played all the same
    assert len(unchecked_server.validation_errors) == 1
    assert (
        "uses the code_interpreter tool, but the request does not offer it"
        in (unchecked_server.validation_errors[0])
    )


def test_image_generation_is_not_an_assistants_tool(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY)
    plain = client.beta.assistants.create(model=MODEL)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "draw"}])
    unchecked_server.script(ImageGeneration(png()))
    with pytest.raises(openai.InternalServerError, match="no image_generation tool"):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=plain.id, stream=True)
    assert (
        len(unchecked_server.validation_errors) == 1
        and "ImageGeneration" in unchecked_server.validation_errors[0]
    )


def test_run_failure_cannot_answer_other_dialects(unchecked_server: ScriptedServer) -> None:
    client = openai.OpenAI(base_url=unchecked_server.base_url, api_key=KEY, max_retries=0)
    unchecked_server.script(RunFailure())
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model=MODEL, input="hi")
    (mistake,) = unchecked_server.validation_errors
    assert "ends an Assistants API run" in mistake and "POST /v1/responses" in mistake


# -- hosted tools --------------------------------------------------------------------------------


def test_code_interpreter_outputs_are_downloadable_files(
    server: ScriptedServer, client: openai.OpenAI, thread: Thread
) -> None:
    coder = client.beta.assistants.create(model=MODEL, tools=[{"type": "code_interpreter"}])
    chart, table = png("blue"), b"a,b\n1,2\n"
    server.script(
        CodeInterpreter(
            code="df.to_csv('/mnt/data/table.csv'); plt.show()",
            images=[chart],
            files={"table.csv": table},
            logs="saved",
            text="Here: [table.csv](sandbox:/mnt/data/table.csv)",
        )
    )
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=coder.id) as stream:
        stream.until_done()
        message = stream.get_final_messages()[0]

    image, text_block = message.content
    assert isinstance(image, ImageFileContentBlock)
    assert client.files.content(image.image_file.file_id).read() == chart
    assert isinstance(text_block, TextContentBlock)
    assert text_block.text.value == "Here: [table.csv](sandbox:/mnt/data/table.csv)"
    (annotation,) = text_block.text.annotations
    assert isinstance(annotation, FilePathAnnotation)
    assert annotation.text == "sandbox:/mnt/data/table.csv"
    assert text_block.text.value[annotation.start_index : annotation.end_index] == annotation.text
    assert client.files.content(annotation.file_path.file_id).read() == table
    assert client.files.retrieve(annotation.file_path.file_id).purpose == "assistants_output"

    run = client.beta.threads.runs.list(thread.id).data[0]
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    (call,) = tool_calls(steps.data[0].step_details)
    assert isinstance(call, CodeInterpreterToolCall)
    assert call.code_interpreter.input.startswith("df.to_csv")
    assert [o.type for o in call.code_interpreter.outputs] == ["logs", "image"]


def test_file_search_cites_the_thread_stores(server: ScriptedServer, client: openai.OpenAI) -> None:
    report = client.files.create(file=("report.txt", b"Strength: 530,000."), purpose="assistants")
    store = client.vector_stores.create(name="reports", file_ids=[report.id])
    searcher = client.beta.assistants.create(model=MODEL, tools=[{"type": "file_search"}])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "How strong?"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    server.script(FileSearch(text="It is 530,000.", cite=[("report.txt", "530,000")]))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=searcher.id)
    assert run.status == "completed"

    message = client.beta.threads.messages.list(thread.id, limit=1).data[0]
    text = text_of(message)
    (citation,) = text.annotations
    assert isinstance(citation, FileCitationAnnotation)
    assert citation.file_citation.file_id == report.id
    assert text.value == f"It is 530,000{citation.text}."
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc")
    (search,) = tool_calls(steps.data[0].step_details)
    assert isinstance(search, FileSearchToolCall)
    assert [r.file_name for r in search.file_search.results or []] == ["report.txt"]


# -- the rest of the API -------------------------------------------------------------------------


def test_missing_beta_header_is_rejected(server: ScriptedServer) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    missing = httpx.get(f"{server.base_url}/assistants", headers=auth, timeout=5)
    assert missing.status_code == 400
    assert missing.json()["error"] == {
        "message": "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
        "Please try again by setting the header 'OpenAI-Beta: assistants=v2'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_beta",
    }
    old = httpx.get(
        f"{server.base_url}/assistants", headers={**auth, "OpenAI-Beta": "assistants=v1"}, timeout=5
    )
    assert old.json()["error"]["message"].startswith("The v1 Assistants API has been deprecated.")
    fine = httpx.get(f"{server.base_url}/assistants", headers={**auth, **BETA}, timeout=5)
    assert fine.status_code == 200 and fine.json()["object"] == "list"


def test_unknown_ids_and_models(
    client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    runs, messages = client.beta.threads.runs, client.beta.threads.messages
    with pytest.raises(
        openai.NotFoundError, match=re.escape("No thread found with id 'thread_x'.")
    ):
        messages.list("thread_x")
    with pytest.raises(
        openai.NotFoundError, match=re.escape("No assistant found with id 'asst_x'.")
    ):
        runs.create(thread_id=thread.id, assistant_id="asst_x")
    with pytest.raises(openai.NotFoundError, match=re.escape("No run found with id 'run_x'.")):
        runs.retrieve("run_x", thread_id=thread.id)
    with pytest.raises(openai.NotFoundError, match=re.escape("No message found with id 'msg_x'.")):
        messages.retrieve("msg_x", thread_id=thread.id)
    run = runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(
        openai.NotFoundError, match=re.escape("No run step found with id 'step_x'.")
    ):
        runs.steps.retrieve("step_x", thread_id=thread.id, run_id=run.id)
    with pytest.raises(openai.BadRequestError) as model:
        client.beta.assistants.create(model="gpt-nope")
    assert error_message(model.value) == "The requested model 'gpt-nope' does not exist."
    assert model.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="'gpt-nope' does not exist"):
        runs.create(thread_id=thread.id, assistant_id=assistant.id, model="gpt-nope")


def test_crud_and_pagination(client: openai.OpenAI, assistant: Assistant, thread: Thread) -> None:
    renamed = client.beta.assistants.update(assistant.id, name="Renamed", metadata={"v": "2"})
    assert (renamed.name, renamed.metadata) == ("Renamed", {"v": "2"})
    assert [a.id for a in client.beta.assistants.list()] == [assistant.id]
    assert client.beta.threads.update(thread.id, metadata={"k": "v"}).metadata == {"k": "v"}

    texts = ["one", "two", "three"]
    made = [client.beta.threads.messages.create(thread.id, role="user", content=t) for t in texts]
    oldest_first = client.beta.threads.messages.list(thread.id, order="asc", limit=2)
    assert [text_of(m).value for m in oldest_first.data] == ["hello", "one"]
    assert oldest_first.has_more
    after = client.beta.threads.messages.list(thread.id, order="asc", after=made[0].id)
    assert [text_of(m).value for m in after.data] == ["two", "three"]
    before = client.beta.threads.messages.list(thread.id, before=made[0].id)  # desc: newer ones
    assert [text_of(m).value for m in before.data] == ["three", "two"]

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    of_run = client.beta.threads.messages.list(thread.id, run_id=run.id)
    assert [m.role for m in of_run.data] == ["assistant"]
    tagged = client.beta.threads.messages.update(
        made[1].id, thread_id=thread.id, metadata={"a": "b"}
    )
    assert tagged.metadata == {"a": "b"}
    assert client.beta.threads.messages.delete(made[1].id, thread_id=thread.id).deleted
    assert len(client.beta.threads.messages.list(thread.id).data) == 4


def test_create_thread_and_run_streamed(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant
) -> None:
    server.script(Text("Welcome."))
    events = list(
        client.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "hi"}]},
            stream=True,
        )
    )
    assert events[0].event == "thread.created"
    one_delta = [*TEXT_SEQUENCE[:8], *TEXT_SEQUENCE[-3:]]
    assert [e.event for e in events[1:]] == one_delta


def test_chat_only_and_assistants_off_servers_answer_404() -> None:
    for server in (ScriptedServer(chat_only=True), ScriptedServer(assistants=False)):
        with server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
            with pytest.raises(openai.NotFoundError, match="Invalid URL"):
                client.beta.threads.create()


def test_server_records_assistants_objects(
    server: ScriptedServer, client: openai.OpenAI, assistant: Assistant, thread: Thread
) -> None:
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert [a["id"] for a in server.assistants] == [assistant.id]
    assert [t["id"] for t in server.threads] == [thread.id]
    assert [m["role"] for m in server.thread_messages(thread.id)] == ["user", "assistant"]
    assert server.run(run.id)["status"] == "completed"
    assert server.wait_for_run_status(run.id, "completed") == "completed"
    assert [s["type"] for s in server.run_steps(run.id)] == ["message_creation"]
