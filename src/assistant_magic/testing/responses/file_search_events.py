"""The stream events of a :class:`FileSearch` step in the Responses API.

The step opens like a text turn (``response.created``, ``response.in_progress``), then, at the next
``output_index``::

    response.output_item.added            file_search_call fs_..., status in_progress,
                                          queries [], results null
    response.file_search_call.in_progress
    response.file_search_call.searching
    response.file_search_call.completed
    response.output_item.done             status completed, queries, results (null unless the
                                          request's include has file_search_call.results)

then, given ``text``, a message as in a text turn whose ``file_citation`` annotations (``file_id``,
``filename``, ``index`` - a character index into the text, whatever the spec's description says)
are announced with ``response.output_text.annotation.added`` right after the delta that reaches
their index, and ends with ``response.completed``. What the step finds and cites is its
:class:`~..search_plan.SearchPlan`.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping, Sequence
from typing import Any

from ..chunking import Sleep, split_words
from ..hosted_steps import FileSearch
from ..search_plan import SearchPlan
from ..wire import Event
from .events import (
    Numbering,
    OpenMessage,
    close_item,
    close_message,
    complete,
    open_hosted_call,
    open_message,
    stream_text,
)
from .response import Turn


def file_search_events(
    turn: Turn, reply: FileSearch, plan: SearchPlan, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one file search step, updating ``turn``."""
    event = Numbering()
    opened = yield from open_hosted_call(
        turn, event, "file_search_call", "fs", queries=[], results=None
    )
    yield event("response.file_search_call.searching", **opened.where)
    if delay > 0:
        sleep(delay)
    if turn.is_final:
        return  # cancelled meanwhile
    yield event("response.file_search_call.completed", **opened.where)
    done = {**opened.item, "status": "completed", "queries": plan.queries, "results": plan.results}
    if not (yield from close_item(turn, event, opened, done)):
        return

    said = [*plan.queries]
    if reply.text:
        message = yield from open_message(turn, event)
        pieces = split_words(reply.text)
        streamed = yield from _stream_cited_text(
            turn, event, message, pieces, plan.citations, delay=delay, sleep=sleep
        )
        if streamed is None:
            return
        text, announced = streamed
        closed = yield from close_message(
            turn, event, message, text, annotations=plan.citations, announced=announced
        )
        if not closed:
            return
        said.append(text)
    yield from complete(turn, event, reply.usage, said)


def _stream_cited_text(
    turn: Turn,
    event: Numbering,
    message: OpenMessage,
    pieces: Sequence[str],
    citations: Sequence[Mapping[str, Any]],
    *,
    delay: float,
    sleep: Sleep,
) -> Generator[Event, None, tuple[str, int] | None]:
    """Text deltas, each followed by the annotations its text reaches; the text and how many
    annotations were announced, or None if the turn ended meanwhile."""
    deltas = stream_text(turn, event, message, pieces, delay=delay, sleep=sleep)
    announced = length = 0
    while True:
        try:
            delta = next(deltas)
        except StopIteration as stop:
            text: str | None = stop.value
            break
        yield delta
        length += len(delta["delta"])
        while announced < len(citations) and citations[announced]["index"] <= length:
            yield event(
                "response.output_text.annotation.added",
                **message.where,
                annotation_index=announced,
                annotation=dict(citations[announced]),
            )
            announced += 1
    return None if text is None else (text, announced)
