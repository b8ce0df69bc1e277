"""Which notebook the kernel is running, so a thread can be resumed in it after a restart."""

from __future__ import annotations

import os
from collections.abc import Mapping


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
