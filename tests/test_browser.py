"""What a person sees in JupyterLab: the live status widget and the streamed Markdown answer.

JupyterLab runs as a subprocess and headless Chromium (Debian's, driven by Playwright) opens a
notebook that loads the extension and asks through ``%%ask``; the scripted server answers slowly,
so the test can look at the page while the answer streams and again when the ask has ended.

JupyterLab and the browser are shared by the tests of this module; each test gets its own
notebook, browser context and kernel. The scripted server (conftest's ``server``) lives per test
while JupyterLab lives per module, so the kernel cannot simply inherit the server's address from
JupyterLab's environment: each test writes a kernelspec whose ``env`` carries what conftest's
``env`` fixture set (OPENAI_BASE_URL, OPENAI_API_KEY, ASSISTANT_MAGIC_STORE, ...), and its notebook
names that kernelspec.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from assistant_magic.testing import FunctionCall, HttpError, ReplyContext, ScriptedServer, Text

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every environment variable the kernel must take from the test, never from the developer's shell.
KERNEL_ENV = (
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "ASSISTANT_MAGIC_STORE",
    "ASSISTANT_MAGIC_DIALECT",
)
MODEL = "gpt-5.4-mini"  # AssistantMagics' default model, which the scripted server accepts

# Bounded waits, generous for a busy 2-core machine (Playwright counts in milliseconds).
LAB_START_TIMEOUT = 60.0  # s: until /api/status answers
PAGE_TIMEOUT = 45_000  # ms: page load, kernel start, clicks
ASK_TIMEOUT = 30_000  # ms: one %%ask, streaming ~3 s here

# What the page shows instead of the status widget when the widget cannot be displayed: Lab's
# error placeholders, or the widget's plain-text fallback (which starts with "[assistant]").
BROKEN_WIDGET_TEXTS = ("Error displaying widget", "Model not found", "[assistant]")


def _missing_tools() -> str | None:
    """Why the browser tests cannot run here, or None; CI installs all of these."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    for module in ("jupyterlab", "playwright"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install -e '.[test]')"
    return None


MISSING = _missing_tools()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(MISSING is not None, reason=f"browser test needs: {MISSING}"),
]


# -- JupyterLab --------------------------------------------------------------------------------


