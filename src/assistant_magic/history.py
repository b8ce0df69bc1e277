"""`%assistant history [N]`: the thread's recent asks, one short block each.

A glance back, not a transcript (`thread export` writes the whole thread): each ask's question
and answer are cut to a few lines, with how it ended, the model, its tokens and its tool calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .view import status_label, usage_text

if TYPE_CHECKING:
    from .store import AskRecord, ToolCallRecord

#: Characters of a question or an answer shown.
SHOWN = 300


def recent_asks(asks: Sequence[AskRecord], calls: Mapping[int, Sequence[ToolCallRecord]]) -> str:
    return "\n\n".join(_ask(ask, calls.get(ask.id, ())) for ask in asks)


def _ask(ask: AskRecord, calls: Sequence[ToolCallRecord]) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(ask.started))
    facts = [f"#{ask.seq}", when, status_label(ask.status), ask.model]
    if ask.usage is not None:
        facts.append(usage_text(ask.usage))
    if calls:
        names = ", ".join(dict.fromkeys(call.name for call in calls))
        facts.append(f"{len(calls)} tool call{'s' if len(calls) > 1 else ''} ({names})")
    lines = [" · ".join(facts), f"  you: {_cut(ask.user_text)}"]
    answer = _cut(ask.answer_text) if ask.answer_text else f"({ask.error or 'no answer'})"
    lines.append(f"  assistant: {answer}")
    return "\n".join(lines)


def _cut(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN else f"{flat[: SHOWN - 1]}… ({len(text):,} characters)"
