"""Running a notebook in a real kernel and reading back what it saved (shared by the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def execute(path: Path, timeout: int = 120, replies: list[Any] | None = None) -> Any:
    """Run the notebook in place with nbclient; return it as a reader would open it.

    `replies` collects each cell's execute_reply content (the payloads a frontend would act
    on, such as set_next_input, never reach the saved notebook)."""
    nb = nbformat.read(path, as_version=4)

    def keep(cell: Any, cell_index: int, execute_reply: Any) -> None:
        if replies is not None:
            replies.append((cell.source, execute_reply["content"]))

    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        on_cell_executed=keep,
    ).execute()
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def outputs_of(nb: Any, source: str) -> list[Any]:
    """The outputs of the one code cell whose source is `source` (or, ending in "…", starts so)."""

    def matches(text: str) -> bool:
        return text.startswith(source[:-1]) if source.endswith("…") else text == source

    (cell,) = [c for c in nb.cells if c.cell_type == "code" and matches(c.source)]
    return list(cell.outputs)
