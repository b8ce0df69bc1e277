"""One batch's life: its states, the lines it plays, and the output and error files it writes.

::

    validating -> in_progress -> finalizing -> completed
    validating -> failed                        (the input file does not read: see ``input``)
    validating | in_progress | finalizing -> cancelling -> cancelled
    any state not yet final -> expired          (``ScriptedServer.expire_batch``)

Nobody streams a batch, so retrievals move it on, deterministically, as they move a polled
Assistants run: each state the server works in (``validating``, ``in_progress``, ``finalizing``,
``cancelling``) is reported by ``polls_per_state`` answers (the create or cancel answer counts as
one), and the next retrieval moves it one state on; 0 runs it to its end at the first retrieval.
While ``in_progress`` each answer has played a further share of the lines (with 2 polls per
state, a third, then two thirds), so ``request_counts`` climb as on the real API and a cancelled
or expired batch has partial results.

Every line is played as a live unstreamed request to the batch's endpoint would be (see
``api``); its answer becomes one ``BatchRequestOutput`` line: ``{"id": "batch_req_...",
"custom_id", "response": {"status_code", "request_id", "body"}, "error": null}``. A 2xx answer
goes to the output file, any other (a scripted ``HttpError``, a body the spec or the API's rules
refuse) to the error file, with the status code and the error body, as the real API writes them.
Lines never played when the batch ends ``cancelled`` or ``expired`` go to the error file with
``"response": null`` and ``error.code`` ``batch_cancelled`` or ``batch_expired``; they count
in ``request_counts.total`` but neither ``completed`` nor ``failed``.

Fields not set yet (``output_file_id``, ``in_progress_at``, ``errors``, ``model``, ...) are left
out of the object rather than sent as null: the real API sends null, but the spec types them as
non-nullable, and the openai SDK reads both as None.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..resources.files import store_upload
from ..state import ServerState
from ..wire import SCRIPTED_PREFIX, Answer, EventStream, JsonAnswer, error_body
from .input import BatchLine, read_lines

#: Plays one line: ``(method, path, body)`` -> the answer a live request would get.
Dispatch = Callable[[str, str, object], Answer]

FINAL_STATUSES = frozenset({"failed", "completed", "expired", "cancelled"})
#: States a batch leaves by retrievals (the server's work, not the client's).
_SERVER_STATES = frozenset({"validating", "in_progress", "finalizing", "cancelling"})
#: The one ``completion_window`` there is.
WINDOW_SECONDS = 24 * 3600
#: What a line that was never played says, by how the batch ended (the real API's words).
_NOT_PLAYED = {
    "expired": (
        "batch_expired",
        "This request could not be executed before the completion window expired.",
    ),
    "cancelled": (
        "batch_cancelled",
        "This request was not executed because the batch was cancelled.",
    ),
}
_DROPPED_MESSAGE = (
    "The server had an error processing your request. Sorry about that! You can retry your "
    "request, or contact us through our help center at help.openai.com if you keep seeing this "
    "error."
)


@dataclass
class BatchSettings:
    """``polls_per_state``: answers each server state of a batch lasts (0: the first retrieval
    after creation runs it to its end)."""

    polls_per_state: int = 1


@dataclass(frozen=True)
class LineResult:
    """A played line: the ``BatchRequestOutput`` written for it, and whether it succeeded."""

    output: dict[str, Any]
    ok: bool


class Batch:
    """A batch, the lines of its input file once read, and what playing them gave.

    ``output_expires_after``: the request's policy for the files the batch writes (None: they
    do not expire).
    """

    def __init__(
        self,
        state: ServerState,
        resource: dict[str, Any],
        data: bytes,
        settings: BatchSettings,
        dispatch: Dispatch,
        output_expires_after: Mapping[str, Any] | None = None,
    ) -> None:
        self.state = state
        self.resource = resource
        self.data = data
        self.settings = settings
        self.dispatch = dispatch
        self.output_expires_after = output_expires_after
        self.lines: list[BatchLine] = []
        self.results: list[LineResult] = []
        self.reads = 1  # the create answer reports "validating" once

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def status(self) -> str:
        with self.state.lock:
            return str(self.resource["status"])

    def snapshot(self) -> dict[str, Any]:
        """The Batch object as it stands now (a copy; taking it moves nothing on)."""
        with self.state.lock:
            return copy.deepcopy(self.resource)

    # -- driven by the client's reads ------------------------------------------------------

    def on_read(self) -> None:
        """A client retrieved the batch: it moves on as the module docstring says."""
        with self.state.lock:
            polls = max(0, self.settings.polls_per_state)
            while self.status in _SERVER_STATES and self.reads >= polls:
                self._advance()
            if self.status not in _SERVER_STATES:
                return
            self.reads += 1
            if self.status == "in_progress":
                # The k-th of N answers in progress has played k/(N+1) of the lines; leaving
                # the state plays the rest, so no answer claims the work done before it is.
                self._play(len(self.lines) * self.reads // (polls + 1))

    def _advance(self) -> None:
        status = self.status
        if status == "validating":
            self._validate()
        elif status == "in_progress":
            self._play(len(self.lines))
            self._set_status("finalizing")
        elif status == "finalizing":
            self._end("completed")
        else:
            self._end("cancelled")
        self.reads = 0

    def _validate(self) -> None:
        lines, errors = read_lines(self.data, str(self.resource["endpoint"]))
        if errors:
            self.resource["errors"] = {"object": "list", "data": errors}
            self._set_status("failed")
            return
        self.lines = lines
        self.resource["request_counts"]["total"] = len(lines)
        model = lines[0].body.get("model")
        if isinstance(model, str):
            self.resource["model"] = model
        self._set_status("in_progress")

    # -- driven by the client's cancel, or the test's expiry -------------------------------

    def cancel(self) -> bool:
        """Start cancelling (False: the batch already ended, so it cannot be)."""
        with self.state.lock:
            if self.status == "cancelling":
                return True
            if self.status in FINAL_STATUSES:
                return False
            self._set_status("cancelling")
            self.reads = 1  # the cancel answer reports "cancelling" once
            return True

    def expire(self) -> None:
        """End the batch ``expired`` now, as when its 24 h window closes: what was played is
        kept, the rest goes to the error file as ``batch_expired``."""
        with self.state.lock:
            if self.status in FINAL_STATUSES:
                raise ValueError(f"batch {self.id} already ended {self.status}")
            self._end("expired")

    # -- playing lines and writing files ---------------------------------------------------

    def _play(self, upto: int) -> None:
        for line in self.lines[len(self.results) : upto]:
            status, body = self._answer(line)
            ok = 200 <= status < 300
            self.results.append(LineResult(_output_line(line, status, body), ok))
            self.resource["request_counts"]["completed" if ok else "failed"] += 1
            if ok:
                _add_usage(self.resource["usage"], body)
            self.state.changed()

    def _answer(self, line: BatchLine) -> tuple[int, Any]:
        """The status and body a live request for this line gets (refused if it streams,
        which a batch cannot, before it takes a scripted reply)."""
        if line.body.get("stream"):
            return 400, error_body(
                f"{SCRIPTED_PREFIX} a batch request cannot stream: leave out 'stream'.",
                param="stream",
            )
        answer = self.dispatch(line.method, line.url, line.body)
        if isinstance(answer, JsonAnswer):
            return answer.status, answer.body
        if isinstance(answer, EventStream):
            answer.events.close()
        # A dropped connection (a scripted hang-up) fails the line as a server error would.
        return 500, error_body(_DROPPED_MESSAGE, type="server_error")

    def _end(self, status: str) -> None:
        not_played = _NOT_PLAYED.get(status)
        outputs = [r.output for r in self.results if r.ok]
        errors = [r.output for r in self.results if not r.ok]
        if not_played is not None:
            code, message = not_played
            errors += [
                _unplayed_line(line, code, message) for line in self.lines[len(self.results) :]
            ]
        if outputs:
            self.resource["output_file_id"] = self._write(outputs, "output")
        if errors:
            self.resource["error_file_id"] = self._write(errors, "error")
        self._set_status(status)

    def _write(self, lines: list[dict[str, Any]], kind: str) -> str:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        expires_at = None
        if self.output_expires_after is not None:
            expires_at = int(time.time()) + int(self.output_expires_after["seconds"])
        stored = store_upload(
            self.state,
            data,
            filename=f"{self.id}_{kind}.jsonl",
            purpose="batch_output",
            content_type="application/octet-stream",
            expires_at=expires_at,
        )
        return stored.id

    def _set_status(self, status: str) -> None:
        """Move to ``status`` and stamp its ``<status>_at`` (``in_progress_at``, ...)."""
        self.resource["status"] = status
        self.resource[f"{status}_at"] = int(time.time())
        self.state.changed()


def _output_line(line: BatchLine, status: int, body: Any) -> dict[str, Any]:
    return {
        "id": f"batch_req_{secrets.token_hex(16)}",
        "custom_id": line.custom_id,
        "response": {"status_code": status, "request_id": secrets.token_hex(16), "body": body},
        "error": None,
    }


def _unplayed_line(line: BatchLine, code: str, message: str) -> dict[str, Any]:
    return {
        "id": f"batch_req_{secrets.token_hex(16)}",
        "custom_id": line.custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def empty_usage() -> dict[str, Any]:
    return {
        "input_tokens": 0,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 0,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 0,
    }


def _add_usage(total: dict[str, Any], body: Any) -> None:
    """Add a successful line's usage (a response's, or a chat completion's spelling of it)."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return
    chat = "prompt_tokens" in usage
    details_in = usage.get("prompt_tokens_details" if chat else "input_tokens_details") or {}
    details_out = usage.get("completion_tokens_details" if chat else "output_tokens_details") or {}
    input_tokens = int(usage.get("prompt_tokens" if chat else "input_tokens") or 0)
    output_tokens = int(usage.get("completion_tokens" if chat else "output_tokens") or 0)
    total["input_tokens"] += input_tokens
    total["output_tokens"] += output_tokens
    total["total_tokens"] += input_tokens + output_tokens
    total["input_tokens_details"]["cached_tokens"] += int(details_in.get("cached_tokens") or 0)
    total["output_tokens_details"]["reasoning_tokens"] += int(
        details_out.get("reasoning_tokens") or 0
    )
