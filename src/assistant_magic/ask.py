"""One ask as a straight line: record the question → settle what the last ask left open → build
the first request (`staging`) → run the rounds (`rounds`) → record how it ended.

Interruption is handled in one place, `Ask.run`: the response in flight is stopped, the ask is
recorded as interrupted, and the next ask settles what the server still holds open
(`ServerThreads.settle`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from .answer_types import AnswerCheck
from .dialects.interface import ResponseRequest, server_threads
from .errors import (
    AnswerInvalid,
    AnswerRefused,
    ApiError,
    AskInterrupted,
    AssistantError,
    StoreError,
)
from .events import (
    Event,
    Notice,
    ResponseFinished,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
)
from .images import ImageLimits
from .interrupts import deferred_interrupts
from .redaction import redact
from .rounds import AskProgress, Rounds
from .staging import Question, Staged, first_request
from .threads import remote_of

if TYPE_CHECKING:
    from .records import AskRecord, ThreadRecord
    from .settings import Settings
    from .threads import Threads


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
    #: A typed ask's answer, validated (None otherwise, or when it did not validate).
    value: Any = None
    #: How a typed answer reads (a table, a field list), in Markdown; None: show `text`.
    shown: str | None = None


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
        elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
            event = replace(event, display=redact(event.display))
        self._view.update(event)

    def finish(self, outcome: AskOutcome) -> None:
        error = redact(outcome.error) if outcome.error else outcome.error
        self._view.finish(replace(outcome, text=redact(outcome.text), error=error))


# -- the ask -----------------------------------------------------------------------------------


class Ask:
    """One ask on the thread `threads` gives it, shown in `view`."""

    def __init__(self, question: Question, threads: Threads, view: AskView) -> None:
        self.question = question
        self.threads = threads
        self.view = RedactingView(view)
        self.progress = AskProgress()
        #: A typed ask's answer, as it is checked.
        self.answer = (
            AnswerCheck(question.answer, question.repairs) if question.answer is not None else None
        )
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
        outcome = _raise_if_failed(self._finish(record, end))
        failure = self.answer.failure() if self.answer is not None else None
        if failure is not None:
            refused = self.answer.refusal is not None  # type: ignore[union-attr]
            raise (AnswerRefused if refused else AnswerInvalid)(failure, outcome)
        return outcome

    def _first_request(self, thread: ThreadRecord, record: AskRecord) -> ResponseRequest:
        staging = Staged(self.threads, thread, self.question, record, self.view)
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
            answer=self.answer,
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
            **self._typed(end),
        )

    def _typed(self, end: ResponseFinished) -> dict[str, Any]:
        """A typed ask's value, and how it reads, once it validated."""
        check = self.answer
        if check is None or not check.valid or end.status != "completed":
            return {}
        from .answer_display import markdown

        return {"value": check.value, "shown": markdown(check.value)}


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
