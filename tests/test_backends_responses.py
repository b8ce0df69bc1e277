"""The Responses dialect over real HTTP: what each wire outcome becomes as events."""

from __future__ import annotations

import pytest

from assistant_magic.backends.interface import RemoteThread, TurnRequest
from assistant_magic.backends.responses import ResponsesBackend
from assistant_magic.errors import ApiError
from assistant_magic.events import (
    Event,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    TurnFinished,
    Usage,
    UsageReported,
)
from assistant_magic.settings import resolve
from assistant_magic.testing import HttpError, ScriptedServer, Text

from conftest import API_KEY


@pytest.fixture
def backend(server: ScriptedServer) -> ResponsesBackend:
    settings = resolve(
        model="gpt-5.4-mini",
        instructions="",
        base_url=server.base_url,
        api="responses",
        api_key_env="KEY",
        timeout=30,
        max_retries=0,
        environ={"KEY": API_KEY},
    )
    created = ResponsesBackend(settings)
    yield created  # type: ignore[misc]
    created.close()


#: What a first turn would send; the Responses API's conversation does not depend on it.
FIRST = TurnRequest(model="gpt-5.4-mini", instructions="", remote_thread=None, user_text="Hi")


def turn(
    backend: ResponsesBackend, conversation: RemoteThread | None, text: str = "Hi"
) -> list[Event]:
    request = TurnRequest(
        user_text=text,
        model="gpt-5.4-mini",
        instructions="Be brief.",
        remote_thread=conversation,
    )
    return list(backend.stream_turn(request))


def test_a_completed_turn(backend: ResponsesBackend, server: ScriptedServer) -> None:
    conversation = backend.create_thread(FIRST)
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
    events = turn(backend, conversation)
    assert isinstance(events[0], ResponseStarted)
    assert events[1] == StatusChanged("in_progress")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo ", "there."]
    usage = Usage(input_tokens=10, output_tokens=3, total_tokens=13, cached_tokens=4)
    assert events[-2] == UsageReported(usage)
    end = events[-1]
    assert isinstance(end, TurnFinished)
    assert (end.status, end.text, end.usage, end.error) == (
        "completed",
        "Hello there.",
        usage,
        None,
    )
    assert end.response_id == events[0].response_id  # type: ignore[union-attr]
    body = server.requests_to("POST", "/v1/responses")[0].body
    assert body["conversation"] == conversation.id and body["instructions"] == "Be brief."


def test_queued_incomplete_and_failed(backend: ResponsesBackend, server: ScriptedServer) -> None:
    server.script(Text("Wait for it.", queued=True))
    statuses = [e.status for e in turn(backend, None) if isinstance(e, StatusChanged)]
    # response.created (status queued), response.queued, response.in_progress
    assert statuses == ["queued", "queued", "in_progress"]

    server.script(Text("Cut", status="incomplete"))
    end = turn(backend, None)[-1]
    assert isinstance(end, TurnFinished)
    assert (end.status, end.text, end.error) == (
        "incomplete",
        "Cut",
        "stopped early: max_output_tokens",
    )

    server.script(Text("one two three", fail_after=1, fail_message="The model broke."))
    end = turn(backend, None)[-1]
    assert isinstance(end, TurnFinished)
    assert end.status == "failed"
    assert end.error == "server_error: The model broke."
    assert end.text == "one"


def test_http_errors_become_one_line_api_errors(
    backend: ResponsesBackend, server: ScriptedServer
) -> None:
    server.script(HttpError(500, "Boom."))
    with pytest.raises(ApiError) as info:
        turn(backend, None)
    assert info.value.status == 500
    assert str(info.value).startswith(f"{server.base_url} failed (500): Boom.")


def test_a_broken_connection_mid_answer_is_one_line(
    backend: ResponsesBackend, server: ScriptedServer
) -> None:
    server.script(Text("one two three four", hang_up_after=2))
    seen: list[Event] = []
    request = TurnRequest(user_text="Hi", model="gpt-5.4-mini", instructions="", remote_thread=None)
    with pytest.raises(ApiError) as info:
        for event in backend.stream_turn(request):
            seen.append(event)
    assert str(info.value).startswith(f"Lost the connection to {server.base_url}")
    assert "%assistant retry" in str(info.value)
    assert "".join(e.text for e in seen if isinstance(e, TextDelta)) == "one two"


def test_a_deleted_conversation_says_how_to_go_on(backend: ResponsesBackend) -> None:
    conversation = backend.create_thread(FIRST)
    assert conversation is not None
    backend.delete_thread(conversation)
    backend.delete_thread(conversation)  # deleting twice is fine for the user
    with pytest.raises(ApiError, match="thread new"):
        turn(backend, conversation)


def test_cancel_sends_nothing_for_a_foreground_response(
    backend: ResponsesBackend, server: ScriptedServer
) -> None:
    events = turn(backend, None)
    started = events[0]
    assert isinstance(started, ResponseStarted)
    before = len(server.requests)
    backend.cancel(started.response_id)  # only background responses can be cancelled
    assert len(server.requests) == before


def test_closing_the_stream_early_hangs_up(
    backend: ResponsesBackend, server: ScriptedServer
) -> None:
    words = [f"w{i} " for i in range(50)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.02))
    request = TurnRequest(
        user_text="Go",
        model="gpt-5.4-mini",
        instructions="",
        remote_thread=backend.create_thread(FIRST),
    )
    stream = backend.stream_turn(request)
    for event in stream:
        if isinstance(event, TextDelta):
            break
    stream.close()
    response_id = server.wait_for_disconnect()
    assert server.response(response_id)["status"] == "cancelled"
