"""The one small protocol a wire dialect implements.

A backend turns one user message into a stream of `events`; the session decides what to do
with them. Backends are plain Python: no IPython, no widgets, no store.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..events import Event, ToolCallRequested

if TYPE_CHECKING:
    from ..settings import Settings
    from ..tools import ToolSchema


#: The output of a call the model asked for but that never ran (the turn stopped first).
UNRUN_OUTPUT = "This call did not run: the turn stopped before it could."


@dataclass(frozen=True)
class RemoteThread:
    """What the server holds for one thread: a Conversation (Responses), or a thread and the
    assistant its runs use (Assistants)."""

    id: str
    assistant_id: str | None = None
    #: Whether this package created the assistant, and so deletes it with the thread.
    owns_assistant: bool = False


@dataclass(frozen=True)
class ToolOutput:
    """What a tool call returned, as the model will read it."""

    call_id: str
    output: str
    #: Pictures the tool returned (`AssistantImage`s), for dialects that can show them to the model.
    images: tuple[Any, ...] = ()


@dataclass(frozen=True)
class InputFile:
    """A file the server holds (uploaded for this thread), attached to the user's message."""

    file_id: str
    filename: str
    #: In the thread's vector store, where file search reads it.
    searchable: bool = False
    #: An image uploaded for the model to look at (dialects whose messages cannot hold one).
    image: bool = False


@dataclass(frozen=True)
class ToolRound:
    """One model step's calls and what they returned."""

    calls: tuple[ToolCallRequested, ...]
    outputs: tuple[ToolOutput, ...]


@dataclass(frozen=True)
class PastTurn:
    """A turn as a dialect without server-side threads replays it."""

    user_text: str
    rounds: tuple[ToolRound, ...] = ()
    answer: str = ""


@dataclass(frozen=True)
class TurnRequest:
    """One request to the model: a user message, or the outputs of the calls it asked for."""

    model: str
    instructions: str
    #: The server-side thread; None for dialects that keep history locally.
    remote_thread: RemoteThread | None
    user_text: str | None = None
    tool_outputs: tuple[ToolOutput, ...] = ()
    tools: tuple[ToolSchema, ...] = ()
    #: "auto", "none" (answer without tools), "required", or the one tool name to call.
    tool_choice: str = "auto"
    #: Tools the server runs itself: "code_interpreter", "image_generation".
    hosted_tools: tuple[str, ...] = ()
    #: Previews to stream while an image is generated (0: only the final image).
    partial_images: int = 0
    #: Attached to the user's message: images (`AssistantImage`s) and uploaded files.
    images: tuple[Any, ...] = ()
    files: tuple[InputFile, ...] = ()
    #: What file search reads (with "file_search" among the hosted tools).
    vector_store_ids: tuple[str, ...] = ()
    #: For dialects that keep the thread locally (`Backend.keeps_history` False): the whole
    #: thread so far, ending with this turn (its question and the tool rounds done).
    history: tuple[PastTurn, ...] = ()
    #: Tokens the model can read; the oldest turns are left out of a request beyond it.
    context_window: int = 0
    #: Longest answer in tokens (0: the server's own limit).
    max_output_tokens: int = 0
    #: Sampling temperature (None: the model's default).
    temperature: float | None = None


class Backend(Protocol):
    #: The configuration of the ask being run: the session sets it before each ask, since a
    #: backend outlives the settings it was made with (one per server).
    settings: Settings
    dialect: ClassVar[str]
    #: True when the server keeps the thread (a Conversation); else each request carries it.
    keeps_history: ClassVar[bool]
    #: True when the server takes uploaded files; else text files go inside the message.
    stores_files: ClassVar[bool]
    #: True when images must be uploaded (Files API, purpose "vision") before a message can
    #: show them; else they go inline as data.
    uploads_images: ClassVar[bool]

    def create_thread(self, first: TurnRequest) -> RemoteThread | None:
        """Create the server-side thread for a turn about to be sent (None if the dialect
        keeps no thread on the server)."""
        ...

    def delete_thread(self, remote: RemoteThread) -> None:
        """Delete what the server holds for a thread; what is already gone is not an error."""
        ...

    def stream_turn(self, request: TurnRequest) -> Generator[Event, None, None]:
        """Run one model response, yielding events and ending with exactly one `TurnFinished`.

        Closing the generator early (the user interrupted) must close the HTTP stream.
        Failures the user can act on raise `ApiError` with a one-line message.
        """
        ...

    def preview(self, request: TurnRequest) -> list[tuple[str, dict[str, Any]]]:
        """The requests `stream_turn` would send first, as ("POST /path", JSON body), without
        sending anything (`%%ask --dry-run`)."""
        ...

    def cancel(self, response_id: str) -> None:
        """Best effort: ask the server to stop a response. Never raises."""
        ...

    def upload_file(self, filename: str, data: bytes, purpose: str = "user_data") -> str:
        """Upload a file for the model to read; returns the server's file id."""
        ...

    def create_vector_store(self, name: str) -> str:
        """A vector store for file search; returns its id."""
        ...

    def add_to_vector_store(self, vector_store_id: str, file_id: str) -> None:
        """Add an uploaded file and wait until it is searchable."""
        ...

    def delete_vector_store(self, vector_store_id: str) -> None:
        """Delete a vector store; one already gone is not an error."""
        ...

    def delete_file(self, file_id: str) -> None:
        """Delete an uploaded file; one already gone is not an error."""
        ...

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        """Make the thread take a new request after a turn that did not complete.

        A turn cut short (interrupted, failed, killed) may leave the server holding calls with
        no output, or a run still active, and the thread then refuses the next request. What
        the server holds is the truth, whatever moment the turn stopped at: this waits for the
        turn's `last_response` (or run) to end, asks the server, and answers each call left
        open once, with the text `outputs` has for its call id (what the tool returned before
        the turn stopped), else `UNRUN_OUTPUT`. Returns a line for the user per thing done.
        Raises `ApiError` if the server cannot be asked.
        """
        ...

    def close(self) -> None: ...
