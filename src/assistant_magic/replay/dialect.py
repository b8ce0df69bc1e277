"""Replay at the dialect seam: a dialect that answers from recordings, and asks the dialect it
wraps only for what was never asked (`on`), or never (`only`).

On dialects whose server keeps the thread, a thread replayed from its start has no server side
yet: it gets a stand-in id, and the recorded items are kept, so that at its first live request
the real thread is made holding them (`seed_thread`), and the store then names the real one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..dialects.interface import RemoteThread, ResponseRequest
from ..errors import AssistantError
from ..events import Event, Notice, ResponseFinished
from . import events as codec
from .keys import ROOT, EarlierDigests, differences, key, normalised
from .recordings import Recording, Recordings, ReplayFile

if TYPE_CHECKING:
    from ..dialects.interface import Dialect
    from ..settings import Settings

#: The prefix of a thread id that stands in for a server thread not made yet.
STAND_IN = "replay_"


class ReplayMissing(AssistantError):
    """`replay only`, and this request was never recorded."""


class Replayer:
    """What replay knows across asks: the mode, the recordings (the store's, a file's), the
    keys used this session (for export), and each thread's last response key."""

    def __init__(self, mode: str, store: str, file: ReplayFile | None = None) -> None:
        self.mode = mode
        self.recordings = Recordings(store)
        self.file = file.recordings if file else {}
        #: Rows' answers the file carries, by request key (jobs read them as the store's).
        self.file_rows = file.rows if file else {}
        self.used: list[str] = []
        #: Request keys of the rows this session's jobs asked about, for export.
        self.used_rows: list[str] = []
        self.heads: dict[str, str] = {}  # thread id (stand-in or real) -> last key
        #: Items replayed on stand-in threads, to seed the real thread with.
        self.seeds: dict[str, list[dict[str, Any]]] = {}
        #: Stand-in threads made real, and back.
        self.real: dict[str, RemoteThread] = {}
        self.stand_in_of: dict[str, str] = {}
        #: Set by an ask that must go live once (`%%ask --fresh`).
        self.live_next = False
        #: The digests of chat threads' earlier asks, for their keys.
        self.digests = EarlierDigests()

    def find(self, wanted: str) -> Recording | None:
        return self.file.get(wanted) or self.recordings.get(wanted)

    def close(self) -> None:
        self.recordings.close()


