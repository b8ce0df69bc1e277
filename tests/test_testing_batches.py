"""The scripted server's Batch API, driven by the real openai SDK over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from assistant_magic.testing import HttpError, ReplyContext, ScriptedServer, Text

from conftest import API_KEY, SPEC

MODEL = "gpt-5.4-mini"


@pytest.fixture
def sdk(server: ScriptedServer) -> openai.OpenAI:
    """The SDK on the checking `server` (its teardown asserts no validation errors)."""
    return openai.OpenAI(base_url=server.base_url, api_key=API_KEY)


def responses_line(custom_id: str, text: str, **body: Any) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/responses",
        "body": {"model": MODEL, "input": text, **body},
    }


def chat_line(custom_id: str, text: str) -> dict[str, Any]:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": MODEL, "messages": [{"role": "user", "content": text}]},
    }


def upload(client: openai.OpenAI, *lines: dict[str, Any] | str, purpose: str = "batch") -> str:
    """A JSONL input file of ``lines`` (a str is written as it is: a malformed line)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return client.files.create(file=("rows.jsonl", text.encode()), purpose=purpose).id  # type: ignore[arg-type]


def start(
    client: openai.OpenAI, file_id: str, endpoint: str = "/v1/responses"
) -> openai.types.Batch:
    return client.batches.create(
        input_file_id=file_id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        metadata={"job": "rows"},
    )


