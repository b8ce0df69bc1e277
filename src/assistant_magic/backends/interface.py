"""The one small protocol a wire dialect implements.

A backend turns one user message into a stream of `events`; the session decides what to do
with them. Backends are plain Python: no IPython, no widgets, no store.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar, Protocol

from ..events import Event


@dataclass(frozen=True)
class TurnRequest:
    user_text: str
    model: str
    instructions: str
    #: The server-side thread (a Conversation id); None for dialects that keep history locally.
    remote_thread_id: str | None


class Backend(Protocol):
    dialect: ClassVar[str]

    def create_thread(self) -> str | None:
        """Create the server-side thread, returning its id (None if the dialect has none)."""
        ...

    def delete_thread(self, remote_id: str) -> None: ...

    def stream_turn(self, request: TurnRequest) -> Generator[Event, None, None]:
        """Run one turn, yielding events and ending with exactly one `TurnFinished`.

        Closing the generator early (the user interrupted) must close the HTTP stream.
        Failures the user can act on raise `ApiError` with a one-line message.
        """
        ...

    def cancel(self, response_id: str) -> None:
        """Best effort: ask the server to stop a response. Never raises."""
        ...

    def close(self) -> None: ...
