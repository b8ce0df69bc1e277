"""A full `%%ask` turn against the raw openai SDK making the same requests.

Both stream one answer on an existing Conversation from the package's scripted server (no
delay, no validation), run in a process of its own as a real server is (in this process it would
take the GIL from whichever client is being timed), interleaved in rounds (each on a fresh
thread) so machine noise and history growth hit both alike. `%%ask` runs through a real IPython
shell with the text view (its output captured), the local SQLite store and the real backend.
Goal: a turn costs at most 1.10x the raw SDK.

    .venv/bin/python benchmarks/turn.py [--turns 400] [--words 60]
        [--dialect responses|chat|assistants]

With --dialect chat both sides resend the whole history each ask (the raw loop keeps it in a
list, `%%ask` rebuilds it from its SQLite store). With --dialect assistants both add a message and
stream a run with one assistant (the seed article's loop).
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
from collections.abc import Callable, Iterator

from IPython.core.interactiveshell import InteractiveShell

KEY = "sk-bench-0123456789"
MODEL = "gpt-5.4-mini"
QUESTION = "Please tell me the battle strength of Mamezou"


def raw_sdk_turn(base_url: str) -> tuple[Callable[[], str], Callable[[], None]]:
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    conversation = ""

    def new_thread() -> None:
        nonlocal conversation
        conversation = client.conversations.create().id
        turn()

    def turn() -> str:
        stream = client.responses.create(
            model=MODEL,
            input=[{"type": "message", "role": "user", "content": QUESTION}],
            conversation=conversation,
            instructions="You act as Frieza.",
            stream=True,
        )
        return "".join(e.delta for e in stream if e.type == "response.output_text.delta")

    return turn, new_thread


def raw_chat_turn(base_url: str) -> tuple[Callable[[], str], Callable[[], None]]:
    """The raw SDK keeping a chat history itself, as a hand-written loop would."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    messages: list[dict[str, str]] = []

    def new_thread() -> None:
        messages.clear()
        messages.append({"role": "system", "content": "You act as Frieza."})
        turn()

    def turn() -> str:
        messages.append({"role": "user", "content": QUESTION})
        stream = client.chat.completions.create(
            model=MODEL,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        answer = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        messages.append({"role": "assistant", "content": answer})
        return answer

    return turn, new_thread


def raw_assistants_turn(base_url: str) -> tuple[Callable[[], str], Callable[[], None]]:
    """The seed article's loop, streamed: add a message, create a run, read its deltas."""
    import warnings

    import openai

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    client = openai.OpenAI(base_url=base_url, api_key=KEY)
    assistant = client.beta.assistants.create(model=MODEL, instructions="You act as Frieza.")
    thread_id = ""

    def new_thread() -> None:
        nonlocal thread_id
        thread_id = client.beta.threads.create().id
        turn()

    def turn() -> str:
        client.beta.threads.messages.create(thread_id, role="user", content=QUESTION)
        stream = client.beta.threads.runs.create(thread_id, assistant_id=assistant.id, stream=True)
        return "".join(
            block.text.value
            for event in stream
            if event.event == "thread.message.delta"
            for block in event.data.delta.content or ()
            if block.type == "text" and block.text and block.text.value
        )

    return turn, new_thread


RAW_TURNS = {
    "responses": raw_sdk_turn,
    "chat": raw_chat_turn,
    "assistants": raw_assistants_turn,
}


def magic_turn(shell: InteractiveShell) -> tuple[Callable[[], str], Callable[[], None]]:
    shell.run_line_magic("load_ext", "assistant_magic")
    shell.run_line_magic("config", "AssistantMagics.view = 'text'")
    with contextlib.redirect_stdout(io.StringIO()):
        shell.run_line_magic("assistant", '--instructions "You act as Frieza."')

    def turn() -> str:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_cell_magic("ask", "-o answer", QUESTION)
        return str(shell.user_ns["answer"])

    def new_thread() -> None:
        with contextlib.redirect_stdout(io.StringIO()):
            shell.run_line_magic("assistant", "thread new")
        turn()  # creates the conversation on the server

    return turn, new_thread


SERVER = """
import sys
from assistant_magic.testing import ScriptedServer, Text
answer = sys.argv[1]
with ScriptedServer(api_key=sys.argv[2], default_reply=lambda context: Text(answer)) as server:
    print(server.base_url, flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin
"""


@contextlib.contextmanager
def scripted_server(answer: str) -> Iterator[str]:
    """The scripted server in a process of its own, answering `answer`; yields its base URL."""
    command = [sys.executable, "-c", SERVER, answer, KEY]
    with subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None and server.stdin is not None
        try:
            yield server.stdout.readline().strip()
        finally:
            server.stdin.close()
            server.wait(10)


def timed(turn: Callable[[], str]) -> float:
    start = time.perf_counter()
    turn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--words", type=int, default=60, help="words in each answer")
    parser.add_argument("--dialect", choices=tuple(RAW_TURNS), default="responses")
    args = parser.parse_args()
    answer = " ".join(f"word{i}" for i in range(args.words))
    with tempfile.TemporaryDirectory() as tmp, scripted_server(answer) as base_url:
        os.environ.update(
            OPENAI_BASE_URL=base_url,
            OPENAI_API_KEY=KEY,
            ASSISTANT_MAGIC_DIALECT=args.dialect,
            ASSISTANT_MAGIC_STORE=os.path.join(tmp, "threads.sqlite3"),
        )
        raw, raw_new_thread = RAW_TURNS[args.dialect](base_url)
        ours, our_new_thread = magic_turn(InteractiveShell.instance())
        raw_times: list[float] = []
        our_times: list[float] = []
        ratios: list[float] = []
        rounds = 20
        for _ in range(rounds):
            # A fresh thread each round for both: the server's work grows with the history.
            raw_new_thread()
            our_new_thread()
            assert raw() == ours() == answer, "both must receive the same answer"
            raw_round: list[float] = []
            our_round: list[float] = []
            for _ in range(args.turns // rounds):  # alternate, so drifts in load hit both
                raw_round.append(timed(raw))
                our_round.append(timed(ours))
            ratios.append(statistics.median(our_round) / statistics.median(raw_round))
            raw_times += raw_round
            our_times += our_round
    r, o = statistics.median(raw_times) * 1000, statistics.median(our_times) * 1000
    print(f"raw openai SDK turn   {r:7.2f} ms (median of {len(raw_times)})")
    print(f"%%ask turn            {o:7.2f} ms (median of {len(our_times)})")
    print(f"ratio %%ask / raw     {o / r:7.3f}   (goal <= 1.10)")
    print(f"median of {len(ratios)} per-round ratios {statistics.median(ratios):.3f}")
    sys.exit(0)


if __name__ == "__main__":
    main()
