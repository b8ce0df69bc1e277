"""Replay of whole notebooks in real kernels: a notebook run once against the scripted server with
replay on, its recordings exported, then `jupyter execute` in a fresh kernel with no key, the
network unreachable and ASSISTANT_MAGIC_REPLAY=only gives the same answers; and the example
notebooks that ship with their recordings run that way."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from assistant_magic.replay.recordings import Recordings, export, load
from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

from notebook_io import NOTEBOOKS, execute

pytestmark = pytest.mark.kernel

UNREACHABLE = "http://127.0.0.1:9/v1"  # nothing listens there: any request would fail
#: The example notebooks that ship with their recordings (`scripts/record-notebooks`).
SHIPPED = (
    "quickstart",
    "typed",
    "tools",
    "analysis",
    "rows",
    "images",
    "assistants",
    "local",
)


def answers(nb: nbformat.NotebookNode) -> list[str]:
    """The Markdown answers a notebook shows, in order."""
    return [
        output["data"]["text/markdown"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "text/markdown" in output.get("data", {})
    ]


def offline_env(recordings: Path, store: Path, dialect: str = "responses") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env.update(
        OPENAI_BASE_URL=UNREACHABLE,
        ASSISTANT_MAGIC_REPLAY="only",
        ASSISTANT_MAGIC_REPLAY_FILE=str(recordings),
        ASSISTANT_MAGIC_STORE=str(store),
        ASSISTANT_MAGIC_DIALECT=dialect,
    )
    return env


def jupyter_execute(notebook: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    """`jupyter execute` as a user runs it, in place; the notebook as it was saved."""
    command = [str(Path(sys.executable).with_name("jupyter-execute")), "--inplace", str(notebook)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return nbformat.read(notebook, as_version=4)


@pytest.mark.parametrize("dialect", ["responses", "chat", "assistants"])
def test_an_exported_recording_runs_offline_with_jupyter_execute(
    server: ScriptedServer,
    env: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dialect: str,
) -> None:
    mamezou = FunctionCall("calc_strength", {"name": "Mamezou"})
    server.script(
        ToolCalls([mamezou]),
        Text("Ho ho ho. Mamezou's battle strength is **530,000**."),
        Text("More, by far."),
    )
    monkeypatch.setenv("ASSISTANT_MAGIC_REPLAY", "on")
    monkeypatch.setenv("ASSISTANT_MAGIC_DIALECT", dialect)
    notebook = tmp_path / "quickstart.ipynb"
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", notebook)
    recorded = answers(execute(notebook))
    with Recordings(env) as store:
        kept = store.all()
    recordings = tmp_path / "quickstart.replay.jsonl"
    assert export(kept, recordings) == 3
    sent = len(server.requests)

    shutil.copy(NOTEBOOKS / "quickstart.ipynb", notebook)
    offline = offline_env(recordings, tmp_path / "fresh.sqlite3", dialect)
    replayed = jupyter_execute(notebook, offline)

    assert answers(replayed) == recorded
    assert len(server.requests) == sent
    (asked,) = [c for c in replayed.cells if c.source.startswith("%%ask\nPlease tell me")]
    assert "replayed: recorded" in asked.outputs[0]["data"]["text/plain"]


def test_a_notebook_whose_ask_changed_fails_in_one_line_offline(tmp_path: Path) -> None:
    notebook = tmp_path / "quickstart.ipynb"
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", notebook)
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[4].source = "%%ask\nPlease tell me the battle strength of Krillin"
    nbformat.write(nb, notebook)
    recordings = tmp_path / "none.jsonl"
    export([], recordings)
    command = [str(Path(sys.executable).with_name("jupyter-execute")), str(notebook)]
    env = offline_env(recordings, tmp_path / "fresh.sqlite3")
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "ReplayMissing: Not recorded, and replay is only" in done.stderr


@pytest.mark.parametrize("name", SHIPPED)
def test_the_example_notebooks_run_offline_from_their_recordings(name: str, tmp_path: Path) -> None:
    recordings = NOTEBOOKS / f"{name}.replay.jsonl"
    assert load(recordings), f"{recordings} holds the notebook's recordings"
    notebook = tmp_path / f"{name}.ipynb"
    shutil.copy(NOTEBOOKS / f"{name}.ipynb", notebook)
    replayed = jupyter_execute(notebook, offline_env(recordings, tmp_path / "fresh.sqlite3"))
    if name == "rows":  # a job's answers are a table, and its second run reads the first's
        texts = [
            str(output.get("text", "")) + str(output.get("data", {}).get("text/html", ""))
            for cell in replayed.cells
            for output in cell.get("outputs", [])
        ]
        assert any("feature request" in text and "billing" in text for text in texts)
        assert "True\n" in texts
        return
    assert answers(replayed), "the notebook's answers are there"
    if name == "images":  # the chart, the picture and the tool's figure, shown again
        pictures = [
            output
            for cell in replayed.cells
            for output in cell.get("outputs", [])
            if "image/png" in output.get("data", {})
        ]
        assert len(pictures) >= 3
