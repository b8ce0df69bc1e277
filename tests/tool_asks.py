"""%%ask with notebook tools in tests: the calc_strength cell, and what the server was sent."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.store import Store
from assistant_magic.testing import ScriptedServer

CALC = '''
from typing import Literal

def calc_strength(name: str, unit: Literal["kg", "lb"] = "kg") -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
        unit: unit of the answer
    """
    if name == "Tanuki":
        raise KeyError(name)
    return 530_000 if name == "Mamezou" else 9001
'''


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


def outputs_sent(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (item["call_id"], item["output"])
        for item in body["input"]
        if item.get("type") == "function_call_output"
    ]


def store_of(ip: InteractiveShell) -> Store:
    return Store(ip._assistant_magics.assistant.threads.store_path)  # type: ignore[attr-defined]


def add_calc_strength(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    """The shell with `CALC` run and calc_strength added as a tool."""
    ip.run_cell(CALC)
    error, out = run(ip, "%assistant tools add calc_strength", capsys)
    assert error is None and "Tool calc_strength added." in out
    return ip
