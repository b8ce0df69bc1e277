"""An ask on a long chat thread against one on a short thread, in the same run.

The chat dialect keeps no thread on the server: every request carries the thread, rebuilt from
the package's store. Only what fits the model's context window is sent, so an ask after 10,000
earlier asks should cost about what one after 10 costs. Two threads are made, the long one
filled straight into the store (as 10,000 real asks would leave it, some with tool calls);
`%%ask` then runs on each in turn through a real IPython shell (text view, output captured)
against the package's echo server in a process of its own, and the medians are compared: of
wall time, and of this process's CPU time (the package's own work, without the server's reading
of the larger request, which any client sending a full window pays).
Goal: the long thread's ask ≤ 1.2x the short thread's.

A short thread takes 5 timed asks, then a fresh one is used, so its request holds 10 to 14
asks; the long thread's holds a full context window (about 135 of these asks, 5 to 6 times the
bytes), and the server reading that is part of the wall ratio. So two more things are timed:

* the same request bodies posted as raw HTTP (httpx, the stream read to its end): what the
  server and the loopback take for a window against a short thread, paid by any client; the
  ask's time less that is the package's own, whose ratio is printed too;
* a third thread, of --window asks (more than a window holds, so its request is as large as
  the long thread's): the long thread against it is what the thread's length alone costs.

    .venv/bin/python benchmarks/long_thread.py [--earlier 10000] [--window 500] [--asks 60]
        [--replay]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator

import httpx
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.dialects.openai_sdk import encode_json
from assistant_magic.store import Store

KEY = "sk-bench-0123456789"
ANSWER = " ".join(f"word{i}" for i in range(60))
QUESTION = "Please tell me the battle strength of Mamezou"
#: Timed asks on each short thread, so that none grows past 14 earlier asks.
SHORT_TIMED = 5


def fill(store: Store, thread_id: str, count: int) -> None:
    """`count` answered asks of about the size of the benchmark's own; every tenth with a
    tool call."""
    for i in range(count):
        ask = store.start_ask(thread_id, f"{QUESTION} ({i})", "gpt-5.4-mini")
        if i % 10 == 0:
            call = store.start_tool_call(
                ask.id, round=1, call_id=f"call_{i}", name="calc_strength", arguments="{}"
            )
            store.finish_tool_call(call.id, status="ok", output="530000", duration=0.01)
        store.finish_ask(ask.id, status="completed", answer_text=ANSWER)


@contextlib.contextmanager
def echo_server() -> Iterator[str]:
    """`python -m assistant_magic.testing` in a process of its own; yields its base URL."""
    command = [sys.executable, "-m", "assistant_magic.testing", "--chunk-delay", "0"]
    server = subprocess.Popen([*command, "--api-key", KEY], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        yield first.rsplit(" ", 1)[-1].strip()
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--earlier", type=int, default=10_000, help="asks on the long thread")
    parser.add_argument(
        "--window", type=int, default=500, help="asks on the thread that just fills the window"
    )
    parser.add_argument("--asks", type=int, default=60, help="timed asks on each thread")
    parser.add_argument(
        "--replay",
        action="store_true",
        help="with replay on: each ask's key is made (and its answer recorded) on top",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, echo_server() as base_url:
        path = os.path.join(tmp, "threads.sqlite3")
        os.environ.update(
            OPENAI_BASE_URL=base_url,
            OPENAI_API_KEY=KEY,
            ASSISTANT_MAGIC_DIALECT="chat",
            ASSISTANT_MAGIC_STORE=path,
        )
        shell = InteractiveShell.instance()

        def run(line: str, cell: str | None = None) -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                if cell is None:
                    shell.run_line_magic("assistant", line)
                else:
                    shell.run_cell_magic("ask", line, cell)

        def thread(earlier: int) -> str:
            run("thread new")
            run("", QUESTION)  # makes the thread in the store
            store = Store(path)
            thread_id = store.list_threads()[0].id  # the newest
            fill(store, thread_id, earlier - 1)
            store.close()
            return thread_id

        shell.run_line_magic("load_ext", "assistant_magic")
        shell.run_line_magic("config", "AssistantMagics.view = 'text'")
        if args.replay:
            run("replay on")
        assistant = shell.magics_manager.registry["AssistantMagics"].assistant
        # Short threads stay short: each takes SHORT_TIMED asks, then the next one is used.
        shorts = [thread(10) for _ in range(0, args.asks, SHORT_TIMED)]
        print(f"short threads: 10 earlier asks (each timed {SHORT_TIMED} times)")
        threads = {"short": shorts[0]}
        for name, earlier in (("window", args.window), ("long", args.earlier)):
            started = time.perf_counter()
            threads[name] = thread(earlier)
            took = time.perf_counter() - started
            print(f"{name} thread: {earlier:,} earlier asks (filled in {took:.1f} s)")
        asks = Timings(threads)
        raw = Timings(threads)
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}) as http:
            for number in range(args.asks):  # alternate, so drifts in load hit all of them
                threads["short"] = shorts[number // SHORT_TIMED]
                question = f"{QUESTION} (ask {number})"  # never asked before: never replayed
                for name, thread_id in threads.items():
                    run(f"thread use {thread_id}")
                    [(_, body)] = assistant.preview(question)  # the request the ask sends
                    with asks.timing(name):
                        run("", question)
                    content = encode_json(body).encode()  # spelled as the SDK sends it
                    with raw.timing(name):
                        post(http, f"{base_url}/chat/completions", content)
    report(asks, raw, args)


class Timings:
    """Wall and CPU times of what was timed, by thread."""

    def __init__(self, names: Iterable[str]) -> None:
        self.wall: dict[str, list[float]] = {name: [] for name in names}
        self.cpu: dict[str, list[float]] = {name: [] for name in names}

    @contextlib.contextmanager
    def timing(self, name: str) -> Iterator[None]:
        started, started_cpu = time.perf_counter(), time.process_time()
        yield
        self.wall[name].append(time.perf_counter() - started)
        self.cpu[name].append(time.process_time() - started_cpu)

    def median(self, what: str, name: str) -> float:
        """In ms."""
        return statistics.median(getattr(self, what)[name]) * 1000


def post(http: httpx.Client, url: str, content: bytes) -> None:
    """The request as raw HTTP, its stream read to the end."""
    headers = {"Content-Type": "application/json"}
    with http.stream("POST", url, content=content, headers=headers) as response:
        response.raise_for_status()
        for _ in response.iter_raw():
            pass


def report(asks: Timings, raw: Timings, args: argparse.Namespace) -> None:
    for what in ("wall", "cpu"):
        short, window, long = (asks.median(what, name) for name in ("short", "window", "long"))
        print(
            f"{what:>4}: ask after 10 asks {short:6.2f} ms, after {args.earlier:,} asks "
            f"{long:6.2f} ms (medians of {args.asks}): ratio {long / short:.3f} (goal <= 1.20)"
        )
        print(
            f"{'':>4}  a full window both: after {args.window:,} asks {window:6.2f} ms, ratio "
            f"{long / window:.3f}"
        )
    short, long = (raw.median("wall", name) for name in ("short", "long"))
    print(
        f"the same bodies as raw HTTP: {short:.2f} ms and {long:.2f} ms: the server and the "
        f"loopback take {long - short:+.2f} ms for a window"
    )
    own_short = asks.median("wall", "short") - short
    own_long = asks.median("wall", "long") - long
    print(
        f"the package's own: {own_short:.2f} ms after 10 asks, {own_long:.2f} ms after "
        f"{args.earlier:,}: ratio {own_long / own_short:.3f}"
    )


if __name__ == "__main__":
    main()
