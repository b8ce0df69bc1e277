"""One Assistants API run's life: its states, and the steps and messages it writes (kept by
``run_records``).

::

    queued -> in_progress -> (requires_action -> queued -> in_progress)* -> completed | incomplete
                                                                         | failed | expired
    any active state -> cancelling -> cancelled

A run is driven one of two ways. Streamed (``stream: true`` on create or on submit_tool_outputs),
the stream's event generator (``events``) moves it on as it sends each event. Polled,
nobody streams it, so reads move it on, deterministically: each state that waits on the server
(``queued``, ``in_progress``, ``cancelling``) is reported by ``polls_per_state`` answers (the
create, submit or cancel answer counts as one), and the next read moves the run one state on. The
read that leaves ``queued`` takes the step's reply (see ``run_api``); the read that leaves
``in_progress`` plays it all at once, so a poll sees ``requires_action`` or the end.

A run that waits on its client - in ``requires_action``, or ``in_progress`` with nobody driving it
because its streaming client hung up (``stalled``: the "model" is still busy) - expires on the
first read after ``expires_after`` seconds of waiting.

Every change happens here, under the state lock, so the run, its steps and the thread agree. The
stored steps and messages are what their stream deltas add up to (see ``objects.accumulate``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..items import Item
from ..state import AssistantThread, ServerState
from ..usage import chat_usage, prompt_words
from ..wire import Event
from .run_records import TIMESTAMPS, RunRecords

ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
#: States a polled run leaves by reads (the server's turn, not the client's).
_SERVER_STATES = frozenset({"queued", "in_progress", "cancelling"})
#: How long the real API lets a run live, reported in ``expires_at`` when no limit is set.
DEFAULT_LIFETIME = 600
#: What ending a run makes of its open steps, and the reason its open messages end incomplete.
_STEP_END = {"failed": "failed", "cancelled": "cancelled", "expired": "expired"}
_MESSAGE_END = {"failed": "run_failed", "cancelled": "run_cancelled", "expired": "run_expired"}
_USAGE_KEYS = ("prompt_tokens", "completion_tokens", "total_tokens")


@dataclass
class RunSettings:
    """``polls_per_state``: answers each server state lasts for a polled run (0: the first read
    runs it to the end or to ``requires_action``). ``expires_after``: seconds a run may wait on
    its client before it expires (None: never). ``streaming``: whether runs may be streamed
    (False: ``stream: true`` is refused, as by servers that only poll)."""

    polls_per_state: int = 1
    expires_after: float | None = None
    streaming: bool = True

    def deadline(self) -> int:
        """The ``expires_at`` a run waiting from now reports."""
        lifetime = self.expires_after if self.expires_after is not None else DEFAULT_LIFETIME
        return int(time.time() + lifetime)


@dataclass
class Ended:
    """What ending a run closed: messages left ``incomplete`` and steps that ended with it."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)


