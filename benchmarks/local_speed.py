"""The local default model through `%%ask` against the same engine driven directly.

Starts llama.cpp's server on the default GGUF (`%assistant --local`), then alternates: the raw
openai SDK streaming a chat completion from it, and `%%ask` (text view, output captured) with
the same question, both at temperature 0 with the same answer cap. For each: the time to the
first streamed chunk, and chunks per second after it (llama.cpp streams about a token a chunk).
Goal: `%%ask`'s chunks per second >= 0.95x the engine's own.

    .venv/bin/python benchmarks/local_speed.py [--asks 3] [--tokens 128]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from typing import Any

from IPython.core.interactiveshell import InteractiveShell

QUESTION = "Write a paragraph about the ocean, then one about mountains."


class Clock:
    """First and last chunk times of one streamed answer."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last = self.start
        self.chunks = 0

    def tick(self) -> None:
        now = time.perf_counter()
        self.first = self.first or now
        self.last = now
        self.chunks += 1

    def results(self) -> tuple[float, float]:
        """Seconds to the first chunk, chunks per second after it."""
        first = self.first or self.last
        return first - self.start, (self.chunks - 1) / max(self.last - first, 1e-9)


def direct(base_url: str, model: str, tokens: int) -> tuple[float, float]:
    import openai

    clock = Clock()
    stream = openai.OpenAI(base_url=base_url, api_key="local").chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_tokens=tokens,
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            clock.tick()
    return clock.results()


class TickingOut(io.StringIO):
    """The text view's output: each write of answer text is one streamed chunk."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock

    def write(self, text: str) -> int:
        if text.strip() and not text.startswith(("[assistant]", "No $")):
            self.clock.tick()
        return super().write(text)


def through_ask(shell: InteractiveShell) -> tuple[float, float]:
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("assistant", "thread new")
    clock = Clock()
    with contextlib.redirect_stdout(TickingOut(clock)):
        shell.run_cell_magic("ask", "", QUESTION)
    return clock.results()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            os.environ.pop(name, None)
        os.environ["ASSISTANT_MAGIC_STORE"] = os.path.join(tmp, "threads.sqlite3")
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "assistant_magic")
        shell.run_line_magic("config", "AssistantMagics.view = 'text'")
        shell.run_line_magic("config", f"AssistantMagics.max_output_tokens = {args.tokens}")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("assistant", "--local")
        print(f"local model started in {time.perf_counter() - started:.1f} s")
        magics: Any = shell.magics_manager.registry["AssistantMagics"]
        server = magics.local_models.server
        raw: list[tuple[float, float]] = []
        ours: list[tuple[float, float]] = []
        for _ in range(args.asks):  # alternate, so drifts in load hit both
            raw.append(direct(server.base_url, server.model.stem, args.tokens))
            ours.append(through_ask(shell))
        magics.close()
    for label, runs in (("engine directly", raw), ("%%ask", ours)):
        first = statistics.median(r[0] for r in runs)
        rate = statistics.median(r[1] for r in runs)
        print(
            f"{label:16} first chunk {first:5.2f} s, {rate:5.1f} chunks/s (median of {len(runs)})"
        )
    ratio = statistics.median(r[1] for r in ours) / statistics.median(r[1] for r in raw)
    print(f"ratio %%ask / engine     {ratio:.3f}   (goal >= 0.95)")


if __name__ == "__main__":
    main()
