"""How far a job is: rows done of the total, rows per second, tokens, the cost so far and the
estimated total, the time left, failures; shown live in a widget, as text lines in a terminal,
or not at all (the Python API's default)."""

from __future__ import annotations

import html
import sys
import time
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

from ..events import Usage

#: Seconds between two updates of a live display.
WIDGET_EVERY, TEXT_EVERY = 0.25, 5.0


@dataclass
class JobProgress:
    """What a job has done so far."""

    total: int
    model: str
    #: Rows answered from the store (no request), at the start.
    cached: int = 0
    answered: int = 0
    failed: int = 0
    usage: Usage = field(default_factory=lambda: Usage(0, 0, 0))
    cost: float | None = 0.0
    started: float = field(default_factory=time.monotonic)
    #: Why the job stopped early ("" if it ran to the end or is running).
    stopped: str = ""
    finished: bool = False

    @property
    def done(self) -> int:
        return self.cached + self.answered + self.failed

    def rate(self) -> float:
        """Rows a second, of those asked (cached rows cost no time)."""
        elapsed = time.monotonic() - self.started
        asked = self.answered + self.failed
        return asked / elapsed if elapsed > 0 and asked else 0.0

    def estimated_cost(self) -> float | None:
        """The whole job's cost at the rate so far (None when the price is unknown)."""
        asked = self.answered + self.failed
        left = self.total - self.done
        if self.cost is None or not asked:
            return self.cost
        return self.cost + self.cost / asked * left

    def line(self) -> str:
        parts = [f"{self.done:,} / {self.total:,} rows"]
        if self.cached:
            parts.append(f"{self.cached:,} from the store")
        rate = self.rate()
        if rate:
            parts.append(f"{rate:,.1f} rows/s")
        parts.append(f"{self.usage.total_tokens:,} tokens")
        if self.cost is not None and self.usage.total_tokens:
            estimate = self.estimated_cost()
            total = f", ~${estimate:,.4f} in all" if estimate and not self.finished else ""
            parts.append(f"${self.cost:,.4f}{total}")
        left = self.total - self.done
        if rate and left and not self.finished:
            parts.append(f"{_duration(left / rate)} left")
        if self.failed:
            parts.append(f"{self.failed:,} failed")
        if self.stopped:
            parts.append(f"stopped: {self.stopped}")
        mark = "✓" if self.finished and not self.stopped and not self.failed else "…"
        if self.finished and (self.stopped or self.failed):
            mark = "■"
        return f"{mark} {self.model} · " + " · ".join(parts)


class ProgressView(Protocol):
    def show(self, progress: JobProgress) -> None: ...

    def finish(self, progress: JobProgress) -> None: ...


class NoProgress:
    def show(self, progress: JobProgress) -> None:
        pass

    def finish(self, progress: JobProgress) -> None:
        pass


class TextProgress:
    """A line every few seconds, and the last one."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self._out = out
        self._last = 0.0

    def show(self, progress: JobProgress) -> None:
        now = time.monotonic()
        if now - self._last >= TEXT_EVERY:
            self._last = now
            self._say(progress)

    def finish(self, progress: JobProgress) -> None:
        self._say(progress)

    def _say(self, progress: JobProgress) -> None:
        out = self._out or sys.stdout
        out.write(f"[assistant] {progress.line()}\n")
        out.flush()


class WidgetProgress:
    """A progress bar and the line, live; the saved notebook keeps the last line as text."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._label: Any = None
        self._handle: Any = None
        self._last = 0.0

    def show(self, progress: JobProgress) -> None:
        now = time.monotonic()
        if self._bar is not None and now - self._last < WIDGET_EVERY:
            return
        self._last = now
        if self._bar is None:
            self._start(progress)
        self._bar.value = progress.done
        self._label.value = _html(progress)

    def finish(self, progress: JobProgress) -> None:
        if self._bar is None:
            self._start(progress)
        self._bar.value = progress.done
        self._bar.bar_style = "success" if not (progress.failed or progress.stopped) else "warning"
        self._label.value = _html(progress)
        bundle = self._box._repr_mimebundle_()
        bundle["text/plain"] = f"[assistant] {progress.line()}"
        self._handle.update(bundle, raw=True)

    def _start(self, progress: JobProgress) -> None:
        import ipywidgets
        from IPython.display import display

        self._bar = ipywidgets.IntProgress(value=0, min=0, max=max(progress.total, 1))
        self._label = ipywidgets.HTML(_html(progress))
        self._box = ipywidgets.VBox([self._label, self._bar])
        self._box.add_class("assistant-magic-rows")
        bundle = self._box._repr_mimebundle_()
        bundle["text/plain"] = f"[assistant] {progress.line()}"
        self._handle = display(bundle, raw=True, display_id=True)


def _html(progress: JobProgress) -> str:
    font = "font-family:var(--jp-ui-font-family,sans-serif)"
    return f'<div class="am-rows" style="{font}">{html.escape(progress.line())}</div>'


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"
