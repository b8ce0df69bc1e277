"""The scripted server's Vector Stores API and the ``file_search`` hosted tool.

Driven by the real openai SDK over loopback HTTP, every exchange validated against OpenAI's
OpenAPI description.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseFileSearchCallCompletedEvent,
    ResponseFileSearchCallInProgressEvent,
    ResponseFileSearchCallSearchingEvent,
    ResponseFileSearchToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseOutputTextAnnotationAddedEvent,
)
from openai.types.responses.response_output_text import AnnotationFileCitation

from assistant_magic.testing import (
    FileSearch,
    ReplyContext,
    ScriptedServer,
    SearchResult,
    StoredFile,
    Text,
)
from assistant_magic.testing.openapi import TrafficValidator, load_spec
from assistant_magic.testing.responses.file_search_events import file_search_events
from assistant_magic.testing.responses.response import Turn, initial_resource
from assistant_magic.testing.search_plan import SearchPlan, relevance
from assistant_magic.testing.state import ServerState

from conftest import API_KEY as KEY
from conftest import SPEC

MODEL = "gpt-5.4-mini"
REPORT = b"Battle report.\nMamezou: 530,000\nGoku: 8,000\n"
NOTES = b"# Notes\nThe scouter broke at 8,000.\n"
ANSWER = "Mamezou's strength is 530,000."

SEARCH_SEQUENCE = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.file_search_call.in_progress",
    "response.file_search_call.searching",
    "response.file_search_call.completed",
    "response.output_item.done",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.annotation.added",
    "response.output_text.annotation.added",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def search_tool(*vector_store_ids: str, **settings: Any) -> Any:
    return {"type": "file_search", "vector_store_ids": list(vector_store_ids), **settings}


def error_message(error: openai.APIStatusError) -> object:
    """The error body's own message (``error.message`` prefixes "Error code: 404 - ")."""
    assert isinstance(error.body, dict), error.body
    return error.body["message"]


def shelf(client: openai.OpenAI) -> tuple[str, str, str]:
    """A vector store holding report.txt and notes.md: (store id, report id, notes id)."""
    report = client.files.create(file=("report.txt", REPORT), purpose="assistants")
    notes = client.files.create(file=("notes.md", NOTES), purpose="user_data")
    store = client.vector_stores.create(name="thread", file_ids=[report.id, notes.id])
    return store.id, report.id, notes.id


def file_search_call(item: object) -> ResponseFileSearchToolCall:
    assert isinstance(item, ResponseFileSearchToolCall), item
    return item


def file_citations(item: object) -> list[AnnotationFileCitation]:
    assert isinstance(item, ResponseOutputMessage), item
    part = item.content[0]
    assert isinstance(part, ResponseOutputText), part
    assert all(isinstance(a, AnnotationFileCitation) for a in part.annotations)
    return [a for a in part.annotations if isinstance(a, AnnotationFileCitation)]


def _dump(annotation: object) -> object:
    """An announced annotation as a dict (the SDK types it by its own, look-alike class)."""
    dump = getattr(annotation, "model_dump", None)
    return dump() if dump is not None else annotation


# -- the Vector Stores API -----------------------------------------------------------------------


