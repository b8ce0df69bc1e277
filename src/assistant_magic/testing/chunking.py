"""How replies are cut into streamed pieces: word-sized text, near-equal argument chunks, pauses."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

#: Waits between streamed pieces (``time.sleep``; tests may pass a recorder instead).
Sleep = Callable[[float], None]


def split_words(text: str) -> list[str]:
    """Word-sized chunks that keep their leading whitespace, like a tokenizer's pieces."""
    return re.findall(r"\s*\S+|\s+$", text)


def split_arguments(arguments: str, chunks: int) -> list[str]:
    """``arguments`` in ``chunks`` pieces of near-equal length (fewer if it is shorter)."""
    count = min(max(1, chunks), len(arguments))
    cuts = [len(arguments) * index // count for index in range(count + 1)] if count else []
    return [arguments[start:end] for start, end in itertools.pairwise(cuts)]
