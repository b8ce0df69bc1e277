"""Ctrl-C at any moment of an ask leaves the thread usable, on every dialect.

One scripted ask (two rounds of two parallel tool calls, then an answer) is interrupted, in turn,
at every point the client can observe, with a real SIGINT:

* before each answer and each stream event the server sends (the server's ``before_send``
  hook signals the kernel's main thread, as a kernel interrupt does, while the client waits
  for exactly that byte);
* inside each tool call;
* at the edges of each store write: its first line, its first line inside the transaction, and
  its COMMIT (a trace hook raises the signal there); with $ASSISTANT_MAGIC_SWEEP_EVERY_LINE=1, at
  every line of every write.

After each, the next ask must be answered, and the scripted server, which keeps the real API's
rules (an unanswered call, an active run and a second output for one call are all refused), must
never have refused a request. Between the two asks the test waits until the server has finished
with what the client left, as the time a person takes to type the next question does.
"""

from __future__ import annotations

import linecache
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import assistant_magic.store
import assistant_magic.store_schema
import assistant_magic.store_tool_calls
from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

from conftest import FaultLog

DIALECTS = ("responses", "chat", "assistants")
SCENARIO = (
    ToolCalls(
        [
            FunctionCall("double", {"x": 1}, call_id="call_a"),
            FunctionCall("double", {"x": 2}, call_id="call_b"),
        ]
    ),
    ToolCalls(
        [
            FunctionCall("double", {"x": 3}, call_id="call_c"),
            FunctionCall("double", {"x": 4}, call_id="call_d"),
        ]
    ),
    Text("The doubles are 2, 4, 6 and 8."),
)
TOOLS = '''
import signal as _signal
_sweep = {"calls": 0, "interrupt_at": 0}

def double(x: int) -> int:
    """Double a number.

    Args:
        x: the number
    """
    _sweep["calls"] += 1
    if _sweep["calls"] == _sweep["interrupt_at"]:
        _signal.raise_signal(_signal.SIGINT)  # Ctrl-C while the tool runs
    return 2 * x
'''
STORE_FILES = frozenset(
    str(Path(module.__file__ or ""))
    for module in (assistant_magic.store, assistant_magic.store_tool_calls)
)
SCHEMA_FILE = str(Path(assistant_magic.store_schema.__file__))
#: Interrupt at every line of every store write, not only at their edges (benchmarks/faults.py
#: sets it: several minutes more, for the full count).
EVERY_LINE = os.environ.get("ASSISTANT_MAGIC_SWEEP_EVERY_LINE") == "1"
#: The store's methods that write.
STORE_WRITES = frozenset(
    {
        "create_thread",
        "update_thread",
        "delete_thread",
        "start_ask",
        "finish_ask",
        "start_tool_call",
        "finish_tool_call",
        "record_file",
        "forget_file",
    }
)
MAIN_THREAD = threading.main_thread().ident or 0


@dataclass
class Sweep:
    ip: InteractiveShell
    server: ScriptedServer
    capsys: pytest.CaptureFixture[str]
    failures: list[str]
    tried: int = 0

    def ask(self, interrupt: Callable[[], Any]) -> tuple[Any, str]:
        """The scenario's ask, with `interrupt` armed."""
        self.ip.run_line_magic("assistant", "thread new")
        self.server.clear_script()
        self.server.script(*SCENARIO)
        self.ip.user_ns["_sweep"].update(calls=0, interrupt_at=0)
        self.capsys.readouterr()
        with interrupt():
            result = self.ip.run_cell("%%ask\nDouble 1, 2, 3 and 4.")
        return result.error_in_exec, self.capsys.readouterr().out

    def check(self, point: str, interrupt: Callable[[], Any]) -> None:
        """Interrupt the ask at `point`, then ask again: the thread must take it."""
        self.tried += 1
        rejected = len(self.server.rejections)
        error, _ = self.ask(interrupt)
        problems = []
        # KeyboardInterrupt itself comes out when Ctrl-C lands before the ask began (nothing
        # sent, nothing recorded) or just after it ended (recorded whole); both are checked.
        if type(error).__name__ not in ("NoneType", "AskInterrupted", "KeyboardInterrupt"):
            problems.append(f"the interrupted ask raised {type(error).__name__}: {error}")
        self.server.wait_until_idle()
        self.server.clear_script()
        self.server.script(Text("Still here."))
        result = self.ip.run_cell("%%ask\nStill there?")
        after = self.capsys.readouterr().out
        if result.error_in_exec is not None or "Still here." not in after:
            problems.append(f"the next ask failed: {result.error_in_exec!r}")
        problems += self.server.rejections[rejected:]
        problems += self._unclosed_turns()
        if problems:
            self.failures.append(f"{point}: " + "; ".join(problems))

    def _unclosed_turns(self) -> list[str]:
        threads = self.ip._assistant_magics.assistant.threads  # type: ignore[attr-defined]
        asks = threads.store.asks(threads.thread.id)
        return [f"ask {t.seq} left {t.status}" for t in asks if t.status == "pending"]


