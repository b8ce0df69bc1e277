"""Notebooks executed in real IPython kernels against the scripted server."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import nbformat
import pytest
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from assistant_magic.testing import ScriptedServer, Text

from conftest import API_KEY

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

pytestmark = pytest.mark.kernel


def execute(path: Path) -> Any:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    ).execute()
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)  # what was saved, as a reader would open it


def outputs_of(nb: Any, source: str) -> list[Any]:
    """The outputs of the one code cell whose source is `source` (or, ending in "…", starts so)."""

    def matches(text: str) -> bool:
        return text.startswith(source[:-1]) if source.endswith("…") else text == source

    (cell,) = [c for c in nb.cells if c.cell_type == "code" and matches(c.source)]
    return list(cell.outputs)


def test_quickstart_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    frieza = "Ho ho ho. Mamezou's battle strength is **530,000**.\n\n- scouter: *broken*"
    goku = "Goku? A mere Saiyan with a battle strength of 9001."
    server.script(Text(frieza), Text(goku))
    notebook = tmp_path / "quickstart.ipynb"
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", notebook)

    nb = execute(notebook)

    for question, answer in (("%%ask\nPlease…", frieza), ("%%ask -o answer…", goku)):
        status, markdown = outputs_of(nb, question)
        assert WIDGET_VIEW in status.data, "the live status widget"
        assert status.data["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
        assert "tokens" in status.data["text/plain"]
        assert markdown.data["text/markdown"] == answer, "the answer stays as plain Markdown"
        assert markdown.data["text/plain"] == answer
    (words,) = outputs_of(nb, "print(…")
    assert words.text == f"The answer has {len(goku.split())} words.\n"

    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert [b["instructions"] for b in bodies] == ["You act as Frieza from Dragon Ball."] * 2
    assert bodies[0]["conversation"] == bodies[1]["conversation"]

    (thread,) = outputs_of(nb, "%assistant thread")
    assert "4 messages" in thread.text
    transcript = (tmp_path / "quickstart-transcript.md").read_text()
    assert "## Assistant\n\n" + frieza in transcript

    (config,) = outputs_of(nb, "%assistant")
    assert "sk-…cdef" in config.text

    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    shown = [
        o.data[WIDGET_VIEW]["model_id"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]
    assert len(shown) == 2
    for model_id in shown:
        assert 'data-status="completed"' in state[model_id]["state"]["value"]
    assert API_KEY not in notebook.read_text(), "the key never reaches the saved notebook"


class Kernel:
    """A real IPython kernel started with the test's environment (so the scripted server's)."""

    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel()
        self.client: Any = None
        self.connect()

    def connect(self) -> None:
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def restart(self) -> None:
        self.client.stop_channels()
        self.manager.restart_kernel(now=True)
        self.connect()

    def run(self, code: str, timeout: float = 60) -> list[str]:
        """Execute `code`; fail unless it succeeded; return what it printed."""
        printed: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        assert reply["content"]["status"] == "ok", (code, reply["content"])
        return printed

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(env: Path) -> Iterator[Kernel]:
    started = Kernel()
    yield started
    started.shutdown()


def test_interrupting_the_kernel_cancels_the_turn_and_keeps_the_thread(
    server: ScriptedServer, kernel: Kernel
) -> None:
    words = [f"w{i} " for i in range(200)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.05), Text("Ready again."))
    kernel.run("%load_ext assistant_magic")

    msg_id = kernel.client.execute("%%ask\nCount to two hundred, slowly.")
    _wait_for(lambda: len(server.requests_to("POST", "/v1/responses")) == 1)
    time.sleep(0.5)
    kernel.manager.interrupt_kernel()
    reply = _reply(kernel.client, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "TurnInterrupted"
    assert len(reply["content"]["traceback"]) == 1, "one line, not a traceback"
    response_id = server.wait_for_disconnect()
    assert server.response(response_id)["status"] == "cancelled"

    kernel.run("%%ask -o again\nAre you still there?")
    printed = kernel.run("import json; print(json.dumps(again))")
    assert json.loads(printed[-1]) == "Ready again."
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"], "the same thread goes on"


def test_thread_resume_after_a_kernel_restart(server: ScriptedServer, kernel: Kernel) -> None:
    server.script(Text("Noted: 42."), Text("It was 42."))
    kernel.run("%load_ext assistant_magic")
    kernel.run("%%ask\nRemember the number 42.")
    kernel.restart()
    kernel.run("%load_ext assistant_magic")
    assert kernel.run("%assistant thread resume")[0].startswith("Resumed th_")
    kernel.run("%%ask -o answer\nWhich number?")
    assert kernel.run("print(answer)") == ["It was 42.\n"]
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"]
    assert len(server.requests_to("POST", "/v1/conversations")) == 1


def _reply(kc: Any, msg_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_shell_msg(timeout=1)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg  # type: ignore[no-any-return]
    raise AssertionError("no execute_reply from the kernel")


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)
