"""Annotations on an answer, rendered for a notebook instead of left as raw markers.

The Responses API marks where an answer cites a file: ``container_file_citation`` (a file the
code interpreter wrote, usually linked as ``[chart.png](sandbox:/mnt/data/chart.png)``, a link
that leads nowhere in a notebook) and ``file_citation`` (a file that file search read, marked at
a character index). Both become numbered notes: a superscript in the text and a list under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SANDBOX_LINK = re.compile(r"\[([^\]]*)\]\(sandbox:(/mnt/data/[^)\s]+)\)")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


@dataclass(frozen=True)
class Citation:
    kind: str  # "container_file_citation" | "file_citation"
    filename: str
    file_id: str
    index: int = 0  # where a file_citation points in the text
    container_id: str = ""


def render(text: str, citations: Sequence[Citation]) -> str:
    """The text with each cited file as a numbered note; unchanged when nothing is cited."""
    if not citations:
        return text
    notes: dict[str, int] = {}  # file id -> note number, in order of first mention
    lines: list[str] = []

    def note_for(citation: Citation) -> str:
        if citation.file_id not in notes:
            notes[citation.file_id] = len(notes) + 1
            lines.append(f"<sup>{notes[citation.file_id]}</sup> {_describe(citation)}")
        return f"<sup>{notes[citation.file_id]}</sup>"

    by_path = {
        _sandbox_name(c.filename): c for c in citations if c.kind == "container_file_citation"
    }

    def relink(match: re.Match[str]) -> str:
        citation = by_path.get(_sandbox_name(match.group(2)))
        label = match.group(1) or _sandbox_name(match.group(2))
        return f"{label}{note_for(citation)}" if citation else label

    rendered = SANDBOX_LINK.sub(relink, text)
    # file_citation indexes count characters of the original text: insert from the end, so
    # earlier positions stay right (sandbox links and index citations do not mix in practice).
    indexed = sorted(
        (c for c in citations if c.kind == "file_citation"), key=lambda c: c.index, reverse=True
    )
    markers = {c.file_id: note_for(c) for c in reversed(indexed)}
    for citation in indexed:
        at = min(max(citation.index, 0), len(rendered))
        rendered = rendered[:at] + markers[citation.file_id] + rendered[at:]
    for citation in citations:  # cited files the text never marks still get their note
        if citation.kind == "container_file_citation":
            note_for(citation)
    return rendered.rstrip() + "\n\n" + "<br>\n".join(lines)


def _describe(citation: Citation) -> str:
    name = _sandbox_name(citation.filename)
    if citation.kind == "file_citation":
        return f"{name} (file search)"
    if name.lower().endswith(IMAGE_SUFFIXES):
        return f"{name}: from the code interpreter, shown below"
    return f"{name}: in the code interpreter's sandbox (file {citation.file_id})"


def _sandbox_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
