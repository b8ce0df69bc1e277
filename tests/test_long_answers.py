"""A long answer streams into a real kernel in bounded updates, and is saved as one Markdown
output: the frontend never gets (nor renders) the whole answer again per token."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from assistant_magic.testing import ScriptedServer, Text
from test_notebooks import Kernel, _wait_for, iopub_until_idle, widget_value

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


def code_heavy() -> str:
    """About 25 KB of JSON in code blocks: quotes, <, > and & all through (each costs more
    than one byte escaped, in HTML or in the message's JSON)."""
    body = "\n".join(f'  "key_{i}": "<value & {i}>",' for i in range(150))
    return "\n\n".join(f"Config {n}:\n\n```json\n{{\n{body}\n}}\n```" for n in range(6))


def sizes(messages: list[dict[str, Any]]) -> list[tuple[str, int]]:
    kinds = ("display_data", "update_display_data", "comm_msg", "comm_open", "stream")
    return [
        (m["msg_type"], len(json.dumps(m["content"]))) for m in messages if m["msg_type"] in kinds
    ]


@pytest.mark.parametrize("write", [long_markdown, code_heavy])
def test_each_update_is_bounded_but_the_last(
    server: ScriptedServer, env: Path, write: Callable[[], str]
) -> None:
    answer = write()
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


def answer_displays(messages: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """What the answer's own output (the one with a display id) showed first, and each update
    it got after: the Markdown of each."""

    def markdown(kind: str) -> list[str]:
        return [
            m["content"]["data"]["text/markdown"]
            for m in messages
            if m["msg_type"] == kind
            and "text/markdown" in m["content"]["data"]
            and m["content"].get("transient", {}).get("display_id")
        ]

    return markdown("display_data"), markdown("update_display_data")


def status_children(messages: list[dict[str, Any]]) -> list[list[str]]:
    """The status box's children, each time they were set."""
    return [
        m["content"]["data"]["state"]["children"]
        for m in messages
        if m["msg_type"] in ("comm_open", "comm_msg")
        and "children" in m["content"].get("data", {}).get("state", {})
    ]


@pytest.mark.parametrize("ending", ["failed", "interrupted"])
def test_an_ask_cut_short_keeps_its_partial_answer_in_its_place(
    server: ScriptedServer, env: Path, ending: str
) -> None:
    answer = long_markdown()
    pieces = Text(answer).pieces
    kept = len(pieces) // 3
    if ending == "failed":
        server.script(Text(answer, chunk_delay=0.0005, fail_after=kept))
    else:
        server.script(Text(answer, chunk_delay=0.002))
    kernel = Kernel()
    try:
        kernel.run("%load_ext assistant_magic\n%config AssistantMagics.view = 'widget'")
        msg_id = kernel.client.execute(ASK)
        if ending == "interrupted":
            _wait_for(lambda: len(server.requests_to("POST", "/v1/responses")) == 1)
            time.sleep(2)  # a few KB of the answer have streamed, most is still to come
            kernel.manager.interrupt_kernel()
        messages = iopub_until_idle(kernel.client, msg_id, timeout=120)
    finally:
        kernel.shutdown()

    shown, updates = answer_displays(messages)
    assert shown == [""], "the answer's place is kept, empty, at its first words"
    (partial,) = updates  # filled once, when the ask ended
    if ending == "failed":
        assert partial == "".join(pieces[:kept])
    assert partial and answer.startswith(partial) and len(partial) < len(answer)
    assert f'data-status="{ending}"' in widget_value(messages)
    children = status_children(messages)
    assert len(children[-1]) == 1, "the streamed blocks are taken out: the status stays alone"
    # While streaming: the status, the pages of rendered blocks, the block being written.
    assert max(len(c) for c in children) >= 3
    big = [(kind, size) for kind, size in sizes(messages) if size > UPDATE_BOUND]
    assert len(big) <= 1 and all(kind == "update_display_data" for kind, _ in big), big