@dataclass
class Lab:
    """A running JupyterLab server and the private directories it was started with."""

    url: str
    token: str
    root: Path  # the server's root_dir: notebooks live here
    data_dir: Path  # JUPYTER_DATA_DIR: per-test kernelspecs go in its kernels/ folder
    log: Path
    process: subprocess.Popen[bytes]

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API; the decoded JSON answer, or None for an empty one."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def log_tail(self, lines: int = 80) -> str:
        """The end of the server's (and its kernels') output, for failure reports."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lab_environment(home: Path) -> dict[str, str]:
    """JupyterLab's environment: private config, data, runtime, settings and workspaces.

    The developer's own Jupyter set-up and OpenAI variables must not leak into the test; the
    kernel gets its OpenAI variables from the per-test kernelspec instead.
    """
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("OPENAI_", "ASSISTANT_MAGIC_", "JUPYTER"))
    }
    for name, folder in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
    ):
        (home / folder).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / folder)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _quiet_settings(settings_dir: Path) -> None:
    """Turn off the "official Jupyter news?" toast, which would cover the outputs."""
    target = settings_dir / "@jupyterlab" / "apputils-extension"
    target.mkdir(parents=True, exist_ok=True)
    (target / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )


def _lab_command(port: int, token: str, root: Path) -> list[str]:
    """`jupyter lab` on loopback, with everything that would reach the network switched off."""
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.token={token}",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False",
        "--ServerApp.port_retries=0",
        "--LabApp.news_url=None",
        # Containers and CI often run as root, which Jupyter refuses without this flag.
        "--allow-root",
    ]
    with contextlib.suppress(ImportError):
        from jupyterlab import NeverCheckForUpdate  # noqa: F401  (absent before JupyterLab 4)

        command.append("--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
    return command


def _wait_for_lab(lab: Lab, timeout: float) -> None:
    """Block until ``/api/status`` answers; fail with the server's log if it dies or hangs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {lab.process.returncode}:\n{lab.log_tail()}")
        with contextlib.suppress(OSError):  # refused until it listens; URLError is an OSError
            lab.api("GET", "/api/status")
            return
        time.sleep(0.1)  # nothing to wait on but the socket: poll it
    pytest.fail(f"JupyterLab did not answer within {timeout:.0f} s:\n{lab.log_tail()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate (JupyterLab then shuts its kernels down), else kill."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab on a free loopback port, serving a private temporary root."""
    base = tmp_path_factory.mktemp("lab")
    root, home = base / "root", base / "home"
    root.mkdir()
    env = _lab_environment(home)
    _quiet_settings(Path(env["JUPYTERLAB_SETTINGS_DIR"]))
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "lab.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            _lab_command(port, token, root),
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Lab(
        url=f"http://127.0.0.1:{port}",
        token=token,
        root=root,
        data_dir=Path(env["JUPYTER_DATA_DIR"]),
        log=log,
        process=process,
    )
    try:
        _wait_for_lab(server, LAB_START_TIMEOUT)
        yield server
    finally:
        _stop(process)


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; Playwright cannot download its own browsers here."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class OpenNotebook:
    """A notebook open in its own browser tab, running in its own kernel."""

    page: Page
    path: str  # relative to the server's root
    console: list[str] = field(default_factory=list)

    def cell(self, index: int) -> Locator:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)


NotebookOpener = Callable[[list[str]], OpenNotebook]


def kernel_display_name(name: str) -> str:
    """How Lab names the per-test kernel in its toolbar and status bar."""
    return f"Python 3 ({name})"


def _write_kernelspec(lab: Lab, name: str) -> Path:
    """A kernelspec for this interpreter whose kernels get the test's OpenAI variables."""
    folder = lab.data_dir / "kernels" / name
    folder.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": kernel_display_name(name),
        "language": "python",
        "env": {variable: os.environ[variable] for variable in KERNEL_ENV},
    }
    (folder / "kernel.json").write_text(json.dumps(spec))
    return folder


def _write_notebook(path: Path, kernel: str, sources: list[str]) -> None:
    """An nbformat 4.5 notebook of code cells, bound to ``kernel``."""
    cells: list[dict[str, Any]] = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{index}",
            "metadata": {},
            "outputs": [],
            "source": source,
        }
        for index, source in enumerate(sources)
    ]
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "name": kernel,
                "display_name": kernel_display_name(kernel),
                "language": "python",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook, indent=1))


def _wait_for_idle_kernel(page: Page, kernel: str) -> None:
    """Wait until the status bar shows the notebook's kernel idle, choosing it if Lab asks.

    The toolbar's execution indicator says "idle" before any kernel exists ("No Kernel"), so
    only the status bar's "<kernel> | Idle" means the kernel is started and connected.
    """
    idle = page.locator(".jp-StatusBar-TextItem", has_text=f"{kernel} | Idle")
    dialog = page.locator(".jp-Dialog")
    idle.or_(dialog).first.wait_for(timeout=PAGE_TIMEOUT)
    if dialog.count():  # "Select Kernel": the notebook's own kernel is preselected
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
    idle.wait_for(timeout=PAGE_TIMEOUT)


def _shut_down_sessions(lab: Lab, path: str) -> None:
    """Shut down the kernel of the notebook at ``path`` so the next test starts afresh."""
    with contextlib.suppress(OSError):
        for session in lab.api("GET", "/api/sessions"):
            if session.get("path") == path:
                lab.api("DELETE", f"/api/sessions/{session['id']}")


