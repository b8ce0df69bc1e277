"""MCP servers for the tests: `mcp_test_server.py` over streamable HTTP, `mcp-server-time`
over stdio; both on this machine only."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

SERVER = Path(__file__).parent / "mcp_test_server.py"
TIME_SERVER = f"{sys.executable} -m mcp_server_time --local-timezone UTC"


@contextmanager
def http_server() -> Iterator[str]:
    """The test MCP server in a subprocess; its URL while it runs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, str(SERVER), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.kill()
        process.wait(10)


def _wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "the test MCP server exited"
        with socket.socket() as attempt:
            if attempt.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError("the test MCP server did not start")


@pytest.fixture(scope="module")
def mcp_url() -> Iterator[str]:
    with http_server() as url:
        yield url


@pytest.fixture(params=["responses", "chat", "assistants"])
def dialect(request: pytest.FixtureRequest, ip: InteractiveShell) -> str:
    ip.run_line_magic("assistant", f"--dialect {request.param}")
    return str(request.param)


def run(ip: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str]:
    result = ip.run_cell(cell)
    return result.error_in_exec, capsys.readouterr().out


def outputs(server: Any) -> dict[str, str]:
    """What each call returned to the model, as text (an image output's text part)."""
    found = {}
    for call_id, output in server.tool_outputs:
        if isinstance(output, list):
            output = " ".join(str(part.get("text", part.get("type"))) for part in output)
        found[call_id] = str(output)
    return found
