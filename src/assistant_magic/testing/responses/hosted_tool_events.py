"""The stream events of the Responses API's code interpreter and image generation steps.

Both open like a text turn (``response.created``, ``response.in_progress``) and end with
``response.completed``. A :class:`CodeInterpreter` step, at the next ``output_index``::

    response.output_item.added                  code_interpreter_call ci_..., status in_progress,
                                                code "", container_id, outputs [] (or null)
    response.code_interpreter_call.in_progress
    response.code_interpreter_call_code.delta   x n
    response.code_interpreter_call_code.done    the whole code
    response.code_interpreter_call.interpreting (the files are saved in the container now)
    response.code_interpreter_call.completed
    response.output_item.done                   status completed, code, outputs

then, given ``text``, a message as in a text turn whose ``output_text.annotation.added`` events
(one ``container_file_citation`` per file) come after the last delta, before
``output_text.done``. ``outputs`` hold an ``image`` (data URL) per displayed image, then the
``logs``, and are null unless the request's ``include`` has ``code_interpreter_call.outputs``:
all as in recorded streams of the real API.

An :class:`ImageGeneration` step::

    response.output_item.added                  image_generation_call ig_..., in_progress,
                                                result null
    response.image_generation_call.in_progress
    response.image_generation_call.generating
    response.image_generation_call.partial_image  x min(partial_images, len(partials))
    response.image_generation_call.completed
    response.output_item.done                   status completed, result (base64), revised_prompt,
                                                size, quality, background, output_format

then the optional message. Size and format are read from the image bytes when Pillow can (else
taken from the tool, else 1024x1024 png); ``auto`` quality and background resolve to ``high`` and
``opaque``.
"""

from __future__ import annotations

import base64
import io
import time
import warnings
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..chunking import Sleep, split_arguments
from ..hosted_steps import CodeInterpreter, ImageGeneration
from ..resources.containers import SANDBOX_DIR, new_container_file_id, store_file
from ..state import Container, ContainerFile
from ..wire import Event
from .events import Numbering, close_item, open_hosted_call, say_and_complete
from .response import Turn


@dataclass(frozen=True)
class CodeRun:
    """Where a code interpreter step runs, and whether its outputs are sent."""

    container: Container
    include_outputs: bool


@dataclass(frozen=True)
class ImageRun:
    """The request's ``image_generation`` tool settings that shape the step."""

    tool: Mapping[str, Any]
    revised_prompt: str

    @property
    def partial_images(self) -> int:
        count = self.tool.get("partial_images")
        return count if isinstance(count, int) else 0


