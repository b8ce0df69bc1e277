"""The images notebook, executed in a real IPython kernel against the scripted server.

The scripted "model" sends real PNG bytes (a code interpreter chart, a generated picture and its
preview) and looks at the figure a notebook tool returns; the saved notebook must hold exactly
those pixels.
"""

from __future__ import annotations

import base64
import binascii
import io
import shutil
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from assistant_magic.testing import (
    CodeInterpreter,
    FunctionCall,
    ImageGeneration,
    InputImage,
    ReplyContext,
    ScriptedServer,
    Text,
    ToolCalls,
)

from conftest import API_KEY, saved_status
from notebook_io import NOTEBOOKS, WIDGET_STATE, WIDGET_VIEW, execute, outputs_of

CHART_ASK = "%%ask --save-images images/\nPlot the battle strengths…"
PICTURE_ASK = "%%ask --image-generation -o picture\nDraw Frieza's scouter"
TOOL_ASK = "%%ask\nCompare Mamezou and Goku with strength_chart…"
CHART_CODE = (
    "import matplotlib.pyplot as plt\n"
    "plt.bar(['Mamezou', 'Goku'], [530_000, 9_001])\n"
    "plt.savefig('/mnt/data/chart.png')"
)
CHART_ANSWER = "Ho ho ho. Here they are: [chart.png](sandbox:/mnt/data/chart.png)"
PICTURE_ANSWER = "My scouter, drawn for you. Do not break this one."

pytestmark = pytest.mark.kernel


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def bar_chart() -> bytes:
    """A stand-in for the sandbox's chart: two bars on white, a pixel pattern to recognise."""
    image = Image.new("RGB", (120, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 10, 50, 79), fill=(123, 63, 160))
    draw.rectangle((70, 77, 100, 79), fill=(255, 140, 0))
    for x in range(0, 120, 7):
        image.putpixel((x, 0), (x * 2, 255 - x, 37))
    return png(image)


