"""assistant_magic: an AI assistant inside Jupyter, and the Python API under it.

``%load_ext assistant_magic`` registers ``%assistant`` (configure, manage the thread) and
``%%ask`` (ask, streaming the answer). Loading imports nothing heavy.

From Python, with no IPython::

    from assistant_magic import Assistant
    answer = Assistant(model="gpt-5.4-mini").ask("Hello?")

See ARCHITECTURE.md for how an ask flows through the modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import AssistantError

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = [
    "Answer",
    "Assistant",
    "AssistantError",
    "Options",
    "load_ipython_extension",
    "tool",
    "unload_ipython_extension",
]
#: Imported on first use, so `%load_ext` stays instant: name -> module.
_LAZY = {"Answer": "answer", "Assistant": "assistant", "Options": "options", "tool": "tools"}
__version__ = "0.1.0"

_ATTR = "_assistant_magics"
# The kernel's thread outlives a %reload_ext: the id waits here for the next instance.
_BOUND_THREAD_ATTR = "_assistant_magic_bound_thread"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(shell: InteractiveShell) -> None:
    from .magics import AssistantMagics

    unload_ipython_extension(shell)  # a reload must not leave a second instance behind
    magics = AssistantMagics(shell=shell)
    magics.bound_thread_id = getattr(shell, _BOUND_THREAD_ATTR, None)
    shell.register_magics(magics)
    setattr(shell, _ATTR, magics)


def unload_ipython_extension(shell: InteractiveShell) -> None:
    magics: Any = getattr(shell, _ATTR, None)
    if magics is None:
        return
    setattr(shell, _BOUND_THREAD_ATTR, magics.bound_thread_id)
    magics.close()
    registry = shell.magics_manager.registry
    for kind, names in magics.magics.items():
        for name in names:
            shell.magics_manager.magics[kind].pop(name, None)
    registry.pop(type(magics).__name__, None)
    if magics in shell.configurables:
        shell.configurables.remove(magics)
    delattr(shell, _ATTR)
