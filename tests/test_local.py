"""The local model server: a child process on loopback, started, awaited and stopped.

The stand-in for llama.cpp's server here is the package's own scripted server in chat-only mode
(what llama.cpp's server speaks), so the process handling is tested without model weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openai
import pytest

from assistant_magic.local import LocalModelError, LocalServer, check_model, default_model


def scripted_chat_server(model: Path, port: int, context: int) -> list[str]:
    return [sys.executable, "-m", "assistant_magic.testing", "--port", str(port), "--chat-only",
            "--api-key", "", "--chunk-delay", "0"]  # fmt: skip


def gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF" + b"\0" * 64)
    return path


def test_start_answer_and_stop(tmp_path: Path) -> None:
    server = LocalServer(gguf(tmp_path), command=scripted_chat_server, startup_timeout=30)
    said: list[str] = []
    server.start(progress=said.append)
    try:
        assert server.running
        assert said[0].startswith("starting the local model tiny.gguf on http://127.0.0.1:")
        assert said[-1].startswith(f"local model ready at {server.base_url} (loaded in ")
        client = openai.OpenAI(base_url=server.base_url, api_key="no-key")
        reply = client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Hello"}]
        )
        assert reply.choices[0].message.content == "You said: Hello"
        server.start()  # already running: nothing new
    finally:
        server.stop()
    assert not server.running
    server.stop()  # twice is fine


def test_a_server_that_dies_says_why(tmp_path: Path) -> None:
    def dies(model: Path, port: int, context: int) -> list[str]:
        return [
            sys.executable,
            "-c",
            "print('error loading model: bad magic'); raise SystemExit(1)",
        ]

    server = LocalServer(gguf(tmp_path), command=dies, startup_timeout=30)
    with pytest.raises(LocalModelError) as info:
        server.start()
    message = str(info.value)
    assert message.startswith("The local model server stopped while starting: error loading model")
    assert "\n" not in message


def test_a_server_that_never_answers_times_out(tmp_path: Path) -> None:
    def hangs(model: Path, port: int, context: int) -> list[str]:
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    server = LocalServer(gguf(tmp_path), command=hangs, startup_timeout=1)
    with pytest.raises(LocalModelError, match="did not answer within 1 s"):
        server.start()
    assert not server.running, "the stuck process was stopped"


def test_model_files_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(LocalModelError, match="No model file at"):
        check_model(tmp_path / "missing.gguf")
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(LocalModelError, match="is not a GGUF model file"):
        check_model(text)
    named = gguf(tmp_path)
    assert check_model(named) == named
    monkeypatch.setenv("ASSISTANT_MAGIC_GGUF", str(named))
    assert default_model() == named


def test_the_magic_reports_a_missing_model_in_one_line(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    result = ip.run_cell("%assistant --local /nowhere/model.gguf")
    assert isinstance(result.error_in_exec, LocalModelError)
    assert "No model file at /nowhere/model.gguf" in str(result.error_in_exec)
    assert ip._assistant_magics.local_models.server is None, "nothing left running"
