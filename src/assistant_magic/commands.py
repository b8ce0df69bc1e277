"""The `%assistant` subcommands: thread, tools, files, history, usage, cleanup.

Each checks its words, asks the assistant's threads (or its toolbox) to act, and prints what
happened in a line or a small table. The magic only parses the line and picks the command; what
runs an ask (retry) stays with the magic.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssistantError
from .flags import FILE_COMMANDS, THREAD_COMMANDS, TOOL_COMMANDS
from .lines import ConfigLine, shown
from .redaction import redact

if TYPE_CHECKING:
    from .assistant import Assistant
    from .settings import Settings
    from .store import FileRecord, ThreadRecord


class Commands:
    """The subcommands of `%assistant`, acting on an `Assistant`."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.threads = assistant.threads
        self.toolbox = assistant.toolbox

    def settings(self) -> Settings:
        return self.assistant.settings()

    def show_configuration(self) -> None:
        """`%assistant` alone: the configuration, where each part comes from, the thread."""
        settings = self.settings()
        dialect = f"{settings.dialect} ({settings.dialect_source})"
        url = f"{settings.public_base_url} ({settings.base_url_source})"
        key = f"${settings.api_key_env} = {settings.masked_key}"
        tools = self.toolbox.available()
        rows = [
            ("model", settings.model),
            ("instructions", one_line(settings.instructions) or "(none)"),
            ("dialect", dialect),
            ("base URL", url),
            ("API key", key),
            ("tools", ", ".join(tools) or "none (%assistant tools add NAME)"),
            ("hosted tools", ", ".join(settings.hosted_tools).replace("_", " ") or "none"),
            ("temperature", shown(settings.temperature)),
            *self._assistant_row(settings),
            ("store", str(self.threads.store_path)),
            ("thread", self.describe_bound_thread()),
        ]
        for name, value in rows:
            print(redact(f"{name:<13} {value}"))

    def _assistant_row(self, settings: Settings) -> list[tuple[str, str]]:
        if settings.dialect != "assistants":
            return []
        thread = self.threads.thread
        if thread is not None and thread.assistant_id:
            made = "made by this package" if thread.assistant_owned else "yours"
            return [("assistant", f"{thread.assistant_id} ({made})")]
        return [
            ("assistant", settings.assistant_id or "made from this configuration at the first ask")
        ]

    # -- threads -------------------------------------------------------------------------------

    def thread(self, words: list[str]) -> None:
        self.threads.check_store()
        verb, rest = (words[0], words[1:]) if words else ("show", [])
        threads = self.threads
        if verb == "show" and not rest:
            print(self.describe_bound_thread())
        elif verb == "new" and not rest:
            thread = threads.new(self.settings())
            print(f"New thread {thread.id} bound to this kernel.")
        elif verb == "list" and not rest:
            self._list_threads()
        elif verb == "use" and len(rest) == 1:
            thread = threads.use(rest[0])
            print(f"Bound {self._describe(thread)}")
        elif verb == "delete" and len(rest) == 1:
            thread, remote = threads.delete(rest[0], self.settings())
            where = " and on the server" if remote else ""
            if thread.remote_id and not remote:
                where = f" (its server copy on {thread.base_url} was left alone)"
            print(f"Deleted thread {thread.id} here{where}.")
        elif verb == "export" and len(rest) <= 1:
            self._export(rest[0] if rest else None)
        elif verb == "resume" and not rest:
            thread = threads.resume()
            print(f"Resumed {self._describe(thread)}")
        elif verb in ("use", "delete"):
            raise AssistantError(
                f"thread {verb} needs one thread id: see %assistant thread list for the ids."
            )
        else:
            raise AssistantError(f"Unknown thread command {' '.join(words)!r}: {THREAD_COMMANDS}.")

    def describe_bound_thread(self) -> str:
        thread = self.threads.refresh()
        if thread is None:
            return "none yet: the first %%ask creates one (or %assistant thread resume)"
        return self._describe(thread)

    def _describe(self, thread: ThreadRecord) -> str:
        count = self.threads.store.message_count(thread.id)
        title = f'"{thread.title}"' if thread.title else "(untitled)"
        server = thread.remote_id or (
            "kept in the local store" if thread.dialect == "chat" else "not on the server yet"
        )
        return f"{thread.id} · {server} · {title} · {count} messages · {thread.model}"

    def _list_threads(self) -> None:
        store = self.threads.store
        threads = store.list_threads(limit=50)
        if not threads:
            print("No threads yet: the first %%ask creates one.")
            return
        bound = self.threads.thread.id if self.threads.thread else None
        print(f"  {'id':<16} {'updated':<16} {'msgs':>4}  {'model':<14} title")
        for thread in threads:
            mark = "*" if thread.id == bound else " "
            here = "" if thread.notebook == self.threads.notebook else f"  [{thread.notebook}]"
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(thread.updated))
            count = store.message_count(thread.id)
            print(
                f"{mark} {thread.id:<16} {updated:<16} {count:>4}  {thread.model:<14} "
                f"{thread.title or '(untitled)'}{here}"
            )

    def _export(self, path: str | None) -> None:
        from .transcript import export

        thread = self.threads.thread
        if thread is None:
            raise AssistantError("No thread is bound: ask something first, or thread use ID.")
        target = Path(os.path.expanduser(path)) if path else Path(f"{thread.id}.md")
        if target.is_dir():
            raise AssistantError(
                f"{target} is a directory: name a file, e.g. %assistant thread export "
                f"{target / (thread.id + '.md')}"
            )
        store = self.threads.store
        try:
            written = export(
                thread,
                store.asks(thread.id),
                target,
                tool_calls=store.thread_tool_calls(thread.id),
            )
        except OSError as exc:
            raise AssistantError(
                f"Cannot write {target}: {exc.strerror or exc}. Choose another path."
            ) from None
        print(f"Exported {store.message_count(thread.id)} messages to {written}")

    # -- what the thread did ---------------------------------------------------------------------

    def history(self, count: str) -> None:
        self.threads.check_store()
        from .history import recent_asks

        if not count.isdigit() or int(count) < 1:
            raise AssistantError(f"history takes a number of asks, not {count!r}: e.g. history 3")
        thread = self.threads.thread
        if thread is None:
            print("No thread is bound yet: the first %%ask creates one.")
            return
        store = self.threads.store
        # More than the thread holds means all of it (and SQLite takes no larger integer).
        asks = store.asks(thread.id, limit=min(int(count), 2**62))
        # Redacted again on the way out: a store written by an older version may hold a secret.
        print(redact(recent_asks(asks, store.thread_tool_calls(thread.id))))

    def jobs(self) -> None:
        """The jobs over rows sent as batches, with their state now."""
        from .dialects.openai_sdk import api_errors, make_client
        from .rows.batches import listing
        from .rows.cache import RowCache

        settings = self.assistant.settings()
        with RowCache(self.threads.store.path) as cache, api_errors(settings):
            client = make_client(settings) if settings.api_key else None
            try:
                print(redact(listing(cache, client, settings.public_base_url)))
            finally:
                if client is not None:
                    client.close()

    def usage(self) -> None:
        self.threads.check_store()
        from .pricing import PriceTable
        from .usage_report import report

        store, asked = self.threads.store, self.assistant.ask_ids
        prices = self.assistant.options.prices
        table = PriceTable.default().with_overrides(prices)  # a bad entry fails here
        sections = []
        if self.threads.thread is not None:
            thread = self.threads.thread
            asks = len(store.asks(thread.id))
            sections.append(
                (f"This thread ({thread.id}, {asks} asks)",
                 store.usage_by_model(thread_id=thread.id))
            )  # fmt: skip
        sections.append(
            (f"This kernel session ({len(asked)} asks)", store.usage_by_model(ask_ids=asked))
        )
        print(report(sections, table))

    def cleanup(self) -> None:
        self.threads.check_store()
        thread = self.threads.thread
        deleted = self.threads.cleanup(self.settings())
        what = ", ".join(deleted) if deleted else "nothing was on the server"
        print(
            f"Cleaned up {thread.id if thread else 'the thread'}: {what}. Its transcript stays "
            "here (thread export); the next %%ask starts a new thread."
        )

    # -- tools and files -------------------------------------------------------------------------

    def tools(self, words: list[str], *, confirm: bool) -> None:
        verb, names = (words[0], words[1:]) if words else ("list", [])
        if verb == "list" and not names:
            self._list_tools()
        elif verb == "add" and names:
            for name in names:
                tool = self.toolbox.add(name, confirm=confirm)
                asks = " (asks before each call)" if tool.confirm else ""
                print(f"Tool {tool.name} added{asks}.")
        elif verb == "remove" and names:
            for name in names:
                self.toolbox.remove(name)
                print(f"Tool {name} removed.")
        else:
            raise AssistantError(f"Unknown tools command {' '.join(words)!r}: {TOOL_COMMANDS}.")

    def _list_tools(self) -> None:
        toolbox = self.toolbox
        tools, _ = toolbox.resolve(toolbox.available())
        if not tools:
            print(
                "No tools yet: %assistant tools add NAME, or decorate a function with "
                "@assistant_magic.tool."
            )
            return
        for tool in tools:
            schema = tool.schema
            flags = ["strict" if schema.strict else f"not strict: {schema.note}"]
            if tool.confirm:
                flags.append("asks before each call")
            print(f"{tool.name}  ({'; '.join(flags)})")
            if schema.description:
                print(f"  {one_line(schema.description, 100)}")
            for line in json.dumps(schema.parameters, indent=2).splitlines():
                print(f"  {line}")

    def mcp(
        self,
        words: list[str],
        apply: Callable[[dict[str, Any]], object],
        flags: ConfigLine,
    ) -> None:
        """`%assistant mcp ...`; `apply` takes option updates (the magic's `_apply`), `flags`
        the line's `--header`s, `--confirm` and `--hosted`."""
        from .mcp_servers.commands import mcp_command

        setting = dict(self.settings().mcp_servers)
        servers = self.assistant.mcp

        def set_servers(value: dict[str, Any]) -> None:
            apply({"mcp_servers": value})

        mcp_command(
            words,
            setting,
            servers,
            set_servers,
            headers=flags.headers,
            confirm=flags.confirm,
            hosted=flags.hosted,
        )

    def files(self, words: list[str]) -> None:
        self.threads.check_store()
        thread = self.threads.refresh()
        records = self.threads.files()
        if not words:
            if not records:
                print("No files attached on this thread: %%ask --attach PATH_OR_NAME.")
            for r in records:
                where = r.file_id or "sent inline"
                print(f"{r.id:>4}  {r.filename:<30} {r.size:>12,} bytes  {where}")
            return
        if words[0] != "delete" or len(words) < 2 or thread is None:
            raise AssistantError(f"Unknown files command {' '.join(words)!r}: {FILE_COMMANDS}.")
        chosen = records if words[1:] == ["all"] else _pick(records, words[1:])
        self.threads.delete_files(thread, chosen, self.settings())
        print(f"Deleted {len(chosen)} file{'s' if len(chosen) != 1 else ''}.")


def _pick(records: Sequence[FileRecord], keys: list[str]) -> list[FileRecord]:
    """Files named by their number in `%assistant files` or by their server id."""
    chosen = []
    for key in keys:
        match = [r for r in records if key in (str(r.id), r.file_id)]
        if not match:
            raise AssistantError(f"No file {key!r} on this thread: see %assistant files.")
        chosen += match
    return chosen


def one_line(text: str, width: int = 60) -> str:
    """`text` on one line, cut to `width` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
