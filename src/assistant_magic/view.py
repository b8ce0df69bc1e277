"""How a running ask looks: what both views show (`AskState`), the text view for terminals and
frontends without widgets, and `make_view`, which picks one; the widget view for Jupyter is
`widget_view.WidgetView`.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

from .events import (
    FINAL_STATUSES,
    Event,
    ImageShown,
    Notice,
    ResponseStarted,
    StatusChanged,
    TableShown,
    TextDelta,
    ToolCallDelta,
    ToolCallFinished,
    ToolCallStarted,
    Usage,
    UsageReported,
)

if TYPE_CHECKING:
    from .ask import AskOutcome, AskView

LABELS = {
    "starting": ("…", "starting"),
    "queued": ("◷", "queued"),
    "in_progress": ("●", "in progress"),
    "requires_action": ("⚑", "requires action"),
    "calling_tools": ("⚙", "calling tools"),
    "completed": ("✓", "completed"),
    "failed": ("✗", "failed"),
    "incomplete": ("◐", "incomplete"),
    "cancelling": ("◔", "cancelling"),
    "cancelled": ("⊘", "cancelled"),
    "expired": ("⌛", "expired"),
    "interrupted": ("⊘", "interrupted"),
}
COLOURS = {
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "incomplete": "#9a6700",
    "cancelled": "#6e7781",
    "expired": "#cf222e",
    "interrupted": "#6e7781",
}
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def status_label(status: str) -> str:
    icon, word = LABELS.get(status, ("·", status.replace("_", " ")))
    return f"{icon} {word}"


CALL_ICONS = {"ok": "✓", "error": "✗", "denied": "⊘", "interrupted": "⊘"}


def call_line(event: ToolCallStarted | ToolCallFinished | ToolCallDelta, width: int = 100) -> str:
    """One line for a tool call: writing it, running it, or what it returned."""
    if isinstance(event, ToolCallDelta):
        return f"✎ {event.name}(…"
    if isinstance(event, ToolCallStarted):
        return f"⚙ {event.display} …"
    output = " ".join(event.output.split())
    if event.status == "error":
        output = f"error: {output}"
    elif event.status == "denied":
        output = event.note or "denied by the user"
    elif event.status == "interrupted":
        output = "interrupted"
    if len(output) > width:
        output = output[: width - 1] + "…"
    took = f" · {seconds(event.duration)}" if event.duration is not None else ""
    return f"{CALL_ICONS[event.status]} {event.display} → {output}{took}"


def image_line(event: ImageShown) -> str:
    image = event.image
    width, height = image.size
    return f"🖼 {image.name} · {width}×{height} {image.format} · from {image.source}"


def seconds(duration: float) -> str:
    """A call's duration; "0.00 s" would read as "did not run"."""
    return f"{duration:.2f} s" if duration >= 0.005 else "<0.01 s"


def usage_text(usage: Usage | None) -> str:
    if usage is None:
        return ""
    cached = f" ({usage.cached_tokens} cached)" if usage.cached_tokens else ""
    return f"{usage.input_tokens} in{cached} / {usage.output_tokens} out tokens"


class AskState:
    """What both views display, folded from the events."""

    def __init__(self, model: str) -> None:
        self.status = "starting"
        self.detail = ""
        self.model = model
        self.usage: Usage | None = None
        self.text: list[str] = []
        self.started = time.monotonic()
        self.elapsed: float | None = None  # frozen when the ask ends
        self.cost = ""  # what the ask cost, once known
        #: Tool calls and notices, in the order they happened (a call's line is updated).
        self.lines: dict[str, str] = {}

    def apply(self, event: Event) -> None:
        if isinstance(event, TextDelta):  # first: nearly every event is one
            if self.lines and self.text and not self.text[-1].endswith("\n\n"):
                self.text.append("\n\n")  # a new round of text after tool calls
            self.text.append(event.text)
        elif isinstance(event, StatusChanged):
            self.status, self.detail = event.status, event.detail
        elif isinstance(event, ResponseStarted):
            self.model = event.model or self.model
        elif isinstance(event, UsageReported):
            self.usage = event.usage if self.usage is None else self.usage + event.usage
        elif isinstance(event, ToolCallDelta):
            self.lines.setdefault(event.call_id, call_line(event))
        elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
            self.lines[event.call_id] = call_line(event)
        elif isinstance(event, Notice):
            self.lines[f"notice-{len(self.lines)}"] = f"ⓘ {event.text}"
        elif isinstance(event, ImageShown) and not event.partial:
            self.lines[f"image-{event.key}"] = image_line(event)

    def end(self, outcome: AskOutcome) -> None:
        self.status, self.model = outcome.status, outcome.model
        self.usage = outcome.usage or self.usage
        self.elapsed = outcome.elapsed
        self.detail = (outcome.error or "") if outcome.status == "incomplete" else ""
        self.cost = outcome.cost

    def seconds(self) -> float:
        return self.elapsed if self.elapsed is not None else time.monotonic() - self.started

    def parts(self) -> list[str]:
        label = status_label(self.status)
        if self.detail:
            label += f" ({self.detail})"
        parts = [label, self.model, f"{self.seconds():.1f} s"]
        if self.usage is not None:
            parts.append(usage_text(self.usage))
        if self.cost:
            parts.append(self.cost)
        return parts

    def line(self) -> str:
        return " · ".join(self.parts())


