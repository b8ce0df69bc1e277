"""The Batch API: ``POST /v1/batches``, retrieve, list, cancel.

``POST /batches`` takes ``input_file_id``, ``endpoint``, ``completion_window`` ("24h"), optional
``metadata`` and ``output_expires_after``, and answers the batch ``validating``. The spec's check
has already refused a bad ``endpoint`` or window; the rules here hold with or without the spec:

* ``input_file_id``, ``endpoint`` or ``completion_window`` left out: ``Missing required
  parameter: '<name>'.`` (the real API's words);
* an ``input_file_id`` naming no file: 404 ``No such File object: <id>`` with
  ``param: "input_file_id"`` (the Files API's words for an unknown id);
* a file uploaded with another ``purpose`` than "batch": 400, ours (``[scripted server]``);
* an ``endpoint`` or window outside the spec's enums (only checked here without a spec): ours.

Any endpoint the spec lists is accepted; each line is played by the route a live request to it
takes, so ``/v1/embeddings`` or ``/v1/completions``, which the server does not speak, answer
every line with a 404 error line. What the input file may hold is ``input``'s; how a batch
moves on and what it writes, ``batch``'s.

``GET /batches/{id}`` answers the batch as it stands after the retrieval moved it on; ``GET
/batches`` lists them newest first (``after``, ``limit`` up to 100), moving none on. ``POST
/batches/{id}/cancel`` answers it ``cancelling``; a batch that already ended: 400, ours. An
unknown batch id: 404, ours.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from ..crud import Collection, list_page
from ..routing import Routes
from ..state import ServerState
from ..wire import (
    Answer,
    ApiFailure,
    JsonAnswer,
    RecordedRequest,
    json_object,
    missing_parameter,
    poll_answer,
    scripted_failure,
)
from .batch import FINAL_STATUSES, WINDOW_SECONDS, Batch, BatchSettings, Dispatch, empty_usage

#: ``CreateBatchRequest.endpoint`` in the spec.
ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
    "/v1/videos",
)
_REQUIRED = ("input_file_id", "endpoint", "completion_window")


class BatchesApi:
    """Batches kept in ``state.batches``, moving on as ``settings`` says, their lines played by
    ``dispatch`` (the pipeline's, so a line is answered as a live request)."""

    def __init__(self, state: ServerState, settings: BatchSettings, dispatch: Dispatch) -> None:
        self.state = state
        self.settings = settings
        self.dispatch = dispatch
        self.batches = Collection(
            state, "/batches/{batch_id}", state.batches, _no_batch, Batch.snapshot
        )

    def register(self, routes: Routes) -> None:
        routes.add("POST", "/batches", self.create)
        routes.add("GET", "/batches", self.list)
        routes.add("GET", "/batches/{batch_id}", self.retrieve)
        routes.add("POST", "/batches/{batch_id}/cancel", self.cancel)

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        for name in _REQUIRED:
            if not body.get(name):
                raise missing_parameter(name)
        endpoint = str(body["endpoint"])
        if endpoint not in ENDPOINTS:
            raise scripted_failure(
                400,
                f"Invalid 'endpoint': {endpoint!r} is not one of {list(ENDPOINTS)}.",
                param="endpoint",
            )
        if body["completion_window"] != "24h":
            raise scripted_failure(
                400,
                "Invalid 'completion_window': only '24h' is supported.",
                param="completion_window",
            )
        file_id = str(body["input_file_id"])
        with self.state.lock:
            upload = self.state.files.get(file_id)
        if upload is None:
            raise ApiFailure(404, f"No such File object: {file_id}", param="input_file_id")
        if upload.purpose != "batch":
            raise scripted_failure(
                400,
                f"The input file {file_id} has purpose {upload.purpose!r}: a batch reads only "
                "files uploaded with purpose 'batch'.",
                param="input_file_id",
            )
        batch = Batch(
            self.state,
            _initial_resource(body, file_id),
            upload.data,
            self.settings,
            self.dispatch,
            _expiry_policy(body.get("output_expires_after")),
        )
        with self.state.lock:
            self.state.batches[batch.id] = batch
            self.state.changed()
        return poll_answer(batch.snapshot(), busy=True)

    def retrieve(self, request: RecordedRequest) -> Answer:
        batch = self.batches.find(request)
        batch.on_read()
        snapshot = batch.snapshot()
        return poll_answer(snapshot, busy=snapshot["status"] not in FINAL_STATUSES)

    def list(self, request: RecordedRequest) -> Answer:
        with self.state.lock:
            found = [batch.snapshot() for batch in self.state.batches.values()]
        return JsonAnswer(list_page(found, {**request.query, "order": "desc"}))

    def cancel(self, request: RecordedRequest) -> Answer:
        batch = self.batches.find(request)
        if not batch.cancel():
            raise scripted_failure(400, f"Cannot cancel a batch with status '{batch.status}'.")
        return poll_answer(batch.snapshot(), busy=True)


def _initial_resource(body: Mapping[str, Any], file_id: str) -> dict[str, Any]:
    created = int(time.time())
    metadata = body.get("metadata")
    return {
        "id": f"batch_{secrets.token_hex(16)}",  # the real shape: 32 hex digits
        "object": "batch",
        "endpoint": body["endpoint"],
        "input_file_id": file_id,
        "completion_window": body["completion_window"],
        "status": "validating",
        "created_at": created,
        "expires_at": created + WINDOW_SECONDS,
        "request_counts": {"total": 0, "completed": 0, "failed": 0},
        "usage": empty_usage(),
        "metadata": dict(metadata) if isinstance(metadata, Mapping) else None,
    }


def _expiry_policy(policy: object) -> Mapping[str, Any] | None:
    """``output_expires_after`` as given (the spec's check holds it to 1 h .. 30 days), or None."""
    if policy is None:
        return None
    if not isinstance(policy, Mapping) or policy.get("anchor") != "created_at":
        raise scripted_failure(
            400, "'output_expires_after' needs anchor 'created_at'.", param="output_expires_after"
        )
    seconds = policy.get("seconds")
    if not isinstance(seconds, int) or not 3600 <= seconds <= 2592000:
        raise scripted_failure(
            400,
            "'output_expires_after.seconds' must be between 3600 (1 hour) and 2592000 (30 days).",
            param="output_expires_after.seconds",
        )
    return policy


def _no_batch(request: RecordedRequest) -> ApiFailure:
    return scripted_failure(404, f"No batch with id '{request.param('batch_id')}'.")
