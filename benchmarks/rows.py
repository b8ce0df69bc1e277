"""Asking over rows against a hand-written asyncio loop, on a server with 200 ms per request.

The package's scripted server runs in a process of its own and answers every request after
--latency seconds, each row by its own text (a group's rows each by theirs). Measured in one run:

  (a) `Assistant.ask_each`, one row per request, --concurrency C, against a hand-written loop
      on the raw async SDK (`asyncio` + a semaphore of C) asking the same rows: rows/s.
      Goal: >= 0.95x the loop.
  (b) the same with --rows-per-request N: requests made and rows/s against (a).
      Goal: >= 5x fewer requests and >= 3x the rows/s of (a).
  (c) the job run again, every answer in the store, for --cached rows. Goal: <= 2 s.
  (d) a job of --big rows (50 per request, no latency): the memory it leaves allocated (traced
      by tracemalloc) against the size of the answers themselves, and at its peak.
      Goal: no more than they need (<= 2x).

    .venv/bin/python benchmarks/rows.py [--rows 400] [--concurrency 16] [--per-request 20]
        [--latency 0.2] [--cached 10000] [--big 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator

import pandas as pd

KEY = "sk-bench-0123456789"
MODEL = "gpt-5.4-mini"
QUESTION = "Classify this support ticket: bug, billing, feature request or other."

SERVER = r"""
import json, re, sys
from assistant_magic.testing import ScriptedServer, Text

latency = float(sys.argv[2])
ROW = re.compile(r"^### row(?: (\d+))?\n`{3,}text\n(.*?)\n`{3,}", re.DOTALL | re.MULTILINE)

def kind(text):
    return "bug" if "crash" in text else "billing" if "charge" in text else "other"

def answer(context):
    rows = ROW.findall(context.last_user_text or "")
    if len(rows) == 1 and not rows[0][0]:
        return Text(kind(rows[0][1]))
    return Text(json.dumps({"rows": [{"row": int(n), "answer": kind(body)} for n, body in rows]}))

with ScriptedServer(api_key=sys.argv[1], default_reply=answer, latency=latency) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()
    print(len(server.requests_to("POST", "/v1/responses")), flush=True)
"""


@contextlib.contextmanager
def scripted_server(latency: float) -> Iterator[tuple[str, list[int]]]:
    """The server in a process of its own; yields its URL and, once closed, its request count."""
    counted: list[int] = []
    command = [sys.executable, "-c", SERVER, KEY, str(latency)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as p:
        assert p.stdout is not None and p.stdin is not None
        try:
            yield p.stdout.readline().strip(), counted
        finally:
            p.stdin.close()
            counted.append(int(p.stdout.readline() or 0))
            p.wait(10)


def tickets(count: int, tag: str) -> pd.DataFrame:
    kinds = ["App crash on start", "Double charge", "Hello"]
    return pd.DataFrame({"subject": [f"{kinds[i % 3]} #{tag}{i}" for i in range(count)]})


async def hand_written(base_url: str, rows: pd.DataFrame, concurrency: int) -> list[str]:
    """What a user writes today: the async SDK, a semaphore, one request per row."""
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY, max_retries=2)
    gate = asyncio.Semaphore(concurrency)

    async def one(subject: str) -> str:
        async with gate:
            message = (
                f"{QUESTION}\n\nThe row to answer for:\n\n### row\n```text\nsubject: {subject}\n```"
            )
            response = await client.responses.create(model=MODEL, input=message, store=False)
            return response.output_text

    try:
        return list(await asyncio.gather(*(one(s) for s in rows["subject"])))
    finally:
        await client.close()


def assistant(base_url: str, store: str) -> object:
    from assistant_magic import Assistant

    return Assistant(
        store=store,
        base_url=base_url,
        dialect="responses",
        model=MODEL,
        environ={"OPENAI_API_KEY": KEY},
    )


def timed(run: object) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()  # type: ignore[operator]
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-request", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--cached", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=100_000)
    args = parser.parse_args()
    c, n = args.concurrency, args.per_request
    with tempfile.TemporaryDirectory() as tmp:
        with scripted_server(args.latency) as (url, counted):
            ours = assistant(url, os.path.join(tmp, "a.sqlite3"))
            raw_s, raw = timed(lambda: asyncio.run(hand_written(url, tickets(args.rows, "r"), c)))
            one_s, one = timed(
                lambda: ours.ask_each(QUESTION, tickets(args.rows, "a"), concurrency=c)
            )
            grouped_rows = tickets(args.rows, "g")
            group_s, grouped = timed(
                lambda: ours.ask_each(QUESTION, grouped_rows, concurrency=c, rows_per_request=n)
            )
            assert list(one) == list(raw) == list(grouped), "all three give the same answers"
        requests = counted[0] - 2 * args.rows  # the server counted all three runs
        with scripted_server(0.0) as (url, _):
            cached = assistant(url, os.path.join(tmp, "c.sqlite3"))
            many = tickets(args.cached, "c")
            cached.ask_each(QUESTION, many, concurrency=c, rows_per_request=n)
            again_s, _ = timed(lambda: cached.ask_each(QUESTION, many, concurrency=c))
            big = tickets(args.big, "b")
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            big_s, answers = timed(
                lambda: cached.ask_each(QUESTION, big, concurrency=c, rows_per_request=50)
            )
            gc.collect()
            now, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            grown, peak = (now - before) / 1e6, (peak - before) / 1e6
            needed = answers.memory_usage(deep=True) / 1e6  # type: ignore[attr-defined]
    rate = {"loop": args.rows / raw_s, "one": args.rows / one_s, "group": args.rows / group_s}
    print(f"rows {args.rows}, concurrency {c}, {args.latency * 1000:.0f} ms per request")
    print(f"(a) hand-written asyncio loop   {rate['loop']:8.1f} rows/s")
    one, group = rate["one"] / rate["loop"], rate["group"] / rate["one"]
    print(
        f"    ask_each, 1 row/request     {rate['one']:8.1f} rows/s  ratio {one:.3f} (goal >= 0.95)"
    )
    print(
        f"(b) ask_each, {n} rows/request  {rate['group']:8.1f} rows/s  {group:.2f}x (a) (goal >= 3)"
    )
    fewer = args.rows / max(requests, 1)
    print(f"    requests: {args.rows} -> {requests}  ({fewer:.1f}x fewer, goal >= 5)")
    print(f"(c) a cached re-run of {args.cached:,} rows: {again_s:.2f} s  (goal <= 2 s)")
    print(
        f"(d) {args.big:,} rows in {big_s:.1f} s: memory kept {grown:.1f} MB; the answers take "
        f"{needed:.1f} MB  ratio {grown / needed:.2f}  (goal <= 2); at the peak {peak:.1f} MB"
    )


if __name__ == "__main__":
    main()
