"""Images the assistant produces or sees: the one place that decodes them.

Code interpreter charts (downloaded bytes), image generation results (base64), partial images
while streaming, a tool's PIL image or matplotlib figure, and a user's attached file all come
through here. `decode` checks the size in bytes, the format (as Pillow detects it, never the file
name) and the pixel count before any pixel is decoded, then loads the image fully, so a bad,
hostile or oversized image ends as one `ImageError` line saying what was wrong and where the image
came from. What comes out is an `AssistantImage`: the loaded image plus the original bytes, which
is what gets displayed, saved and sent to a model.

Importing this module is cheap: Pillow is imported by the functions that need it, and matplotlib
never (a figure is rendered through its own ``savefig``).
"""

from __future__ import annotations

import functools
import io
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import AssistantError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path
    from typing import TypeGuard

    from PIL import Image as PILImage

__all__ = [
    "DEFAULT_LIMITS",
    "AssistantImage",
    "ImageError",
    "ImageLimits",
    "decode",
    "decode_base64",
    "from_object",
    "is_image_object",
    "safe_name",
    "save_all",
]

#: Resolution of a matplotlib figure rendered for the assistant (savefig's dpi).
FIGURE_DPI = 100

_DISPLAY_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "WEBP": "WebP"}
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
#: Modes Pillow writes to PNG as they are; others are converted (see `_png_ready`).
_PNG_MODES = frozenset({"1", "L", "LA", "I;16", "I;16B", "P", "RGB", "RGBA"})
_NAME_LIMIT = 80
_TIMES = "\N{MULTIPLICATION SIGN}"
_SAID_AS_WORDS = frozenset({"GIF", "JPEG", "WEBP", "HEIF", "AVIF", "MPO", "ICNS"})


