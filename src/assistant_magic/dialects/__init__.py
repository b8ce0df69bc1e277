"""The wire dialects: each module implements `interface.Dialect` and knows nothing of IPython."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .interface import Dialect


def create_dialect(settings: Settings) -> Dialect:
    """The dialect for the settings; imports the SDK only now, at first use."""
    if settings.dialect == "responses":
        from .responses import ResponsesDialect

        return ResponsesDialect(settings)
    if settings.dialect == "chat":
        from .chat import ChatDialect

        return ChatDialect(settings)
    if settings.dialect == "assistants":
        from .assistants import AssistantsDialect

        return AssistantsDialect(settings)
    raise ValueError(f"no dialect {settings.dialect!r}")
