"""The answers of jobs over rows, kept in the thread store by request key (`RowRequest.key`):
what a job answered once, it never asks again (unless told `--fresh`), in this kernel or
another, after an interrupt or a crash. Also the jobs sent as batches (`batches`), until their
results are collected."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
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


@dataclass(frozen=True)
class BatchRecord:
    """A batch sent for a job: for each of its lines (by custom id), the rows it asks about,
    as (row number in the job, request key) pairs."""

    id: str
    base_url: str
    endpoint: str
    name: str
    model: str
    lines: dict[str, list[tuple[int, str]]]
    status: str
    created: float
    collected: float | None = None

    @property
    def keys(self) -> set[str]:
        return {key for pairs in self.lines.values() for _, key in pairs}


class RowCache(StoreFile):
    """Answers by request key, and the batches not collected yet, in the store's file."""

    def __init__(
        self, path: str | os.PathLike[str], carried: Mapping[str, Cached] | None = None
    ) -> None:
        super().__init__(path)
        #: Answers from elsewhere, read as the store's for keys the store lacks (a replay
        #: file's).
        self.carried: Mapping[str, Cached] = carried or {}

    def lookup(self, keys: Sequence[str]) -> dict[str, Cached]:
        """The answers kept for any of `keys` (in the store, else `carried`)."""
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
        if self.carried:
            found.update(
                (key, self.carried[key])
                for key in unique
                if key not in found and key in self.carried
            )
        return found

    def everything(self) -> dict[str, Cached]:
        """Every answer the store keeps (to export them all)."""
        rows = self._read(
            "SELECT key, answer, model, input_tokens, output_tokens, total_tokens FROM row_answers"
        )
        return {
            key: Cached(answer, model, Usage(given, answered, total))
            for key, answer, model, given, answered, total in rows
        }

    def keep(self, answers: Iterable[tuple[str, str, str, Usage | None]]) -> None:
        """Keep (key, answer, model, usage) for each answer, in one transaction."""
        rows = [
            (key, answer, model, *usage_counts(usage), self._now())
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

    # -- batches -------------------------------------------------------------------------------

    def add_batch(self, batch: BatchRecord) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO row_batches (id, base_url, endpoint, name, model, lines, status,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    batch.id,
                    batch.base_url,
                    batch.endpoint,
                    batch.name,
                    batch.model,
                    json.dumps(batch.lines),
                    batch.status,
                    batch.created,
                ),
            )

    def batches(self, base_url: str | None = None, *, open_only: bool = False) -> list[BatchRecord]:
        """The batches sent (to `base_url`), newest first; `open_only`: not collected yet."""
        where, params = [], []
        if base_url is not None:
            where.append("base_url = ?")
            params.append(base_url)
        if open_only:
            where.append("collected IS NULL")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(
            "SELECT id, base_url, endpoint, name, model, lines, status, created, collected"
            f" FROM row_batches{clause} ORDER BY created DESC",
            tuple(params),
        )
        return [
            BatchRecord(
                id,
                url,
                endpoint,
                name,
                model,
                {
                    line: [(int(n), str(k)) for n, k in pairs]
                    for line, pairs in json.loads(lines).items()
                },
                status,
                created,
                collected,
            )
            for id, url, endpoint, name, model, lines, status, created, collected in rows
        ]

    def update_batch(self, batch_id: str, *, status: str, collected: bool = False) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE row_batches SET status = ?, collected = ? WHERE id = ?",
                (status, self._now() if collected else None, batch_id),
            )


def usage_counts(usage: Usage | None) -> tuple[int, int, int]:
    """Input, output and total tokens, as the store keeps them (none: zeros)."""
    if usage is None:
        return (0, 0, 0)
    return (usage.input_tokens, usage.output_tokens, usage.total_tokens)