class ImageError(AssistantError):
    """An image could not be used: what was wrong with it and where it came from, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


@dataclass(frozen=True)
class ImageLimits:
    """What `decode` accepts: at most `max_bytes` bytes, `max_pixels` pixels, these formats.

    Formats are Pillow's format names (``"PNG"``, ``"JPEG"``, ``"GIF"``, ``"WEBP"``, ...).
    """

    max_bytes: int = 25 * 1024 * 1024
    max_pixels: int = 50_000_000
    formats: frozenset[str] = frozenset({"PNG", "JPEG", "GIF", "WEBP"})

    def __post_init__(self) -> None:
        object.__setattr__(self, "formats", frozenset(f.upper() for f in self.formats))
        if self.max_bytes <= 0 or self.max_pixels <= 0 or not self.formats:
            raise ValueError(f"ImageLimits must allow something: {self!r}")


DEFAULT_LIMITS = ImageLimits()


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
        width, height = self.size
        size = f"{width}{_TIMES}{height}"
        return (
            f"<AssistantImage {self.name!r} {self.format} {size} from {self.source}, "
            f"{_bytes_text(len(self.data))}>"
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
        _png_ready(self.image).save(buffer, format="PNG")
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


def decode(
    data: bytes | bytearray | memoryview,
    *,
    source: str,
    name: str,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> AssistantImage:
    """Check and load image bytes; any problem with them raises `ImageError`, nothing else.

    `source` says where the image came from ("code interpreter", "image generation",
    "tool calc_chart", "attachment"); `name` is its file name or a base name, made safe for
    `AssistantImage.name` ("/mnt/data/chart.png" -> "chart").
    """
    where = _where(source, name)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(f"{where} is not image data but {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise ImageError(f"{where} is empty (0 bytes).")
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"{where} is {_bytes_text(len(data))}, over the limit of "
            f"{_bytes_text(limits.max_bytes)} (AssistantMagics.max_image_bytes)."
        )
    image, image_format = _open(data, where, limits)
    return AssistantImage(
        image=image, data=data, format=image_format, source=source, name=safe_name(name)
    )


def _open(data: bytes, where: str, limits: ImageLimits) -> tuple[PILImage.Image, str]:
    import warnings

    from PIL import Image

    allowed = _formats_text(limits.formats)
    try:
        with warnings.catch_warnings():
            # Our own pixel limit is checked below, before anything is decoded; Pillow's
            # DecompressionBombError still stops what is far over Pillow's own limit.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_pillow_formats(limits.formats))
    except Image.DecompressionBombError as exc:
        raise ImageError(_bomb_message(where, str(exc), limits)) from None
    except Image.UnidentifiedImageError:
        actual = _identify(data)
        if actual is not None and actual not in limits.formats:
            shown = _DISPLAY_NAMES.get(actual, actual)
            kind = "document" if actual == "PDF" else "image"
            raise ImageError(
                f"{where} is {_article(shown)} {shown} {kind}; only {allowed} images are accepted."
            ) from None
        signed = _signature_format(data)
        if signed is not None and signed in limits.formats:
            shown = _DISPLAY_NAMES.get(signed, signed)
            raise ImageError(
                f"{where} is a damaged or truncated {shown} image ({_bytes_text(len(data))})."
            ) from None
        text = _looks_like_text(data)
        reason = "it is text, not an image" if text else "cannot identify image file"
        raise ImageError(f"{where} is not a valid {allowed} image: {reason}.") from None
    except Exception as exc:
        raise ImageError(f"{where} is not a valid {allowed} image: {_reason(exc)}.") from None

    image_format = (image.format or "").upper()
    if image_format == "MPO" and "JPEG" in limits.formats:
        image_format = "JPEG"  # a camera's multi-picture JPEG: Pillow reads its first picture
    if image_format not in limits.formats:
        image.close()
        shown = _DISPLAY_NAMES.get(image_format, image_format or "unknown")
        raise ImageError(
            f"{where} is {_article(shown)} {shown} image; only {allowed} images are accepted."
        )
    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise ImageError(_too_many_pixels(where, f"{width}{_TIMES}{height}", limits))
    shown = _DISPLAY_NAMES.get(image_format, image_format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except Image.DecompressionBombError as exc:
        image.close()
        raise ImageError(_bomb_message(where, str(exc), limits)) from None
    except Exception as exc:
        image.close()
        raise ImageError(
            f"{where} is a damaged or truncated {shown} image: {_reason(exc)}."
        ) from None
    return image, image_format


def _pillow_formats(formats: frozenset[str]) -> list[str]:
    """The formats as Pillow's open() wants them, with their plugins registered."""
    from PIL import GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin  # noqa: F401

    if "WEBP" in formats:
        from PIL import WebPImagePlugin  # noqa: F401
    if not formats <= Image.OPEN.keys():
        Image.init()
    ordered = [f for f in _DISPLAY_NAMES if f in formats] + sorted(formats - _DISPLAY_NAMES.keys())
    return [f for f in ordered if f in Image.OPEN]


def _signature_format(data: bytes) -> str | None:
    """The format whose signature these bytes start with, even if the rest is broken."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _identify(data: bytes) -> str | None:
    """The format these bytes are in, for a message; None if nothing recognises them."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        return "PDF"
    if head[:1] == b"<" and b"<svg" in head.lower():
        return "SVG"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypmsf1", b"ftyphevc"):
        return "HEIF"
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.init()
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                return (image.format or "").upper() or None
    except Exception:
        return None


def _looks_like_text(data: bytes) -> bool:
    sample = data[:1024]
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(data) <= len(sample) or exc.start < len(sample) - 3:
            return False
        text = sample[: exc.start].decode("utf-8")  # a character cut at the sample's end
    return bool(text.strip()) and all(c.isprintable() or c in "\t\n\r\f\v" for c in text)


def _bomb_message(where: str, pillow_message: str, limits: ImageLimits) -> str:
    match = re.search(r"\((\d+) pixels\)", pillow_message)
    pixels = int(match.group(1)) if match else None
    if pixels is not None and pixels > limits.max_pixels:
        return _too_many_pixels(where, f"{pixels:,}", limits)
    claimed = f"{pixels:,} pixels" if pixels is not None else "too many pixels"
    return (
        f"{where} claims {claimed}, over Pillow's decompression-bomb limit "
        "(PIL.Image.MAX_IMAGE_PIXELS)."
    )


