"""Running the calls the model asks for: approved, in turn or together, answered with their output.

`ToolBox` is the registry that also runs calls. It knows no wire dialect: it takes
`ToolCallRequested` events and gives back `ToolCallFinished` ones, whatever API the model came
through. Ordinary functions run one at a time in the kernel's main thread; the async tools of
one step run together, on the kernel's own event loop when one is running; MCP tools run in
turn, each waiting on its server's session (`mcp_servers`), a failed server one `Notice`.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import json
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..events import (
    Event,
    Notice,
    TableShown,
    ToolCallFinished,
    ToolCallRequested,
    ToolCallStarted,
)
from ..redaction import redact
from .arguments import ToolArgumentError
from .kinds import Tool
from .mcp_tool import McpTool
from .registry import ToolRegistry
from .results import result_text

if TYPE_CHECKING:
    import asyncio

T = TypeVar("T")
#: Asks the user whether a call may run, given the tool and how the call reads: True or
#: False as the user answered, None when there is no way to ask.
Approver = Callable[[Tool, str], "bool | None"]
CallStatus = Literal["ok", "error", "denied", "interrupted"]


@dataclass(kw_only=True)
class ToolBox(ToolRegistry):
    """A namespace's tools (see `ToolRegistry`), and how their calls run."""

    approve: Approver
    #: "show": what a tool prints appears in the cell; "capture": it goes to the model instead.
    stdout: Literal["show", "capture"] = "show"
    result_limit: int = 20_000

    def run(
        self,
        calls: Sequence[ToolCallRequested],
        offered: Mapping[str, Tool],
        emit: Callable[[Event], None],
    ) -> list[ToolCallFinished]:
        """Run one step's calls: sync ones in turn, async ones together; results in call order.

        Only the tools `offered` in this ask may run. Every failure becomes text for the model.
        A KeyboardInterrupt propagates: the caller answers the calls that did not finish.
        """
        prepared = [self._prepare(call, offered, emit) for call in calls]
        results: dict[str, ToolCallFinished] = {
            p.call.call_id: p.finished for p in prepared if p.finished is not None
        }
        runnable = [p for p in prepared if p.finished is None]
        for p in runnable:
            if isinstance(p.tool, McpTool):
                results[p.call.call_id] = self._run_mcp(p, p.tool, emit)
            elif not p.tool.is_async:  # type: ignore[union-attr]
                results[p.call.call_id] = self._finish(p, self._run_sync(p), emit)
        pending_async = [p for p in runnable if p.tool.is_async]  # type: ignore[union-attr]
        if pending_async:
            for p, ran in zip(pending_async, _run_async(pending_async), strict=True):
                results[p.call.call_id] = self._finish(p, ran, emit)
        return [results[call.call_id] for call in calls]

    def _prepare(
        self,
        call: ToolCallRequested,
        offered: Mapping[str, Tool],
        emit: Callable[[Event], None],
    ) -> _Prepared:
        tool = offered.get(call.name)
        display = call_display(call.name, call.arguments, _defaulted(tool))
        prepared = _Prepared(call=call, tool=tool, display=display)
        emit(ToolCallStarted(call_id=call.call_id, name=call.name, display=display))
        if tool is None:
            names = ", ".join(sorted(offered)) or "none"
            message = f"Unknown tool {call.name!r}. Available tools: {names}."
            prepared.finished = self._result(prepared, "error", message, None, emit)
            return prepared
        try:
            prepared.kwargs = tool.parse_arguments(call.arguments)
        except ToolArgumentError as exc:
            prepared.finished = self._result(prepared, "error", str(exc), None, emit)
            return prepared
        if tool.confirm:
            approved = self.approve(tool, display)
            if approved is None:
                message = (
                    "This call needs the user's approval, which cannot be asked here, so it "
                    "was not run. Answer without it."
                )
                note = "not run: this frontend has no input prompt to ask for approval"
                prepared.finished = self._result(prepared, "denied", message, None, emit, note)
            elif not approved:
                message = "The user denied this call; do not retry it unless they ask."
                prepared.finished = self._result(prepared, "denied", message, None, emit)
        return prepared

    def _run_mcp(
        self, p: _Prepared, tool: McpTool, emit: Callable[[Event], None]
    ) -> ToolCallFinished:
        """Call an MCP tool; a server that failed is one notice, and the model is told."""
        from ..mcp_servers.servers import ServerFailed

        started = time.perf_counter()
        try:
            reply = tool.call(p.kwargs, limit=self.result_limit, images=None)
        except ServerFailed as failed:
            emit(Notice(str(failed)))
            output = f"The tool failed: {failed}. Answer without it, or say what failed."
            return self._result(p, "error", output, time.perf_counter() - started, emit)
        status: CallStatus = "error" if reply.failed else "ok"
        duration = time.perf_counter() - started
        return self._result(p, status, reply.text, duration, emit, images=reply.images)

    def _run_sync(self, p: _Prepared) -> _Ran:
        started = time.perf_counter()
        captured = io.StringIO()
        redirect = (
            contextlib.redirect_stdout(captured)
            if self.stdout == "capture"
            else contextlib.nullcontext()
        )
        try:
            with redirect:
                value = p.tool.fn(**p.kwargs)  # type: ignore[union-attr]
        except KeyboardInterrupt:
            raise  # the user's interrupt: the turn loop answers the calls left open
        except BaseException as exc:  # SystemExit, GeneratorExit...: still the tool's own failure
            return _Ran(time.perf_counter() - started, error=_exception_text(exc))
        return _Ran(time.perf_counter() - started, value=value, printed=captured.getvalue())

    def _finish(self, p: _Prepared, ran: _Ran, emit: Callable[[Event], None]) -> ToolCallFinished:
        """What the model reads of a finished call; a picture goes along as itself."""
        from ..images import ImageError, from_object, is_image_object

        if ran.error is not None:
            return self._result(p, "error", ran.error, ran.duration, emit)
        if is_image_object(ran.value):
            try:
                image = from_object(ran.value, source=f"tool {p.call.name}", name=p.call.name)
            except ImageError as exc:
                return self._result(p, "error", str(exc), ran.duration, emit)
            if image is not None:
                _close_pyplot_figure(ran.value)
                width, height = image.size
                text = (
                    f"The function returned an image ({width}x{height} {image.format}), "
                    "attached here; the user sees it too."
                )
                return self._result(p, "ok", text, ran.duration, emit, images=(image,))
        if _is_table(ran.value):  # the user sees the table; the model gets its text form
            emit(TableShown(value=ran.value, title=p.display))
        text = result_text(ran.value, limit=self.result_limit)
        if ran.printed:
            text = f"{text}\n[printed]\n{ran.printed}" if ran.value is not None else ran.printed
        return self._result(p, "ok", text, ran.duration, emit)

    @staticmethod
    def _result(
        p: _Prepared,
        status: CallStatus,
        output: str,
        duration: float | None,
        emit: Callable[[Event], None],
        note: str = "",
        images: tuple[Any, ...] = (),
    ) -> ToolCallFinished:
        finished = ToolCallFinished(
            call_id=p.call.call_id,
            name=p.call.name,
            display=p.display,
            status=status,
            # What the model, the cell and the store get: a tool may return or raise a secret.
            output=redact(output),
            duration=duration,
            note=note,
            images=images,
        )
        emit(finished)
        return finished


