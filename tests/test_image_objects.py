"""assistant_magic.image_objects: PIL images and matplotlib figures and axes as images."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from PIL import Image

from assistant_magic.image_decoding import ImageLimits, decode
from assistant_magic.image_objects import from_object, is_image_object
from image_samples import TIMES, drawing, encode, error_of, noise, rgba_bytes


@pytest.mark.parametrize("mode", ["RGBA", "RGB", "L", "LA", "1", "I;16"])
def test_pil_images_keep_modes_png_can_store(mode: str) -> None:
    original = noise(mode, (9, 7))
    image = from_object(original, source="tool make_image", name="make_image")
    assert image is not None
    assert (image.format, image.source, image.name) == ("PNG", "tool make_image", "make_image")
    assert image.image.mode == mode
    assert image.image.tobytes() == original.tobytes()


def test_pil_palette_image_keeps_palette_and_transparency() -> None:
    original = drawing().convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    original.info["transparency"] = 0
    image = from_object(original, source="tool t", name="t")
    assert image is not None and image.image.mode == "P"
    assert rgba_bytes(image) == original.convert("RGBA").tobytes()


@pytest.mark.parametrize(
    ("mode", "stored"),
    [("CMYK", "RGB"), ("YCbCr", "RGB"), ("RGBX", "RGB"), ("PA", "RGBA"), ("HSV", "RGB")],
)
def test_pil_images_in_other_modes_are_converted(mode: str, stored: str) -> None:
    original = noise(mode, (6, 5))
    image = from_object(original, source="tool t", name="t")
    assert image is not None and image.format == "PNG" and image.image.mode == stored
    assert image.image.tobytes() == original.convert(stored).tobytes()


def test_pil_integer_and_float_images_become_viewable() -> None:
    small = Image.frombytes("I", (3, 1), struct.pack("=3i", 0, 1000, 65535))
    image = from_object(small, source="t", name="t")
    assert image is not None and image.image.mode == "I;16"
    assert struct.unpack("<3H", image.image.tobytes()) == (0, 1000, 65535)
    floats = Image.frombytes("F", (3, 1), struct.pack("=3f", -1.0, 0.0, 1.0))
    image = from_object(floats, source="t", name="t")
    assert image is not None and image.image.mode == "L"
    assert list(image.image.tobytes()) == [0, 127, 255]


def test_pil_image_is_copied_and_a_lazy_one_is_loaded(tmp_path: Path) -> None:
    original = drawing()
    image = from_object(original, source="t", name="t")
    assert image is not None
    original.paste((0, 0, 0), (0, 0, *original.size))
    assert image.image.tobytes() != original.tobytes()

    path = tmp_path / "broken.png"
    path.write_bytes(encode(noise("RGB", (50, 50)), "PNG")[:300])
    with Image.open(path) as lazy:
        message = error_of(from_object, lazy, source="tool t", name="t")
    assert message.startswith("The image from tool t (t) (a RGB PIL image) could not be made a PNG")


def test_pil_image_over_the_pixel_limit_is_refused_before_encoding() -> None:
    message = error_of(
        from_object,
        Image.new("1", (100, 20)),
        source="t",
        name="t",
        limits=ImageLimits(max_pixels=1000),
    )
    assert f"is 100{TIMES}20 pixels, over the 1,000-pixel limit" in message


def test_other_values_are_not_images() -> None:
    values: list[object] = [None, 1, "chart.png", b"\x89PNG\r\n\x1a\n", {"image": 1}, [drawing()]]
    for value in values:
        assert from_object(value, source="t", name="t") is None
        assert not is_image_object(value)
    assert is_image_object(drawing())
    image = decode(encode(drawing(), "PNG"), source="a", name="b")
    assert is_image_object(image) and from_object(image, source="x", name="y") is image


def test_matplotlib_figure_and_axes() -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3, 2))
    axes = figure.add_subplot()
    axes.plot([0, 1, 2], [2, 0, 1])
    assert is_image_object(figure) and is_image_object(axes)
    image = from_object(figure, source="tool chart", name="chart", dpi=50)
    assert image is not None
    assert (image.format, image.source, image.name) == ("PNG", "tool chart", "chart")
    width, height = image.size
    assert 60 <= width <= 160 and 40 <= height <= 110  # 150x100 at 50 dpi, trimmed "tight"
    assert len(set(image.image.convert("L").tobytes())) > 2  # something was drawn
    from_axes = from_object(axes, source="tool chart", name="chart", dpi=50)
    assert from_axes is not None and from_axes.size == image.size
    assert not is_image_object(axes.lines[0])
    message = error_of(
        from_object, figure, source="tool chart", name="chart", limits=ImageLimits(max_pixels=1000)
    )
    assert "(a matplotlib figure) would be 60,000 pixels at 100 dpi" in message
