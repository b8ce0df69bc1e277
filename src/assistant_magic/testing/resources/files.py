"""The Files API: uploads kept in memory, listed, retrieved, downloaded and deleted.

``POST /files`` takes ``multipart/form-data`` (a ``file`` part and a ``purpose``, optionally
``expires_after[anchor]``/``expires_after[seconds]``), as the openai SDK's ``files.create`` sends
it. The server's OpenAPI check has already compared the form with ``CreateFileRequest``; the rules
here hold with or without the spec:

* no ``file`` part or no ``purpose``: ``Missing required parameter: '<name>'.``;
* a ``purpose`` outside the spec's enum, a bad ``expires_after``: our words (``[scripted server]``);
* an unknown id: 404 ``No such File object: <id>`` with ``param: "id"`` (the real API's words);
* downloading a ``user_data`` or ``assistants`` file: 400 ``Not allowed to download files of
  purpose: <purpose>`` (the real API's rule and words). Tests that download use e.g. ``batch``.
"""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Sequence

from ..crud import Collection, list_page
from ..items import random_alphanumeric
from ..multipart import MultipartForm
from ..routing import Routes
from ..state import ServerState, StoredFile
from ..wire import (
    Answer,
    ApiFailure,
    BytesAnswer,
    JsonAnswer,
    RecordedRequest,
    missing_parameter,
    scripted_failure,
)

#: ``CreateFileRequest.purpose`` in the spec.
PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
#: Purposes whose content the real API refuses to serve.
NOT_DOWNLOADABLE = frozenset({"assistants", "user_data"})
_BATCH_LIFETIME = 30 * 24 * 3600  # batch files expire after 30 days by default


def new_file_id() -> str:
    """An id in the real shape: ``file-`` and 22 letters or digits."""
    return "file-" + random_alphanumeric(22)


def content_type_for(filename: str, declared: str = "") -> str:
    """A fitting Content-Type: the declared one if specific, else guessed from the name."""
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def store_upload(
    state: ServerState,
    data: bytes,
    *,
    filename: str,
    purpose: str,
    content_type: str | None = None,
    expires_at: int | None = None,
) -> StoredFile:
    """Keep ``data`` as a file the Files API serves, as if uploaded (or made by the server, as
    Assistants API code interpreter outputs are, with purpose ``assistants_output``, and a
    batch's results, with purpose ``batch_output``)."""
    stored = StoredFile(
        new_file_id(),
        filename,
        purpose,
        data,
        content_type or content_type_for(filename),
        expires_at=expires_at,
    )
    _keep(state, stored)
    return stored


def named_uploads(
    state: ServerState, file_ids: Sequence[object]
) -> tuple[list[StoredFile], list[str]]:
    """The uploads ``file_ids`` name, in order, and the ids that name none (each API words its
    own failure for those)."""
    with state.lock:
        found = [(str(file_id), state.files.get(str(file_id))) for file_id in file_ids]
    missing = [file_id for file_id, upload in found if upload is None]
    return [upload for _, upload in found if upload is not None], missing


class FilesApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.files = Collection(
            state, "/files/{file_id}", state.files, _no_such_file, StoredFile.resource, "file"
        )

    def register(self, routes: Routes) -> None:
        self.files.register(routes, create=self.create, listing=self.list)
        routes.add("GET", "/files/{file_id}/content", self.content)

    def create(self, request: RecordedRequest) -> Answer:
        form = request.body
        if not isinstance(form, MultipartForm):
            raise scripted_failure(400, "POST /v1/files takes a multipart/form-data upload.")
        upload = form.files.get("file")
        if upload is None:
            raise missing_parameter("file")
        purpose = form.fields.get("purpose")
        if not purpose:
            raise missing_parameter("purpose")
        if purpose not in PURPOSES:
            raise scripted_failure(
                400,
                f"Invalid 'purpose': {purpose!r} is not one of {list(PURPOSES)}.",
                param="purpose",
            )
        created = int(time.time())
        stored = StoredFile(
            id=new_file_id(),
            filename=upload.filename,
            purpose=purpose,
            data=upload.data,
            content_type=content_type_for(upload.filename, upload.content_type),
            created_at=created,
            expires_at=_expiry(form, purpose, created),
        )
        _keep(self.state, stored)
        return JsonAnswer(stored.resource())

    def list(self, request: RecordedRequest) -> Answer:
        purpose = request.query.get("purpose")
        with self.state.lock:
            files = [
                f.resource() for f in self.state.files.values() if purpose in (None, f.purpose)
            ]
        return JsonAnswer(list_page(files, request.query, default_limit=10000, max_limit=None))

    def content(self, request: RecordedRequest) -> Answer:
        stored = self.files.find(request)
        if stored.purpose in NOT_DOWNLOADABLE:
            raise ApiFailure(400, f"Not allowed to download files of purpose: {stored.purpose}")
        return BytesAnswer(stored.data, stored.content_type)


def _keep(state: ServerState, stored: StoredFile) -> None:
    with state.lock:
        state.files[stored.id] = stored
        state.changed()


def _no_such_file(request: RecordedRequest) -> ApiFailure:
    return ApiFailure(404, f"No such File object: {request.param('file_id')}", param="id")


def _expiry(form: MultipartForm, purpose: str, created: int) -> int | None:
    anchor = form.fields.get("expires_after[anchor]")
    seconds = form.fields.get("expires_after[seconds]")
    if anchor is None and seconds is None:
        return created + _BATCH_LIFETIME if purpose == "batch" else None
    if anchor != "created_at" or seconds is None or not seconds.isdigit():
        raise scripted_failure(
            400,
            "'expires_after' needs anchor 'created_at' and a number of seconds.",
            param="expires_after",
        )
    if not 3600 <= int(seconds) <= 2592000:
        raise scripted_failure(
            400,
            "'expires_after.seconds' must be between 3600 (1 hour) and 2592000 (30 days).",
            param="expires_after.seconds",
        )
    return created + int(seconds)