class Run(RunRecords):
    """A run and what it made. ``history``/``input_items`` are what its next step's reply sees;
    ``produced`` what its steps added since (messages and calls), history for the step after."""

    def __init__(
        self,
        state: ServerState,
        resource: dict[str, Any],
        thread: AssistantThread,
        settings: RunSettings,
        *,
        history: Sequence[Item],
        input_items: Sequence[Item],
        include_search_content: bool = False,
    ) -> None:
        self.state = state
        self.resource = resource
        self.thread = thread
        self.settings = settings
        self.include_search_content = include_search_content
        self.steps: list[dict[str, Any]] = []
        self.history = list(history)
        self.input_items = list(input_items)
        self.produced: list[Item] = []
        self.reads = 1  # the create answer reports "queued" once
        self.stalled = False
        self._stream: object | None = None  # the token of the stream driving the run
        self.waiting_since: float | None = None
        self.pending: Generator[Event, None, None] | None = None
        self._held_usage: dict[str, dict[str, int]] = {}

    # -- reading ---------------------------------------------------------------------------

    @property
    def status(self) -> str:
        with self.state.lock:
            return str(self.resource["status"])

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def streaming(self) -> bool:
        """Whether a stream drives the run (reads then leave it alone)."""
        with self.state.lock:
            return self._stream is not None

    @property
    def generating(self) -> bool:
        """Whether the model may go on: not cancelled (or ended) while it worked."""
        return self.status == "in_progress"

    def snapshot(self) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.resource)

    def step_snapshots(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return copy.deepcopy(self.steps)

    def find_step(self, step_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            found = next((step for step in self.steps if step["id"] == step_id), None)
            return copy.deepcopy(found)

    def required_call_ids(self) -> list[str]:
        with self.state.lock:
            action = self.resource.get("required_action") or {}
            calls = action.get("submit_tool_outputs", {}).get("tool_calls", [])
            return [str(call["id"]) for call in calls]

    # -- driven by reads -------------------------------------------------------------------

    def on_read(
        self,
        start: Callable[[Run], Generator[Event, None, None]],
        drain: Callable[[Iterator[Event]], None],
    ) -> None:
        """A client read the run: it expires if it waited too long, and a polled run moves on
        (see the module docstring). ``start`` takes the step's reply and returns its events (an
        :class:`~.wire.ApiFailure` it raises is the read's answer, and the run stays queued);
        ``drain`` plays them."""
        with self.state.lock:
            self.expire_if_due()
            if self.streaming or self.stalled:
                return
            polls = max(0, self.settings.polls_per_state)
            while self.status in _SERVER_STATES and self.reads >= polls:
                before = self.status
                self._advance(start, drain)
                if self.status == before:
                    break  # nothing left to play: the run stays as it is
            if self.status in _SERVER_STATES:
                self.reads += 1

    def _advance(
        self,
        start: Callable[[Run], Generator[Event, None, None]],
        drain: Callable[[Iterator[Event]], None],
    ) -> None:
        status = self.status
        if status == "queued":
            self.pending = start(self)
            self.set_status("in_progress")
        elif status == "in_progress":
            events, self.pending = self.pending, None
            if events is not None:
                drain(events)
        else:
            self.end("cancelled")
        self.reads = 0

    def expire_if_due(self) -> None:
        """Expire a run that waited on its client longer than ``expires_after`` seconds."""
        limit = self.settings.expires_after
        with self.state.lock:
            waiting = self.status == "requires_action" or (
                self.stalled and self.status == "in_progress"
            )
            since = self.waiting_since
            if (
                limit is not None
                and waiting
                and since is not None
                and time.monotonic() - since > limit
            ):
                self.end("expired")

    # -- moving on -------------------------------------------------------------------------

    def start_working(self) -> bool:
        """``queued`` -> ``in_progress``; False if it was cancelled meanwhile (the real API never
        takes a ``cancelling`` run back to work)."""
        with self.state.lock:
            if self.resource["status"] != "queued":
                return False
            self.set_status("in_progress")
            return True

    def set_status(self, status: str) -> None:
        with self.state.lock:
            self.resource["status"] = status
            if status == "in_progress" and self.resource["started_at"] is None:
                self.resource["started_at"] = int(time.time())
            self.state.changed()

    def begin_streaming(self) -> object:
        """A stream drives the run from now on; the token it must show to let go (a stream that
        ends late, after the client already submitted its outputs to a new one, lets go of
        nothing)."""
        with self.state.lock:
            self._stream = token = object()
            return token

    def stop_streaming(self, token: object) -> None:
        with self.state.lock:
            if self._stream is token:
                self._stream = None
                self.state.changed()

    def connection_lost(self) -> None:
        """The connection broke mid-stream: as if the streaming client hung up."""
        with self.state.lock:
            token = self._stream
        if token is not None:
            self.client_gone(token)

    def client_gone(self, token: object) -> None:
        """Its streaming client hung up: recorded; a run the model was still working on stays
        ``in_progress`` (stalled) until it is cancelled or expires."""
        with self.state.lock:
            self.state.disconnects.append(self.id)
            if self._stream is token:
                self._stream = None
                if self.status in ("queued", "in_progress"):
                    self.stalled = True
                    self.waiting_since = time.monotonic()
            self.state.changed()

    def request_cancel(self) -> None:
        """``cancelling`` now; the stream driving it (or the next read) ends it ``cancelled``."""
        with self.state.lock:
            self.resource["status"] = "cancelling"
            self.stalled = False
            self.reads = 1  # the cancel answer reports "cancelling" once
            self.state.changed()

    def require_action(self, step_id: str, usage: dict[str, int]) -> None:
        """The step's function calls wait for the client's outputs (``usage`` is the step's,
        reported once they arrive)."""
        with self.state.lock:
            step = self._step(step_id)
            calls = [
                {"id": call["id"], "type": "function", "function": _name_and_arguments(call)}
                for call in step["step_details"]["tool_calls"]
                if call.get("type") == "function"
            ]
            self.produced.extend(_call_item(call) for call in calls)
            self._held_usage[step_id] = usage
            self.resource["status"] = "requires_action"
            self.resource["required_action"] = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {"tool_calls": calls},
            }
            self.resource["expires_at"] = self.settings.deadline()
            self.waiting_since = time.monotonic()
            self.state.changed()

    def continuation(self, outputs: Mapping[str, str]) -> tuple[list[Item], list[Item]]:
        """History and input of the step after these tool outputs (nothing changes yet)."""
        with self.state.lock:
            history = [*self.history, *self.input_items, *self.produced]
        answers = [
            {"type": "function_call_output", "call_id": call_id, "output": output}
            for call_id, output in outputs.items()
        ]
        return copy.deepcopy(history), answers

    def accept_outputs(self, outputs: Mapping[str, str]) -> dict[str, Any]:
        """The client answered every call: the tool step completes with the outputs and the run
        is ``queued`` again. Returns the completed step."""
        with self.state.lock:
            self.history, self.input_items = self.continuation(outputs)
            self.produced = []
            self.state.accepted(self.input_items)
            step = next(s for s in reversed(self.steps) if s["status"] == "in_progress")
            for call in step["step_details"]["tool_calls"]:
                if call.get("type") == "function":
                    call["function"]["output"] = outputs[call["id"]]
            self.finish_step(step["id"], "completed", usage=self._held_usage.pop(step["id"]))
            self.resource.update(
                status="queued", required_action=None, expires_at=self.settings.deadline()
            )
            self.reads = 1  # the submit answer reports "queued" once
            self.waiting_since = None
            self.state.changed()
            return copy.deepcopy(step)

    def end(
        self,
        status: str,
        *,
        last_error: Mapping[str, str] | None = None,
        incomplete_details: Mapping[str, str] | None = None,
    ) -> Ended | None:
        """End the run once (None if it had already ended). Open steps and messages end with it:
        steps ``failed``/``cancelled``/``expired``, messages ``incomplete`` (``run_failed``, ...).
        Its usage is the sum of its steps'."""
        with self.state.lock:
            if not self.is_active:
                return None
            ended = Ended()
            if status in _STEP_END:
                ended = self._end_open_work(status, last_error)
            now = int(time.time())
            self.resource.update(
                status=status,
                required_action=None,
                last_error=dict(last_error) if last_error else None,
                incomplete_details=(
                    dict(incomplete_details) if incomplete_details is not None else None
                ),
                usage=self._usage_sum(),
            )
            if status != "expired":
                self.resource["expires_at"] = None
            if status in TIMESTAMPS:
                self.resource[TIMESTAMPS[status]] = now
            if self.pending is not None:
                self.pending.close()
                self.pending = None
            self.stalled = False
            self.state.changed()
            return ended

    def _end_open_work(self, status: str, last_error: Mapping[str, str] | None) -> Ended:
        ended = Ended()
        for step in self.steps:
            if step["status"] == "in_progress":
                error = last_error if status == "failed" else None
                ended.steps.append(self.finish_step(step["id"], _STEP_END[status], error=error))
        for message in self.thread.messages:
            if message.get("run_id") == self.id and message["status"] == "in_progress":
                reason = _MESSAGE_END[status]
                ended.messages.append(self.close_message(message["id"], "incomplete", reason))
        return ended

    # -- usage -----------------------------------------------------------------------------

    def usage_for(self, overrides: Mapping[str, Any] | None, output: str) -> dict[str, int]:
        """A step's usage: its prompt (instructions, history, input) and what it wrote, one
        token per word as for the other dialects, overridden key by key (either spelling)."""
        with self.state.lock:
            system = {"type": "message", "role": "system", "content": self.resource["instructions"]}
            prompt = [system, *self.history, *self.input_items, *self.produced]
        usage = chat_usage(overrides, prompt=prompt_words(prompt), output=output)
        return {key: int(usage[key]) for key in _USAGE_KEYS}

    def _usage_sum(self) -> dict[str, int] | None:
        counted = [step["usage"] for step in self.steps if step["usage"]]
        if not counted:
            return None
        return {key: sum(int(usage[key]) for usage in counted) for key in _USAGE_KEYS}


def _name_and_arguments(call: Mapping[str, Any]) -> dict[str, str]:
    function = call["function"]
    return {"name": str(function["name"]), "arguments": str(function["arguments"])}


def _call_item(call: Mapping[str, Any]) -> Item:
    return {"type": "function_call", "call_id": call["id"], **call["function"]}


def active_run(state: ServerState, thread: AssistantThread) -> Run | None:
    """The thread's run that is not over yet (expiring those that waited too long)."""
    for run_id in thread.run_ids:
        run = state.runs.get(run_id)
        if run is not None:
            run.expire_if_due()
            if run.is_active:
                return run
    return None
