"""How a running ask looks in Jupyter: a live widget, and one Markdown answer.

While the ask runs, the widget shows the status line (status, model, elapsed time, tokens), a
line per tool call and notice, and the answer as it streams: finished Markdown blocks
(`markdown_blocks`) are rendered once, a few at a time, each lot in an Output widget of its own
that holds them as its state, and only the block still being written is updated, as escaped
text. So an update sends a bounded amount however long the answer grows, and the frontend never
renders the whole answer again per token.

When the ask ends, the streamed blocks are cleared from the widget and the answer is shown once,
as an ordinary Markdown output in the place kept for it at its first words: that is what stays
in the saved notebook. The widget's plain-text fallback is the status and tool lines, so a
notebook read without widgets still shows them, never a broken widget repr.
"""

from __future__ import annotations

import html
import threading
import time
from typing import TYPE_CHECKING, Any

from .events import Event, ImageShown, TableShown, TextDelta
from .markdown_blocks import MarkdownBlocks
from .view import COLOURS, AskState

if TYPE_CHECKING:
    from IPython.display import DisplayHandle

    from .ask import AskOutcome

#: An answer's place, kept at its first words, empty until the ask ends.
EMPTY_ANSWER = {"text/markdown": "", "text/plain": ""}
#: Finished blocks are rendered at most this often (seconds), unless this many characters wait.
COMMIT_INTERVAL, COMMIT_SIZE = 0.25, 4_000
#: Rendered lots per page (a VBox): a list of children is re-sent whole when it changes, so the
#: lots go in pages of this many, and the status box gets a new child only once per page.
PAGE_SIZE = 16
_TAIL_STYLE = "white-space:pre-wrap;font-family:var(--jp-content-font-family,sans-serif)"
_CODE_STYLE = "white-space:pre-wrap;font-family:var(--jp-code-font-family,monospace)"


def answer_bundle(text: str) -> dict[str, str]:
    # Raw bundle: frontends that cannot render Markdown show the text itself, not a repr.
    return {"text/markdown": text, "text/plain": text}


