"""The thread as Chat Completions messages, fitted to the model's context window.

An ask becomes the user's message, each round of tool calls with its results, and the answer;
earlier asks are read newest first and only until the window is full, so the cost of a request
follows the window, not the thread's length.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping, Sequence
from typing import Any, NamedTuple

from ..tokens import count_tokens
from .interface import PastAsk, ResponseRequest

Message = dict[str, Any]
#: Room kept free in the window for the answer.
ANSWER_SHARE = 0.25
#: Token counts of past asks kept per dialect (a few bytes each).
SIZES_KEPT = 100_000
#: The text beside pictures that tools returned, sent as a user message after their results.
TOOL_PICTURES = "The pictures returned by the tool calls above."


class Fitted(NamedTuple):
    """A request's messages; how many earlier asks they hold, and whether that is all."""

    messages: list[Message]
    kept: int
    whole: bool


def fit_window(request: ResponseRequest, sizes: MutableMapping[int, int] | None = None) -> Fitted:
    """The messages for the request: the thread, but for the oldest asks beyond the window.

    Earlier asks are read newest first and only until the window is full, so the cost of a
    request follows the window, not the thread's length (not even to count what is left out);
    ``sizes`` caches the token counts of asks that are over, by their store key."""
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    history = request.history
    if history is None:
        return Fitted(system, 0, True)
    current = ask_messages(history.current, images=request.images)
    budget = int(request.context_window * (1 - ANSWER_SHARE)) if request.context_window else 0
    used = count_tokens(system) + count_tokens(current) if budget else 0
    kept: list[list[Message]] = []
    whole = True
    for past in history.earlier.newest_first():
        messages = ask_messages(past, images=())
        if budget:
            used += _size(past, messages, sizes)
            if used > budget:
                whole = False
                break
        kept.append(messages)
    earlier = [message for messages in reversed(kept) for message in messages]
    return Fitted([*system, *earlier, *current], len(kept), whole)


def _size(past: PastAsk, messages: list[Message], sizes: MutableMapping[int, int] | None) -> int:
    if sizes is None or past.key is None:
        return count_tokens(messages)
    if past.key not in sizes:
        if len(sizes) >= SIZES_KEPT:
            sizes.clear()  # a bound, not an LRU: a thread this long refills what it reads
        sizes[past.key] = count_tokens(messages)
    return sizes[past.key]


def ask_messages(ask: PastAsk, images: Iterable[Any]) -> list[Message]:
    """An ask as chat messages: the question, each round of calls and results, each answer
    sent back for repair with the request that followed it, the answer."""
    messages: list[Message] = [_user_message(ask.user_text, list(images))]
    for round_ in ask.rounds:
        # "" rather than null: OpenAI takes either, llama.cpp's server only a string.
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in round_.calls
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": output.call_id, "content": output.output}
            for output in round_.outputs
        ]
        pictures = [image for output in round_.outputs for image in output.images]
        if pictures:
            # Tool messages carry text only, so the pictures follow as the user's, right after.
            messages.append(_user_message(TOOL_PICTURES, pictures))
    for repair in ask.repairs:
        messages.append({"role": "assistant", "content": repair.answer})
        messages.append({"role": "user", "content": repair.request})
    if ask.answer:
        messages.append({"role": "assistant", "content": ask.answer})
    return messages


def _user_message(text: str, pictures: Sequence[Any]) -> Message:
    if not pictures:
        return {"role": "user", "content": text}
    parts = [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in pictures]
    return {"role": "user", "content": [{"type": "text", "text": text}, *parts]}
