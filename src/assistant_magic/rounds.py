"""The rounds of one ask: a model response, the tool calls it asks for, the next response...

`Rounds` drives a dialect through them and tells the view and the store what happens; it knows
no wire format and no IPython. It keeps what it has seen in `AskProgress`, so an ask that fails
or is interrupted midway can still be recorded and its response stopped. Every call is recorded
before it runs and its output as soon as it has one, so when an ask stops midway the store knows
what each call returned, and the next ask can answer the calls the server still holds open (see
`ServerThreads.settle`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .budgets import Budget
from .dialects.interface import ApprovalAnswer, Repair, ResponseRequest, ToolOutput, ToolRound
from .events import (
    ApprovalRequested,
    Event,
    ImageData,
    ImageShown,
    Notice,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallFinished,
    ToolCallRequested,
    Usage,
    UsageReported,
)
from .tools import call_display

if TYPE_CHECKING:
    from .answer_types import AnswerCheck
    from .dialects.interface import Dialect
    from .images import ImageLimits
    from .store import Store
    from .tools import ToolBox
    from .tools.kinds import Tool

INTERRUPTED_OUTPUT = "The user interrupted the ask before this call finished."


@dataclass(frozen=True)
class ToolPlan:
    """The tools offered during an ask and how far the model may go with them."""

    toolbox: ToolBox
    names: tuple[str, ...]
    max_rounds: int = 10
    #: "auto", "required", "none", or a tool name to force in the first round.
    choice: str = "auto"
    budget: Budget = field(default_factory=Budget)


@dataclass
class AskProgress:
    """What is known of an ask so far, however it ends."""

    stream: Generator[Event, None, None] | None = None
    response_id: str | None = None
    model: str | None = None
    texts: list[str] = field(default_factory=list)  # finished rounds
    current: list[str] = field(default_factory=list)  # the round streaming now
    usage: Usage | None = None
    end: ResponseFinished | None = None
    #: Finished images of the ask (`AssistantImage`s), in arrival order.
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
        elif isinstance(event, ResponseFinished):
            self.end = event
            self.texts.append(event.text or "".join(self.current) or event.refusal or "")
            self.current = []

    @property
    def text(self) -> str:
        return "\n\n".join(t for t in [*self.texts, "".join(self.current)] if t)

    def stop(self, dialect: Dialect | None) -> None:
        """Stop the response in flight, if any: close its stream and, given the `dialect`,
        cancel it where the dialect can (an Assistants run would go on, and block its thread,
        if left)."""
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        if self.response_id and dialect is not None:
            dialect.cancel(self.response_id)

    def ended(self, status: str, error: str | None = None) -> ResponseFinished:
        """How the whole ask ended, for the store and the view."""
        last = self.end
        if status == "completed" and last is not None:
            status, error = last.status, last.error
        return ResponseFinished(
            status=status,  # type: ignore[arg-type]
            text=self.text,
            response_id=self.response_id,
            usage=self.usage,
            error=error,
            model=self.model,
        )


class Rounds:
    """Runs an ask's rounds, from its first request to the model's final answer."""

    def __init__(
        self,
        dialect: Dialect,
        emit: Callable[[Event], None],
        store: Store,
        ask_id: int,
        plan: ToolPlan,
        offered: Sequence[Tool] = (),
        image_limits: ImageLimits | None = None,
        progress: AskProgress | None = None,
        answer: AnswerCheck | None = None,
    ) -> None:
        self.dialect = dialect
        #: A typed ask's answer check (None: the answer is text).
        self.answer = answer
        self.offered = {tool.name: tool for tool in offered}
        self.image_limits = image_limits
        self.emit = emit
        self.store = store
        self.ask_id = ask_id
        self.plan = plan
        self.progress = progress or AskProgress()

    def run(self, first: ResponseRequest) -> ResponseFinished:
        request = first
        rounds = calls_made = 0
        budget = self.plan.budget
        while True:
            end = self._stream(request)
            asked = end.approvals if end.status == "completed" else ()
            if end.status != "completed" or not (end.tool_calls or asked):
                repair = self._repair(end)
                if repair is None:
                    self._note_overspent_tokens()
                    return self._ended()
                request = self._repair_request(request, repair)
                continue
            rounds += 1
            spent = self._spent_budget(calls_made)
            allowed = 0 if spent else budget.calls_left(calls_made)
            why = spent or self._calls_spent()
            outputs = (
                self._run_tools(end.tool_calls, rounds, allowed=allowed, why=why)
                if end.tool_calls
                else []
            )
            calls_made += len(end.tool_calls) if allowed is None else min(allowed, len(outputs))
            approvals = self._answer_approvals(asked, request, calls_made, why)
            calls_made += sum(answer.approve for answer in approvals)
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
            done = ToolRound(end.tool_calls, tuple(outputs))
            history = request.history.with_round(done) if request.history is not None else None
            request = replace(
                request,
                user_text=None,
                tool_outputs=tuple(outputs),
                approvals=approvals,
                tool_choice="none" if last_round else "auto",
                history=history,
            )

    def _answer_approvals(
        self, asked: tuple[ApprovalRequested, ...], request: ResponseRequest, calls: int, why: str
    ) -> tuple[ApprovalAnswer, ...]:
        """The answers to the hosted MCP calls the server asks to make (see `approvals`)."""
        if not asked:
            return ()
        from .approvals import answer_approvals

        allowed = self.plan.budget.calls_left(calls)
        approve = self.plan.toolbox.approve
        return answer_approvals(
            asked, request.mcp_servers, approve, self.emit, allowed=allowed, why=why
        )

    def _repair(self, end: ResponseFinished) -> Repair | None:
        """A typed ask's answer that did not validate, to send back (None: the ask is over)."""
        check = self.answer
        if check is None or end.status != "completed":
            return None
        request = check.check(end.text, end.refusal)
        if request is None:
            return None
        problem = check.problem.line if check.problem else "not valid"
        self.emit(Notice(f"the answer did not match {check.type.label} ({problem}): asked again"))
        return Repair(end.text, request)

    def _repair_request(self, request: ResponseRequest, repair: Repair) -> ResponseRequest:
        history = request.history.with_repair(repair) if request.history is not None else None
        # Tools are still offered (a conversation with calls in it needs them) but not called:
        # the model has what it needs, and only its answer's shape is wrong.
        return replace(
            request, user_text=repair.request, tool_outputs=(), tool_choice="none", history=history
        )

    def _ended(self) -> ResponseFinished:
        """How the ask ended; a typed ask's text is its last answer alone (the JSON), not the
        words of the rounds before it."""
        end = self.progress.ended("completed")
        check = self.answer
        if check is None or check.raw is None or end.status != "completed":
            return end
        return replace(end, text=check.raw)

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

    def _stream(self, request: ResponseRequest) -> ResponseFinished:
        progress = self.progress
        progress.end = None
        progress.stream = self.dialect.stream(request)
        for event in progress.stream:
            shown = self._decoded(event) if isinstance(event, ImageData) else event
            progress.observe(shown)
            self.emit(shown)
        progress.stream = None
        if progress.end is None:
            raise RuntimeError("the dialect ended a response without ResponseFinished")
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
            self.ask_id,
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
