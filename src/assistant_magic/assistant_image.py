"""`AssistantImage`: a checked image kept as its original bytes, and how it is shown and saved.

What `image_decoding` and `image_objects` make. It is displayed (IPython's ``_repr_png_`` and
``_repr_jpeg_``), saved under a filesystem-safe name that never overwrites another file, and
sent to a model as a data URL, always from the original bytes.
"""

from __future__ import annotations

import functools
import io
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .image_errors import NAME_LIMIT, ImageError, bytes_text, size_text

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from PIL import Image as PILImage

_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}
_MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
#: Suffixes dropped from a name ("chart.png" -> "chart"); others are kept ("report.v2").
_IMAGE_SUFFIXES = frozenset(
    {"png", "jpg", "jpeg", "jpe", "jfif", "gif", "webp", "bmp", "tif", "tiff", "svg", "ico",
     "heic", "heif", "avif", "apng"}
)  # fmt: skip
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL"} | {f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)}
)
#: Modes Pillow writes to PNG as they are; others are converted (see `png_ready`).
_PNG_MODES = frozenset({"1", "L", "LA", "I;16", "I;16B", "P", "RGB", "RGBA"})


@dataclass(frozen=True)
class AssistantImage:
    """A validated image the assistant produced or saw, with where it came from.

    Make one with `decode`, `decode_base64` or `from_object`. `image` is fully loaded, so it stays
    usable after the bytes are gone; `data` are the original bytes, which `save`, `data_url` and
    the display use unchanged. Two images are equal when their bytes, format, source and name are.
    """

    image: PILImage.Image = field(compare=False, repr=False)
    data: bytes = field(repr=False)
    format: str
    source: str
    name: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.size

    @property
    def mime_type(self) -> str:
        return _MIME_TYPES.get(self.format, f"image/{self.format.lower()}")

    @property
    def extension(self) -> str:
        """The file suffix for the original bytes: ``.png``, ``.jpg``, ``.gif``, ``.webp``."""
        return _EXTENSIONS.get(self.format, f".{self.format.lower()}")

    def __repr__(self) -> str:
        return (
            f"<AssistantImage {self.name!r} {self.format} {size_text(*self.size)} from "
            f"{self.source}, {bytes_text(len(self.data))}>"
        )

    def _repr_png_(self) -> bytes | None:
        """PNG for IPython: the original bytes, or a conversion; None for a JPEG (see below)."""
        if self.format == "JPEG":
            return None  # shown by _repr_jpeg_: one copy of the picture in the notebook, not two
        return self._png

    def _repr_jpeg_(self) -> bytes | None:
        """A JPEG original's own bytes for IPython; None for any other format."""
        return self.data if self.format == "JPEG" else None

    @functools.cached_property
    def _png(self) -> bytes:
        if self.format == "PNG":
            return self.data
        buffer = io.BytesIO()
        png_ready(self.image).save(buffer, format="PNG")
        return buffer.getvalue()

    def data_url(self) -> str:
        """The original bytes as a ``data:image/...;base64,...`` URL, for sending to a model."""
        import base64

        return f"data:{self.mime_type};base64,{base64.b64encode(self.data).decode('ascii')}"

    def save(self, directory: Path | str, *, stem: str | None = None) -> Path:
        """Write the original bytes to `directory` (created if needed) as ``<stem><extension>``.

        `stem` defaults to `name` and is made filesystem-safe. An existing file is never
        overwritten: if it holds these very bytes its path is returned, otherwise ``-2``, ``-3``,
        ... is added to the stem. Returns the path written (or found).
        """
        from pathlib import Path

        folder = Path(directory)
        base = safe_name(stem) if stem is not None else (self.name or "image")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for number in range(1, 10_000):
                path = folder / f"{base if number == 1 else f'{base}-{number}'}{self.extension}"
                if _write_new(path, self.data):
                    return path
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ImageError(
                f"Could not save the image {self.name!r} in {folder}: {reason}."
            ) from None
        raise ImageError(f"Could not save the image {self.name!r} in {folder}: too many files.")


def _write_new(path: Path, data: bytes) -> bool:
    """Create `path` holding `data`; True also if it already holds exactly `data`."""
    try:
        with path.open("xb") as file:
            try:
                file.write(data)
            except BaseException:
                file.close()
                path.unlink(missing_ok=True)
                raise
        return True
    except FileExistsError:
        try:
            return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data
        except OSError:
            return False


def png_ready(image: PILImage.Image) -> PILImage.Image:
    """`image` itself if PNG can store its mode, else a converted copy that PNG can store."""
    mode = image.mode
    if mode in _PNG_MODES:
        return image
    if mode == "PA":
        return image.convert("RGBA")
    if mode == "La":
        return image.convert("LA")
    if mode.startswith("I") or mode == "F":
        low, high = image.getextrema()
        if isinstance(low, int | float) and isinstance(high, int | float):
            if mode != "F" and low >= 0 and high <= 65535:
                return image.convert("I").convert("I;16")
            span = (high - low) or 1
            return image.convert("F").point(lambda v: (v - low) * 255 / span).convert("L")
        return image.convert("L")
    has_alpha = "A" in image.getbands() or "a" in image.getbands()
    return image.convert("RGBA" if has_alpha else "RGB")


def safe_name(name: str) -> str:
    """A stable, filesystem-safe base name: no folders, no image suffix, ASCII letters, digits,
    ``.``, ``-`` and ``_`` only; "image" if nothing is left."""
    import unicodedata

    base = re.split(r"[\\/]", str(name).strip())[-1]
    stem, dot, suffix = base.rpartition(".")
    if dot and stem and suffix.lower() in _IMAGE_SUFFIXES:
        base = stem
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", ascii_name).strip("-._")
    cleaned = cleaned[:NAME_LIMIT].rstrip("-._")
    if not cleaned:
        return "image"
    if cleaned.split(".")[0].upper() in _WINDOWS_RESERVED:
        cleaned = f"{cleaned}_"
    return cleaned


def save_all(
    images: Iterable[AssistantImage], directory: Path | str, *, prefix: str = ""
) -> list[Path]:
    """Save `images` in `directory` (created if needed), in order, with stable, readable names.

    Each file is named after its image (``chart.png``); images sharing a name are numbered in
    arrival order (``image-1.png``, ``image-2.png``). `prefix` goes before every name. Saving the
    same images again finds the same files; a different file already there is never overwritten.
    """
    items = list(images)
    stems = [f"{prefix}{image.name or 'image'}" for image in items]
    counts: dict[str, int] = {}
    for stem in stems:
        counts[stem] = counts.get(stem, 0) + 1
    seen: dict[str, int] = {}
    paths = []
    for image, stem in zip(items, stems, strict=True):
        if counts[stem] > 1:
            seen[stem] = seen.get(stem, 0) + 1
            stem = f"{stem}-{seen[stem]}"
        paths.append(image.save(directory, stem=stem))
    return paths
