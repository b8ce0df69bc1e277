"""The Responses dialect over real HTTP: what each wire outcome becomes as events."""

from __future__ import annotations

import pytest

from assistant_magic.dialects.interface import RemoteThread, ResponseRequest
from assistant_magic.dialects.responses import ResponsesDialect
from assistant_magic.errors import ApiError
from assistant_magic.events import (
    Event,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    Usage,
    UsageReported,
)
from assistant_magic.settings import resolve
from assistant_magic.testing import HttpError, ScriptedServer, Text

from conftest import API_KEY


@pytest.fixture
def dialect(server: ScriptedServer) -> ResponsesDialect:
    settings = resolve(
        model="gpt-5.4-mini",
        instructions="",
        base_url=server.base_url,
        dialect="responses",
        api_key_env="KEY",
        timeout=30,
        max_retries=0,
        environ={"KEY": API_KEY},
    )
    created = ResponsesDialect(settings)
    yield created  # type: ignore[misc]
    created.close()


#: What a first ask would send; the Responses API's conversation does not depend on it.
FIRST = ResponseRequest(model="gpt-5.4-mini", instructions="", remote_thread=None, user_text="Hi")


def respond(
    dialect: ResponsesDialect, conversation: RemoteThread | None, text: str = "Hi"
) -> list[Event]:
    request = ResponseRequest(
        user_text=text,
        model="gpt-5.4-mini",
        instructions="Be brief.",
        remote_thread=conversation,
    )
    return list(dialect.stream(request))


def test_a_completed_response(dialect: ResponsesDialect, server: ScriptedServer) -> None:
    conversation = dialect.create_thread(FIRST)
    assert conversation is not None and conversation.id.startswith("conv_")
    server.script(
        Text(
            "Hello there.",
            chunks=["Hel", "lo ", "there."],
            usage={
                "input_tokens": 10,
                "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
                "output_tokens": 3,
                "total_tokens": 13,
            },
        )
    )
    events = respond(dialect, conversation)
    assert isinstance(events[0], ResponseStarted)
    assert events[1] == StatusChanged("in_progress")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo ", "there."]
    usage = Usage(input_tokens=10, output_tokens=3, total_tokens=13, cached_tokens=4)
    assert events[-2] == UsageReported(usage)
    end = events[-1]
    assert isinstance(end, ResponseFinished)
    assert (end.status, end.text, end.usage, end.error) == (
        "completed",
        "Hello there.",
        usage,
        None,
    )
    assert end.response_id == events[0].response_id  # type: ignore[union-attr]
    body = server.requests_to("POST", "/v1/responses")[0].body
    assert body["conversation"] == conversation.id and body["instructions"] == "Be brief."


def test_queued_incomplete_and_failed(dialect: ResponsesDialect, server: ScriptedServer) -> None:
    server.script(Text("Wait for it.", queued=True))
    statuses = [e.status for e in respond(dialect, None) if isinstance(e, StatusChanged)]
    # response.created (status queued), response.queued, response.in_progress
    assert statuses == ["queued", "queued", "in_progress"]

    server.script(Text("Cut", status="incomplete"))
    end = respond(dialect, None)[-1]
    assert isinstance(end, ResponseFinished)
    assert (end.status, end.text, end.error) == (
        "incomplete",
        "Cut",
        "stopped early: max_output_tokens",
    )

    server.script(Text("one two three", fail_after=1, fail_message="The model broke."))
    end = respond(dialect, None)[-1]
    assert isinstance(end, ResponseFinished)
    assert end.status == "failed"
    assert end.error == "server_error: The model broke."
    assert end.text == "one"


def test_http_errors_become_one_line_api_errors(
    dialect: ResponsesDialect, server: ScriptedServer
) -> None:
    server.script(HttpError(500, "Boom."))
    with pytest.raises(ApiError) as info:
        respond(dialect, None)
    assert info.value.status == 500
    assert str(info.value).startswith(f"{server.base_url} failed (500): Boom.")


def test_a_broken_connection_mid_answer_is_one_line(
    dialect: ResponsesDialect, server: ScriptedServer
) -> None:
    server.script(Text("one two three four", hang_up_after=2))
    seen: list[Event] = []
    request = ResponseRequest(
        user_text="Hi", model="gpt-5.4-mini", instructions="", remote_thread=None
    )
    with pytest.raises(ApiError) as info:
        for event in dialect.stream(request):
            seen.append(event)
    assert str(info.value).startswith(f"Lost the connection to {server.base_url}")
    assert "%assistant retry" in str(info.value)
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == "one two"


def test_a_deleted_conversation_says_how_to_go_on(dialect: ResponsesDialect) -> None:
    conversation = dialect.create_thread(FIRST)
    assert conversation is not None
    dialect.delete_thread(conversation)
    dialect.delete_thread(conversation)  # deleting twice is fine for the user
    with pytest.raises(ApiError, match="thread new"):
        respond(dialect, conversation)


def test_cancel_sends_nothing_for_a_foreground_response(
    dialect: ResponsesDialect, server: ScriptedServer
) -> None:
    events = respond(dialect, None)
    started = events[0]
    assert isinstance(started, ResponseStarted)
    before = len(server.requests)
    dialect.cancel(started.response_id)  # only background responses can be cancelled
    assert len(server.requests) == before


def test_closing_the_stream_early_hangs_up(
    dialect: ResponsesDialect, server: ScriptedServer
) -> None:
    words = [f"w{i} " for i in range(50)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.02))
    request = ResponseRequest(
        user_text="Go",
        model="gpt-5.4-mini",
        instructions="",
        remote_thread=dialect.create_thread(FIRST),
    )
    stream = dialect.stream(request)
    for event in stream:
        if isinstance(event, TextDelta):
            break
    stream.close()
    response_id = server.wait_for_disconnect()
    assert server.response(response_id)["status"] == "cancelled"
