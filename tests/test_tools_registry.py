"""Which tools an ask offers, end to end: %%ask over real HTTP with the scripted server."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, Text
from tool_asks import add_calc_strength, bodies, outputs_sent, run


@pytest.fixture
def calc(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    return add_calc_strength(ip, capsys)


def test_redefinition_between_asks_takes_effect(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("def power(name: str) -> int:\n    '''Power.'''\n    return 1\n")
    run(ip, "%assistant tools add power", capsys)
    server.script(FunctionCall("power", {"name": "x"}), Text("1"))
    run(ip, "%%ask\nPower?", capsys)
    ip.run_cell(
        "def power(name: str, boost: int = 2) -> int:\n    '''Power, boosted.'''\n"
        "    return 10 * boost\n"
    )
    server.script(FunctionCall("power", {"name": "x", "boost": 3}), Text("30"))
    error, out = run(ip, "%%ask\nPower now?", capsys)
    assert error is None
    assert "tool power changed since the last ask" in out
    requests = bodies(server)
    assert requests[2]["tools"][0]["description"] == "Power, boosted."
    assert "boost" in requests[2]["tools"][0]["parameters"]["properties"]
    assert outputs_sent(requests[3])[0][1] == "30"


def test_decorated_functions_are_offered_and_tools_can_be_chosen_per_ask(  # type: ignore[no-untyped-def]
    calc, server, capsys
) -> None:
    calc.run_cell(
        "import assistant_magic\n"
        "@assistant_magic.tool\n"
        "def scouter(name: str) -> str:\n"
        "    '''Read the scouter.'''\n"
        "    return 'over 9000'\n"
    )
    run(calc, "%%ask\nHi", capsys)
    run(calc, "%%ask --tools scouter\nHi", capsys)
    run(calc, "%%ask --tools none\nHi", capsys)
    offered = [[t["name"] for t in body.get("tools", [])] for body in bodies(server)]
    assert offered == [["calc_strength", "scouter"], ["scouter"], []]
    _, out = run(calc, "%assistant", capsys)
    assert "tools         calc_strength, scouter" in out
    _, out = run(calc, "%assistant tools", capsys)
    assert "calc_strength  (strict)" in out and "scouter  (strict)" in out
    assert '"the fighter\'s name"' in out or "the fighter's name" in out


def test_tools_commands_report_mistakes(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%assistant tools add nope", capsys)
    assert "No function named 'nope'" in str(error)
    ip.run_cell("x = 3")
    error, _ = run(ip, "%assistant tools add x", capsys)
    assert "not a function" in str(error)
    error, _ = run(ip, "%assistant tools remove calc_strength", capsys)
    assert "not a registered tool" in str(error)
    error, _ = run(ip, "%%ask --tools nope\nHi", capsys)
    assert "No function named 'nope'" in str(error)
    assert server.requests == [], "nothing is sent when the tool set is wrong"
    error, _ = run(ip, "%assistant thread --confirm", capsys)
    assert "--confirm goes with tools add" in str(error)
