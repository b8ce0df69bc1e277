"""assistant_magic.assistant_image: an image displayed, saved under safe names, saved in sets."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from assistant_magic.answer import Answer
from assistant_magic.assistant_image import safe_name, save_all
from assistant_magic.image_decoding import decode, decode_base64
from image_samples import TIMES, drawing, encode, error_of, gif_bytes, noise, rgba_bytes

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
