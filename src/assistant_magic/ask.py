"""One ask as a straight line: record the question → settle what the last ask left open → build
the first request → run the rounds → record how it ended.

`first_request` builds an ask's first request for sending and for `--dry-run` alike; only how the
attachments and the thread are staged differs (`Staged` uploads and records them, `Unsent` shows
what would be). Interruption is handled in one place, `Ask.run`: the response in flight is
stopped, the ask is recorded as interrupted, and the next ask settles what the server still holds
open (`ServerThreads.settle`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .attachments import searchable
from .dialects.interface import (
    InputFile,
    PastAsk,
    ResponseRequest,
    ToolOutput,
    ToolRound,
    server_files,
    server_threads,
)
from .errors import ApiError, AskInterrupted, AssistantError, StoreError
from .events import (
    Event,
    Notice,
    ResponseFinished,
    ToolCallFinished,
    ToolCallRequested,
    ToolCallStarted,
    Usage,
)
from .images import ImageLimits
from .interrupts import deferred_interrupts
from .redaction import redact
from .rounds import AskProgress, Rounds, ToolPlan
from .threads import remote_of

if TYPE_CHECKING:
    from .attachments import Attachment
    from .dialects.interface import Dialect
    from .records import AskRecord, ThreadRecord, ToolCallRecord
    from .settings import Settings
    from .threads import Threads
    from .tools import FunctionTool


class AskView(Protocol):
    """Where a running ask is shown (a live widget, plain text, or nothing)."""

    def start(self, *, model: str, thread_id: str) -> None: ...

    def update(self, event: Event) -> None: ...

    def finish(self, outcome: AskOutcome) -> None: ...


class Unseen:
    """A view that shows nothing: the Python API's default."""

    def start(self, *, model: str, thread_id: str) -> None:
        pass

    def update(self, event: Event) -> None:
        pass

    def finish(self, outcome: AskOutcome) -> None:
        pass


@dataclass(frozen=True)
class AskOutcome:
    """How an ask ended: what the store records and the view shows last."""

    status: str
    text: str
    model: str
    thread_id: str
    ask_id: int
    elapsed: float
    response_id: str | None = None
    usage: Usage | None = None
    error: str | None = None
    images: tuple[Any, ...] = ()  # `AssistantImage`s, in arrival order
    cost: str = ""  # "$0.0012" when the model's price is known


class RedactingView:
    """Shows an ask through another view, with every secret masked: a tool may return or raise
    the key, and a notice or an error may quote it. (The answer's deltas are left as they
    stream: the model never received a secret to repeat.)"""

    def __init__(self, view: AskView) -> None:
        self._view = view

    def start(self, *, model: str, thread_id: str) -> None:
        self._view.start(model=model, thread_id=thread_id)

    def update(self, event: Event) -> None:
        if isinstance(event, Notice):
            event = Notice(redact(event.text))
        elif isinstance(event, ToolCallStarted | ToolCallFinished):
            event = replace(event, display=redact(event.display))
        self._view.update(event)

    def finish(self, outcome: AskOutcome) -> None:
        error = redact(outcome.error) if outcome.error else outcome.error
        self._view.finish(replace(outcome, text=redact(outcome.text), error=error))