class TextView:
    """Plain text for terminals and frontends without widgets."""

    def __init__(self, out: IO[str] | None = None, refresh_interval: float = 0.05) -> None:
        self._out = out
        self._state = AskState("")
        self._mid_line = False
        self.refresh_interval = refresh_interval
        self._last_flush = 0.0

    @property
    def out(self) -> IO[str]:
        # Resolved late: IPython swaps sys.stdout per cell in kernels.
        return self._out or sys.stdout

    def start(self, *, model: str, thread_id: str) -> None:
        self._state = AskState(model)
        self._say(f"{status_label('starting')} · {model} · thread {thread_id}")

    def update(self, event: Event) -> None:
        before = self._state.status
        self._state.apply(event)
        if isinstance(event, TextDelta):
            self.out.write(event.text)
            self._mid_line = not event.text.endswith("\n")
            # A kernel's stdout flush waits for its IO thread: once per token it would cost
            # more than the stream itself. A few times a second looks as live.
            now = time.monotonic()
            if now - self._last_flush >= self.refresh_interval:
                self._last_flush = now
                self.out.flush()
        elif (
            isinstance(event, StatusChanged)
            and event.status != before
            and event.status not in FINAL_STATUSES
        ):
            self._say(status_label(event.status))
        elif isinstance(event, (ToolCallStarted, ToolCallFinished)):
            self._say(call_line(event))
        elif isinstance(event, Notice):
            self._say(f"ⓘ {event.text}")
        elif isinstance(event, ImageShown) and not event.partial:
            self._say(image_line(event))
        elif isinstance(event, TableShown):
            self._say(f"▦ {event.title}:")
            self.out.write(f"{event.value}\n")

    def finish(self, outcome: AskOutcome) -> None:
        self._state.end(outcome)
        if not self._state.text and outcome.text:
            self.out.write(outcome.text)
            self._mid_line = not outcome.text.endswith("\n")
        if outcome.shown:  # a typed answer, after its JSON: as a table or a field list
            self._say("validated:")
            self.out.write(f"{outcome.shown}\n")
        self._say(self._state.line())
        self.out.flush()

    def _say(self, line: str) -> None:
        if self._mid_line:
            self.out.write("\n")
            self._mid_line = False
        self.out.write(f"[assistant] {line}\n")
        # As for the answer's text: a kernel's flush waits for its IO thread, and an ask that
        # is over in milliseconds (a replayed one) would spend them flushing line by line.
        now = time.monotonic()
        if now - self._last_flush >= self.refresh_interval:
            self._last_flush = now
            self.out.flush()


def make_view(mode: str, shell: object, refresh_interval: float = 0.05) -> AskView:
    """The widget view where a kernel can show widgets, the text view elsewhere."""
    if not shows_widgets(mode, shell):
        return TextView(refresh_interval=refresh_interval)
    from .widget_view import WidgetView

    return WidgetView(refresh_interval=refresh_interval)


def shows_widgets(mode: str, shell: object) -> bool:
    """Whether the view `mode` ("auto", "widget", "text") shows widgets in this shell."""
    return mode == "widget" or (mode == "auto" and _in_kernel(shell))


def _in_kernel(shell: object) -> bool:
    if getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True
