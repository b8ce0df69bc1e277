"""%%ask --attach: files, images and DataFrames reach the model; uploads are listed and cleaned."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from assistant_magic.attachments import resolve
from assistant_magic.errors import AssistantError
from assistant_magic.testing import ReplyContext, ScriptedServer, Text

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def png_file(path: Path, size: tuple[int, int] = (12, 8)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 10)).save(out, format="PNG")
    path.write_bytes(out.getvalue())
    return out.getvalue()


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def user_parts(server: ScriptedServer) -> list[dict[str, Any]]:
    body = server.requests_to("POST", "/v1/responses")[-1].body
    (message,) = [i for i in body["input"] if i.get("role") == "user"]
    return message["content"]  # type: ignore[no-any-return]


def test_files_images_and_dataframes_reach_the_model(ip, server, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pd = pytest.importorskip("pandas")
    (tmp_path / "report.pdf").write_bytes(PDF)
    chart = png_file(tmp_path / "chart.png")
    ip.user_ns["sales"] = pd.DataFrame({"fighter": ["Mamezou", "Goku"], "power": [530_000, 9001]})

    seen: dict[str, Any] = {}

    def look(context: ReplyContext) -> Text:
        seen["images"] = [(i.source, i.data) for i in context.input_images]
        seen["files"] = [(f.filename, f.data) for f in context.input_files]
        return Text("Read them all.")

    server.script(look)
    cell = "%%ask --attach report.pdf --attach chart.png --attach sales\nSummarise these"
    error, out = run(ip, cell, capsys)
    assert error is None
    assert [(f.filename, f.purpose) for f in server.files] == [
        ("report.pdf", "user_data"),
        ("sales.csv", "user_data"),
    ]
    assert server.files[1].data == b"fighter,power\nMamezou,530000\nGoku,9001\n"
    kinds = [part["type"] for part in user_parts(server)]
    assert kinds == ["input_text", "input_image", "input_file", "input_file"]
    assert user_parts(server)[0]["text"] == "Summarise these"
    assert seen["images"] == [("data_url", chart)]
    assert [name for name, _ in seen["files"]] == ["report.pdf", "sales.csv"]
    assert "ⓘ attached report.pdf" in out and "ⓘ attached sales.csv" in out

    _, out = run(ip, "%assistant files", capsys)
    assert "report.pdf" in out and "chart.png" in out and "sent inline" in out
    _, out = run(ip, "%assistant files delete all", capsys)
    assert "Deleted 3 files." in out
    assert server.files == [], "the uploads are gone from the server"
    _, out = run(ip, "%assistant files", capsys)
    assert "No files attached" in out


def test_with_code_interpreter_files_go_into_the_sandbox(ip, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    server.script(Text("Loaded."))
    error, _ = run(ip, "%%ask --code-interpreter --attach data.csv\nLoad it", capsys)
    assert error is None
    body = server.requests_to("POST", "/v1/responses")[-1].body
    (tool,) = body["tools"]
    (uploaded,) = server.files
    assert tool["container"] == {"type": "auto", "file_ids": [uploaded.id]}
    assert body["input"][0]["content"] == "Load it", "no input_file: the sandbox has it"


def test_deleting_the_thread_deletes_its_uploads(ip, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "report.pdf").write_bytes(PDF)
    run(ip, "%%ask --attach report.pdf\nRead", capsys)
    assert len(server.files) == 1
    thread = ip._assistant_magics.assistant.threads.thread
    run(ip, f"%assistant thread delete {thread.id}", capsys)
    assert server.files == []


def test_attachment_mistakes_are_one_line_and_nothing_is_sent(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%%ask --attach nowhere.pdf\nHi", capsys)
    assert "Cannot attach 'nowhere.pdf': no file at that path and no variable" in str(error)
    ip.user_ns["count"] = 3
    error, _ = run(ip, "%%ask --attach count\nHi", capsys)
    assert "it is a int; attach a file path, a DataFrame" in str(error)
    assert server.requests == []


def test_resolve_images_from_the_namespace(tmp_path: Path) -> None:
    figure = Image.new("RGBA", (5, 4), (1, 2, 3, 4))
    (attachment,) = resolve(["figure"], {"figure": figure})
    assert attachment.name == "figure.png" and attachment.is_image
    assert attachment.image is not None and attachment.image.size == (5, 4)
    (tmp_path / "fake.png").write_bytes(b"not a png")
    with pytest.raises(AssistantError, match="attachment"):
        resolve([str(tmp_path / "fake.png")], {})


def test_file_search_reads_the_threads_vector_store(ip, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from assistant_magic.testing import FileSearch

    (tmp_path / "scouter.txt").write_text("Mamezou: battle strength 530,000.\n")
    (tmp_path / "table.csv").write_text("fighter,power\nGoku,9001\n")
    server.vector_store_file_polls = 2  # indexing takes a moment, as on the real service
    server.script(FileSearch(text="Mamezou's strength is 530,000."), Text("Still 530,000."))
    cell = "%%ask --file-search -o answer --attach scouter.txt --attach table.csv\nMamezou?"
    error, _ = run(ip, cell, capsys)
    assert error is None
    (store,) = server.vector_stores
    assert [f.file.filename for f in store.files.values()] == ["scouter.txt"], "CSV: not searchable"
    body = server.requests_to("POST", "/v1/responses")[0].body
    (tool,) = body["tools"]
    assert tool == {"type": "file_search", "vector_store_ids": [store.id]}
    (message,) = [i for i in body["input"] if i.get("role") == "user"]
    inline = [part.get("file_id") for part in message["content"] if part["type"] == "input_file"]
    csv_upload = next(f for f in server.files if f.filename == "table.csv")
    assert inline == [csv_upload.id], "what file search cannot read goes with the message"
    assert ip.user_ns["answer"] == (
        "Mamezou's strength is 530,000.<sup>1</sup>\n\n<sup>1</sup> scouter.txt (file search)"
    )
    thread = ip._assistant_magics.assistant.threads.thread
    assert thread.vector_store_id == store.id

    error, _ = run(ip, "%%ask --file-search\nAnd now?", capsys)
    assert error is None
    again = server.requests_to("POST", "/v1/responses")[-1].body
    assert again["tools"] == [tool], "the thread's store is reused"
    assert len(server.vector_stores) == 1

    run(ip, f"%assistant thread delete {thread.id}", capsys)
    assert server.vector_stores == [] and server.files == []


def test_file_search_without_files_says_so(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("Nothing to search."))
    error, out = run(ip, "%%ask --file-search\nSearch", capsys)
    assert error is None
    assert "file search is on, but this thread has no files to search yet" in out
    assert "tools" not in server.requests_to("POST", "/v1/responses")[0].body


def test_on_chat_text_files_go_inside_the_message_and_stay_in_the_thread(  # type: ignore[no-untyped-def]
    ip, server, capsys, tmp_path
) -> None:
    pd = pytest.importorskip("pandas")
    notes = tmp_path / "notes.md"
    notes.write_text("# Scouter\nMamezou: 530,000\n")
    ip.user_ns["df"] = pd.DataFrame({"fighter": ["Goku"], "power": [9001]})
    ip.user_ns["picture"] = Image.new("RGB", (8, 6), (1, 2, 3))
    run(ip, "%assistant --dialect chat", capsys)
    server.script(Text("Read."), Text("Still there."))

    error, out = run(
        ip, f"%%ask --attach {notes} --attach df --attach picture\nWhat do they say?", capsys
    )

    assert error is None, out
    assert server.files == [], "nothing uploaded: this dialect keeps no files"
    (message,) = server.chat_messages(0)
    text, image = message["content"]
    assert text["text"] == (
        "What do they say?\n\nAttached files:\n\n"
        "### file notes.md\n```markdown\n# Scouter\nMamezou: 530,000\n```\n\n"
        "### file df.csv\n```csv\nfighter,power\nGoku,9001\n```"
    )
    assert image["image_url"]["url"].startswith("data:image/png;base64,")
    run(ip, "%%ask\nAnd now?", capsys)
    assert "Mamezou: 530,000" in server.chat_messages(-1)[0]["content"], "replayed with the thread"

    blob = tmp_path / "scan.pdf"
    blob.write_bytes(b"%PDF-1.4\n\xff\xfe\x00binary")
    error, _ = run(ip, f"%%ask --attach {blob}\nRead it", capsys)
    assert str(error).startswith("Cannot attach 'scan.pdf' here: this server keeps no files")
