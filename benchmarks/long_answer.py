"""A long answer streamed into a real kernel: the `%%ask` cell against the raw openai SDK reading
the same stream in the same kernel.

The package's scripted server streams a Markdown answer of --words words (paragraphs, a list, a
code block, a table) word by word, with --gap seconds between chunks. A real IPython kernel
(jupyter_client) runs alternating cells: one reads the stream with the raw SDK and joins the
text, the next runs `%%ask` with the widget view, as in Jupyter (or, with --view text, the text
view, as where widgets are missing). Each cell is timed inside the
kernel (pre/post-run hooks), so both pay the same per-cell costs. What the kernel sends to the
frontend during the ask is counted too: a display that re-sends the whole answer at each update
costs O(n²) bytes; a display that sends only what grew costs O(n).
Goal: %%ask ≤ 1.10x the raw SDK (and, with a gap, ≤ 1.10x the stream's own time).

    .venv/bin/python benchmarks/long_answer.py [--words 4000] [--gap 0] [--rounds 5]
        [--view widget|text]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from typing import Any

from jupyter_client.manager import KernelManager

from assistant_magic.testing import ScriptedServer, Text

KEY = "sk-bench-0123456789"
MODEL = "gpt-5.4-mini"

SETUP = """
import time, openai
_timings = []
def _pre(info): _timings.append([time.perf_counter()])
def _post(result):
    if _timings: _timings[-1].append(time.perf_counter())
get_ipython().events.register("pre_run_cell", _pre)
get_ipython().events.register("post_run_cell", _post)
client = openai.OpenAI()
%load_ext assistant_magic
%config AssistantMagics.view = "{view}"
"""
RAW_CELL = f"""
stream = client.responses.create(model="{MODEL}", input="Write at length.", stream=True)
raw_text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
"""
ASK_CELL = "%%ask -o answer\nWrite at length."


def long_answer(words: int) -> str:
    """Markdown of about `words` words: paragraphs with, every so often, a list, code, a table."""
    parts: list[str] = []
    count = 0
    while count < words:
        n = len(parts)
        if n % 7 == 3:
            parts.append("\n".join(f"- item {n}.{i} of the list" for i in range(5)))
            count += 25
        elif n % 7 == 5:
            body = "\n".join(f"    total_{i} = sum(range({i}))" for i in range(8))
            parts.append(f"```python\ndef block_{n}():\n{body}\n    return 0\n```")
            count += 40
        elif n % 11 == 9:
            rows = "\n".join(f"| {i} | {i * i} | value {i} |" for i in range(6))
            parts.append(f"| n | square | note |\n|---|---|---|\n{rows}")
            count += 30
        else:
            parts.append(" ".join(f"word{count + i}" for i in range(60)) + ".")
            count += 60
    return "\n\n".join(parts)


class Kernel:
    def __init__(self, env: dict[str, str]) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env={**os.environ, **env})
        self.client: Any = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> list[dict[str, Any]]:
        """Run a cell; return the IOPub messages it caused (besides status and input)."""
        seen: list[dict[str, Any]] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] not in ("status", "execute_input"):
                seen.append(msg)

        reply = self.client.execute_interactive(code, timeout=300, output_hook=keep)
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r} failed: {reply['content']}")
        return seen

    def value(self, expression: str) -> Any:
        printed = [
            m["content"]["text"]
            for m in self.run(f"import json as _j; print(_j.dumps({expression}))")
            if m["msg_type"] == "stream"
        ]
        return json.loads("".join(printed))

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def frontend_bytes(messages: list[dict[str, Any]]) -> tuple[int, int, int]:
    """Messages carrying displays or widget state, their total and largest size in bytes."""
    kinds = ("display_data", "update_display_data", "comm_msg", "stream")
    sizes = [len(json.dumps(m["content"])) for m in messages if m["msg_type"] in kinds]
    return len(sizes), sum(sizes), max(sizes, default=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=4000)
    parser.add_argument("--gap", type=float, default=0.0, help="seconds between chunks")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--view", choices=("widget", "text"), default="widget", help="the view %%ask uses"
    )
    args = parser.parse_args()
    answer = long_answer(args.words)
    reply = lambda context: Text(answer, chunk_delay=args.gap)  # noqa: E731
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedServer(api_key=KEY, default_reply=reply) as server,
    ):
        kernel = Kernel(
            {
                "OPENAI_BASE_URL": server.base_url,
                "OPENAI_API_KEY": KEY,
                "ASSISTANT_MAGIC_STORE": os.path.join(tmp, "threads.sqlite3"),
                # The raw cell reads a Responses stream: so does the ask (a loopback URL would
                # pick Chat Completions).
                "ASSISTANT_MAGIC_DIALECT": "responses",
            }
        )
        try:
            kernel.run(SETUP.format(view=args.view))
            ask_messages: list[list[dict[str, Any]]] = []
            for _ in range(args.rounds):  # alternate, so drifts in load hit both
                kernel.run(RAW_CELL)
                ask_messages.append(kernel.run(ASK_CELL))
            assert kernel.value("raw_text") == answer, "the raw SDK read the whole answer"
            assert kernel.value("str(answer)") == answer, "%%ask read the whole answer"
            timings = kernel.value("[t[1] - t[0] for t in _timings if len(t) == 2]")
        finally:
            kernel.stop()
    cells = timings[: 2 * args.rounds]  # the rounds' cells, not the checks
    raw, ours = statistics.median(cells[0::2]), statistics.median(cells[1::2])
    count, total, largest = frontend_bytes(ask_messages[-1])
    print(f"answer: {len(answer.split()):,} words, {len(answer):,} characters, gap {args.gap} s")
    print(f"raw openai SDK cell   {raw * 1000:8.1f} ms (median of {args.rounds})")
    print(f"%%ask cell            {ours * 1000:8.1f} ms (median of {args.rounds})")
    print(f"ratio %%ask / raw     {ours / raw:8.3f}   (goal <= 1.10)")
    print(
        f"frontend messages     {count} per ask, {total / 1024:,.0f} KiB in all, largest "
        f"{largest / 1024:,.1f} KiB (the answer is {len(answer) / 1024:,.0f} KiB)"
    )


if __name__ == "__main__":
    main()
