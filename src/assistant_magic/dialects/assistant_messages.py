"""What an Assistants run wrote, read for the ask: its messages' text with their citations, the
pictures they hold, a line for each hosted tool step, and the run's error and usage."""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

from ..events import Event, Notice, Usage

if TYPE_CHECKING:
    from ..citations import Citation

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")


def step_notices(step: Any) -> Generator[Event, None, None]:
    """A line for each hosted tool step (function calls have lines of their own)."""
    details = step.step_details
    if getattr(details, "type", None) != "tool_calls":
        return
    for call in details.tool_calls:
        if call.type == "code_interpreter":
            code = (call.code_interpreter.input or "").strip().splitlines()
            first = f": {code[0][:60]}" if code else ""
            more = f" (+{len(code) - 1} lines)" if len(code) > 1 else ""
            yield Notice(f"code interpreter ran{first}{more}")
        elif call.type == "file_search":
            yield Notice("file search looked through the thread's files")
    if step.status == "failed" and step.last_error is not None:
        yield Notice(f"a step failed: {step.last_error.code}: {step.last_error.message}")


def messages_text(messages: Sequence[Any]) -> str:
    """The assistant's messages as one Markdown text, annotations rendered as notes."""
    from ..citations import render

    texts = []
    for message in messages:
        for block in message.content:
            if block.type == "text":
                value, citations = strip_annotations(block.text)
                texts.append(render(value, citations))
    return "\n\n".join(text for text in texts if text)


def messages_refusal(messages: Sequence[Any]) -> str | None:
    """What the assistant said instead of the answer the schema asked for, if it refused."""
    said = [
        block.refusal
        for message in messages
        for block in message.content
        if block.type == "refusal"
    ]
    return "\n".join(said) if said else None


def strip_annotations(text: Any) -> tuple[str, list[Citation]]:
    """The text without the file-citation markers (``【4:0†source】``) the API puts in it, and
    the citations, placed where their markers were; sandbox links stay for `render`."""
    from ..citations import Citation

    value: str = text.value
    citations: list[Citation] = []
    removed = 0
    for note in sorted(text.annotations or (), key=lambda n: n.start_index):
        if note.type == "file_citation":
            start = note.start_index - removed
            value = value[:start] + value[start + (note.end_index - note.start_index) :]
            removed += note.end_index - note.start_index
            citations.append(
                Citation(
                    "file_citation", note.file_citation.file_id, note.file_citation.file_id, start
                )
            )
        elif note.type == "file_path":
            citations.append(
                Citation(
                    "container_file_citation",
                    note.text.removeprefix("sandbox:"),
                    note.file_path.file_id,
                )
            )
    return value, citations


def image_files(messages: Sequence[Any]) -> Generator[tuple[str, str], None, None]:
    """(file id, name) of each picture: image_file blocks, then images linked by file_path."""
    for message in messages:
        for block in message.content:
            if block.type == "image_file":
                yield block.image_file.file_id, ""
            elif block.type == "text":
                for note in block.text.annotations or ():
                    path = note.text.rsplit("/", 1)[-1] if note.type == "file_path" else ""
                    if path.lower().endswith(IMAGE_SUFFIXES):
                        yield note.file_path.file_id, path.rsplit(".", 1)[0]


def run_error(run: Any, status: str) -> str | None:
    if run.last_error is not None:
        return f"{run.last_error.code}: {run.last_error.message}"
    if status == "incomplete" and run.incomplete_details is not None:
        return f"stopped early: {run.incomplete_details.reason}"
    if status == "expired":
        return "the run was not finished in time"
    return None


def run_usage(usage: Any) -> Usage | None:
    if usage is None:
        return None
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        total_tokens=usage.total_tokens or 0,
    )
