"""Wire dialects. Each module implements `Backend` and knows nothing of IPython."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .interface import Backend


def create_backend(settings: Settings) -> Backend:
    """The backend for the settings' dialect; imports the SDK only now, at first use."""
    if settings.api == "responses":
        from .responses import ResponsesBackend

        return ResponsesBackend(settings)
    if settings.api == "chat":
        from .chat import ChatBackend

        return ChatBackend(settings)
    if settings.api == "assistants":
        from .assistants import AssistantsBackend

        return AssistantsBackend(settings)
    raise ValueError(f"no backend for dialect {settings.api!r}")
