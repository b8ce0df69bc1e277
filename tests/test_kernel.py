"""Which notebook a kernel runs: from Jupyter's session name, else the working directory."""

from __future__ import annotations

import os

from assistant_magic.kernel import notebook_key


def test_jupyter_session_name_wins() -> None:
    user_ns = {"__session__": "/home/me/analysis.ipynb"}
    env = {"JPY_SESSION_NAME": "/home/me/other.ipynb"}
    assert notebook_key(user_ns, env) == "/home/me/analysis.ipynb"
    assert notebook_key({}, env) == "/home/me/other.ipynb"


def test_without_jupyter_the_working_directory_names_it() -> None:
    assert notebook_key({"__session__": "  "}, {}) == f"cwd:{os.getcwd()}"
