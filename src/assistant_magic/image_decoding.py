"""Image bytes and base64 checked against `ImageLimits`, then loaded into an `AssistantImage`.

`decode` checks the size in bytes, the format (as Pillow detects it, never the file name) and the
pixel count before any pixel is decoded, then loads the image fully, so a bad, hostile or
oversized image ends as one `ImageError` line saying what was wrong and where it came from.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .assistant_image import AssistantImage, safe_name
from .image_errors import (
    DISPLAY_NAMES,
    ImageError,
    article,
    bytes_text,
    formats_text,
    pixels_text,
    reason_text,
    size_text,
    where_text,
)

if TYPE_CHECKING:
    from PIL import Image as PILImage


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
    where = where_text(source, name)
    if not isinstance(data, bytes | bytearray | memoryview):
        raise ImageError(f"{where} is not image data but {type(data).__name__}.")
    data = bytes(data)
    if not data:
        raise ImageError(f"{where} is empty (0 bytes).")
    if len(data) > limits.max_bytes:
        raise ImageError(
            f"{where} is {bytes_text(len(data))}, over the limit of "
            f"{bytes_text(limits.max_bytes)} (AssistantMagics.max_image_bytes)."
        )
    image, image_format = _open(data, where, limits)
    return AssistantImage(
        image=image, data=data, format=image_format, source=source, name=safe_name(name)
    )


def _open(data: bytes, where: str, limits: ImageLimits) -> tuple[PILImage.Image, str]:
    import warnings

    from PIL import Image

    allowed = formats_text(limits.formats)
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
            shown = DISPLAY_NAMES.get(actual, actual)
            kind = "document" if actual == "PDF" else "image"
            raise ImageError(
                f"{where} is {article(shown)} {shown} {kind}; only {allowed} images are accepted."
            ) from None
        signed = _signature_format(data)
        if signed is not None and signed in limits.formats:
            shown = DISPLAY_NAMES.get(signed, signed)
            raise ImageError(
                f"{where} is a damaged or truncated {shown} image ({bytes_text(len(data))})."
            ) from None
        text = _looks_like_text(data)
        reason = "it is text, not an image" if text else "cannot identify image file"
        raise ImageError(f"{where} is not a valid {allowed} image: {reason}.") from None
    except Exception as exc:
        raise ImageError(f"{where} is not a valid {allowed} image: {reason_text(exc)}.") from None

    image_format = (image.format or "").upper()
    if image_format == "MPO" and "JPEG" in limits.formats:
        image_format = "JPEG"  # a camera's multi-picture JPEG: Pillow reads its first picture
    if image_format not in limits.formats:
        image.close()
        shown = DISPLAY_NAMES.get(image_format, image_format or "unknown")
        raise ImageError(
            f"{where} is {article(shown)} {shown} image; only {allowed} images are accepted."
        )
    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise ImageError(too_many_pixels(where, size_text(width, height), limits))
    shown = DISPLAY_NAMES.get(image_format, image_format)
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
            f"{where} is a damaged or truncated {shown} image: {reason_text(exc)}."
        ) from None
    return image, image_format


def _pillow_formats(formats: frozenset[str]) -> list[str]:
    """The formats as Pillow's open() wants them, with their plugins registered."""
    from PIL import GifImagePlugin, Image, JpegImagePlugin, PngImagePlugin  # noqa: F401

    if "WEBP" in formats:
        from PIL import WebPImagePlugin  # noqa: F401
    if not formats <= Image.OPEN.keys():
        Image.init()
    ordered = [f for f in DISPLAY_NAMES if f in formats] + sorted(formats - DISPLAY_NAMES.keys())
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
        return too_many_pixels(where, f"{pixels:,}", limits)
    claimed = f"{pixels:,} pixels" if pixels is not None else "too many pixels"
    return (
        f"{where} claims {claimed}, over Pillow's decompression-bomb limit "
        "(PIL.Image.MAX_IMAGE_PIXELS)."
    )


def too_many_pixels(where: str, pixels: str, limits: ImageLimits) -> str:
    """The message for an image of `pixels` pixels (its size text, or a count), too many."""
    return (
        f"{where} is {pixels} pixels, over the {pixels_text(limits.max_pixels)} limit "
        "(AssistantMagics.max_image_pixels)."
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

    where = where_text(source, name)
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
            f"{where} is about {bytes_text(len(payload) // 4 * 3)}, over the limit of "
            f"{bytes_text(limits.max_bytes)} (AssistantMagics.max_image_bytes)."
        )
    altchars = b"-_" if ("-" in payload or "_" in payload) else None
    payload += "=" * (-len(payload) % 4)
    try:
        data = base64.b64decode(payload, altchars=altchars, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageError(f"{where} is not valid base64: {reason_text(exc)}.") from None
    return decode(data, source=source, name=name, limits=limits)
