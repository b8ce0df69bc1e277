"""What `%%ask --attach` hands the model: files from disk, and images or tables from the kernel.

An attachment is named by a path or by a variable. Images (files or PIL images and matplotlib
figures in the namespace) go as image input; a DataFrame goes as a CSV file; any other file goes
as itself: uploaded where the server keeps files, else (Chat Completions) written into the
message as text, so the thread keeps it. Decoding and checking images is the images module's
work; this one only decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssistantError

if TYPE_CHECKING:
    from .images import AssistantImage, ImageLimits

#: The Files API takes files up to 512 MB.
MAX_FILE_BYTES = 512 * 1024 * 1024
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
#: What OpenAI's file search can read; other files (a CSV, say) would fail to index.
SEARCHABLE_SUFFIXES = frozenset(
    {".c", ".cpp", ".cs", ".css", ".doc", ".docx", ".go", ".html", ".java", ".js", ".json"}
    | {".md", ".pdf", ".php", ".pptx", ".py", ".rb", ".sh", ".tex", ".ts", ".txt"}
)


def searchable(filename: str) -> bool:
    return Path(filename).suffix.lower() in SEARCHABLE_SUFFIXES


@dataclass(frozen=True)
class Attachment:
    """One thing attached to a question: an image, or a file to upload."""

    name: str  # as the model sees it: "report.pdf", "sales.csv", "chart.png"
    source: str  # what the user typed: a path or a variable name
    data: bytes
    image: AssistantImage | None = None

    @property
    def is_image(self) -> bool:
        return self.image is not None


def resolve(
    names: Sequence[str], namespace: Mapping[str, Any], limits: ImageLimits | None = None
) -> list[Attachment]:
    """Attachments for `--attach` values, or one clear error naming the one that is wrong."""
    return [_resolve_one(name, namespace, limits) for name in names]


def _resolve_one(name: str, namespace: Mapping[str, Any], limits: ImageLimits | None) -> Attachment:
    path = Path(name).expanduser()
    if path.is_file():
        return _from_file(path, name, limits)
    if name.isidentifier() and name in namespace:
        return _from_value(namespace[name], name, limits)
    raise AssistantError(
        f"Cannot attach {name!r}: no file at that path and no variable by that name."
    )


def _from_file(path: Path, source: str, limits: ImageLimits | None) -> Attachment:
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise AssistantError(
            f"Cannot attach {source!r}: {size:,} bytes is over the 512 MB the Files API takes."
        )
    data = path.read_bytes()
    if path.suffix.lower() in IMAGE_SUFFIXES:
        from .images import DEFAULT_LIMITS, decode

        image = decode(data, source="attachment", name=path.name, limits=limits or DEFAULT_LIMITS)
        return Attachment(path.name, source, data, image)
    return Attachment(path.name, source, data)


def _from_value(value: Any, source: str, limits: ImageLimits | None) -> Attachment:
    from .images import DEFAULT_LIMITS, from_object, is_image_object

    if is_image_object(value):
        image = from_object(
            value, source="attachment", name=source, limits=limits or DEFAULT_LIMITS
        )
        if image is not None:
            return Attachment(f"{source}{image.extension}", source, image.data, image)
    if _is_dataframe(value):
        data = value.to_csv(index=False).encode("utf-8")
        return Attachment(f"{source}.csv", source, data)
    if isinstance(value, bytes | bytearray):
        return Attachment(source, source, bytes(value))
    raise AssistantError(
        f"Cannot attach {source!r}: it is a {type(value).__name__}; attach a file path, a "
        "DataFrame, a PIL image or a matplotlib figure."
    )


#: Characters of one text file sent inline (a server that keeps no files gets them in the message).
MAX_INLINE_CHARACTERS = 200_000


def inline_text_files(text: str, attachments: Sequence[Attachment]) -> tuple[str, list[Attachment]]:
    """For a server that keeps no files (Chat Completions): the message with each text file
    written into it, and the attachments left (the images, which go inline as images)."""
    from .context import ContextPart, render

    files = [a for a in attachments if not a.is_image]
    parts = [ContextPart(f"file {a.name}", _text_of(a), _language(a.name)) for a in files]
    return render(text, parts, heading="Attached files:"), [a for a in attachments if a.is_image]


def _text_of(attachment: Attachment) -> str:
    try:
        text = attachment.data.decode("utf-8")
    except UnicodeDecodeError:
        raise AssistantError(
            f"Cannot attach {attachment.name!r} here: this server keeps no files, so only images "
            "and text files can go in the message; use a server with the Responses API for it."
        ) from None
    if len(text) > MAX_INLINE_CHARACTERS:
        raise AssistantError(
            f"Cannot attach {attachment.name!r} here: {len(text):,} characters is over the "
            f"{MAX_INLINE_CHARACTERS:,} sent inline; attach a part of it, or summarise it with "
            "--vars."
        )
    return text


def _language(name: str) -> str:
    suffix = Path(name).suffix.lower().lstrip(".")
    return {"py": "python", "md": "markdown", "txt": "text"}.get(suffix, suffix or "text")


def _is_dataframe(value: object) -> bool:
    # Checked by name, so pandas is never imported for a value that is not one of its own.
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")
