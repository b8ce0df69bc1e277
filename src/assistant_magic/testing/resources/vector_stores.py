"""The Vector Stores API, and the vector stores a request's ``file_search`` tool searches.

Stores and their files are kept in memory: create, list, retrieve, update and delete stores; add,
list, retrieve, update and remove their files. A file joins a store by ``file_id`` (an upload to
``/v1/files``) and is then processed: by default it is ``completed`` at once, so the openai SDK's
``vector_stores.files.create_and_poll`` / ``upload_and_poll`` return after one read. With
``ScriptedServer(vector_store_file_polls=N)`` a new file reports ``in_progress`` in its create
answer and in the next N reads that report it (a GET of the file, of a file list holding it, of
its store or of a store list holding that, whose ``file_counts`` and ``status`` follow), then
finishes. Reads are counted, not seconds, so tests are exact and fast. Answers that report
unfinished work carry ``openai-poll-after-ms``, the hint the SDK's pollers honour, so polling tests
stay fast. Files whose type file search cannot read (by extension, as the real service judges it)
end ``failed`` with ``last_error`` ``unsupported_file``; only ``completed`` files are searched.

Rules (404s unless said otherwise):

* an unknown store: ``No vector store found with id '<id>'.`` (the real API's words);
* a file that is not in the store: ``No file found with id '<file>' in vector store '<id>'.``
  (the real API's words);
* adding a ``file_id`` that names no upload: ``Files [<id>] were not found`` (the service's words,
  as recorded through Azure OpenAI);
* ``chunk_overlap_tokens`` over half of ``max_chunk_size_tokens``: a 400 in our words;
* a ``file_search`` tool naming an unknown store in ``POST /v1/responses``: ``[scripted server]
  No vector store found with id '<id>'.`` with ``param: "tools[<i>].vector_store_ids"``, before
  any reply is consumed (the real status and wording there are unverified).
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..crud import Collection, list_page
from ..routing import Routes
from ..state import AUTO_CHUNKING, ServerState, StoredFile, VectorStore, VectorStoreFile
from ..tool_choice import find_tool
from ..wire import (
    Answer,
    ApiFailure,
    JsonAnswer,
    RecordedRequest,
    json_object,
    poll_answer,
    scripted_failure,
)
from .files import named_uploads

#: Extensions the file search tool reads (the documented list of supported files).
SEARCHABLE_EXTENSIONS = frozenset(
    {"c", "cpp", "cs", "css", "doc", "docx", "go", "html", "java", "js", "json", "md", "pdf"}
    | {"php", "pptx", "py", "rb", "sh", "tex", "ts", "txt"}
)
UNSUPPORTED_FILE = {"code": "unsupported_file", "message": "The file type is not supported."}


class VectorStoresApi:
    """``file_polls``: reads a new file stays ``in_progress`` for (see the module doc)."""

    def __init__(self, state: ServerState, *, file_polls: int = 0) -> None:
        self.state = state
        self.file_polls = file_polls
        self.stores = Collection(
            state,
            "/vector_stores/{vector_store_id}",
            state.vector_stores,
            _no_store,
            VectorStore.resource,
        )
        # Removing a file from a store leaves the upload in /v1/files.
        self.files = self.stores.within(
            "files/{file_id}", lambda store: store.files, _no_store_file, VectorStoreFile.resource
        )

    def register(self, routes: Routes) -> None:
        self.stores.register(
            routes,
            create=self.create,
            listing=self.list,
            retrieve=self.retrieve,
            update=self.update,
        )
        self.files.register(
            routes,
            create=self.add_file,
            listing=self.list_files,
            retrieve=self.get_file,
            update=self.update_file,
        )

    # -- stores ----------------------------------------------------------------------------

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        uploads = find_uploads(self.state, body.get("file_ids") or [], "file_ids")
        chunking = _chunking(body.get("chunking_strategy"), "chunking_strategy")
        store = new_vector_store(
            self.state,
            name=str(body.get("name") or ""),
            metadata=body.get("metadata"),
            expires_after=body.get("expires_after"),
        )
        with self.state.lock:
            for upload in uploads:
                add_store_file(self.state, store, upload, self.file_polls, chunking=chunking)
            return poll_answer(store.resource(), busy=store.status == "in_progress")

    def list(self, request: RecordedRequest) -> Answer:
        with self.state.lock:
            stores = list(self.state.vector_stores.values())
            page = list_page([s.resource() for s in stores], request.query)
            shown = {resource["id"] for resource in page["data"]}
            files = [f for s in stores if s.id in shown for f in s.files.values()]
            _polled(files)
        return poll_answer(page, busy=any(s["status"] == "in_progress" for s in page["data"]))

    def retrieve(self, request: RecordedRequest) -> Answer:
        with self.state.lock:
            store = self.stores.find(request)
            resource = store.resource()
            _polled(store.files.values())
        return poll_answer(resource, busy=resource["status"] == "in_progress")

    def update(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        with self.state.lock:
            store = self.stores.find(request)
            if "name" in body:
                store.name = str(body.get("name") or "")
            if "expires_after" in body:
                expiry = body.get("expires_after")
                store.expires_after = dict(expiry) if isinstance(expiry, Mapping) else None
            if "metadata" in body:
                store.metadata = dict(body.get("metadata") or {})
            store.last_active_at = int(time.time())
            self.state.changed()
            return JsonAnswer(store.resource())

    # -- files -----------------------------------------------------------------------------

    def add_file(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        with self.state.lock:
            store = self.stores.find(request)
        upload = find_uploads(self.state, [body.get("file_id")], "file_id")[0]
        chunking = _chunking(body.get("chunking_strategy"), "chunking_strategy")
        with self.state.lock:
            added = add_store_file(
                self.state,
                store,
                upload,
                self.file_polls,
                chunking=chunking,
                attributes=body.get("attributes"),
            )
            return poll_answer(added.resource(), busy=added.status == "in_progress")

    def list_files(self, request: RecordedRequest) -> Answer:
        wanted = request.query.get("filter")
        with self.state.lock:
            store = self.stores.find(request)
            files = [f for f in store.files.values() if wanted in (None, f.status)]
            page = list_page([f.resource() for f in files], request.query)
            shown = {resource["id"] for resource in page["data"]}
            _polled(f for f in files if f.id in shown)
        return poll_answer(page, busy=any(f["status"] == "in_progress" for f in page["data"]))

    def get_file(self, request: RecordedRequest) -> Answer:
        with self.state.lock:
            found = self.files.find(request)
            resource = found.resource()
            _polled([found])
        return poll_answer(resource, busy=resource["status"] == "in_progress")

    def update_file(self, request: RecordedRequest) -> Answer:
        attributes = json_object(request.body).get("attributes")
        with self.state.lock:
            found = self.files.find(request)
            found.attributes = dict(attributes) if isinstance(attributes, Mapping) else {}
            self.state.changed()
            return JsonAnswer(found.resource())


# -- shared with the server and the Responses API -------------------------------------------------


def find_store(state: ServerState, vector_store_id: str) -> VectorStore:
    with state.lock:
        store = state.vector_stores.get(vector_store_id)
    if store is None:
        raise no_store(vector_store_id)
    return store


def no_store(vector_store_id: str) -> ApiFailure:
    return ApiFailure(404, f"No vector store found with id '{vector_store_id}'.")


def find_uploads(state: ServerState, file_ids: Sequence[object], param: str) -> list[StoredFile]:
    """The uploads ``file_ids`` name, or the service's 404 naming those that do not exist."""
    found, missing = named_uploads(state, file_ids)
    if missing:
        raise ApiFailure(404, f"Files [{', '.join(missing)}] were not found", param=param)
    return found


