"""The thread store failing under a running kernel: one line that says what to do, and no ask
ever passes for recorded when it was not.

Each fault is made for real: the file overwritten in place, deleted, replaced, deleted while a
ask runs, or the disk under it full (a 1 MiB tmpfs, where this machine lets the test mount one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text

from conftest import FaultLog, one_line


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def posts(server: ScriptedServer) -> int:
    return len(server.requests_to("POST", "/v1/responses"))


def recorded_answers(store_path: Path) -> list[str]:
    from assistant_magic.store import Store

    with Store(store_path) as store:
        return [
            ask.answer_text
            for thread in store.list_threads(limit=None)
            for ask in store.asks(thread.id)
        ]


def remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(f"{path}{suffix}")


def test_a_damaged_store_is_one_line_and_sends_nothing(  # type: ignore[no-untyped-def]
    ip, server, env, capsys, faults: FaultLog
) -> None:
    server.script(Text("First."))
    assert run(ip, "%%ask\nFirst?", capsys)[0] is None
    for part in (env, Path(f"{env}-wal")):  # overwritten in place: the same files, random bytes
        with open(part, "r+b") as damaged:
            damaged.write(os.urandom(part.stat().st_size))
    sent = posts(server)

    error, _ = run(ip, "%%ask\nSecond?", capsys)
    listed, _ = run(ip, "%assistant thread list", capsys)

    assert type(error).__name__ == "StoreError" and one_line(error)
    assert "damaged" in str(error) and "ASSISTANT_MAGIC_STORE" in str(error)
    assert type(listed).__name__ == "StoreError" and one_line(listed)
    assert posts(server) == sent, "nothing was asked that could not be recorded"
    faults.store(tried=2, one_line=int(one_line(error)) + int(one_line(listed)), lost=0)

    env.rename(env.with_suffix(".damaged"))  # what the error says to do
    server.script(Text("Third."))
    error, out = run(ip, "%%ask\nThird?", capsys)
    assert error is None and "Third." in out
    assert recorded_answers(env) == ["Third."]


@pytest.mark.parametrize("fault", ["deleted", "replaced"])
def test_a_store_gone_from_under_the_kernel_is_said_before_the_next_ask(  # type: ignore[no-untyped-def]
    ip, server, env, capsys, tmp_path, faults: FaultLog, fault: str
) -> None:
    server.script(Text("First."))
    assert run(ip, "%%ask\nFirst?", capsys)[0] is None
    if fault == "deleted":
        remove_store(env)
    else:  # another copy put in its place, as a sync tool or a restore from backup does
        shutil.copy(env, tmp_path / "copy.sqlite3")
        os.replace(tmp_path / "copy.sqlite3", env)
    sent = posts(server)

    error, _ = run(ip, "%%ask\nSecond?", capsys)

    assert type(error).__name__ == "StoreError" and one_line(error)
    assert f"was {fault}" in str(error) and "lost" in str(error)
    assert posts(server) == sent
    server.script(Text("Third."))
    error, out = run(ip, "%%ask\nThird?", capsys)
    assert error is None and "Third." in out
    assert "Third." in recorded_answers(env), "the next ask is recorded in the file now there"
    faults.store(tried=1, one_line=1, lost=0)


def test_a_store_deleted_during_an_ask_says_the_answer_was_not_recorded(  # type: ignore[no-untyped-def]
    ip, server, env, capsys, faults: FaultLog
) -> None:
    ip.user_ns["store_file"] = str(env)
    ip.run_cell(
        "import os\n"
        "def tidy() -> str:\n"
        "    '''Tidy up.'''\n"
        "    for suffix in ('', '-wal', '-shm'):\n"
        "        if os.path.exists(store_file + suffix):\n"
        "            os.remove(store_file + suffix)\n"
        "    return 'tidied'\n"
    )
    run(ip, "%assistant tools add tidy", capsys)
    server.script(FunctionCall("tidy"), Text("All tidy."))

    error, out = run(ip, "%%ask\nTidy up", capsys)

    assert "All tidy." in out, "the answer is shown"
    assert type(error).__name__ == "StoreError" and one_line(error)
    assert str(error).startswith("This answer was not recorded.")
    faults.store(tried=1, one_line=1, lost=0)


@contextlib.contextmanager
def tiny_disk(where: Path) -> Iterator[Path]:
    """A 1 MiB filesystem, or a skip where this machine does not let the test mount one."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "assistant-magic-test", str(where)],
        capture_output=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_one_line_and_the_message_is_kept(  # type: ignore[no-untyped-def]
    ip, server, tmp_path, monkeypatch, capsys, faults: FaultLog
) -> None:
    with tiny_disk(tmp_path / "disk") as disk:
        monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(disk / "threads.sqlite3"))
        run(ip, "%reload_ext assistant_magic", capsys)
        server.script(Text("First."))
        assert run(ip, "%%ask\nFirst?", capsys)[0] is None
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            filler.write(b"\0" * (2 << 20))
        sent = posts(server)

        error, _ = run(ip, "%%ask\n" + "A long question. " * 20_000, capsys)

        assert type(error).__name__ == "StoreError" and one_line(error)
        assert "disk is full" in str(error) and "free some disk space" in str(error)
        assert posts(server) == sent, "not asked, since it could not be recorded"
        os.remove(disk / "filler")
        server.script(Text("Second."))
        error, out = run(ip, "%%ask\nSecond?", capsys)
        assert error is None and "Second." in out
        faults.store(tried=1, one_line=1, lost=0)
        run(ip, "%unload_ext assistant_magic", capsys)  # lets go of the file before unmounting
        run(ip, "%load_ext assistant_magic", capsys)
