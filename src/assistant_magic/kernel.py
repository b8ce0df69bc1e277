"""What the magics read from and hand to the kernel: which notebook it runs, what a cell, an
output or the last error said (`--cell`, `--out`, `--error`, `--vars`), and code for the next
cell (`--code`). Nothing here talks to a model."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .redaction import redact

if TYPE_CHECKING:
    from .context import ContextPart


def notebook_key(user_ns: Mapping[str, object], environ: Mapping[str, str] | None = None) -> str:
    """A stable name for the notebook: its path where Jupyter tells us, else the working dir.

    Jupyter Server sets ``__session__`` in the namespace (and ``JPY_SESSION_NAME`` in the kernel's
    environment) to the notebook's path; terminal IPython and bare kernels have neither.
    """
    env = os.environ if environ is None else environ
    for candidate in (user_ns.get("__session__"), env.get("JPY_SESSION_NAME")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return f"cwd:{os.getcwd()}"


def context_parts(
    shell: Any,
    names: Sequence[str],
    cells: Sequence[int],
    outs: Sequence[int],
    error: bool,
) -> list[ContextPart]:
    """What --vars, --cell, --out and --error add to the question, in that order, with secrets
    masked wherever they show (a variable or a traceback may hold the key)."""
    from .context import cell_input, cell_output, last_error, variable

    namespace = shell.user_ns if shell is not None else {}
    parts = [variable(name, namespace) for name in names]
    # What the user typed (In holds IPython's rewrite: magics as get_ipython() calls).
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    parts += [cell_input(n, history or namespace.get("In", [])) for n in cells]
    parts += [cell_output(n, namespace.get("Out", {})) for n in outs]
    if error:
        parts.append(last_error(getattr(sys, "last_value", None)))
    return [replace(part, text=redact(part.text)) for part in parts]


def place_code(shell: Any, answer: str) -> None:
    """Put the answer's Python code into the next cell (never run it), and say where."""
    from .code_blocks import python_code

    code = python_code(answer)
    if code is None:
        print("--code: the answer has no Python code block to put in a cell.")
    elif shell is None:
        print(f"The answer's code (not run):\n{code}")
    else:
        shell.set_next_input(code, replace=False)
        where = (
            "in a new cell below"
            if type(shell).__name__ == "ZMQInteractiveShell"
            else "at the next prompt"
        )
        print(f"The answer's code is {where}, not run.")
