"""Holding Ctrl-C back for the few steps that must finish once started.

A kernel interrupt is a SIGINT, and Python raises KeyboardInterrupt at whatever line runs when it
arrives: between ``BEGIN`` and ``COMMIT``, it would leave the store's connection inside an open
transaction. `deferred_interrupts` catches the signal for the length of such a step and delivers
it right after, so the step is whole and the user's interrupt is still honoured.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Run the block whole; a SIGINT that arrives meanwhile is delivered when it ends.

    Signal handlers belong to the main thread: elsewhere (a widget's timer thread) this does
    nothing, and no SIGINT is raised there anyway.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[FrameType | None] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        held.append(frame)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except ValueError:  # not the main interpreter
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if held:
            _deliver(previous, held[0])


def _deliver(handler: object, frame: FrameType | None) -> None:
    """What the SIGINT would have done had it not been held."""
    if callable(handler):
        handler(signal.SIGINT, frame)
    elif handler == signal.SIG_DFL:
        raise KeyboardInterrupt
