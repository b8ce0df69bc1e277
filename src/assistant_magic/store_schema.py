"""The store's schema: its migrations, and the transactions every write runs in.

The schema is versioned with ``PRAGMA user_version``: ``MIGRATIONS`` is an append-only list of
steps, and step ``n`` brings a database from version ``n - 1`` to ``n``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from .errors import AssistantError

#: How long a write waits for another kernel's transaction before giving up.
BUSY_TIMEOUT_S = 5.0

#: A statement, or, for what SQL cannot compute, a function of the connection.
Step = str | Callable[[sqlite3.Connection], None]


def _rekey_chat_recordings(conn: sqlite3.Connection) -> None:
    from .replay.recordings import rekey_chat_recordings

    rekey_chat_recordings(conn)


#: Append-only: never edit a released step, add a new one. Each step runs in one transaction
#: together with the ``user_version`` bump, so a crash leaves the database at a whole version.
MIGRATIONS: list[tuple[Step, ...]] = [
    (
        """
        CREATE TABLE threads (
            id        TEXT PRIMARY KEY,
            title     TEXT NOT NULL DEFAULT '',
            model     TEXT NOT NULL,
            dialect   TEXT NOT NULL,
            base_url  TEXT NOT NULL,
            remote_id TEXT,
            notebook  TEXT NOT NULL,
            created   REAL NOT NULL,
            updated   REAL NOT NULL
        )
        """,
        "CREATE INDEX threads_by_updated ON threads (updated)",
        "CREATE INDEX threads_by_notebook ON threads (notebook, updated)",
        "CREATE INDEX threads_by_remote_id ON threads (remote_id)",
        """
        CREATE TABLE turns (
            id            INTEGER PRIMARY KEY,
            thread_id     TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            seq           INTEGER NOT NULL,
            user_text     TEXT NOT NULL,
            answer_text   TEXT NOT NULL DEFAULT '',
            model         TEXT NOT NULL,
            status        TEXT NOT NULL DEFAULT 'pending',
            response_id   TEXT,
            error         TEXT,
            input_tokens  INTEGER,
            output_tokens INTEGER,
            total_tokens  INTEGER,
            cached_tokens INTEGER,
            started       REAL NOT NULL,
            finished      REAL,
            UNIQUE (thread_id, seq)
        )
        """,
    ),
    # 2: tool calls. Statuses are checked in Python, not by a CHECK constraint, so that a new
    # status never needs a table rebuild (SQLite cannot alter a constraint).
    (
        """
        CREATE TABLE tool_calls (
            id        INTEGER PRIMARY KEY,
            turn_id   INTEGER NOT NULL REFERENCES turns (id) ON DELETE CASCADE,
            round     INTEGER NOT NULL,
            seq       INTEGER NOT NULL,
            call_id   TEXT NOT NULL,
            name      TEXT NOT NULL,
            arguments TEXT NOT NULL,
            output    TEXT NOT NULL DEFAULT '',
            status    TEXT NOT NULL DEFAULT 'pending',
            duration  REAL,
            started   REAL NOT NULL,
            finished  REAL
        )
        """,
        # Also serves the ON DELETE CASCADE from turns.
        "CREATE UNIQUE INDEX tool_calls_by_turn ON tool_calls (turn_id, seq)",
        "CREATE UNIQUE INDEX tool_calls_by_call_id ON tool_calls (turn_id, round, call_id)",
    ),
    # 3: files uploaded to the server for a thread (attachments), so they can be listed and
    # deleted with it. A file outlives the turn that sent it, so only the thread cascades.
    (
        """
        CREATE TABLE files (
            id        INTEGER PRIMARY KEY,
            thread_id TEXT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
            file_id   TEXT NOT NULL,
            filename  TEXT NOT NULL,
            purpose   TEXT NOT NULL,
            size      INTEGER NOT NULL,
            created   REAL NOT NULL
        )
        """,
        "CREATE INDEX files_by_thread ON files (thread_id, id)",
        "CREATE INDEX files_by_file_id ON files (file_id)",
    ),
    # 4: the vector store that file search reads for a thread.
    ("ALTER TABLE threads ADD COLUMN vector_store_id TEXT",),
    # 5: the assistant an Assistants-API thread runs with, and whether this package made it
    # (only then does cleaning up delete it).
    (
        "ALTER TABLE threads ADD COLUMN assistant_id TEXT",
        "ALTER TABLE threads ADD COLUMN assistant_owned INTEGER NOT NULL DEFAULT 0",
    ),
    # 6: one word per concept: an ask is what the user asked and everything it took to answer
    # (it was called a turn). Renaming the table rewrites the references to it.
    (
        "ALTER TABLE turns RENAME TO asks",
        "ALTER TABLE tool_calls RENAME COLUMN turn_id TO ask_id",
        "DROP INDEX tool_calls_by_turn",
        "CREATE UNIQUE INDEX tool_calls_by_ask ON tool_calls (ask_id, seq)",
    ),
    # 7: the answers of jobs over rows (`rows.cache`), by what shaped each request, so a job
    # run again, or resumed after an interrupt or a crash, asks only what it has not answered.
    (
        """
        CREATE TABLE row_answers (
            key           TEXT PRIMARY KEY,
            answer        TEXT NOT NULL,
            model         TEXT NOT NULL,
            input_tokens  INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            total_tokens  INTEGER NOT NULL DEFAULT 0,
            created       REAL NOT NULL
        )
        """,
    ),
    # 8: jobs over rows sent as batches (OpenAI's Batch API): what each line of a batch
    # answers, so its results can be collected by any kernel, once, when it has ended.
    (
        """
        CREATE TABLE row_batches (
            id        TEXT PRIMARY KEY,
            base_url  TEXT NOT NULL,
            endpoint  TEXT NOT NULL,
            name      TEXT NOT NULL,
            model     TEXT NOT NULL,
            lines     TEXT NOT NULL,
            status    TEXT NOT NULL,
            created   REAL NOT NULL,
            collected REAL
        )
        """,
        "CREATE INDEX row_batches_open ON row_batches (base_url, collected)",
    ),
    # 9: recorded responses, replayed instead of asked again (`replay`): by the key of what
    # the request would send, with that request (to say what differs when none matches) and
    # the key of the response before it on the thread.
    (
        """
        CREATE TABLE recordings (
            key      TEXT PRIMARY KEY,
            parent   TEXT NOT NULL,
            dialect  TEXT NOT NULL,
            model    TEXT NOT NULL,
            request  TEXT NOT NULL,
            events   TEXT NOT NULL,
            created  REAL NOT NULL
        )
        """,
        "CREATE INDEX recordings_by_parent ON recordings (parent)",
    ),
    # 10: each thread's last recorded response, so a thread resumed in a new kernel goes on
    # from where its chain of keys stopped, not from a thread's start.
    (
        """
        CREATE TABLE replay_heads (
            thread   TEXT PRIMARY KEY,
            head     TEXT NOT NULL,
            updated  REAL NOT NULL
        )
        """,
    ),
    # 11: a Chat Completions recording is keyed by the digest of its thread's earlier asks,
    # not by the whole thread (`replay.keys.EarlierDigests`): the ones recorded before are
    # keyed anew, so they are still found.
    (_rekey_chat_recordings,),
]


SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the database to `SCHEMA_VERSION`, one step per transaction."""
    steps = MIGRATIONS  # read at call time: tests append a step to rehearse an upgrade
    while True:
        # The write lock is taken before reading the version: two kernels opening a fresh file
        # at once must not both run step 1.
        with transaction(conn, path):
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(steps):
                raise AssistantError(
                    f"the thread store {path} has schema version {version} but this"
                    f" assistant-magic reads up to {len(steps)}: upgrade the package"
                    " (pip install -U assistant-magic)"
                )
            if version == len(steps):
                return
            for step in steps[version]:
                if callable(step):
                    step(conn)
                else:
                    conn.execute(step)
            # PRAGMA takes no parameters; the value is our own int.
            conn.execute(f"PRAGMA user_version = {version + 1:d}")


@contextmanager
def transaction(conn: sqlite3.Connection, path: str) -> Iterator[None]:
    """A write transaction: committed if the block completes, rolled back otherwise."""
    # IMMEDIATE takes the write lock up front, so a write never has to upgrade a read lock
    # (the upgrade can fail with SQLITE_BUSY at once, without waiting for busy_timeout).
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        raise AssistantError(
            f"the thread store {path} stayed locked by another process for"
            f" {BUSY_TIMEOUT_S:g} s; try again"
        ) from exc
    try:
        yield
        conn.execute("COMMIT")
    finally:
        # Also after a failed COMMIT, which leaves the transaction open. A damaged file may
        # refuse the rollback too: the error to report is the first one, and the caller then
        # drops the connection (see Store._failures).
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
