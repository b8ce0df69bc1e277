"""Everything the server remembers, behind one lock: objects, the script, and the records.

Objects: conversations, responses, uploaded files, code interpreter containers, vector stores,
the Assistants API's assistants, threads and runs, and batches.
"""

from __future__ import annotations

import copy
import dataclasses
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .items import CALL_ANSWERS

if TYPE_CHECKING:
    from .assistants.runs import Run
    from .batches.batch import Batch
    from .hosted_steps import McpCall
    from .responses.response import Turn
    from .script import ScriptItem
    from .wire import RecordedRequest


def by_id(objects: Iterable[dict[str, Any]], ident: str) -> dict[str, Any] | None:
    """The object with this ``id`` among ``objects`` (kept in a list, in order), if any."""
    return next((found for found in objects if found.get("id") == ident), None)


@dataclass
class Conversation:
    id: str
    metadata: dict[str, str]
    created_at: int = field(default_factory=lambda: int(time.time()))
    items: list[dict[str, Any]] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": dict(self.metadata),
        }


@dataclass
class AssistantThread:
    """A thread of the Assistants API: its messages (``thread.message`` objects, oldest first)
    and the ids of its runs, oldest first (the runs live in ``ServerState.runs``)."""

    id: str
    metadata: dict[str, str]
    tool_resources: dict[str, Any]
    created_at: int = field(default_factory=lambda: int(time.time()))
    messages: list[dict[str, Any]] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": dict(self.metadata),
            "tool_resources": copy.deepcopy(self.tool_resources),
        }

    def find(self, message_id: str) -> dict[str, Any] | None:
        return by_id(self.messages, message_id)


@dataclass(frozen=True)
class StoredFile:
    """An upload to ``POST /v1/files`` (or ``ScriptedServer.add_file``), bytes and all."""

    id: str
    filename: str
    purpose: str
    data: bytes
    content_type: str = "application/octet-stream"
    created_at: int = field(default_factory=lambda: int(time.time()))
    expires_at: int | None = None

    def resource(self) -> dict[str, Any]:
        """The OpenAIFile object (``status`` is deprecated but still required by the spec)."""
        resource: dict[str, Any] = {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
        }
        if self.expires_at is not None:
            resource["expires_at"] = self.expires_at
        return resource


@dataclass(frozen=True)
class ContainerFile:
    """A file in a container: uploaded (``source`` "user") or made by code ("assistant")."""

    id: str
    container_id: str
    path: str
    data: bytes
    source: str
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "container.file",
            "created_at": self.created_at,
            "bytes": len(self.data),
            "container_id": self.container_id,
            "path": self.path,
            "source": self.source,
        }


@dataclass
class Container:
    """A code interpreter sandbox and the files in it, by id."""

    id: str
    name: str
    memory_limit: str = "1g"
    created_at: int = field(default_factory=lambda: int(time.time()))
    last_active_at: int = field(default_factory=lambda: int(time.time()))
    files: dict[str, ContainerFile] = field(default_factory=dict)

    def resource(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "container",
            "name": self.name,
            "created_at": self.created_at,
            "status": "running",
            "last_active_at": self.last_active_at,
            "expires_after": {"anchor": "last_active_at", "minutes": 20},
            "memory_limit": self.memory_limit,
        }

    def snapshot(self) -> Container:
        return dataclasses.replace(self, files=dict(self.files))


#: What a vector store file reports while it is processed, and after.
VECTOR_STORE_FILE_STATUSES = ("in_progress", "completed", "cancelled", "failed")
#: The chunking the real API reports for files added with the ``auto`` strategy.
AUTO_CHUNKING: dict[str, Any] = {
    "type": "static",
    "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
}


@dataclass
class VectorStoreFile:
    """An uploaded file added to a vector store (its ``id`` is the file's id).

    It reports ``in_progress`` for ``polls_left`` more reads, then ``completed`` (or ``failed``
    with ``last_error`` when the file type cannot be searched). Only completed files are searched.
    """

    file: StoredFile
    vector_store_id: str
    polls_left: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    chunking_strategy: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(AUTO_CHUNKING))
    last_error: dict[str, str] | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))

    @property
    def id(self) -> str:
        return self.file.id

    @property
    def filename(self) -> str:
        return self.file.filename

    @property
    def status(self) -> str:
        if self.polls_left > 0:
            return "in_progress"
        return "failed" if self.last_error is not None else "completed"

    def resource(self) -> dict[str, Any]:
        done = self.status == "completed"
        return {
            "id": self.id,
            "object": "vector_store.file",
            "usage_bytes": len(self.file.data) if done else 0,
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status,
            "last_error": dict(self.last_error)
            if self.status == "failed" and self.last_error
            else None,
            "chunking_strategy": copy.deepcopy(self.chunking_strategy),
            "attributes": dict(self.attributes),
        }


