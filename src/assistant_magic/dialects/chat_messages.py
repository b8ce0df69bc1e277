"""The thread as Chat Completions messages, fitted to the model's context window.

An ask becomes the user's message, each round of tool calls with its results, and the answer;
earlier asks are read newest first and only until the window is full, so the cost of a request
follows the window, not the thread's length. An ask that is over never changes, so its messages,
their JSON and their token count are made once and kept by its store key (`SentAsk`): a request
on a long thread joins kept JSON instead of rebuilding and encoding a window of messages.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..tokens import count_tokens
from .interface import PastAsk, ResponseRequest
from .openai_sdk import encode_json

Message = dict[str, Any]
#: Room kept free in the window for the answer.
ANSWER_SHARE = 0.25
#: Earlier asks kept as sent, per dialect: a window holds a few hundred, and each costs about
#: twice its text (its messages and their JSON), so as many as `earlier_asks` remembers.
SENT_KEPT = 20_000
#: The text beside pictures that tools returned, sent as a user message after their results.
TOOL_PICTURES = "The pictures returned by the tool calls above."


class Fitted(NamedTuple):
    """A request's messages; how many earlier asks they hold, whether that is all; and the
    messages as JSON (the array's items, without its brackets)."""

    messages: list[Message]
    kept: int
    whole: bool
    messages_json: str


@dataclass(slots=True)
class SentAsk:
    """An ask as a request carries it: its messages, their JSON, and (once asked for, since
    only a window's budget needs it) their token count."""

    messages: list[Message]
    json: str
    tokens: int | None = None

    @classmethod
    def of(cls, ask: PastAsk, images: Iterable[Any] = ()) -> SentAsk:
        messages = ask_messages(ask, images)
        return cls(messages, encode_messages(messages))

    def counted(self) -> int:
        if self.tokens is None:
            self.tokens = count_tokens(self.messages)
        return self.tokens


def fit_window(
    request: ResponseRequest, sent: MutableMapping[Hashable, SentAsk] | None = None
) -> Fitted:
    """The messages for the request: the thread, but for the oldest asks beyond the window.

    Earlier asks are read newest first and only until the window is full, so the cost of a
    request follows the window, not the thread's length (not even to count what is left out);
    ``sent`` keeps the asks that are over as sent, by their store key."""
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    history = request.history
    if history is None:
        return Fitted(system, 0, True, encode_messages(system))
    current = SentAsk.of(history.current, images=request.images)
    budget = int(request.context_window * (1 - ANSWER_SHARE)) if request.context_window else 0
    used = count_tokens(system) + current.counted() if budget else 0
    kept: list[SentAsk] = []
    whole = True
    for past in history.earlier.newest_first():
        ask = _sent(past, sent)
        if budget:
            used += ask.counted()
            if used > budget:
                whole = False
                break
        kept.append(ask)
    asks = [*reversed(kept), current]
    messages = [*system, *(message for ask in asks for message in ask.messages)]
    parts = [encode_messages(system)] if system else []
    parts += (ask.json for ask in asks)
    return Fitted(messages, len(kept), whole, ",".join(parts))


def _sent(past: PastAsk, sent: MutableMapping[Hashable, SentAsk] | None) -> SentAsk:
    if sent is None or past.key is None:
        return SentAsk.of(past)
    ask = sent.get(past.key)
    if ask is None:
        if len(sent) >= SENT_KEPT:
            sent.clear()  # a bound, not an LRU: a thread this long refills what it reads
        ask = sent[past.key] = SentAsk.of(past)
    return ask


def encode_messages(messages: list[Message]) -> str:
    """Messages as the items of a JSON array, spelled as the SDK spells a request body."""
    return encode_json(messages)[1:-1]


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
