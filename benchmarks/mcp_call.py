"""What an MCP tool call costs through an ask, over calling the same tool with the `mcp` SDK.

The tests' MCP server (tests/mcp_test_server.py) runs over streamable HTTP on loopback. Its
`echo` tool is called (a) directly, with an `mcp.Client` session kept open, and (b) through
`Assistant.ask` on the package's scripted OpenAI server, the model asking for one call of
`fx__echo`; the same ask calling an equivalent notebook function is (c). The overhead of the MCP
path is (b) - (c) - (a): what our registry, validation, background loop and result mapping add
to the SDK's own round trip. Goal: at most 20 ms.

    .venv/bin/python benchmarks/mcp_call.py [--calls 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from assistant_magic import Assistant
from assistant_magic.testing import FunctionCall, ScriptedServer, Text, ToolCalls

from mcp_fixtures import http_server

KEY = "sk-bench-0123456789"


def echo(text: str, times: int = 1) -> str:
    """Repeat the text."""
    return " ".join([text] * times)


def direct(url: str, calls: int) -> float:
    """Median seconds of one `echo` call with the SDK, its session already open."""
    import mcp

    async def timed() -> list[float]:
        async with mcp.Client(url) as client:
            await client.list_tools()
            await client.call_tool("echo", {"text": "hi"})  # the first call is slower
            took = []
            for _ in range(calls):
                started = time.perf_counter()
                await client.call_tool("echo", {"text": "hi"})
                took.append(time.perf_counter() - started)
            return took

    return statistics.median(asyncio.run(timed()))


def through_asks(assistant: Assistant, server: ScriptedServer, tool: str, calls: int) -> float:
    """Median seconds of an ask that calls `tool` once, then answers."""
    took = []
    for index in range(calls + 1):
        server.script(ToolCalls([FunctionCall(tool, {"text": "hi"})]), Text("Done."))
        started = time.perf_counter()
        assistant.ask(f"Echo {index}", tools=[tool] if tool != "echo" else [echo])
        if index:  # the first ask starts the server
            took.append(time.perf_counter() - started)
    return statistics.median(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    with (
        http_server() as url,
        ScriptedServer(api_key=KEY) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        os.environ["OPENAI_API_KEY"] = KEY
        assistant = Assistant(
            base_url=server.base_url,
            dialect="responses",
            store_path=str(Path(tmp) / "bench.sqlite3"),
            mcp_servers={"fx": {"url": url}},
        )
        try:
            sdk = direct(url, args.calls)
            mcp_ask = through_asks(assistant, server, "fx__echo", args.calls)
            python_ask = through_asks(assistant, server, "echo", args.calls)
        finally:
            assistant.close()
    overhead = mcp_ask - python_ask - sdk
    print(f"SDK call alone                 {sdk * 1000:7.1f} ms")
    print(f"ask calling fx__echo (MCP)     {mcp_ask * 1000:7.1f} ms")
    print(f"ask calling echo (notebook)    {python_ask * 1000:7.1f} ms")
    print(f"overhead of the MCP path       {overhead * 1000:7.1f} ms   (goal <= 20 ms)")


if __name__ == "__main__":
    main()
