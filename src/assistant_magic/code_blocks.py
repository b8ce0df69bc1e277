"""The Python code in an answer, for `%%ask --code` to put into a new cell.

Answers are Markdown: code comes in fenced blocks. Blocks labelled python (or not labelled) are
taken, in order; blocks in other languages (a shell command, some JSON) are not Python to run.
"""

from __future__ import annotations

import re

_FENCED = re.compile(
    r"^(?P<indent>[ \t]{0,3})(?P<fence>`{3,}|~{3,})[ \t]*(?P<lang>[^\s`]*)[^\n]*\n"
    r"(?P<body>.*?)^[ \t]{0,3}(?P=fence)[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
PYTHON_LABELS = frozenset({"", "python", "py", "python3", "ipython", "ipython3", "pycon"})


def python_code(markdown: str) -> str | None:
    """The answer's Python blocks joined by a blank line, or None if it has none."""
    blocks = [
        match["body"].rstrip("\n")
        for match in _FENCED.finditer(markdown)
        if match["lang"].lower() in PYTHON_LABELS
    ]
    code = "\n\n".join(block for block in blocks if block.strip())
    return code or None
