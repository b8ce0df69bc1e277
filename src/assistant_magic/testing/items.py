"""Conversation items: turning request input into stored items, and the rules that read them.

Input arrives in the loose shapes the API accepts (a bare string, ``{"role", "content": "..."}``);
stored items take the strict shapes the API returns (ids, ``status``, content parts).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from .wire import scripted_failure

Item = dict[str, Any]

#: Which output item answers which call item, by ``call_id``. A call with no answer in the
#: conversation blocks the next response, as the real API does.
CALL_ANSWERS: dict[str, str] = {"function_call": "function_call_output"}

# Stored ids follow the real prefixes, so code that sniffs them behaves the same.
_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco"}
_SUPPORTED_TYPES = frozenset(_ID_PREFIXES)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def input_items(raw: object) -> list[Item]:
    """The request's ``input`` (string or list of items) as stored items, in order."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [stored_item({"type": "message", "role": "user", "content": raw})]
    if isinstance(raw, list):
        return [stored_item(item) for item in raw if isinstance(item, Mapping)]
    raise scripted_failure(400, "'input' must be a string or a list of items.", param="input")


def stored_item(item: Mapping[str, Any]) -> Item:
    """An input item in the shape the API returns when listing conversation items."""
    kind = item.get("type", "message")
    if kind not in _SUPPORTED_TYPES:
        raise scripted_failure(
            400, f"input items of type '{kind}' are not supported yet.", param="input"
        )
    stored: Item = {k: v for k, v in item.items() if v is not None}
    stored["type"] = kind
    stored.setdefault("id", new_id(_ID_PREFIXES[kind]))
    stored.setdefault("status", "completed")
    if kind == "message":
        stored["content"] = _content_parts(str(item.get("role")), item.get("content"))
    return stored


def _content_parts(role: str, content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if role == "assistant":
            return [output_text_part(content)]
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        return []
    parts = [dict(part) for part in content if isinstance(part, Mapping)]
    for part in parts:
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
    return parts


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_text(item: Mapping[str, Any]) -> str:
    """The text of a message item, its text parts joined."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    texts = [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, Mapping) and part.get("type") in ("input_text", "output_text", "text")
    ]
    return "".join(texts)


def last_user_text(items: Iterable[Mapping[str, Any]]) -> str | None:
    found = None
    for item in items:
        if item.get("type", "message") == "message" and item.get("role") == "user":
            found = message_text(item)
    return found


def unanswered_call(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool call with no matching output among ``items``."""
    calls: list[tuple[str, str]] = []
    answered: set[tuple[str, str]] = set()
    for item in items:
        kind = item.get("type")
        if kind in CALL_ANSWERS:
            calls.append((CALL_ANSWERS[kind], str(item.get("call_id"))))
        elif kind in CALL_ANSWERS.values():
            answered.add((str(kind), str(item.get("call_id"))))
    for call in calls:
        if call not in answered:
            return call[1]
    return None


def words(text: str) -> int:
    """A rough token count: the usage numbers only need to be plausible and stable."""
    return len(text.split())
