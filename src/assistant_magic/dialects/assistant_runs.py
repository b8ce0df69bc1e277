"""Following an Assistants run to its next stop: its stream (or polling, where the server does
not stream runs) turned into our events, ending at `requires_action` or at the run's end; and
finding a thread's latest run and cancelling it until it has ended."""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..events import (
    Event,
    ImageData,
    Notice,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallDelta,
    ToolCallRequested,
    UsageReported,
)
from .assistant_messages import (
    image_files,
    messages_refusal,
    messages_text,
    run_error,
    run_usage,
    step_notices,
)
from .files import SdkFiles
from .openai_sdk import api_errors

if TYPE_CHECKING:
    from .interface import RemoteThread

# Reading runs is the legacy API's use: the SDK's deprecation notices are for new code.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

STATUS_EVENTS = {
    "thread.run.queued": "queued",
    "thread.run.in_progress": "in_progress",
    "thread.run.cancelling": "cancelling",
}
FINAL_EVENTS = {
    "thread.run.completed": "completed",
    "thread.run.incomplete": "incomplete",
    "thread.run.failed": "failed",
    "thread.run.cancelled": "cancelled",
    "thread.run.expired": "expired",
}
ACTIVE = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
#: How long an interrupted run may take to reach "cancelled".
CANCEL_WAIT = 15.0
#: Polling a run that is not streamed: first wait, growth, longest wait (seconds).
POLL_FIRST, POLL_GROWTH, POLL_LONGEST = 0.1, 1.5, 2.0


class NotStreamed(Exception):
    """The server answered a streamed request with no events (it ignored ``stream``)."""