@dataclass
class _Prepared:
    call: ToolCallRequested
    tool: Tool | None
    display: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    finished: ToolCallFinished | None = None


@dataclass
class _Ran:
    """How a call went: its value (or the error text for the model), and what it printed."""

    duration: float
    value: Any = None
    error: str | None = None
    printed: str = ""


def _run_async(prepared: Sequence[_Prepared]) -> list[_Ran]:
    """Run async tools concurrently, on the kernel's own event loop when one is running.

    Their prints always show: redirecting stdout is process-wide, so it cannot tell
    concurrent calls apart.
    """
    import asyncio  # not at the top: only async tools need it, and it is slow to import

    async def one(p: _Prepared) -> _Ran:
        started = time.perf_counter()
        try:
            value = await p.tool.fn(**p.kwargs)  # type: ignore[union-attr]
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # CancelledError and SystemExit too, as in _run_sync
            return _Ran(time.perf_counter() - started, error=_exception_text(exc))
        return _Ran(time.perf_counter() - started, value=value)

    async def together() -> list[_Ran]:
        return list(await asyncio.gather(*(one(p) for p in prepared)))

    return _run_to_completion(together())


def _run_to_completion(coroutine: Coroutine[Any, Any, T]) -> T:
    """Wait for `coroutine` from synchronous code: on the running loop if there is one."""
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    make_kernel_loop_reentrant(loop)
    return loop.run_until_complete(coroutine)


