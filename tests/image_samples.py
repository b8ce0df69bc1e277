"""Real images for the image tests, made with Pillow, and a check that an error is one line."""

from __future__ import annotations

import io
import random
from typing import Any

import pytest
from PIL import Image, ImageDraw

from assistant_magic.assistant_image import AssistantImage
from assistant_magic.errors import AssistantError
from assistant_magic.image_errors import ImageError

TIMES = "\N{MULTIPLICATION SIGN}"


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noise(mode: str, size: tuple[int, int], seed: int = 0) -> Image.Image:
    """An image whose every pixel differs: a round trip that drops a bit is seen."""
    rng = random.Random(seed)
    template = Image.new(mode, size)
    return Image.frombytes(mode, size, rng.randbytes(len(template.tobytes())))


def drawing(size: tuple[int, int] = (24, 16)) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 250))
    draw = ImageDraw.Draw(image)
    draw.rectangle((2, 2, size[0] // 2, size[1] // 2), fill=(200, 30, 30))
    draw.line((0, size[1] - 1, size[0] - 1, 0), fill=(20, 40, 220), width=2)
    return image


def gif_bytes() -> tuple[bytes, Image.Image]:
    image = drawing().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode(image, "GIF"), image


def rgba_bytes(decoded: AssistantImage) -> bytes:
    return decoded.image.convert("RGBA").tobytes()


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    """Run call, expecting an ImageError; its message, checked to be one line."""
    with pytest.raises(ImageError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message == message.strip(), message
    assert isinstance(info.value, AssistantError)
    assert info.value._render_traceback_() == [f"ImageError: {message}"]
    return message
