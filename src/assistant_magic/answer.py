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
    Shown alone in a cell, it renders as Markdown.
    """

    images: tuple[AssistantImage, ...]
    #: How the ask went (status, model, usage, cost...); None for an answer made by hand.
    outcome: AskOutcome | None

    def __new__(
        cls,
        text: str = "",
        images: Sequence[AssistantImage] = (),
        *,
        outcome: AskOutcome | None = None,
    ) -> Answer:
        self = super().__new__(cls, text)
        self.images = tuple(images)
        self.outcome = outcome
        return self

    @property
    def text(self) -> str:
        """The answer as a plain ``str``."""
        return str.__str__(self)

    def save_images(self, directory: Path | str, *, prefix: str = "") -> list[Path]:
        """Save the images in `directory` (see `save_all`); returns their paths."""
        from .images import save_all

        return save_all(self.images, directory, prefix=prefix)

    def _repr_markdown_(self) -> str:
        return self.text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self.text, self.images, self.outcome))


def _rebuild(text: str, images: Sequence[AssistantImage], outcome: AskOutcome | None) -> Answer:
    return Answer(text, images, outcome=outcome)
