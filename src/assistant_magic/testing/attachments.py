"""Images and files in request input: checked as the real API checks them, and handed to replies.

Content parts ``input_image`` and ``input_file`` may sit in a message's ``content`` or in a
``function_call_output``'s ``output`` list. Each is resolved to bytes (an uploaded file by
``file_id``, or inline data) and becomes an :class:`InputImage` / :class:`InputFile` that reply
factories read. Remote URLs are accepted but not fetched (their ``data`` is empty).

The rules, each a 400 naming the part (``param`` like ``input[0].content[1].image_url``):

* an ``image_url`` data URL whose MIME type is not an image, or whose payload is not base64:
  ``Invalid '<param>'. Expected a base64-encoded data URL with an image MIME type (e.g.
  'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got ...`` (the real API's words);
* image bytes Pillow cannot decode, or not PNG, JPEG, GIF or WebP: ``The image data you provided
  does not represent a valid image. ...`` (the real API's words, ``param: "input"``);
* a ``file_id`` that names no uploaded file, an ``image_url`` data URL without ``;base64``, an
  ``input_image`` with neither ``image_url`` nor ``file_id``, an ``input_file`` with no source,
  ``file_data`` that is not a base64 data URL or comes without ``filename``: our words, marked
  ``[scripted server]`` (the real ones are unverified).

"The real API's words" are as recorded in other projects' fixtures of OpenAI errors.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from .items import JSON_OBJECT, Item
from .reply_context import InputFile, InputImage
from .state import StoredFile
from .wire import ApiFailure, scripted_failure

#: Pillow format -> MIME type, for the formats the API accepts as image input.
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}

_DATA_URL = re.compile(r"data:([^,;]*)((?:;[^,;]*)*),(.*)", re.DOTALL)
_EXAMPLE = "'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='"
_INVALID_IMAGE = (
    "The image data you provided does not represent a valid image. Please check your input and "
    "try again with one of the supported image formats: ['image/jpeg', 'image/png', 'image/gif', "
    "'image/webp']."
)


@dataclass
class Attachments:
    images: list[InputImage] = field(default_factory=list)
    files: list[InputFile] = field(default_factory=list)


def attachments(
    items: Sequence[Item], uploads: Mapping[str, StoredFile], *, param: str = "input"
) -> Attachments:
    """The images and files in ``items`` (``param`` names the list in error messages)."""
    found = Attachments()
    for index, item in enumerate(items):
        kind = item.get("type")
        if kind == "message":
            field, call_id = "content", None
        elif kind == "function_call_output":
            field, call_id = "output", item.get("call_id")
        else:
            continue
        parts = item.get(field)
        if not isinstance(parts, list):
            continue
        for number, part in enumerate(parts):
            part_type = part.get("type") if isinstance(part, JSON_OBJECT) else None
            if part_type not in ("input_image", "input_file"):
                continue
            # Named only here: a long thread's request holds thousands of parts, few of these.
            place = f"{param}[{index}].{field}[{number}]"
            if part_type == "input_image":
                found.images.append(_image(part, place, uploads, call_id))
            else:
                found.files.append(_file(part, place, uploads, call_id))
    return found


def image_format(data: bytes) -> str | None:
    """The MIME type of an image the API accepts, or None if Pillow cannot fully decode it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                return IMAGE_FORMATS.get(str(image.format))
    except Exception:  # Pillow raises many kinds for bad data
        return None


def _image(
    part: Mapping[str, Any], place: str, uploads: Mapping[str, StoredFile], call_id: object
) -> InputImage:
    detail = str(part.get("detail") or "auto")
    caller = str(call_id) if call_id is not None else None
    url, file_id = part.get("image_url"), part.get("file_id")
    if isinstance(file_id, str) and file_id:
        data = _upload(uploads, file_id, f"{place}.file_id").data
        source = file_id
    elif isinstance(url, str) and url.startswith("data:"):
        data = _image_data_url(url, f"{place}.image_url")[1]
        source = "data_url"
    elif isinstance(url, str) and url.startswith(("http://", "https://")):
        return InputImage(url, b"", "", detail, caller)
    else:
        raise scripted_failure(
            400,
            f"'{place}' needs an 'image_url' (a data or http(s) URL) or a 'file_id'.",
            param=place,
        )
    media_type = image_format(data)
    if media_type is None:
        raise ApiFailure(400, _INVALID_IMAGE, param="input", code="invalid_value")
    return InputImage(source, data, media_type, detail, caller)


def _file(
    part: Mapping[str, Any], place: str, uploads: Mapping[str, StoredFile], call_id: object
) -> InputFile:
    caller = str(call_id) if call_id is not None else None
    file_id, data, url = part.get("file_id"), part.get("file_data"), part.get("file_url")
    if isinstance(file_id, str) and file_id:
        upload = _upload(uploads, file_id, f"{place}.file_id")
        return InputFile(file_id, upload.filename, upload.data, caller)
    if isinstance(data, str) and data:
        filename = part.get("filename")
        if not isinstance(filename, str) or not filename:
            raise scripted_failure(
                400, f"'{place}.filename' is required with 'file_data'.", param=f"{place}.filename"
            )
        decoded = _data_url(data)
        if decoded is None:
            raise scripted_failure(
                400,
                f"'{place}.file_data' must be a base64 data URL ('data:<type>;base64,...').",
                param=f"{place}.file_data",
            )
        return InputFile("file_data", filename, decoded[1], caller)
    if isinstance(url, str) and url:
        return InputFile(url, str(part.get("filename") or url.rsplit("/", 1)[-1]), b"", caller)
    raise scripted_failure(
        400, f"'{place}' needs a 'file_id', 'file_data' or 'file_url'.", param=place
    )


def _upload(uploads: Mapping[str, StoredFile], file_id: str, place: str) -> StoredFile:
    upload = uploads.get(file_id)
    if upload is None:
        raise scripted_failure(
            400, f"Invalid '{place}': no uploaded file has the id '{file_id}'.", param=place
        )
    return upload


def _data_url(url: str) -> tuple[str, bytes] | None:
    """``(media_type, bytes)`` of a base64 data URL, or None if it is none."""
    match = _DATA_URL.fullmatch(url)
    if match is None or ";base64" not in match.group(2).lower():
        return None
    try:
        return match.group(1).lower(), base64.b64decode(match.group(3), validate=True)
    except (binascii.Error, ValueError):
        return None


def _image_data_url(url: str, place: str) -> tuple[str, bytes]:
    decoded = _data_url(url)
    if decoded is None or not decoded[0].startswith("image/"):
        if decoded is not None:
            got = f"unsupported MIME type '{decoded[0]}'"
        elif ";base64," in url.lower():
            got = "an invalid base64-encoded value"
        else:  # our words for this case
            message = f"Invalid '{place}'. Expected a base64-encoded data URL ({_EXAMPLE})."
            raise scripted_failure(400, message, param=place)
        message = (
            f"Invalid '{place}'. Expected a base64-encoded data URL with an image MIME type "
            f"(e.g. {_EXAMPLE}), but got {got}."
        )
        raise ApiFailure(400, message, param=place, code="invalid_value")
    return decoded
