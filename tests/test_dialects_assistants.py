"""The legacy Assistants dialect through whole asks, over real HTTP to the scripted server's
Assistants API (a real run state machine). The scenarios every dialect shares are in
test_dialects.py; these are the paths only this API has."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
import warnings
from typing import Any

import openai
import pytest
from IPython.core.interactiveshell import InteractiveShell
from PIL import Image

from assistant_magic.testing import (
    CodeInterpreter,
    FileSearch,
    FunctionCall,
    RunFailure,
    ScriptedServer,
    Text,
    ToolCalls,
)

from conftest import API_KEY

CALC = '''
def calc_strength(name: str) -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
    """
    return 530_000 if name == "Mamezou" else 9001
'''


def png(width: int, height: int) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


@pytest.fixture
def assistants(ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> InteractiveShell:
    run(ip, "%assistant --dialect assistants --instructions 'You act as Frieza.'", capsys)
    return ip


def posts(server: ScriptedServer, suffix: str) -> list[dict[str, Any]]:
    return [r.body for r in server.requests if r.method == "POST" and r.path.endswith(suffix)]


def test_the_seed_flow_assistant_thread_message_run_outputs(  # type: ignore[no-untyped-def]
    assistants, server, capsys
) -> None:
    ip = assistants
    ip.run_cell(CALC)
    run(ip, "%assistant tools add calc_strength", capsys)
    server.script(
        ToolCalls(
            [
                FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_m"),
                FunctionCall("calc_strength", {"name": "Goku"}, call_id="call_g"),
            ],
            text="Let me measure.",
        ),
        Text("Mamezou: 530,000. Goku: 9001."),
    )

    error, out = run(ip, "%%ask -o answer\nHow strong are Mamezou and Goku?", capsys)

    assert error is None, out
    assert ip.user_ns["answer"] == "Let me measure.\n\nMamezou: 530,000. Goku: 9001."
    (assistant,) = server.assistants
    assert assistant["instructions"] == "You act as Frieza."
    assert assistant["metadata"] == {"created_by": "assistant_magic"}
    assert [t["function"]["name"] for t in assistant["tools"]] == ["calc_strength"]
    (created,) = posts(server, "/runs")
    assert created["assistant_id"] == assistant["id"] and created["stream"] is True
    (submitted,) = posts(server, "/submit_tool_outputs")
    assert submitted["tool_outputs"] == [
        {"tool_call_id": "call_m", "output": "530000"},
        {"tool_call_id": "call_g", "output": "9001"},
    ], "both calls of one requires_action answered in one request"
    statuses = [line for line in out.splitlines() if line.startswith("[assistant] ")]
    assert statuses[:3] == ["[assistant] … starting · gpt-5.4-mini · thread " + statuses[0][-15:],
                            "[assistant] ◷ queued", "[assistant] ● in progress"]  # fmt: skip
    assert "[assistant] ⚑ requires action" in statuses
    assert statuses[-1].startswith("[assistant] ✓ completed · gpt-5.4-mini")
    (thread,) = server.threads
    (the_run,) = server.runs(thread["id"])
    assert the_run["status"] == "completed"


def test_an_image_file_message_is_fetched_and_shown(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    chart = png(40, 30)
    server.script(
        CodeInterpreter(
            code="import matplotlib.pyplot as plt\nplt.bar(['M', 'G'], [530000, 9001])\nplt.show()",
            images=[chart],
            files={"strengths.csv": b"name,strength\nMamezou,530000\n"},
            text="Here: [strengths.csv](sandbox:/mnt/data/strengths.csv)",
        )
    )

    error, out = run(assistants, "%%ask --code-interpreter -o answer\nChart them", capsys)

    assert error is None, out
    answer = assistants.user_ns["answer"]
    (image,) = answer.images
    assert image.data == chart and image.size == (40, 30)
    assert "code interpreter ran: import matplotlib.pyplot as plt (+2 lines)" in out
    assert answer.startswith("Here: strengths.csv<sup>1</sup>")
    assert "strengths.csv: in the code interpreter's sandbox (file file-" in answer
    (created,) = posts(server, "/runs")
    assert {"type": "code_interpreter"} in created["tools"]


def test_file_search_citations_become_notes(assistants, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "report.txt"
    report.write_text("Mamezou's battle strength is 530,000.")
    server.script(
        FileSearch(
            queries=["Mamezou strength"],
            text="His strength is 530,000.",
            cite=[("report.txt", "530,000")],
        )
    )
    error, out = run(
        assistants, f"%%ask --file-search --attach {report} -o answer\nHow strong?", capsys
    )
    assert error is None, out
    answer = assistants.user_ns["answer"]
    assert "†source" not in answer, "the API's citation markers are replaced by notes"
    assert answer.startswith("His strength is 530,000.<sup>1</sup>") or "<sup>1</sup>" in answer
    assert "(file search)" in answer
    (thread,) = server.threads
    assert thread["tool_resources"]["file_search"]["vector_store_ids"]


def test_a_failed_run_is_one_line_and_the_thread_goes_on(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(
        RunFailure("failed", code="rate_limit_exceeded", message="You exceeded your quota."),
        Text("Back."),
    )
    error, out = run(assistants, "%%ask\nStrength?", capsys)
    message = str(error)
    assert message == (
        "The response failed: rate_limit_exceeded: You exceeded your quota.. "
        "Run %assistant retry to try again."
    )
    assert "✗ failed" in out and "Traceback" not in out
    error, out = run(assistants, "%assistant retry", capsys)
    assert error is None and "Back." in out
    (thread,) = server.threads
    texts = [m["content"][0]["text"]["value"] for m in server.thread_messages(thread["id"])]
    assert texts == ["Strength?", "Back."], "the retry reran the question, not repeated it"


def test_expired_and_incomplete_runs(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(RunFailure("expired"), Text("Cut sho", status="incomplete"))
    error, out = run(assistants, "%%ask\nOne", capsys)
    assert str(error) == (
        "The run expired before it finished (the run was not finished in time). Run %assistant "
        "retry to try again."
    )
    assert "⌛ expired" in out
    error, out = run(assistants, "%%ask\nTwo", capsys)
    assert error is None
    assert "◐ incomplete (stopped early: max_completion_tokens)" in out


def test_a_run_waiting_too_long_for_outputs_expires(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    assistants.run_cell(
        CALC.replace("    return 530_000", "    import time; time.sleep(0.3)\n    return 530_000")
    )
    run(assistants, "%assistant tools add calc_strength", capsys)
    server.run_expires_after = 0.1
    server.script(FunctionCall("calc_strength", {"name": "Mamezou"}))
    error, out = run(assistants, "%%ask\nStrength?", capsys)
    assert str(error) == (
        "The run expired before it finished (the run was not finished in time). Run %assistant "
        "retry to try again."
    )
    assert "⌛ expired" in out and "Traceback" not in out
    server.run_expires_after = None
    server.script(Text("Fresh."))
    error, out = run(assistants, "%%ask\nAgain", capsys)
    assert error is None and "Fresh." in out


def test_interrupting_a_streamed_run_cancels_it(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    words = [f"w{i} " for i in range(40)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.05), Text("Here."))

    def interrupt() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not posts(server, "/runs"):
            time.sleep(0.01)
        time.sleep(0.4)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    error, out = run(assistants, "%%ask\nCount", capsys)
    assert type(error).__name__ == "AskInterrupted"
    (thread,) = server.threads
    (first,) = server.runs(thread["id"])
    assert first["status"] == "cancelled", "cancelled, and waited for, before the next ask"
    assert any(r.path.endswith(f"/runs/{first['id']}/cancel") for r in server.requests)
    error, out = run(assistants, "%%ask\nStill there?", capsys)
    assert error is None and "Here." in out


def test_interrupting_a_tool_cancels_the_waiting_run(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    assistants.run_cell(
        "def slow(name: str) -> str:\n"
        "    '''Slow.'''\n"
        "    raise KeyboardInterrupt\n"  # what Ctrl-C does while the tool runs
    )
    run(assistants, "%assistant tools add slow", capsys)
    server.script(FunctionCall("slow", {"name": "x"}), Text("Next."))
    error, _ = run(assistants, "%%ask\nGo", capsys)
    assert type(error).__name__ == "AskInterrupted"
    (thread,) = server.threads
    (waiting,) = server.runs(thread["id"])
    assert waiting["status"] == "cancelled"
    assert posts(server, "/submit_tool_outputs") == [], "no answer nobody would read"
    error, out = run(assistants, "%%ask --tools none\nHi", capsys)
    assert error is None and "Next." in out


def test_a_run_a_broken_ask_left_active_is_cancelled_first(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("one two three four", hang_up_after=2), Text("Recovered."))
    error, _ = run(assistants, "%%ask\nFirst", capsys)
    assert "Lost the connection" in str(error)
    (thread,) = server.threads
    (stuck,) = server.runs(thread["id"])
    assert stuck["status"] == "in_progress", "the server still works on it"
    error, out = run(assistants, "%%ask\nSecond", capsys)
    assert error is None, out
    assert f"cancelled run {stuck['id']}, which the last ask left in_progress" in out
    assert "Recovered." in out
    assert server.run(stuck["id"])["status"] == "cancelled"


def test_servers_that_do_not_stream_runs_are_polled(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from IPython.testing.globalipapp import get_ipython

    from conftest import API_KEY, SPEC

    with ScriptedServer(api_key=API_KEY, openapi=SPEC, run_streaming=False) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(tmp_path / "threads.sqlite3"))
        ip = get_ipython()
        ip.run_line_magic("load_ext", "assistant_magic")
        try:
            ip.run_cell(CALC)
            run(ip, "%assistant --dialect assistants", capsys)
            run(ip, "%assistant tools add calc_strength", capsys)
            server.script(
                ToolCalls([FunctionCall("calc_strength", {"name": "Goku"})], text="Measuring."),
                Text("Goku: 9001."),
                CodeInterpreter(code="print(1 + 1)", logs="2", text="Two."),
            )
            error, out = run(ip, "%%ask -o answer\nGoku?", capsys)
            assert error is None, out
            assert ip.user_ns["answer"] == "Measuring.\n\nGoku: 9001.", "each message once"
            assert "this server does not stream runs: following the run by polling" in out
            assert "⚑ requires action" in out
            assert "✓ calc_strength(name='Goku') → 9001" in out
            assert "✓ completed" in out
            error, out = run(ip, "%%ask --code-interpreter\nOne plus one?", capsys)
            assert error is None, out
            assert "code interpreter ran: print(1 + 1)" in out and "Two." in out
            assert "does not stream" not in out, "asked once per server"
            retrieves = [r for r in server.requests if r.method == "GET" and "/runs/run_" in r.path]
            assert len(retrieves) >= 2, "followed by retrieving the run"
            assert server.validation_errors == []
        finally:
            ip.run_line_magic("unload_ext", "assistant_magic")
            ip.config.pop("AssistantMagics", None)
            del ip.user_ns["calc_strength"]


def test_reusing_an_assistant_keeps_its_own_configuration(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    import openai

    from conftest import API_KEY

    client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = client.beta.assistants.create(
            model="gpt-5.4",
            name="Frieza",
            instructions="You act as Frieza from Dragon Ball.",
            tools=[{"type": "code_interpreter"}],
        )
    ip.run_cell(CALC)
    run(ip, "%assistant tools add calc_strength", capsys)
    error, out = run(ip, f"%assistant --dialect assistants --assistant-id {theirs.id}", capsys)
    assert error is None and f"assistant id: {theirs.id}" in out
    server.script(Text("Ho ho ho."))
    error, out = run(ip, "%%ask --instructions 'Be brief.'\nHi", capsys)
    assert error is None and "Ho ho ho." in out
    (created,) = posts(server, "/runs")
    assert created["assistant_id"] == theirs.id
    assert "model" not in created and "instructions" not in created
    assert created["additional_instructions"] == "Be brief."
    assert [t["type"] for t in created["tools"]] == ["code_interpreter", "function"]
    assert len(server.assistants) == 1, "no assistant of ours was made"
    error, out = run(ip, "%assistant", capsys)
    assert f"assistant     {theirs.id} (yours)" in out

    error, out = run(ip, "%assistant cleanup", capsys)
    assert error is None and "assistant" not in out.split(":", 1)[1].split(".")[0]
    assert [a["id"] for a in server.assistants] == [theirs.id], "theirs is never deleted"


def test_a_wrong_assistant_id_is_one_line(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    run(ip, "%assistant --dialect assistants --assistant-id asst_nope", capsys)
    error, out = run(ip, "%%ask\nHi", capsys)
    assert "Traceback" not in out
    assert str(error) == (
        f"No assistant asst_nope at {server.base_url}: check %assistant --assistant-id (or clear "
        "it with --assistant-id '')."
    )
    assert server.threads == [], "no thread made for a wrong assistant"


def test_cleanup_deletes_what_the_thread_made(assistants, server, capsys, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "strengths.csv"
    data.write_text("name,strength\nMamezou,530000\n")
    server.script(Text("Read it."))
    error, _ = run(assistants, f"%%ask --code-interpreter --attach {data}\nRead this", capsys)
    assert error is None
    (assistant,) = server.assistants
    (thread,) = server.threads
    (uploaded,) = server.files
    assert uploaded.purpose == "assistants"
    (message,) = [m for m in server.thread_messages(thread["id"]) if m["role"] == "user"]
    assert message["attachments"] == [
        {"file_id": uploaded.id, "tools": [{"type": "code_interpreter"}]}
    ]
    local_id = assistants._assistant_magics.assistant.threads.thread.id

    error, out = run(assistants, "%assistant cleanup", capsys)

    assert error is None
    assert out.startswith(
        f"Cleaned up {local_id}: file strengths.csv, thread {thread['id']}, assistant "
        f"{assistant['id']}. Its transcript stays here"
    )
    assert server.assistants == [] and server.threads == [] and server.files == []
    error, out = run(assistants, "%assistant thread", capsys)
    assert "none yet" in out
    error, out = run(assistants, f"%assistant thread export {tmp_path / 't.md'}", capsys)
    assert "No thread is bound" in str(error)


def test_cleanup_at_kernel_exit_when_asked(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("Hi."))
    run(assistants, "%%ask\nHello", capsys)
    magics = assistants._assistant_magics
    magics._cleanup_at_exit()  # off by default: nothing happens
    assert len(server.threads) == 1
    assistants.run_line_magic("config", "AssistantMagics.cleanup_at_exit = True")
    magics._cleanup_at_exit()
    assert server.threads == [] and server.assistants == []


def test_no_deprecation_warning_reaches_the_user(assistants, server, capsys) -> None:  # type: ignore[no-untyped-def]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        import importlib

        import assistant_magic.dialects.assistants as module

        importlib.reload(module)  # its filter, as a fresh kernel installs it
        server.script(Text("Hi."))
        error, _ = run(assistants, "%%ask\nHello", capsys)
    assert error is None
    assert [w for w in caught if issubclass(w.category, DeprecationWarning)] == []


def test_an_attached_image_is_uploaded_for_vision_and_cleaned_up(
    assistants, server, capsys
) -> None:  # type: ignore[no-untyped-def]
    assistants.user_ns["scouter"] = Image.new("RGB", (12, 8), (0, 200, 0))
    server.script(Text("A green scouter."))
    error, out = run(assistants, "%%ask --attach scouter\nWhat is this?", capsys)
    assert error is None, out
    (uploaded,) = server.files
    assert (uploaded.purpose, uploaded.filename) == ("vision", "scouter.png")
    (thread,) = server.threads
    (message,) = [m for m in server.thread_messages(thread["id"]) if m["role"] == "user"]
    text, image = message["content"]
    assert text["text"]["value"] == "What is this?"
    assert image["type"] == "image_file" and image["image_file"]["file_id"] == uploaded.id
    assert not message.get("attachments"), "an image is content, not a tool's attachment"
    error, out = run(assistants, "%assistant cleanup", capsys)
    assert "file scouter.png" in out
    assert server.files == []


def test_cancelling_waits_until_the_run_has_ended(server: ScriptedServer) -> None:
    import openai

    from assistant_magic.dialects.assistants import AssistantsDialect
    from assistant_magic.settings import resolve

    from conftest import API_KEY

    server.run_polls_per_state = 3  # "cancelling" lasts three reads
    client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assistant = client.beta.assistants.create(model="gpt-5.4-mini")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
        started = client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    settings = resolve(
        model="gpt-5.4-mini",
        instructions="",
        base_url=server.base_url,
        dialect="assistants",
        api_key_env="KEY",
        timeout=10,
        max_retries=0,
        environ={"KEY": API_KEY},
    )
    dialect = AssistantsDialect(settings)
    dialect._thread_of_run[started.id] = thread.id  # as streaming it would have noted

    dialect.cancel(started.id)

    assert server.run(started.id)["status"] == "cancelled"
    cancel = next(i for i, r in enumerate(server.requests) if r.path.endswith("/cancel"))
    reads = [
        r for r in server.requests[cancel:] if r.method == "GET" and r.path.endswith(started.id)
    ]
    assert len(reads) == 3, "it retrieved the run until it left cancelling"
    dialect.close()


def test_an_assistant_id_set_after_the_first_ask_is_the_one_that_runs(  # type: ignore[no-untyped-def]
    assistants, server, capsys
) -> None:
    server.script(Text("Made my own."))
    run(assistants, "%%ask\nHello", capsys)
    run(assistants, "%assistant cleanup", capsys)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
        theirs = client.beta.assistants.create(model="gpt-5.4-mini", name="theirs")
    made = len(posts(server, "/assistants"))

    run(assistants, f"%assistant --dialect assistants --assistant-id {theirs.id}", capsys)
    server.script(Text("Running yours."))
    error, out = run(assistants, "%%ask\nHello again", capsys)

    assert error is None and "Running yours." in out
    assert len(posts(server, "/assistants")) == made, "no assistant of its own this time"
    (run_body,) = posts(server, "/runs")[-1:]
    assert run_body["assistant_id"] == theirs.id
    run(assistants, "%assistant cleanup", capsys)
    assert [a["id"] for a in server.assistants] == [theirs.id], "never deleted: not ours"
