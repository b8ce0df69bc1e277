"""A typed `%%ask --schema Fighter -o x` against the raw openai SDK's `responses.parse` making
the same call, and against its streaming twin, `responses.stream(text_format=...)`.

All ask one question on an existing Conversation of the package's scripted server (in a process
of its own, as a real server is), which answers the same valid JSON every time, so every answer
validates first time; interleaved in rounds (each on a fresh conversation) so machine noise hits
all alike. `%%ask` runs through a real IPython shell with the text view (its output captured),
the local SQLite store and the real dialect. The server counts the model requests it was sent:
a typed ask that validates first time must cost no extra request.
Goal: ≤ 1.10x `responses.parse`, and one request per ask.

    .venv/bin/python benchmarks/typed_answer.py [--asks 300]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Literal

from IPython.core.interactiveshell import InteractiveShell
from pydantic import BaseModel
from turn import KEY, MODEL, timed

QUESTION = "Who is Goku? Estimate his power level."
GOKU = {"name": "Goku", "power": 9001, "race": "saiyan"}
FIGHTER = """
from typing import Literal
from pydantic import BaseModel

class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]
"""


class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]


SERVER = """
import sys
from assistant_magic.testing import ScriptedServer, Text
answer = sys.argv[1]
with ScriptedServer(api_key=sys.argv[2], default_reply=lambda context: Text(answer)) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
    print(len(server.requests_to("POST", "/v1/responses")), flush=True)
"""


class Server:
    """The scripted server in a process of its own; says at the end how many responses it made."""

    def __init__(self) -> None:
        self.base_url = ""
        self.responses = 0

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        command = [sys.executable, "-c", SERVER, json.dumps(GOKU), KEY]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as process:
            assert process.stdout is not None and process.stdin is not None
            self.base_url = process.stdout.readline().strip()
            try:
                yield self
            finally:
                process.stdin.close()
                self.responses = int(process.stdout.readline() or 0)
                process.wait(10)


def raw_asks(
    base_url: str,
) -> tuple[Callable[[], Fighter], Callable[[], Fighter], Callable[[], None]]:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    conversation = ""
    ask = {
        "model": MODEL,
        "input": [{"type": "message", "role": "user", "content": QUESTION}],
        "instructions": "You act as Frieza.",
    }

    def parse() -> Fighter:
        response = client.responses.parse(**ask, conversation=conversation, text_format=Fighter)  # type: ignore[call-overload]
        assert response.output_parsed is not None
        return response.output_parsed

    def stream() -> Fighter:
        with client.responses.stream(
            **ask, conversation=conversation, text_format=Fighter
        ) as events:  # type: ignore[call-overload]
            for _ in events:
                pass
            parsed = events.get_final_response().output_parsed
        assert parsed is not None
        return parsed

    def new_thread() -> None:
        nonlocal conversation
        conversation = client.conversations.create().id

    return parse, stream, new_thread


def magic_asks(shell: InteractiveShell) -> tuple[Callable[[], object], Callable[[], None]]:
    shell.run_line_magic("load_ext", "assistant_magic")
    shell.run_line_magic("config", "AssistantMagics.view = 'text'")
    shell.run_cell(FIGHTER)
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("assistant", '--instructions "You act as Frieza."')

    def ask() -> object:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_cell_magic("ask", "--schema Fighter -o goku", QUESTION)
        return shell.user_ns["goku"]

    def new_thread() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("assistant", "thread new")

    return ask, new_thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--asks", type=int, default=300, help="timed asks of each kind")
    args = parser.parse_args()
    rounds = 20
    times: dict[str, list[float]] = {"parse": [], "stream": [], "ask": []}
    with tempfile.TemporaryDirectory() as tmp, Server().running() as server:
        os.environ.update(
            OPENAI_BASE_URL=server.base_url,
            OPENAI_API_KEY=KEY,
            ASSISTANT_MAGIC_DIALECT="responses",
            ASSISTANT_MAGIC_STORE=os.path.join(tmp, "threads.sqlite3"),
        )
        parse, stream, raw_new_thread = raw_asks(server.base_url)
        ask, our_new_thread = magic_asks(InteractiveShell.instance())
        for _ in range(rounds):
            raw_new_thread()
            our_new_thread()
            goku = ask()  # the first ask of a thread also creates its conversation: untimed
            assert parse() == stream() == Fighter(**GOKU)
            assert type(goku).__name__ == "Fighter" and goku.power == 9001  # type: ignore[attr-defined]
            for _ in range(args.asks // rounds):  # alternate, so drifts in load hit all alike
                times["parse"].append(timed(parse))
                times["stream"].append(timed(stream))
                times["ask"].append(timed(ask))  # type: ignore[arg-type]
    asks_made = rounds * (1 + args.asks // rounds)
    raw_made = rounds * (2 + 2 * (args.asks // rounds))
    medians = {kind: statistics.median(values) * 1000 for kind, values in times.items()}
    count = len(times["parse"])
    print(f"raw responses.parse             {medians['parse']:7.2f} ms (median of {count})")
    print(f"raw responses.stream(text_format) {medians['stream']:5.2f} ms")
    print(f"%%ask --schema Fighter          {medians['ask']:7.2f} ms")
    print(
        f"ratio %%ask / parse             {medians['ask'] / medians['parse']:7.3f}   (goal <= 1.10)"
    )
    print(f"ratio %%ask / stream            {medians['ask'] / medians['stream']:7.3f}")
    ours = server.responses - raw_made
    print(f"model requests per typed ask    {ours / asks_made:7.3f}   (goal 1: no extra request)")


if __name__ == "__main__":
    main()
