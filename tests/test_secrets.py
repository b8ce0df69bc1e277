"""The key never leaves the kernel: every boundary is tried with a long, realistic key.

A boundary is anywhere text goes out: the cell's output, the saved notebook, the store's file,
an exported transcript, `history`, and the requests to the model. A leak is the key, or any
piece of it 8 characters or longer (a cut summary shows pieces), found beyond a boundary.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text

from conftest import SPEC, FaultLog
from notebook_io import execute

_ALPHABET = string.ascii_letters + string.digits + "-_"
KEY = "sk-proj-" + "".join(random.Random(12).choices(_ALPHABET, k=154))  # 162 characters
URL_SECRET = "".join(random.Random(34).choices(_ALPHABET, k=48))
PIECE = 8


def pieces_of(secret: str, text: str) -> list[str]:
    """The pieces of `secret` (PIECE characters or more) that `text` holds."""
    return sorted({secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)} & _windows(text))


def _windows(text: str) -> set[str]:
    return {text[i : i + PIECE] for i in range(len(text) - PIECE + 1)}


class Boundaries:
    """Each boundary tried, and the leaks found there."""

    def __init__(self, faults: FaultLog) -> None:
        self.faults = faults
        self.leaks: dict[str, list[str]] = {}

    def check(self, where: str, text: str) -> None:
        found = pieces_of(KEY, text) + pieces_of(URL_SECRET, text)
        self.faults.secrets(tried=1, leaks=int(bool(found)))
        if found:
            self.leaks[where] = found

    def assert_none(self) -> None:
        assert self.leaks == {}, "\n".join(f"{k}: {v[:3]}" for k, v in self.leaks.items())


@pytest.fixture
def boundaries(faults: FaultLog) -> Iterator[Boundaries]:
    checked = Boundaries(faults)
    yield checked
    checked.assert_none()


@pytest.fixture
def keyed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedServer]:
    """The scripted server taking the long key, and the environment pointing at it."""
    with ScriptedServer(api_key=KEY, openapi=SPEC) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(tmp_path / "threads.sqlite3"))
        monkeypatch.setenv("ASSISTANT_MAGIC_DIALECT", "responses")
        monkeypatch.chdir(tmp_path)
        yield server
        assert server.validation_errors == []


@pytest.fixture
def kip(_ipython: InteractiveShell, keyed: ScriptedServer) -> Iterator[InteractiveShell]:
    shell = _ipython
    before = set(shell.user_ns)
    shell.run_line_magic("load_ext", "assistant_magic")
    yield shell
    shell.run_line_magic("unload_ext", "assistant_magic")
    shell.config.pop("AssistantMagics", None)
    for name in set(shell.user_ns) - before:
        del shell.user_ns[name]


def shown(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> str:
    """Everything the cell shows: its output and its one-line error."""
    result = ip.run_cell(cell)
    captured = capsys.readouterr()
    error = result.error_in_exec
    rendered = getattr(error, "_render_traceback_", lambda: [repr(error)])() if error else []
    return captured.out + captured.err + "\n".join(rendered)


def sent(server: ScriptedServer) -> str:
    """Every request body the server received (the Authorization header is the key's place)."""
    return "\n".join(json.dumps(r.body, default=str) for r in server.requests)


def store_bytes(tmp_path: Path) -> str:
    parts = sorted(tmp_path.glob("threads.sqlite3*"))
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in parts)


LEAKY_TOOLS = '''
import os

def read_setting(name: str) -> str:
    """Read an environment variable.

    Args:
        name: the variable
    """
    return os.environ[name]

def check_key() -> str:
    """Check the API key."""
    raise ValueError(f"key {os.environ['OPENAI_API_KEY']} is not valid here")
'''


def test_tool_results_and_errors_never_carry_the_key(  # type: ignore[no-untyped-def]
    kip, keyed, capsys, tmp_path, boundaries: Boundaries
) -> None:
    kip.run_cell(LEAKY_TOOLS)
    shown(kip, "%assistant tools add read_setting check_key", capsys)
    keyed.script(
        FunctionCall("read_setting", {"name": "OPENAI_API_KEY"}),
        FunctionCall("check_key"),
        Text("Done."),
    )
    boundaries.check("the cell", shown(kip, "%%ask\nWhat is the key?", capsys))
    boundaries.check("the requests", sent(keyed))
    boundaries.check("history", shown(kip, "%assistant history", capsys))
    shown(kip, "%assistant thread export transcript.md", capsys)
    boundaries.check("thread export", (tmp_path / "transcript.md").read_text())
    boundaries.check("the store's file", store_bytes(tmp_path))


