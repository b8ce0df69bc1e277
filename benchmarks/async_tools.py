"""Async tools called in one step run together: what 8 calls of a 0.5 s async tool add to an ask.

The package's scripted server asks for --calls parallel calls of an async notebook function
that sleeps --seconds, then answers. `%%ask` runs through a real IPython shell (text view,
output captured). The same ask with no tool call is the baseline, measured in the same run:
what the calls add to it is their cost (run one after the other, 8 x 0.5 s = 4 s).
Goal: 8 calls of a 0.5 s tool add at most 0.8 s to an ask (the time of one call is 0.5 s).

    .venv/bin/python benchmarks/async_tools.py [--calls 8] [--seconds 0.5] [--asks 5]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time

from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

KEY = "sk-bench-0123456789"
TOOL = '''
import asyncio

async def slow_lookup(key: str) -> str:
    """Look something up slowly.

    Args:
        key: what to look up
    """
    await asyncio.sleep({seconds})
    return key.upper()
'''


def ask_with_calls(shell: InteractiveShell, server: ScriptedServer, calls: int) -> float:
    keys = [f"k{i}" for i in range(calls)]
    steps = [FunctionCall("slow_lookup", {"key": k}) for k in keys]
    server.script(*([ToolCalls(steps)] if steps else []), Text("Done."))
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = shell.run_cell(f"%%ask\nLook up {', '.join(keys)}")
    took = time.perf_counter() - started
    if result.error_in_exec is not None:
        raise result.error_in_exec
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--asks", type=int, default=5, help="timed asks of each kind")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedServer(api_key=KEY) as server,
    ):
        os.environ.update(
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY=KEY,
            ASSISTANT_MAGIC_DIALECT="responses",
            ASSISTANT_MAGIC_STORE=os.path.join(tmp, "threads.sqlite3"),
        )
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "assistant_magic")
        shell.run_line_magic("config", "AssistantMagics.view = 'text'")
        shell.run_cell(TOOL.format(seconds=args.seconds))
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("assistant", "tools add slow_lookup")
        none, many = [], []
        for _ in range(args.asks):  # alternate, so drifts in load hit both
            none.append(ask_with_calls(shell, server, 0))
            many.append(ask_with_calls(shell, server, args.calls))
    base, parallel = statistics.median(none), statistics.median(many)
    serial = args.calls * args.seconds
    print(f"ask without tools                {base:6.3f} s (median of {args.asks})")
    print(f"ask with {args.calls} calls of a {args.seconds} s tool  {parallel:6.3f} s")
    print(
        f"added by the calls               {parallel - base:6.3f} s   (goal <= 0.8 s; one "
        f"after the other: {serial:.1f} s)"
    )


if __name__ == "__main__":
    main()
