"""Estimating how many tokens a request takes, before it is sent.

Chat Completions requests are fitted to the model's context window, and `%%ask --dry-run` shows
what a request would cost; both need a count before the server gives one. tiktoken's o200k_base
(the encoding of OpenAI's current models) counts exactly for them and closely enough for others;
without tiktoken (or its data offline), about 4 characters make a token.
"""

from __future__ import annotations

import functools
import json
from typing import Any


def count_tokens(payload: Any) -> int:
    """Tokens `payload` (text, or anything JSON can hold) takes, as JSON text if not a str."""
    text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    encoding = _encoding()
    if encoding is not None:
        return len(encoding.encode(text, disallowed_special=()))
    return len(text) // 4 + 1


def counting_method() -> str:
    """How `count_tokens` counts here, for the user."""
    return "tiktoken o200k_base" if _encoding() is not None else "about 4 characters a token"


@functools.cache
def _encoding() -> Any | None:
    try:
        import tiktoken

        return tiktoken.get_encoding("o200k_base")
    except Exception:  # not installed, or its data cannot be fetched offline
        return None
