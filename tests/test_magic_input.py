"""What users type into the magics, good and bad: `%assistant` expands like any line magic, a
bad value changes nothing and says so in one line, `-o` never breaks the notebook, and long or
broken text is read, or refused, in one line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import ScriptedServer, Text

from conftest import one_line


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def magics(ip: InteractiveShell) -> Any:
    return ip._assistant_magics  # type: ignore[attr-defined]


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


# -- expansion ---------------------------------------------------------------------------------


def test_the_line_magic_expands_braces_and_dollars(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("class Made: id = 'asst_X'\npre = Made()\nwho = 'Frieza'")
    run(ip, "%assistant --assistant-id {pre.id}", capsys)
    assert magics(ip).assistant_id == "asst_X"
    run(ip, '%assistant --instructions "You act as $who"', capsys)
    assert magics(ip).instructions == "You act as Frieza"
    # What cannot be evaluated stays as typed, so JSON-like instructions still work.
    run(ip, """%assistant --instructions 'Reply as {"power": 1} and cost $5.'""", capsys)
    assert magics(ip).instructions == 'Reply as {"power": 1} and cost $5.'


def test_the_ask_cell_stays_verbatim(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("who = 'Frieza'")
    server.script(Text("Noted."))
    error, _ = run(ip, "%%ask\nSay {who} and $who", capsys)
    assert error is None
    assert bodies(server)[-1]["input"][-1]["content"] == "Say {who} and $who"


# -- a bad value changes nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "--base-url not-a-url",
        "--base-url ftp://x",
        "--base-url 'http://[::1/v1'",
        "--base-url http://127.0.0.1:notaport/v1",
        "--model ''",
    ],
)
def test_a_rejected_value_changes_nothing(ip, server, capsys, line: str) -> None:  # type: ignore[no-untyped-def]
    before = (magics(ip).base_url, magics(ip).model)
    error, _ = run(ip, f"%assistant {line}", capsys)
    assert one_line(error), error
    assert (magics(ip).base_url, magics(ip).model) == before
    error, out = run(ip, "%assistant", capsys)
    assert error is None and "model" in out, "the configuration still shows"
    server.script(Text("Still fine."))
    error, out = run(ip, "%%ask\nHello?", capsys)
    assert error is None and "Still fine." in out
    error, _ = run(ip, f"%assistant --base-url {server.base_url}", capsys)
    assert error is None


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("max_image_bytes", "0"),
        ("max_image_pixels", "-1"),
        ("timeout", "-1"),
        ("max_retries", "-1"),
        ("temperature", "3.5"),
        ("base_url", "'not-a-url'"),
        ("model", "''"),
    ],
)
def test_config_refuses_a_bad_value_when_it_is_set(  # type: ignore[no-untyped-def]
    ip, server, capsys, caplog, setting: str, value: str
) -> None:
    before = getattr(magics(ip), setting)
    with caplog.at_level(logging.ERROR):
        ip.run_line_magic("config", f"AssistantMagics.{setting} = {value}")
    assert getattr(magics(ip), setting) == before
    (message,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert setting in message and "\n" not in message
    server.script(Text("Still fine."))
    error, out = run(ip, "%%ask\nHello?", capsys)
    assert error is None and "Still fine." in out


# -- one line, whatever the input ------------------------------------------------------------


def test_exports_that_cannot_be_written_are_one_line(ip, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("Hi."))
    run(ip, "%%ask\nHello?", capsys)
    error, _ = run(ip, f"%assistant thread export {tmp_path}", capsys)
    assert one_line(error) and "is a directory" in str(error)
    error, _ = run(ip, "%assistant thread export /dev/full", capsys)
    assert one_line(error) and "Cannot write /dev/full" in str(error)


def test_history_of_an_enormous_count_shows_all(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("Hi."))
    run(ip, "%%ask\nHello?", capsys)
    error, out = run(ip, "%assistant history {10**30}", capsys)
    assert error is None and "Hello?" in out


@pytest.mark.parametrize("where", ["cell", "instructions"])
def test_text_that_is_not_valid_unicode_is_one_line(ip, server, capsys, where: str) -> None:  # type: ignore[no-untyped-def]
    broken = "caf\udce9"  # a lone surrogate, as a badly decoded paste leaves
    ip.user_ns["broken"] = broken
    cell = (
        f"%%ask\nWhat is {broken}?"
        if where == "cell"
        else "%%ask --instructions-from broken\nHello?"
    )
    error, _ = run(ip, cell, capsys)
    assert one_line(error) and "not valid text" in str(error)
    assert server.requests == [], "nothing sent"


# -- -o ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["__builtins__", "get_ipython", "class", "print", "In", "_", "_i3", "1abc"]
)
def test_output_names_the_kernel_relies_on_are_refused(ip, server, capsys, name: str) -> None:  # type: ignore[no-untyped-def]
    before = ip.user_ns.get(name)
    error, _ = run(ip, f"%%ask -o {name}\nHello?", capsys)
    assert one_line(error) and f"-o {name} " in str(error)
    assert ip.user_ns.get(name) is before
    assert server.requests == []
    error, out = run(ip, "print(len('abc'))", capsys)
    assert error is None and out == "3\n"


# -- long instructions -----------------------------------------------------------------------


def test_long_instructions_are_read_at_once_and_noted(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    long = "Be brief. " * 500_000  # 5 MB; splitting it took minutes when it was quadratic
    ip.user_ns["long"] = long
    error, out = run(ip, f'%assistant --instructions "{long}"', capsys)
    assert error is None
    assert "note: the instructions hold 5,000,000 characters" in out
    assert "--instructions-from" in out
    assert magics(ip).instructions == long


def test_instructions_from_a_variable_or_a_file(ip, server, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["frieza"] = "You act as Frieza."
    (tmp_path / "goku.txt").write_text("You act as Goku.", encoding="utf-8")
    run(ip, "%assistant --instructions-from frieza", capsys)
    assert magics(ip).instructions == "You act as Frieza."
    server.script(Text("Kakarot!"))
    error, _ = run(ip, f"%%ask --instructions-from {tmp_path / 'goku.txt'}\nWho?", capsys)
    assert error is None
    assert bodies(server)[-1]["instructions"] == "You act as Goku."
    error, _ = run(ip, "%assistant --instructions-from nowhere", capsys)
    assert one_line(error) and "no such variable or file" in str(error)
    error, _ = run(ip, '%assistant --instructions "a" --instructions-from frieza', capsys)
    assert one_line(error) and "not both" in str(error)


def test_the_older_names_of_dialect_still_work(ip, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%assistant --api chat", capsys)
    assert magics(ip).dialect == "chat"
    ip.run_line_magic("config", "AssistantMagics.api = 'assistants'")
    assert magics(ip).dialect == "assistants"
    monkeypatch.setenv("ASSISTANT_MAGIC_API", "chat")
    monkeypatch.delenv("ASSISTANT_MAGIC_DIALECT", raising=False)
    run(ip, "%assistant --dialect auto", capsys)
    assert magics(ip).settings().dialect_source == "$ASSISTANT_MAGIC_API"
