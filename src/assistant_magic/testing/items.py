"""The item vocabulary every dialect reads requests as: ids, call/answer pairs, their texts.

A chat request's messages and an Assistants thread's messages are read as Responses items (see
``chat.items`` and ``assistants.objects``), so reply factories, usage estimates and tool output
records read every dialect alike.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from typing import Any

Item = dict[str, Any]

#: Which output item answers which call item, by ``call_id``. The real API wants each call in
#: the context answered exactly once before the next response (see ``responses.input``).
CALL_ANSWERS: dict[str, str] = {"function_call": "function_call_output"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def new_call_id() -> str:
    """A model-made ``call_id`` in the real shape: ``call_`` and 24 letters or digits."""
    return "call_" + random_alphanumeric(24)


def random_alphanumeric(length: int) -> str:
    """The random tail of the ids the real API makes of letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


#: What `isinstance` takes for a JSON object: ``dict`` first, since every object read from a
#: request is one, and the ``Mapping`` check alone is an ABC lookup per part (a long thread's
#: request holds thousands of parts).
JSON_OBJECT = (dict, Mapping)
#: The parts of a message's content that hold its text.
TEXT_PARTS = ("input_text", "output_text", "text")


def output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_text(item: Mapping[str, Any]) -> str:
    """The text of a message item, its text parts joined."""
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    if len(content) == 1:  # most messages: one text part, nothing to join
        part = content[0]
        is_text = isinstance(part, JSON_OBJECT) and part.get("type") in TEXT_PARTS
        return str(part.get("text", "")) if is_text else ""
    texts = [
        str(part.get("text", ""))
        for part in content
        if isinstance(part, JSON_OBJECT) and part.get("type") in TEXT_PARTS
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
