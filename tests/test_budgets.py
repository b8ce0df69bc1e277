"""Budgets on tokens and tool calls, per ask and per thread: when one is hit the ask ends with a
final answer and a note, never an exception (a spent budget must not stop "Run all")."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

CALC = '''
calls = []

def calc_strength(name: str) -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
    """
    calls.append(name)
    return 530_000 if name == "Mamezou" else 9001
'''


def usage(total: int) -> dict[str, int]:
    return {"input_tokens": total - 10, "output_tokens": 10, "total_tokens": total}


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


@pytest.fixture
def tools(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    ip.run_cell(CALC)
    run(ip, "%assistant tools add calc_strength", capsys)
    return ip


def two_calls(step: int = 1) -> ToolCalls:
    return ToolCalls(
        [
            FunctionCall("calc_strength", {"name": "Mamezou"}, call_id=f"call_m{step}"),
            FunctionCall("calc_strength", {"name": "Goku"}, call_id=f"call_g{step}"),
        ],
        usage=usage(40),
    )


def test_calls_beyond_the_ask_budget_are_not_run(tools, server, capsys) -> None:  # type: ignore[no-untyped-def]
    tools.run_line_magic("config", "AssistantMagics.max_ask_tool_calls = 1")
    server.script(two_calls(), Text("Mamezou: 530,000; Goku unknown."))

    error, out = run(tools, "%%ask -o answer\nBoth?", capsys)

    assert error is None
    assert tools.user_ns["calls"] == ["Mamezou"]
    assert tools.user_ns["answer"] == "Mamezou: 530,000; Goku unknown."
    outputs = dict(server.tool_outputs)
    assert outputs["call_m1"] == "530000"
    assert outputs["call_g1"] == (
        "Not run: tool-call budget spent (1 per ask (max_ask_tool_calls)). "
        "Answer with what you have."
    )
    assert bodies(server)[1]["tool_choice"] == "none", "the final answer comes without tools"
    assert (
        "tool-call budget spent (1 per ask (max_ask_tool_calls)): asking for a final answer" in out
    )
    assert "⊘ calc_strength(name='Goku')" in out
    assert "✓ completed" in out


def test_a_spent_token_budget_asks_for_the_answer_instead_of_more_tools(  # type: ignore[no-untyped-def]
    tools, server, capsys
) -> None:
    tools.run_line_magic("config", "AssistantMagics.max_ask_tokens = 30")
    server.script(two_calls(), Text("From what I know: strong.", usage=usage(25)))

    error, out = run(tools, "%%ask\nBoth?", capsys)

    assert error is None
    assert tools.user_ns["calls"] == [], "the step that spent the budget runs no tool"
    assert all(
        o.startswith("Not run: token budget spent (40 of 30") for _, o in server.tool_outputs
    )
    assert bodies(server)[1]["tool_choice"] == "none"
    assert "this ask used 65 tokens, over its budget of 30 per ask (max_ask_tokens)" in out


def test_a_thread_budget_spans_asks_and_a_spent_one_sends_nothing(  # type: ignore[no-untyped-def]
    ip, server, capsys
) -> None:
    ip.run_line_magic("config", "AssistantMagics.max_thread_tokens = 100")
    server.script(Text("One.", usage=usage(60)), Text("Two.", usage=usage(60)))
    assert run(ip, "%%ask\nOne", capsys)[0] is None
    error, out = run(ip, "%%ask\nTwo", capsys)
    assert error is None and "Two." in out
    assert "over its budget of 40 left of this thread's 100 (max_thread_tokens)" in out

    error, out = run(ip, "%%ask -o third\nThree", capsys)

    assert error is None, "a spent budget never stops Run all"
    assert out == (
        "Not sent: the token budget left of this thread's 100 (max_thread_tokens) is spent. "
        "Start a new thread (%assistant thread new) or raise the limit with %config "
        "AssistantMagics.max_thread_tokens.\n"
    )
    assert ip.user_ns["third"] == ""
    assert len(bodies(server)) == 2
    run(ip, "%assistant thread new", capsys)
    server.script(Text("Fresh."))
    assert "Fresh." in run(ip, "%%ask\nFour", capsys)[1]


def test_a_thread_tool_call_budget_counts_earlier_asks(tools, server, capsys) -> None:  # type: ignore[no-untyped-def]
    tools.run_line_magic("config", "AssistantMagics.max_thread_tool_calls = 2")
    server.script(two_calls(1), Text("Done."), two_calls(2), Text("No more tools."))
    run(tools, "%%ask\nFirst", capsys)
    error, out = run(tools, "%%ask\nSecond", capsys)
    assert error is None and "No more tools." in out
    assert tools.user_ns["calls"] == ["Mamezou", "Goku"], "the second ask ran none"
    assert "tool-call budget spent (0 left of this thread's 2" in out


def test_no_limits_by_default(tools, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(two_calls(1), two_calls(2), Text("Done."))
    error, out = run(tools, "%%ask\nGo", capsys)
    assert error is None and "budget" not in out
    assert len(tools.user_ns["calls"]) == 4
