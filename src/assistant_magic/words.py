"""A magic's line split into words as a POSIX shell splits them, in linear time.

`shlex.split` grows each word one character at a time (``token = token + char``), which is
quadratic: 5 MB of ``--instructions`` took minutes. This reads the line in whole runs instead,
with the same rules: whitespace separates words, single quotes keep everything, double quotes
keep everything but ``\\"`` and ``\\\\``, a backslash outside quotes keeps the next character,
and pieces written together make one word (``a"b c"`` is ``ab c``).
"""

from __future__ import annotations

import re

_PIECE = re.compile(
    r"""
      (?P<space>[ \t\r\n]+)
    | '(?P<single>[^']*)'
    | "(?P<double>(?:[^"\\]+|\\.)*)"
    | \\(?P<escaped>.)
    | (?P<plain>[^ \t\r\n'"\\]+)
    """,
    re.VERBOSE | re.DOTALL,
)
_DOUBLE_ESCAPE = re.compile(r'\\(["\\])')


def split_words(line: str) -> list[str]:
    """The words of `line`; ValueError names a quote left open or a backslash at the end."""
    words: list[str] = []
    word: list[str] | None = None  # None between words; [] for a word begun by ''
    position = 0
    while position < len(line):
        piece = _PIECE.match(line, position)
        if piece is None:
            raise ValueError(_unreadable(line[position]))
        position = piece.end()
        if piece.lastgroup == "space":
            if word is not None:
                words.append("".join(word))
                word = None
            continue
        word = word if word is not None else []
        word.append(_text(piece))
    if word is not None:
        words.append("".join(word))
    return words


def _text(piece: re.Match[str]) -> str:
    if piece.lastgroup == "double":
        return _DOUBLE_ESCAPE.sub(r"\1", piece.group("double"))
    return piece.group(piece.lastgroup or "plain")


def _unreadable(at: str) -> str:
    if at == "\\":
        return "a backslash ends the line"
    return f"no closing quotation for {at}"
