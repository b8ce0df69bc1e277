"""The thread as Chat Completions messages, fitted to the model's context window.

An ask becomes the user's message, each round of tool calls with its results, and the answer;
earlier asks are read newest first and only until the window is full, so the cost of a request
follows the window, not the thread's length. An ask that is over never changes, so its messages,
their JSON and their token count are made once and kept by its store key (`SentAsk`): a request
on a long thread joins kept JSON instead of rebuilding and encoding a window of messages. Each
request's window is kept too (`Windows`), with running token counts: the next request reads the
asks made since, then cuts the rest from the window kept, instead of walking it ask by ask.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, NamedTuple

from ..tokens import count_tokens
from .interface import EarlierAsks, PastAsk, ResponseRequest
from .openai_sdk import encode_json

Message = dict[str, Any]
#: Room kept free in the window for the answer.
ANSWER_SHARE = 0.25
#: Earlier asks kept as sent, per dialect: a window holds a few hundred, and each costs about
#: twice its text (its messages and their JSON), so as many as `earlier_asks` remembers.
SENT_KEPT = 20_000
#: Windows of past requests kept per dialect (one per request, a few kilobytes each).
WINDOWS_KEPT = 256
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
    """An ask as a request carries it: its messages, their JSON, and their token count (made
    when first asked for: the ask being made is counted only against a window's budget)."""

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


@dataclass(frozen=True)
class Window:
    """The earlier asks a request carried, newest first, from the thread's newest then: with
    their running token counts, and whether they reach back to the thread's start."""

    asks: list[SentAsk]
    totals: list[int]
    start: bool


class Windows:
    """The windows of past requests, by the store key of their newest earlier ask.

    The next request on the thread reads only the asks made since (usually one) until it meets
    that ask, and cuts the rest of its window from the one kept there by the running counts: a
    long thread's request does not walk its window ask by ask again.
    """

    def __init__(self) -> None:
        self._by_head: dict[Hashable, Window] = {}

    def get(self, key: Hashable) -> Window | None:
        return self._by_head.get(key)

    def keep(self, key: Hashable, window: Window) -> None:
        if len(self._by_head) >= WINDOWS_KEPT:
            self._by_head.clear()  # a bound, not an LRU: the next request walks anew
        self._by_head[key] = window


def fit_window(
    request: ResponseRequest,
    sent: MutableMapping[Hashable, SentAsk] | None = None,
    windows: Windows | None = None,
) -> Fitted:
    """The messages for the request: the thread, but for the oldest asks beyond the window.

    Earlier asks are read newest first and only until the window is full, so the cost of a
    request follows the window, not the thread's length (not even to count what is left out);
    ``sent`` keeps the asks that are over as sent, by their store key, and ``windows`` the
    windows of past requests (see `Windows`)."""
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    history = request.history
    if history is None:
        return Fitted(system, 0, True, encode_messages(system))
    current = SentAsk.of(history.current, images=request.images)
    budget = int(request.context_window * (1 - ANSWER_SHARE)) if request.context_window else 0
    room = budget - count_tokens(system) - current.counted() if budget else None
    kept, whole = _earlier(history.earlier, room, sent, windows)
    asks = [*reversed(kept), current]
    messages = [*system, *chain.from_iterable([ask.messages for ask in asks])]
    parts = [encode_messages(system)] if system else []
    parts += [ask.json for ask in asks]
    return Fitted(messages, len(kept), whole, ",".join(parts))


def _earlier(
    earlier: EarlierAsks,
    room: int | None,
    sent: MutableMapping[Hashable, SentAsk] | None,
    windows: Windows | None,
    *,
    look: bool = True,
) -> tuple[list[SentAsk], bool]:
    """The earlier asks that fit in ``room`` tokens (None: all), newest first, and whether
    that is all of them; with ``look``, from the window of a past request where one is met."""
    asks: list[SentAsk] = []
    totals: list[int] = []
    keys: list[Hashable | None] = []
    total = 0
    lookup = windows.get if look and windows is not None else None
    for past in earlier.newest_first():
        window = lookup(past.key) if lookup is not None and past.key is not None else None
        if window is not None:
            return _joined(asks, totals, keys, window, room, windows, earlier, sent)
        ask = _sent(past, sent)
        total += ask.counted()  # also without a room: a window kept serves any room
        asks.append(ask)  # the first that does not fit too: the next request may fit it
        totals.append(total)
        keys.append(past.key)
        if room is not None and total > room:
            _keep(windows, keys, Window(asks, totals, start=False))
            return asks[:-1], False
    _keep(windows, keys, Window(asks, totals, start=True))
    return asks, True


def _joined(
    asks: list[SentAsk],
    totals: list[int],
    keys: list[Hashable | None],
    window: Window,
    room: int | None,
    windows: Windows | None,
    earlier: EarlierAsks,
    sent: MutableMapping[Hashable, SentAsk] | None,
) -> tuple[list[SentAsk], bool]:
    """The asks read since `window`'s newest, then as many of `window`'s as fit; the thread
    is read anew when all of `window`'s fit and it does not reach the thread's start."""
    total = totals[-1] if totals else 0
    fits = len(window.asks) if room is None else bisect_right(window.totals, room - total)
    if fits == len(window.asks) and not window.start:
        return _earlier(earlier, room, sent, windows, look=False)
    whole = fits == len(window.asks)
    if keys:  # else the request starts where `window` does: it stays as long as it is
        upto = fits if whole else fits + 1  # one ask past what fits, as `window` does
        running = [*totals, *(total + part for part in window.totals[:upto])]
        _keep(windows, keys, Window([*asks, *window.asks[:upto]], running, start=whole))
    return [*asks, *window.asks[:fits]], whole


def _keep(windows: Windows | None, keys: list[Hashable | None], window: Window) -> None:
    """Keep `window` under its newest ask's key, if every ask read for it is over (only
    those never change)."""
    if windows is not None and keys and all(key is not None for key in keys):
        windows.keep(keys[0], window)


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
