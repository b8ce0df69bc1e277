"""Running the calls the model asks for, end to end: %%ask over real HTTP with the scripted
server; and async tools inside a running event loop, as in a kernel."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, Text, ToolCalls
from tool_asks import CALC, add_calc_strength, bodies, outputs_sent, run, store_of


@pytest.fixture
def calc(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    return add_calc_strength(ip, capsys)


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

    thread = calc._assistant_magics.assistant.threads.thread
    (turn,) = store_of(calc).asks(thread.id)
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
    assert type(error).__name__ == "AskInterrupted"
    assert "⊘ slow() → interrupted" in out
    assert server.tool_outputs == [], "answered when the thread is next used, not before"
    error, out = run(ip, "%%ask\nAre you there?", capsys)
    assert error is None and "Still here." in out
    # The conversation held the call open: the next ask answered it first, so it was accepted.
    assert "answered 1 tool call the last ask left open" in out
    ((call_id, output),) = server.tool_outputs
    assert call_id == "call_slow" and "interrupted" in output
    thread = ip._assistant_magics.assistant.threads.thread
    first_turn = store_of(ip).asks(thread.id)[0]
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


IN_A_RUNNING_LOOP = '''
import asyncio

from assistant_magic.events import ToolCallRequested
from assistant_magic.tools import ToolBox


async def where() -> int:
    """Which loop runs this call."""
    return id(asyncio.get_running_loop())


def run_step() -> list[str]:
    box = ToolBox(namespace={"where": where}, approve=lambda tool, display: True)
    tools, _ = box.resolve(["where"])
    calls = [ToolCallRequested(f"call_{n}", "where", "{}") for n in range(2)]
    finished = box.run(calls, {tool.name: tool for tool in tools}, lambda event: None)
    return [call.output for call in finished]


print("no loop:", len(run_step()), hasattr(asyncio, "_nest_patched"))


async def cell() -> None:
    # As in a kernel: synchronous code, run by the loop, runs the step.
    outputs = run_step()
    kernel_loop = str(id(asyncio.get_running_loop()))
    print("in a loop:", outputs == [kernel_loop, kernel_loop], hasattr(asyncio, "_nest_patched"))


asyncio.run(cell())
'''


def test_async_tools_run_on_the_loop_already_running() -> None:
    """Inside a kernel's running loop, async tools run on that loop (nest_asyncio patches it,
    process-wide, so it runs in a process of its own); with no loop running nothing is patched."""
    out = subprocess.run(
        [sys.executable, "-c", IN_A_RUNNING_LOOP], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["no loop: 2 False", "in a loop: True True"]