class RunReading(SdkFiles):
    """How `AssistantsDialect` reads its runs, finds them and waits for them to stop; the state
    it keeps between them."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._thread_of_run: dict[str, str] = {}  # run id -> thread id, for cancel
        self._waiting_run: dict[str, str] = {}  # thread id -> run waiting for tool outputs
        self._reported: dict[str, set[str]] = {}  # run id -> its messages already reported
        #: Threads whose last run here was answered: their last message cannot be a question
        #: left unanswered, so the next ask need not look.
        self._answered: set[str] = set()

    def _translate(self, stream: Any, remote: RemoteThread) -> Generator[Event, None, None]:
        """SDK stream events → our events, ending with exactly one `ResponseFinished`."""
        run = RunProgress()
        for event in stream:
            kind, data = event.event, event.data
            run.seen = True
            if kind == "thread.run.created":
                run.run_id = data.id
                yield from self._started(data, remote)
            elif kind in STATUS_EVENTS:
                yield StatusChanged(STATUS_EVENTS[kind])  # type: ignore[arg-type]
            elif kind == "thread.message.delta":
                for block in data.delta.content or ():
                    if block.type == "text" and block.text and block.text.value:
                        yield TextDelta(block.text.value)
            elif kind == "thread.message.completed":
                run.messages.append(data)
            elif kind == "thread.run.step.delta":
                yield from run.call_deltas(data)
            elif kind in ("thread.run.step.completed", "thread.run.step.failed"):
                yield from step_notices(data)
            elif kind == "thread.run.requires_action":
                yield from self._requires_action(data, remote, self._new(data.id, run.messages))
                return
            elif kind in FINAL_EVENTS:
                messages = run.messages or self._run_messages(remote.id, data.id)
                yield from self._finish(data, FINAL_EVENTS[kind], self._new(data.id, messages))
                return
            elif kind == "error":
                yield ResponseFinished(
                    status="failed",
                    text=messages_text(run.messages),
                    response_id=run.run_id,
                    error=getattr(data, "message", None) or "the server reported an error",
                )
                return
        if not run.seen:
            raise NotStreamed()
        yield ResponseFinished(
            status="failed",
            text=messages_text(run.messages),
            response_id=run.run_id,
            error="The stream ended before the run finished.",
        )

    def _started(self, run: Any, remote: RemoteThread) -> Generator[Event, None, None]:
        self._thread_of_run[run.id] = remote.id
        yield ResponseStarted(response_id=run.id, model=run.model)
        yield StatusChanged(run.status if run.status in STATUS_EVENTS.values() else "queued")

    def _poll(self, remote: RemoteThread, run: Any) -> Generator[Event, None, None]:
        """Follow a run by retrieving it, waiting longer each time, and listing its new steps."""
        yield from self._started(run, remote)
        shown_steps: set[str] = set()
        status, wait = run.status, POLL_FIRST
        while run.status in ("queued", "in_progress", "cancelling"):
            time.sleep(wait)
            wait = min(wait * POLL_GROWTH, POLL_LONGEST)
            with api_errors(self.settings):
                run = self.client.beta.threads.runs.retrieve(run.id, thread_id=remote.id)
            if run.status != status and run.status in STATUS_EVENTS.values():
                yield StatusChanged(run.status)
            status = run.status
            yield from self._new_steps(remote.id, run.id, shown_steps)
        messages = self._new(run.id, self._run_messages(remote.id, run.id))
        text = messages_text(messages)
        if text:
            yield TextDelta(text)
        if run.status == "requires_action":
            yield from self._requires_action(run, remote, messages)
        else:
            yield from self._finish(run, run.status, messages)

    def _new_steps(
        self, thread_id: str, run_id: str, shown: set[str]
    ) -> Generator[Event, None, None]:
        with api_errors(self.settings):
            steps = self.client.beta.threads.runs.steps.list(
                run_id, thread_id=thread_id, order="asc"
            )
        for step in steps:
            if step.id not in shown and step.status in ("completed", "failed"):
                shown.add(step.id)
                yield from step_notices(step)

    def _requires_action(
        self, run: Any, remote: RemoteThread, messages: Sequence[Any]
    ) -> Generator[Event, None, None]:
        self._waiting_run[remote.id] = run.id
        action = run.required_action
        calls = tuple(
            ToolCallRequested(call.id, call.function.name, call.function.arguments)
            for call in (action.submit_tool_outputs.tool_calls if action else ())
        )
        yield StatusChanged("requires_action")
        yield from self._images(messages)
        yield ResponseFinished(
            status="completed",
            text=messages_text(messages),
            response_id=run.id,
            model=run.model,
            tool_calls=calls,
        )

    def _finish(
        self, run: Any, status: str, messages: Sequence[Any]
    ) -> Generator[Event, None, None]:
        self._waiting_run.pop(run.thread_id, None)
        if status in ("completed", "incomplete") and messages:
            self._answered.add(run.thread_id)
        usage = run_usage(run.usage)
        if usage is not None:
            yield UsageReported(usage)
        yield from self._images(messages)
        yield ResponseFinished(
            status=status,  # type: ignore[arg-type]
            text=messages_text(messages),
            response_id=run.id,
            usage=usage,
            error=run_error(run, status),
            model=run.model,
            refusal=messages_refusal(messages),
        )

    def _new(self, run_id: str, messages: Sequence[Any]) -> list[Any]:
        """The messages not yet reported for the run: listing a run's messages after its tool
        calls returns those written before them too."""
        reported = self._reported.setdefault(run_id, set())
        fresh = [message for message in messages if message.id not in reported]
        reported.update(message.id for message in fresh)
        return fresh

    def _run_messages(self, thread_id: str, run_id: str) -> list[Any]:
        with api_errors(self.settings):
            return list(
                self.client.beta.threads.messages.list(thread_id, run_id=run_id, order="asc")
            )

    def _images(self, messages: Sequence[Any]) -> Generator[Event, None, None]:
        """The pictures in the messages: image_file content and images linked by file_path."""
        seen: set[str] = set()
        for file_id, name in image_files(messages):
            if file_id in seen:
                continue
            seen.add(file_id)
            try:
                data = self._file_bytes(file_id)
            except Exception as exc:  # the answer stands without its picture
                yield Notice(f"could not download image {file_id}: {type(exc).__name__}: {exc}")
                continue
            yield ImageData(data, "code interpreter", name or self._file_stem(file_id), key=file_id)

    def _file_bytes(self, file_id: str) -> bytes:
        with api_errors(self.settings):
            return bytes(self.client.files.content(file_id).content)

    def _file_stem(self, file_id: str) -> str:
        with contextlib.suppress(Exception):
            filename = self.client.files.retrieve(file_id).filename
            return filename.rsplit("/", 1)[-1].rsplit(".", 1)[0] or file_id
        return file_id

    # -- finding and stopping runs ---------------------------------------------------------

    def _only_latest_run(self, thread_id: str) -> Any:
        latest = self._latest_run(thread_id)
        if latest is None:
            raise ApiError(
                f"{self.settings.public_base_url} answered the run with no events and made no "
                "run. Run %assistant retry to try again."
            )
        return latest

    def _ended_meanwhile(self, thread_id: str, run_id: str) -> Any | None:
        """The run, if it has ended (expired, cancelled, failed) instead of waiting."""
        with contextlib.suppress(ApiError), api_errors(self.settings):
            run = self.client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
            if run.status in FINAL_EVENTS.values():
                return run
        return None

    def _cancel_and_wait(self, thread_id: str, run_id: str, run: Any | None = None) -> None:
        """Cancel the run if it is still active, and wait until it has ended (it passes through
        "cancelling")."""
        import openai

        runs = self.client.beta.threads.runs
        with api_errors(self.settings):
            if run is None:
                run = runs.retrieve(run_id, thread_id=thread_id)
            if run.status in ("queued", "in_progress", "requires_action"):
                try:
                    run = runs.cancel(run_id, thread_id=thread_id)
                except openai.BadRequestError:  # it ended meanwhile
                    run = runs.retrieve(run_id, thread_id=thread_id)
        # The first look is at once: a server often ends a cancelled run within its answer.
        deadline, wait = time.monotonic() + CANCEL_WAIT, 0.0
        while run.status in ACTIVE:
            if time.monotonic() > deadline:
                raise ApiError(
                    f"Run {run_id} is still {run.status} after {CANCEL_WAIT:g} s; the thread "
                    "takes no new message until it ends. Try again in a moment."
                )
            time.sleep(wait)
            wait = min(max(wait * POLL_GROWTH, POLL_FIRST), POLL_LONGEST)
            with api_errors(self.settings):
                run = runs.retrieve(run_id, thread_id=thread_id)
        self._waiting_run.pop(thread_id, None)

    def _active_run(self, thread_id: str) -> str | None:
        latest = self._latest_run(thread_id)
        return latest.id if latest is not None and latest.status in ACTIVE else None

    def _latest_run(self, thread_id: str) -> Any | None:
        with api_errors(self.settings):
            page = self.client.beta.threads.runs.list(thread_id, limit=1, order="desc")
        return next(iter(page.data), None)


@dataclass
class RunProgress:
    """What one streamed run has said so far."""

    seen: bool = False
    run_id: str | None = None
    messages: list[Any] = field(default_factory=list)
    #: (step id, index) -> (call id, name): later argument deltas name neither.
    calls: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)

    def call_deltas(self, delta: Any) -> Generator[Event, None, None]:
        details = delta.delta.step_details
        if details is None or details.type != "tool_calls":
            return
        for call in details.tool_calls or ():
            if call.type != "function" or call.function is None:
                continue
            key = (delta.id, call.index)
            known_id, known_name = self.calls.get(key, ("", ""))
            call_id, name = call.id or known_id, call.function.name or known_name
            self.calls[key] = (call_id, name)
            yield ToolCallDelta(call_id=call_id, name=name, delta=call.function.arguments or "")