class WidgetView:
    """A live status widget with the answer streaming in it, then one Markdown answer."""

    def __init__(self, refresh_interval: float = 0.05, tick: float = 0.5) -> None:
        self.refresh_interval = refresh_interval
        self.tick = tick
        self._state = AskState("")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._widget: Any = None  # the status line and the tool lines (HTML)
        self._box: Any = None  # what is displayed: the status, then the streaming answer
        self._status_handle: DisplayHandle | None = None
        self._answer_handle: DisplayHandle | None = None
        self._blocks = MarkdownBlocks()
        self._fed = 0  # pieces of the state's text given to `_blocks`
        self._pending: list[str] = []  # finished blocks not rendered yet
        self._last_commit = 0.0
        self._pages: list[Any] = []  # VBoxes of Output widgets: the finished blocks, rendered
        self._layout: Any = None  # the Layout all the view's widgets share
        self._tail: Any = None  # HTML widget: the block being written
        self._last_flush = 0.0
        self._image_handles: dict[str, DisplayHandle] = {}

    def start(self, *, model: str, thread_id: str) -> None:
        import ipywidgets
        from IPython.display import display

        self._state = AskState(model)
        self._thread_id = thread_id
        # One Layout (all defaults) for every widget of the view: each widget would otherwise
        # open one of its own, a message to the frontend each, and more for the kernel's output
        # thread to send before the display below (which waits for it) goes out.
        self._layout = ipywidgets.Layout()
        self._widget = ipywidgets.HTML(value=self._html(), layout=self._layout)
        self._box = ipywidgets.VBox([self._widget], layout=self._layout)
        self._box.add_class("assistant-magic-status")
        self._status_handle = display(self._bundle(), raw=True, display_id=True)
        self._stop.clear()
        self._timer = threading.Thread(target=self._run_clock, daemon=True)
        self._timer.start()

    def update(self, event: Event) -> None:
        if isinstance(event, TextDelta):  # the hot path, once per token: keep it short
            # Unlocked: the clock's thread reads the status and the lines, never the text.
            self._state.apply(event)
            now = time.monotonic()
            if now - self._last_flush >= self.refresh_interval:
                self._last_flush = now
                self._flush()
            return
        with self._lock:
            self._state.apply(event)
        if isinstance(event, ImageShown):
            self._show_image(event)
            self._render()
        elif isinstance(event, TableShown):
            from IPython.display import display

            display(event.value)
        else:
            self._render()

    def finish(self, outcome: AskOutcome) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join()
        with self._lock:
            self._state.end(outcome)
        self._end_streaming()
        # A typed answer reads as its table or field list; the JSON stays on the thread.
        self._show_answer(outcome.shown or outcome.text or "".join(self._state.text))
        self._render()
        if self._status_handle is not None:
            # The saved notebook keeps the final status as the widget's plain-text fallback.
            self._status_handle.update(self._bundle(), raw=True)

    # -- the streaming answer ------------------------------------------------------------------

    def _start_streaming(self) -> None:
        import ipywidgets
        from IPython.display import display

        # The answer's place, before any image that comes later, as in the saved notebook.
        self._answer_handle = display(EMPTY_ANSWER, raw=True, display_id=True)
        self._tail = ipywidgets.HTML(layout=self._layout)
        self._box.children = (self._widget, self._tail)

    def _flush(self) -> None:
        """Take in the text since the last flush; show the tail as it is, and the finished
        blocks rendered, a few at a time."""
        if self._tail is None:
            self._start_streaming()
        # What the state took in since (with the paragraph break it puts between rounds).
        with self._lock:
            text = "".join(self._state.text[self._fed :])
            self._fed = len(self._state.text)
        self._pending += [block.shown for block in self._blocks.feed(text)]
        waiting = sum(len(block) for block in self._pending)
        now = time.monotonic()
        if self._pending and (now - self._last_commit >= COMMIT_INTERVAL or waiting > COMMIT_SIZE):
            self._commit()
            self._last_commit = now
        # Finished blocks not rendered yet stay in the tail, so nothing disappears meanwhile.
        tail = "".join(self._pending) + self._blocks.tail
        style = _CODE_STYLE if self._blocks.in_code and not self._pending else _TAIL_STYLE
        # Text, not an attribute: quotes stay quotes (code is full of them; "&quot;" is 6 bytes).
        value = f'<div style="{style}">{html.escape(tail, quote=False)}</div>' if tail else ""
        if value != self._tail.value:
            self._tail.value = value

    def _commit(self) -> None:
        """Render the finished blocks waiting, once, as a new Output widget in the last page.

        The lot is the widget's state, sent with its creation: no output is captured, since
        capturing (``with output: display(...)``) waits for the kernel's output thread four
        times (a flush of stdout and stderr on entering, and again in `display`), and on a busy
        machine that cost more than the rest of the display together.
        """
        import ipywidgets

        pending, self._pending = self._pending, []
        # One output for the lot: whole blocks render alike joined. Markdown only: a frontend
        # showing this widget renders Markdown, and these lots are taken out when the ask ends
        # (the answer's own output keeps its text/plain), so a copy would only double the bytes.
        markdown = {"text/markdown": "".join(pending)}
        output = {"output_type": "display_data", "data": markdown, "metadata": {}}
        lot = ipywidgets.Output(layout=self._layout, outputs=(output,))
        page = self._pages[-1] if self._pages else None
        if page is not None and len(page.children) < PAGE_SIZE:
            page.children = (*page.children, lot)
        else:
            self._pages.append(ipywidgets.VBox([lot], layout=self._layout))
            self._box.children = (self._widget, *self._pages, self._tail)

    def _end_streaming(self) -> None:
        """Take the streamed blocks out of the widget: the answer is shown whole instead."""
        if self._tail is None:
            return
        self._box.children = (self._widget,)
        for page in self._pages:
            for lot in page.children:
                # Emptied first: a notebook runner that keeps the state of closed widgets
                # (nbclient does) would otherwise save the answer a second time.
                lot.outputs = ()
                lot.close()
            page.close()
        self._tail.value = ""
        self._tail.close()
        self._pages, self._tail = [], None

    def _show_answer(self, text: str) -> None:
        from IPython.display import display

        if not text:
            return
        if self._answer_handle is None:
            self._answer_handle = display(answer_bundle(text), raw=True, display_id=True)
        else:
            self._answer_handle.update(answer_bundle(text), raw=True)

    # -- images, the clock, the status ---------------------------------------------------------

    def _show_image(self, event: ImageShown) -> None:
        """An image as an ordinary output; partial previews are replaced by what follows."""
        from IPython.display import display

        handle = self._image_handles.get(event.key) if event.key else None
        if handle is None:
            handle = display(event.image, display_id=True)
            if event.key:
                self._image_handles[event.key] = handle
        else:
            handle.update(event.image)

    def _run_clock(self) -> None:
        while not self._stop.wait(self.tick):
            self._render()

    def _render(self) -> None:
        with self._lock:
            value = self._html()
        if self._widget is not None:
            self._widget.value = value

    def _bundle(self) -> dict[str, Any]:
        bundle: dict[str, Any] = self._box._repr_mimebundle_()
        # Tool calls go in the fallback too: a saved notebook read without widgets keeps them.
        lines = [self._state.line(), *self._state.lines.values()]
        bundle["text/plain"] = "\n".join(f"[assistant] {line}" for line in lines)
        return bundle

    def _html(self) -> str:
        state = self._state
        colour = COLOURS.get(state.status, "#0969da")
        first, *rest = state.parts()
        pill = (
            f'<span class="am-status" data-status="{html.escape(state.status)}" '
            f'style="color:{colour};font-weight:600">{html.escape(first)}</span>'
        )
        others = "".join(
            f' <span style="opacity:.75">· {html.escape(part)}</span>' for part in rest
        )
        lines = "".join(
            f'<div class="am-line" style="font-family:var(--jp-code-font-family,monospace);'
            f'font-size:.9em;opacity:.85">{html.escape(line)}</div>'
            for line in state.lines.values()
        )
        font = "font-family:var(--jp-ui-font-family,sans-serif)"
        return f'<div style="{font}"><div>{pill}{others}</div>{lines}</div>'
