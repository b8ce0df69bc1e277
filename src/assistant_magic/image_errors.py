"""`ImageError`, and the words its one-line messages say an image's origin, size and format in."""

from __future__ import annotations

import re

from .errors import AssistantError

#: How image formats are written for people, by Pillow's format name.
DISPLAY_NAMES = {"PNG": "PNG", "JPEG": "JPEG", "GIF": "GIF", "WEBP": "WebP"}
#: The longest image name kept (`assistant_image.safe_name`) or shown in a message.
NAME_LIMIT = 80
_TIMES = "\N{MULTIPLICATION SIGN}"
_SAID_AS_WORDS = frozenset({"GIF", "JPEG", "WEBP", "HEIF", "AVIF", "MPO", "ICNS"})


class ImageError(AssistantError):
    """An image could not be used: what was wrong with it and where it came from, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def where_text(source: str, name: str) -> str:
    """Where an image came from, as a message begins: "The image from tool chart (plot.png)"."""
    shown = " ".join(re.split(r"[\\/]", str(name).strip())[-1].split())
    if len(shown) > NAME_LIMIT:
        shown = shown[: NAME_LIMIT - 1] + "…"
    return f"The image from {source} ({shown})" if shown else f"The image from {source}"


def formats_text(formats: frozenset[str]) -> str:
    ordered = [f for f in DISPLAY_NAMES if f in formats] + sorted(formats - DISPLAY_NAMES.keys())
    return "/".join(DISPLAY_NAMES.get(f, f) for f in ordered)


def article(word: str) -> str:
    """'a' or 'an' before a format's name, spelled out (an SVG) or said as a word (a HEIF)."""
    if word.upper() in _SAID_AS_WORDS:
        return "an" if word[:1].upper() in "AEIOU" else "a"
    return "an" if word[:1].upper() in "AEFHILMNORSX" else "a"


def reason_text(exc: BaseException) -> str:
    text = " ".join(str(exc).split()).rstrip(".")
    if len(text) > 200:
        text = text[:199] + "…"
    return text or type(exc).__name__


def size_text(width: int, height: int) -> str:
    return f"{width}{_TIMES}{height}"


def bytes_text(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    for unit, scale in (("KB", 1024), ("MB", 1024**2), ("GB", 1024**3)):
        if size < scale * 1024 or unit == "GB":
            number = f"{size / scale:.1f}".removesuffix(".0")
            return f"{number} {unit}"
    raise AssertionError("unreachable")  # pragma: no cover


def pixels_text(limit: int) -> str:
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:g}-megapixel"
    return f"{limit:,}-pixel"
