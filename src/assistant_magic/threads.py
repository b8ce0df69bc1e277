"""The thread an assistant is bound to, and the life of threads: new, use, resume, delete, clean up.

A thread is recorded in the local store at once; its server side (a Conversation, an Assistants
thread) is made at its first ask, by the dialect. Deleting or cleaning up a thread deletes what
the server holds for it when the configuration still points at that server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .dialects.interface import RemoteThread, server_files, server_threads
from .earlier_asks import PastMemo
from .errors import AssistantError, ConfigurationError, StoreError

if TYPE_CHECKING:
    from .dialects.interface import Dialect
    from .records import AskRecord, FileRecord, ThreadRecord
    from .settings import Settings
    from .store import Store

DialectFor = Callable[["Settings"], "Dialect"]


class Threads:
    """The store of threads, and the one bound to the assistant."""

    def __init__(self, store_path: str | Path, notebook: str, dialect_for: DialectFor) -> None:
        self.store_path = store_path
        #: Groups the threads of one notebook, for `resume`.
        self.notebook = notebook
        self.thread: ThreadRecord | None = None
        self._dialect_for = dialect_for
        self._store: Store | None = None
        #: The earlier asks read for the asks so far, so the next one reads only what is new.
        self.past = PastMemo()

    @property
    def store(self) -> Store:
        if self._store is None:
            from .store import Store  # here: loading the extension opens no file

            self._store = Store(self.store_path)
        return self._store

    def check_store(self) -> None:
        """Say so, before anything is sent, if the store's file went away under this kernel."""
        try:
            self.store.check_file()
        except StoreError:
            self.thread = None  # it lived in the old file
            raise

    # -- binding -------------------------------------------------------------------------------

    def new(self, settings: Settings) -> ThreadRecord:
        """Bind a fresh thread; its server side is created at the first ask."""
        self.thread = self.store.create_thread(
            model=settings.model,
            dialect=settings.dialect,
            base_url=settings.public_base_url,
            notebook=self.notebook,
        )
        return self.thread

    def find(self, key: str) -> ThreadRecord:
        thread = self.store.get_thread(key)
        if thread is None:
            raise AssistantError(f"No thread matches {key!r}: see %assistant thread list.")
        return thread

    def use(self, key: str) -> ThreadRecord:
        self.thread = self.find(key)
        return self.thread

    def resume(self) -> ThreadRecord:
        """Bind this notebook's latest thread that holds a conversation (not the bound one)."""
        bound = self.thread.id if self.thread else None
        for thread in self.store.list_threads(notebook=self.notebook, limit=None):
            if thread.id != bound and self.store.message_count(thread.id):
                self.thread = thread
                return thread
        raise AssistantError(
            "This notebook has no earlier thread to resume: %assistant thread list shows all."
        )

    def refresh(self) -> ThreadRecord | None:
        if self.thread is not None:
            self.thread = self.store.get_thread(self.thread.id)
        return self.thread

    def for_ask(self, settings: Settings) -> ThreadRecord:
        """The thread the next ask goes on: the bound one, or a new one."""
        if self.thread is None:
            return self.new(settings)
        if not same_server(self.thread, settings):
            thread = self.thread
            raise ConfigurationError(
                f"The bound thread {thread.id} {_elsewhere(thread, settings)}: switch back with "
                f"{_switch_back(thread, settings)}, or start a thread here with %assistant "
                "thread new."
            )
        return self.thread

    def attach_remote(self, thread: ThreadRecord, remote: RemoteThread) -> None:
        """Record the server side made for the thread at its first ask."""
        self.thread = self.store.update_thread(
            thread.id,
            remote_id=remote.id,
            assistant_id=remote.assistant_id,
            assistant_owned=remote.owns_assistant,
        )

    def replace_remote(self, stand_in: RemoteThread, real: RemoteThread) -> None:
        """A thread replayed so far went live: its server side is now `real`."""
        thread = self.thread
        if thread is not None and thread.remote_id == stand_in.id:
            self.attach_remote(thread, real)

    @staticmethod
    def fits(thread: ThreadRecord, settings: Settings) -> bool:
        """Whether the thread can go on under `settings`: its server and dialect, and, on the
        Assistants API, no other assistant named."""
        named = settings.assistant_id
        return same_server(thread, settings) and (not named or thread.assistant_id in (None, named))

    def last_ask(self) -> AskRecord | None:
        return self.store.last_ask(self.thread.id) if self.thread else None

    def unsettled(self, thread: ThreadRecord) -> AskRecord | None:
        """The thread's last ask, if it did not complete on a server that keeps the thread: it
        may have left calls open or a run active there (see `ServerThreads.settle`)."""
        if not thread.remote_id:
            return None
        last = self.store.last_ask(thread.id)
        return last if last is not None and last.status != "completed" else None

    # -- deleting ------------------------------------------------------------------------------

    def files(self) -> list[FileRecord]:
        return self.store.files(self.thread.id) if self.thread else []

    def delete_files(
        self, thread: ThreadRecord, records: Sequence[FileRecord], settings: Settings
    ) -> None:
        """Delete files on the server (when it is the thread's server) and here."""
        files = server_files(self._dialect_for(settings)) if same_server(thread, settings) else None
        for record in records:
            if record.file_id and files is not None:
                files.delete_file(record.file_id)
            self.store.forget_file(record.id)

    def delete(self, key: str, settings: Settings) -> tuple[ThreadRecord, bool]:
        """Delete a thread here and, when it lives on the current server, there too.

        Returns the thread and whether its server-side copy was deleted.
        """
        thread = self.find(key)
        remote_deleted = False
        if same_server(thread, settings):
            self._delete_remote(thread, settings)
            remote_deleted = thread.remote_id is not None
        self.store.delete_thread(thread.id)
        if self.thread is not None and self.thread.id == thread.id:
            self.thread = None
        return thread, remote_deleted

    def cleanup(self, settings: Settings) -> list[str]:
        """Delete what the bound thread holds on the server (its thread or conversation, the
        files uploaded for it, its vector store, and its assistant if this package made it) and
        unbind it. The local transcript stays. Returns what was deleted, for the user."""
        thread = self.thread
        if thread is None:
            raise AssistantError("No thread is bound: nothing to clean up.")
        if not same_server(thread, settings):
            raise ConfigurationError(
                f"The bound thread {thread.id} {_elsewhere(thread, settings)}: switch back with "
                f"{_switch_back(thread, settings)} to clean it up."
            )
        deleted = self._delete_remote(thread, settings)
        self.store.update_thread(
            thread.id,
            remote_id=None,
            vector_store_id=None,
            assistant_id=None,
            assistant_owned=False,
        )
        self.thread = None
        return deleted

    def _delete_remote(self, thread: ThreadRecord, settings: Settings) -> list[str]:
        """Delete the thread's files, vector store and server-side thread; what was deleted."""
        dialect = self._dialect_for(settings)
        files = self.store.files(thread.id)
        self.delete_files(thread, files, settings)
        deleted = [f"file {f.filename}" for f in files if f.file_id]
        stores = server_files(dialect)
        if thread.vector_store_id and stores is not None:
            stores.delete_vector_store(thread.vector_store_id)
            deleted.append(f"vector store {thread.vector_store_id}")
        remote, threads = remote_of(thread), server_threads(dialect)
        if remote is not None and threads is not None:
            threads.delete_thread(remote)
            deleted.append(f"thread {remote.id}")
            if remote.owns_assistant and remote.assistant_id:
                deleted.append(f"assistant {remote.assistant_id}")
        return deleted

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def remote_of(thread: ThreadRecord) -> RemoteThread | None:
    """What the server holds for the thread, as the dialects name it (None: nothing yet)."""
    if not thread.remote_id:
        return None
    return RemoteThread(thread.remote_id, thread.assistant_id, thread.assistant_owned)


def same_server(thread: ThreadRecord, settings: Settings) -> bool:
    return thread.base_url == settings.public_base_url and thread.dialect == settings.dialect


def _elsewhere(thread: ThreadRecord, settings: Settings) -> str:
    """Where the thread lives, against where the configuration now points."""
    if thread.base_url == settings.public_base_url:
        return (
            f"was made with the {thread.dialect} dialect, and the configuration now uses the "
            f"{settings.dialect} dialect ({settings.dialect_source})"
        )
    return f"lives on {thread.base_url} ({thread.dialect}), not {settings.public_base_url}"


def _switch_back(thread: ThreadRecord, settings: Settings) -> str:
    """The command that points the configuration back at the thread's server and dialect."""
    flags = []
    if thread.base_url != settings.public_base_url:
        flags.append(f"--base-url {thread.base_url}")
    if thread.dialect != settings.dialect:
        flags.append(f"--dialect {thread.dialect}")
    return "%assistant " + " ".join(flags)