def new_vector_store(
    state: ServerState,
    *,
    name: str = "",
    metadata: object = None,
    expires_after: object = None,
) -> VectorStore:
    store = VectorStore(
        f"vs_{secrets.token_hex(16)}",  # the real shape: 32 hex digits
        name,
        metadata=dict(metadata) if isinstance(metadata, Mapping) else {},
        expires_after=dict(expires_after) if isinstance(expires_after, Mapping) else None,
    )
    with state.lock:
        state.vector_stores[store.id] = store
        state.changed()
    return store


def add_store_file(
    state: ServerState,
    store: VectorStore,
    upload: StoredFile,
    polls: int,
    *,
    chunking: Mapping[str, Any] | None = None,
    attributes: object = None,
) -> VectorStoreFile:
    """Add (or re-add) ``upload`` to ``store``; it is processed over ``polls`` reads."""
    added = VectorStoreFile(
        upload,
        store.id,
        polls_left=max(0, polls),
        attributes=dict(attributes) if isinstance(attributes, Mapping) else {},
        chunking_strategy=copy.deepcopy(dict(chunking or AUTO_CHUNKING)),
        last_error=None if searchable_type(upload.filename) else dict(UNSUPPORTED_FILE),
    )
    with state.lock:
        store.files.pop(upload.id, None)
        store.files[upload.id] = added
        store.last_active_at = added.created_at
        state.changed()
    return added


