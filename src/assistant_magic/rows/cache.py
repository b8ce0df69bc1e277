"""The answers of jobs over rows, kept in the thread store by request key (`RowRequest.key`):
what a job answered once, it never asks again (unless told `--fresh`), in this kernel or
another, after an interrupt or a crash."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..events import Usage
from ..store_file import StoreFile

#: Keys looked up per query (SQLite's limit on parameters is 32,766; a chunk keeps it small).
LOOKUP_CHUNK = 900


@dataclass(frozen=True)
class Cached:
    """An answer kept for a key."""

    answer: str
    model: str
    usage: Usage


class RowCache(StoreFile):
    """Answers by request key, in the store's file."""

    def lookup(self, keys: Sequence[str]) -> dict[str, Cached]:
        """The answers kept for any of `keys`."""
        found: dict[str, Cached] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), LOOKUP_CHUNK):
            chunk = unique[start : start + LOOKUP_CHUNK]
            rows = self._read(
                "SELECT key, answer, model, input_tokens, output_tokens, total_tokens"
                f" FROM row_answers WHERE key IN ({', '.join('?' * len(chunk))})",
                tuple(chunk),
            )
            for key, answer, model, given, answered, total in rows:
                found[key] = Cached(answer, model, Usage(given, answered, total))
        return found

    def keep(self, answers: Iterable[tuple[str, str, str, Usage | None]]) -> None:
        """Keep (key, answer, model, usage) for each answer, in one transaction."""
        rows = [
            (key, answer, model, *_counts(usage), self._now())
            for key, answer, model, usage in answers
        ]
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO row_answers (key, answer, model, input_tokens,"
                " output_tokens, total_tokens, created) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )


def _counts(usage: Usage | None) -> tuple[int, int, int]:
    if usage is None:
        return (0, 0, 0)
    return (usage.input_tokens, usage.output_tokens, usage.total_tokens)