@contextmanager
def nothing() -> Iterator[None]:
    yield


def at_server_point(server: ScriptedServer, target: int) -> Callable[[], Any]:
    """Interrupt the client just before the server's `target`-th answer or event goes out."""

    @contextmanager
    def armed() -> Iterator[None]:
        count = 0

        def tap(what: str) -> None:
            nonlocal count
            count += 1
            if count == target:
                time.sleep(0.01)  # the client is now waiting for exactly this
                signal.pthread_kill(MAIN_THREAD, signal.SIGINT)
                time.sleep(0.05)  # it hangs up before more is written

        server.before_send = tap
        try:
            yield
        finally:
            server.before_send = None

    return armed


def in_tool(ip: InteractiveShell, target: int) -> Callable[[], Any]:
    @contextmanager
    def armed() -> Iterator[None]:
        ip.user_ns["_sweep"]["interrupt_at"] = target
        yield

    return armed


@contextmanager
def store_writes_traced(at_point: Callable[[], None]) -> Iterator[None]:
    """Call `at_point` at three points of every store write: its first line, its first line
    inside the transaction, and the COMMIT (an interrupt anywhere between the second and the
    third is held back the same way: those are the two edges of the transaction); with
    `EVERY_LINE`, at every line of the write and of its transaction."""

    def in_write(frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            line = linecache.getline(frame.f_code.co_filename, frame.f_lineno)
            previous = linecache.getline(frame.f_code.co_filename, frame.f_lineno - 1)
            first = frame.f_lineno == frame.f_code.co_firstlineno + 1
            if EVERY_LINE or first or _body_starts(line, previous):
                at_point()
        return in_write

    def in_transaction(frame: FrameType, event: str, arg: object) -> Any:
        line = linecache.getline(SCHEMA_FILE, frame.f_lineno)
        if event == "line" and (EVERY_LINE or "COMMIT" in line):
            at_point()
        return in_transaction

    def calls(frame: FrameType, event: str, arg: object) -> Any:
        code = frame.f_code
        if code.co_filename in STORE_FILES and code.co_name in STORE_WRITES:
            return in_write
        if code.co_filename == SCHEMA_FILE and code.co_name == "transaction":
            return in_transaction
        return None

    sys.settrace(calls)
    try:
        yield
    finally:
        sys.settrace(None)


def _body_starts(line: str, previous: str) -> bool:
    """The first line inside `with self._write() as conn:`."""
    return "self._write()" in previous and "self._write()" not in line


def at_store_point(target: int) -> Callable[[], Any]:
    """Interrupt at the `target`-th point of the store's writes during the ask."""

    @contextmanager
    def armed() -> Iterator[None]:
        count = 0

        def on_line() -> None:
            nonlocal count
            count += 1
            if count == target:
                signal.raise_signal(signal.SIGINT)

        with store_writes_traced(on_line):
            yield

    return armed


def counted_server_points(sweep: Sweep) -> int:
    seen: list[str] = []
    sweep.server.before_send = seen.append
    try:
        error, out = sweep.ask(nothing)
    finally:
        sweep.server.before_send = None
    assert error is None and "The doubles are 2, 4, 6 and 8." in out, out
    return len(seen)


def counted_store_points(sweep: Sweep) -> int:
    points: list[None] = []
    with store_writes_traced(lambda: points.append(None)):
        error, _ = sweep.ask(nothing)
    assert error is None
    return len(points)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_interrupt_at_any_moment_leaves_the_thread_usable(  # type: ignore[no-untyped-def]
    ip, server, capsys, faults: FaultLog, dialect: str
) -> None:
    ip.run_cell(TOOLS)
    ip.run_line_magic("assistant", f"--dialect {dialect}")
    ip.run_line_magic("assistant", "tools add double")
    sweep = Sweep(ip, server, capsys, failures=[])

    points = counted_server_points(sweep)
    for target in range(1, points + 1):
        sweep.check(f"server point {target}", at_server_point(server, target))
    for target in range(1, 5):
        sweep.check(f"tool call {target}", in_tool(ip, target))
    writes = counted_store_points(sweep)
    for target in range(1, writes + 1):
        sweep.check(f"store point {target}", at_store_point(target))

    print(
        f"{dialect}: {sweep.tried} interrupts ({points} server points, 4 tool calls, {writes} "
        f"store points), {sweep.tried - len(sweep.failures)} threads left usable"
    )
    faults.interrupts(tried=sweep.tried, usable=sweep.tried - len(sweep.failures))
    assert sweep.failures == [], "\n".join(sweep.failures[:20])
