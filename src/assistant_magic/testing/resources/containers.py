"""The Containers API, and the containers scripted code interpreter calls run in.

A ``CodeInterpreter`` reply runs in the container the request's ``code_interpreter`` tool names
(``"container": "cntr_..."``, which must exist) or, for ``{"type": "auto", "file_ids": [...]}``,
in the container a previous ``code_interpreter_call`` in the context used (if it still exists),
else in a new one holding copies of those uploaded files. Files the code saves join the container
when the call completes; clients list and download them here.

Rules (our words, marked ``[scripted server]``; the real wording is unverified): a tool naming an
unknown container or file id is a 400 before any reply is consumed; an unknown container or
container file here is a 404.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from ..crud import Collection, list_page
from ..items import new_id
from ..multipart import MultipartForm
from ..routing import Routes
from ..state import Container, ContainerFile, ServerState, StoredFile
from ..tool_choice import find_tool
from ..wire import (
    Answer,
    ApiFailure,
    BytesAnswer,
    JsonAnswer,
    RecordedRequest,
    json_object,
    scripted_failure,
)
from .files import content_type_for, named_uploads

SANDBOX_DIR = "/mnt/data/"


def new_container_file_id() -> str:
    return f"cfile_{secrets.token_hex(16)}"


class ContainersApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        # Deletions answer as the real API does, though the spec documents no body for them.
        self.containers = Collection(
            state, "/containers/{container_id}", state.containers, _no_container, Container.resource
        )
        self.files = self.containers.within(
            "files/{file_id}", lambda c: c.files, _no_container_file, ContainerFile.resource
        )

    def register(self, routes: Routes) -> None:
        self.containers.register(routes, create=self.create, listing=self.list)
        self.files.register(routes, create=self.add_file, listing=self.list_files)
        routes.add("GET", f"{self.files.template}/content", self.content)

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        file_ids = body.get("file_ids") or []
        uploads = _uploads(self.state, file_ids, "file_ids")
        container = new_container(
            self.state, str(body.get("name") or ""), uploads, body.get("memory_limit")
        )
        return JsonAnswer(container.resource())

    def list(self, request: RecordedRequest) -> Answer:
        name = request.query.get("name")
        with self.state.lock:
            found = [c.resource() for c in self.state.containers.values() if name in (None, c.name)]
        return JsonAnswer(list_page(found, request.query))

    def add_file(self, request: RecordedRequest) -> Answer:
        """A multipart ``file`` upload, or JSON ``{"file_id": ...}`` copying an uploaded file."""
        container = self.containers.find(request)
        if isinstance(request.body, MultipartForm) and "file" in request.body.files:
            upload = request.body.files["file"]
            name, data = upload.filename, upload.data
        elif json_object(request.body).get("file_id"):
            stored = _uploads(self.state, [request.body["file_id"]], "file_id")[0]
            name, data = stored.filename, stored.data
        else:
            raise scripted_failure(400, "Send a multipart 'file' or a JSON 'file_id'.")
        added = store_file(self.state, container, _user_path(name), data, source="user")
        return JsonAnswer(added.resource())

    def list_files(self, request: RecordedRequest) -> Answer:
        container = self.containers.find(request)
        with self.state.lock:
            found = [f.resource() for f in container.files.values()]
        return JsonAnswer(list_page(found, request.query))

    def content(self, request: RecordedRequest) -> Answer:
        found = self.files.find(request)
        return BytesAnswer(found.data, content_type_for(found.filename))


def _no_container(request: RecordedRequest) -> ApiFailure:
    container_id = request.param("container_id")
    return scripted_failure(404, f"Container with id '{container_id}' not found.")


def _no_container_file(request: RecordedRequest) -> ApiFailure:
    file_id = request.param("file_id")
    return scripted_failure(404, f"Container file with id '{file_id}' not found.")


# -- the code interpreter's containers ------------------------------------------------------------


def check_code_interpreter_tool(state: ServerState, body: Mapping[str, Any]) -> None:
    """Reject a tool that names an unknown container or uploaded file (before any reply)."""
    found = find_tool(body, "code_interpreter")
    if found is None:
        return
    index, tool = found
    reference = tool.get("container")
    if isinstance(reference, str):
        with state.lock:
            known = reference in state.containers
        if not known:
            param = f"tools[{index}].container"
            raise scripted_failure(400, f"Container with id '{reference}' not found.", param=param)
    elif isinstance(reference, Mapping):
        _uploads(state, reference.get("file_ids") or [], f"tools[{index}].container.file_ids")


def open_container(
    state: ServerState, body: Mapping[str, Any], context: Sequence[Mapping[str, Any]]
) -> Container:
    """The container a code interpreter call of this request runs in (see the module doc)."""
    found = find_tool(body, "code_interpreter")
    reference: object = found[1].get("container") if found else None
    with state.lock:
        if isinstance(reference, str) and reference in state.containers:
            return state.containers[reference]
        for item in reversed(context):
            used = item.get("container_id")
            if item.get("type") == "code_interpreter_call" and used in state.containers:
                return state.containers[str(used)]
    settings = reference if isinstance(reference, Mapping) else {}
    uploads = _uploads(state, settings.get("file_ids") or [], "tools")
    return new_container(state, "Code Interpreter", uploads, settings.get("memory_limit"))


def new_container(
    state: ServerState, name: str, uploads: Sequence[StoredFile], memory_limit: object = None
) -> Container:
    container = Container(new_id("cntr"), name, memory_limit=str(memory_limit or "1g"))
    with state.lock:
        state.containers[container.id] = container
        for upload in uploads:
            store_file(state, container, _user_path(upload.filename), upload.data, source="user")
        state.changed()
    return container


def store_file(
    state: ServerState,
    container: Container,
    path: str,
    data: bytes,
    *,
    source: str,
    file_id: str | None = None,
) -> ContainerFile:
    """Put a file in ``container`` (replacing one at the same path, as a file system would)."""
    added = ContainerFile(file_id or new_container_file_id(), container.id, path, data, source)
    with state.lock:
        for existing in [f for f in container.files.values() if f.path == path]:
            del container.files[existing.id]
        container.files[added.id] = added
        container.last_active_at = added.created_at
        state.changed()
    return added


def _user_path(filename: str) -> str:
    # Uploaded files get a random prefix, as in the spec's example ("/mnt/data/88e1...-a.json").
    return f"{SANDBOX_DIR}{secrets.token_hex(16)}-{filename}"


def _uploads(state: ServerState, file_ids: Sequence[object], param: str) -> list[StoredFile]:
    found, missing = named_uploads(state, file_ids)
    if missing:
        raise scripted_failure(400, f"No uploaded file has the id '{missing[0]}'.", param=param)
    return found
