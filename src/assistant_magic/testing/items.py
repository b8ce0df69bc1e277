"""Conversation items: turning request input into stored items, and the rules that read them.

Input arrives in the loose shapes the API accepts (a bare string, ``{"role", "content": "..."}``);
stored items take the strict shapes the API returns (ids, ``status``, content parts).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

from .wire import scripted_failure

Item = dict[str, Any]

#: Which output item answers which call item, by ``call_id``. The real API wants each call in
#: the context answered exactly once before the next response: see :func:`unanswered_call`,
#: :func:`orphan_output` and :func:`repeated_output`.
CALL_ANSWERS: dict[str, str] = {"function_call": "function_call_output"}

# Stored ids follow the real prefixes, so code that sniffs them behaves the same.
_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "code_interpreter_call": "ci",
    "image_generation_call": "ig",
    "file_search_call": "fs",
}
_SUPPORTED_TYPES = frozenset(_ID_PREFIXES)


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def new_call_id() -> str:
    """A model-made ``call_id`` in the real shape: ``call_`` and 24 letters or digits."""
    alphabet = string.ascii_letters + string.digits
    return "call_" + "".join(secrets.choice(alphabet) for _ in range(24))


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
    elif kind == "function_call_output" and isinstance(item.get("output"), list):
        stored["output"] = _content_parts("tool", item.get("output"))
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
        elif part.get("type") == "input_image" and part.get("detail") is None:
            part["detail"] = "auto"  # optional in a tool output, always reported
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


def output_text(output: object) -> str:
    """A tool output as text: a string as it is, content parts as their text parts joined."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return message_text({"content": output})
    return "" if output is None else str(output)


def _calls_and_answers(
    items: Iterable[Mapping[str, Any]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Calls (keyed by the answer type they expect) and answers, as (type, call_id), in order."""
    calls: list[tuple[str, str]] = []
    answers: list[tuple[str, str]] = []
    for item in items:
        kind = item.get("type")
        if kind in CALL_ANSWERS:
            calls.append((CALL_ANSWERS[kind], str(item.get("call_id"))))
        elif kind in CALL_ANSWERS.values():
            answers.append((str(kind), str(item.get("call_id"))))
    return calls, answers


def unanswered_call(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool call with no matching output among ``items``."""
    calls, answers = _calls_and_answers(items)
    answered = set(answers)
    return next((call[1] for call in calls if call not in answered), None)


def orphan_output(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool output that answers no call among ``items``."""
    calls, answers = _calls_and_answers(items)
    made = set(calls)
    return next((answer[1] for answer in answers if answer not in made), None)


def repeated_output(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool call answered more than once among ``items``."""
    _, answers = _calls_and_answers(items)
    seen: set[tuple[str, str]] = set()
    for answer in answers:
        if answer in seen:
            return answer[1]
        seen.add(answer)
    return None


def repeated_id(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The first item ``id`` that occurs twice among ``items`` (a client re-sending an item the
    context already holds, such as a ``function_call`` next to its output)."""
    seen: set[str] = set()
    for item in items:
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in seen:
                return item_id
            seen.add(item_id)
    return None


def words(text: str) -> int:
    """A rough token count: the usage numbers only need to be plausible and stable."""
    return len(text.split())
