"""`Answer`: what an ask gives back, the text of the answer with its images and how it went."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ask import AskOutcome
    from .images import AssistantImage


class Answer(str):
    """The text of an answer, plus the images that came with it.

    It is the text: ``answer == "..."``, ``answer.split()``, ``print(answer)``,
    ``json.dumps(answer)`` work as for any ``str`` (and str methods return plain strings).
    Shown alone in a cell, it renders as Markdown. A typed ask's answer is its JSON, and
    ``value`` the object validated from it.
    """

    images: tuple[AssistantImage, ...]
    #: How the ask went (status, model, usage, cost...); None for an answer made by hand.
    outcome: AskOutcome | None
    #: A typed ask's validated answer (None for a text answer, or one that did not validate).
    value: Any

    def __new__(
        cls,
        text: str = "",
        images: Sequence[AssistantImage] = (),
        *,
        outcome: AskOutcome | None = None,
        value: Any = None,
    ) -> Answer:
        self = super().__new__(cls, text)
        self.images = tuple(images)
        self.outcome = outcome
        self.value = value
        return self

    @property
    def text(self) -> str:
        """The answer as a plain ``str``."""
        return str.__str__(self)

    @property
    def raw(self) -> str:
        """What the model wrote: for a typed ask, the JSON (kept when it did not validate)."""
        return self.text

    def save_images(self, directory: Path | str, *, prefix: str = "") -> list[Path]:
        """Save the images in `directory` (see `save_all`); returns their paths."""
        from .images import save_all

        return save_all(self.images, directory, prefix=prefix)

    def _repr_markdown_(self) -> str:
        shown = self.outcome.shown if self.outcome is not None else None
        return shown or self.text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.text, self.images, self.outcome, self.value))


def _rebuild(
    text: str,
    images: Sequence[AssistantImage],
    outcome: AskOutcome | None,
    value: Any = None,
) -> Answer:
    return Answer(text, images, outcome=outcome, value=value)
