"""The key of a request: what it would send, normalised, chained to the response before it.

One function (`normalised`) says what a request is made of for replay; `key` hashes it, and
`differences` names what sets two apart (for the error when `replay only` finds no recording).
Ids the server makes (conversations, responses, files, tool calls) differ on every run and are
left out; a tool call's output stays (a changed output makes the next response another one).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..dialects.interface import PastAsk, ResponseRequest

#: The parent of a thread's first response.
ROOT = "root"
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


def normalised(request: ResponseRequest, dialect: str) -> dict[str, Any]:
    """What the request is made of, without what changes from run to run."""
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
        "earlier": _earlier(request),
    }


def key(parts: dict[str, Any], parent: str) -> str:
    encoded = json.dumps([parent, parts], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def differences(wanted: dict[str, Any], recorded: dict[str, Any]) -> list[str]:
    """What sets a request apart from a recorded one, in words."""
    return [PARTS.get(name, name) for name in PARTS if wanted.get(name) != recorded.get(name)]


def _earlier(request: ResponseRequest) -> Any:
    """The thread so far, for dialects that resend it (the chain covers the others); the
    current ask's rounds and repairs are in the request's own outputs and messages."""
    history = request.history
    if history is None:
        return None
    return [_ask(past) for past in history]


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