@dataclass(frozen=True)
class Question:
    """Everything one ask sends but the thread: the text (with its context), the attachments,
    the tools it offers and how it runs them, and the settings."""

    text: str
    settings: Settings
    dialect: Dialect
    plan: ToolPlan
    tools: tuple[FunctionTool, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    #: Said before the ask starts (a tool's definition changed since the last ask).
    notices: tuple[Notice, ...] = ()


# -- the first request -------------------------------------------------------------------------


class Staging(Protocol):
    """How an ask's attachments and thread are made ready for its first request."""

    def files(self, question: Question, searching: bool) -> tuple[InputFile, ...]: ...

    def vector_stores(self, files: Sequence[InputFile]) -> tuple[str, ...]: ...

    def history(self, text: str) -> tuple[PastAsk, ...]: ...


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
        history=() if keeps_history else staging.history(question.text),
        context_window=settings.context_window,
        max_output_tokens=settings.max_output_tokens,
        temperature=settings.temperature,
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

    def history(self, text: str) -> tuple[PastAsk, ...]:
        thread = self.threads.thread
        return thread_history(self.threads, thread, text) if thread else (PastAsk(text),)


class Staged:
    """Staging for a real ask: files uploaded and recorded on the thread, its vector store
    made at its first searchable file, the thread read from the store."""

    def __init__(
        self, threads: Threads, thread: ThreadRecord, question: Question, record: AskRecord
    ) -> None:
        self.threads = threads
        self.thread = thread
        self.question = question
        self.record = record
        self.view: AskView = Unseen()

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

    def history(self, text: str) -> tuple[PastAsk, ...]:
        return thread_history(self.threads, self.thread, text, current=self.record.id)


def thread_history(
    threads: Threads, thread: ThreadRecord, text: str, current: int | None = None
) -> tuple[PastAsk, ...]:
    """The thread as a dialect that resends it needs it: its answered asks, then this one
    (the ask `current`, being recorded, is left out of the past)."""
    store = threads.store
    calls = store.thread_tool_calls(thread.id)
    past = [
        PastAsk(ask.user_text, _rounds(calls.get(ask.id, ())), ask.answer_text)
        for ask in store.asks(thread.id)
        if ask.id != current and (ask.answer_text or ask.id in calls)
    ]
    return (*past, PastAsk(text))


def _rounds(records: Sequence[ToolCallRecord]) -> tuple[ToolRound, ...]:
    """Recorded calls grouped into the model steps that asked for them."""
    by_round: dict[int, list[ToolCallRecord]] = {}
    for record in records:
        if record.status != "pending":  # a call never answered was never sent back
            by_round.setdefault(record.round, []).append(record)
    return tuple(
        ToolRound(
            calls=tuple(ToolCallRequested(r.call_id, r.name, r.arguments) for r in group),
            outputs=tuple(ToolOutput(r.call_id, r.output) for r in group),
        )
        for _, group in sorted(by_round.items())
    )


# -- the ask -----------------------------------------------------------------------------------


class Ask:
    """One ask on the thread `threads` gives it, shown in `view`."""

    def __init__(self, question: Question, threads: Threads, view: AskView) -> None:
        self.question = question
        self.threads = threads
        self.view = RedactingView(view)
        self.progress = AskProgress()
        self.started = time.monotonic()
        #: The ask's id in the store, once it is recorded.
        self.record_id: int | None = None

    def run(self) -> AskOutcome:
        question, threads = self.question, self.threads
        threads.check_store()
        thread = threads.for_ask(question.settings)
        unsettled = threads.unsettled(thread)
        record: AskRecord | None = None
        try:
            # Whole or not at all: an interrupt here lands after the ask is recorded and shown
            # as started, so the handlers below always have an ask to close.
            with deferred_interrupts():
                record = threads.store.start_ask(
                    thread.id, redact(question.text), question.settings.model
                )
                self.record_id = record.id
                self.view.start(model=question.settings.model, thread_id=thread.id)
                for notice in question.notices:
                    self.view.update(notice)
            if unsettled is not None:
                self._settle(thread, unsettled)
            end = self._rounds(record).run(self._first_request(thread, record))
        except KeyboardInterrupt:
            if record is None:
                raise
            self.progress.stop(question.dialect)
            self._finish(record, self.progress.ended("interrupted", "interrupted by the user"))
            # The next ask settles whatever the server still holds open.
            raise AskInterrupted(
                "Interrupted: the partial answer is kept and the thread is ready for the next ask."
            ) from None
        except BaseException as exc:
            if record is None:
                raise
            # Whatever went wrong, the store and the view must say the ask ended.
            error = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
            self.progress.stop(None)
            self._finish(record, self.progress.ended("failed", error))
            raise
        return _raise_if_failed(self._finish(record, end))

    def _first_request(self, thread: ThreadRecord, record: AskRecord) -> ResponseRequest:
        staging = Staged(self.threads, thread, self.question, record)
        staging.view = self.view
        request = first_request(self.question, thread, staging)
        threads = server_threads(self.question.dialect)
        if request.remote_thread is None and threads is not None:
            remote = threads.create_thread(request)
            self.threads.attach_remote(thread, remote)
            request = replace(request, remote_thread=remote)
        return request

    def _rounds(self, record: AskRecord) -> Rounds:
        settings = self.question.settings
        return Rounds(
            self.question.dialect,
            self.view.update,
            self.threads.store,
            record.id,
            self.question.plan,
            offered=self.question.tools,
            image_limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
            progress=self.progress,
        )

    def _settle(self, thread: ThreadRecord, unsettled: AskRecord) -> None:
        """Answer what the unsettled ask left open on the server, with what its tools returned."""
        threads, remote = server_threads(self.question.dialect), remote_of(thread)
        if threads is None or remote is None:
            return
        outputs = {
            call.call_id: call.output
            for call in self.threads.store.tool_calls(unsettled.id)
            if call.status != "pending"
        }
        for line in threads.settle(remote, outputs, unsettled.response_id):
            self.view.update(Notice(line))

    def _finish(self, record: AskRecord, end: ResponseFinished) -> AskOutcome:
        """Record how the ask ended and show it, whole: an interrupt meanwhile is delivered
        after. The view is told even when the store fails, and then the failure is raised: an
        answer shown must not pass for recorded."""
        with deferred_interrupts():
            outcome = self._outcome(record, end)
            store = self.threads.store
            try:
                store.finish_ask(
                    record.id,
                    status=end.status,
                    answer_text=end.text,
                    response_id=end.response_id,
                    usage=end.usage,
                    error=end.error,
                )
                self.threads.refresh()
                store.check_file()
            except AssistantError as exc:
                self.view.finish(outcome)
                if isinstance(exc, StoreError):
                    self.threads.thread = None
                raise StoreError(f"This answer was not recorded. {exc}") from None
            self.view.finish(outcome)
            return outcome

    def _outcome(self, record: AskRecord, end: ResponseFinished) -> AskOutcome:
        settings = self.question.settings
        model = end.model or settings.model
        return AskOutcome(
            status=end.status,
            text=end.text,
            model=model,
            thread_id=record.thread_id,
            ask_id=record.id,
            elapsed=time.monotonic() - self.started,
            response_id=end.response_id,
            usage=end.usage,
            error=end.error,
            images=tuple(self.progress.images),
            cost=cost_text(model, end.usage, settings),
        )


def _raise_if_failed(outcome: AskOutcome) -> AskOutcome:
    if outcome.status == "failed":
        raise ApiError(f"The response failed: {outcome.error}. Run %assistant retry to try again.")
    if outcome.status == "expired":
        raise ApiError(
            f"The run expired before it finished ({outcome.error}). Run %assistant retry to try "
            "again."
        )
    return outcome


def cost_text(model: str, usage: Usage | None, settings: Settings) -> str:
    """The ask's cost for the status line; nothing when the price is unknown (`%assistant usage`
    says why) or a price entry is broken (that fails where the user set it)."""
    if usage is None:
        return ""
    from .pricing import PriceTable, PricingError, format_cost

    try:
        dollars = PriceTable.default().with_overrides(settings.prices).cost(model, usage)
    except PricingError:
        return ""
    return format_cost(dollars, model) if dollars is not None else ""
