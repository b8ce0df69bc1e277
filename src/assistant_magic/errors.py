"""The one exception type users see, shown by IPython as a single line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .redaction import redact

if TYPE_CHECKING:
    from .ask import AskOutcome


class AssistantError(Exception):
    """A problem the user can fix: the message says what happened and what to do.

    IPython calls ``_render_traceback_`` instead of printing a traceback, so the user sees one
    line, not our stack. The message never holds a secret: messages quote URLs, server answers
    and exceptions, any of which may carry the key.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(redact(str(message)))

    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


class ConfigurationError(AssistantError):
    """Settings are missing or inconsistent (no API key, bad flag value)."""


class ApiError(AssistantError):
    """The server refused or failed a request; the ask that caused it is kept for a retry."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StoreError(AssistantError):
    """The thread store cannot be read or written (damaged, unwritable, deleted, replaced)."""


class AskInterrupted(AssistantError):
    """The user interrupted an ask; the partial answer is kept and the thread stays usable."""


class AnswerInvalid(AssistantError):
    """A typed ask's answer did not validate (after its repairs): the ask is recorded, and the
    raw answer kept, on the thread and in `outcome.text`."""

    def __init__(self, failure: str, outcome: AskOutcome, *, kept_in: str = "") -> None:
        also = f" and in {kept_in}" if kept_in else ""
        super().__init__(f"{failure} The raw answer is kept on the thread{also}.")
        self.failure = failure
        self.outcome = outcome
        #: The raw answer as an `Answer` (set by `Assistant.ask`).
        self.answer: Any = None


class AnswerRefused(AnswerInvalid):
    """The model refused to answer in the schema asked for; what it said is `outcome.text`."""
