"""Notebooks executed in real IPython kernels against the scripted server."""

from __future__ import annotations

import contextlib
import html
import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from assistant_magic.testing import FunctionCall, ReplyContext, ScriptedServer, Text, ToolCalls

from conftest import API_KEY, SPEC, saved_status
from notebook_io import NOTEBOOKS, WIDGET_STATE, WIDGET_VIEW, execute, outputs_of

pytestmark = pytest.mark.kernel


def test_quickstart_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    frieza = "Ho ho ho. Mamezou's battle strength is **530,000**.\n\n- scouter: *broken*"
    goku = "More, by far: Goku is a mere Saiyan with a battle strength of 9001."
    mamezou = FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_mamezou")
    server.script(ToolCalls([mamezou]), Text(frieza), Text(goku))
    notebook = tmp_path / "quickstart.ipynb"
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", notebook)

    nb = execute(notebook)

    for question, answer in (("%%ask\nPlease…", frieza), ("%%ask -o answer…", goku)):
        status, markdown = outputs_of(nb, question)
        assert WIDGET_VIEW in status.data, "the live status widget"
        assert status.data["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
        assert "tokens" in status.data["text/plain"]
        assert markdown.data["text/markdown"] == answer, "the answer stays as plain Markdown"
        assert markdown.data["text/plain"] == answer
    (words,) = outputs_of(nb, "print(…")
    assert words.text == f"The answer has {len(goku.split())} words.\n"
    status, _ = outputs_of(nb, "%%ask\nPlease…")
    assert "✓ calc_strength(name='Mamezou') → 530000" in status.data["text/plain"]

    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert [b["instructions"] for b in bodies] == ["You act as Frieza from Dragon Ball."] * 3
    assert outputs_sent(bodies[1]) == [("call_mamezou", "530000")]
    assert len({b["conversation"] for b in bodies}) == 1

    (thread,) = outputs_of(nb, "%assistant thread")
    assert "4 messages" in thread.text
    transcript = (tmp_path / "quickstart-transcript.md").read_text()
    assert frieza in transcript and "calc_strength" in transcript, "the answer, and its call"

    (config,) = outputs_of(nb, "%assistant")
    assert "sk-…cdef" in config.text

    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    shown = [
        o.data[WIDGET_VIEW]["model_id"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if WIDGET_VIEW in o.get("data", {})
    ]
    assert len(shown) == 2
    for model_id in shown:
        # The status box holds the status line alone once the ask is over (the streamed
        # blocks are taken out: the answer is the Markdown output).
        (status,) = state[model_id]["state"]["children"]
        assert (
            'data-status="completed"' in state[status.removeprefix("IPY_MODEL_")]["state"]["value"]
        )
    assert API_KEY not in notebook.read_text(), "the key never reaches the saved notebook"


class Kernel:
    """A real IPython kernel started with the test's environment (so the scripted server's)."""

    def __init__(self) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel()
        self.client: Any = None
        self.connect()

    def connect(self) -> None:
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def restart(self) -> None:
        self.client.stop_channels()
        self.manager.restart_kernel(now=True)
        self.connect()

    def run(self, code: str, timeout: float = 60) -> list[str]:
        """Execute `code`; fail unless it succeeded; return what it printed."""
        printed: list[str] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        assert reply["content"]["status"] == "ok", (code, reply["content"])
        return printed

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


@pytest.fixture
def kernel(env: Path) -> Iterator[Kernel]:
    started = Kernel()
    yield started
    started.shutdown()


def test_interrupting_the_kernel_cancels_the_ask_and_keeps_the_thread(
    server: ScriptedServer, kernel: Kernel
) -> None:
    words = [f"w{i} " for i in range(200)]
    server.script(Text("".join(words), chunks=words, chunk_delay=0.05), Text("Ready again."))
    kernel.run("%load_ext assistant_magic")

    msg_id = kernel.client.execute("%%ask\nCount to two hundred, slowly.")
    _wait_for(lambda: len(server.requests_to("POST", "/v1/responses")) == 1)
    time.sleep(0.5)
    kernel.manager.interrupt_kernel()
    reply = _reply(kernel.client, msg_id)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "AskInterrupted"
    assert len(reply["content"]["traceback"]) == 1, "one line, not a traceback"
    response_id = server.wait_for_disconnect()
    assert server.response(response_id)["status"] == "cancelled"

    kernel.run("%%ask -o again\nAre you still there?")
    printed = kernel.run("import json; print(json.dumps(again))")
    assert json.loads(printed[-1]) == "Ready again."
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"], "the same thread goes on"


def test_thread_resume_after_a_kernel_restart(server: ScriptedServer, kernel: Kernel) -> None:
    server.script(Text("Noted: 42."), Text("It was 42."))
    kernel.run("%load_ext assistant_magic")
    kernel.run("%%ask\nRemember the number 42.")
    kernel.restart()
    kernel.run("%load_ext assistant_magic")
    assert kernel.run("%assistant thread resume")[0].startswith("Resumed th_")
    kernel.run("%%ask -o answer\nWhich number?")
    assert kernel.run("print(answer)") == ["It was 42.\n"]
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"]
    assert len(server.requests_to("POST", "/v1/conversations")) == 1


def _reply(kc: Any, msg_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_shell_msg(timeout=1)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg  # type: ignore[no-any-return]
    raise AssertionError("no execute_reply from the kernel")


def _wait_for(condition: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


# -- tools ---------------------------------------------------------------------------------------

TOOLS_ASK = "%%ask\nPlease tell me the battle strength of Mamezou"
PARALLEL_ASK = "%%ask\nNow point your scouter at Goku, and measure him in pounds too."
NO_TOOLS_ASK = "%%ask --tools none\nWhich of the two should I fear more?"
AM_LINE = re.compile(r'<div class="am-line"[^>]*>(.*?)</div>')
TOOK = r" · (?:\d+\.\d\d|<0\.01) s"  # how the widget shows a call's duration


def widget_lines(value: str) -> list[str]:
    """The tool-call and notice lines of a status widget's HTML, as a person reads them."""
    return [html.unescape(line) for line in AM_LINE.findall(value)]


def outputs_sent(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(call_id, output) of the function_call_output items a request carried."""
    return [
        (item["call_id"], item["output"])
        for item in body["input"]
        if item.get("type") == "function_call_output"
    ]


def test_tools_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    def mamezou(context: ReplyContext) -> Text:
        strength = int(context.tool_outputs["call_mamezou"])
        return Text(f"Ho ho ho. Mamezou's battle strength is **{strength:,}**. Not bad.")

    def goku(context: ReplyContext) -> Text:
        scouter = json.loads(context.tool_outputs["call_scouter"])
        pounds = int(context.tool_outputs["call_pounds"])
        return Text(
            f"Power level **{scouter['power_level']:,}**, over 9000: "
            f"{str(scouter['over_9000']).lower()}. In pounds, {pounds:,}."
        )

    server.script(
        ToolCalls([FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_mamezou")]),
        mamezou,
        ToolCalls(
            [
                FunctionCall("scouter_reading", {"name": "Goku"}, call_id="call_scouter"),
                FunctionCall(
                    "calc_strength", {"name": "Goku", "unit": "lb"}, call_id="call_pounds"
                ),
            ]
        ),
        goku,
        Text("Neither. I fear no one."),
    )
    notebook = tmp_path / "tools.ipynb"
    shutil.copy(NOTEBOOKS / "tools.ipynb", notebook)

    nb = execute(notebook)

    # What the saved notebook shows: each ask's widget (its text fallback the final status
    # line) and the Markdown answer quoting what the tools returned.
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    answers = {
        TOOLS_ASK: "Ho ho ho. Mamezou's battle strength is **530,000**. Not bad.",
        PARALLEL_ASK: "Power level **9,001**, over 9000: true. In pounds, 19,844.",
        NO_TOOLS_ASK: "Neither. I fear no one.",
    }
    lines: dict[str, list[str]] = {}
    for question, answer in answers.items():
        status, markdown = outputs_of(nb, question)
        assert status.data["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
        assert markdown.data["text/markdown"] == answer
        value = saved_status(state, status.data[WIDGET_VIEW]["model_id"])
        assert 'data-status="completed"' in value
        lines[question] = widget_lines(value)
    (mamezou_line,) = lines[TOOLS_ASK]
    assert re.fullmatch(rf"✓ calc_strength\(name='Mamezou'\) → 530000{TOOK}", mamezou_line)
    scouter_line, pounds_line = lines[PARALLEL_ASK]
    assert re.fullmatch(
        rf'✓ scouter_reading\(name=\'Goku\'\) → \{{"name":"Goku","power_level":9001,'
        rf'"over_9000":true\}}{TOOK}',
        scouter_line,
    )
    assert re.fullmatch(rf"✓ calc_strength\(name='Goku', unit='lb'\) → 19844{TOOK}", pounds_line)
    assert lines[NO_TOOLS_ASK] == []

    (listing,) = outputs_of(nb, "%assistant tools")
    assert "calc_strength  (strict)" in listing.text
    assert "scouter_reading  (strict)" in listing.text

    # What the model was offered and what it got back.
    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert len(bodies) == 5
    assert len({body["conversation"] for body in bodies}) == 1
    offered = {tool["name"]: tool for tool in bodies[0]["tools"]}
    assert list(offered) == ["calc_strength", "scouter_reading"]
    assert all(tool["strict"] is True for tool in offered.values())
    calc = offered["calc_strength"]
    assert calc["description"] == "Calculate a fighter's battle strength."
    assert calc["parameters"]["required"] == ["name", "unit"]
    assert calc["parameters"]["additionalProperties"] is False
    properties = calc["parameters"]["properties"]
    assert properties["name"] == {
        "description": 'The fighter\'s name, e.g. "Mamezou".',
        "type": "string",
    }
    assert properties["unit"]["description"].startswith("The unit the scouter reports in.")
    assert {"enum": ["kg", "lb"], "type": "string"} in properties["unit"]["anyOf"]
    scouter_params = offered["scouter_reading"]["parameters"]
    assert scouter_params["properties"]["name"]["description"] == "Who to point the scouter at."
    assert outputs_sent(bodies[0]) == []
    assert outputs_sent(bodies[1]) == [("call_mamezou", "530000")]
    assert outputs_sent(bodies[3]) == [
        ("call_scouter", '{"name":"Goku","power_level":9001,"over_9000":true}'),
        ("call_pounds", "19844"),
    ]
    assert [item["type"] for item in bodies[1]["input"]] == ["function_call_output"]
    assert "tools" not in bodies[4] and "tool_choice" not in bodies[4], "--tools none"
    assert [call_id for call_id, _ in server.tool_outputs] == [
        "call_mamezou",
        "call_scouter",
        "call_pounds",
    ]
    assert server.unused_replies == []

    transcript = (tmp_path / "tools-transcript.md").read_text()
    assert '- 🔧 `calc_strength(name="Mamezou")` → `530000`' in transcript
    assert (
        '- 🔧 `scouter_reading(name="Goku")` → `{"name":"Goku","power_level":9001,'
        '"over_9000":true}`'
    ) in transcript
    assert '- 🔧 `calc_strength(name="Goku", unit="lb")` → `19844`' in transcript
    assert "Neither. I fear no one." in transcript
    assert API_KEY not in notebook.read_text()


CALC = '''
from typing import Literal

def calc_strength(name: str, unit: Literal["kg", "lb"] = "kg") -> int:
    """Calculate battle strength.

    Args:
        name: the fighter's name
        unit: unit of the answer
    """
    return 530_000 if name == "Mamezou" else 9001
'''
DENIED = "The user denied this call; do not retry it unless they ask."
BOTH = ToolCalls(
    [
        FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_ok"),
        FunctionCall("calc_strength", {"name": "Goku"}, call_id="call_no"),
    ]
)


def quote_outputs(context: ReplyContext) -> Text:
    """A final answer that repeats what each call returned, in order."""
    return Text(" | ".join(f"{r.call_id}: {r.output}" for r in context.tool_results))


def iopub_until_idle(kc: Any, msg_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    """The IOPub messages of one execution, up to its "idle" status."""
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kc.get_iopub_msg(timeout=1)
        except Empty:
            continue
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        messages.append(msg)
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return messages
    raise AssertionError("the kernel did not go idle")


def widget_value(messages: list[dict[str, Any]]) -> str:
    """The status widget's HTML as the last comm message set it."""
    values = [
        m["content"]["data"]["state"]["value"]
        for m in messages
        if m["msg_type"] in ("comm_open", "comm_msg")
        and "am-status" in m["content"].get("data", {}).get("state", {}).get("value", "")
    ]
    assert values, "no status widget was shown"
    return str(values[-1])


def test_confirm_through_the_kernels_stdin(server: ScriptedServer, kernel: Kernel) -> None:
    server.script(BOTH, quote_outputs)
    kernel.run("%load_ext assistant_magic")
    kernel.run(CALC)
    assert kernel.run("%assistant tools add calc_strength --confirm") == [
        "Tool calc_strength added (asks before each call).\n"
    ]

    # As Jupyter does it: the kernel sends input_request on the stdin channel and waits.
    msg_id = kernel.client.execute("%%ask -o answer\nMeasure Mamezou and Goku", allow_stdin=True)
    prompts: list[str] = []
    for answer in ("y", "n"):
        request = kernel.client.get_stdin_msg(timeout=20)
        assert request["msg_type"] == "input_request"
        assert request["parent_header"]["msg_id"] == msg_id
        assert request["content"]["password"] is False
        prompts.append(request["content"]["prompt"])
        kernel.client.input(answer)
    messages = iopub_until_idle(kernel.client, msg_id)
    assert _reply(kernel.client, msg_id)["content"]["status"] == "ok"

    assert prompts == [
        "Allow the assistant to run calc_strength(name='Mamezou')? [y/N] ",
        "Allow the assistant to run calc_strength(name='Goku')? [y/N] ",
    ]
    assert server.tool_outputs == [("call_ok", "530000"), ("call_no", DENIED)]
    assert kernel.run("print(answer)") == [f"call_ok: 530000 | call_no: {DENIED}\n"]
    value = widget_value(messages)
    assert 'data-status="completed"' in value
    ok_line, denied_line = widget_lines(value)
    assert re.fullmatch(rf"✓ calc_strength\(name='Mamezou'\) → 530000{TOOK}", ok_line)
    assert denied_line == "⊘ calc_strength(name='Goku') → denied by the user"


def test_a_frontend_without_stdin_denies_confirmed_calls(
    server: ScriptedServer, kernel: Kernel
) -> None:
    server.script(
        FunctionCall("calc_strength", {"name": "Mamezou"}, call_id="call_1"), quote_outputs
    )
    kernel.run("%load_ext assistant_magic")
    kernel.run(CALC)
    kernel.run("%assistant tools add calc_strength --confirm")

    msg_id = kernel.client.execute("%%ask -o answer\nMeasure Mamezou", allow_stdin=False)
    messages = iopub_until_idle(kernel.client, msg_id)
    assert _reply(kernel.client, msg_id)["content"]["status"] == "ok", "the ask completes"

    cannot_ask = (
        "This call needs the user's approval, which cannot be asked here, so it was not run. "
        "Answer without it."
    )
    assert server.tool_outputs == [("call_1", cannot_ask)]
    assert kernel.run("print(answer)") == [f"call_1: {cannot_ask}\n"]
    value = widget_value(messages)
    assert 'data-status="completed"' in value
    assert widget_lines(value) == [
        "⊘ calc_strength(name='Mamezou') → not run: this frontend has no input prompt to ask "
        "for approval"
    ]
    streams = [m["content"]["text"] for m in messages if m["msg_type"] == "stream"]
    assert "Allow the assistant" not in "".join(streams), "no prompt nobody can answer"


SLOW = '''
import time

def slow_scan(name: str) -> int:
    """Scan a fighter, slowly."""
    time.sleep(30)
    return 1
'''


def test_interrupting_a_running_tool_answers_the_call_and_keeps_the_thread(
    server: ScriptedServer, kernel: Kernel
) -> None:
    server.script(
        FunctionCall("slow_scan", {"name": "Mamezou"}, call_id="call_slow"), Text("Still here.")
    )
    kernel.run("%load_ext assistant_magic")
    kernel.run(SLOW)
    kernel.run("%assistant tools add slow_scan")

    msg_id = kernel.client.execute("%%ask\nScan Mamezou")
    messages: list[dict[str, Any]] = []
    running = "⚙ slow_scan(name='Mamezou') …"
    deadline = time.monotonic() + 20
    while not any(running in line for line in _shown_lines(messages)):
        assert time.monotonic() < deadline, "the tool never started"
        with contextlib.suppress(Empty):
            msg = kernel.client.get_iopub_msg(timeout=1)
            if msg["parent_header"].get("msg_id") == msg_id:
                messages.append(msg)
    assert 'data-status="calling_tools"' in widget_value(messages)
    time.sleep(0.2)  # well inside the tool's time.sleep(30)
    interrupted_at = time.monotonic()
    kernel.manager.interrupt_kernel()
    messages += iopub_until_idle(kernel.client, msg_id)
    reply = _reply(kernel.client, msg_id)
    assert time.monotonic() - interrupted_at < 5, "the interrupt stopped the 30 s tool"

    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "AskInterrupted"
    assert len(reply["content"]["traceback"]) == 1, "one line, not a traceback"
    value = widget_value(messages)
    assert 'data-status="interrupted"' in value
    assert widget_lines(value) == ["⊘ slow_scan(name='Mamezou') → interrupted"]
    assert server.tool_outputs == [], "answered when the thread is next used"

    kernel.run("%%ask -o again\nAre you still there?")
    assert kernel.run("print(again)") == ["Still here.\n"]
    # The conversation held the call open: the next ask answered it first.
    ((call_id, output),) = server.tool_outputs
    assert call_id == "call_slow"
    assert "interrupted" in output
    first, second = (r.body for r in server.requests_to("POST", "/v1/responses"))
    assert first["conversation"] == second["conversation"], "the same thread goes on"
    assert server.unused_replies == []


def _shown_lines(messages: list[dict[str, Any]]) -> list[str]:
    try:
        return widget_lines(widget_value(messages))
    except AssertionError:
        return []


def test_assistants_notebook_replays_the_seed(
    server: ScriptedServer, env: Path, tmp_path: Path
) -> None:
    import base64
    import io

    from PIL import Image

    from assistant_magic.testing import CodeInterpreter

    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (250, 200, 0)).save(picture, format="PNG")
    chart = picture.getvalue()
    frieza = "ホホホ… マメゾウの戦闘力は530,000です。"

    def answer(context: ReplyContext) -> Text:
        assert context.tool_outputs == {"call_calc": "The battle strength is 530,000..."}
        return Text(frieza)

    server.script(
        FunctionCall("calcStrength", {"name": "Mamezou"}, call_id="call_calc"),
        answer,
        CodeInterpreter(
            code="import matplotlib.pyplot as plt\nplt.bar(['Mamezou', 'Goku'], [530000, 9001])",
            images=[chart],
            text="これが戦闘力の比較です。",
        ),
    )
    notebook = tmp_path / "assistants.ipynb"
    shutil.copy(NOTEBOOKS / "assistants.ipynb", notebook)

    nb = execute(notebook)

    # The article's assistant: Frieza, code interpreter and calcStrength, from the magics.
    (created,) = [r.body for r in server.requests_to("POST", "/v1/assistants")]
    assert created["instructions"] == "You act as Frieza from Dragon Ball. Speak in Japanese"
    assert created["model"] == "gpt-5.4-mini"
    code_interpreter, function = created["tools"]
    assert code_interpreter == {"type": "code_interpreter"}
    assert function["function"]["name"] == "calcStrength"
    assert function["function"]["description"] == "Calculate Battle Strength"
    assert function["function"]["parameters"]["properties"]["name"]["description"] == (
        "The user name"
    )
    status, markdown = outputs_of(nb, "%%ask\nPlease tell me…")
    assert status.data["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
    called = "✓ calcStrength(name='Mamezou') → The battle strength is 530,000..."
    assert called in status.data["text/plain"]
    assert markdown.data["text/markdown"] == frieza
    shown = [
        base64.b64decode(o.data["image/png"])
        for o in outputs_of(nb, "%%ask -o chart…")
        if "image/png" in o.get("data", {})
    ]
    assert shown == [chart], "the image_file, fetched from the Files API and shown once"
    (size,) = outputs_of(nb, "chart.images[0].size")
    assert size.data["text/plain"] == "(64, 48)"
    (config,) = outputs_of(nb, "%assistant")
    assert "dialect       assistants (configured)" in config.text
    assert "(made by this package)" in config.text
    (cleaned,) = outputs_of(nb, "%assistant cleanup")
    assert cleaned.text.startswith("Cleaned up th_") and "assistant asst_" in cleaned.text
    assert server.assistants == [] and server.threads == [], "the article's last step"
    assert API_KEY not in notebook.read_text()


def test_analysis_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    code = (
        'sales["revenue"] = sales["units"] * sales["price"]\n'
        'sales.groupby("region")["revenue"].sum()'
    )

    def most_units(context: ReplyContext) -> Text:
        sent = context.last_user_text or ""
        assert sent.startswith("Which region sells the most units?\n\n")
        assert "1,000 rows × 3 columns" in sent and "region" in sent and "int64" in sent
        return Text("The **west** region, from what the head shows; group by region to be sure.")

    def why(context: ReplyContext) -> Text:
        sent = context.last_user_text or ""
        assert "KeyError" in sent and "revenue" in sent and "groupby" in sent
        return Text("There is no `revenue` column yet: compute it as `units * price` first.")

    server.script(most_units, why, Text(f"Here it is:\n\n```python\n{code}\n```"))
    notebook = tmp_path / "analysis.ipynb"
    shutil.copy(NOTEBOOKS / "analysis.ipynb", notebook)
    replies: list[Any] = []

    nb = execute(notebook, replies=replies)

    (dry_run,) = outputs_of(nb, "%%ask --dry-run …")
    assert dry_run.text.startswith("Dry run, nothing sent: ")
    assert "Estimated input: ~" in dry_run.text
    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert len(bodies) == 3, "the dry run sent nothing"
    _, answer = outputs_of(nb, "%%ask --vars sales\nWhich…")
    assert answer.data["text/markdown"].startswith("The **west** region")
    (error,) = outputs_of(nb, 'sales.groupby("region")["revenue"].sum()')
    assert error.ename == "KeyError"
    _, fix = outputs_of(nb, "%%ask --error …")
    assert "no `revenue` column" in fix.data["text/markdown"]
    code_cell = outputs_of(nb, "%%ask --code …")
    assert code_cell[-1].text == "The answer's code is in a new cell below, not run.\n"
    (payloads,) = [c["payload"] for source, c in replies if source.startswith("%%ask --code")]
    assert payloads == [{"source": "set_next_input", "text": code, "replace": False}]
    assert "new notebook cell" in bodies[2]["instructions"]
    (history,) = outputs_of(nb, "%assistant history 2")
    assert "#2 · " in history.text and "#3 · " in history.text and "#1 · " not in history.text
    (usage,) = outputs_of(nb, "%assistant usage")
    assert "This thread (th_" in usage.text and "gpt-5.4-mini" in usage.text and "$" in usage.text
    assert API_KEY not in notebook.read_text()


def test_typed_notebook(server: ScriptedServer, env: Path, tmp_path: Path) -> None:
    """A paragraph becomes records (--schema "list[Record]"), a DataFrame, then one number."""
    readings = [
        ("Raditz", "saiyan", 1500, "Gingertown"),
        ("Goku", "saiyan", 334, "Kame Island"),
        ("Krillin", "human", 206, "Kame Island"),
        ("Frieza", "frieza-race", 530_000, "Namek"),
        ("Vegeta", "saiyan", 24_000, "Namek"),
    ]
    records = [dict(zip(("fighter", "race", "power", "place"), r, strict=True)) for r in readings]

    def extract(context: ReplyContext) -> Text:
        assert context.body["text"]["format"]["name"] == "list_Record"
        assert "Raditz landed" in (context.last_user_text or "")
        return Text(json.dumps({"answer": records}))

    server.script(extract, Text('{"answer": 530000}'))
    notebook = tmp_path / "typed.ipynb"
    shutil.copy(NOTEBOOKS / "typed.ipynb", notebook)

    nb = execute(notebook)

    status, table = outputs_of(nb, '%%ask --schema "list[Record]" -o records…')
    assert status.data["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
    shown = table.data["text/markdown"]
    assert shown.splitlines()[:3] == [
        "| fighter | race | power | place |",
        "|---|---|---|---|",
        "| Raditz | saiyan | 1500 | Gingertown |",
    ]
    assert len(shown.splitlines()) == 2 + len(readings)
    (frame,) = outputs_of(nb, "import pandas as pd…")
    html_table = frame.data["text/html"]
    assert html_table.index("Frieza") < html_table.index("Vegeta") < html_table.index("Raditz")
    _, number = outputs_of(nb, "%%ask --schema int -o strongest…")
    assert number.data["text/markdown"] == "530000"
    (printed,) = outputs_of(nb, "assert strongest…")
    assert printed.text == "The strongest reading is 530,000.\n"
    # The thread keeps the JSON; the schema went with both asks.
    bodies = [r.body for r in server.requests_to("POST", "/v1/responses")]
    assert [b["text"]["format"]["name"] for b in bodies] == ["list_Record", "int"]
    assert API_KEY not in notebook.read_text()


# -- rows -----------------------------------------------------------------------------------------

ROWS_SETUP = """
%load_ext assistant_magic
import pandas as pd
rows = pd.DataFrame({"subject": [f"App crash number {i}" for i in range(60)]})
"""
EACH = "%%ask --each rows --concurrency 2 -o labels\nClassify this support ticket."


def slow_label(context: ReplyContext) -> Text:
    time.sleep(0.05)
    return Text("bug")


def test_a_job_interrupted_in_a_kernel_resumes_after_a_restart(env: Path, kernel: Kernel) -> None:
    """Stop keeps what was answered (in -o and in the store); after a kernel restart the same
    cell asks only the rest."""
    with ScriptedServer(api_key=API_KEY, default_reply=slow_label) as server:
        kernel.run(f"import os; os.environ['OPENAI_BASE_URL'] = {server.base_url!r}")
        kernel.run(ROWS_SETUP)

        def asked() -> int:
            return len(server.requests_to("POST", "/v1/responses"))

        msg_id = kernel.client.execute(EACH)
        _wait_for(lambda: asked() >= 10)
        kernel.manager.interrupt_kernel()
        reply = _reply(kernel.client, msg_id)
        assert reply["content"]["ename"] == "JobInterrupted"
        assert len(reply["content"]["traceback"]) == 1, "one line, not a traceback"
        kept = int(kernel.run("print(labels.notna().sum())")[-1])
        assert 0 < kept < 60
        time.sleep(0.2)  # requests cancelled in flight may still reach the server's log
        before = asked()

        kernel.restart()
        kernel.run(f"import os; os.environ['OPENAI_BASE_URL'] = {server.base_url!r}")
        kernel.run(ROWS_SETUP)
        kernel.run(EACH, timeout=120)
        assert kernel.run("print(labels.notna().sum())")[-1] == "60\n"
        assert asked() - before <= 60 - kept, "only the rows not answered before were asked"
        kernel.run(EACH)  # once more: everything from the store
        assert asked() - before <= 60 - kept


BATCH = "%%ask --each rows --batch-api -o labels\nClassify this support ticket."


def test_a_batch_sent_in_one_kernel_is_collected_after_a_restart(env: Path, kernel: Kernel) -> None:
    """Submit, restart the kernel, run the same cell: the store knows the batch, and the
    answers come back into the same output with nothing asked again."""
    with ScriptedServer(
        api_key=API_KEY, openapi=SPEC, default_reply=slow_label, batch_polls_per_state=0
    ) as server:
        kernel.run(f"import os; os.environ['OPENAI_BASE_URL'] = {server.base_url!r}")
        kernel.run(ROWS_SETUP)
        kernel.run(BATCH)
        assert kernel.run("print(labels.isna().sum())")[-1] == "60\n"
        (batch,) = server.batches
        (sent,) = (f for f in server.files if f.id == batch["input_file_id"])
        assert len(sent.data.splitlines()) == 60

        kernel.restart()
        kernel.run(f"import os; os.environ['OPENAI_BASE_URL'] = {server.base_url!r}")
        kernel.run(ROWS_SETUP)
        listed = "".join(kernel.run("%assistant jobs"))
        assert f"{batch['id']}  " in listed and "rows: 60 rows in 60 requests" in listed
        kernel.run(BATCH, timeout=120)
        assert kernel.run("print((labels == 'bug').sum())")[-1] == "60\n"
        assert len(server.batches) == 1, "collected, not sent again"
        assert server.requests_to("POST", "/v1/responses") == []
        assert "collected" in "".join(kernel.run("%assistant jobs"))
        assert server.validation_errors == []


def test_rows_notebook(env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small table labelled end to end, as notebooks/rows.ipynb shows it."""

    def label(context: ReplyContext) -> Text:
        text = context.last_user_text or ""
        kind = "bug" if "crash" in text else "billing" if "charged" in text else "other"
        if "feature request" in text and "export" in text:
            kind = "feature request"
        return Text(json.dumps({"kind": kind, "urgent": "!" in text}))

    with ScriptedServer(api_key=API_KEY, openapi=SPEC, default_reply=label) as server:
        notebook = tmp_path / "rows.ipynb"
        shutil.copy(NOTEBOOKS / "rows.ipynb", notebook)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        nb = execute(notebook)
        assert server.validation_errors == []
        asked = server.requests_to("POST", "/v1/responses")
    (progress,) = outputs_of(nb, "%%ask --each tickets --schema Label --expand -o labels…")
    line = progress.data["text/plain"]
    assert line.startswith("[assistant] ✓ gpt-5.4-mini · 6 / 6 rows")
    assert len(asked) == 5, "the two identical tickets were asked once"
    (table,) = outputs_of(nb, "tickets.join(labels)…")
    assert "feature request" in table.data["text/html"]
    (again,) = outputs_of(nb, "%%ask --each tickets --schema Label --expand -o again…")
    assert "6 from the store" in again.data["text/plain"]
    (same,) = outputs_of(nb, "print(again.equals(labels))")
    assert same.text == "True\n"
