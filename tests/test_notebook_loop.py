"""Working with the notebook: context options, --code, --dry-run, history, usage and costs,
asserted on the exact request bodies the scripted server received."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.testing import ScriptedServer, Text

QUESTION = "Why does print({'a': 1}) cost $5?"


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def sent_text(server: ScriptedServer, index: int = -1) -> str:
    body = server.requests_to("POST", "/v1/responses")[index].body
    (message,) = [item for item in body["input"] if item.get("role") == "user"]
    content = message["content"]
    return content if isinstance(content, str) else content[0]["text"]


def test_the_question_is_sent_verbatim(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["a"] = "not me"
    run(ip, f"%%ask\n{QUESTION}", capsys)
    assert sent_text(server) == QUESTION, "no {} or $ expansion, and nothing from the namespace"


def test_vars_are_summarised_and_nothing_else_is_sent(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    pd = pytest.importorskip("pandas")
    ip.user_ns["df"] = pd.DataFrame({"fighter": ["Mamezou"] * 1_000_000, "power": range(1_000_000)})
    ip.user_ns["secret"] = "never sent"

    class Broken:
        def __repr__(self) -> str:
            raise ValueError("boom")

    ip.user_ns["broken"] = Broken()
    error, out = run(ip, f"%%ask --vars df,broken\n{QUESTION}", capsys)
    assert error is None, out
    text = sent_text(server)
    assert text.startswith(QUESTION + "\n\n")
    assert "1,000,000 rows × 2 columns" in text
    assert "fighter" in text and "power" in text and "int64" in text
    assert "repr() raised ValueError: boom" in text
    assert "never sent" not in text
    assert len(text) < 4_000, "a million rows summarised in a few lines"


def test_cells_outputs_and_the_last_error(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("%time x = 41 + 1", store_history=True)
    cell = len(ip.user_ns["In"]) - 1
    ip.run_cell("x * 2", store_history=True)
    out_cell = len(ip.user_ns["In"]) - 1
    ip.run_cell("def fail():\n    return {'a': 1}['b']\nfail()", store_history=True)
    error, out = run(ip, f"%%ask --cell {cell} --out {out_cell} --error\nWhy?", capsys)
    assert error is None, out
    text = sent_text(server)
    assert "%time x = 41 + 1" in text, "as typed, not as IPython rewrote it"
    assert "84" in text
    assert "KeyError" in text and "'b'" in text and "fail" in text
    error, _ = run(ip, "%%ask --cell 9999\nWhy?", capsys)
    assert "--cell 9999" in str(error) and "\n" not in str(error)


def test_dry_run_shows_the_request_and_sends_nothing(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.user_ns["power"] = 530_000
    error, out = run(ip, f"%%ask --dry-run --vars power\n{QUESTION}", capsys)
    assert error is None, out
    assert server.requests_to("POST", "/v1/responses") == []
    assert server.requests_to("POST", "/v1/conversations") == [], "nothing created either"
    assert out.startswith("Dry run, nothing sent: responses dialect at ")
    assert "POST /responses" in out
    assert '"model": "gpt-5.4-mini"' in out
    assert "print({'a': 1}) cost $5?" in out
    assert "Context: question 33 characters" in out and "variable power" in out
    assert "Estimated input: ~" in out
    assert ip._assistant_magics.assistant.threads.thread is None, "no thread made, no ask recorded"


def test_code_goes_into_the_next_cell_never_run(ip, server, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    placed: list[tuple[str, bool]] = []
    monkeypatch.setattr(
        ip, "set_next_input", lambda text, replace=False: placed.append((text, replace))
    )
    server.script(Text("Like this:\n\n```python\nprint(df.head())\n```\n"))
    error, out = run(ip, "%%ask --code\nShow the head", capsys)
    assert error is None
    assert placed == [("print(df.head())", False)]
    assert "The answer's code is at the next prompt, not run." in out
    body = server.requests_to("POST", "/v1/responses")[-1].body
    assert "new notebook cell" in body["instructions"]
    server.script(Text("No code here."))
    error, out = run(ip, "%%ask --code\nAnd?", capsys)
    assert "--code: the answer has no Python code block" in out


def test_history_shows_recent_turns(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    server.script(Text("First answer."), Text("Second answer " * 40))
    run(ip, "%%ask\nFirst question", capsys)
    run(ip, "%%ask\nSecond question", capsys)
    error, out = run(ip, "%assistant history 1", capsys)
    assert error is None
    assert out.startswith("#2 · ") and "✓ completed · gpt-5.4-mini" in out
    assert "you: Second question" in out and "First" not in out
    assert "characters)" in out, "long answers are cut"
    error, out = run(ip, "%assistant history", capsys)
    assert "#1 · " in out and "#2 · " in out
    error, _ = run(ip, "%assistant history many", capsys)
    assert "history takes a number of asks" in str(error)


def test_each_ask_shows_its_cost_and_usage_totals(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    usage = {"input_tokens": 1000, "output_tokens": 500, "total_tokens": 1500,
             "input_tokens_details": {"cached_tokens": 200}}  # fmt: skip
    server.script(Text("One.", usage=usage), Text("Two.", usage=usage))
    error, out = run(ip, "%%ask\nOne", capsys)
    # gpt-5.4-mini: (800 * $0.75 + 200 * $0.075 + 500 * $4.50) per million tokens
    assert "1000 in (200 cached) / 500 out tokens · $0.0029" in out
    run(ip, "%%ask --model gpt-5.4\nTwo", capsys)
    ip.run_line_magic("config", 'AssistantMagics.prices = {"gpt-5.4": [1, 0.1, 2]}')

    error, out = run(ip, "%assistant usage", capsys)

    assert error is None
    assert "This thread (th_" in out and "2 asks" in out
    assert "gpt-5.4       1000 in (200 cached) / 500 out tokens  $0.0018" in out
    assert "gpt-5.4-mini  1000 in (200 cached) / 500 out tokens  $0.0029" in out
    assert "total         2000 in (400 cached) / 1000 out tokens  $0.0047" in out
    assert "This kernel session (2 asks)" in out
    assert "Prices per 1M tokens as of " in out


def test_an_unknown_model_is_said_so(ip, capsys) -> None:  # type: ignore[no-untyped-def]
    from conftest import API_KEY, SPEC

    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    with ScriptedServer(api_key=API_KEY, openapi=SPEC, models=None) as anything_goes:
        anything_goes.script(Text("Hi.", usage=usage))
        run(ip, f"%assistant --base-url {anything_goes.base_url} --model my-finetune", capsys)
        error, out = run(ip, "%%ask\nHi", capsys)
        (status,) = [line for line in out.splitlines() if line.startswith("[assistant] ✓")]
        assert error is None and "$" not in status, "no cost on the status line"
    error, out = run(ip, "%assistant usage", capsys)
    assert "cost unknown (no price for my-finetune: set AssistantMagics.prices)" in out
    assert "(+ 1 model of unknown price)" in out
    error, out = run(ip, "%config AssistantMagics.prices = {'x': [1]}", capsys)
    error, out = run(ip, "%assistant usage", capsys)
    assert "the price for 'x' has 1 number(s), not 3" in str(error)


def test_the_exact_message_for_vars_and_a_cell(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    ip.run_cell("power = 530_000", store_history=True)
    cell = len(ip.user_ns["In"]) - 1
    run(ip, f"%%ask --vars power --cell {cell}\nprint({{'a': 1}}) costs $5?", capsys)
    assert sent_text(server) == (
        "print({'a': 1}) costs $5?\n\n"
        "Context from the notebook:\n\n"
        "### variable power\n```text\nint\n530000\n```\n\n"
        f"### In[{cell}]\n```python\npower = 530_000\n```"
    )


def test_the_api_key_never_goes_out_as_context(ip, server, capsys) -> None:  # type: ignore[no-untyped-def]
    import os

    ip.user_ns["config"] = {"key": os.environ["OPENAI_API_KEY"], "model": "gpt-5.4-mini"}
    run(ip, "%%ask --vars config\nWhat is configured?", capsys)
    text = sent_text(server)
    assert os.environ["OPENAI_API_KEY"] not in text
    assert "sk-…cdef" in text and "gpt-5.4-mini" in text
