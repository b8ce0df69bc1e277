"""The Assistants API's objects as the server builds them, and threads read as Responses items.

The stored steps and messages are what their stream deltas add up to (see :func:`accumulate`), so
a polled run and a streamed one leave the same objects behind.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..items import Item, output_text_part, random_alphanumeric
from ..wire import ApiFailure, scripted_failure


def new_object_id(prefix: str) -> str:
    """An id in the real shape: ``asst_``, ``thread_``, ``msg_``, ``run_``, ``step_`` and 24
    letters or digits."""
    return f"{prefix}_" + random_alphanumeric(24)


def unknown_object(kind: str, ident: str) -> ApiFailure:
    """The 404 for a message, run or run step (our words: the real ones are unverified)."""
    return scripted_failure(404, f"No {kind} found with id '{ident}'.")


def run_resource(
    assistant: Mapping[str, Any], thread_id: str, body: Mapping[str, Any], *, expires_at: int
) -> dict[str, Any]:
    """A new ``queued`` run: the request's overrides over the assistant's settings."""
    created = int(time.time())
    instructions = _given(body, "instructions", assistant.get("instructions")) or ""
    if body.get("additional_instructions"):
        extra = str(body["additional_instructions"])
        instructions = f"{instructions}\n{extra}" if instructions else extra
    return {
        "id": new_object_id("run"),
        "object": "thread.run",
        "created_at": created,
        "assistant_id": assistant["id"],
        "thread_id": thread_id,
        "status": "queued",
        "required_action": None,
        "last_error": None,
        "expires_at": expires_at,
        "started_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "incomplete_details": None,
        "model": _given(body, "model", assistant["model"]),
        "instructions": instructions,
        "tools": copy.deepcopy(_given(body, "tools", assistant.get("tools")) or []),
        "metadata": dict(body.get("metadata") or {}),
        "usage": None,
        "temperature": _given(body, "temperature", assistant.get("temperature")),
        "top_p": _given(body, "top_p", assistant.get("top_p")),
        "max_prompt_tokens": body.get("max_prompt_tokens"),
        "max_completion_tokens": body.get("max_completion_tokens"),
        "truncation_strategy": copy.deepcopy(
            body.get("truncation_strategy") or {"type": "auto", "last_messages": None}
        ),
        "tool_choice": copy.deepcopy(_given(body, "tool_choice", "auto")),
        "parallel_tool_calls": body.get("parallel_tool_calls") is not False,
        "response_format": copy.deepcopy(
            _given(body, "response_format", assistant.get("response_format")) or "auto"
        ),
    }


def thread_message(
    thread_id: str,
    role: object,
    content: list[dict[str, Any]],
    *,
    status: str = "completed",
    assistant_id: object = None,
    run_id: str | None = None,
    attachments: Sequence[Mapping[str, Any]] = (),
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``thread.message``: a client's (``completed`` at once) or one a run writes."""
    return {
        "id": new_object_id("msg"),
        "object": "thread.message",
        "created_at": int(time.time()),
        "thread_id": thread_id,
        "status": status,
        "incomplete_details": None,
        "completed_at": None,
        "incomplete_at": None,
        "role": role,
        "content": content,
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": copy.deepcopy([dict(a) for a in attachments]),
        "metadata": dict(metadata or {}),
    }


def content_blocks(content: object) -> list[dict[str, Any]]:
    """A message's ``content`` (a string or request parts) as the blocks the API returns."""
    if isinstance(content, str):
        return [_text_block(content)]
    blocks = []
    for part in content if isinstance(content, list) else []:
        part = part if isinstance(part, Mapping) else {}
        if part.get("type") == "text":
            blocks.append(_text_block(str(part.get("text", ""))))
        else:
            blocks.append(copy.deepcopy(dict(part)))
    return blocks


def _text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": text, "annotations": []}}


def run_step(run: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A new ``in_progress`` step of ``run``: ``message_creation`` or ``tool_calls`` (calls to
    come)."""
    details: dict[str, Any] = (
        {"type": "tool_calls", "tool_calls": []}
        if kind == "tool_calls"
        else {"type": "message_creation", "message_creation": {"message_id": ""}}
    )
    return {
        "id": new_object_id("step"),
        "object": "thread.run.step",
        "created_at": int(time.time()),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": kind,
        "status": "in_progress",
        "step_details": details,
        "last_error": None,
        "expired_at": None,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "metadata": {},
        "usage": None,
    }


def message_item(message: Mapping[str, Any]) -> Item:
    """A thread message as the model sees it: a Responses ``message`` item, so reply factories
    read threads as they read the other dialects (images become ``input_image`` parts)."""
    role = str(message.get("role"))
    parts: list[dict[str, Any]] = []
    for block in message.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            value = str(block["text"]["value"])
            text_part = {"type": "input_text", "text": value}
            parts.append(output_text_part(value) if role == "assistant" else text_part)
        elif kind == "image_file":
            image = block["image_file"]
            detail = image.get("detail", "auto")
            parts.append({"type": "input_image", "file_id": image["file_id"], "detail": detail})
        elif kind == "refusal":
            parts.append({"type": "refusal", "refusal": str(block["refusal"])})
        elif kind == "image_url":
            image = block["image_url"]
            detail = image.get("detail", "auto")
            parts.append({"type": "input_image", "image_url": image["url"], "detail": detail})
    return {"type": "message", "id": message["id"], "role": role, "content": parts}


def thread_items(messages: Sequence[Mapping[str, Any]]) -> tuple[list[Item], list[Item]]:
    """The thread as history (up to the last assistant message) and input (what came after)."""
    items = [message_item(message) for message in messages]
    last = max((i for i, item in enumerate(items) if item["role"] == "assistant"), default=-1)
    return items[: last + 1], items[last + 1 :]


def accumulate(target: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Merge a stream delta into the object it builds, as the openai SDK does: strings grow,
    lists of indexed pieces merge by ``index`` (stored without it), ``id``/``type`` are set."""
    for key, value in delta.items():
        current = target.get(key)
        if key in ("id", "type") or current is None:
            target[key] = _stored(value)
        elif isinstance(current, str) and isinstance(value, str):
            target[key] = current + value
        elif isinstance(current, dict) and isinstance(value, Mapping):
            accumulate(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            for piece in value:
                if isinstance(piece, Mapping) and "index" in piece:
                    merge_at(current, int(piece["index"]), piece)
                else:
                    current.append(_stored(piece))
        else:
            target[key] = _stored(value)


def merge_at(pieces: list[Any], index: int, delta: Mapping[str, Any]) -> None:
    """Merge ``delta`` into the ``index``-th piece (a new piece when it is the next one)."""
    if index < len(pieces):
        accumulate(pieces[index], delta)
    else:
        pieces.append(_stored(delta))


def _stored(value: Any) -> Any:
    """A delta value as kept: deep-copied, without the ``index`` keys that only place pieces."""
    if isinstance(value, Mapping):
        return {k: _stored(v) for k, v in value.items() if k != "index"}
    if isinstance(value, list):
        return [_stored(v) for v in value]
    return value


def _given(body: Mapping[str, Any], key: str, default: Any) -> Any:
    value = body.get(key)
    return default if value is None else value
