"""Streamed Markdown cut into finished blocks and the tail still growing.

A live answer is shown block by block: each finished block (a paragraph, a list, a table, a
fenced code block) is rendered once, and only the block still being written is updated. A block
ends at a blank line outside a code fence, or at the line that closes its fence. A block that
grows past `BLOCK_LIMIT` characters is cut at a line (or, for one endless line, a space), so
that no update carries more than about that much; a cut inside a code fence closes the fence in
the finished piece and opens it again in the rest, so each piece renders as code on its own.

The work is linear in the answer's length: each character is looked at a bounded number of
times, whatever the number of deltas.
"""

from __future__ import annotations

import re
from typing import NamedTuple

#: Characters in one block before it is cut (an update never sends much more).
BLOCK_LIMIT = 2_000
#: A fence opens with three or more backticks or tildes, indented at most three spaces, then
#: an optional info string (CommonMark: one after backticks has no backtick, or "```x```" on a
#: line of prose would be inline code, not a fence).
_FENCE = re.compile(r" {0,3}(?:(`{3,})[^`]*|(~{3,}).*)\n?$")
#: It closes with the same character, at least as many, indented at most three spaces, and
#: nothing but blanks after.
_CLOSING = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*\n?$")


class Block(NamedTuple):
    """A finished block: what to show, and the stretch of the answer it came from (they
    differ only where a cut closed a code fence, or opened it again)."""

    shown: str
    source: str


class MarkdownBlocks:
    """Feed it deltas; it hands back the blocks they finished, and keeps the tail."""

    def __init__(self, limit: int = BLOCK_LIMIT) -> None:
        self.limit = limit
        self._block = ""  # the block being written: whole lines, then a partial one
        self._scanned = 0  # how much of `_block` is whole lines already looked at
        self._fence = ""  # the fence's marker (``` or ~~~...) while inside one
        self._opening = ""  # the fence's opening line, to open it again after a cut
        self._has_text = False  # the block holds a line that is not blank
        self._reopened = 0  # the length of a fence line a cut put before the block

    @property
    def tail(self) -> str:
        """The block still being written (with its fence, if a cut reopened one)."""
        return self._block

    @property
    def in_code(self) -> bool:
        return bool(self._fence)

    def feed(self, text: str) -> list[Block]:
        """Add a delta; return the blocks it finished, in order."""
        # Past `_scanned` the block held no line break before this delta: look from the delta
        # on, so a long line fed a few characters at a time is not read again each time.
        search = max(self._scanned, len(self._block))
        self._block += text
        finished: list[Block] = []
        while True:
            end = self._block.find("\n", max(self._scanned, search))
            if end < 0:
                break
            search = 0  # a block taken off the front moves what follows
            line = self._block[self._scanned : end + 1]
            self._scanned = end + 1
            if self._ends_block(line):
                finished.append(self._take(self._scanned))
            elif self._scanned > self.limit:
                finished.append(self._cut(self._scanned))
        # A line without a break, too long for one piece (a delta may bring several pieces' worth).
        while len(self._block) - self._scanned > self.limit:
            finished.append(self._cut(self._long_line_end()))
        return finished

    def close(self) -> Block:
        """The rest, once the answer is complete."""
        return self._take(len(self._block))

    def _ends_block(self, line: str) -> bool:
        stripped = line.strip()
        if self._fence:
            closing = _CLOSING.match(line)
            marker = closing.group(1) if closing else ""
            if marker.startswith(self._fence[0]) and len(marker) >= len(self._fence):
                self._fence = self._opening = ""
                self._has_text = False
                return True
            return False
        fence = _FENCE.match(line)
        if fence:
            self._fence, self._opening = fence.group(1) or fence.group(2), line
            self._has_text = True
            return False
        if not stripped:
            return self._has_text
        self._has_text = True
        return False

    def _take(self, end: int) -> Block:
        block, self._block = self._block[:end], self._block[end:]
        source, self._reopened = block[self._reopened :], 0
        self._scanned = 0
        self._has_text = False  # set again by its first line that is not blank
        return Block(block, source)

    def _cut(self, end: int) -> Block:
        """A block grown past the limit, cut at `end` (after a line, or at a space)."""
        if not self._fence:
            return self._take(end)
        opening, fence = self._opening, self._fence
        piece = self._take(end)
        # The rest is still inside the fence: close it here, open it again there.
        self._block = opening + self._block
        self._scanned = self._reopened = len(opening)
        self._has_text = True
        closing = ("" if piece.shown.endswith("\n") else "\n") + fence + "\n"
        return Block(piece.shown + closing, piece.source)

    def _long_line_end(self) -> int:
        """Where to cut a line longer than the limit (a paragraph without breaks): after its
        last space within the limit, else at the limit."""
        start = self._scanned
        space = self._block.rfind(" ", start, start + self.limit)
        return space + 1 if space > start else start + self.limit