def decode_base64(
    text: str | bytes,
    *,
    source: str,
    name: str,
    limits: ImageLimits = DEFAULT_LIMITS,
) -> AssistantImage:
    """`decode` base64 text, or a ``data:image/...;base64,...`` URL; bad text is an ImageError."""
    import base64
    import binascii

    where = _where(source, name)
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("latin-1")
    if not isinstance(text, str):
        raise ImageError(f"{where} is not base64 text but {type(text).__name__}.")
    payload = text.strip()
    if payload[:5].lower() == "data:":
        header, comma, payload = payload.partition(",")
        if not comma:
            raise ImageError(f"{where} is a malformed data URL: it has no ','.")
        if not header.lower().endswith(";base64"):
            raise ImageError(f"{where} is a data URL that is not base64-encoded.")
    payload = re.sub(r"\s+", "", payload)
    if not payload:
        raise ImageError(f"{where} is empty (no base64 data).")
    if len(payload) // 4 * 3 > limits.max_bytes:
        raise ImageError(
            f"{where} is about {_bytes_text(len(payload) // 4 * 3)}, over the limit of "
            f"{_bytes_text(limits.max_bytes)} (AssistantMagics.max_image_bytes)."
        )
    altchars = b"-_" if ("-" in payload or "_" in payload) else None
    payload += "=" * (-len(payload) % 4)
    try:
        data = base64.b64decode(payload, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"{where} is not valid base64: {_reason(exc)}.") from None
    return decode(data, source=source, name=name, limits=limits)


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
    where = _where(source, name)
    if _is_pil_image(value):
        width, height = value.size
        if width * height > limits.max_pixels:
            raise ImageError(_too_many_pixels(where, f"{width}{_TIMES}{height}", limits))
        buffer = io.BytesIO()
        try:
            _png_ready(value).save(buffer, format="PNG")
        except Exception as exc:
            raise ImageError(
                f"{where} (a {value.mode} PIL image) could not be made a PNG: {_reason(exc)}."
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
            f"the {_pixels_text(limits.max_pixels)} limit (AssistantMagics.max_image_pixels)."
        )
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", bbox_inches="tight", dpi=dpi)
    except Exception as exc:
        raise ImageError(
            f"{where} (a matplotlib figure) could not be rendered: {_reason(exc)}."
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


def _png_ready(image: PILImage.Image) -> PILImage.Image:
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
    cleaned = cleaned[:_NAME_LIMIT].rstrip("-._")
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


def _where(source: str, name: str) -> str:
    shown = " ".join(re.split(r"[\\/]", str(name).strip())[-1].split())
    if len(shown) > _NAME_LIMIT:
        shown = shown[: _NAME_LIMIT - 1] + "…"
    return f"The image from {source} ({shown})" if shown else f"The image from {source}"


def _formats_text(formats: frozenset[str]) -> str:
    ordered = [f for f in _DISPLAY_NAMES if f in formats] + sorted(formats - _DISPLAY_NAMES.keys())
    return "/".join(_DISPLAY_NAMES.get(f, f) for f in ordered)


def _article(word: str) -> str:
    """'a' or 'an' before a format's name, spelled out (an SVG) or said as a word (a HEIF)."""
    if word.upper() in _SAID_AS_WORDS:
        return "an" if word[:1].upper() in "AEIOU" else "a"
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).rstrip(".")
    if len(text) > 200:
        text = text[:199] + "…"
    return text or type(exc).__name__


def _bytes_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        if size < scale * 1024 or unit == "GB":
            number = f"{size / scale:.1f}".removesuffix(".0")
            return f"{number} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def _too_many_pixels(where: str, pixels: str, limits: ImageLimits) -> str:
    return (
        f"{where} is {pixels} pixels, over the {_pixels_text(limits.max_pixels)} limit "
        "(AssistantMagics.max_image_pixels)."
    )


def _pixels_text(limit: int) -> str:
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:g}-megapixel"
    return f"{limit:,}-pixel"