def test_vector_store_lifecycle_through_the_sdk(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    report = client.files.create(file=("report.txt", REPORT), purpose="assistants")
    notes = client.files.create(file=("notes.md", NOTES), purpose="user_data")

    store = client.vector_stores.create(
        name="thread-1",
        file_ids=[report.id],
        metadata={"thread": "t1"},
        expires_after={"anchor": "last_active_at", "days": 2},
    )
    assert store.id.startswith("vs_") and store.object == "vector_store"
    assert (store.name, store.status, store.metadata) == ("thread-1", "completed", {"thread": "t1"})
    assert (store.file_counts.completed, store.file_counts.total) == (1, 1)
    assert store.usage_bytes == len(REPORT)
    assert store.last_active_at is not None
    assert store.expires_at == store.last_active_at + 2 * 24 * 3600

    added = client.vector_stores.files.create(store.id, file_id=notes.id)
    assert (added.id, added.vector_store_id, added.status) == (notes.id, store.id, "completed")
    assert added.last_error is None and added.usage_bytes == len(NOTES)

    listed = client.vector_stores.files.list(store.id, order="asc")
    assert [f.id for f in listed] == [report.id, notes.id]
    assert client.vector_stores.files.retrieve(report.id, vector_store_id=store.id).status == (
        "completed"
    )
    assert [s.id for s in client.vector_stores.list()] == [store.id]
    renamed = client.vector_stores.update(store.id, name="renamed")
    assert renamed.name == "renamed" and renamed.file_counts.total == 2

    removed = client.vector_stores.files.delete(notes.id, vector_store_id=store.id)
    assert (removed.id, removed.deleted, removed.object) == (
        notes.id,
        True,
        "vector_store.file.deleted",
    )
    with pytest.raises(openai.NotFoundError) as gone:
        client.vector_stores.files.retrieve(notes.id, vector_store_id=store.id)
    assert error_message(gone.value) == (
        f"No file found with id '{notes.id}' in vector store '{store.id}'."
    )
    assert client.vector_stores.retrieve(store.id).file_counts.total == 1
    [inspected] = unchecked_server.vector_stores
    assert [f.filename for f in inspected.searchable_files] == ["report.txt"]
    assert [f.id for f in unchecked_server.files] == [report.id, notes.id]  # uploads stay

    deleted = client.vector_stores.delete(store.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (store.id, True, "vector_store.deleted")
    with pytest.raises(openai.NotFoundError) as missing:
        client.vector_stores.retrieve(store.id)
    assert error_message(missing.value) == f"No vector store found with id '{store.id}'."
    assert unchecked_server.vector_stores == []
    assert unchecked_server.validation_errors == []


def test_create_and_poll_waits_while_files_are_in_progress() -> None:
    with ScriptedServer(api_key=KEY, openapi=SPEC, vector_store_file_polls=2) as slow:
        client = openai.OpenAI(base_url=slow.base_url, api_key=KEY)
        upload = client.files.create(file=("report.txt", REPORT), purpose="assistants")
        store = client.vector_stores.create(name="slow")

        done = client.vector_stores.files.create_and_poll(upload.id, vector_store_id=store.id)

        assert done.status == "completed"
        polls = slow.requests_to("GET", f"/vector_stores/{store.id}/files/{upload.id}")
        assert len(polls) == 3  # in_progress, in_progress, completed
        assert polls[0].headers["x-stainless-poll-helper"] == "true"
        assert polls[-1].received_at - polls[0].received_at < 1.0  # openai-poll-after-ms: 10

        slow.vector_store_file_polls = 1
        uploaded = client.vector_stores.files.upload_and_poll(
            vector_store_id=store.id, file=("notes.md", NOTES)
        )
        assert uploaded.status == "completed"
        assert len(slow.requests_to("GET", f"/vector_stores/{store.id}/files/{uploaded.id}")) == 2
        assert slow.validation_errors == []


def test_store_counts_follow_processing() -> None:
    with ScriptedServer(api_key=KEY, openapi=SPEC, vector_store_file_polls=1) as slow:
        client = openai.OpenAI(base_url=slow.base_url, api_key=KEY)
        upload = client.files.create(file=("report.txt", REPORT), purpose="assistants")

        created = client.vector_stores.create(file_ids=[upload.id])
        assert (created.status, created.file_counts.in_progress, created.name) == (
            "in_progress",
            1,
            "",
        )
        [store] = slow.vector_stores
        assert store.searchable_files == []  # not searched before it is processed
        raw = client.vector_stores.with_raw_response.retrieve(created.id)
        assert raw.headers["openai-poll-after-ms"] == "10"
        assert raw.parse().status == "in_progress"  # this read was the one poll

        after = client.vector_stores.retrieve(created.id)
        assert (after.status, after.file_counts.completed) == ("completed", 1)
        assert after.usage_bytes == len(REPORT)
        assert slow.validation_errors == []


def test_unsupported_file_types_fail_processing(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    table = client.files.create(file=("table.csv", b"a,b\n1,2\n"), purpose="assistants")
    store = client.vector_stores.create(name="csv")

    added = client.vector_stores.files.create_and_poll(table.id, vector_store_id=store.id)

    assert added.status == "failed"
    assert added.last_error is not None
    assert (added.last_error.code, added.last_error.message) == (
        "unsupported_file",
        "The file type is not supported.",
    )
    assert client.vector_stores.retrieve(store.id).file_counts.failed == 1
    assert [f.id for f in client.vector_stores.files.list(store.id, filter="failed")] == [table.id]
    assert unchecked_server.validation_errors == []


def test_unknown_ids_are_rejected(unchecked_server: ScriptedServer, client: openai.OpenAI) -> None:
    store = client.vector_stores.create(name="empty")

    with pytest.raises(openai.NotFoundError) as unknown_file:
        client.vector_stores.files.create(store.id, file_id="file-missing")
    with pytest.raises(openai.NotFoundError) as unknown_seed:
        client.vector_stores.create(name="x", file_ids=["file-missing"])
    with pytest.raises(openai.NotFoundError) as unknown_store:
        client.vector_stores.files.list("vs_missing")

    assert error_message(unknown_file.value) == "Files [file-missing] were not found"
    assert unknown_file.value.param == "file_id"
    assert unknown_seed.value.param == "file_ids"
    assert error_message(unknown_store.value) == "No vector store found with id 'vs_missing'."
    # the failed create made nothing
    assert [s.id for s in unchecked_server.vector_stores] == [store.id]
    assert unchecked_server.validation_errors == []


def test_vector_store_requests_are_checked_against_the_spec(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as rejected:
        client.vector_stores.create(
            name="x",
            expires_after={"anchor": "last_active_at", "days": 0},
        )

    assert "expires_after" in rejected.value.message
    assert len(unchecked_server.validation_errors) == 1
    assert "is less than the minimum of 1" in unchecked_server.validation_errors[0]


# -- the file_search tool ------------------------------------------------------------------------


def test_a_streamed_file_search_turn(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, report_id, notes_id = shelf(client)
    unchecked_server.script(FileSearch(queries=["battle strength"], text=ANSWER))

    events = list(
        client.responses.create(
            model=MODEL, input="How strong is Mamezou?", tools=[search_tool(store_id)], stream=True
        )
    )

    assert [e.type for e in events] == SEARCH_SEQUENCE
    added = events[2]
    assert isinstance(added, ResponseOutputItemAddedEvent)
    opened = file_search_call(added.item)
    assert (opened.status, opened.queries, opened.results) == ("in_progress", [], None)
    assert opened.id.startswith("fs_")
    assert isinstance(events[3], ResponseFileSearchCallInProgressEvent)
    assert isinstance(events[4], ResponseFileSearchCallSearchingEvent)
    assert isinstance(events[5], ResponseFileSearchCallCompletedEvent)
    assert {e.item_id for e in events[3:6]} == {opened.id}  # type: ignore[union-attr]

    completed = events[-1]
    assert isinstance(completed, ResponseCompletedEvent)
    response = completed.response
    call = file_search_call(response.output[0])
    assert (call.status, call.queries, call.results) == ("completed", ["battle strength"], None)
    assert response.output_text == ANSWER
    cited = file_citations(response.output[1])
    assert [(c.file_id, c.filename, c.index) for c in cited] == [
        (report_id, "report.txt", len(ANSWER)),
        (notes_id, "notes.md", len(ANSWER)),
    ]
    announced = [e for e in events if isinstance(e, ResponseOutputTextAnnotationAddedEvent)]
    assert [(e.annotation_index, _dump(e.annotation)) for e in announced] == [
        (0, cited[0].model_dump()),
        (1, cited[1].model_dump()),
    ]
    assert unchecked_server.validation_errors == []


def test_a_file_search_turn_without_streaming(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, report_id, _ = shelf(client)
    unchecked_server.script(
        FileSearch(
            queries=["Mamezou", "strength"],
            results=[(report_id, None, "Mamezou: 530,000", 0.92)],
            text=ANSWER,
            cite=[("report.txt", "530,000"), (report_id, 0)],
        )
    )

    response = client.responses.create(
        model=MODEL, input="How strong is Mamezou?", tools=[search_tool(store_id)]
    )

    call = file_search_call(response.output[0])
    assert call.queries == ["Mamezou", "strength"] and call.results is None
    cited = file_citations(response.output[1])
    assert [(c.filename, c.index) for c in cited] == [("report.txt", 0), ("report.txt", 29)]
    assert ANSWER[: cited[1].index].endswith("530,000")
    stored = client.responses.retrieve(response.id)
    assert file_search_call(stored.output[0]).status == "completed"
    assert unchecked_server.validation_errors == []


def test_results_are_sent_when_included(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, report_id, notes_id = shelf(client)
    client.vector_stores.files.update(
        report_id, vector_store_id=store_id, attributes={"kind": "report", "year": 2024}
    )
    unchecked_server.script(
        FileSearch(queries=["Mamezou strength"], text=ANSWER),
        FileSearch(
            queries=["scouter"],
            results=[SearchResult(notes_id, text="The scouter broke.", score=0.81)],
            text="It broke.",
        ),
    )

    found = client.responses.create(
        model=MODEL,
        input="How strong?",
        tools=[search_tool(store_id)],
        include=["file_search_call.results"],
    )
    scripted = client.responses.create(
        model=MODEL,
        input="The scouter?",
        tools=[search_tool(store_id, max_num_results=1)],
        include=["file_search_call.results"],
        stream=True,
    )

    results = file_search_call(found.output[0]).results
    assert results is not None
    assert [(r.file_id, r.filename, r.attributes) for r in results] == [
        (report_id, "report.txt", {"kind": "report", "year": 2024}),  # holds "Mamezou"
        (notes_id, "notes.md", {}),
    ]
    assert results[0].text == REPORT.decode()
    assert results[0].score == relevance(REPORT.decode(), ["Mamezou strength"]) == 0.725
    final = next(e for e in scripted if isinstance(e, ResponseCompletedEvent)).response
    [only] = file_search_call(final.output[0]).results or []
    assert (only.file_id, only.text, only.score) == (notes_id, "The scouter broke.", 0.81)
    assert [c.file_id for c in file_citations(final.output[1])] == [notes_id]
    assert unchecked_server.validation_errors == []


def test_automatic_results_respect_max_num_results(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, _, notes_id = shelf(client)
    unchecked_server.script(FileSearch(queries=["scouter broke"], text="It broke at 8,000."))

    response = client.responses.create(
        model=MODEL,
        input="scouter?",
        tools=[search_tool(store_id, max_num_results=1)],
        include=["file_search_call.results"],
    )

    results = file_search_call(response.output[0]).results or []
    assert [r.file_id for r in results] == [notes_id]
    assert [c.file_id for c in file_citations(response.output[1])] == [notes_id]
    assert unchecked_server.validation_errors == []


def test_reply_factories_can_quote_searchable_files(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, report_id, _ = shelf(client)
    seen: list[ReplyContext] = []

    def quote(context: ReplyContext) -> FileSearch:
        seen.append(context)
        report = next(f for f in context.searchable_files if f.filename == "report.txt")
        line = next(x for x in report.data.decode().splitlines() if x.startswith("Mamezou"))
        return FileSearch(results=[(report.id,)], text=f"The report says {line}.")

    unchecked_server.script(quote)
    response = client.responses.create(
        model=MODEL, input="What does the report say?", tools=[search_tool(store_id)]
    )

    assert response.output_text == "The report says Mamezou: 530,000."
    context = seen[0]
    assert context.vector_store_ids == [store_id]
    assert [s.name for s in context.vector_stores] == ["thread"]
    assert [f.filename for f in context.searchable_files] == ["report.txt", "notes.md"]
    assert all(isinstance(f, StoredFile) for f in context.searchable_files)
    call = file_search_call(response.output[0])
    assert call.queries == ["What does the report say?"]  # the user's words by default
    assert [c.file_id for c in file_citations(response.output[1])] == [report_id]
    assert unchecked_server.validation_errors == []


def test_seeded_vector_stores_are_searched(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    seeded = unchecked_server.add_file(REPORT, filename="report.txt", purpose="assistants")
    store = unchecked_server.add_vector_store(seeded, name="seeded")
    unchecked_server.script(FileSearch(text=ANSWER))

    response = client.responses.create(model=MODEL, input="?", tools=[search_tool(store.id)])

    assert [c.filename for c in file_citations(response.output[1])] == ["report.txt"]
    assert client.vector_stores.retrieve(store.id).name == "seeded"
    assert unchecked_server.validation_errors == []


def test_file_search_without_the_tool_is_recorded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    unchecked_server.script(FileSearch(queries=["strength"], text=ANSWER))

    response = client.responses.create(model=MODEL, input="How strong is Mamezou?")

    assert response.output_text == ANSWER  # answered all the same, citing nothing
    assert file_citations(response.output[1]) == []
    assert unchecked_server.validation_errors == [
        "scripted reply to POST /v1/responses uses the file_search tool, but the request does "
        "not offer it (tools: [])"
    ]


def test_results_must_name_searchable_files(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, _, _ = shelf(client)
    other = client.files.create(file=("other.txt", b"elsewhere"), purpose="assistants")
    unchecked_server.script(
        FileSearch(results=[(other.id, "other.txt", "elsewhere", 0.5)], text="Hm.")
    )

    response = client.responses.create(model=MODEL, input="?", tools=[search_tool(store_id)])

    assert file_citations(response.output[1]) == []  # only searched files are cited
    [mistake] = unchecked_server.validation_errors
    assert mistake.startswith(
        f"scripted FileSearch reply to POST /v1/responses finds '{other.id}', which is not in "
        f"the searched vector stores ['{store_id}']"
    )


def test_files_still_processing_are_not_searched() -> None:
    with ScriptedServer(api_key=KEY, openapi=SPEC, vector_store_file_polls=5) as slow:
        client = openai.OpenAI(base_url=slow.base_url, api_key=KEY)
        store_id, report_id, _ = shelf(client)
        slow.script(
            FileSearch(text=ANSWER),
            FileSearch(text=ANSWER, cite=[(report_id, 0)]),
        )

        unprocessed = client.responses.create(
            model=MODEL,
            input="?",
            tools=[search_tool(store_id)],
            include=["file_search_call.results"],
        )
        assert file_search_call(unprocessed.output[0]).results == []
        assert file_citations(unprocessed.output[1]) == []
        assert slow.validation_errors == []

        client.responses.create(model=MODEL, input="?", tools=[search_tool(store_id)])
        assert slow.validation_errors == [
            f"scripted FileSearch reply to POST /v1/responses cites '{report_id}', whose "
            f"processing is in_progress in {store_id}"
        ]


def test_unknown_vector_stores_in_the_tool_are_rejected(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, _, _ = shelf(client)
    unchecked_server.script(FileSearch(text="never played"))

    with pytest.raises(openai.NotFoundError) as rejected:
        client.responses.create(
            model=MODEL,
            input="?",
            tools=[
                {"type": "function", "name": "f", "parameters": {}, "strict": False},
                search_tool(store_id, "vs_missing"),
            ],
        )

    assert rejected.value.message.endswith("No vector store found with id 'vs_missing'.")
    assert rejected.value.param == "tools[1].vector_store_ids"
    assert len(unchecked_server.unused_replies) == 1  # a rejected request consumes no reply
    assert unchecked_server.validation_errors == []


def test_a_follow_up_sees_the_search_in_its_context(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    store_id, _, _ = shelf(client)
    conversation = client.conversations.create()
    unchecked_server.script(
        FileSearch(text=ANSWER), lambda context: Text(f"{len(context.history)} items")
    )

    client.responses.create(
        model=MODEL, input="?", tools=[search_tool(store_id)], conversation=conversation.id
    )
    follow_up = client.responses.create(model=MODEL, input="more", conversation=conversation.id)

    assert follow_up.output_text == "3 items"
    kinds = [item.type for item in client.conversations.items.list(conversation.id, order="asc")]
    assert kinds == ["message", "file_search_call", "message", "message", "message"]
    assert unchecked_server.validation_errors == []


def test_citations_must_fall_inside_the_text() -> None:
    with pytest.raises(ValueError, match="is not in text"):
        FileSearch(text="abc", cite=[("file-1", "xyz")])
    with pytest.raises(ValueError, match="outside the text"):
        FileSearch(text="abc", cite=[("file-1", 4)])
    assert FileSearch(queries="one").queries == ("one",)


def test_citations_are_announced_as_the_text_reaches_them() -> None:
    validator = TrafficValidator(load_spec(SPEC))
    state = ServerState()
    turn = Turn(
        state,
        initial_resource({"model": MODEL}, conversation_id=None),
        conversation=None,
        context_items=[],
        input_items=[],
    )
    citation = {"type": "file_citation", "file_id": "file-1", "filename": "a.txt", "index": 5}
    reply = FileSearch(text="Alpha beta gamma")
    plan = SearchPlan(["q"], [], [citation])

    events = list(file_search_events(turn, reply, plan, delay=0))

    kinds = [e["type"] for e in events]
    first_delta = kinds.index("response.output_text.delta")
    assert kinds[first_delta + 1] == "response.output_text.annotation.added"  # "Alpha" reaches 5
    assert kinds.count("response.output_text.annotation.added") == 1
    assert [problem for e in events for problem in validator.event_violations(e)] == []
