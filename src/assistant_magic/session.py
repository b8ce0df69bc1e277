"""The thread bound to the kernel, and the turn loop that talks on it.

A `Session` owns the local store and one backend per server. `ask` runs one turn: it records
the user's message before anything touches the network (so no failure loses it), streams the
backend's events to the view, and records how the turn ended. Nothing here knows IPython.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .attachments import inline_text_files, searchable
from .backends.interface import (
    InputFile,
    PastTurn,
    RemoteThread,
    ToolOutput,
    ToolRound,
    TurnRequest,
)
from .errors import ApiError, AssistantError, ConfigurationError, StoreError, TurnInterrupted
from .events import (
    Event,
    Notice,
    ToolCallFinished,
    ToolCallRequested,
    ToolCallStarted,
    TurnFinished,
    Usage,
)
from .images import ImageLimits
from .interrupts import deferred_interrupts
from .redaction import redact
from .toolbox import ToolBox
from .turn import Budget, ToolPlan, TurnLoop, TurnProgress

if TYPE_CHECKING:
    from .attachments import Attachment
    from .backends.interface import Backend
    from .settings import Settings
    from .store import FileRecord, Store, ThreadRecord, ToolCallRecord, TurnRecord
    from .tools import FunctionTool


class TurnView(Protocol):
    """Where a running turn is shown (a live widget, plain text, or nothing)."""

    def start(self, *, model: str, thread_id: str) -> None: ...

    def update(self, event: Event) -> None: ...

    def finish(self, outcome: TurnOutcome) -> None: ...


class RedactingView:
    """Shows a turn through another view, with every secret masked: a tool may return or raise
    the key, and a notice or an error may quote it. (The answer's deltas are left as they
    stream: the model never received a secret to repeat.)"""

    def __init__(self, view: TurnView) -> None:
        self._view = view

    def start(self, *, model: str, thread_id: str) -> None:
        self._view.start(model=model, thread_id=thread_id)

    def update(self, event: Event) -> None:
        if isinstance(event, Notice):
            event = Notice(redact(event.text))
        elif isinstance(event, ToolCallStarted | ToolCallFinished):
            event = replace(event, display=redact(event.display))
        self._view.update(event)

    def finish(self, outcome: TurnOutcome) -> None:
        error = redact(outcome.error) if outcome.error else outcome.error
        self._view.finish(replace(outcome, text=redact(outcome.text), error=error))


@dataclass(frozen=True)
class TurnOutcome:
    status: str
    text: str
    model: str
    thread_id: str
    turn_id: int
    elapsed: float
    response_id: str | None = None
    usage: Usage | None = None
    error: str | None = None
    images: tuple[Any, ...] = ()  # `AssistantImage`s, in arrival order
    cost: str = ""  # "$0.0012" when the model's price is known


class Session:
    def __init__(self, store_path: str | Path, notebook: str) -> None:
        self.store_path = store_path
        self.notebook = notebook
        self.thread: ThreadRecord | None = None
        self._store: Store | None = None
        self._backends: dict[tuple[object, ...], Backend] = {}
        #: The turns asked in this kernel session, for `%assistant usage`.
        self.turn_ids: list[int] = []

    @property
    def store(self) -> Store:
        if self._store is None:
            from .store import Store

            self._store = Store(self.store_path)
        return self._store

    # -- threads -------------------------------------------------------------------------------

    def new_thread(self, settings: Settings) -> ThreadRecord:
        """Bind a fresh thread; its server side is created at the first ask."""
        self.thread = self.store.create_thread(
            model=settings.model,
            dialect=settings.api,
            base_url=settings.public_base_url,
            notebook=self.notebook,
        )
        return self.thread

    def find_thread(self, key: str) -> ThreadRecord:
        thread = self.store.get_thread(key)
        if thread is None:
            raise AssistantError(f"No thread matches {key!r}: see %assistant thread list.")
        return thread

    def use_thread(self, key: str) -> ThreadRecord:
        self.thread = self.find_thread(key)
        return self.thread

    def resume(self) -> ThreadRecord:
        """Bind this notebook's latest thread that holds a conversation (not the bound one)."""
        bound = self.thread.id if self.thread else None
        for thread in self.store.list_threads(notebook=self.notebook, limit=None):
            if thread.id != bound and self.store.message_count(thread.id):
                self.thread = thread
                return thread
        raise AssistantError(
            "This notebook has no earlier thread to resume: %assistant thread list shows all."
        )

    def delete_thread(self, key: str, settings: Settings) -> tuple[ThreadRecord, bool]:
        """Delete a thread here and, when it lives on the current server, there too.

        Returns the thread and whether its server-side copy was deleted.
        """
        thread = self.find_thread(key)
        remote_deleted = False
        if _same_server(thread, settings):
            self.delete_files(thread, self.store.files(thread.id), settings)
            if thread.vector_store_id:
                self.backend(settings).delete_vector_store(thread.vector_store_id)
            remote = _remote(thread)
            if remote is not None:
                self.backend(settings).delete_thread(remote)
                remote_deleted = True
        self.store.delete_thread(thread.id)
        if self.thread is not None and self.thread.id == thread.id:
            self.thread = None
        return thread, remote_deleted

    def cleanup(self, settings: Settings) -> list[str]:
        """Delete what the bound thread holds on the server (its thread or conversation, the
        files uploaded for it, its vector store, and its assistant if this package made it) and
        unbind it. The local transcript stays. Returns what was deleted, for the user."""
        thread = self.thread
        if thread is None:
            raise AssistantError("No thread is bound: nothing to clean up.")
        if not _same_server(thread, settings):
            raise ConfigurationError(
                f"The bound thread {thread.id} {_elsewhere(thread, settings)}: switch back with "
                f"{_switch_back(thread, settings)} to clean it up."
            )
        backend = self.backend(settings)
        deleted = []
        files = self.store.files(thread.id)
        self.delete_files(thread, files, settings)
        deleted += [f"file {f.filename}" for f in files if f.file_id]
        if thread.vector_store_id:
            backend.delete_vector_store(thread.vector_store_id)
            deleted.append(f"vector store {thread.vector_store_id}")
        remote = _remote(thread)
        if remote is not None:
            backend.delete_thread(remote)
            deleted.append(f"thread {remote.id}")
            if remote.owns_assistant and remote.assistant_id:
                deleted.append(f"assistant {remote.assistant_id}")
        self.store.update_thread(
            thread.id,
            remote_id=None,
            vector_store_id=None,
            assistant_id=None,
            assistant_owned=False,
        )
        self.thread = None
        return deleted

    @staticmethod
    def fits(thread: ThreadRecord, settings: Settings) -> bool:
        """Whether the thread can go on under `settings`: its server and dialect, and, on the
        Assistants API, no other assistant named."""
        named = settings.assistant_id
        return _same_server(thread, settings) and (
            not named or thread.assistant_id in (None, named)
        )

    def budget(
        self,
        *,
        ask_tokens: int = 0,
        thread_tokens: int = 0,
        ask_tool_calls: int = 0,
        thread_tool_calls: int = 0,
    ) -> Budget:
        """What the next ask may spend: the tighter of the per-ask limit and what the bound
        thread has left of its own (0: no limit)."""
        thread = self.thread
        used_tokens = used_calls = 0
        if thread is not None and (thread_tokens or thread_tool_calls):
            used = self.store.usage_by_model(thread_id=thread.id).values()
            used_tokens = sum(u.total_tokens for u in used)
            used_calls = self.store.tool_call_count(thread.id)
        tokens, tokens_limit = _tighter(
            (ask_tokens, "per ask (max_ask_tokens)"),
            (thread_tokens, f"left of this thread's {thread_tokens:,} (max_thread_tokens)"),
            used_tokens,
        )
        calls, calls_limit = _tighter(
            (ask_tool_calls, "per ask (max_ask_tool_calls)"),
            (
                thread_tool_calls,
                f"left of this thread's {thread_tool_calls:,} (max_thread_tool_calls)",
            ),
            used_calls,
        )
        return Budget(tokens, tokens_limit, calls, calls_limit)

    def refresh_thread(self) -> ThreadRecord | None:
        if self.thread is not None:
            self.thread = self.store.get_thread(self.thread.id)
        return self.thread

    # -- turns ---------------------------------------------------------------------------------

    def ask(
        self,
        text: str,
        settings: Settings,
        view: TurnView,
        plan: ToolPlan | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> TurnOutcome:
        backend = self.backend(settings)  # a missing key fails here, before anything is sent
        self.check_store()
        thread = self._thread_for(settings)
        plan = plan or ToolPlan(ToolBox(namespace={}, approve=_deny), names=())
        tools, notices = plan.toolbox.resolve(plan.names)  # a broken tool fails here too
        if not backend.stores_files:  # the files go into the message, so the thread keeps them
            text, attachments = inline_text_files(text, attachments)
        text = redact(text)  # the key never goes to the model, whatever the cell or its context
        unsettled = self._unsettled(thread)
        view = RedactingView(view)
        started = time.monotonic()
        turn: TurnRecord | None = None
        progress = TurnProgress()
        try:
            # Whole or not at all: an interrupt here lands after the turn is recorded and shown
            # as started, so the handlers below always have a turn to close.
            with deferred_interrupts():
                turn = self.store.start_turn(thread.id, text, settings.model)
                self.turn_ids.append(turn.id)
                view.start(model=settings.model, thread_id=thread.id)
                for notice in notices:
                    view.update(notice)
            if unsettled is not None:
                self._settle(thread, backend, unsettled, view)
            loop = TurnLoop(
                backend,
                view.update,
                self.store,
                turn.id,
                plan,
                offered=tools,
                image_limits=ImageLimits(settings.max_image_bytes, settings.max_image_pixels),
                progress=progress,
            )
            request = self._first_request(
                text, settings, thread, backend, plan, tools, attachments, view, turn
            )
            end = loop.run(request)
        except KeyboardInterrupt:
            if turn is None:
                raise
            progress.close()
            if progress.response_id:
                backend.cancel(progress.response_id)  # where the dialect can stop it
            end = progress.ended("interrupted", "interrupted by the user")
            self._finish(turn, end, settings, started, progress, view)
            # The next ask settles whatever the server still holds open (see _unsettled).
            raise TurnInterrupted(
                "Interrupted: the partial answer is kept and the thread is ready for the next ask."
            ) from None
        except BaseException as exc:
            if turn is None:
                raise
            # Whatever went wrong, the store and the view must say the turn ended.
            error = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
            progress.close()
            self._finish(turn, progress.ended("failed", error), settings, started, progress, view)
            raise
        outcome = self._finish(turn, end, settings, started, progress, view)
        if outcome.status == "failed":
            raise ApiError(
                f"The response failed: {outcome.error}. Run %assistant retry to try again."
            )
        if outcome.status == "expired":
            raise ApiError(
                f"The run expired before it finished ({outcome.error}). Run %assistant retry to "
                "try again."
            )
        return outcome

    def _first_request(
        self,
        text: str,
        settings: Settings,
        thread: ThreadRecord,
        backend: Backend,
        plan: ToolPlan,
        tools: Sequence[FunctionTool],
        attachments: Sequence[Attachment],
        view: TurnView,
        turn: TurnRecord,
    ) -> TurnRequest:
        """The ask's first request, with its files uploaded and the server's thread made."""
        searching = "file_search" in settings.hosted_tools
        files = self._upload(thread, backend, attachments, view, searching)
        stores = self._vector_stores(thread, backend, files, view) if searching else ()
        request = self._request(
            text,
            settings,
            thread,
            plan,
            tools,
            attachments,
            files,
            stores,
            history=() if backend.keeps_history else self._history(thread, text, turn.id),
        )
        if request.remote_thread is None:
            request = replace(request, remote_thread=self._create_remote(thread, backend, request))
        return request

    def preview(
        self,
        text: str,
        settings: Settings,
        plan: ToolPlan,
        attachments: Sequence[Attachment] = (),
    ) -> list[tuple[str, dict[str, Any]]]:
        """The requests an ask would send first, as (method and path, JSON body), sending
        nothing, creating nothing and recording nothing. Files show as they will be uploaded."""
        backend = self.backend(settings)
        thread = self.thread
        tools, _ = plan.toolbox.resolve(plan.names)
        if not backend.stores_files:
            text, attachments = inline_text_files(text, attachments)
        files = tuple(
            InputFile(f"(upload of {a.name}, {len(a.data):,} bytes)", a.name, searchable(a.name))
            for a in attachments
            if not a.is_image
        )
        searching = "file_search" in settings.hosted_tools
        store_id = (thread.vector_store_id if thread else None) or "(made at the first file)"
        stores = (store_id,) if searching and (files or (thread and thread.vector_store_id)) else ()
        history: tuple[PastTurn, ...] = ()
        if not backend.keeps_history:
            history = self._history(thread, text) if thread else (PastTurn(text),)
        request = self._request(
            text,
            settings,
            thread,
            plan,
            tools,
            attachments,
            files,
            stores,
            history=history,
        )
        return backend.preview(request)

    def _request(
        self,
        text: str,
        settings: Settings,
        thread: ThreadRecord | None,
        plan: ToolPlan,
        tools: Sequence[Any],
        attachments: Sequence[Attachment],
        files: tuple[InputFile, ...],
        stores: tuple[str, ...],
        *,
        history: tuple[PastTurn, ...],
    ) -> TurnRequest:
        """The first request of an ask."""
        hosted = tuple(t for t in settings.hosted_tools if t != "file_search" or stores)
        return TurnRequest(
            model=settings.model,
            instructions=redact(settings.instructions),
            remote_thread=_remote(thread) if thread else None,
            user_text=redact(text),
            tools=plan.toolbox.schemas(tools),
            tool_choice=plan.choice,
            hosted_tools=hosted,
            partial_images=settings.partial_images,
            images=tuple(a.image for a in attachments if a.image is not None),
            files=files,
            vector_store_ids=stores,
            history=history,
            context_window=settings.context_window,
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
        )

    def _history(
        self, thread: ThreadRecord, text: str, current: int | None = None
    ) -> tuple[PastTurn, ...]:
        """The thread as a dialect that resends it needs it: its answered turns, then this one
        (the turn `current`, being recorded, is left out of the past)."""
        calls = self.store.thread_tool_calls(thread.id)
        past = [
            PastTurn(turn.user_text, _rounds(calls.get(turn.id, ())), turn.answer_text)
            for turn in self.store.turns(thread.id)
            if turn.id != current and (turn.answer_text or turn.id in calls)
        ]
        return (*past, PastTurn(text))

    def _upload(
        self,
        thread: ThreadRecord,
        backend: Backend,
        attachments: Sequence[Attachment],
        view: TurnView,
        searching: bool,
    ) -> tuple[InputFile, ...]:
        """Upload the attached files (images go inline, where the dialect can) and record them
        all on the thread, so that deleting it, or cleaning up, deletes the uploads."""
        files = []
        upload_purpose = "assistants" if searching else "user_data"
        for attachment in attachments:
            inline = attachment.is_image and not backend.uploads_images
            purpose = "vision" if attachment.is_image else upload_purpose
            file_id = (
                "" if inline else backend.upload_file(attachment.name, attachment.data, purpose)
            )
            self.store.record_file(
                thread.id,
                file_id=file_id,
                filename=attachment.name,
                purpose="image input" if inline else purpose,
                size=len(attachment.data),
            )
            if file_id:
                can_search = searching and searchable(attachment.name)
                files.append(
                    InputFile(
                        file_id,
                        attachment.name,
                        searchable=can_search,
                        image=attachment.is_image,
                    )
                )
            view.update(Notice(f"attached {attachment.name} ({len(attachment.data):,} bytes)"))
        return tuple(files)

    def _vector_stores(
        self,
        thread: ThreadRecord,
        backend: Backend,
        files: Sequence[InputFile],
        view: TurnView,
    ) -> tuple[str, ...]:
        """The thread's vector store for file search, created at its first searchable file."""
        files = [f for f in files if f.searchable]
        store_id = thread.vector_store_id
        if store_id is None and files:
            store_id = backend.create_vector_store(f"assistant_magic {thread.id}")
            self.thread = self.store.update_thread(thread.id, vector_store_id=store_id)
        if store_id is None:
            view.update(
                Notice(
                    "file search is on, but this thread has no files to search yet: "
                    "%%ask --attach FILE adds one"
                )
            )
            return ()
        for file in files:
            backend.add_to_vector_store(store_id, file.file_id)
        return (store_id,)

    def files(self) -> list[FileRecord]:
        return self.store.files(self.thread.id) if self.thread else []

    def delete_files(
        self, thread: ThreadRecord, records: Sequence[FileRecord], settings: Settings
    ) -> None:
        """Delete files on the server (when it is the thread's server) and here."""
        for record in records:
            if record.file_id and _same_server(thread, settings):
                self.backend(settings).delete_file(record.file_id)
            self.store.forget_file(record.id)

    def _unsettled(self, thread: ThreadRecord) -> TurnRecord | None:
        """The thread's last turn, if it did not complete on a server that keeps the thread:
        it may have left calls open or a run active there."""
        if not thread.remote_id:
            return None
        last = self.store.last_turn(thread.id)
        return last if last is not None and last.status != "completed" else None

    def _settle(
        self, thread: ThreadRecord, backend: Backend, unsettled: TurnRecord, view: TurnView
    ) -> None:
        """Answer what the unsettled turn left open on the server, with what its tools returned."""
        remote = _remote(thread)
        assert remote is not None
        outputs = {
            call.call_id: call.output
            for call in self.store.tool_calls(unsettled.id)
            if call.status != "pending"
        }
        for line in backend.settle(remote, outputs, unsettled.response_id):
            view.update(Notice(line))

    def check_store(self) -> None:
        """Say so, before anything is sent, if the store's file went away under this kernel."""
        try:
            self.store.check_file()
        except StoreError:
            self.thread = None  # it lived in the old file
            raise

    def last_turn(self) -> TurnRecord | None:
        return self.store.last_turn(self.thread.id) if self.thread else None

    def backend(self, settings: Settings) -> Backend:
        settings.require_key()
        key = (
            settings.api,
            settings.base_url,
            settings.api_key,
            settings.timeout,
            settings.max_retries,
        )
        if key not in self._backends:
            from .backends import create_backend

            self._backends[key] = create_backend(settings)
        backend = self._backends[key]
        backend.settings = settings  # the key names the server; the rest may change per ask
        return backend

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
        if self._store is not None:
            self._store.close()
            self._store = None

    def _thread_for(self, settings: Settings) -> ThreadRecord:
        if self.thread is None:
            return self.new_thread(settings)
        if not _same_server(self.thread, settings):
            thread = self.thread
            raise ConfigurationError(
                f"The bound thread {thread.id} {_elsewhere(thread, settings)}: switch back with "
                f"{_switch_back(thread, settings)}, or start a thread here with %assistant "
                "thread new."
            )
        return self.thread

    def _create_remote(
        self, thread: ThreadRecord, backend: Backend, first: TurnRequest
    ) -> RemoteThread | None:
        """The thread's server side, made for its first request (None: the dialect has none)."""
        remote = backend.create_thread(first)
        if remote is not None:
            self.thread = self.store.update_thread(
                thread.id,
                remote_id=remote.id,
                assistant_id=remote.assistant_id,
                assistant_owned=remote.owns_assistant,
            )
        return remote

    def _finish(
        self,
        turn: TurnRecord,
        end: TurnFinished,
        settings: Settings,
        started: float,
        progress: TurnProgress,
        view: TurnView,
    ) -> TurnOutcome:
        """Record how the turn ended and show it, whole: an interrupt meanwhile is delivered
        after. The view is told even when the store fails, and then the failure is raised: an
        answer shown must not pass for recorded."""
        with deferred_interrupts():
            return self._record_and_show(turn, end, settings, started, progress, view)

    def _record_and_show(
        self,
        turn: TurnRecord,
        end: TurnFinished,
        settings: Settings,
        started: float,
        progress: TurnProgress,
        view: TurnView,
    ) -> TurnOutcome:
        try:
            self.store.finish_turn(
                turn.id,
                status=end.status,
                answer_text=end.text,
                response_id=end.response_id,
                usage=end.usage,
                error=end.error,
            )
            self.refresh_thread()
            self.store.check_file()
        except AssistantError as exc:
            view.finish(self._outcome(turn, end, settings, started, progress))
            if isinstance(exc, StoreError):
                self.thread = None
            raise StoreError(f"This answer was not recorded. {exc}") from None
        outcome = self._outcome(turn, end, settings, started, progress)
        view.finish(outcome)
        return outcome

    def _outcome(
        self,
        turn: TurnRecord,
        end: TurnFinished,
        settings: Settings,
        started: float,
        progress: TurnProgress,
    ) -> TurnOutcome:
        model = end.model or settings.model
        return TurnOutcome(
            status=end.status,
            text=end.text,
            model=model,
            thread_id=turn.thread_id,
            turn_id=turn.id,
            elapsed=time.monotonic() - started,
            response_id=end.response_id,
            usage=end.usage,
            error=end.error,
            images=tuple(progress.images),
            cost=_cost(model, end.usage, settings),
        )


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


def _tighter(
    ask: tuple[int, str], thread: tuple[int, str], thread_used: int
) -> tuple[int | None, str]:
    """The smaller allowance of a per-ask limit and a thread's remainder (0 limits: none)."""
    options = []
    if ask[0] > 0:
        options.append(ask)
    if thread[0] > 0:
        options.append((max(thread[0] - thread_used, 0), thread[1]))
    if not options:
        return None, ""
    return min(options, key=lambda option: option[0])


def _cost(model: str, usage: Usage | None, settings: Settings) -> str:
    """The turn's cost for the status line; nothing when the price is unknown (`%assistant usage`
    says why) or a price entry is broken (that fails where the user set it)."""
    if usage is None:
        return ""
    from .pricing import PriceTable, PricingError, format_cost

    try:
        dollars = PriceTable.default().with_overrides(settings.prices).cost(model, usage)
    except PricingError:
        return ""
    return format_cost(dollars, model) if dollars is not None else ""


def _remote(thread: ThreadRecord) -> RemoteThread | None:
    if not thread.remote_id:
        return None
    return RemoteThread(thread.remote_id, thread.assistant_id, thread.assistant_owned)


def _deny(tool: object, display: str) -> bool | None:
    return False


def _elsewhere(thread: ThreadRecord, settings: Settings) -> str:
    """Where the thread lives, against where the configuration now points."""
    if thread.base_url == settings.public_base_url:
        return (
            f"was made with the {thread.dialect} API, and the configuration now uses the "
            f"{settings.api} API ({settings.api_source})"
        )
    return f"lives on {thread.base_url} ({thread.dialect}), not {settings.public_base_url}"


def _switch_back(thread: ThreadRecord, settings: Settings) -> str:
    """The command that points the configuration back at the thread's server and dialect."""
    flags = []
    if thread.base_url != settings.public_base_url:
        flags.append(f"--base-url {thread.base_url}")
    if thread.dialect != settings.api:
        flags.append(f"--api {thread.dialect}")
    return "%assistant " + " ".join(flags)


def _same_server(thread: ThreadRecord, settings: Settings) -> bool:
    return thread.base_url == settings.public_base_url and thread.dialect == settings.api
