"""The thread store's SQLite file and its one connection: opened, migrated, checked, written whole.

One file is shared by every kernel of the user (WAL + ``busy_timeout``), and the connection is
opened on first use so that loading the extension costs no disk access. A write runs in one
transaction with Ctrl-C held back, so it is whole or absent; SQLite's and the disk's errors come
out as one-line `StoreError`s that say what to do, and `StoreFile.check_file` notices the file
deleted, replaced or damaged under a live kernel. `store.Store` asks its questions through this.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .errors import StoreError
from .interrupts import deferred_interrupts
from .store_schema import BUSY_TIMEOUT_S, migrate, transaction

__all__ = ["SQLITE_HEADER", "STORE_ENV", "StoreFile"]

#: Environment variable that moves the store (tests, shared machines, per-project stores).
STORE_ENV = "ASSISTANT_MAGIC_STORE"
#: How every SQLite database file begins.
SQLITE_HEADER = b"SQLite format 3\x00"

_Opened = TypeVar("_Opened", bound="StoreFile")


class StoreFile:
    """One SQLite file and the connection to it, safe to share between kernels and threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._conn: sqlite3.Connection | None = None
        #: (device, inode) of the file the connection has open: a file deleted or replaced
        #: under a live connection takes every later write with it, so it is checked.
        self._identity: tuple[int, int] | None = None
        #: (size, mtime) of the file when its header was last read and found whole.
        self._verified: tuple[int, int] | None = None
        # One connection for the kernel; a widget timer thread may read while an ask writes.
        self._lock = threading.RLock()
        self._last_time = 0.0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __enter__(self: _Opened) -> _Opened:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @staticmethod
    def default_path() -> Path:
        override = os.environ.get(STORE_ENV)
        if override:
            return Path(override).expanduser()
        # Imported here so that importing the store stays cheap.
        import platformdirs

        return platformdirs.user_data_path("assistant-magic") / "threads.sqlite3"

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._connection().execute("PRAGMA user_version").fetchone()[0])

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self._conn = self._open()
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(
                    f"cannot open the thread store {self.path}: {exc}"
                    f" (set {STORE_ENV} to use another file)"
                ) from None
            self._identity = self._file_identity()
        return self._conn

    def _file_identity(self) -> tuple[int, int] | None:
        return _identity_of(self._stat())

    def _stat(self) -> os.stat_result | None:
        if self.path == ":memory:":
            return None
        try:
            return os.stat(self.path)
        except OSError:
            return None

    def _header_unchanged(self, found: os.stat_result) -> bool:
        """Whether the file still starts as a database. Read again only when the file's size
        or time changed since it was last seen whole (every ask checks, twice)."""
        stamp = (found.st_size, found.st_mtime_ns)
        if stamp == self._verified:
            return True
        if not self._header_intact():
            return False
        self._verified = stamp
        return True

    def _header_intact(self) -> bool:
        """Whether the file still starts as a database: SQLite itself may read its first page
        from the WAL, and so not notice the file overwritten in place until it is too late."""
        try:
            with open(self.path, "rb") as file:
                start = file.read(len(SQLITE_HEADER))
        except OSError:
            return False
        return start in (SQLITE_HEADER, b"")  # an empty file is a database not yet written

    def check_file(self) -> None:
        """Raise `StoreError` if the file this store has open was deleted or replaced since.

        Writes would go on "succeeding" into the old, unlinked file and vanish when the kernel
        exits; the caller says so instead. The next use opens whatever file is at the path now.
        """
        with self._lock:
            if self.path == ":memory:":
                return
            found = self._stat()
            opened, now = self._identity, _identity_of(found)
            if found is not None and not self._header_unchanged(found):
                self.close()
                raise StoreError(
                    f"The thread store {self.path} could not be read (it is not a database "
                    f"any more): {_remedy(sqlite3.DatabaseError('not a database'), self.path)}"
                )
            if self._conn is None or now == opened:
                return
            self.close()
            what = "deleted" if now is None else "replaced by another file"
        raise StoreError(
            f"The thread store {self.path} was {what} while this kernel had it open: what was "
            "recorded since is lost with the old file. The next %%ask starts a new thread in "
            f"a fresh store (set {STORE_ENV} to keep the store elsewhere)."
        )

    def _open(self) -> sqlite3.Connection:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are ours (see _transaction), not the module's.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL syncs at checkpoints only: an ask does not pay an fsync per write.
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # A write is whole or absent: an interrupt waits until it is committed or rolled back.
        with deferred_interrupts(), self._lock, self._failures("written"):
            conn = self._connection()
            with transaction(conn, self.path):
                yield conn

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock, self._failures("read"):
            return self._connection().execute(sql, params).fetchall()

    @contextmanager
    def _failures(self, verb: str) -> Iterator[None]:
        """SQLite's and the disk's errors, as one line that says what to do."""
        try:
            yield
        except (sqlite3.Error, OSError, UnicodeError) as exc:
            damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.IntegrityError
            )
            if damaged or (self._conn is not None and self._conn.in_transaction):
                self.close()  # reopened at the next use, in case the file was mended meanwhile
            raise StoreError(
                f"The thread store {self.path} could not be {verb} ({_reason(exc)}): "
                f"{_remedy(exc, self.path)}"
            ) from None

    def _now(self) -> float:
        # Strictly increasing, so "newest updated first" follows the order of writes even where
        # the clock is coarse (time.time() ticks every ~16 ms on Windows).
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    def close(self) -> None:
        """Close the connection; the next call opens it again (``:memory:`` starts empty)."""
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):  # a damaged file may refuse even this
                    self._conn.close()
                self._conn = None
                self._identity = None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, UnicodeError):
        return "the text holds a character that is not valid Unicode, such as a lone surrogate"
    return str(exc) or type(exc).__name__


def _remedy(exc: BaseException, path: str) -> str:
    """What the user can do about a store failure."""
    if isinstance(exc, UnicodeError):
        return "remove the character and ask again."
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            "the file is damaged; move it aside (the next ask starts a fresh store) or set "
            f"{STORE_ENV} to another file."
        )
    if "full" in text:
        return f"free some disk space where it lives, or set {STORE_ENV} to a file elsewhere."
    if "readonly" in text or "read-only" in text or "i/o" in text or "permission" in text:
        return (
            f"check that {Path(path).parent} is writable and has free space, or set {STORE_ENV} "
            "to a file elsewhere."
        )
    return f"try again, or set {STORE_ENV} to another file."


def _identity_of(found: os.stat_result | None) -> tuple[int, int] | None:
    """(device, inode): which file a path names."""
    return (found.st_dev, found.st_ino) if found is not None else None
