"""The scripted server's Files and Containers APIs, driven by the real openai SDK over HTTP."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from typing import Any

import openai
import pytest
from PIL import Image

from assistant_magic.testing import ScriptedServer
from assistant_magic.testing.multipart import FormFile, MultipartForm, parse_multipart
from assistant_magic.testing.openapi import TrafficValidator, load_spec

from conftest import API_KEY as KEY
from conftest import SPEC

JSONL = b'{"custom_id": "1", "method": "POST", "url": "/v1/responses"}\n'


def png(size: tuple[int, int] = (20, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "teal").save(buffer, "PNG")
    return buffer.getvalue()


def multipart(*parts: tuple[str, str | tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body by hand: ``(name, value)`` fields and ``(name, (filename, bytes))``."""
    boundary = "scripted-boundary-42"
    body = b""
    for name, value in parts:
        if isinstance(value, tuple):
            head = f'name="{name}"; filename="{value[0]}"\r\nContent-Type: text/plain'
            data = value[1]
        else:
            head, data = f'name="{name}"', value.encode()
        body += f"--{boundary}\r\nContent-Disposition: form-data; {head}\r\n\r\n".encode()
        body += data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def post_form(server: ScriptedServer, body: bytes, content_type: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        server.base_url + "/files",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": content_type},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# -- files ---------------------------------------------------------------------------------------


def test_file_lifecycle_through_the_sdk(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    batch = client.files.create(file=("requests.jsonl", JSONL), purpose="batch")
    picture = client.files.create(file=("chart.png", png()), purpose="user_data")

    assert batch.id.startswith("file-") and batch.object == "file"
    assert (batch.filename, batch.purpose, batch.bytes) == ("requests.jsonl", "batch", len(JSONL))
    assert batch.status == "processed"
    uploads = unchecked_server.files
    assert [(f.filename, f.purpose, f.data) for f in uploads] == [
        ("requests.jsonl", "batch", JSONL),
        ("chart.png", "user_data", png()),
    ]
    assert uploads[1].content_type == "image/png"

    assert [f.id for f in client.files.list()] == [picture.id, batch.id]  # newest first
    assert [f.id for f in client.files.list(purpose="batch")] == [batch.id]
    assert [f.id for f in client.files.list(order="asc", limit=1)] == [batch.id, picture.id]
    assert client.files.retrieve(picture.id).filename == "chart.png"
    assert client.files.content(batch.id).read() == JSONL

    deleted = client.files.delete(batch.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (batch.id, True, "file")
    with pytest.raises(openai.NotFoundError) as missing:
        client.files.retrieve(batch.id)
    assert missing.value.body == {
        "message": f"No such File object: {batch.id}",
        "type": "invalid_request_error",
        "param": "id",
        "code": None,
    }
    assert [f.id for f in unchecked_server.files] == [picture.id]
    assert unchecked_server.validation_errors == []


def test_user_data_files_cannot_be_downloaded(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    upload = client.files.create(file=("notes.txt", b"private"), purpose="user_data")

    with pytest.raises(openai.BadRequestError) as refused:
        client.files.content(upload.id)

    assert refused.value.message.endswith("Not allowed to download files of purpose: user_data")
    assert unchecked_server.validation_errors == []


def test_expiry_is_sent_as_flattened_form_fields(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    upload = client.files.create(
        file=("a.jsonl", JSONL),
        purpose="batch",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )

    assert upload.expires_at == upload.created_at + 3600
    form = unchecked_server.requests_to("POST", "/files")[0].body
    assert isinstance(form, MultipartForm)
    assert form.fields == {
        "purpose": "batch",
        "expires_after[anchor]": "created_at",
        "expires_after[seconds]": "3600",
    }
    assert form.files["file"].filename == "a.jsonl" and form.files["file"].data == JSONL
    assert unchecked_server.validation_errors == []


def test_seeded_files_are_served_like_uploads(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    seeded = unchecked_server.add_file(b"a,b\n1,2\n", filename="table.csv", purpose="assistants")

    found = client.files.retrieve(seeded.id)

    assert (found.filename, found.purpose, found.bytes) == ("table.csv", "assistants", 8)
    assert seeded.content_type == "text/csv"
    assert unchecked_server.validation_errors == []


@pytest.mark.parametrize(
    ("parts", "problem"),
    [
        (
            [("purpose", "bogus"), ("file", ("a.txt", b"x"))],
            "'purpose': 'bogus' is not one of",
        ),
        ([("purpose", "batch")], "'file' is a required field"),
        ([("purpose", "batch"), ("file", "not a file part")], "'file' must be a file part"),
        (
            [
                ("purpose", "batch"),
                ("file", ("a", b"x")),
                ("expires_after[anchor]", "created_at"),
                ("expires_after[seconds]", "60"),
            ],
            "'expires_after.seconds': 60 is less than the minimum of 3600",
        ),
        ([("purpose", "batch"), ("file", ("a", b"x")), ("colour", "red")], "'colour' is not a"),
    ],
    ids=["purpose-enum", "no-file", "file-as-field", "expiry-bounds", "unknown-field"],
)
def test_upload_forms_are_checked_against_the_spec(
    unchecked_server: ScriptedServer, parts: list[tuple[str, str | tuple[str, bytes]]], problem: str
) -> None:
    status, body = post_form(unchecked_server, *multipart(*parts))

    assert status == 400
    assert body["error"]["message"].startswith("[scripted server] POST /v1/files form: ")
    assert problem in body["error"]["message"]
    assert (
        len(unchecked_server.validation_errors) >= 1
        and problem in unchecked_server.validation_errors[0]
    )
    assert unchecked_server.files == []


def test_upload_rules_hold_without_the_spec() -> None:
    with ScriptedServer(api_key=KEY) as server:
        missing = post_form(server, *multipart(("file", ("a.txt", b"x"))))
        wrong = post_form(server, *multipart(("purpose", "nope"), ("file", ("a.txt", b"x"))))

    assert missing == (
        400,
        {
            "error": {
                "message": "Missing required parameter: 'purpose'.",
                "type": "invalid_request_error",
                "param": "purpose",
                "code": "missing_required_parameter",
            }
        },
    )
    assert wrong[0] == 400 and "'nope' is not one of" in wrong[1]["error"]["message"]


def test_multipart_parsing_is_byte_exact() -> None:
    tricky = b"\x00\r\n--not-the-boundary\r\n\xff" + png()
    body, content_type = multipart(("purpose", "vision"), ("file", ("x.bin", tricky)))

    form = parse_multipart(content_type, body)

    assert form == MultipartForm(
        {"purpose": "vision"}, {"file": FormFile("x.bin", "text/plain", tricky)}
    )
    assert parse_multipart(content_type, body[:-10]) is None  # no closing delimiter
    assert parse_multipart("multipart/form-data", body) is None  # no boundary


def test_form_checks_read_the_spec() -> None:
    validator = TrafficValidator(load_spec(SPEC))

    ok = validator.form_violations("POST", "/files", {"purpose": "evals"}, ["file"])
    nested = validator.form_violations(
        "POST", "/files", {"purpose": "batch", "expires_after[anchor]": "now"}, ["file"]
    )

    assert ok == []
    assert nested == [
        "POST /v1/files form: 'expires_after.seconds' is a required field",
        "POST /v1/files form: 'expires_after.anchor': 'now' is not one of ['created_at']",
    ]
    assert validator.form_violations("POST", "/responses", {"x": "1"}, []) == []


# -- containers ----------------------------------------------------------------------------------


def test_container_lifecycle_through_the_sdk(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    upload = client.files.create(file=("seed.csv", b"x\n1\n"), purpose="user_data")
    container = client.containers.create(name="analysis", file_ids=[upload.id])
    assert container.id.startswith("cntr_") and container.name == "analysis"
    assert container.status == "running"

    added = client.containers.files.create(container.id, file=("raw.bin", b"\x00\x01\x02"))
    copied = client.containers.files.create(container.id, file_id=upload.id)
    assert added.id.startswith("cfile_") and added.source == "user"
    assert added.path.startswith("/mnt/data/") and added.path.endswith("-raw.bin")

    listed = client.containers.files.list(container.id, order="asc")
    assert [f.path.rsplit("-", 1)[-1] for f in listed] == ["seed.csv", "raw.bin", "seed.csv"]
    content = client.containers.files.content.retrieve(added.id, container_id=container.id)
    assert content.read() == b"\x00\x01\x02"
    assert client.containers.files.retrieve(copied.id, container_id=container.id).bytes == 4

    client.containers.files.delete(added.id, container_id=container.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.files.retrieve(added.id, container_id=container.id)
    assert [c.id for c in client.containers.list(name="analysis")] == [container.id]
    assert [c.name for c in unchecked_server.containers] == ["analysis"]

    client.containers.delete(container.id)
    with pytest.raises(openai.NotFoundError):
        client.containers.retrieve(container.id)
    assert unchecked_server.containers == []
    assert unchecked_server.validation_errors == []


def test_container_files_keep_their_content_type(
    unchecked_server: ScriptedServer, client: openai.OpenAI
) -> None:
    made = client.containers.create(name="c")
    image = client.containers.files.create(made.id, file=("plot.png", png()))

    raw = client.containers.files.content.with_raw_response.retrieve(image.id, container_id=made.id)

    assert raw.headers["content-type"] == "image/png"
    assert raw.content == png()
    assert unchecked_server.validation_errors == []
