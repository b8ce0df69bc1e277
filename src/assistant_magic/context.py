"""What `%%ask` shows the model of the notebook's own work: variables, cells, outputs, the error.

A chat window sees only what the user pastes; a notebook assistant can be shown the notebook
itself. The user names what to show (``--vars df``, ``--cell 3``, ``--out 3``, ``--error``) and
nothing else is ever read from the kernel. Each item becomes a `ContextPart`: a label and the
exact text the model receives, appended to the question by `render`. Every text is bounded
(``limit`` characters); values are summarised by `summaries.summarize`.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import AssistantError
from .summaries import clip, summarize

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


@dataclass(frozen=True)
class ContextPart:
    """One item of context: a heading for the model, and exactly the text it receives."""

    label: str  # "variable df", "In[3]", "Out[3]", "last error"
    text: str
    language: str = "text"  # the fence's info string: "python" for cell sources


class ContextError(AssistantError):
    """A context option names something the notebook does not have."""


# --- the parts -------------------------------------------------------------------------------


def variable(name: str, namespace: Mapping[str, Any], *, limit: int = 2000) -> ContextPart:
    """The named variable, summarised; only this name is read from the namespace."""
    if not name.isidentifier():
        raise ContextError(
            f"--vars {name}: {name!r} is not a variable name; give plain names such as df."
        )
    if name not in namespace:
        raise ContextError(
            f"--vars {name}: no variable named {name!r} in the notebook; check the spelling "
            "or run the cell that defines it."
        )
    return ContextPart(f"variable {name}", summarize(namespace[name], limit=limit))


def cell_input(n: int, history: Sequence[str], *, limit: int = 4000) -> ContextPart:
    """The source of input cell ``n``; ``history`` is IPython's ``In`` (``In[0] == ""``)."""
    last = len(history) - 1
    if not 1 <= n <= last:
        raise ContextError(f"--cell {n}: no input cell {n} in this session ({_span(last)}).")
    return ContextPart(f"In[{n}]", clip(history[n].rstrip(), limit), "python")


def cell_output(n: int, outputs: Mapping[int, Any], *, limit: int = 2000) -> ContextPart:
    """The value of ``Out[n]``, summarised as `variable` does."""
    if n not in outputs:
        raise ContextError(f"--out {n}: cell {n} has no output ({_holds(outputs)}).")
    return ContextPart(f"Out[{n}]", summarize(outputs[n], limit=limit))


def last_error(exc: BaseException | None, *, limit: int = 4000) -> ContextPart:
    """The traceback of the last exception; when too long, the end is kept (it matters most)."""
    if exc is None:
        raise ContextError("--error: no exception has been raised in this session yet.")
    formatted = "".join(traceback.format_exception(type(exc), exc, _user_traceback(exc)))
    lines = _portable(_ANSI.sub("", formatted)).rstrip("\n").split("\n")
    return ContextPart("last error", _keep_end(lines, limit))


#: A notebook cell's code as the kernel names it (``/tmp/ipykernel_123/4567.py``).
_CELL_FILE = re.compile(r'File "[^"]*ipykernel_\d+[/\\]\d+\.py"')
#: An installed package's file: only its path inside site-packages tells the model anything.
_INSTALLED = re.compile(r'File "[^"]*[/\\](?:site|dist)-packages[/\\]([^"]+)"')


def _portable(traceback_text: str) -> str:
    """The traceback without this machine's paths: they tell the model nothing, say where the
    user's files are, and make the same error another message on every run (so replay would
    not match it)."""
    text = _CELL_FILE.sub('File "<notebook cell>"', traceback_text)
    return _INSTALLED.sub(r'File "\1"', text)


def render(
    question: str, parts: Sequence[ContextPart], heading: str = "Context from the notebook:"
) -> str:
    """The user message: the question as typed, then each part under a heading in a fence."""
    if not parts:
        return question
    context = f"{heading}\n\n" + "\n\n".join(_block(part) for part in parts)
    head = question.rstrip()
    return f"{head}\n\n{context}" if head else context


def _block(part: ContextPart) -> str:
    longest = max((len(run) for run in re.findall(r"`+", part.text)), default=0)
    fence = "`" * max(3, longest + 1)
    body = part.text if part.text.endswith("\n") else part.text + "\n"
    return f"### {part.label}\n{fence}{part.language}\n{body}{fence}"


# --- small helpers ---------------------------------------------------------------------------


def _user_traceback(exc: BaseException) -> Any:
    """The traceback without IPython's own leading frames (run_code's exec)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _is_ipython(tb.tb_frame):
        tb = tb.tb_next
    return tb


def _is_ipython(frame: Any) -> bool:
    filename = frame.f_code.co_filename.replace("\\", "/")
    return "/IPython/core/" in filename


def _keep_end(lines: list[str], limit: int) -> str:
    """As many whole lines from the end as fit in ``limit``, after a note of how many were cut."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept = 0
    size = 0  # of the kept lines, one newline each
    for line in reversed(lines):
        if size + len(line) + 1 + len(_cut_note(len(lines) - kept - 1)) > limit:
            break
        size += len(line) + 1
        kept += 1
    if kept == 0:  # the last line alone is too long: keep its start, where the type is
        note = _cut_note(len(lines) - 1)
        return f"{note}\n{clip(lines[-1], max(limit - len(note) - 1, 0))}"
    return "\n".join([_cut_note(len(lines) - kept), *lines[-kept:]])


def _cut_note(cut: int) -> str:
    return f"… ({cut:,} earlier lines cut)"


def _span(last: int) -> str:
    if last < 1:
        return "no cells have run yet"
    return "only 1" if last == 1 else f"1 to {last}"


def _holds(outputs: Mapping[int, Any]) -> str:
    shown = [str(key) for key in sorted(outputs)]
    if not shown:
        return "no cell has produced an output yet"
    if len(shown) > 10:
        shown = [*shown[:3], "…", *shown[-6:]]
    return "Out holds " + ", ".join(shown)
