"""assistant_magic.image_decoding: each format, bad data, the limits, base64 and data URLs."""

from __future__ import annotations

import base64
import io
import random
import resource
import struct
import warnings
import zlib
from typing import Any

import pytest
from PIL import Image, ImageFile

from assistant_magic.image_decoding import ImageLimits, decode, decode_base64
from assistant_magic.image_errors import ImageError
from image_samples import TIMES, drawing, encode, error_of, gif_bytes, noise, rgba_bytes

ALLOWED = "only PNG/JPEG/GIF/WebP images are accepted"


def png_claiming(width: int, height: int, mode: str = "RGBA") -> bytes:
    """A real 1x1 PNG whose IHDR (with a correct CRC) claims width x height pixels."""
    data = bytearray(encode(Image.new(mode, (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    body = bytearray(data[16:29])
    body[0:8] = struct.pack(">II", width, height)
    data[16:29] = body
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(body)))
    return bytes(data)


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


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
