"""What replay adds to an ask: a 20-ask notebook replayed in a real kernel, against the same cells
in a bare kernel (no extension: each cell only prints its recorded answer).

A real IPython kernel (jupyter_client) runs a notebook of --asks `%%ask` cells (each on the
thread of the one before, one calling a tool) with replay only from a recordings file made in
the same run, and, interleaved, a bare kernel runs the same number of cells that each print a
string of the same length. Cells are timed inside each kernel (pre/post-run hooks), so both pay
the same per-cell costs. Goal: replay adds <= 5 ms per ask.

    .venv/bin/python benchmarks/replay.py [--asks 20] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from typing import Any

from jupyter_client.manager import KernelManager

from assistant_magic import Assistant
from assistant_magic.replay.recordings import Recordings, export
from assistant_magic.testing import FunctionCall, ScriptedServer, Text

KEY = "sk-bench-0123456789"
ANSWER = " ".join(f"word{i}" for i in range(60))
TIMING = """
import time
_timings = []
def _pre(info): _timings.append([time.perf_counter()])
def _post(result):
    if _timings: _timings[-1].append(time.perf_counter())
get_ipython().events.register("pre_run_cell", _pre)
get_ipython().events.register("post_run_cell", _post)
"""
TOOL = '''
def calc_strength(name: str) -> int:
    """Battle strength."""
    return 530_000
'''


def record(asks: int, store: str, path: str) -> None:
    """Make the recordings: the notebook's asks against the scripted server, replay on."""
    with ScriptedServer(api_key=KEY) as server:
        server.script(FunctionCall("calc_strength", {"name": "Mamezou"}), *[Text(ANSWER)] * asks)
        assistant = Assistant(
            store=store,
            base_url=server.base_url,
            dialect="responses",
            environ={"OPENAI_API_KEY": KEY},
            replay="on",
        )
        namespace: dict[str, Any] = {}
        exec(TOOL, namespace)
        for n in range(asks):
            tools = [namespace["calc_strength"]] if n == 0 else None
            assistant.ask(f"Question {n}?", tools=tools)
        assistant.close()
    with Recordings(store) as recordings:
        export(recordings.all(), path)


class Kernel:
    def __init__(self, env: dict[str, str]) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)
        self.run(TIMING)

    def run(self, code: str) -> None:
        reply = self.client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    def timings(self) -> list[float]:
        out: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        code = "import json; print(json.dumps([t[1] - t[0] for t in _timings if len(t) == 2]))"
        self.client.execute_interactive(code, timeout=60, output_hook=keep)
        return json.loads("".join(out))

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recordings = os.path.join(tmp, "notebook.replay.jsonl")
        record(args.asks, os.path.join(tmp, "recorded.sqlite3"), recordings)
        replay_times: list[float] = []
        bare_times: list[float] = []
        for round_ in range(args.rounds):
            env = {
                **{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"},
                "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                "ASSISTANT_MAGIC_REPLAY": "only",
                "ASSISTANT_MAGIC_REPLAY_FILE": recordings,
                "ASSISTANT_MAGIC_STORE": os.path.join(tmp, f"replay{round_}.sqlite3"),
                "ASSISTANT_MAGIC_DIALECT": "responses",
            }
            replaying, bare = Kernel(env), Kernel(env)
            try:
                replaying.run("%load_ext assistant_magic\n%config AssistantMagics.view = 'text'")
                replaying.run(TOOL)
                for n in range(args.asks):
                    tools = "--tools calc_strength " if n == 0 else ""
                    replaying.run(f"%%ask {tools}\nQuestion {n}?")
                    bare.run(f"print({ANSWER!r})")
                replay_times += replaying.timings()[-args.asks :]
                bare_times += bare.timings()[-args.asks :]
            finally:
                replaying.stop()
                bare.stop()
    replayed, printed = statistics.median(replay_times), statistics.median(bare_times)
    added = (replayed - printed) * 1000
    print(f"a replayed %%ask cell   {replayed * 1000:7.2f} ms (median of {len(replay_times)})")
    print(f"a bare print cell       {printed * 1000:7.2f} ms")
    print(f"replay adds             {added:7.2f} ms per ask   (goal <= 5)")


if __name__ == "__main__":
    main()
