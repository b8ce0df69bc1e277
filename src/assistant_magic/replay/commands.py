"""`%assistant replay`: the mode, and the export of what this session replayed or recorded."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..redaction import redact
from .recordings import RowRecording, export

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..rows.cache import Cached

MODES = ("on", "off", "only")
USAGE = "replay [on | off | only | export [PATH]]"


def run(words: list[str], assistant: Assistant, configure: Callable[[dict[str, Any]], Any]) -> None:
    """`%assistant replay ...`: a mode is set as any setting is (`configure`)."""
    if len(words) == 1 and words[0] in MODES:
        configure({"replay": words[0]})
    elif words and words[0] == "export" and len(words) <= 2:
        print(redact(export_used(assistant, words[1] if len(words) > 1 else None)))
    elif not words:
        print(describe(assistant))
    else:
        raise AssistantError(f"Unknown: replay {' '.join(words)}; use {USAGE}.")


def describe(assistant: Assistant) -> str:
    """The mode, where recordings come from, and what this session used."""
    settings = assistant.settings()
    replayer = assistant.replayer
    used = len(dict.fromkeys(replayer.used)) if replayer is not None else 0
    file = f"; also from {settings.replay_file}" if settings.replay_file else ""
    return (
        f"replay: {settings.replay} (recordings in {assistant.threads.store.path}{file}); "
        f"{used} recording{'s' if used != 1 else ''} used in this session"
    )


def export_used(assistant: Assistant, path: str | None) -> str:
    """Write the recordings this session used to `path` (default: beside the notebook)."""
    replayer = assistant.replayer
    keys = list(dict.fromkeys(replayer.used)) if replayer is not None else []
    row_keys = list(dict.fromkeys(replayer.used_rows)) if replayer is not None else []
    if replayer is None or not (keys or row_keys):
        raise AssistantError(
            "Nothing to export: no ask was recorded or replayed in this session; turn replay on "
            "(%assistant replay on) and run the notebook's asks first."
        )
    target = Path(path or default_path(assistant.threads.notebook)).expanduser()
    recordings = [r for r in (replayer.find(key) for key in keys) if r is not None]
    rows = used_rows(assistant, row_keys)
    try:
        count = export(recordings, target, rows)
    except OSError as exc:
        raise AssistantError(
            f"Cannot write {target}: {exc.strerror or exc}. Choose another path."
        ) from None
    carried = f" and {len(rows):,} rows' answers" if rows else ""
    return (
        f"Exported {count} recording{'s' if count != 1 else ''}{carried} to {target}: run with "
        f"ASSISTANT_MAGIC_REPLAY=only ASSISTANT_MAGIC_REPLAY_FILE={target}"
    )


def used_rows(assistant: Assistant, keys: list[str]) -> list[RowRecording]:
    """The answers the store (or the replay file) has for the rows this session asked about."""
    from ..rows.api import carried_rows
    from ..rows.cache import RowCache

    replayer = assistant.replayer
    carried = carried_rows(replayer.file_rows) if replayer is not None else None
    with RowCache(assistant.threads.store.path, carried) as cache:
        return row_recordings(cache.lookup(keys))


def row_recordings(found: Mapping[str, Cached]) -> list[RowRecording]:
    """Answers the store keeps, by request key, as a recordings file carries them."""
    from ..rows.cache import usage_counts

    return [
        RowRecording(key, kept.answer, kept.model, usage_counts(kept.usage))
        for key, kept in found.items()
    ]


def default_path(notebook: str) -> str:
    """`notebook.ipynb` -> `notebook.replay.jsonl`, beside it; else in the working folder."""
    if notebook.endswith(".ipynb"):
        return notebook[: -len(".ipynb")] + ".replay.jsonl"
    return "assistant-magic.replay.jsonl"