@pytest.fixture
def open_notebook(
    lab: Lab,
    browser: Browser,
    env: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[NotebookOpener]:
    """Open a fresh notebook of the given cells in a new tab; ``open_notebook(sources)``.

    On failure, prints the browser console and the server's log and saves a screenshot to
    ``tmp_path / "failure.png"``.
    """
    name = f"am-browser-{secrets.token_hex(4)}"
    kernelspec = _write_kernelspec(lab, name)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened: list[OpenNotebook] = []
    failed_before = request.session.testsfailed

    def open_(sources: list[str]) -> OpenNotebook:
        path = f"{name}.ipynb"
        _write_notebook(lab.root / path, name, sources)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT)
        notebook = OpenNotebook(page=page, path=path)
        page.on("console", lambda message: _record_console(notebook.console, message))
        # A workspace of its own: Lab must not restore tabs that earlier tests left open.
        page.goto(f"{lab.url}/lab/workspaces/{name}/tree/{path}?token={lab.token}")
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        _wait_for_idle_kernel(page, kernel_display_name(name))
        opened.append(notebook)
        return notebook

    try:
        yield open_
    finally:
        if request.session.testsfailed > failed_before:
            for notebook in opened:
                with contextlib.suppress(Exception):
                    notebook.page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                print("browser console:", *notebook.console, sep="\n  ")
            print(f"JupyterLab log ({lab.log}):\n{lab.log_tail()}")
        context.close()
        for notebook in opened:
            _shut_down_sessions(lab, notebook.path)
        shutil.rmtree(kernelspec, ignore_errors=True)


def _record_console(lines: list[str], message: ConsoleMessage) -> None:
    """Keep the browser's warnings and errors for the failure report."""
    if message.type in ("error", "warning"):
        lines.append(f"{message.type}: {message.text[:500]}")


# -- running cells and reading what is shown ---------------------------------------------------


def _run_all_cells(notebook: OpenNotebook, count: int) -> None:
    """Select the first cell and press Shift+Enter once per cell, as a person would."""
    notebook.cell(0).locator(".jp-InputArea-prompt").click()
    for _ in range(count):
        notebook.page.keyboard.press("Shift+Enter")


# Runs in the page: a snapshot of the ask cell's status pill and answer, taken in one go so the
# two are seen at the same instant.
SNAPSHOT_JS = """
(index) => {
  const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[index];
  if (!cell) return null;
  const pill = cell.querySelector('.jp-OutputArea-output .assistant-magic-status .am-status');
  const markdown = [...cell.querySelectorAll('.jp-OutputArea-output.jp-RenderedMarkdown')];
  return {
    status: pill ? pill.getAttribute('data-status') : null,
    widget: (cell.querySelector('.assistant-magic-status') || {}).innerText || '',
    answers: markdown.map((node) => node.innerText),
    outputs: cell.querySelectorAll('.jp-OutputArea-output').length,
  };
}
"""


def _wait_for_snapshot(notebook: OpenNotebook, index: int, condition: str) -> dict[str, Any]:
    """Poll the cell's snapshot until the JavaScript ``condition`` on ``s`` holds; return it."""
    handle = notebook.page.wait_for_function(
        f"(index) => {{ const s = ({SNAPSHOT_JS})(index); return s && ({condition}) ? s : null; }}",
        arg=index,
        timeout=ASK_TIMEOUT,
        polling=50,  # ms: the answer grows every 300 ms, so every stage gets seen
    )
    snapshot: dict[str, Any] = handle.json_value()
    return snapshot


def _assert_no_broken_widget(notebook: OpenNotebook) -> None:
    """No widget error placeholder and no plain-text fallback anywhere in the notebook."""
    shown = notebook.page.locator(".jp-Notebook").inner_text()
    for text in BROKEN_WIDGET_TEXTS:
        assert text not in shown, f"{text!r} is shown in the notebook:\n{shown}"


def _save_screenshot(notebook: OpenNotebook, target: Path) -> None:
    """The whole page as a person sees it, also copied where the lead can look at it."""
    notebook.page.screenshot(path=str(target))
    shutil.copyfile(target, Path("/tmp") / f"assistant_magic_{target.name}")


# -- the tests ---------------------------------------------------------------------------------

