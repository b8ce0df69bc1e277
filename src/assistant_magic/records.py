"""What the store holds, as records: threads, asks, tool calls and files, and their rows."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .events import Usage

TITLE_MAX = 60

THREAD_COLUMNS = (
    "id, title, model, dialect, base_url, remote_id, notebook, created, updated, vector_store_id,"
    " assistant_id, assistant_owned"
)
ASK_COLUMNS = (
    "id, thread_id, seq, user_text, answer_text, model, status, response_id, error,"
    " input_tokens, output_tokens, total_tokens, cached_tokens, started, finished"
)
#: Qualified: tool calls are read joined with their asks (``c`` and ``t``).
TOOL_CALL_COLUMNS = (
    "c.id, c.ask_id, c.round, c.seq, c.call_id, c.name, c.arguments, c.output, c.status,"
    " c.duration, c.started, c.finished"
)
#: Fields ``update_thread`` may change; id and timestamps belong to the store.
UPDATABLE_THREAD_FIELDS = frozenset(
    {"title", "model", "dialect", "base_url", "remote_id", "notebook", "vector_store_id"}
    | {"assistant_id", "assistant_owned"}
)


@dataclass(frozen=True)
class ThreadRecord:
    id: str
    """Local id, ``th_`` + 12 hex chars: the id users see and type."""
    title: str
    """First user message on one line (see `make_title`); ``""`` until the first ask."""
    model: str
    dialect: str
    """``"responses"``, ``"chat"`` or ``"assistants"``."""
    base_url: str
    remote_id: str | None
    """Server-side id (``conv_...``, ``thread_...``); None for dialects that keep history
    locally."""
    notebook: str
    """Key of the notebook the thread was created in (a path or ``ipython:<cwd>``)."""
    created: float
    updated: float
    vector_store_id: str | None = None
    """The server-side vector store file search reads for this thread, once it has one."""
    assistant_id: str | None = None
    """Assistants API: the assistant the thread's runs use (``asst_...``)."""
    assistant_owned: bool = False
    """Whether this package created that assistant (and so may delete it)."""


@dataclass(frozen=True)
class AskRecord:
    id: int
    thread_id: str
    seq: int
    """1, 2, ... within the thread."""
    user_text: str
    answer_text: str
    model: str
    status: str
    """``pending`` until finished, then one of `events.FINAL_STATUSES`."""
    response_id: str | None
    error: str | None
    usage: Usage | None
    started: float
    finished: float | None


@dataclass(frozen=True)
class ToolCallRecord:
    id: int
    ask_id: int
    round: int
    """1, 2, ...: the model step within the ask that asked for the call."""
    seq: int
    """1, 2, ... within the ask, across rounds; assigned by the store."""
    call_id: str
    """The model's id for the call (``call_...``); unique within the ask."""
    name: str
    arguments: str
    """The JSON text the model sent, verbatim (it may not be valid JSON)."""
    output: str
    """The text sent back to the model; ``""`` while pending."""
    status: str
    """``pending``, then one of `TOOL_CALL_FINAL_STATUSES`."""
    duration: float | None
    """Seconds the function ran; None if it did not run (denied) or was not timed."""
    started: float
    finished: float | None


@dataclass(frozen=True)
class FileRecord:
    """A file attached on a thread: uploaded to the server, or an image sent inline."""

    id: int
    thread_id: str
    file_id: str
    """The server's id (``file-...``); ``""`` for an image sent inline (nothing to delete)."""
    filename: str
    purpose: str
    size: int
    created: float


def make_title(text: str) -> str:
    """First non-empty line of ``text``, whitespace collapsed, at most 60 chars."""
    line = next((" ".join(ln.split()) for ln in text.splitlines() if ln.strip()), "")
    if len(line) <= TITLE_MAX:
        return line
    return line[: TITLE_MAX - 1].rstrip() + "…"


def new_thread_id() -> str:
    import uuid  # here: uuid pulls in `platform`, a few ms on every extension load

    return "th_" + uuid.uuid4().hex[:12]


def thread_values(t: ThreadRecord) -> tuple[object, ...]:
    return (
        t.id,
        t.title,
        t.model,
        t.dialect,
        t.base_url,
        t.remote_id,
        t.notebook,
        t.created,
        t.updated,
        t.vector_store_id,
        t.assistant_id,
        int(t.assistant_owned),
    )


def thread_from_row(row: tuple[Any, ...]) -> ThreadRecord:
    # THREAD_COLUMNS lists the columns in field order; SQLite keeps the flag as 0 or 1.
    record = ThreadRecord(*row)
    return replace(record, assistant_owned=bool(record.assistant_owned))


def usage_values(usage: Usage | None) -> tuple[int | None, ...]:
    if usage is None:
        return (None, None, None, None)
    return (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cached_tokens)


def ask_from_row(row: tuple[Any, ...]) -> AskRecord:
    # ASK_COLUMNS lists the columns in field order, with usage spread over four columns.
    id_, thread_id, seq, user_text, answer_text, model, status, response_id, error = row[:9]
    tokens, (started, finished) = row[9:13], row[13:]
    return AskRecord(
        id=id_,
        thread_id=thread_id,
        seq=seq,
        user_text=user_text,
        answer_text=answer_text,
        model=model,
        status=status,
        response_id=response_id,
        error=error,
        usage=None if tokens[0] is None else Usage(*tokens),
        started=started,
        finished=finished,
    )
