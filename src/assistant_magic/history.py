"""`%assistant history [N]`: the thread's recent turns, one short block each.

A glance back, not a transcript (`thread export` writes the whole thread): each turn's question
and answer are cut to a few lines, with how it ended, the model, its tokens and its tool calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .view import status_label, usage_text

if TYPE_CHECKING:
    from .store import ToolCallRecord, TurnRecord

#: Characters of a question or an answer shown.
SHOWN = 300


def recent_turns(turns: Sequence[TurnRecord], calls: Mapping[int, Sequence[ToolCallRecord]]) -> str:
    return "\n\n".join(_turn(turn, calls.get(turn.id, ())) for turn in turns)


def _turn(turn: TurnRecord, calls: Sequence[ToolCallRecord]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(turn.started))
    facts = [f"#{turn.seq}", when, status_label(turn.status), turn.model]
    if turn.usage is not None:
        facts.append(usage_text(turn.usage))
    if calls:
        names = ", ".join(dict.fromkeys(call.name for call in calls))
        facts.append(f"{len(calls)} tool call{'s' if len(calls) > 1 else ''} ({names})")
    lines = [" · ".join(facts), f"  you: {_cut(turn.user_text)}"]
    answer = _cut(turn.answer_text) if turn.answer_text else f"({turn.error or 'no answer'})"
    lines.append(f"  assistant: {answer}")
    return "\n".join(lines)


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN else f"{flat[: SHOWN - 1]}… ({len(text):,} characters)"