ANSWER_CHUNKS = [
    "Mamezou's ",
    "battle ",
    "strength ",
    "is ",
    "**530,000** ",
    "points.\n\n",
    "- speed: high\n",
    "- stamina: endless\n",
    "- mood: ",
    "dangerous",
]
ANSWER = "".join(ANSWER_CHUNKS)
CELLS = ["%load_ext assistant_magic", "%%ask\nPlease tell me the battle strength of Mamezou"]
USAGE = re.compile(r"\d+ in( \(\d+ cached\))? / \d+ out tokens")


def test_widget_shows_progress_while_markdown_answer_streams(
    server: ScriptedServer, open_notebook: NotebookOpener, tmp_path: Path
) -> None:
    server.script(Text(ANSWER, chunks=ANSWER_CHUNKS, chunk_delay=0.3))
    notebook = open_notebook(CELLS)
    _run_all_cells(notebook, len(CELLS))

    # Mid-stream: the pill says "in progress" while the answer's finished blocks are already
    # rendered as Markdown, inside the widget, each once (the block being written is text).
    during = _wait_for_snapshot(
        notebook, 1, "s.status === 'in_progress' && s.answers.join('').trim().length > 0"
    )
    streamed = "".join(during["answers"])
    assert streamed.startswith("Mamezou's battle strength is 530,000"), during
    assert "dangerous" not in streamed, f"the answer did not stream: {during}"
    assert "in progress" in during["widget"], during
    rendered = notebook.cell(1).locator(".assistant-magic-status .jp-RenderedMarkdown strong")
    assert rendered.first.inner_text() == "530,000", "a finished block is rendered Markdown"
    _save_screenshot(notebook, tmp_path / "widget_streaming.png")  # for people, not asserted

    # The end: completed, with the model and the tokens, and the whole answer as Markdown.
    after = _wait_for_snapshot(notebook, 1, "s.status === 'completed'")
    assert MODEL in after["widget"], after
    assert USAGE.search(after["widget"]), after
    # One Markdown output, the whole answer, in the place kept for it at its first words; the
    # streamed blocks are gone from the widget.
    assert len(after["answers"]) == 1, after
    assert after["outputs"] == 2, f"expected the widget and the answer only: {after}"

    answer = notebook.cell(1).locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    assert answer.locator("strong").inner_text() == "530,000"
    assert answer.locator("li").all_inner_texts() == [
        "speed: high",
        "stamina: endless",
        "mood: dangerous",
    ]
    assert "**" not in answer.inner_text(), "the answer is shown as raw Markdown"
    _assert_no_broken_widget(notebook)

    _save_screenshot(notebook, tmp_path / "widget.png")
    assert server.unused_replies == []


def test_failed_ask_shows_failed_status_and_a_one_line_error(
    server: ScriptedServer, open_notebook: NotebookOpener, tmp_path: Path
) -> None:
    # The first try and the SDK's two retries all fail; a short Retry-After keeps it quick.
    server.script(*[HttpError(500, retry_after_ms=50)] * 3)
    notebook = open_notebook(CELLS)
    _run_all_cells(notebook, len(CELLS))

    after = _wait_for_snapshot(notebook, 1, "s.status === 'failed'")
    assert "failed" in after["widget"], after
    error = notebook.cell(1).locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    )
    error.wait_for(timeout=ASK_TIMEOUT)
    shown = error.inner_text().strip()
    assert len(shown.splitlines()) == 1, f"expected a one-line error, got:\n{shown}"
    assert "Traceback" not in shown and "File " not in shown, shown
    assert shown.startswith("ApiError:"), shown
    _assert_no_broken_widget(notebook)

    _save_screenshot(notebook, tmp_path / "widget_failed.png")
    assert server.unused_replies == []
    assert len(server.requests_to("POST", "/v1/responses")) == 3


CALC_SLOWLY = '''import time


def calc_strength(name: str) -> int:
    """Measure a fighter's battle strength with the scouter (it takes a second).

    Args:
        name: the fighter's name
    """
    time.sleep(1)
    return 530_000


%assistant tools add calc_strength'''
TOOL_CELLS = [
    "%load_ext assistant_magic",
    CALC_SLOWLY,
    "%%ask\nPlease tell me the battle strength of Mamezou",
]
RUNNING_CALL = "⚙ calc_strength(name='Mamezou') …"
FINISHED_CALL = re.compile(r"✓ calc_strength\(name='Mamezou'\) → 530000 · 1\.0\d s")