@dataclass
class VectorStore:
    """A vector store and its files, by file id (oldest first)."""

    id: str
    name: str
    metadata: dict[str, str] = field(default_factory=dict)
    expires_after: dict[str, Any] | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))
    last_active_at: int = field(default_factory=lambda: int(time.time()))
    files: dict[str, VectorStoreFile] = field(default_factory=dict)

    @property
    def status(self) -> str:
        busy = any(f.status == "in_progress" for f in self.files.values())
        return "in_progress" if busy else "completed"

    @property
    def searchable_files(self) -> list[StoredFile]:
        """The uploads the ``file_search`` tool searches: files done processing."""
        return [f.file for f in self.files.values() if f.status == "completed"]

    def file_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VECTOR_STORE_FILE_STATUSES, 0)
        for found in self.files.values():
            counts[found.status] += 1
        return {**counts, "total": len(self.files)}

    def resource(self) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "usage_bytes": sum(
                len(f.file.data) for f in self.files.values() if f.status == "completed"
            ),
            "file_counts": self.file_counts(),
            "status": self.status,
            "last_active_at": self.last_active_at,
            "metadata": dict(self.metadata),
            "expires_at": None,
        }
        if self.expires_after is not None:
            resource["expires_after"] = dict(self.expires_after)
            days = int(self.expires_after.get("days", 0))
            resource["expires_at"] = self.last_active_at + days * 24 * 3600
        return resource

    def snapshot(self) -> VectorStore:
        files = {
            key: dataclasses.replace(f, attributes=dict(f.attributes))
            for key, f in self.files.items()
        }
        return dataclasses.replace(self, metadata=dict(self.metadata), files=files)


class ServerState:
    """Shared by request threads and background turns.

    ``lock`` is a Condition so waiters (``ScriptedServer.wait_for_disconnect``) can sleep until
    a change; every mutation happens with it held and calls :meth:`changed`.
    """

    def __init__(self) -> None:
        self.lock = threading.Condition(threading.RLock())
        self.conversations: dict[str, Conversation] = {}
        self.responses: dict[str, Turn] = {}
        self.live: set[Turn] = set()
        self.script: deque[ScriptItem] = deque()
        self.requests: list[RecordedRequest] = []
        self.validation_errors: list[str] = []
        self.disconnects: list[str] = []
        #: "METHOD /path STATUS: message" of every request answered with an error.
        self.rejections: list[str] = []
        self.tool_outputs: list[tuple[str, Any]] = []
        self.files: dict[str, StoredFile] = {}
        self.containers: dict[str, Container] = {}
        self.vector_stores: dict[str, VectorStore] = {}
        self.assistants: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, AssistantThread] = {}
        self.runs: dict[str, Run] = {}
        self.batches: dict[str, Batch] = {}
        #: Approval requests sent and not yet answered: id -> the MCP step the answer continues.
        self.mcp_approvals: dict[str, McpCall] = {}

    def changed(self) -> None:
        self.lock.notify_all()

    def report(self, problems: Iterable[str]) -> None:
        """Record mistakes in the traffic or the script; the test then fails."""
        problems = list(problems)
        if problems:
            with self.lock:
                self.validation_errors.extend(problems)
                self.changed()

    def accepted(self, items: Iterable[Mapping[str, Any]]) -> None:
        """Items the server took in (response input, conversation items): note tool outputs."""
        with self.lock:
            for item in items:
                if item.get("type") in CALL_ANSWERS.values():
                    self.tool_outputs.append(
                        (str(item.get("call_id")), copy.deepcopy(item.get("output")))
                    )
            self.changed()

    def clear(self) -> None:
        with self.lock:
            self.conversations.clear()
            self.responses.clear()
            self.script.clear()
            self.requests.clear()
            self.validation_errors.clear()
            self.disconnects.clear()
            self.rejections.clear()
            self.tool_outputs.clear()
            self.files.clear()
            self.containers.clear()
            self.vector_stores.clear()
            self.assistants.clear()
            self.threads.clear()
            self.runs.clear()
            self.batches.clear()
            self.mcp_approvals.clear()
            self.changed()