def jsonl(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def by_custom_id(lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {line["custom_id"]: line for line in lines}


def shout(context: ReplyContext) -> Text:
    """Answers each row by its own content."""
    return Text(f"{context.last_user_text}!".upper())


def walk(client: openai.OpenAI, batch_id: str) -> Iterator[openai.types.Batch]:
    """Retrieve until the batch ends, yielding each answer."""
    for _ in range(20):
        batch = client.batches.retrieve(batch_id)
        yield batch
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            return
    raise AssertionError("the batch never ended")


# -- whole batches -------------------------------------------------------------------------------


def test_a_responses_batch_answers_each_line_from_the_script(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    server.batch_polls_per_state = 0
    server.script(shout, shout, shout)
    file_id = upload(sdk, *(responses_line(f"row-{i}", word) for i, word in enumerate("abc")))

    created = start(sdk, file_id)
    assert (created.status, created.endpoint, created.input_file_id) == (
        "validating",
        "/v1/responses",
        file_id,
    )
    assert created.id.startswith("batch_") and created.metadata == {"job": "rows"}
    assert created.expires_at == created.created_at + 24 * 3600
    assert server.unused_replies == [shout, shout, shout]  # nothing played before it runs

    done = sdk.batches.retrieve(created.id)
    assert done.status == "completed" and done.error_file_id is None
    assert done.request_counts is not None
    assert done.request_counts.model_dump() == {"total": 3, "completed": 3, "failed": 0}
    assert done.model == MODEL and done.usage is not None and done.usage.output_tokens == 3
    assert None not in (done.in_progress_at, done.finalizing_at, done.completed_at)
    assert server.unused_replies == []

    output = jsonl(sdk, done.output_file_id)
    assert [line["custom_id"] for line in output] == ["row-0", "row-1", "row-2"]
    for line, word in zip(output, "abc", strict=True):
        assert line["id"].startswith("batch_req_") and line["error"] is None
        assert line["response"]["status_code"] == 200 and line["response"]["request_id"]
        body = line["response"]["body"]
        assert body["object"] == "response" and body["status"] == "completed"
        assert body["output"][0]["content"][0]["text"] == f"{word}!".upper()
    stored = sdk.files.retrieve(done.output_file_id or "")
    assert (stored.purpose, stored.filename) == ("batch_output", f"{done.id}_output.jsonl")
    assert server.batch(done.id)["status"] == "completed"
    assert server.requests_to("POST", "/responses") == []  # lines are not HTTP requests


def test_a_chat_batch_reads_back_from_a_new_client(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    server.batch_polls_per_state = 0
    server.script(shout, shout)
    file_id = upload(sdk, chat_line("q1", "tea"), chat_line("q2", "milk"))
    batch_id = start(sdk, file_id, "/v1/chat/completions").id

    # A new kernel knows only the id: it lists and retrieves with a client of its own.
    later = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
    assert [batch.id for batch in later.batches.list()] == [batch_id]
    done = later.batches.retrieve(batch_id)
    assert done.status == "completed"
    output = by_custom_id(jsonl(later, done.output_file_id))
    answers = {
        custom_id: line["response"]["body"]["choices"][0]["message"]["content"]
        for custom_id, line in output.items()
    }
    assert answers == {"q1": "TEA!", "q2": "MILK!"}
    assert output["q1"]["response"]["body"]["object"] == "chat.completion"
    assert done.usage is not None and done.usage.total_tokens > 0


def test_endpoints_the_server_does_not_speak_answer_each_line_with_an_error(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    server.batch_polls_per_state = 0
    line = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings", "body": {"model": "m"}}
    batch_id = start(sdk, upload(sdk, line), "/v1/embeddings").id

    done = sdk.batches.retrieve(batch_id)
    assert done.status == "completed" and done.output_file_id is None
    (error,) = jsonl(sdk, done.error_file_id)
    assert error["response"]["status_code"] == 404
    assert error["response"]["body"]["error"]["message"] == "Invalid URL (POST /v1/embeddings)"


# -- the pace ------------------------------------------------------------------------------------


def test_each_state_lasts_batch_polls_per_state_retrievals(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    assert server.batch_polls_per_state == 1  # the default
    file_id = upload(sdk, *(responses_line(f"r{i}", f"row {i}") for i in range(4)))
    created = start(sdk, file_id)

    seen = [
        (b.status, b.request_counts.completed if b.request_counts else None)
        for b in walk(sdk, created.id)
    ]
    assert seen == [("in_progress", 2), ("finalizing", 4), ("completed", 4)]
    done = server.batch(created.id)
    assert (
        created.created_at
        <= done["in_progress_at"]
        <= done["finalizing_at"]
        <= done["completed_at"]
    )

    server.batch_polls_per_state = 2
    created = start(sdk, upload(sdk, *(responses_line(f"r{i}", "x") for i in range(3))))
    seen = [
        (b.status, b.request_counts.completed if b.request_counts else None)
        for b in walk(sdk, created.id)
    ]
    assert seen == [
        ("validating", 0),
        ("in_progress", 1),
        ("in_progress", 2),
        ("finalizing", 3),
        ("finalizing", 3),
        ("completed", 3),
    ]


# -- lines that fail -----------------------------------------------------------------------------


def test_failed_lines_go_to_the_error_file_with_their_status_and_body(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    server.batch_polls_per_state = 0
    server.script(Text("fine"), HttpError(429), Text("also fine"))
    file_id = upload(
        sdk,
        responses_line("ok-1", "a"),
        responses_line("limited", "b"),
        responses_line("ok-2", "c"),
        responses_line("streams", "d", stream=True),
    )
    done = sdk.batches.retrieve(start(sdk, file_id).id)

    assert done.status == "completed"
    assert done.request_counts is not None
    assert done.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 2}
    assert [line["custom_id"] for line in jsonl(sdk, done.output_file_id)] == ["ok-1", "ok-2"]
    errors = by_custom_id(jsonl(sdk, done.error_file_id))
    assert errors["limited"]["error"] is None
    assert errors["limited"]["response"]["status_code"] == 429
    assert errors["limited"]["response"]["body"]["error"]["code"] == "rate_limit_exceeded"
    assert errors["streams"]["response"]["status_code"] == 400
    assert errors["streams"]["response"]["body"]["error"]["param"] == "stream"


def test_a_line_the_spec_refuses_fails_as_a_live_request_would(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.batch_polls_per_state = 0
    file_id = upload(
        client, responses_line("bad", "a", temperature="hot"), responses_line("good", "b")
    )
    done = client.batches.retrieve(start(client, file_id).id)

    assert done.request_counts is not None and done.request_counts.failed == 1
    (bad,) = jsonl(client, done.error_file_id)
    assert bad["custom_id"] == "bad" and bad["response"]["status_code"] == 400
    assert "temperature" in bad["response"]["body"]["error"]["message"]
    assert [e for e in unchecked_server.validation_errors if "temperature" in e]
    assert unchecked_server.unused_replies == []  # the refused line took no reply


# -- how batches end early -----------------------------------------------------------------------


def test_an_expired_batch_sends_its_unplayed_lines_to_the_error_file(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    file_id = upload(sdk, *(responses_line(f"r{i}", f"row {i}") for i in range(4)))
    batch_id = start(sdk, file_id).id
    assert sdk.batches.retrieve(batch_id).status == "in_progress"  # half played

    expired = server.expire_batch(batch_id)
    assert expired["status"] == "expired" and expired["expired_at"] >= expired["created_at"]
    seen = sdk.batches.retrieve(batch_id)
    assert seen.status == "expired"
    assert seen.request_counts is not None
    assert seen.request_counts.model_dump() == {"total": 4, "completed": 2, "failed": 0}
    assert [line["custom_id"] for line in jsonl(sdk, seen.output_file_id)] == ["r0", "r1"]
    errors = jsonl(sdk, seen.error_file_id)
    assert [line["custom_id"] for line in errors] == ["r2", "r3"]
    assert errors[0]["response"] is None
    assert errors[0]["error"] == {
        "code": "batch_expired",
        "message": "This request could not be executed before the completion window expired.",
    }
    with pytest.raises(ValueError, match="already ended expired"):
        server.expire_batch(batch_id)


def test_a_cancelled_batch_keeps_its_partial_results(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    file_id = upload(sdk, *(responses_line(f"r{i}", f"row {i}") for i in range(2)))
    batch_id = start(sdk, file_id).id
    assert sdk.batches.retrieve(batch_id).status == "in_progress"

    cancelling = sdk.batches.cancel(batch_id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    assert sdk.batches.cancel(batch_id).status == "cancelling"  # asking again changes nothing
    cancelled = sdk.batches.retrieve(batch_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert [line["custom_id"] for line in jsonl(sdk, cancelled.output_file_id)] == ["r0"]
    (unplayed,) = jsonl(sdk, cancelled.error_file_id)
    assert unplayed["custom_id"] == "r1" and unplayed["error"]["code"] == "batch_cancelled"

    with pytest.raises(openai.BadRequestError, match="Cannot cancel a batch with status"):
        sdk.batches.cancel(batch_id)


# -- refusals ------------------------------------------------------------------------------------


def test_a_batch_needs_an_existing_batch_file(server: ScriptedServer, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        start(sdk, "file-nothing")
    assert missing.value.body == {
        "message": "No such File object: file-nothing",
        "type": "invalid_request_error",
        "param": "input_file_id",
        "code": None,
    }
    wrong = upload(sdk, responses_line("a", "b"), purpose="user_data")
    with pytest.raises(openai.BadRequestError) as refused:
        start(sdk, wrong)
    assert isinstance(refused.value.body, dict)
    assert refused.value.body["param"] == "input_file_id"
    assert "purpose 'user_data'" in refused.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        sdk.batches.retrieve("batch_nothing")
    assert server.batches == []


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        (
            [responses_line("a", "x"), "{not json"],
            {
                "code": "invalid_json_line",
                "message": "This line is not parseable as valid JSON.",
                "param": None,
                "line": 2,
            },
        ),
        (
            [responses_line("a", "x"), responses_line("b", "y"), responses_line("a", "z")],
            {
                "code": "duplicate_custom_id",
                "message": "The custom_id for this request is a duplicate of another request. "
                "The custom_id parameter must be unique for each request in a batch.",
                "param": "custom_id",
                "line": 3,
            },
        ),
        ([chat_line("a", "x")], {"code": "url_mismatch", "param": "url", "line": 1}),
        (
            [responses_line("a", "x"), {**responses_line("b", "y"), "body": {"model": "o"}}],
            {"code": "model_mismatch", "param": "body.model", "line": 2},
        ),
        (
            [{"custom_id": "a", "method": "POST", "url": "/v1/responses"}],
            {"code": "missing_required_parameter", "param": "body", "line": 1},
        ),
        ([], {"code": "empty_file", "line": None}),
    ],
    ids=["malformed", "duplicate", "url", "model", "missing", "empty"],
)
def test_an_input_file_that_does_not_read_fails_the_batch(
    server: ScriptedServer, sdk: openai.OpenAI, lines: list[Any], error: dict[str, Any]
) -> None:
    server.script(shout)
    batch = start(sdk, upload(sdk, *lines))
    failed = sdk.batches.retrieve(batch.id)

    assert failed.status == "failed" and failed.failed_at is not None
    assert failed.in_progress_at is None and failed.output_file_id is None
    assert failed.errors is not None and failed.errors.data is not None
    (reported,) = [e.model_dump() for e in failed.errors.data]
    assert {key: reported[key] for key in error} == error
    assert server.unused_replies == [shout]  # no line was played


# -- listing -------------------------------------------------------------------------------------


def test_batches_are_listed_newest_first_in_pages(
    server: ScriptedServer, sdk: openai.OpenAI
) -> None:
    file_id = upload(sdk, responses_line("a", "x"))
    ids = [start(sdk, file_id).id for _ in range(3)]

    first = sdk.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[:0:-1] and first.has_more
    rest = sdk.batches.list(limit=2, after=ids[1])
    assert [b.id for b in rest.data] == [ids[0]] and not rest.has_more
    assert [b.id for b in sdk.batches.list(limit=2)] == ids[::-1]  # the SDK pages on by itself
    assert [b["id"] for b in server.batches] == ids
    # Listing moves none on.
    assert {b["status"] for b in server.batches} == {"validating"}


def test_batch_rules_hold_without_the_spec() -> None:
    with ScriptedServer(api_key=API_KEY) as bare:
        client = openai.OpenAI(base_url=bare.base_url, api_key=API_KEY)
        file_id = upload(client, responses_line("a", "x"))
        with pytest.raises(openai.BadRequestError, match="completion_window"):
            client.batches.create(
                input_file_id=file_id,
                endpoint="/v1/responses",
                completion_window="1h",  # type: ignore[arg-type]
            )
        with pytest.raises(openai.BadRequestError, match="Missing required parameter: 'endpoint'"):
            client.post(
                "/batches",
                body={"input_file_id": file_id, "completion_window": "24h"},
                cast_to=object,
            )
        assert bare.validation_errors == []


def test_the_spec_describes_what_the_server_answers() -> None:
    # The fixtures above check every answer already; this one pins that they ran checked.
    with ScriptedServer(api_key=API_KEY, openapi=SPEC, batch_polls_per_state=0) as checked:
        assert checked.validator is not None
        client = openai.OpenAI(base_url=checked.base_url, api_key=API_KEY)
        batch = start(client, upload(client, responses_line("a", "x")))
        assert client.batches.retrieve(batch.id).status == "completed"
        assert checked.validation_errors == []