def code_interpreter_events(
    turn: Turn, reply: CodeInterpreter, run: CodeRun, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one code interpreter step, updating ``turn`` and the container."""
    event = Numbering()
    opened = yield from open_hosted_call(
        turn,
        event,
        "code_interpreter_call",
        "ci",
        code="",
        container_id=run.container.id,
        outputs=[] if run.include_outputs else None,
    )
    for piece in split_arguments(reply.code, reply.code_chunks):
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return  # cancelled meanwhile
        yield event("response.code_interpreter_call_code.delta", **opened.where, delta=piece)
    yield event("response.code_interpreter_call_code.done", **opened.where, code=reply.code)
    yield event("response.code_interpreter_call.interpreting", **opened.where)
    shown, saved = _save_files(turn, run.container, reply)
    yield event("response.code_interpreter_call.completed", **opened.where)
    outputs = _outputs(reply) if run.include_outputs else None
    done = {**opened.item, "status": "completed", "code": reply.code, "outputs": outputs}
    if not (yield from close_item(turn, event, opened, done)):
        return

    annotations = citations(reply.text, shown, saved) if reply.text else []
    yield from say_and_complete(
        turn,
        event,
        reply.text,
        reply.usage,
        [reply.code],
        delay=delay,
        sleep=sleep,
        annotations=annotations,
    )


def image_generation_events(
    turn: Turn, reply: ImageGeneration, run: ImageRun, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The events of one image generation step, updating ``turn``."""
    event = Numbering()
    opened = yield from open_hosted_call(turn, event, "image_generation_call", "ig", result=None)
    yield event("response.image_generation_call.generating", **opened.where)
    settings = image_settings(reply.image, run.tool)
    for index, partial in enumerate(reply.partials[: run.partial_images]):
        if delay > 0:
            sleep(delay)
        if turn.is_final:
            return  # cancelled meanwhile
        yield event(
            "response.image_generation_call.partial_image",
            **opened.where,
            partial_image_index=index,
            partial_image_b64=_b64(partial),
            **settings,
        )
    yield event("response.image_generation_call.completed", **opened.where)
    done = {
        **opened.item,
        "status": "completed",
        "result": _b64(reply.image),
        "revised_prompt": reply.revised_prompt or run.revised_prompt,
        **settings,
    }
    if not (yield from close_item(turn, event, opened, done)):
        return

    said = [str(done["revised_prompt"])]
    yield from say_and_complete(
        turn, event, reply.text, reply.usage, said, delay=delay, sleep=sleep
    )


def citations(
    text: str, shown: Sequence[ContainerFile], saved: Sequence[ContainerFile]
) -> list[dict[str, Any]]:
    """``container_file_citation`` annotations: displayed images at 0..0, then each saved file
    over ``sandbox:<path>`` if the text links it, else over its name, else at 0..0."""
    found = [_citation(file, 0, 0) for file in shown]
    for file in saved:
        for target in (f"sandbox:{file.path}", file.filename):
            start = text.find(target)
            if start >= 0:
                found.append(_citation(file, start, start + len(target)))
                break
        else:
            found.append(_citation(file, 0, 0))
    return found


def image_settings(image: bytes, tool: Mapping[str, Any]) -> dict[str, str]:
    """``size``, ``quality``, ``background`` and ``output_format`` of a generated image."""
    size, output_format = _size_and_format(image)
    wanted_size = str(tool.get("size") or "auto")
    return {
        "size": size or (wanted_size if wanted_size != "auto" else "1024x1024"),
        "quality": _resolved(tool.get("quality"), "high"),
        "background": _resolved(tool.get("background"), "opaque"),
        "output_format": output_format or str(tool.get("output_format") or "png"),
    }


def _save_files(
    turn: Turn, container: Container, reply: CodeInterpreter
) -> tuple[list[ContainerFile], list[ContainerFile]]:
    """The code ran: its displayed images and saved files join the container."""
    shown = []
    for image in reply.images:
        file_id = new_container_file_id()  # a displayed image is named after its id
        path = f"{SANDBOX_DIR}{file_id}.png"
        shown.append(
            store_file(turn.state, container, path, image, source="assistant", file_id=file_id)
        )
    saved = [
        store_file(turn.state, container, SANDBOX_DIR + name, data, source="assistant")
        for name, data in reply.files.items()
    ]
    return shown, saved


def _outputs(reply: CodeInterpreter) -> list[dict[str, str]]:
    outputs = [{"type": "image", "url": _data_url(image)} for image in reply.images]
    if reply.logs is not None:
        outputs.append({"type": "logs", "logs": reply.logs})
    return outputs


def _citation(file: ContainerFile, start: int, end: int) -> dict[str, Any]:
    return {
        "type": "container_file_citation",
        "container_id": file.container_id,
        "file_id": file.id,
        "filename": file.filename,
        "start_index": start,
        "end_index": end,
    }


def _size_and_format(image: bytes) -> tuple[str | None, str | None]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image)) as opened:
                width, height = opened.size
                return f"{width}x{height}", str(opened.format).lower()
    except Exception:  # not an image Pillow knows: the bytes are sent all the same
        return None, None


def _resolved(value: object, auto: str) -> str:
    return auto if value in (None, "auto") else str(value)


def _data_url(image: bytes) -> str:
    kind = _size_and_format(image)[1] or "png"
    return f"data:image/{kind};base64,{_b64(image)}"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
