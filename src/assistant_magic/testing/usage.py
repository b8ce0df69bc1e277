"""Plausible token counts for every dialect: Responses-style usage and its Chat spelling.

One token per word: the numbers only need to be plausible and stable, and a reply's ``usage``
overrides them key by key.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

from .items import Item, message_text, output_text

#: Usage keys the Responses API spells; a reply's ``usage`` may use them or the chat ones.
_RESPONSES_USAGE_KEYS = frozenset(
    {"input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details"}
)


@functools.lru_cache(maxsize=8192)
def words(text: str) -> int:
    """A rough token count. Kept by text: a chat request resends its whole thread, so a long
    thread's request would otherwise cost the server a split of every text in its window
    (about 0.25 ms for a full 16k-token window)."""
    return len(text.split())


def prompt_words(items: Iterable[Item]) -> int:
    """The words of what the model reads: the texts of messages, calls and their outputs."""
    return sum(words(_prompt_text(item)) for item in items)


def estimate_usage(
    overrides: Mapping[str, Any] | None,
    *,
    prompt: int,
    instructions: object,
    output: str,
) -> dict[str, Any]:
    """Responses usage (one token per word; ``prompt`` the words of the items read, see
    `prompt_words`), overridden key by key by ``overrides``."""
    if isinstance(instructions, str):
        prompt += words(instructions)
    usage: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": words(output),
        "output_tokens_details": {"reasoning_tokens": 0},
    }
    _override(usage, overrides or {})
    usage.setdefault("total_tokens", usage["input_tokens"] + usage["output_tokens"])
    return usage


def _prompt_text(item: Item) -> str:
    kind = item.get("type")
    if kind == "message":
        return message_text(item)
    if kind == "function_call":
        return f"{item.get('name', '')} {item.get('arguments', '')}"
    if kind == "function_call_output":
        return output_text(item.get("output"))
    return ""


def chat_usage(overrides: Mapping[str, Any] | None, *, prompt: int, output: str) -> dict[str, Any]:
    """Chat usage (``prompt_tokens``, ``completion_tokens``, details), estimated as for the
    Responses API and overridden key by key by ``overrides``, which may use either spelling
    (``input_tokens`` or ``prompt_tokens``, ...). Assistants API runs count this way too."""
    overrides = dict(overrides or {})
    responses_style = {
        key: value for key, value in overrides.items() if key in _RESPONSES_USAGE_KEYS
    }
    estimated = estimate_usage(responses_style, prompt=prompt, instructions=None, output=output)
    input_details = estimated.get("input_tokens_details") or {}
    output_details = estimated.get("output_tokens_details") or {}
    usage: dict[str, Any] = {
        "prompt_tokens": estimated["input_tokens"],
        "completion_tokens": estimated["output_tokens"],
        "total_tokens": 0,
        "prompt_tokens_details": {
            "cached_tokens": input_details.get("cached_tokens", 0),
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": output_details.get("reasoning_tokens", 0),
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    _override(usage, overrides, skip=_RESPONSES_USAGE_KEYS | {"total_tokens"})
    total = overrides.get("total_tokens")
    usage["total_tokens"] = (
        total if total is not None else usage["prompt_tokens"] + usage["completion_tokens"]
    )
    return usage


def _override(
    usage: dict[str, Any], overrides: Mapping[str, Any], *, skip: frozenset[str] = frozenset()
) -> None:
    """Put ``overrides`` over the estimate key by key (a nested mapping updates its part)."""
    for key, value in overrides.items():
        if key in skip:
            continue
        if isinstance(value, Mapping) and isinstance(usage.get(key), dict):
            usage[key].update(value)
        else:
            usage[key] = value
