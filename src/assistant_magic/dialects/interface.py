"""The seam between an ask and a wire dialect: one small protocol, and two capabilities.

A `Dialect` turns one request into a stream of `events`; the ask decides what to do with them.
A dialect whose server keeps threads is also `ServerThreads`, one that keeps files also
`ServerFiles`. Dialects are plain Python: no IPython, no widgets, no store.
"""

from __future__ import annotations

from collections.abc import Generator, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ..events import Event, ToolCallRequested

if TYPE_CHECKING:
    from ..answer_types import AnswerSchema
    from ..settings import Settings
    from ..tools import ToolSchema


#: The output of a call the model asked for but that never ran (the ask stopped first).
UNRUN_OUTPUT = "This call did not run: the ask stopped before it could."


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
class ApprovalAnswer:
    """The client's answer to an `ApprovalRequested`: the server makes the call, or does not."""

    request_id: str
    approve: bool


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
class PastAsk:
    """An ask as a dialect without server-side threads replays it."""

    user_text: str
    rounds: tuple[ToolRound, ...] = ()
    answer: str = ""
    #: Set on an ask that is over, and never the same for two asks (the store's thread and ask
    #: ids: an ask id alone comes back after a thread is deleted): what the ask holds no longer
    #: changes, so a dialect may keep what it makes of it (its messages, their size in tokens).
    key: Hashable | None = None
    #: A typed ask's answers that did not validate, each with what the model was then told.
    repairs: tuple[Repair, ...] = ()


@dataclass(frozen=True)
class Repair:
    """An answer that did not match the ask's schema, and the request to correct it."""

    answer: str
    request: str


class EarlierAsks(Protocol):
    """A thread's asks before the current one, read newest first and only as far as the
    reader goes: a request that fits a context window reads what fits, not the whole thread."""

    def newest_first(self) -> Iterator[PastAsk]: ...


@dataclass(frozen=True)
class ListedAsks:
    """Earlier asks held in memory, oldest first (scripts and tests)."""

    asks: tuple[PastAsk, ...] = ()

    def newest_first(self) -> Iterator[PastAsk]:
        return reversed(self.asks)


@dataclass(frozen=True)
class History:
    """The thread as a dialect without server-side threads resends it: the current ask (its
    question and the tool rounds done so far) after the earlier ones."""

    current: PastAsk
    earlier: EarlierAsks = ListedAsks()

    @classmethod
    def of(cls, *asks: PastAsk) -> History:
        """A history from asks in memory, oldest first; the last is the current one."""
        *earlier, current = asks
        return cls(current, ListedAsks(tuple(earlier)))

    def with_round(self, done: ToolRound) -> History:
        rounds = (*self.current.rounds, done)
        return replace(self, current=replace(self.current, rounds=rounds))

    def with_repair(self, repair: Repair) -> History:
        repairs = (*self.current.repairs, repair)
        return replace(self, current=replace(self.current, repairs=repairs))

    def __iter__(self) -> Iterator[PastAsk]:
        """Every ask, oldest first: reads the whole thread (for tests and small threads)."""
        yield from reversed(list(self.earlier.newest_first()))
        yield self.current


@dataclass(frozen=True)
class ResponseRequest:
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
    #: MCP servers the server calls itself (`mcp_servers.hosted.HostedMcp`), and the answers
    #: to the approvals it asked for in the response before.
    mcp_servers: tuple[Any, ...] = ()
    approvals: tuple[ApprovalAnswer, ...] = ()
    #: For dialects without `ServerThreads`: the thread so far, ending with this ask.
    history: History | None = None
    #: Tokens the model can read; the oldest asks are left out of a request beyond it.
    context_window: int = 0
    #: Longest answer in tokens (0: the server's own limit).
    max_output_tokens: int = 0
    #: Sampling temperature (None: the model's default).
    temperature: float | None = None
    #: The JSON schema the answer must follow (a typed ask), None for a text answer.
    answer_format: AnswerSchema | None = None


class Dialect(Protocol):
    """What every dialect does: stream one model response, show it unsent, stop it, close."""

    #: "responses", "chat" or "assistants".
    name: ClassVar[str]
    #: The configuration of the ask being run: a dialect outlives the settings it was made
    #: with (one per server), so it is given each ask's before the ask.
    settings: Settings

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        """Run one model response, yielding events and ending with exactly one
        `ResponseFinished`.

        Closing the generator early (the user interrupted) must close the HTTP stream.
        Failures the user can act on raise `ApiError` with a one-line message.
        """
        ...

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        """The requests `stream` would send first, as ("POST /path", JSON body), without
        sending anything (`%%ask --dry-run`)."""
        ...

    def cancel(self, response_id: str) -> None:
        """Best effort: stop a response the client left, where the dialect can. Never raises."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ServerThreads(Protocol):
    """A dialect whose server keeps the thread (a Conversation, an Assistants thread); without
    this, every request carries the thread, replayed from the store (`ResponseRequest.history`)."""

    def create_thread(self, first: ResponseRequest) -> RemoteThread:
        """Create the server-side thread for a request about to be sent."""
        ...

    def delete_thread(self, remote: RemoteThread) -> None:
        """Delete what the server holds for a thread; what is already gone is not an error."""
        ...

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        """Make the thread take a new request after an ask that did not complete.

        An ask cut short (interrupted, failed, killed) may leave the server holding calls with
        no output, or a run still active, and the thread then refuses the next request. What
        the server holds is the truth, whatever moment the ask stopped at: this waits for the
        ask's `last_response` (or run) to end, asks the server, and answers each call left open
        once, with the text `outputs` has for its call id (what the tool returned before the
        ask stopped), else `UNRUN_OUTPUT`. Returns a line for the user per thing done. Raises
        `ApiError` if the server cannot be asked.
        """
        ...


@runtime_checkable
class ServerFiles(Protocol):
    """A dialect whose server keeps files (and vector stores for file search); without this,
    attached text files go inside the message."""

    #: True when images must be uploaded (Files API, purpose "vision") before a message can
    #: show them; else they go inline as data.
    uploads_images: ClassVar[bool]

    def upload_file(self, filename: str, data: bytes, purpose: str = "user_data") -> str:
        """Upload a file for the model to read; returns the server's file id."""
        ...

    def delete_file(self, file_id: str) -> None:
        """Delete an uploaded file; one already gone is not an error."""
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


def server_threads(dialect: Dialect) -> ServerThreads | None:
    """The dialect's server-side threads, if its server keeps them."""
    return dialect if _has(dialect, ServerThreads) else None  # type: ignore[return-value]


def server_files(dialect: Dialect) -> ServerFiles | None:
    """The dialect's server-side files, if its server keeps them."""
    return dialect if _has(dialect, ServerFiles) else None  # type: ignore[return-value]


_CAPABLE: dict[tuple[type, type], bool] = {}


def _has(dialect: Dialect, capability: type) -> bool:
    # Checking a runtime protocol walks its members: once per class is enough, and an ask asks
    # several times.
    key = (type(dialect), capability)
    if key not in _CAPABLE:
        _CAPABLE[key] = isinstance(dialect, capability)
    return _CAPABLE[key]
