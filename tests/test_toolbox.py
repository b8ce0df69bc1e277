"""Notebook functions as tools, end to end: %%ask over real HTTP with the scripted server."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.store import Store
from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

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
    return Store(ip._assistant_magics.session.store_path)  # type: ignore[attr-defined]


@pytest.fixture
def calc(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    ip.run_cell(CALC)
    error, out = run(ip, "%assistant tools add calc_strength", capsys)
    assert error is None and "Tool calc_strength added." in out
    return ip


def test_one_call(calc, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(
        ToolCalls([FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_1")]),
        Text("Mamezou's battle strength is 530,000."),
    )
    error, out = run(calc, "%%ask -o answer\nPlease tell me the battle strength of Mamezou", capsys)
    assert error is None
    assert calc.user_ns["answer"] == "Mamezou's battle strength is 530,000."
    first, second = bodies(server)
    (offered,) = first["tools"]
    assert offered["name"] == "calc_strength" and offered["strict"] is True
    assert offered["parameters"]["properties"]["name"]["description"] == "the fighter's name"
    assert first["tool_choice"] == "auto"
    assert outputs_sent(second) == [("call_1", "530000")]
    assert second["conversation"] == first["conversation"]
    assert "user" not in json.dumps(second["input"])  # only the outputs, no repeated question
    assert "⚑ requires action" in out and "⚙ calling tools" in out
    assert "✓ calc_strength(name='Mamezou') → 530000" in out

    thread = calc._assistant_magics.session.thread
    (turn,) = store_of(calc).turns(thread.id)
    (record,) = store_of(calc).tool_calls(turn.id)
    assert (record.call_id, record.status, record.output) == ("call_1", "ok", "530000")
    assert record.arguments == '{"name": "Mamezou"}'


def test_a_strict_null_for_a_defaulted_parameter_reads_as_the_default(calc, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(FunctionCall("calc_strength", {"name": "Mamezou", "unit": None}), Text("ok"))
    _, out = run(calc, "%%ask\nMeasure", capsys)
    assert "✓ calc_strength(name='Mamezou') → 530000" in out
    assert outputs_sent(bodies(server)[1])[0][1] == "530000"


def test_parallel_calls_are_all_answered_in_order(calc, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(
        ToolCalls(
            [
                FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_a"),
                FunctionCall("calc_strength", {"name": "Goku", "unit": "lb"}, call_id="call_b"),
            ]
        ),
        Text("Both measured."),
    )
    error, _ = run(calc, "%%ask\nCompare Mamezou and Goku", capsys)
    assert error is None
    assert outputs_sent(bodies(server)[1]) == [("call_a", "530000"), ("call_b", "9001")]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (FunctionCall("calc_strength", '{"name": "Mamezou"'), "not valid JSON"),
        (FunctionCall("calc_strength", {"name": 42}), "'name'"),
        (FunctionCall("calc_strength", {}), "missing required argument 'name'"),
        (FunctionCall("calc_strength", {"name": "X", "unit": "stone"}), "'kg', 'lb'"),
        (FunctionCall("power_level", {"name": "X"}, undeclared=True), "Unknown tool 'power_level'"),
        (FunctionCall("calc_strength", {"name": "Tanuki"}), "raised KeyError: 'Tanuki'"),
    ],
    ids=["invalid-json", "wrong-type", "missing", "bad-literal", "unknown-tool", "raises"],
)
def test_bad_input_goes_back_to_the_model_and_the_turn_goes_on(  # type: ignore[no-untyped-def]
    calc, server, capsys, call: FunctionCall, expected: str
) -> None:
    server.script(ToolCalls([call]), Text("Let me fix that."))
    error, out = run(calc, "%%ask -o answer\nGo", capsys)
    assert error is None, "a tool failure never fails the turn"
    assert calc.user_ns["answer"] == "Let me fix that."
    ((_, output),) = outputs_sent(bodies(server)[1])
    assert expected in output
    assert "\n" not in output or "raised" in output
    assert "✗ " in out


def test_async_tools_in_one_step_run_concurrently(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(
        "import asyncio\n"
        "async def slow_lookup(key: str) -> str:\n"
        "    '''Look something up slowly.'''\n"
        "    await asyncio.sleep(0.5)\n"
        "    return key.upper()\n"
    )
    run(ip, "%assistant tools add slow_lookup", capsys)
    keys = ["a", "b", "c", "d"]
    server.script(
        ToolCalls([FunctionCall("slow_lookup", {"key": k}, call_id=f"call_{k}") for k in keys]),
        Text("Done."),
    )
    error, _ = run(ip, "%%ask\nLook up a, b, c and d", capsys)
    assert error is None
    first, second = server.requests_to("POST", "/v1/responses")
    assert outputs_sent(second.body) == [(f"call_{k}", k.upper()) for k in keys]
    took = second.received_at - first.received_at
    assert took < 0.5 * len(keys) * 0.6, f"4 calls of a 0.5 s tool took {took:.2f} s"


def test_the_tool_loop_has_a_limit(calc, server, capsys) -> None:  # type: ignore[no-untyped-def]
    calc.run_line_magic("config", "AssistantMagics.max_tool_rounds = 2")
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}),
        FunctionCall("calc_strength", {"name": "Goku"}),
        Text("Enough measuring: 530,000 and 9001."),
    )
    error, out = run(calc, "%%ask -o answer\nMeasure everyone", capsys)
    assert error is None
    assert calc.user_ns["answer"] == "Enough measuring: 530,000 and 9001."
    choices = [body.get("tool_choice") for body in bodies(server)]
    assert choices == ["auto", "auto", "none"]
    assert "tool round limit (2) reached" in out


def test_confirm_approve_and_deny(calc, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    run(calc, "%assistant tools add calc_strength --confirm", capsys)
    answers = iter(["y", "n"])
    prompts: list[str] = []

    def fake_input(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", fake_input)
    server.script(
        ToolCalls(
            [
                FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_ok"),
                FunctionCall("calc_strength", {"name": "Goku"}, call_id="call_no"),
            ]
        ),
        Text("One of two."),
    )
    error, out = run(calc, "%%ask\nMeasure both", capsys)
    assert error is None
    assert prompts == [
        "Allow the assistant to run calc_strength(name='Mamezou')? [y/N] ",
        "Allow the assistant to run calc_strength(name='Goku')? [y/N] ",
    ]
    sent = dict(outputs_sent(bodies(server)[1]))
    assert sent["call_ok"] == "530000"
    assert "denied" in sent["call_no"]
    assert "⊘ calc_strength(name='Goku') → denied by the user" in out


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


def test_what_a_tool_prints_can_go_to_the_model(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("def report() -> None:\n    '''Print a report.'''\n    print('all fine')\n")
    run(ip, "%assistant tools add report", capsys)
    server.script(FunctionCall("report"), Text("ok"), FunctionCall("report"), Text("ok"))
    _, out = run(ip, "%%ask\nReport", capsys)
    assert "\nall fine\n" in out  # printed in the cell by default
    assert outputs_sent(bodies(server)[1])[0][1] == "null"
    ip.run_line_magic("config", "AssistantMagics.tool_stdout = 'capture'")
    _, out = run(ip, "%%ask\nReport", capsys)
    assert "\nall fine\n" not in out, "captured: not printed in the cell"
    assert "✓ report() → all fine" in out
    assert outputs_sent(bodies(server)[3])[0][1] == "all fine\n"


def test_interrupting_a_running_tool_keeps_the_thread_usable(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(
        "import time\ndef slow() -> str:\n    '''Slow.'''\n    time.sleep(5)\n    return 'done'\n"
    )
    run(ip, "%assistant tools add slow", capsys)
    server.script(FunctionCall("slow", call_id="call_slow"), Text("Still here."))

    def interrupt_when_the_tool_runs() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not server.requests_to("POST", "/v1/responses"):
            time.sleep(0.01)
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)  # a real signal: it wakes the tool's time.sleep

    threading.Thread(target=interrupt_when_the_tool_runs, daemon=True).start()
    started = time.monotonic()
    error, out = run(ip, "%%ask\nRun slow", capsys)
    assert time.monotonic() - started < 4, "the interrupt stopped the tool"
    assert type(error).__name__ == "TurnInterrupted"
    assert "⊘ slow() → interrupted" in out
    assert server.tool_outputs == [], "answered when the thread is next used, not before"
    error, out = run(ip, "%%ask\nAre you there?", capsys)
    assert error is None and "Still here." in out
    # The conversation held the call open: the next ask answered it first, so it was accepted.
    assert "answered 1 tool call the last turn left open" in out
    ((call_id, output),) = server.tool_outputs
    assert call_id == "call_slow" and "interrupted" in output
    thread = ip._assistant_magics.session.thread
    first_turn = store_of(ip).turns(thread.id)[0]
    (record,) = store_of(ip).tool_calls(first_turn.id)
    assert record.status == "interrupted"


def test_only_the_tools_offered_in_this_ask_can_run(calc, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}, undeclared=True), Text("Sorry.")
    )
    error, _ = run(calc, "%%ask --tools none\nMeasure Mamezou", capsys)
    assert error is None
    ((_, output),) = outputs_sent(bodies(server)[1])
    assert output == "Unknown tool 'calc_strength'. Available tools: none."


def test_confirm_in_terminal_ipython(server, env, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Approval at a real terminal prompt, as a person answers it in terminal IPython."""
    pexpect = pytest.importorskip("pexpect")
    script = tmp_path / "confirm.ipy"
    script.write_text(
        CALC
        + "\n%load_ext assistant_magic\n"
        + "%config AssistantMagics.view = 'text'\n"
        + "%assistant tools add calc_strength --confirm\n"
        # A script is one cell, so the cell magic is called the way %%ask would be.
        + "get_ipython().run_cell_magic('ask', '-o answer', 'The strength of Mamezou?')\n"
        + "print('ANSWER:', answer)\n"
    )
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_t"),
        Text("530,000, approved."),
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "IPython", "--no-banner", "--colors=nocolor", str(script)],
        env={**os.environ, "HOME": str(tmp_path)},
        encoding="utf-8",
        timeout=60,
    )
    child.expect_exact("Allow the assistant to run calc_strength(name='Mamezou')? [y/N] ")
    child.sendline("y")
    child.expect_exact("ANSWER: 530,000, approved.")
    child.expect(pexpect.EOF)
    assert server.tool_outputs == [("call_t", "530000")]
