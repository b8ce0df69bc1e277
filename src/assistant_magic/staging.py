"""An ask's first request, and what it is made of: the question, the tools, the files and the
thread, made ready for sending (`Staged`) or shown unsent (`Unsent`, for `--dry-run`).

`first_request` is the one place the request is built; the two stagings differ only in what
they do to the server and the store: `Staged` uploads attachments and records them on the
thread, makes its vector store at the first searchable file, and reads the thread so far from
the store; `Unsent` shows what would be uploaded and made, and touches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .attachments import searchable
from .dialects.interface import (
    History,
    InputFile,
    PastAsk,
    ResponseRequest,
    server_files,
    server_threads,
)
from .earlier_asks import StoredAsks
from .events import Notice
from .redaction import redact
from .threads import remote_of

if TYPE_CHECKING:
    from .answer_types import AnswerType
    from .ask import AskView
    from .attachments import Attachment
    from .dialects.interface import Dialect
    from .records import AskRecord, ThreadRecord
    from .rounds import ToolPlan
    from .settings import Settings
    from .threads import Threads
    from .tools.kinds import Tool


@dataclass(frozen=True)
class Question:
    """Everything one ask sends but the thread: the text (with its context), the attachments,
    the tools it offers and how it runs them, and the settings."""

    text: str
    settings: Settings
    dialect: Dialect
    plan: ToolPlan
    tools: tuple[Tool, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: Said before the ask starts (a tool's definition changed since the last ask).
    notices: tuple[Notice, ...] = ()
    #: The type a typed ask's answer must have (None: the answer is text), and how many times
    #: an answer that does not validate is sent back.
    answer: AnswerType | None = None
    repairs: int = 1
    #: MCP servers the Responses API calls itself (`mcp_servers.hosted.HostedMcp`).
    hosted_mcp: tuple[Any, ...] = ()


class Staging(Protocol):
    """How an ask's attachments and thread are made ready for its first request."""

    def files(self, question: Question, searching: bool) -> tuple[InputFile, ...]: ...

    def vector_stores(self, files: Sequence[InputFile]) -> tuple[str, ...]: ...

    def history(self, text: str) -> History: ...


def first_request(
    question: Question, thread: ThreadRecord | None, staging: Staging
) -> ResponseRequest:
    """The first request of an ask: its question, tools, files and (for dialects without
    server-side threads) the thread so far."""
    settings = question.settings
    searching = "file_search" in settings.hosted_tools
    files = staging.files(question, searching)
    stores = staging.vector_stores(files) if searching else ()
    hosted = tuple(t for t in settings.hosted_tools if t != "file_search" or stores)
    keeps_history = server_threads(question.dialect) is not None
    return ResponseRequest(
        model=settings.model,
        instructions=redact(settings.instructions),
        remote_thread=remote_of(thread) if thread else None,
        user_text=redact(question.text),
        tools=question.plan.toolbox.schemas(question.tools),
        tool_choice=question.plan.choice,
        hosted_tools=hosted,
        partial_images=settings.partial_images,
        images=tuple(a.image for a in question.attachments if a.image is not None),
        files=files,
        vector_store_ids=stores,
        mcp_servers=question.hosted_mcp,
        history=None if keeps_history else staging.history(question.text),
        context_window=settings.context_window,
        max_output_tokens=settings.max_output_tokens,
        temperature=settings.temperature,
        answer_format=question.answer.schema if question.answer is not None else None,
    )


class Unsent:
    """Staging for `--dry-run`: files show as they would be uploaded; nothing is made."""

    def __init__(self, threads: Threads) -> None:
        self.threads = threads

    def files(self, question: Question, searching: bool) -> tuple[InputFile, ...]:
        return tuple(
            InputFile(f"(upload of {a.name}, {len(a.data):,} bytes)", a.name, searchable(a.name))
            for a in question.attachments
            if not a.is_image
        )

    def vector_stores(self, files: Sequence[InputFile]) -> tuple[str, ...]:
        thread = self.threads.thread
        existing = thread.vector_store_id if thread else None
        if existing or files:
            return (existing or "(made at the first file)",)
        return ()

    def history(self, text: str) -> History:
        threads = self.threads
        if threads.thread is None:
            return History(PastAsk(text))
        return History(
            PastAsk(text), StoredAsks(threads.store, threads.thread.id, None, threads.past)
        )


class Staged:
    """Staging for a real ask: files uploaded and recorded on the thread, its vector store
    made at its first searchable file, the thread read from the store."""

    def __init__(
        self,
        threads: Threads,
        thread: ThreadRecord,
        question: Question,
        record: AskRecord,
        view: AskView,
    ) -> None:
        self.threads = threads
        self.thread = thread
        self.question = question
        self.record = record
        self.view = view

    def files(self, question: Question, searching: bool) -> tuple[InputFile, ...]:
        """Upload the attached files (images go inline, where the dialect can) and record them
        all on the thread, so that deleting it, or cleaning up, deletes the uploads."""
        server = server_files(question.dialect)
        purpose = "assistants" if searching else "user_data"
        staged = []
        for attachment in question.attachments:
            inline = server is None or (attachment.is_image and not server.uploads_images)
            kind = "vision" if attachment.is_image else purpose
            file_id = "" if inline else server.upload_file(attachment.name, attachment.data, kind)  # type: ignore[union-attr]
            self.threads.store.record_file(
                self.thread.id,
                file_id=file_id,
                filename=attachment.name,
                purpose="image input" if inline else kind,
                size=len(attachment.data),
            )
            if file_id:
                can_search = searching and searchable(attachment.name)
                staged.append(
                    InputFile(file_id, attachment.name, can_search, image=attachment.is_image)
                )
            self.view.update(Notice(f"attached {attachment.name} ({len(attachment.data):,} bytes)"))
        return tuple(staged)

    def vector_stores(self, files: Sequence[InputFile]) -> tuple[str, ...]:
        """The thread's vector store for file search, created at its first searchable file."""
        server = server_files(self.question.dialect)
        files = [f for f in files if f.searchable]
        store_id = self.thread.vector_store_id
        if store_id is None and files and server is not None:
            store_id = server.create_vector_store(f"assistant_magic {self.thread.id}")
            self.threads.thread = self.threads.store.update_thread(
                self.thread.id, vector_store_id=store_id
            )
        if store_id is None or server is None:
            self.view.update(
                Notice(
                    "file search is on, but this thread has no files to search yet: "
                    "%%ask --attach FILE adds one"
                )
            )
            return ()
        for file in files:
            server.add_to_vector_store(store_id, file.file_id)
        return (store_id,)

    def history(self, text: str) -> History:
        threads = self.threads
        return History(
            PastAsk(text), StoredAsks(threads.store, self.thread.id, self.record.id, threads.past)
        )
