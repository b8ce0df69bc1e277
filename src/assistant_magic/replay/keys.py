"""The key of a request: what it would send, normalised, chained to the response before it.

One function (`normalised`) says what a request is made of for replay; `key` hashes it, and
`differences` names what sets two apart (for the error when `replay only` finds no recording).
Ids the server makes (conversations, responses, files, tool calls) differ on every run and are
left out; a tool call's output stays (a changed output makes the next response another one).

A dialect that resends the thread (Chat Completions) has its earlier asks in its key as one
digest, chained ask by ask (`EarlierDigests`): an ask's key on a thread of 10,000 asks digests
the asks made since the last one, not the thread, and a recording does not hold the thread.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Hashable
from typing import Any

from ..dialects.interface import EarlierAsks, PastAsk, ResponseRequest

#: The parent of a thread's first response.
ROOT = "root"
#: The digest of no earlier asks.
NO_ASKS = ""
#: Digests kept per session (a few hundred bytes each).
DIGESTS_KEPT = 100_000
#: How `differences` names each part of a request, for a person.
PARTS = {
    "dialect": "the dialect",
    "model": "the model",
    "instructions": "the instructions",
    "options": "the options (temperature, output limit)",
    "tools": "the tools offered or their schemas",
    "answer": "the answer's schema",
    "message": "the message",
    "tool_outputs": "a tool's output",
    "attachments": "the attachments",
    "earlier": "the thread's earlier asks",
}


def normalised(
    request: ResponseRequest, dialect: str, digests: EarlierDigests | None = None
) -> dict[str, Any]:
    """What the request is made of, without what changes from run to run; `digests` keeps
    the digests of the threads' earlier asks from one request to the next."""
    return {
        "dialect": dialect,
        "model": request.model,
        "instructions": request.instructions,
        "options": [request.temperature, request.max_output_tokens, request.partial_images],
        "tools": [[s.name, s.description, s.parameters, s.strict] for s in request.tools]
        + [request.tool_choice, sorted(request.hosted_tools)]
        + [server.described() for server in request.mcp_servers],
        "answer": request.answer_format.schema if request.answer_format else None,
        "message": request.user_text,
        "tool_outputs": [output.output for output in request.tool_outputs]
        + [answer.approve for answer in request.approvals],
        "attachments": [_image(image) for image in request.images]
        + [f.filename for f in request.files],
        "earlier": _earlier(request, digests or EarlierDigests()),
    }


def key(parts: dict[str, Any], parent: str) -> str:
    encoded = json.dumps([parent, parts], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def differences(wanted: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """What sets a request apart from a recorded one, in words."""
    return [PARTS.get(name, name) for name in PARTS if wanted.get(name) != recorded.get(name)]


class EarlierDigests:
    """The digest of a thread's asks up to each ask that is over, by the ask's key.

    Each digest hashes the one before it and its ask, so the digest of a thread's earlier asks
    is the last one kept, carried on over the asks made since: the thread is read only as far
    as the newest ask already digested (the whole of it once, at a session's first ask on it).
    A digest is kept only when every ask up to it is over, since only those never change.
    """

    def __init__(self) -> None:
        self._kept: dict[Hashable, str] = {}

    def of(self, earlier: EarlierAsks) -> str:
        digest, newer = NO_ASKS, list[PastAsk]()
        for past in earlier.newest_first():
            kept = self._kept.get(past.key) if past.key is not None else None
            if kept is not None:
                digest = kept
                break
            newer.append(past)
        keeping = True
        for past in reversed(newer):
            digest = _chained(digest, past)
            keeping = keeping and past.key is not None
            if keeping:
                if len(self._kept) >= DIGESTS_KEPT:
                    self._kept.clear()  # a bound, not an LRU: the next ask digests anew
                self._kept[past.key] = digest
        return digest


def _chained(digest: str, past: PastAsk) -> str:
    return _chained_ask(digest, _ask(past))


def _chained_ask(digest: str, ask: Any) -> str:
    encoded = json.dumps(ask, ensure_ascii=False, default=str)
    return hashlib.sha256(f"{digest}{encoded}".encode()).hexdigest()


def upgraded(parts: dict[str, Any]) -> dict[str, Any] | None:
    """Parts recorded before recordings version 3, which held a resent thread whole under
    "earlier" (each ask as `_ask` gives it, the ask being made last), with that thread as
    its digest; None when they hold no such thread."""
    earlier = parts.get("earlier")
    if not isinstance(earlier, list) or not earlier or not isinstance(earlier[0], list):
        return None
    *before, current = earlier
    digest = NO_ASKS
    for ask in before:  # as decoded from JSON, each encodes as it did when recorded
        digest = _chained_ask(digest, ask)
    return {**parts, "earlier": [digest, current]}


def _earlier(request: ResponseRequest, digests: EarlierDigests) -> Any:
    """The thread so far, for dialects that resend it (the chain of keys covers the others):
    the earlier asks' digest, and the ask being made as far as it went (its tool rounds and
    repairs)."""
    history = request.history
    if history is None:
        return None
    return [digests.of(history.earlier), _ask(history.current)]


def _ask(past: PastAsk) -> Any:
    rounds = [
        [[c.name, c.arguments] for c in round_.calls] + [o.output for o in round_.outputs]
        for round_ in past.rounds
    ]
    repairs = [[r.answer, r.request] for r in past.repairs]
    return [past.user_text, rounds, repairs, past.answer]


def _image(image: Any) -> str:
    data = getattr(image, "data", b"")
    return hashlib.sha256(data if isinstance(data, bytes) else str(data).encode()).hexdigest()
