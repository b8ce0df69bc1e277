"""`BackgroundLoop`: one asyncio event loop in one daemon thread, for every MCP session.

The MCP SDK is async. The kernel's own loop is busy running the cell (and patching it with
nest_asyncio again would spread further), so the sessions live on a loop of their own, started
at the first ask that needs a server and kept for the kernel's life. The main thread hands it
coroutines and waits for their results with a timeout; a Ctrl-C while it waits cancels the task.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
#: How long a cancelled task gets to wind down (tell the server, close its streams).
CANCEL_GRACE = 2.0
#: How often a wait looks up for a pending interrupt.
WAIT_SLICE = 0.05


class BackgroundLoop:
    """An event loop in a daemon thread; `run` waits on it from synchronous code."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """`coroutine`'s result. On timeout the task is cancelled and TimeoutError raised; a
        KeyboardInterrupt cancels it too, then propagates."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            # Waited on in slices: a long blocking wait would not see a Ctrl-C until it ended.
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise concurrent.futures.TimeoutError
                try:
                    return future.result(WAIT_SLICE if left is None else min(left, WAIT_SLICE))
                except concurrent.futures.TimeoutError:
                    if future.done():
                        raise  # the coroutine's own TimeoutError
        except concurrent.futures.TimeoutError:
            _cancel(future)
            raise TimeoutError from None
        except KeyboardInterrupt:
            _cancel(future)
            raise

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Start `coroutine` on the loop and return at once (a session's long-lived task)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._started())

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                thread = threading.Thread(
                    target=_serve, args=(loop, ready), name="assistant-magic-mcp", daemon=True
                )
                thread.start()
                ready.wait()
                self._loop, self._thread = loop, thread
            return self._loop


def _serve(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
    asyncio.set_event_loop(loop)
    loop.call_soon(ready.set)
    loop.run_forever()


def _cancel(future: concurrent.futures.Future[Any]) -> None:
    """Cancel the task behind `future` and give it a moment to finish cancelling."""
    future.cancel()
    with contextlib.suppress(concurrent.futures.CancelledError, concurrent.futures.TimeoutError):
        future.exception(CANCEL_GRACE)