def test_context_summaries_are_masked_however_they_are_cut(  # type: ignore[no-untyped-def]
    kip, keyed, capsys, boundaries: Boundaries
) -> None:
    pandas = pytest.importorskip("pandas")
    kip.user_ns.update(
        settings={"api_key": KEY, "model": "gpt-5.4-mini"},
        keys=["first", KEY, "last"],
        frame=pandas.DataFrame({"service": ["openai", "other"], "token": [KEY, "none"]}),
        note="Use this key: " + KEY + " and nothing else. " * 40,
    )
    dry = shown(kip, "%%ask --vars settings,keys,frame,note --dry-run\nWhich key?", capsys)
    assert "settings" in dry and "frame" in dry
    boundaries.check("--vars in a dry run", dry)
    keyed.script(Text("Seen."))
    boundaries.check(
        "--vars asked", shown(kip, "%%ask --vars settings,keys,frame,note\nKey?", capsys)
    )
    boundaries.check("--vars in the requests", sent(keyed))


def test_a_key_inside_the_base_url_is_never_shown(  # type: ignore[no-untyped-def]
    kip, keyed, capsys, monkeypatch, tmp_path, boundaries: Boundaries
) -> None:
    unreachable = f"http://127.0.0.1:9/v1?api-key={URL_SECRET}"
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://user:{URL_SECRET}@127.0.0.1:9/v1")
    boundaries.check("%assistant (from $OPENAI_BASE_URL)", shown(kip, "%assistant", capsys))
    boundaries.check("an error line", shown(kip, "%%ask\nHello?", capsys))
    boundaries.check("--base-url typed", shown(kip, f"%assistant --base-url {unreachable}", capsys))
    boundaries.check("%assistant", shown(kip, "%assistant", capsys))
    boundaries.check("--dry-run", shown(kip, "%%ask --dry-run\nHello?", capsys))
    boundaries.check("an error line", shown(kip, "%%ask\nHello?", capsys))
    # The server is there, but offers no conversations: the 404 line quotes the URL.
    with ScriptedServer(api_key=KEY, chat_only=True) as chat_only:
        keyed_url = f"{chat_only.base_url}?api-key={URL_SECRET}"
        shown(kip, f"%assistant --base-url {keyed_url} --dialect responses", capsys)
        boundaries.check("a 404 line", shown(kip, "%%ask\nHello?", capsys))
    boundaries.check("the store's file", store_bytes(tmp_path))


def test_the_saved_notebook_never_holds_the_key(  # type: ignore[no-untyped-def]
    keyed, tmp_path, boundaries: Boundaries
) -> None:
    import nbformat

    keyed.script(
        FunctionCall("read_setting", {"name": "OPENAI_API_KEY"}),
        FunctionCall("check_key"),
        Text("Done."),
    )
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("%load_ext assistant_magic"),
            nbformat.v4.new_code_cell(LEAKY_TOOLS),
            nbformat.v4.new_code_cell("%assistant tools add read_setting check_key"),
            nbformat.v4.new_code_cell("%%ask\nWhat is the key?"),
            nbformat.v4.new_code_cell("%assistant history"),
        ]
    )
    path = tmp_path / "leaky.ipynb"
    nbformat.write(notebook, path)
    execute(path)
    saved = path.read_text()
    assert "read_setting(name='OPENAI_API_KEY')" in saved, "the tool ran and is shown"
    boundaries.check("the saved notebook", saved)
    boundaries.check("the requests (kernel)", sent(keyed))


def test_redaction_masks_pieces_wherever_a_cut_falls() -> None:
    from assistant_magic.redaction import FRAGMENT_MASK, Secrets

    secrets = Secrets()
    secrets.add(KEY)
    for start, end in [(0, 76), (5, 30), (80, 162), (100, 108), (3, 11)]:
        text = f"before {KEY[start:end]} after"
        masked = secrets.redact(text)
        assert pieces_of(KEY, masked) == [], (start, end)
        assert masked == f"before {FRAGMENT_MASK} after"
    assert secrets.redact(f"a {KEY} b") == f"a sk-…{KEY[-4:]} b"
    assert secrets.redact("nothing secret here, sk-proj") == "nothing secret here, sk-proj"
