"""One turn: the user's message, the model's tool calls and their outputs, round after round.

`TurnLoop` drives a backend through the rounds of a turn and tells the view and the store what
happens; it knows no wire format and no IPython. It keeps what it has seen in `TurnProgress`,
so a turn that fails or is interrupted midway can still be recorded. Every call is recorded
before it runs and its output as soon as it has one, so when a turn stops midway the store
knows what each call returned, and the next ask can answer the calls the server still holds
open (see `Backend.settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .backends.interface import PastTurn, ToolOutput, ToolRound, TurnRequest
from .events import (
    Event,
    ImageData,
    ImageShown,
    Notice,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallFinished,
    ToolCallRequested,
    TurnFinished,
    Usage,
    UsageReported,
)
from .toolbox import call_display

if TYPE_CHECKING:
    from .backends.interface import Backend
    from .images import ImageLimits
    from .store import Store
    from .toolbox import ToolBox
    from .tools import FunctionTool

INTERRUPTED_OUTPUT = "The user interrupted the turn before this call finished."


@dataclass(frozen=True)
class Budget:
    """What one ask may still spend: tokens (input + output, all its requests together) and tool
    calls, None for no limit, each with the limit it comes from, for the note when it is hit.

    Budgets are soft: a request's tokens are known only once it has run, so the turn notices
    it went over after the fact, and then asks once more, without tools, for a final answer.
    """

    tokens: int | None = None
    tokens_limit: str = ""
    tool_calls: int | None = None
    tool_calls_limit: str = ""

    def tokens_spent(self, used: int) -> bool:
        return self.tokens is not None and used >= self.tokens

    def calls_left(self, made: int) -> int | None:
        return None if self.tool_calls is None else max(self.tool_calls - made, 0)


@dataclass(frozen=True)
class ToolPlan:
    """The tools offered during a turn and how far the model may go with them."""

    toolbox: ToolBox
    names: tuple[str, ...]
    max_rounds: int = 10
    #: "auto", "required", "none", or a tool name to force in the first round.
    choice: str = "auto"
    budget: Budget = field(default_factory=Budget)


@dataclass
class TurnProgress:
    """What is known of a turn so far, however it ends."""

    stream: Generator[Event, None, None] | None = None
    response_id: str | None = None
    model: str | None = None
    texts: list[str] = field(default_factory=list)  # finished rounds
    current: list[str] = field(default_factory=list)  # the round streaming now
    usage: Usage | None = None
    end: TurnFinished | None = None
    #: Finished images of the turn (`AssistantImage`s), in arrival order.
    images: list[Any] = field(default_factory=list)

    def observe(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            self.current.append(event.text)
        elif isinstance(event, ResponseStarted):
            self.response_id, self.model = event.response_id, event.model
        elif isinstance(event, UsageReported):
            self.usage = event.usage if self.usage is None else self.usage + event.usage
        elif isinstance(event, ImageShown) and not event.partial:
            self.images.append(event.image)
        elif isinstance(event, ToolCallFinished):
            self.images.extend(event.images)
        elif isinstance(event, TurnFinished):
            self.end = event
            self.texts.append(event.text or "".join(self.current))
            self.current = []

    @property
    def text(self) -> str:
        return "\n\n".join(t for t in [*self.texts, "".join(self.current)] if t)

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()

    def ended(self, status: str, error: str | None = None) -> TurnFinished:
        """How the whole turn ended, for the store and the view."""
        last = self.end
        if status == "completed" and last is not None:
            status, error = last.status, last.error
        return TurnFinished(
            status=status,  # type: ignore[arg-type]
            text=self.text,
            response_id=self.response_id,
            usage=self.usage,
            error=error,
            model=self.model,
        )


class TurnLoop:
    def __init__(
        self,
        backend: Backend,
        emit: Callable[[Event], None],
        store: Store,
        turn_id: int,
        plan: ToolPlan,
        offered: Sequence[FunctionTool] = (),
        image_limits: ImageLimits | None = None,
        progress: TurnProgress | None = None,
    ) -> None:
        self.backend = backend
        self.offered = {tool.name: tool for tool in offered}
        self.image_limits = image_limits
        self.emit = emit
        self.store = store
        self.turn_id = turn_id
        self.plan = plan
        self.progress = progress or TurnProgress()

    def run(self, first: TurnRequest) -> TurnFinished:
        request = first
        rounds = calls_made = 0
        budget = self.plan.budget
        while True:
            end = self._stream(request)
            if end.status != "completed" or not end.tool_calls:
                self._note_overspent_tokens()
                return self.progress.ended("completed")
            rounds += 1
            spent = self._spent_budget(calls_made)
            allowed = 0 if spent else budget.calls_left(calls_made)
            why = spent or self._calls_spent()
            outputs = self._run_tools(end.tool_calls, rounds, allowed=allowed, why=why)
            calls_made += len(end.tool_calls) if allowed is None else min(allowed, len(outputs))
            spent = spent or self._spent_budget(calls_made)
            last_round = rounds >= self.plan.max_rounds or bool(spent)
            if spent:
                self.emit(Notice(f"{spent}: asking for a final answer without tools"))
            elif last_round:
                self.emit(
                    Notice(
                        f"tool round limit ({self.plan.max_rounds}) reached: asking for a final "
                        "answer without tools"
                    )
                )
            request = replace(
                request,
                user_text=None,
                tool_outputs=tuple(outputs),
                tool_choice="none" if last_round else "auto",
                history=_with_round(request.history, end.tool_calls, outputs),
            )

    def _spent_budget(self, calls_made: int) -> str:
        """Why the budget allows no more tool work ("" while it does)."""
        budget = self.plan.budget
        used = self.progress.usage.total_tokens if self.progress.usage else 0
        if budget.tokens_spent(used):
            return f"token budget spent ({used:,} of {budget.tokens:,} {budget.tokens_limit})"
        return self._calls_spent() if budget.calls_left(calls_made) == 0 else ""

    def _calls_spent(self) -> str:
        budget = self.plan.budget
        return f"tool-call budget spent ({budget.tool_calls or 0:,} {budget.tool_calls_limit})"

    def _note_overspent_tokens(self) -> None:
        budget = self.plan.budget
        used = self.progress.usage.total_tokens if self.progress.usage else 0
        if budget.tokens is not None and used > budget.tokens:
            self.emit(
                Notice(
                    f"this ask used {used:,} tokens, over its budget of {budget.tokens:,} "
                    f"{budget.tokens_limit}"
                )
            )

    def _stream(self, request: TurnRequest) -> TurnFinished:
        progress = self.progress
        progress.end = None
        progress.stream = self.backend.stream_turn(request)
        for event in progress.stream:
            shown = self._decoded(event) if isinstance(event, ImageData) else event
            progress.observe(shown)
            self.emit(shown)
        progress.stream = None
        if progress.end is None:
            raise RuntimeError("the backend ended a response without TurnFinished")
        return progress.end

    def _decoded(self, data: ImageData) -> Event:
        """Image bytes from the server, checked and decoded, or one line saying what was wrong."""
        from .images import ImageError, ImageLimits, decode, decode_base64

        limits = self.image_limits or ImageLimits()
        try:
            if isinstance(data.data, str):
                image = decode_base64(data.data, source=data.source, name=data.name, limits=limits)
            else:
                image = decode(data.data, source=data.source, name=data.name, limits=limits)
        except ImageError as exc:
            return Notice(str(exc))
        return ImageShown(image=image, key=data.key, partial=data.partial)

    def _run_tools(
        self,
        calls: tuple[ToolCallRequested, ...],
        round_: int,
        *,
        allowed: int | None = None,
        why: str = "",
    ) -> list[ToolOutput]:
        """Run the step's calls; beyond `allowed` (the budget), answer them as not run."""
        self.emit(StatusChanged("requires_action"))
        self.emit(StatusChanged("calling_tools"))
        runnable = calls if allowed is None else calls[:allowed]
        refused = [self._refuse(call, round_, why) for call in calls[len(runnable) :]]
        if not runnable:
            self.emit(StatusChanged("in_progress"))
            return refused
        return [*self._run_allowed(runnable, round_), *refused]

    def _refuse(self, call: ToolCallRequested, round_: int, why: str) -> ToolOutput:
        output = f"Not run: {why}. Answer with what you have."
        self._close_unrun(self._record_call(call, round_), call, "denied", output)
        return ToolOutput(call.call_id, output)

    def _record_call(self, call: ToolCallRequested, round_: int) -> int:
        return self.store.start_tool_call(
            self.turn_id,
            round=round_,
            call_id=call.call_id,
            name=call.name,
            arguments=call.arguments,
        ).id

    def _close_unrun(
        self,
        record_id: int,
        call: ToolCallRequested,
        status: Literal["denied", "interrupted"],
        output: str,
    ) -> None:
        """Record and show a call that ended without running (refused, or interrupted)."""
        self.store.finish_tool_call(record_id, status=status, output=output, duration=None)
        self.emit(
            ToolCallFinished(
                call_id=call.call_id,
                name=call.name,
                display=call_display(call.name, call.arguments),
                status=status,
                output=output,
            )
        )

    def _run_allowed(self, calls: tuple[ToolCallRequested, ...], round_: int) -> list[ToolOutput]:
        records = {call.call_id: self._record_call(call, round_) for call in calls}
        running = list(calls)

        def emit(event: Event) -> None:
            if isinstance(event, ToolCallFinished):
                self.store.finish_tool_call(
                    records[event.call_id],
                    status=event.status,
                    output=event.output,
                    duration=event.duration,
                )
                running[:] = [c for c in running if c.call_id != event.call_id]
                self.progress.observe(event)
                for image in event.images:  # the user sees what the tool drew
                    self.emit(ImageShown(image=image, key=f"{event.call_id}-{image.name}"))
            self.emit(event)

        try:
            results = self.plan.toolbox.run(calls, self.offered, emit)
        except KeyboardInterrupt:
            for call in running:
                self._close_unrun(records[call.call_id], call, "interrupted", INTERRUPTED_OUTPUT)
            raise
        self.emit(StatusChanged("in_progress"))
        return [ToolOutput(r.call_id, r.output, r.images) for r in results]


def _with_round(
    history: tuple[PastTurn, ...],
    calls: tuple[ToolCallRequested, ...],
    outputs: list[ToolOutput],
) -> tuple[PastTurn, ...]:
    """The history with this turn's latest round of calls (for dialects that resend it)."""
    if not history:
        return history
    current = history[-1]
    done = ToolRound(calls=calls, outputs=tuple(outputs))
    return (*history[:-1], replace(current, rounds=(*current.rounds, done)))
