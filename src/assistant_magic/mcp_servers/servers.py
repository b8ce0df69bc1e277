"""`McpServers`: the kernel's MCP servers, their sessions, and waiting on them from the kernel.

Everything here is called from the kernel's main thread and waits on the background loop
(`loop.BackgroundLoop`) with the `mcp_timeout`. A server starts at the first ask that offers
its tools and stays up; one that fails (to start, mid-call, past the timeout, with a protocol
error) raises `ServerFailed` with one line, is stopped, and is not tried again in the same ask:
the next ask (`begin_ask`) starts it afresh.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..redaction import redact
from .config import ServerConfig, from_setting
from .connection import Connection, _reason
from .loop import BackgroundLoop

if TYPE_CHECKING:
    from mcp import types


class ServerFailed(Exception):
    """An MCP server could not do what was asked; the message is one line for the user."""


class McpServers:
    """The configured servers by name, each with at most one live `Connection`."""

    def __init__(self, environ: Mapping[str, str] | None = None, timeout: float = 30.0) -> None:
        self.environ = environ
        self.timeout = timeout
        self.configs: dict[str, ServerConfig] = {}
        self._connections: dict[str, Connection] = {}
        #: Servers that failed during this ask: not restarted before the next one.
        self._failed: dict[str, str] = {}
        self._loop = BackgroundLoop()

    # -- configuration -------------------------------------------------------------------------

    def configure(self, setting: Mapping[str, Any], timeout: float | None = None) -> None:
        """Take the `mcp_servers` setting as it is now: a server whose entry changed or went
        away is stopped (a changed one starts again, as configured, when next needed)."""
        if timeout is not None:
            self.timeout = timeout
        configs = from_setting(setting)
        for name, connection in list(self._connections.items()):
            if configs.get(name) != connection.config:
                self._drop(name)
        self.configs = configs

    def begin_ask(self) -> None:
        """A new ask: servers that failed in the last one may be tried again."""
        self._failed.clear()

    def owner(self, tool_name: str) -> str | None:
        """The server a `SERVER__TOOL` name belongs to, if it names a configured server."""
        server, sep, _ = tool_name.partition("__")
        return server if sep and server in self.configs else None

    # -- talking to the servers ----------------------------------------------------------------

    def tools(self, name: str) -> list[types.Tool]:
        """The server's tools (cached), starting it if it is not up."""
        return self._run(name, "list its tools", lambda c: c.tools())

    def call(self, name: str, tool: str, arguments: dict[str, Any]) -> types.CallToolResult:
        """Call `tool`; a Ctrl-C while waiting cancels the call and propagates."""
        return self._run(name, f"run {tool}", lambda c: c.call(tool, arguments))

    def state(self, name: str) -> str:
        connection = self._connections.get(name)
        if name in self._failed:
            return f"failed: {self._failed[name]}"
        if connection is not None and connection.alive:
            return "running"
        if connection is not None and connection.problem:
            return f"stopped: {connection.problem}"
        return "not started (starts at the first ask that offers its tools)"

    def cached_tools(self, name: str) -> list[types.Tool] | None:
        connection = self._connections.get(name)
        return connection._tools if connection is not None and connection.alive else None

    def close(self) -> None:
        """Stop every server and the loop (kernel exit, %unload_ext)."""
        for name in list(self._connections):
            self._drop(name)
        self._loop.stop()

    # -- inside ----------------------------------------------------------------------------------

    def _run(self, name: str, what: str, action: Any) -> Any:
        if name in self._failed:
            problem = self._failed[name]
            raise ServerFailed(f"MCP server {name} failed earlier in this ask ({problem})")
        connection = self._connected(name)
        try:
            return self._loop.run(action(connection), self.timeout)
        except KeyboardInterrupt:
            raise  # the call's task was cancelled; the session stays up for the next ask
        except TimeoutError:
            problem = f"no answer in {self.timeout:g} s (mcp_timeout)"
        except Exception as exc:
            problem = _reason(exc)
            if connection.alive and _is_tool_error(exc):
                # The server answered with an error: it is up, only this request failed.
                message = f"MCP server {name} could not {what}: {problem}"
                raise ServerFailed(redact(message)) from None
        return self._failure(name, connection, what, problem)

    def _connected(self, name: str) -> Connection:
        connection = self._connections.get(name)
        if connection is not None and connection.alive:
            return connection
        if name not in self.configs:
            raise ServerFailed(f"no MCP server named {name}: see %assistant mcp")
        connection = Connection(self.configs[name], self.environ)
        self._connections[name] = connection
        try:
            self._loop.run(connection.start(), self.timeout)
        except TimeoutError:
            self._failure(name, connection, "start", f"not up in {self.timeout:g} s (mcp_timeout)")
        except KeyboardInterrupt:
            self._drop(name)
            raise
        except Exception as exc:
            self._failure(name, connection, "start", _reason(exc))
        return connection

    def _failure(self, name: str, connection: Connection, what: str, problem: str) -> Any:
        said = connection.stderr_tail()
        if connection.problem and connection.problem not in problem:
            problem = f"{problem} ({connection.problem})"
        if said:
            problem = f"{problem}; it said: {said[:200]}"
        self._failed[name] = problem
        self._drop(name)
        raise ServerFailed(redact(f"MCP server {name} could not {what}: {problem}"))

    def _drop(self, name: str) -> None:
        connection = self._connections.pop(name, None)
        if connection is not None and self._loop.running:
            # A server that will not stop is left to the process's end.
            with contextlib.suppress(Exception):
                self._loop.run(connection.stop(), 10)


def _is_tool_error(exc: Exception) -> bool:
    """A JSON-RPC error from a live server (unknown tool, bad params), not a dead transport."""
    from mcp import MCPError

    return isinstance(exc, MCPError) and not isinstance(exc, ConnectionError)