def scouter(size: tuple[int, int], tint: int) -> bytes:
    """A translucent gradient (RGBA), different for each `tint`."""
    width, height = size
    image = Image.new("RGBA", size)
    image.putdata(
        [
            ((x * 255) // width, (y * 255) // height, tint, 128 + (x + y) % 128)
            for y in range(height)
            for x in range(width)
        ]
    )
    return png(image)


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    """What a person would see: (width, height) and the RGBA pixels."""
    with Image.open(io.BytesIO(data)) as image:
        rgba = image.convert("RGBA")
        return rgba.size, rgba.tobytes()


def shown_images(outputs: list[Any]) -> list[bytes]:
    """The bytes of each image/png output, in order."""
    return [
        base64.b64decode(o.data["image/png"], validate=False)
        for o in outputs
        if "image/png" in o.get("data", {})
    ]


def status_lines(outputs: list[Any]) -> list[str]:
    """The status widget's plain-text fallback, line by line, without the prefix."""
    (status,) = [o for o in outputs if WIDGET_VIEW in o.get("data", {})]
    lines = status.data["text/plain"].splitlines()
    assert all(line.startswith("[assistant] ") for line in lines), lines
    return [line.removeprefix("[assistant] ") for line in lines]


def markdown_of(outputs: list[Any]) -> str:
    (answer,) = [o for o in outputs if "text/markdown" in o.get("data", {})]
    assert answer.data["text/plain"] == answer.data["text/markdown"]
    return str(answer.data["text/markdown"])


def data_url_bytes(url: str) -> bytes:
    header, _, payload = url.partition(",")
    assert header == "data:image/png;base64", header
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error as exc:  # pragma: no cover - a failure message, not a path
        raise AssertionError(f"not base64: {exc}") from None


# -- the test ------------------------------------------------------------------------------------


def test_images_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    chart = bar_chart()
    picture = scouter((96, 72), tint=200)
    preview = scouter((24, 18), tint=10)
    received: list[InputImage] = []

    def describe(context: ReplyContext) -> Text:
        (figure,) = context.input_images
        received.append(figure)
        width, height = figure.size
        return Text(
            f"Your figure is {width}×{height} pixels: Mamezou's bar towers over Goku's, "
            "which barely leaves the ground."
        )

    server.script(
        CodeInterpreter(code=CHART_CODE, files={"chart.png": chart}, text=CHART_ANSWER),
        ImageGeneration(picture, partials=[preview], text=PICTURE_ANSWER),
        ToolCalls(
            [FunctionCall("strength_chart", {"names": ["Mamezou", "Goku"]}, call_id="call_chart")]
        ),
        describe,
    )
    notebook = tmp_path / "images.ipynb"
    shutil.copy(NOTEBOOKS / "images.ipynb", notebook)

    nb = execute(notebook)

    # The code interpreter's chart: downloaded from the container, shown pixel for pixel, saved.
    chart_cell = outputs_of(nb, CHART_ASK)
    (shown_chart,) = shown_images(chart_cell)
    assert pixels(shown_chart) == pixels(chart)
    # The answer names the chart (how a sandbox: link is rendered is not this test's business).
    assert markdown_of(chart_cell).startswith("Ho ho ho. Here they are: ")
    assert "chart.png" in markdown_of(chart_cell)
    lines = status_lines(chart_cell)
    assert lines[0].startswith("✓ completed · gpt-5.4-mini · ")
    assert lines[1:] == ["🖼 chart · 120×80 PNG · from code interpreter"]
    saved = [o.text for o in chart_cell if o.output_type == "stream"]
    assert saved == ["Saved images/chart.png\n"]

    # The generated picture: the preview was replaced in place by the final image.
    picture_cell = outputs_of(nb, PICTURE_ASK)
    (shown_picture,) = shown_images(picture_cell)
    assert pixels(shown_picture) == pixels(picture)
    assert pixels(shown_picture) != pixels(preview)
    assert markdown_of(picture_cell) == PICTURE_ANSWER
    lines = status_lines(picture_cell)
    assert lines[0].startswith("✓ completed · gpt-5.4-mini · ")
    assert lines[1:] == ["🖼 image-1 · 96×72 PNG · from image generation"]
    (size,) = outputs_of(nb, "picture.images[0].size")
    assert size.data["text/plain"] == "(96, 72)"

    # The tool's figure: shown in the cell, and the very same PNG reached the model.
    tool_cell = outputs_of(nb, TOOL_ASK)
    (figure_png,) = shown_images(tool_cell)
    width, height = Image.open(io.BytesIO(figure_png)).size
    assert width > height > 100, "a 5×3 inch figure at 100 dpi, cropped to its drawing"
    (figure,) = received
    assert figure.call_id == "call_chart"
    assert figure.data == figure_png
    assert figure.size == (width, height)
    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert len(bodies) == 4
    (call_output,) = [i for i in bodies[3]["input"] if i.get("type") == "function_call_output"]
    assert call_output["call_id"] == "call_chart"
    text_part, image_part = call_output["output"]
    assert text_part == {
        "type": "input_text",
        "text": f"The function returned an image ({width}x{height} PNG), attached here; "
        "the user sees it too.",
    }
    assert image_part["type"] == "input_image"
    sent = data_url_bytes(image_part["image_url"])
    assert sent == figure_png
    assert Image.open(io.BytesIO(sent)).size == (width, height)
    assert markdown_of(tool_cell) == (
        f"Your figure is {width}×{height} pixels: Mamezou's bar towers over Goku's, "
        "which barely leaves the ground."
    )
    call_line, image_line = status_lines(tool_cell)[1:]
    assert call_line.startswith(
        "✓ strength_chart(names=['Mamezou', 'Goku']) → The function returned an image "
        f"({width}x{height} PNG)"
    )
    assert image_line == f"🖼 strength_chart · {width}×{height} PNG · from tool strength_chart"
    assert status_lines(tool_cell)[0].startswith("✓ completed · gpt-5.4-mini · ")

    # What each ask offered the model.
    hosted = [
        [t["type"] for t in body.get("tools", []) if t["type"] != "function"] for body in bodies
    ]
    assert hosted == [
        ["code_interpreter"],
        ["code_interpreter", "image_generation"],
        ["code_interpreter"],
        ["code_interpreter"],
    ]
    (generation,) = [t for t in bodies[1]["tools"] if t["type"] == "image_generation"]
    assert generation.get("partial_images") == 2
    offered = [t for t in bodies[2]["tools"] if t["type"] == "function"]
    assert [t["name"] for t in offered] == ["strength_chart"]
    assert offered[0]["parameters"]["properties"]["names"]["type"] == "array"
    assert len({body["conversation"] for body in bodies}) == 1
    assert server.unused_replies == []

    # Every widget ended completed (its saved state, not only the text fallback).
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    for cell in (chart_cell, picture_cell, tool_cell):
        (status,) = [o for o in cell if WIDGET_VIEW in o.get("data", {})]
        value = saved_status(state, status.data[WIDGET_VIEW]["model_id"])
        assert 'data-status="completed"' in value

    # The images folder: --save-images and picture.save_images wrote the bytes the server sent.
    folder = tmp_path / "images"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == {
        "chart.png": chart,
        "image-1.png": picture,
    }
    (paths,) = outputs_of(nb, 'picture.save_images("images/")')
    assert "images/image-1.png" in paths.data["text/plain"]
    assert API_KEY not in notebook.read_text(), "the key never reaches the saved notebook"
