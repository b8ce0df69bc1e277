"""A long answer streams into a real kernel in bounded updates, and is saved as one Markdown
output: the frontend never gets (nor renders) the whole answer again per token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from assistant_magic.testing import ScriptedServer, Text
from test_notebooks import Kernel, iopub_until_idle

from notebook_io import WIDGET_VIEW, execute, outputs_of

pytestmark = pytest.mark.kernel

#: Bytes one update to the frontend may carry while the answer streams.
UPDATE_BOUND = 8 * 1024
ASK = "%%ask\nWrite at length."


def long_markdown(paragraphs: int = 80) -> str:
    """About 25 KB of Markdown: paragraphs, with a list, a code block and a table now and then."""
    parts = []
    for n in range(paragraphs):
        parts.append(" ".join(f"word{n}_{i}" for i in range(40)) + ".")
        if n % 10 == 3:
            parts.append("\n".join(f"- item {n}.{i}" for i in range(4)))
        if n % 10 == 6:
            parts.append("```python\n" + "\n".join(f"x_{i} = {i}" for i in range(6)) + "\n```")
        if n % 10 == 8:
            parts.append(
                "| n | n² |\n|---|---|\n" + "\n".join(f"| {i} | {i * i} |" for i in range(4))
            )
    return "\n\n".join(parts)


def sizes(messages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    kinds = ("display_data", "update_display_data", "comm_msg", "comm_open", "stream")
    return [
        (m["msg_type"], len(json.dumps(m["content"]))) for m in messages if m["msg_type"] in kinds
    ]


def test_each_update_is_bounded_but_the_last(server: ScriptedServer, env: Path) -> None:
    answer = long_markdown()
    assert len(answer) > 3 * UPDATE_BOUND
    server.script(Text(answer, chunk_delay=0.0005))
    kernel = Kernel()
    try:
        kernel.run("%load_ext assistant_magic\n%config AssistantMagics.view = 'widget'")
        msg_id = kernel.client.execute(ASK)
        messages = iopub_until_idle(kernel.client, msg_id, timeout=120)
    finally:
        kernel.shutdown()
    sent = sizes(messages)
    big = [(kind, size) for kind, size in sent if size > UPDATE_BOUND]
    # The one update allowed to carry the answer: at the end, putting it whole in its place.
    assert [kind for kind, _ in big] == ["update_display_data"], big
    finals = [
        m
        for m in messages
        if m["msg_type"] == "update_display_data"
        and m["content"]["data"].get("text/markdown") == answer
    ]
    assert len(finals) == 1, "the whole answer is sent once"
    updates = [size for kind, size in sent if kind in ("comm_msg", "display_data")]
    assert len(updates) > 20, "the answer streamed in many updates"


def test_the_saved_notebook_holds_one_markdown_answer(
    server: ScriptedServer, env: Path, tmp_path: Path
) -> None:
    answer = long_markdown(30)
    server.script(Text(answer, chunk_delay=0.0005))
    notebook = tmp_path / "long.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext assistant_magic"),
        nbformat.v4.new_code_cell(ASK),
    ]
    nbformat.write(nb, notebook)
    saved = execute(notebook)
    status, markdown = outputs_of(saved, ASK)
    assert WIDGET_VIEW in status.data
    assert status.data["text/plain"].startswith("[assistant] ✓ completed")
    assert markdown.data == {"text/markdown": answer, "text/plain": answer}
    widgets = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    outputs_kept = [
        s["state"].get("outputs") for s in widgets.values() if s["model_name"] == "OutputModel"
    ]
    assert not any(outputs_kept), "the streamed blocks are not saved twice"
