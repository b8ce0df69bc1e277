"""``multipart/form-data`` request bodies (file uploads), parsed byte-exactly.

The openai SDK sends uploads as one part per field: plain fields (``purpose``, and nested objects
flattened as ``expires_after[anchor]``) and file parts that carry a ``filename``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PARAM = re.compile(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))')


@dataclass(frozen=True)
class FormFile:
    """A file part: the client's file name, its declared Content-Type, and the bytes."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MultipartForm:
    """A parsed upload: plain ``fields`` and ``files`` by form name (a repeated name: the last)."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FormFile] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.fields, *self.files]


def is_multipart(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "multipart/form-data"


def parse_multipart(content_type: str, body: bytes) -> MultipartForm | None:
    """The form in ``body``, or None if it is not well-formed multipart."""
    boundary = _params(content_type).get("boundary")
    if not boundary:
        return None
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        return None
    fields: dict[str, str] = {}
    files: dict[str, FormFile] = {}
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, separator, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not separator:
            return None
        headers = _headers(head.decode("utf-8", "replace"))
        disposition = _params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            return None
        if "filename" in disposition:
            content_type = headers.get("content-type", "application/octet-stream")
            files[name] = FormFile(disposition["filename"], content_type, data)
        else:
            fields[name] = data.decode("utf-8", "replace")
    return MultipartForm(fields, files)


def _headers(head: str) -> dict[str, str]:
    headers = {}
    for line in head.split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _params(header: str) -> dict[str, str]:
    """``form-data; name="file"; filename="a.png"`` -> ``{"name": "file", "filename": "a.png"}``."""
    found = {}
    for match in _PARAM.finditer(";" + header.split(";", 1)[1] if ";" in header else ""):
        quoted, bare = match.group(2), match.group(3)
        found[match.group(1).lower()] = (
            re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
        )
    return found
