"""``ServerInspection``: what tests read back from a ``ScriptedServer``: records, objects, waits."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .state import Container, StoredFile, VectorStore
from .wire import RecordedRequest

if TYPE_CHECKING:
    from .state import ServerState


class ServerInspection:
    """The read-back half of ``ScriptedServer``: copies of what it recorded and holds, and waits
    for it to reach a state. Reads only ``_state``, which the server sets."""

    _state: ServerState

    # -- records ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._state.lock:
            return list(self._state.requests)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        """Recorded requests for ``method path`` (``/v1/responses`` or ``/responses``)."""
        full = path if path.startswith("/v1/") else "/v1" + path
        return [r for r in self.requests if r.method == method.upper() and r.path == full]

    def chat_messages(self, index: int = -1) -> list[dict[str, Any]]:
        """The ``messages`` of the ``index``-th ``POST /v1/chat/completions`` request (counting
        every one recorded, rejected or retried ones too; negative counts from the end), as
        sent: the history the client rebuilt for that request."""
        chats = self.requests_to("POST", "/chat/completions")
        if not chats:
            raise IndexError("no POST /v1/chat/completions request was recorded")
        body = chats[index].body
        messages = body.get("messages") if isinstance(body, dict) else None
        return json.loads(json.dumps(messages)) if isinstance(messages, list) else []

    @property
    def validation_errors(self) -> list[str]:
        with self._state.lock:
            return list(self._state.validation_errors)

    @property
    def tool_outputs(self) -> list[tuple[str, Any]]:
        """``(call_id, output)`` of every ``function_call_output`` accepted, in arrival order.

        Counted from ``POST /v1/responses`` input that passed the API's rules, from items added
        to conversations, and from the trailing ``role: "tool"`` messages of accepted
        ``POST /v1/chat/completions`` requests (each once, though the client re-sends them with
        every later request); ``output`` is as sent (a string, or a list of content parts).
        """
        with self._state.lock:
            return list(self._state.tool_outputs)

    @property
    def rejections(self) -> list[str]:
        """Every request answered with an error status, as "POST /v1/responses 400: message",
        in arrival order (scripted ``HttpError``s too)."""
        with self._state.lock:
            return list(self._state.rejections)

    @property
    def disconnects(self) -> list[str]:
        """Ids of responses (or chat completions, or runs) whose streaming client hung up
        mid-stream."""
        with self._state.lock:
            return list(self._state.disconnects)

    # -- stored objects --------------------------------------------------------------------

    def response(self, response_id: str) -> dict[str, Any]:
        """The stored Response object as it stands now."""
        with self._state.lock:
            turn = self._state.responses.get(response_id)
        if turn is None:
            raise KeyError(response_id)
        return turn.snapshot()

    def conversation_items(self, conversation_id: str) -> list[dict[str, Any]]:
        with self._state.lock:
            return json.loads(json.dumps(self._state.conversations[conversation_id].items))

    @property
    def files(self) -> list[StoredFile]:
        """Files uploaded to ``POST /v1/files`` (or added with :meth:`add_file`) and not deleted,
        oldest first: ``filename``, ``purpose``, ``data`` (the bytes) and more."""
        with self._state.lock:
            return list(self._state.files.values())

    @property
    def containers(self) -> list[Container]:
        """Code interpreter containers (made by calls or ``POST /v1/containers``), oldest first;
        each a copy whose ``files`` map ids to ``ContainerFile`` (``path``, ``data``, ...)."""
        with self._state.lock:
            return [container.snapshot() for container in self._state.containers.values()]

    @property
    def vector_stores(self) -> list[VectorStore]:
        """Vector stores (made by ``POST /v1/vector_stores`` or :meth:`add_vector_store`), oldest
        first; each a copy whose ``files`` map file ids to ``VectorStoreFile`` (``file``, the
        upload; ``status``; ``attributes``); its ``searchable_files`` are the completed ones."""
        with self._state.lock:
            return [store.snapshot() for store in self._state.vector_stores.values()]

    @property
    def assistants(self) -> list[dict[str, Any]]:
        """Assistants API assistants not deleted, oldest first (copies of the objects)."""
        with self._state.lock:
            return copy.deepcopy(list(self._state.assistants.values()))

    @property
    def threads(self) -> list[dict[str, Any]]:
        """Assistants API threads not deleted, oldest first (the ``thread`` objects)."""
        with self._state.lock:
            return [thread.resource() for thread in self._state.threads.values()]

    def thread_messages(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's ``thread.message`` objects, oldest first, as they stand now."""
        with self._state.lock:
            return copy.deepcopy(self._state.threads[thread_id].messages)

    def runs(self, thread_id: str) -> list[dict[str, Any]]:
        """The thread's runs, oldest first, as they stand now (reading them moves none on)."""
        with self._state.lock:
            thread = self._state.threads[thread_id]
            return [self._state.runs[run_id].snapshot() for run_id in thread.run_ids]

    def run(self, run_id: str) -> dict[str, Any]:
        """The ``thread.run`` object as it stands now (reading it moves nothing on)."""
        with self._state.lock:
            return self._state.runs[run_id].snapshot()

    def run_steps(self, run_id: str) -> list[dict[str, Any]]:
        """The run's ``thread.run.step`` objects, oldest first."""
        with self._state.lock:
            return self._state.runs[run_id].step_snapshots()

    @property
    def batches(self) -> list[dict[str, Any]]:
        """Batches made by ``POST /v1/batches``, oldest first: copies of the ``batch`` objects
        as they stand now (reading them moves none on)."""
        with self._state.lock:
            return [batch.snapshot() for batch in self._state.batches.values()]

    def batch(self, batch_id: str) -> dict[str, Any]:
        """The ``batch`` object as it stands now (reading it moves nothing on)."""
        with self._state.lock:
            return self._state.batches[batch_id].snapshot()

    # -- waiting ---------------------------------------------------------------------------

    def wait_until_idle(self, timeout: float = 5.0) -> None:
        """Block until no response is still generating: one whose client hung up has ended
        (the server notices a hang-up at its next write). An Assistants run waits for its
        client instead, as on the real API, so it does not count."""
        self._wait(lambda: not self._state.live, timeout, "the responses in progress to end")

    def wait_for_disconnect(self, timeout: float = 5.0) -> str:
        """Block until a streaming client hung up; the id of the first such response."""
        self._wait(lambda: bool(self._state.disconnects), timeout, "a client disconnect")
        return self.disconnects[0]

    def wait_for_status(self, response_id: str, *statuses: str, timeout: float = 5.0) -> str:
        """Block until the stored response reaches one of ``statuses``; returns it."""

        def reached() -> bool:
            turn = self._state.responses.get(response_id)
            return turn is not None and turn.status in statuses

        self._wait(reached, timeout, f"{response_id} to reach {statuses}")
        return str(self.response(response_id)["status"])

    def wait_for_run_status(self, run_id: str, *statuses: str, timeout: float = 5.0) -> str:
        """Block until the run reaches one of ``statuses`` (by a stream, or by the client's
        reads: waiting reads nothing); returns it."""

        def reached() -> bool:
            run = self._state.runs.get(run_id)
            return run is not None and run.status in statuses

        self._wait(reached, timeout, f"{run_id} to reach {statuses}")
        return str(self.run(run_id)["status"])

    def _wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        with self._state.lock:
            if not self._state.lock.wait_for(predicate, timeout):
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
