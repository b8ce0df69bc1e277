"""Python values as images: a PIL image, or a matplotlib figure or axes rendered to PNG.

Neither Pillow nor matplotlib is imported here: a value of theirs means they are imported already,
and a figure is rendered through its own ``savefig``.
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING, Any

from .assistant_image import AssistantImage, png_ready
from .image_decoding import DEFAULT_LIMITS, ImageLimits, decode, too_many_pixels
from .image_errors import ImageError, pixels_text, reason_text, size_text, where_text

if TYPE_CHECKING:
    from typing import TypeGuard

    from PIL import Image as PILImage

#: Resolution of a matplotlib figure rendered for the assistant (savefig's dpi).
FIGURE_DPI = 100


def is_image_object(value: object) -> bool:
    """Whether `from_object` would make an image of `value` (imports neither Pillow nor
    matplotlib: a value of theirs means they are imported already)."""
    return (
        isinstance(value, AssistantImage)
        or _is_pil_image(value)
        or _matplotlib_figure(value) is not None
    )


def from_object(
    value: object,
    *,
    source: str,
    name: str,
    limits: ImageLimits = DEFAULT_LIMITS,
    dpi: float = FIGURE_DPI,
) -> AssistantImage | None:
    """An image from a Python value: a PIL image or a matplotlib figure (or axes) as PNG.

    A PIL image keeps its mode where PNG can store it and is converted otherwise (CMYK -> RGB,
    PA -> RGBA, ...); a figure is rendered with ``savefig(bbox_inches="tight", dpi=dpi)``.
    An `AssistantImage` is returned as it is; any other value gives None.
    """
    if isinstance(value, AssistantImage):
        return value
    where = where_text(source, name)
    if _is_pil_image(value):
        width, height = value.size
        if width * height > limits.max_pixels:
            raise ImageError(too_many_pixels(where, size_text(width, height), limits))
        buffer = io.BytesIO()
        try:
            png_ready(value).save(buffer, format="PNG")
        except Exception as exc:
            raise ImageError(
                f"{where} (a {value.mode} PIL image) could not be made a PNG: {reason_text(exc)}."
            ) from None
        return decode(buffer.getvalue(), source=source, name=name, limits=limits)
    figure = _matplotlib_figure(value)
    if figure is None:
        return None
    try:
        inches = figure.get_size_inches()
        pixels = float(inches[0]) * float(inches[1]) * dpi * dpi
    except Exception:
        pixels = 0.0
    if pixels > limits.max_pixels:
        raise ImageError(
            f"{where} (a matplotlib figure) would be {pixels:,.0f} pixels at {dpi:g} dpi, over "
            f"the {pixels_text(limits.max_pixels)} limit (AssistantMagics.max_image_pixels)."
        )
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    except Exception as exc:
        raise ImageError(
            f"{where} (a matplotlib figure) could not be rendered: {reason_text(exc)}."
        ) from None
    return decode(buffer.getvalue(), source=source, name=name, limits=limits)


def _is_pil_image(value: object) -> TypeGuard[PILImage.Image]:
    module = sys.modules.get("PIL.Image")  # not imported: cannot be one
    return module is not None and isinstance(value, module.Image)


def _matplotlib_figure(value: object) -> Any | None:
    """The figure to render for a matplotlib Figure, SubFigure or Axes; None for anything else."""
    if not (type(value).__module__ or "").startswith("matplotlib."):
        return None
    if callable(getattr(value, "savefig", None)):
        return value
    kinds = {"Axes", "SubFigure"}
    if not any(
        c.__name__ in kinds and c.__module__.startswith("matplotlib.") for c in type(value).__mro__
    ):
        return None
    figure = getattr(value, "figure", None)
    for _ in range(8):  # an Axes in a SubFigure in a Figure
        if figure is None or callable(getattr(figure, "savefig", None)):
            return figure
        figure = getattr(figure, "figure", None)
    return None
