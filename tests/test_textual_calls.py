"""Tool calls a server passed on as the answer's text (small local models)."""

from __future__ import annotations

import json

import pytest

from assistant_magic.dialects.textual_calls import call_in, textual_calls
from assistant_magic.events import Event, ResponseFinished, StatusChanged, TextDelta
from assistant_magic.events import ToolCallRequested as Requested

OFFERED = {"calc_strength"}
CALL = '{"name": "calc_strength", "arguments": {"name": "Mamezou"}}'


@pytest.mark.parametrize(
    "text",
    [
        CALL,
        f"\n  {CALL}  \n",
        f"```json\n{CALL}\n```",
        f"```\n{CALL}\n```",
        f"<tool_call>\n{CALL}\n</tool_call>",
        '{"name": "calc_strength", "arguments": "{\\"name\\": \\"Mamezou\\"}"}',
        '{"name": "calc_strength", "parameters": {"name": "Mamezou"}}',
    ],
)
def test_an_answer_that_is_exactly_a_call_of_an_offered_tool_is_that_call(text: str) -> None:
    call = call_in(text, OFFERED)
    assert call is not None and call.name == "calc_strength"
    assert json.loads(call.arguments) == {"name": "Mamezou"}
    assert call.call_id.startswith("call_")


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "rm_rf", "arguments": {}}',  # not offered
        f"Sure! {CALL}",  # words around it: an answer that shows a call
        '{"name": "calc_strength", "arguments": {}, "extra": 1}',
        "[1, 2, 3]",
        "{" * 10_000 + "}" * 10_000,
        "The battle strength of Mamezou is 530,000.",
    ],
)
def test_anything_else_is_an_answer(text: str) -> None:
    assert call_in(text, OFFERED) is None


def stream(text: str, size: int = 5) -> list[Event]:
    deltas: list[Event] = [TextDelta(text[i : i + size]) for i in range(0, len(text), size)]
    return [StatusChanged("in_progress"), *deltas, ResponseFinished("completed", text)]


def test_a_call_is_held_back_and_never_shown_as_an_answer() -> None:
    events = list(textual_calls(stream(CALL), OFFERED))
    assert not any(isinstance(event, TextDelta) for event in events)
    *_, requested, end = events
    assert isinstance(requested, Requested) and isinstance(end, ResponseFinished)
    assert end.text == "" and end.tool_calls == (requested,)


def test_an_answer_streams_as_it_comes_and_a_false_start_is_released() -> None:
    answer = list(textual_calls(stream("Mamezou: 530,000."), OFFERED))
    assert answer == stream("Mamezou: 530,000."), "nothing held: it did not look like a call"
    braces = '{"a": 1} is a dict.'
    shown = list(textual_calls(stream(braces), OFFERED))
    assert "".join(e.text for e in shown if isinstance(e, TextDelta)) == braces
    assert shown[-1] == ResponseFinished("completed", braces)


def test_without_tools_nothing_is_held() -> None:
    assert list(textual_calls(stream(CALL), set())) == stream(CALL)