def searchable_type(filename: str) -> bool:
    """Whether file search reads files of this name's type."""
    _, dot, extension = filename.rpartition(".")
    return bool(dot) and extension.lower() in SEARCHABLE_EXTENSIONS


def searched_stores(state: ServerState, body: Mapping[str, Any]) -> list[VectorStore]:
    """Snapshots of the stores the request's ``file_search`` tool names, checked to exist
    (before any reply is consumed); empty when the request offers no such tool."""
    found = find_tool(body, "file_search")
    if found is None:
        return []
    index, tool = found
    ids = tool.get("vector_store_ids")
    stores = []
    with state.lock:
        for vector_store_id in ids if isinstance(ids, list) else []:
            store = state.vector_stores.get(str(vector_store_id))
            if store is None:
                raise scripted_failure(
                    404,
                    f"No vector store found with id '{vector_store_id}'.",
                    param=f"tools[{index}].vector_store_ids",
                )
            store.last_active_at = int(time.time())
            stores.append(store.snapshot())
    return stores


# -- helpers --------------------------------------------------------------------------------------


def _polled(files: Iterable[VectorStoreFile]) -> None:
    """The client read these files' status: each unfinished one is one read nearer to done."""
    for found in files:
        if found.polls_left > 0:
            found.polls_left -= 1


def _chunking(strategy: object, param: str) -> dict[str, Any]:
    """The strategy a file reports: ``auto`` is reported as the static 800/400 it stands for."""
    if not isinstance(strategy, Mapping) or strategy.get("type") != "static":
        return copy.deepcopy(AUTO_CHUNKING)
    static = strategy.get("static")
    settings = dict(static) if isinstance(static, Mapping) else {}
    size = int(settings.get("max_chunk_size_tokens", 800))
    overlap = int(settings.get("chunk_overlap_tokens", 400))
    if overlap > size // 2:
        raise scripted_failure(
            400,
            "'chunk_overlap_tokens' must not exceed half of 'max_chunk_size_tokens'.",
            param=f"{param}.static.chunk_overlap_tokens",
        )
    return {
        "type": "static",
        "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap},
    }


def _no_store(request: RecordedRequest) -> ApiFailure:
    return no_store(request.param("vector_store_id"))


def _no_store_file(request: RecordedRequest) -> ApiFailure:
    file_id, store_id = request.param("file_id"), request.param("vector_store_id")
    return ApiFailure(404, f"No file found with id '{file_id}' in vector store '{store_id}'.")
