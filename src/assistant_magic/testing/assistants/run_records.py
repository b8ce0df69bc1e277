"""What a simulated Assistants run writes down as it goes: its run steps and the messages it
adds to the thread, each changed under the state lock as its stream deltas would change it."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from ..state import AssistantThread, ServerState
from .objects import merge_at, message_item, run_step, thread_message

TIMESTAMPS = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}
_STEP_TIMESTAMPS = {**TIMESTAMPS, "expired": "expired_at"}


class RunRecords:
    """The steps and messages of `runs.Run`."""

    state: ServerState
    resource: dict[str, Any]
    thread: AssistantThread
    steps: list[dict[str, Any]]
    produced: list[Any]

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def thread_id(self) -> str:
        return str(self.resource["thread_id"])

    # -- steps -----------------------------------------------------------------------------

    def open_step(self, kind: str) -> dict[str, Any]:
        """A new ``in_progress`` step: ``message_creation`` or ``tool_calls`` (calls to come)."""
        step = run_step(self.resource, kind)
        with self.state.lock:
            self.steps.append(step)
            self.state.changed()
            return copy.deepcopy(step)

    def merge_tool_call(self, step_id: str, index: int, delta: Mapping[str, Any]) -> None:
        """Add a streamed piece of the ``index``-th call (a new call when it is the next one)."""
        with self.state.lock:
            calls = self._step(step_id)["step_details"]["tool_calls"]
            merge_at(calls, index, delta)
            self.state.changed()

    def finish_step(
        self,
        step_id: str,
        status: str,
        *,
        usage: Mapping[str, int] | None = None,
        error: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        with self.state.lock:
            step = self._step(step_id)
            step["status"] = status
            step[_STEP_TIMESTAMPS[status]] = int(time.time())
            if usage is not None:
                step["usage"] = dict(usage)
            if error is not None:
                step["last_error"] = dict(error)
            self.state.changed()
            return copy.deepcopy(step)

    def _step(self, step_id: str) -> dict[str, Any]:
        return next(step for step in self.steps if step["id"] == step_id)

    # -- messages --------------------------------------------------------------------------

    def open_message(self, step_id: str) -> dict[str, Any]:
        """An ``in_progress`` assistant message on the thread, made by the step ``step_id``."""
        message = thread_message(
            self.thread_id,
            "assistant",
            [],
            status="in_progress",
            assistant_id=self.resource["assistant_id"],
            run_id=self.id,
        )
        with self.state.lock:
            self._step(step_id)["step_details"]["message_creation"]["message_id"] = message["id"]
            self.thread.messages.append(message)
            self.state.changed()
            return copy.deepcopy(message)

    def merge_content(self, message_id: str, index: int, block: Mapping[str, Any]) -> None:
        """Add a streamed piece of the message's ``index``-th content block."""
        with self.state.lock:
            merge_at(self._message(message_id)["content"], index, block)
            self.state.changed()

    def close_message(
        self, message_id: str, status: str, reason: str | None = None
    ) -> dict[str, Any]:
        """The message is done (``completed``, or ``incomplete`` for ``reason``); the model's
        next step sees it."""
        with self.state.lock:
            message = self._message(message_id)
            message["status"] = status
            now = int(time.time())
            if status == "completed":
                message["completed_at"] = now
            else:
                message["incomplete_at"] = now
                message["incomplete_details"] = {"reason": reason}
            self.produced.append(message_item(message))
            self.state.changed()
            return copy.deepcopy(message)

    def _message(self, message_id: str) -> dict[str, Any]:
        found = self.thread.find(message_id)
        if found is None:
            raise KeyError(message_id)
        return found