class ReplayDialect:
    """A dialect that replays (see the module's docstring); the wrapped one is made only when
    a request goes live."""

    def __init__(
        self,
        make: Callable[[], Dialect],
        name: str,
        replayer: Replayer,
        rename: Callable[[RemoteThread, RemoteThread], None],
        settings: Settings,
    ) -> None:
        self._make = make
        self._inner: Dialect | None = None
        self.name = name
        self.replayer = replayer
        self._rename = rename
        self._settings = settings

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value
        if self._inner is not None:
            self._inner.settings = value

    @property
    def inner(self) -> Dialect:
        if self._inner is None:
            self._inner = self._make()
            self._inner.settings = self._settings
        return self._inner

    def __getattr__(self, name: str) -> Any:
        # Files and vector stores go to the real dialect (they exist only where it has them).
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    # -- the seam -------------------------------------------------------------------------------

    def replay_key(self, request: ResponseRequest) -> str:
        """The key the request is recorded under (`--dry-run` shows it)."""
        return key(normalised(request, self.name, self.replayer.digests), self._parent(request))

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        replayer = self.replayer
        parts = normalised(request, self.name, replayer.digests)
        parent = self._parent(request)
        wanted = key(parts, parent)
        live = replayer.live_next or replayer.mode == "off"
        recording = None if live else replayer.find(wanted)
        if recording is not None:
            yield from self._replayed(request, recording)
            return
        if replayer.mode == "only" and not replayer.live_next:
            raise ReplayMissing(self._missing(parts, parent))
        yield from self._live(request, parts, parent, wanted)

    def _replayed(
        self, request: ResponseRequest, recording: Recording
    ) -> Generator[Event, None, None]:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(recording.created))
        yield Notice(f"replayed: recorded {when} with {recording.model}")
        events = codec.decode([dict(e) for e in recording.events])
        self._advance(request, recording.key, events)
        self.replayer.used.append(recording.key)
        yield from events

    def _live(
        self, request: ResponseRequest, parts: dict[str, Any], parent: str, wanted: str
    ) -> Generator[Event, None, None]:
        request = self._real_thread(request)
        seen: list[Event] = []
        for event in self.inner.stream(request):
            seen.append(event)
            yield event
        end = next((e for e in reversed(seen) if isinstance(e, ResponseFinished)), None)
        if end is None or end.status not in ("completed", "incomplete"):
            return  # a failed response is asked again next time, not replayed
        recording = Recording(
            wanted,
            parent,
            self.name,
            end.model or request.model,
            parts,
            codec.encode(seen),
            time.time(),
        )
        self.replayer.recordings.add(recording)
        self.replayer.used.append(wanted)
        self._advance(request, wanted, seen)

    def _parent(self, request: ResponseRequest) -> str:
        thread = self._thread_id(request)
        if thread is None or request.remote_thread is None:
            return ROOT
        known = self.replayer.heads.get(thread)
        # A thread resumed in a new kernel: the store knows where its chain stopped.
        return known or self.replayer.recordings.head(request.remote_thread.id) or ROOT

    def _thread_id(self, request: ResponseRequest) -> str | None:
        """Which thread the request is on: a thread that went live keeps its stand-in's name,
        so its chain of keys goes on."""
        thread = request.remote_thread
        if thread is None:
            return None
        return self.replayer.stand_in_of.get(thread.id, thread.id)

    def _advance(self, request: ResponseRequest, done: str, events: list[Event]) -> None:
        """Note the response as the thread's last; on a stand-in thread, keep its items."""
        self.replayer.live_next = False
        thread = self._thread_id(request)
        if thread is None:
            return
        self.replayer.heads[thread] = done
        if request.remote_thread is not None:
            self.replayer.recordings.set_head(request.remote_thread.id, done)
        if thread.startswith(STAND_IN) and thread not in self.replayer.real:
            self.replayer.seeds.setdefault(thread, []).extend(_items(request, events))

    def _missing(self, parts: dict[str, Any], parent: str) -> str:
        closest = self.replayer.recordings.children(parent) + [
            r for r in self.replayer.file.values() if r.parent == parent
        ]
        if not closest:
            return (
                "Not recorded, and replay is only: no recording goes on from this point of the "
                "thread (its earlier asks differ); set %assistant replay on to ask live."
            )
        best = min(closest, key=lambda r: len(differences(parts, r.request)))
        what = ", ".join(differences(parts, best.request)) or "the order of asks"
        return (
            f"Not recorded, and replay is only: the closest recording differs in {what}; "
            "set %assistant replay on to ask live."
        )

    # -- the server's thread --------------------------------------------------------------------

    def _real_thread(self, request: ResponseRequest) -> ResponseRequest:
        stand_in = request.remote_thread
        if stand_in is None or not stand_in.id.startswith(STAND_IN):
            return request
        made = self.replayer.real.get(stand_in.id)
        if made is not None:  # later requests of the ask that made it
            return replace(request, remote_thread=made)
        seed = getattr(self.inner, "seed_thread", None)
        items = self.replayer.seeds.pop(stand_in.id, [])
        real = seed(request, items) if seed is not None else self.inner.create_thread(request)  # type: ignore[attr-defined]
        self._rename(stand_in, real)
        self.replayer.real[stand_in.id] = real
        self.replayer.stand_in_of[real.id] = stand_in.id
        request = replace(request, remote_thread=real)
        if request.tool_outputs and self.name == "assistants":
            # The run that asked for these calls was replayed, not made: no run waits for the
            # outputs, so they go as the next message.
            said = "\n".join(f"(the call returned: {o.output})" for o in request.tool_outputs)
            request = replace(request, user_text=said, tool_outputs=())
        return request

    def cancel(self, response_id: str) -> None:
        if self._inner is not None:
            self._inner.cancel(response_id)

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        return self.inner.preview(request)

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()


class ReplayThreadsDialect(ReplayDialect):
    """`ReplayDialect` for dialects whose server keeps the thread."""

    def create_thread(self, first: ResponseRequest) -> RemoteThread:
        # Made for real at the first request that goes live (with what was replayed).
        return RemoteThread(f"{STAND_IN}{uuid.uuid4().hex[:24]}", assistant_id=STAND_IN)

    def delete_thread(self, remote: RemoteThread) -> None:
        if not remote.id.startswith(STAND_IN):
            self.inner.delete_thread(remote)  # type: ignore[attr-defined]

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        if remote.id.startswith(STAND_IN):
            return []  # a replayed ask leaves nothing open on any server
        return self.inner.settle(remote, outputs, last_response)  # type: ignore[attr-defined]


def _items(request: ResponseRequest, events: list[Event]) -> list[dict[str, Any]]:
    """A response's part of the thread, as Responses items (what seeding a thread takes)."""
    items: list[dict[str, Any]] = [
        {"type": "function_call_output", "call_id": o.call_id, "output": o.output}
        for o in request.tool_outputs
    ]
    if request.user_text is not None:
        items.append({"type": "message", "role": "user", "content": request.user_text})
    end = next((e for e in reversed(events) if isinstance(e, ResponseFinished)), None)
    if end is not None:
        if end.text:
            items.append({"type": "message", "role": "assistant", "content": end.text})
        items += [
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            }
            for call in end.tool_calls
        ]
    return items
