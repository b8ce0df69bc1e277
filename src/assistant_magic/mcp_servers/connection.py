"""`Connection`: one MCP server's client session, alive on the background loop.

The session is opened and closed inside one long-lived task (`_serve`): the SDK's transports are
anyio task groups, whose cancel scopes must be entered and left by the same task. Calls come
from other tasks of the same loop and share the session. A transport that dies (the process
crashed, the HTTP server went away) ends `_serve`, and the connection says it failed; the
servers' registry (`servers.McpServers`) starts a new one at the next ask.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

from .config import ServerConfig

if TYPE_CHECKING:
    import mcp
    from mcp import types

LIST_CHANGED = "notifications/tools/list_changed"


class Connection:
    """One server's session: started, listed, called, stopped; all from the background loop."""

    def __init__(self, config: ServerConfig, environ: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.environ = environ
        #: Why the session ended, when it did on its own ("" while it runs or was stopped).
        self.problem = ""
        self._client: mcp.Client | None = None
        self._tools: list[types.Tool] | None = None
        self._stop: asyncio.Event | None = None
        self._serving: asyncio.Task[None] | None = None
        #: The stdio server's stderr, so a crash can say what the server said last.
        self._stderr: IO[str] | None = None
        self._last_said = ""

    @property
    def alive(self) -> bool:
        return self._client is not None and self._serving is not None and not self._serving.done()

    async def start(self) -> None:
        """Start the server and open its session; raises what went wrong."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._serving = asyncio.ensure_future(self._serve(ready))
        try:
            await ready
        except BaseException:  # a timeout or Ctrl-C cancelled us: do not leave it half up
            self._serving.cancel()
            raise

    async def tools(self) -> list[types.Tool]:
        """The server's tools, listed once and again after it says they changed."""
        if self._tools is None:
            listed: list[types.Tool] = []
            cursor: str | None = None
            while True:
                page = await self._session().list_tools(cursor=cursor)
                listed += page.tools
                cursor = page.next_cursor
                if cursor is None:
                    break
            self._tools = listed
        return self._tools

    async def call(self, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        return await self._session().call_tool(name, arguments)

    async def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._serving is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(self._serving), 5)
            self._serving.cancel()
        self._client = None

    def stderr_tail(self) -> str:
        """The last line the stdio server wrote to stderr ("" when none)."""
        if self._stderr is not None and not self._stderr.closed:
            self._keep_stderr_tail()
        return self._last_said

    def _keep_stderr_tail(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stderr.seek(0)  # type: ignore[union-attr]
            lines = [line.strip() for line in self._stderr.read()[-4000:].splitlines()]  # type: ignore[union-attr]
            self._last_said = next((line for line in reversed(lines) if line), "")

    def _session(self) -> mcp.Client:
        if self._client is None or not self.alive:
            raise ConnectionError(self.problem or "the session is closed")
        return self._client

    async def _serve(self, ready: asyncio.Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = await self._open(stack)
                self._client = client
                ready.set_result(None)
                watcher = asyncio.ensure_future(self._watch_tools(client))
                try:
                    await self._stop.wait()
                finally:
                    watcher.cancel()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            elif not self._stop.is_set():
                self.problem = _reason(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            self._client = None
            self._tools = None

    async def _open(self, stack: contextlib.AsyncExitStack) -> mcp.Client:
        import mcp

        config = self.config
        if config.url:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=config.connect_headers(self.environ),
                    timeout=httpx2.Timeout(30, read=300),
                )
            )
            server: Any = streamable_http_client(config.url, http_client=http)
        else:
            self._stderr = stack.enter_context(tempfile.TemporaryFile("w+"))  # noqa: SIM115
            stack.callback(self._keep_stderr_tail)  # read before the file is closed
            parameters = mcp.StdioServerParameters(
                command=config.command,
                args=list(config.args),
                env=config.connect_env(self.environ) or None,
            )
            server = _stdio_transport(parameters, self._stderr)
        client = mcp.Client(server, message_handler=self._on_message, cache=None)
        return await stack.enter_async_context(client)

    async def _on_message(self, message: object) -> None:
        if getattr(message, "method", None) == LIST_CHANGED:
            self._tools = None

    async def _watch_tools(self, client: mcp.Client) -> None:
        """Newer servers send list changes only on a `subscriptions/listen` stream."""
        with contextlib.suppress(Exception):
            async with client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self._tools = None


def _stdio_transport(parameters: Any, stderr: IO[str]) -> Any:
    from typing import TextIO, cast

    from mcp.client.stdio import stdio_client

    return stdio_client(parameters, errlog=cast(TextIO, stderr))


def _reason(exc: BaseException) -> str:
    """One line for why a session ended: the innermost exception of a group, as its type says."""
    while getattr(exc, "exceptions", None):  # an anyio task group's ExceptionGroup
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
