"""Shared fixtures: the scripted OpenAI server, and an IPython shell with the extension loaded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import openai
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from assistant_magic.dialects.interface import ListedAsks, PastAsk
from assistant_magic.redaction import SECRETS
from assistant_magic.testing import ScriptedServer

SPEC = Path(__file__).parent / "data" / "openai-openapi" / "openapi.json"
API_KEY = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _forget_secrets() -> Iterator[None]:
    """The process's secrets (see `redaction.SECRETS`) are registered as settings are read: each
    test starts with none, as a fresh kernel does."""
    SECRETS.clear()
    yield
    SECRETS.clear()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A scripted OpenAI-compatible server on loopback that validates all traffic."""
    with ScriptedServer(api_key=API_KEY, openapi=SPEC) as srv:
        yield srv
        assert srv.validation_errors == [], "\n".join(srv.validation_errors)


@pytest.fixture
def unchecked_server() -> Iterator[ScriptedServer]:
    """The scripted server without the teardown check, for tests that provoke violations."""
    with ScriptedServer(api_key=API_KEY, openapi=SPEC) as server:
        yield server


@pytest.fixture
def client(unchecked_server: ScriptedServer) -> openai.OpenAI:
    """The real openai SDK pointed at `unchecked_server`."""
    return openai.OpenAI(base_url=unchecked_server.base_url, api_key=API_KEY)


@pytest.fixture
def env(server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the package at the scripted server and a private store, as a user's env would."""
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    store = tmp_path / "threads.sqlite3"
    monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(store))
    # A loopback server would get the chat dialect by default; most tests speak Responses
    # (tests/test_dialects.py runs the shared scenarios on both).
    monkeypatch.setenv("ASSISTANT_MAGIC_DIALECT", "responses")
    monkeypatch.chdir(tmp_path)
    return store


@pytest.fixture(scope="session")
def _ipython() -> InteractiveShell:
    return start_ipython()  # type: ignore[no-any-return]


@pytest.fixture
def ip(_ipython: InteractiveShell, env: Path) -> Iterator[InteractiveShell]:
    """The test IPython shell with `assistant_magic` freshly loaded, as `%load_ext` does."""
    shell = _ipython
    names_before = set(shell.user_ns)
    shell.run_line_magic("load_ext", "assistant_magic")
    yield shell
    shell.run_line_magic("unload_ext", "assistant_magic")
    shell.config.pop("AssistantMagics", None)  # %config persists in the shell's config
    for name in set(shell.user_ns) - names_before:  # functions a test defined, answers, ...
        del shell.user_ns[name]


class EventLog:
    """A view that keeps what an ask showed: its events, and the notices among them."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def start(self, **_: object) -> None: ...

    def update(self, event: object) -> None:
        self.events.append(event)

    def finish(self, outcome: object) -> None: ...

    @property
    def notices(self) -> list[str]:
        return [str(e.text) for e in self.events if type(e).__name__ == "Notice"]  # type: ignore[attr-defined]


class CountedAsks(ListedAsks):
    """Earlier asks that count how many were read (a long thread must be read only so far)."""

    read = 0

    def newest_first(self) -> Iterator[PastAsk]:
        for past in super().newest_first():
            self.read += 1
            yield past


def one_line(error: object) -> bool:
    """Whether IPython shows `error` as one line (our errors' `_render_traceback_`)."""
    render = getattr(error, "_render_traceback_", None)
    return render is not None and len(render()) == 1 and "\n" not in render()[0]


# -- the fault tally ---------------------------------------------------------------------------


class FaultLog:
    """What the fault tests tried and how it went, summed over the run and printed at its end
    (benchmarks/faults.py runs those tests for the tally alone). The goal: every interrupt
    leaves the thread usable, every store fault is one line and loses no ask, and no secret
    leaks at any boundary."""

    totals: ClassVar[dict[str, Counter[str]]] = {}

    def interrupts(self, *, tried: int, usable: int) -> None:
        self._add("interrupts", tried=tried, usable=usable)

    def store(self, *, tried: int, one_line: int, lost: int) -> None:
        self._add("store faults", tried=tried, one_line=one_line, lost=lost)

    def secrets(self, *, tried: int, leaks: int) -> None:
        self._add("secret boundaries", tried=tried, leaks=leaks)

    def _add(self, kind: str, **counts: int) -> None:
        self.totals.setdefault(kind, Counter()).update(counts)


@pytest.fixture
def faults() -> FaultLog:
    return FaultLog()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    totals = FaultLog.totals
    if not totals:
        return
    terminalreporter.section("faults")
    lines = {
        "interrupts": "interrupts tried {tried}, threads left usable {usable}",
        "store faults": "store faults tried {tried}, one-line errors {one_line}, asks lost {lost}",
        "secret boundaries": "secret boundaries tried {tried}, leaks {leaks}",
    }
    for kind, template in lines.items():
        if kind in totals:
            terminalreporter.write_line(template.format_map(totals[kind]))


def saved_status(widget_state: dict[str, Any], model_id: str) -> str:
    """The status line's HTML in a saved notebook: the displayed model is the status box, whose
    one child, once the ask is over, is the status widget."""
    (child,) = widget_state[model_id]["state"]["children"]
    return str(widget_state[child.removeprefix("IPY_MODEL_")]["state"]["value"])
