"""Everything the server remembers, behind one lock: objects, the script, and the records."""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .items import CALL_ANSWERS

if TYPE_CHECKING:
    from .script import ScriptItem
    from .turns import Turn
    from .wire import RecordedRequest


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

    def find(self, item_id: str) -> dict[str, Any] | None:
        return next((item for item in self.items if item.get("id") == item_id), None)


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
        self.tool_outputs: list[tuple[str, Any]] = []

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
            self.tool_outputs.clear()
            self.changed()
