"""The chat dialect: the thread replayed as messages, within the context window."""

from __future__ import annotations

from assistant_magic.dialects.chat import ask_messages, fit_window
from assistant_magic.dialects.interface import PastAsk, ResponseRequest, ToolOutput, ToolRound
from assistant_magic.events import ToolCallRequested
from assistant_magic.tokens import count_tokens


def measured_ask(i: int) -> PastAsk:
    call = ToolCallRequested(f"call_{i}", "calc_strength", '{"name": "Mamezou"}')
    return PastAsk(
        user_text=f"question {i} " + "x" * 400,
        rounds=(ToolRound(calls=(call,), outputs=(ToolOutput(f"call_{i}", "530000"),)),),
        answer=f"answer {i}",
    )


def test_an_ask_with_tools_becomes_paired_messages() -> None:
    messages = ask_messages(measured_ask(1), images=())
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    call = messages[1]["tool_calls"][0]
    assert messages[1]["content"] == "", "llama.cpp's server refuses a null content"
    assert call == {
        "id": "call_1",
        "type": "function",
        "function": {"name": "calc_strength", "arguments": '{"name": "Mamezou"}'},
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "530000"}
    assert messages[3] == {"role": "assistant", "content": "answer 1"}


def test_the_oldest_whole_turns_are_left_out_to_fit() -> None:
    history = (*(measured_ask(i) for i in range(10)), PastAsk("the question now"))
    full, dropped = fit_window(ResponseRequest("m", "Be brief.", None, history=history))
    assert dropped == 0 and len(full) == 1 + 10 * 4 + 1
    window = 1_000
    fitted, dropped = fit_window(
        ResponseRequest("m", "Be brief.", None, history=history, context_window=window)
    )
    assert dropped > 0
    assert count_tokens(fitted) <= window * 0.75
    assert fitted[0] == {"role": "system", "content": "Be brief."}
    assert fitted[-1] == {"role": "user", "content": "the question now"}
    # Whole asks only: every tool message still follows the assistant message that called it.
    first_kept = fitted[1]
    assert first_kept["role"] == "user" and first_kept["content"].startswith(f"question {dropped} ")
    roles = [m["role"] for m in fitted[1:-1]]
    assert roles == ["user", "assistant", "tool", "assistant"] * (10 - dropped)


def test_the_current_ask_is_never_left_out() -> None:
    history = (measured_ask(0), PastAsk("q " + "y" * 5_000))
    fitted, dropped = fit_window(ResponseRequest("m", "", None, history=history, context_window=10))
    assert dropped == 1
    assert fitted == [{"role": "user", "content": "q " + "y" * 5_000}]
