"""%assistant and %%ask in a real IPython shell, over real HTTP to the scripted server."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.magics import AssistantMagics
from assistant_magic.store import Store
from assistant_magic.testing import HttpError, ScriptedServer, Text

from conftest import API_KEY


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    """Run a cell as a user would; return the error it raised (or None) and what it printed."""
    result = ip.run_cell(cell)
    out = capsys.readouterr().out
    return result.error_in_exec, out


def response_bodies(server: ScriptedServer) -> list[dict[str, object]]:
    return [r.body for r in server.requests_to("POST", "/v1/responses")]


def magics(ip: InteractiveShell) -> AssistantMagics:
    return ip._assistant_magics  # type: ignore[attr-defined,no-any-return]


# -- asking ------------------------------------------------------------------------------------


def test_ask_streams_an_answer_on_one_thread(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(ip, '%assistant --model gpt-5.4-mini --instructions "You act as Frieza."', capsys)
    server.script(Text("My battle strength is **530,000**."), Text("Goku? Merely 9001."))
    error, out = run(ip, "%%ask\nPlease tell me the battle strength of Mamezou", capsys)
    assert error is None
    assert "My battle strength is **530,000**." in out
    assert "[assistant] ✓ completed · gpt-5.4-mini" in out
    error, out = run(ip, "%%ask -o answer\nAnd Goku?", capsys)
    assert error is None
    assert ip.user_ns["answer"] == "Goku? Merely 9001."

    creates = server.requests_to("POST", "/v1/conversations")
    assert len(creates) == 1, "one thread, created lazily at the first ask"
    first, second = response_bodies(server)
    conversation = first["conversation"]
    assert second["conversation"] == conversation
    assert first["instructions"] == "You act as Frieza."
    assert first["stream"] is True
    assert first["input"] == [
        {
            "type": "message",
            "role": "user",
            "content": "Please tell me the battle strength of Mamezou",
        }
    ]
    items = server.conversation_items(str(conversation))
    assert [item["role"] for item in items] == ["user", "assistant", "user", "assistant"]


def test_cell_text_is_sent_verbatim(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    question = "Why does print({'a': 1}) cost $5 and {x}?\n\n    indented code"
    error, _ = run(ip, f"%%ask\n{question}", capsys)
    assert error is None
    assert response_bodies(server)[0]["input"][0]["content"] == question  # type: ignore[index]


def test_per_ask_overrides_leave_the_configuration_alone(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%%ask --model gpt-5.4 --instructions 'Be terse, {really}.'\nHi", capsys)
    run(ip, "%%ask\nHi again", capsys)
    first, second = response_bodies(server)
    assert (first["model"], first["instructions"]) == ("gpt-5.4", "Be terse, {really}.")
    assert second["model"] == "gpt-5.4-mini"
    assert "instructions" not in second


def test_config_magic_and_traits(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("config", "AssistantMagics.model = 'gpt-5.4'")
    run(ip, "%%ask\nHi", capsys)
    assert response_bodies(server)[0]["model"] == "gpt-5.4"


def test_empty_cell_and_bad_output_name(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%%ask\n   \n", capsys)
    assert "Nothing to ask" in str(error)
    error, _ = run(ip, "%%ask -o 1abc\nHi", capsys)
    assert "-o 1abc is not a Python name" in str(error)
    assert server.requests == []


# -- configuration and secrets -----------------------------------------------------------------


def test_show_configuration_masks_the_key(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, "%assistant", capsys)
    assert error is None
    assert "gpt-5.4-mini" in out
    assert f"{server.base_url} ($OPENAI_BASE_URL)" in out
    assert "responses ($ASSISTANT_MAGIC_DIALECT)" in out
    assert "$OPENAI_API_KEY = sk-…cdef" in out
    assert API_KEY not in out
    assert "none yet" in out


@pytest.mark.parametrize("line", ["--api-key sk-abc123", "--model x sk-proj-123", "--key=abc"])
def test_api_key_is_never_taken_as_an_argument(ip, server, capsys, line: str) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, f"%assistant {line}", capsys)
    assert "never taken as magic arguments" in str(error)
    assert "OPENAI_API_KEY" in str(error)
    assert "abc123" not in out and "Traceback" not in out


def test_help_documents_every_flag(ip) -> None:  # type: ignore[no-untyped-def]
    """What `%assistant?` and `%%ask?` show (the parser is built at the first `?`)."""
    doc = ip.object_inspect_text("%assistant")
    assert "%assistant [--model MODEL]" in doc and "%%assistant" not in doc
    for flag in ("--model", "--instructions", "--base-url", "--api", "thread", "retry"):
        assert flag in doc
    ask_doc = ip.object_inspect_text("%%ask")
    assert "%%ask [-o NAME] [--model MODEL] [--instructions INSTRUCTIONS]" in ask_doc


def test_changing_the_server_unbinds_the_thread(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%%ask\nHi", capsys)
    error, out = run(ip, "%assistant --base-url http://127.0.0.1:9/v1", capsys)
    assert error is None
    assert "The next %%ask starts a new thread" in out
    assert magics(ip).assistant.threads.thread is None


def test_ipython_config_file_sets_traits(tmp_path: Path, server: ScriptedServer) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "ipython_config.py").write_text(
        "c.AssistantMagics.model = 'gpt-from-config'\n"
        "c.AssistantMagics.instructions = 'Configured in a file.'\n"
    )
    script = tmp_path / "show.ipy"
    script.write_text("%load_ext assistant_magic\n%assistant\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": server.base_url,
        "ASSISTANT_MAGIC_STORE": str(tmp_path / "s.sqlite3"),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            f"--profile-dir={profile}",
            "--no-banner",
            "--colors=nocolor",
            str(script),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout
    assert "gpt-from-config" in out
    assert "Configured in a file." in out


# -- loading -----------------------------------------------------------------------------------


def test_load_ext_imports_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "InteractiveShell.instance().run_line_magic('load_ext', 'assistant_magic')\n"
        "print(sorted(m for m in ('openai', 'ipywidgets', 'PIL', 'pydantic', 'httpx2') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout
    assert out.strip() == "[]"


def test_reload_and_unload_leave_no_duplicates(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    def instances() -> int:
        return sum(isinstance(c, AssistantMagics) for c in ip.configurables)

    ip.run_line_magic("reload_ext", "assistant_magic")
    ip.run_line_magic("reload_ext", "assistant_magic")
    assert instances() == 1
    assert list(ip.magics_manager.registry).count("AssistantMagics") == 1
    assert ip.find_line_magic("assistant").__self__ is magics(ip)
    ip.run_line_magic("unload_ext", "assistant_magic")
    assert instances() == 0
    assert ip.find_line_magic("assistant") is None
    assert ip.find_cell_magic("ask") is None
    ip.run_line_magic("load_ext", "assistant_magic")
    assert instances() == 1


# -- threads -----------------------------------------------------------------------------------


def test_thread_commands(ip, server, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, "%assistant thread", capsys)
    assert "none yet" in out
    run(ip, "%%ask\nFirst question", capsys)
    first = magics(ip).assistant.threads.thread
    assert first is not None and first.remote_id is not None
    _, out = run(ip, "%assistant thread", capsys)
    assert first.id in out and first.remote_id in out
    assert '"First question"' in out and "2 messages" in out

    _, out = run(ip, "%assistant thread new", capsys)
    second = magics(ip).assistant.threads.thread
    assert second is not None and second.id != first.id and second.id in out
    run(ip, "%%ask\nSecond question", capsys)
    second = magics(ip).assistant.threads.find(second.id)
    conversations = {body.get("conversation") for body in response_bodies(server)}
    assert len(conversations) == 2

    _, out = run(ip, "%assistant thread list", capsys)
    lines = out.splitlines()
    assert lines[1].startswith(f"* {second.id}")
    assert lines[2].startswith(f"  {first.id}")

    _, out = run(ip, f"%assistant thread use {first.id[:8]}", capsys)
    assert "Bound" in out and magics(ip).assistant.threads.thread.id == first.id

    _, out = run(ip, f"%assistant thread export {tmp_path / 'first.md'}", capsys)
    transcript = (tmp_path / "first.md").read_text()
    assert "## You\n\nFirst question" in transcript

    _, out = run(ip, f"%assistant thread delete {second.id}", capsys)
    assert "and on the server" in out
    deleted = server.requests_to("DELETE", f"/v1/conversations/{second.remote_id}")
    assert len(deleted) == 1
    error, _ = run(ip, f"%assistant thread use {second.id}", capsys)
    assert "No thread matches" in str(error)

    error, _ = run(ip, "%assistant thread frobnicate", capsys)
    assert "Unknown thread command" in str(error)
    error, _ = run(ip, "%assistant thread use", capsys)
    assert "thread use needs one thread id" in str(error)


def test_the_bound_thread_survives_reload_ext(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%%ask\nRemember the number 42.", capsys)
    before = magics(ip).assistant.threads.thread
    ip.run_line_magic("reload_ext", "assistant_magic")
    run(ip, "%%ask\nWhich number?", capsys)
    assert magics(ip).assistant.threads.thread.id == before.id
    first, second = response_bodies(server)
    assert first["conversation"] == second["conversation"]


def test_thread_resume_binds_this_notebooks_latest_thread(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%assistant thread resume", capsys)
    assert "no earlier thread" in str(error)
    run(ip, "%%ask\nRemember the number 42.", capsys)
    before = magics(ip).assistant.threads.thread
    run(ip, "%assistant thread new", capsys)
    _, out = run(ip, "%assistant thread resume", capsys)
    assert "Resumed" in out
    assert before is not None and before.id in out
    run(ip, "%%ask\nWhich number?", capsys)
    assert response_bodies(server)[-1]["conversation"] == before.remote_id


# -- failures ----------------------------------------------------------------------------------


def one_line(error: object, out: str, *needles: str) -> None:
    """The failure reached the user as one line that says what to do, not as a traceback."""
    assert error is not None
    rendered = error._render_traceback_()  # type: ignore[attr-defined]
    assert len(rendered) == 1 and "\n" not in rendered[0]
    for needle in needles:
        assert needle in rendered[0]
    assert "Traceback" not in out
    assert API_KEY not in rendered[0] and API_KEY not in out


def test_no_api_key_names_the_variable(ip, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    # Else, with the [local] extra installed, the local model answers (test_local_model.py).
    ip.run_line_magic("config", "AssistantMagics.local_when_keyless = False")
    error, out = run(ip, "%%ask\nHi", capsys)
    one_line(error, out, "OPENAI_API_KEY", "%assistant --local")


def test_unreachable_server_names_the_url(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_line_magic("config", "AssistantMagics.max_retries = 0")
    run(ip, "%assistant --base-url http://127.0.0.1:9/v1", capsys)
    error, out = run(ip, "%%ask\nHello?", capsys)
    one_line(error, out, "Cannot reach http://127.0.0.1:9/v1")


def test_wrong_key_is_a_401_line(ip, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-key-000000000")
    error, out = run(ip, "%%ask\nHi", capsys)
    one_line(error, out, "(401)", "$OPENAI_API_KEY")
    assert "sk-wrong-key-000000000" not in out


def test_unknown_model_is_a_404_line(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, out = run(ip, "%%ask --model gpt-nope\nHi", capsys)
    one_line(error, out, "(404)", "--model")


def test_rate_limit_is_retried_honouring_retry_after(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(HttpError(429, retry_after=0.3), Text("Finally."))
    error, out = run(ip, "%%ask\nHi", capsys)
    assert error is None and "Finally." in out
    first, second = server.requests_to("POST", "/v1/responses")
    assert second.received_at - first.received_at >= 0.3


def test_exhausted_rate_limit_and_server_errors_are_one_line(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(*[HttpError(429, retry_after_ms=1)] * 3)
    error, out = run(ip, "%%ask\nHi", capsys)
    one_line(error, out, "(429)", "retry")
    server.script(*[HttpError(500, retry_after_ms=1)] * 3)
    error, out = run(ip, "%%ask\nHi", capsys)
    one_line(error, out, "(500)", "%assistant retry")


def test_failed_ask_keeps_the_message_for_retry(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(*[HttpError(503, retry_after_ms=1)] * 3)
    error, out = run(ip, "%%ask\nThe question that must not be lost", capsys)
    assert error is not None
    thread = magics(ip).assistant.threads.thread
    store = Store(magics(ip).assistant.threads.store_path)
    (ask,) = store.asks(thread.id)
    assert (ask.user_text, ask.status) == ("The question that must not be lost", "failed")
    assert "503" in (ask.error or "")

    server.script(Text("Here it is."))
    error, out = run(ip, "%assistant retry", capsys)
    assert error is None and "Here it is." in out
    resent = response_bodies(server)[-1]["input"][0]  # type: ignore[index]
    assert resent["content"] == "The question that must not be lost"
    assert [t.status for t in store.asks(thread.id)] == ["failed", "completed"]


def test_stream_failure_and_incomplete_answers(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("Partial answer that breaks", fail_after=2))
    error, out = run(ip, "%%ask\nHi", capsys)
    one_line(error, out, "The response failed", "%assistant retry")
    assert "✗ failed" in out
    server.script(Text("Cut short", status="incomplete"))
    error, out = run(ip, "%%ask -o answer\nHi", capsys)
    assert error is None
    assert "◐ incomplete (stopped early: max_output_tokens)" in out
    assert ip.user_ns["answer"] == "Cut short"
    server.script(Text("Back to normal.", queued=True))
    error, out = run(ip, "%%ask\nHi", capsys)
    assert error is None and "◷ queued" in out and "Back to normal." in out


def test_retry_with_nothing_to_retry(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    error, _ = run(ip, "%assistant retry", capsys)
    assert "Nothing to retry" in str(error)


def test_interrupt_keeps_the_partial_answer_and_the_thread(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    import _thread

    words = [f"word{i} " for i in range(40)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.05))

    def interrupt_when_streaming() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not server.requests_to("POST", "/v1/responses"):
            time.sleep(0.01)
        time.sleep(0.4)
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_streaming, daemon=True).start()
    error, out = run(ip, "%%ask\nCount slowly", capsys)
    one_line(error, out, "Interrupted", "next ask")
    assert "⊘ interrupted" in out
    response_id = server.wait_for_disconnect()
    assert server.response(response_id)["status"] == "cancelled"

    thread = magics(ip).assistant.threads.thread
    ask = Store(magics(ip).assistant.threads.store_path).asks(thread.id)[-1]
    assert ask.status == "interrupted"
    assert ask.answer_text.startswith("word0 word1 ")
    assert len(ask.answer_text) < len("".join(words))

    server.script(Text("Still here."))
    error, out = run(ip, "%%ask\nAre you there?", capsys)
    assert error is None and "Still here." in out


def test_a_broken_connection_keeps_the_partial_answer(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("one two three four", hang_up_after=2), Text("All of it."))
    error, out = run(ip, "%%ask\nCount", capsys)
    one_line(error, out, "Lost the connection", "%assistant retry")
    thread = magics(ip).assistant.threads.thread
    ask = Store(magics(ip).assistant.threads.store_path).asks(thread.id)[-1]
    assert (ask.status, ask.answer_text) == ("failed", "one two")
    error, out = run(ip, "%assistant retry", capsys)
    assert error is None and "All of it." in out
