"""assistant_magic.images: decoding, limits, conversions and saving."""

from __future__ import annotations

import base64
import io
import pickle
import random
import resource
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFile

from assistant_magic.answer import Answer
from assistant_magic.errors import AssistantError
from assistant_magic.images import (
    AssistantImage,
    ImageError,
    ImageLimits,
    decode,
    decode_base64,
    from_object,
    is_image_object,
    safe_name,
    save_all,
)

TIMES = "\N{MULTIPLICATION SIGN}"
ALLOWED = "only PNG/JPEG/GIF/WebP images are accepted"


# --- making real images ------------------------------------------------------------------------


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


def png_claiming(width: int, height: int, mode: str = "RGBA") -> bytes:
    """A real 1x1 PNG whose IHDR (with a correct CRC) claims width x height pixels."""
    data = bytearray(encode(Image.new(mode, (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    body = bytearray(data[16:29])
    body[0:8] = struct.pack(">II", width, height)
    data[16:29] = body
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(body)))
    return bytes(data)


def gif_bytes() -> tuple[bytes, Image.Image]:
    image = drawing().convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return encode(image, "GIF"), image


def rgba_bytes(decoded: AssistantImage) -> bytes:
    return decoded.image.convert("RGBA").tobytes()


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def error_of(call: Any, *args: Any, **kwargs: Any) -> str:
    """Run call, expecting an ImageError; its message, checked to be one line."""
    with pytest.raises(ImageError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and message == message.strip(), message
    assert isinstance(info.value, AssistantError)
    assert info.value._render_traceback_() == [f"ImageError: {message}"]
    return message


# --- decoding each format ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mode", "options"),
    [
        ("PNG", "RGBA", {}),
        ("PNG", "RGB", {}),
        ("PNG", "L", {}),
        ("WEBP", "RGBA", {"lossless": True, "exact": True}),
        ("WEBP", "RGB", {"lossless": True}),
    ],
)
def test_lossless_formats_round_trip_pixel_exact(
    fmt: str, mode: str, options: dict[str, Any]
) -> None:
    original = noise(mode, (23, 17))
    data = encode(original, fmt, **options)
    image = decode(data, source="code interpreter", name="/mnt/data/chart.png")
    assert (image.format, image.source, image.name) == (fmt, "code interpreter", "chart")
    assert image.data == data
    assert image.size == image.image.size == (23, 17)
    assert image.image.mode == original.mode
    assert image.image.tobytes() == original.tobytes()


def test_gif_round_trip_pixel_exact() -> None:
    data, original = gif_bytes()
    image = decode(data, source="image generation", name="image-1")
    assert image.format == "GIF" and image.image.mode == "P"
    assert image.size == original.size
    assert rgba_bytes(image) == original.convert("RGBA").tobytes()


def test_jpeg_decodes_to_what_pillow_decodes() -> None:
    original = drawing((40, 30))
    data = encode(original, "JPEG", quality=95)
    image = decode(data, source="attachment", name="photo.jpeg")
    assert (image.format, image.name, image.size) == ("JPEG", "photo", (40, 30))
    with Image.open(io.BytesIO(data)) as reference:
        assert image.image.tobytes() == reference.tobytes()
    close = sum(abs(a - b) for a, b in zip(image.image.tobytes(), original.tobytes(), strict=True))
    assert close / len(original.tobytes()) < 8  # and it is the picture that was drawn


def test_decoded_image_is_loaded_and_independent_of_the_bytes() -> None:
    buffer = bytearray(encode(noise("RGB", (8, 8)), "PNG"))
    image = decode(buffer, source="tool plot", name="plot")
    expected = image.image.tobytes()
    buffer[:] = b"\0" * len(buffer)  # the caller reuses its buffer
    assert isinstance(image.data, bytes) and image.data != bytes(buffer)
    assert image.image.tobytes() == expected
    assert decode(image.data, source="x", name="y").image.tobytes() == expected


def test_format_comes_from_the_bytes_not_the_name() -> None:
    data = encode(drawing(), "JPEG")
    image = decode(data, source="attachment", name="looks-like.png")
    assert image.format == "JPEG" and image.extension == ".jpg"
    assert image.mime_type == "image/jpeg"


# --- bad data ----------------------------------------------------------------------------------


def test_truncated_png_is_one_clear_error() -> None:
    data = encode(noise("RGB", (64, 64)), "PNG")
    message = error_of(decode, data[: len(data) // 2], source="code interpreter", name="chart.png")
    assert message.startswith("The image from code interpreter (chart.png) is a damaged or")
    assert "truncated PNG image" in message
    message = error_of(decode, data[:40], source="code interpreter", name="chart.png")
    assert "damaged or truncated PNG image" in message


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_every_truncation_and_corruption_raises_only_image_error(fmt: str) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = encode(noise("RGB", (12, 9), seed=3), fmt, **options)
    rng = random.Random(fmt)
    variants = [data[:n] for n in range(len(data))]
    for _ in range(150):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        variants.append(bytes(mutated))
    for variant in variants:
        try:
            image = decode(variant, source="fuzz", name="x")
        except ImageError as exc:
            assert "\n" not in str(exc)
        else:
            assert image.size[0] * image.size[1] <= ImageLimits().max_pixels


def test_random_bytes() -> None:
    data = random.Random(1).randbytes(3000)
    message = error_of(decode, data, source="attachment", name="blob.bin")
    assert message == (
        "The image from attachment (blob.bin) is not a valid PNG/JPEG/GIF/WebP image: "
        "cannot identify image file."
    )


def test_text_file() -> None:
    message = error_of(decode, b"x,y\n1,2\n3,4\n" * 10, source="attachment", name="data.csv")
    assert message.endswith("is not a valid PNG/JPEG/GIF/WebP image: it is text, not an image.")


def test_empty_and_not_bytes() -> None:
    assert error_of(decode, b"", source="attachment", name="a.png").endswith("is empty (0 bytes).")
    message = error_of(decode, "iVBORw0KGgo=", source="attachment", name="a.png")
    assert "is not image data but str" in message


SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>'


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (encode(drawing(), "BMP"), "a BMP image"),
        (encode(drawing(), "TIFF"), "a TIFF image"),
        (SVG, "an SVG image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "an SVG image"),
        (encode(drawing(), "ICO"), "an ICO image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "a PDF document"),
    ],
)
def test_formats_not_allowed_name_the_allowed_ones(data: bytes, named: str) -> None:
    message = error_of(decode, data, source="attachment", name="upload")
    assert message == f"The image from attachment (upload) is {named}; {ALLOWED}."


def test_allowed_formats_follow_the_limits() -> None:
    only_png = ImageLimits(formats=frozenset({"png"}))
    assert only_png.formats == frozenset({"PNG"})
    message = error_of(decode, encode(drawing(), "JPEG"), source="a", name="b", limits=only_png)
    assert message.endswith("is a JPEG image; only PNG images are accepted.")
    with_bmp = ImageLimits(formats=frozenset({"PNG", "BMP"}))
    image = decode(encode(drawing(), "BMP"), source="a", name="b.bmp", limits=with_bmp)
    assert (image.format, image.extension, image.name) == ("BMP", ".bmp", "b")
    with pytest.raises(ValueError):
        ImageLimits(formats=frozenset())


def test_oversized_in_bytes_is_refused_before_pillow_sees_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = encode(noise("RGB", (30, 30)), "PNG")
    message = error_of(decode, data, source="a", name="b", limits=ImageLimits(max_bytes=1000))
    assert message == (
        f"The image from a (b) is {len(data) / 1024:.1f} KB, over the limit of 1000 bytes "
        "(AssistantMagics.max_image_bytes)."
    )

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow must not parse an oversized image")

    monkeypatch.setattr(Image, "open", no_open)
    big = b"\x89PNG\r\n\x1a\n" + bytes(25 * 1024 * 1024)
    message = error_of(decode, big, source="code interpreter", name="huge.png")
    assert "is 25 MB, over the limit of 25 MB (AssistantMagics.max_image_bytes)." in message


def test_oversized_in_pixels_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    before = maxrss_bytes()
    # 8000x8000 RGBA would be 256 MB of pixels; the header alone says it is too many.
    message = error_of(decode, png_claiming(8000, 8000), source="code interpreter", name="c.png")
    assert message == (
        f"The image from code interpreter (c.png) is 8000{TIMES}8000 pixels, over the 50-megapixel "
        "limit (AssistantMagics.max_image_pixels)."
    )
    # Far over Pillow's own limit too: Pillow stops it while opening; the message is ours.
    message = error_of(decode, png_claiming(20000, 20000), source="code interpreter", name="c")
    assert "is 400,000,000 pixels, over the 50-megapixel limit" in message
    assert maxrss_bytes() - before < 64 * 1024 * 1024

    def no_load(self: object) -> None:
        raise AssertionError("pixels must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_load)
    message = error_of(
        decode,
        encode(drawing((11, 10)), "PNG"),
        source="s",
        name="n",
        limits=ImageLimits(max_pixels=100),
    )
    assert (
        f"is 11{TIMES}10 pixels, over the 100-pixel limit (AssistantMagics.max_image_pixels)"
        in message
    )


def test_decompression_bomb_protection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns over 1000, fails over 2000
    generous = ImageLimits(max_pixels=10**9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # our limit decides: Pillow's warning is not shown
        image = decode(encode(noise("L", (40, 40)), "PNG"), source="s", name="n", limits=generous)
    assert image.size == (40, 40)
    bomb = encode(Image.new("L", (60, 50)), "PNG")
    message = error_of(decode, bomb, source="s", name="n", limits=generous)
    assert message == (
        "The image from s (n) claims 3,000 pixels, over Pillow's decompression-bomb limit "
        "(PIL.Image.MAX_IMAGE_PIXELS)."
    )
    message = error_of(decode, bomb, source="s", name="n", limits=ImageLimits(max_pixels=2000))
    assert message.endswith(
        "is 3,000 pixels, over the 2,000-pixel limit (AssistantMagics.max_image_pixels)."
    )


def test_a_zlib_bomb_inside_the_limit_costs_only_its_pixels() -> None:
    # 6000x6000 single-bit pixels: 4.5 MB decoded from a few kB of IDAT.
    data = encode(Image.new("1", (6000, 6000)), "PNG")
    assert len(data) < 50_000
    message = error_of(decode, data, source="s", name="n", limits=ImageLimits(max_pixels=10**6))
    assert f"6000{TIMES}6000 pixels" in message


# --- base64 and data URLs ----------------------------------------------------------------------


def test_base64_and_data_urls() -> None:
    data = encode(noise("RGBA", (5, 4)), "PNG")
    text = base64.b64encode(data).decode()
    for variant in (
        text,
        "\n".join(text[i : i + 76] for i in range(0, len(text), 76)) + "\n",
        text.rstrip("="),
        base64.urlsafe_b64encode(data).decode(),
        f"data:image/png;base64,{text}",
        f"  DATA:image/png;BASE64,{text}\n",
        f"data:;base64,{text}",
        text.encode(),
    ):
        image = decode_base64(variant, source="image generation", name="image-1")
        assert image.data == data and image.format == "PNG" and image.name == "image-1"
    assert decode_base64(image.data_url(), source="a", name="b").data == data
    jpeg = decode(encode(drawing(), "JPEG"), source="a", name="b")
    assert jpeg.data_url().startswith("data:image/jpeg;base64,/9j/")


def test_a_data_url_is_judged_by_its_bytes_not_its_type() -> None:
    data = encode(drawing(), "GIF")
    text = f"data:image/png;base64,{base64.b64encode(data).decode()}"
    assert decode_base64(text, source="a", name="b").format == "GIF"


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("not base64 at all!", "is not valid base64: Only base64 data is allowed."),
        ("iVBORw0KGgo=AAAA", "is not valid base64: Excess data after padding."),
        ("data:image/png,%89PNG", "is a data URL that is not base64-encoded."),
        ("data:image/png;base64", "is a malformed data URL: it has no ','."),
        ("data:image/png;base64,", "is empty (no base64 data)."),
        ("   ", "is empty (no base64 data)."),
        ("aGVsbG8gd29ybGQsIGhlbGxvIHdvcmxk", "it is text, not an image."),
        ("ÿÿÿÿ", "is not valid base64: string argument should contain only ASCII characters."),
    ],
)
def test_bad_base64(text: str, ends: str) -> None:
    message = error_of(decode_base64, text, source="image generation", name="image-2")
    assert message.startswith("The image from image generation (image-2) ")
    assert message.endswith(ends)


def test_oversized_base64_is_refused_before_decoding() -> None:
    text = "A" * 4000
    message = error_of(decode_base64, text, source="a", name="b", limits=ImageLimits(max_bytes=100))
    assert "is about 2.9 KB, over the limit of 100 bytes" in message


# --- Python objects ----------------------------------------------------------------------------


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


def test_importing_and_probing_imports_neither_pillow_nor_matplotlib() -> None:
    code = (
        "import sys, assistant_magic.images as m, assistant_magic.answer as a\n"
        "assert not m.is_image_object(object())\n"
        "assert m.from_object(3, source='s', name='n') is None\n"
        "x = a.Answer('hi'); assert x == 'hi' and x.images == ()\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('PIL', 'matplotlib')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- display -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "WEBP"])
def test_repr_png_decodes_to_the_same_pixels(fmt: str) -> None:
    options = {"lossless": True} if fmt == "WEBP" else {}
    source = noise("RGBA", (10, 6)) if fmt != "GIF" else gif_bytes()[1]
    image = decode(encode(source, fmt, **options), source="a", name="b")
    png = image._repr_png_()
    assert png is not None and image._repr_jpeg_() is None
    if fmt == "PNG":
        assert png == image.data
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.format == "PNG" and shown.size == image.size
        assert shown.convert("RGBA").tobytes() == rgba_bytes(image)


def test_jpeg_is_shown_as_its_own_bytes_once() -> None:
    image = decode(encode(drawing(), "JPEG"), source="a", name="b")
    assert image._repr_jpeg_() == image.data
    assert image._repr_png_() is None


def test_ipython_displays_images() -> None:
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    png = decode(encode(drawing(), "PNG"), source="code interpreter", name="chart")
    data, _ = formatter.format(png)
    assert data["image/png"] == png.data and "image/jpeg" not in data
    assert data[
        "text/plain"
    ] == f"<AssistantImage 'chart' PNG 24{TIMES}16 from code interpreter, " + (
        f"{len(png.data)} bytes>"
    )
    jpeg = decode(encode(drawing(), "JPEG"), source="a", name="b")
    data, _ = formatter.format(jpeg)
    assert data["image/jpeg"] == jpeg.data and "image/png" not in data


# --- saving ------------------------------------------------------------------------------------


def test_save_writes_the_original_bytes_and_never_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "images"
    chart = decode(encode(drawing(), "PNG"), source="code interpreter", name="chart.png")
    path = chart.save(folder)
    assert path == folder / "chart.png" and path.read_bytes() == chart.data
    assert chart.save(folder) == path  # the same bytes: found, not duplicated
    other = decode(encode(noise("RGB", (4, 4)), "PNG"), source="code interpreter", name="chart")
    assert other.save(folder) == folder / "chart-2.png"
    assert other.save(folder) == folder / "chart-2.png"
    assert path.read_bytes() == chart.data
    (folder / "chart-3.png").write_bytes(b"someone else's file")
    third = decode(encode(noise("RGB", (5, 5)), "PNG"), source="a", name="chart")
    assert third.save(folder) == folder / "chart-4.png"
    assert (folder / "chart-3.png").read_bytes() == b"someone else's file"
    photo = decode(encode(drawing(), "JPEG"), source="a", name="x")
    assert photo.save(folder, stem="../My Photo!") == folder / "My-Photo.jpg"
    assert sorted(p.name for p in folder.iterdir()) == [
        "My-Photo.jpg", "chart-2.png", "chart-3.png", "chart-4.png", "chart.png"
    ]  # fmt: skip


def test_save_errors_are_image_errors(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    image = decode(encode(drawing(), "PNG"), source="a", name="chart")
    message = error_of(image.save, blocker / "sub")
    assert message.startswith("Could not save the image 'chart' in ")


def test_save_all_names_images_stably_in_arrival_order(tmp_path: Path) -> None:
    chart = decode(encode(drawing(), "PNG"), source="code interpreter", name="chart.png")
    first = decode_base64(
        base64.b64encode(encode(noise("RGB", (3, 3), 1), "PNG")).decode(),
        source="image generation",
        name="",
    )
    second = decode(encode(noise("RGB", (3, 3), 2), "WEBP", lossless=True), source="g", name="")
    assert first.name == second.name == "image"
    folder = tmp_path / "saved"
    paths = save_all([chart, first, second], folder)
    assert [p.name for p in paths] == ["chart.png", "image-1.png", "image-2.webp"]
    assert [p.read_bytes() for p in paths] == [chart.data, first.data, second.data]
    assert save_all([chart, first, second], str(folder)) == paths  # again: the same files
    assert len(list(folder.iterdir())) == 3
    answer = Answer("Here.", [chart, first])
    assert [p.name for p in answer.save_images(folder, prefix="turn3-")] == [
        "turn3-chart.png",
        "turn3-image.png",
    ]
    assert save_all([], tmp_path / "none") == []


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("/mnt/data/chart.png", "chart"),
        ("C:\\Users\\me\\plot.JPEG", "plot"),
        ("../../etc/passwd", "passwd"),
        ("report.v2", "report.v2"),
        ("Grafik für Übung 1.webp", "Grafik-fur-Ubung-1"),
        ("   ", "image"),
        ("...", "image"),
        (".png", "png"),
        ("con.png", "con_"),
        ("a" * 200, "a" * 80),
        ("日本語.png", "image"),
    ],
)
def test_safe_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe
    assert decode(encode(drawing(), "PNG"), source="a", name=name).name == safe


# --- every error is one line -------------------------------------------------------------------


def test_image_error_is_one_line_even_from_a_multiline_message() -> None:
    error = ImageError("first\nsecond\t third  ")
    assert str(error) == "first second third"
    assert pickle.loads(pickle.dumps(error)).args == error.args