def make_kernel_loop_reentrant(loop: asyncio.AbstractEventLoop) -> None:
    """Let synchronous code running inside `loop` wait on that same loop.

    Inside Jupyter the kernel's loop is already running the cell, and a tool call is
    synchronous code inside it. Waiting on a second loop would break tools that use objects
    bound to the kernel's loop (clients, locks, queues), so nest_asyncio patches this one to
    allow nested ``run_until_complete``. The patch is process-wide and stays: nest_asyncio
    patches the loop's class, and swaps asyncio's C tasks and futures for the Python ones;
    applying it again is harmless.
    """
    import nest_asyncio

    nest_asyncio.apply(loop)


def _close_pyplot_figure(value: object) -> None:
    """A pyplot figure the tool made would be drawn a second time when the cell ends."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    figure = getattr(value, "figure", value)  # an Axes knows its figure
    if pyplot is not None and type(figure).__name__ == "Figure":
        pyplot.close(figure)


def _is_table(value: object) -> bool:
    kind = type(value)
    return kind.__name__ in ("DataFrame", "Series") and kind.__module__.startswith("pandas")


def _defaulted(tool: Tool | None) -> frozenset[str]:
    """Names of the tool's parameters that have defaults."""
    if tool is None:
        return frozenset()
    if isinstance(tool, McpTool):
        return tool.defaulted
    try:
        parameters = inspect.signature(tool.fn).parameters.values()  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(p.name for p in parameters if p.default is not inspect.Parameter.empty)


def _exception_text(exc: BaseException) -> str:
    return f"The function raised {type(exc).__name__}: {exc}"


def call_display(
    name: str, arguments: str, defaulted: frozenset[str] = frozenset(), width: int = 120
) -> str:
    """How a call reads to a person: ``calc_strength(name='Mamezou')``.

    A null for a parameter with a default means "use the default" (strict schemas make the
    model send every parameter), so it is left out, as the person would write the call.
    """
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except (ValueError, RecursionError):  # deep nesting overflows json's recursion
        parsed = None
    if isinstance(parsed, MutableMapping):
        inner = ", ".join(
            f"{key}={value!r}"
            for key, value in parsed.items()
            if not (value is None and key in defaulted)
        )
    else:
        inner = arguments.strip()
    text = f"{name}({inner})"
    return text if len(text) <= width else text[: width - 1] + "…"


def approve_with_input(tool: Tool, display: str) -> bool | None:
    """Ask on the kernel's stdin (Jupyter shows an input box, a terminal a prompt).

    Widget clicks are not delivered while a cell runs, so stdin is what truly works here.
    A frontend without stdin (IPython raises StdinNotImplementedError, a NotImplementedError)
    cannot ask: None.
    """
    try:
        answer = input(f"Allow the assistant to run {display}? [y/N] ")
    except (EOFError, NotImplementedError):
        return None
    return answer.strip().lower() in ("y", "yes")
