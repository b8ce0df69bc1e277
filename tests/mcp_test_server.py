"""A small MCP server for the tests, served over streamable HTTP on loopback.

    python tests/mcp_test_server.py PORT

Its tools return text, structured content and an image, raise, sleep past a timeout, crash
their process, and one is marked destructive; `shout` needs its header to have come through.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import time

from mcp.server.mcpserver import MCPServer
from mcp.types import ImageContent, ToolAnnotations

server = MCPServer("fixture")


@server.tool()
def echo(text: str, times: int = 1) -> str:
    """Repeat the text."""
    return " ".join([text] * times)


@server.tool(structured_output=True)
def fighter(name: str) -> dict[str, object]:
    """A fighter's record."""
    return {"name": name, "strength": 530_000}


@server.tool()
def red_square() -> ImageContent:
    """A 4x4 red PNG."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    return ImageContent(type="image", data=data, mime_type="image/png")


@server.tool()
def broken() -> str:
    """Always raises."""
    raise ValueError("the scouter exploded")


@server.tool()
def slow(seconds: float = 30.0) -> str:
    """Sleeps."""
    time.sleep(seconds)
    return "woke up"


@server.tool()
def crash() -> str:
    """Ends the server's process."""
    os._exit(3)


@server.tool(annotations=ToolAnnotations(destructive_hint=True))
def delete_everything() -> str:
    """Destructive."""
    return "deleted"


if __name__ == "__main__":
    server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[1]))
