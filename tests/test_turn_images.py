"""Images through a whole ask, over real HTTP: generated, from code interpreter, from tools."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from assistant_magic.testing import (
    CodeInterpreter,
    FunctionCall,
    ImageGeneration,
    ReplyContext,
    ScriptedServer,
    Text,
)


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A real PNG with a distinctive pixel in one corner."""
    image = Image.new("RGB", (width, height), colour)
    image.putpixel((0, 0), (255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def pixels(data: bytes) -> tuple[tuple[int, int], bytes]:
    image = Image.open(io.BytesIO(data)).convert("RGBA")
    return image.size, image.tobytes()


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def bodies(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


def test_generated_image_with_partial_previews(ip, server, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    final = png(64, 48, (200, 30, 30))
    server.script(
        ImageGeneration(image=final, partials=[png(8, 6, (9, 9, 9)), png(16, 12, (90, 9, 9))]),
    )
    cell = f"%%ask --image-generation -o picture --save-images {tmp_path / 'out'}\nDraw a scouter"
    error, out = run(ip, cell, capsys)
    assert error is None
    (tool,) = bodies(server)[0]["tools"]
    assert tool == {"type": "image_generation", "partial_images": 2}
    picture = ip.user_ns["picture"]
    (image,) = picture.images
    assert pixels(image.data) == pixels(final)
    assert (image.size, image.format, image.source) == ((64, 48), "PNG", "image generation")
    assert "🖼 image-1 · 64×48 PNG · from image generation" in out
    (saved,) = (tmp_path / "out").iterdir()
    assert saved.read_bytes() == final
    assert f"Saved {saved}" in out


def test_code_interpreter_chart_is_downloaded_and_shown(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    chart = png(40, 30, (30, 30, 200))
    server.script(
        CodeInterpreter(
            code="plt.bar(...); plt.savefig('/mnt/data/chart.png')",
            files={"chart.png": chart},
            text="Here is the chart: [chart.png](sandbox:/mnt/data/chart.png)",
        )
    )
    run(ip, "%assistant --code-interpreter", capsys)
    error, out = run(ip, "%%ask -o result\nPlot the battle strengths", capsys)
    assert error is None
    (tool,) = bodies(server)[0]["tools"]
    assert tool == {"type": "code_interpreter", "container": {"type": "auto"}}
    (image,) = ip.user_ns["result"].images
    assert pixels(image.data) == pixels(chart)
    assert ip.user_ns["result"].text == (
        "Here is the chart: chart.png<sup>1</sup>\n\n"
        "<sup>1</sup> chart.png: from the code interpreter, shown below"
    ), "the sandbox link, which leads nowhere in a notebook, became a note"
    assert (image.name, image.source) == ("chart", "code interpreter")
    downloads = [r for r in server.requests if r.path.endswith("/content")]
    assert len(downloads) == 1 and "/v1/containers/" in downloads[0].path
    assert "🖼 chart · 40×30 PNG · from code interpreter" in out


@pytest.mark.parametrize(
    ("data", "config", "expected"),
    [
        (png(64, 48, (1, 2, 3))[:60], "", "damaged or truncated PNG"),
        (b"definitely not an image", "", "not an image"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 20, "", "not a valid PNG/JPEG/GIF/WebP image"),
        (png(64, 48, (1, 2, 3)), "AssistantMagics.max_image_pixels = 100", "max_image_pixels"),
    ],
    ids=["truncated", "not-an-image", "png-signature-then-garbage", "too-many-pixels"],
)
def test_a_bad_image_is_one_line_and_the_answer_stands(  # type: ignore[no-untyped-def]
    ip, server, capsys, data: bytes, config: str, expected: str
) -> None:
    if config:
        ip.run_line_magic("config", config)
    server.script(ImageGeneration(image=data, text="Here it is."))
    error, out = run(ip, "%%ask --image-generation -o picture\nDraw", capsys)
    assert error is None, "a bad image never fails the ask"
    assert ip.user_ns["picture"] == "Here it is."
    assert ip.user_ns["picture"].images == ()
    (notice,) = [line for line in out.splitlines() if line.startswith("[assistant] ⓘ")]
    assert "The image from image generation" in notice and expected in notice


def test_a_tool_that_returns_a_picture(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(
        "from PIL import Image\n"
        "def scouter_snapshot(name: str):\n"
        "    '''What the scouter sees.'''\n"
        "    return Image.new('RGB', (32, 24), (0, 200, 0))\n"
    )
    run(ip, "%assistant tools add scouter_snapshot", capsys)

    def describe(context: ReplyContext) -> Text:
        (seen,) = context.input_images
        return Text(f"I see a {seen.size[0]}x{seen.size[1]} picture.")

    server.script(FunctionCall("scouter_snapshot", {"name": "Goku"}, call_id="call_s"), describe)
    error, out = run(ip, "%%ask -o answer\nShow me Goku", capsys)
    assert error is None
    assert ip.user_ns["answer"] == "I see a 32x24 picture."
    (output,) = [i for i in bodies(server)[1]["input"] if i["type"] == "function_call_output"]
    text_part, image_part = output["output"]
    assert text_part["type"] == "input_text" and "image (32x24 PNG)" in text_part["text"]
    data_url = image_part["image_url"]
    assert data_url.startswith("data:image/png;base64,")
    size, _ = pixels(base64.b64decode(data_url.split(",", 1)[1]))
    assert size == (32, 24)
    assert "🖼 scouter_snapshot · 32×24 PNG · from tool scouter_snapshot" in out
    assert len(ip.user_ns["answer"].images) == 1


def test_a_chat_model_sees_a_tool_picture_after_the_results(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell(
        "from PIL import Image\n"
        "def scouter_snapshot(name: str):\n"
        "    '''What the scouter sees.'''\n"
        "    return Image.new('RGB', (32, 24), (0, 200, 0))\n"
    )
    run(ip, "%assistant --dialect chat", capsys)
    run(ip, "%assistant tools add scouter_snapshot", capsys)

    def describe(context: ReplyContext) -> Text:
        (seen,) = context.input_images
        return Text(f"I see a {seen.size[0]}x{seen.size[1]} picture.")

    server.script(FunctionCall("scouter_snapshot", {"name": "Goku"}, call_id="call_s"), describe)
    error, _ = run(ip, "%%ask -o answer\nShow me Goku", capsys)
    assert error is None
    assert ip.user_ns["answer"] == "I see a 32x24 picture."
    *_, tool, pictures = server.chat_messages(1)
    assert tool["role"] == "tool" and "image (32x24 PNG)" in tool["content"]
    assert pictures["role"] == "user"
    text, image = pictures["content"]
    assert text == {"type": "text", "text": "The pictures returned by the tool calls above."}
    assert image["image_url"]["url"].startswith("data:image/png;base64,")

    server.script(Text("Next."))
    run(ip, "%%ask\nAnd now?", capsys)
    replayed = [m["role"] for m in server.chat_messages(-1)]
    assert replayed == ["user", "assistant", "tool", "assistant", "user"], (
        "later asks replay the result's text description; the picture was for that step"
    )


def test_a_tool_that_returns_a_matplotlib_figure(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("matplotlib")
    ip.run_cell(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "def strength_chart(names: list[str]):\n"
        "    '''Bar chart of battle strengths.'''\n"
        "    fig, ax = plt.subplots(figsize=(3, 2), dpi=50)\n"
        "    ax.bar(names, [530_000, 9_001])\n"
        "    return fig\n"
    )
    run(ip, "%assistant tools add strength_chart", capsys)
    server.script(
        FunctionCall("strength_chart", {"names": ["Mamezou", "Goku"]}),
        lambda context: Text(f"A chart of {context.input_images[0].size}."),
    )
    error, _ = run(ip, "%%ask -o answer\nChart them", capsys)
    assert error is None
    (image,) = ip.user_ns["answer"].images
    assert ip.user_ns["answer"] == f"A chart of {image.size}."
    assert image.format == "PNG" and image.size[0] > 50
    # Shown once, by the assistant: pyplot would draw the figure again when the cell ends.
    assert ip.run_cell("plt.get_fignums()").result == []


def test_a_tool_that_returns_a_dataframe(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pandas")
    ip.run_cell(
        "import pandas as pd\n"
        "def roster() -> object:\n"
        "    '''The fighters.'''\n"
        "    return pd.DataFrame({'fighter': ['Mamezou', 'Goku'], 'power': [530000, 9001]})\n"
    )
    run(ip, "%assistant tools add roster", capsys)
    server.script(FunctionCall("roster"), Text("Two fighters."))
    error, out = run(ip, "%%ask\nWho is there?", capsys)
    assert error is None
    assert "▦ roster():" in out, "the user sees the table itself"
    assert "Mamezou  530000" in out
    (output,) = [i for i in bodies(server)[1]["input"] if i["type"] == "function_call_output"]
    assert output["output"].startswith("DataFrame with 2 rows and 2 columns")