def test_widget_shows_a_tool_call_while_it_runs_and_its_result_after(
    server: ScriptedServer, open_notebook: NotebookOpener, tmp_path: Path
) -> None:
    def answer(context: ReplyContext) -> Text:
        strength = int(context.tool_outputs["call_mamezou"])
        text = f"Mamezou's battle strength is **{strength:,}**.\n\n- scouter: *intact*"
        return Text(text, chunk_delay=0.05)

    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_mamezou"), answer
    )
    notebook = open_notebook(TOOL_CELLS)
    _run_all_cells(notebook, len(TOOL_CELLS))

    # While the tool sleeps: the pill says "calling tools" and the call is listed as running.
    during = _wait_for_snapshot(
        notebook,
        2,
        f"s.status === 'calling_tools' && s.widget.includes({json.dumps(RUNNING_CALL)})",
    )
    assert "calling tools" in during["widget"], during
    assert during["answers"] == [], f"no answer before the tool returned: {during}"
    _save_screenshot(notebook, tmp_path / "tools_running.png")  # for people, not asserted

    # The end: the call's result and duration, then the answer that quotes it, as Markdown.
    after = _wait_for_snapshot(notebook, 2, "s.status === 'completed'")
    assert FINISHED_CALL.search(after["widget"]), after
    assert RUNNING_CALL not in after["widget"], "the running line was replaced by the result"
    assert "completed" in after["widget"] and MODEL in after["widget"], after
    assert USAGE.search(after["widget"]), after
    assert after["outputs"] == 2, f"expected the widget and the answer only: {after}"
    markdown = notebook.cell(2).locator(".jp-OutputArea-output.jp-RenderedMarkdown")
    assert markdown.locator("strong").inner_text() == "530,000"
    assert markdown.locator("li").all_inner_texts() == ["scouter: intact"]
    assert "**" not in markdown.inner_text(), "the answer is shown as raw Markdown"
    _assert_no_broken_widget(notebook)

    _save_screenshot(notebook, tmp_path / "tools.png")  # also /tmp/assistant_magic_tools.png
    assert server.tool_outputs == [("call_mamezou", "530000")]
    assert server.unused_replies == []


def test_code_from_an_answer_lands_in_a_new_cell_below_not_run(
    server: ScriptedServer, open_notebook: NotebookOpener, tmp_path: Path
) -> None:
    code = 'sales["revenue"] = sales["units"] * sales["price"]\nprint(sales.revenue.sum())'
    server.script(Text(f"Like this:\n\n```python\n{code}\n```\n"))
    cells = ["%load_ext assistant_magic", "%%ask --code\nAdd a revenue column"]
    notebook = open_notebook(cells)
    _run_all_cells(notebook, len(cells))

    _wait_for_snapshot(notebook, 1, "s.status === 'completed'")
    placed = notebook.cell(2)
    placed.locator(".jp-InputArea-editor").wait_for(timeout=ASK_TIMEOUT)
    notebook.page.wait_for_function(
        "(code) => { const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[2];"
        " return cell && cell.querySelector('.cm-content').innerText.includes(code); }",
        arg="sales.revenue.sum()",
        timeout=ASK_TIMEOUT,
    )
    source = placed.locator(".cm-content").inner_text()
    assert source.strip() == code, source
    assert placed.locator(".jp-OutputArea-output").count() == 0, "placed, never run"
    prompt = placed.locator(".jp-InputArea-prompt").inner_text()
    assert re.fullmatch(r"\[ ?\]:", prompt.strip()), f"not executed: {prompt!r}"
    shown = notebook.cell(1).inner_text()
    assert "The answer's code is in a new cell below, not run." in shown
    _save_screenshot(notebook, tmp_path / "code_cell.png")
