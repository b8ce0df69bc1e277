"""How an MCP server is reached: `ServerConfig`, read from the `mcpServers` shape or a command.

The setting takes the shape users already paste into Claude Desktop, VS Code and Cursor::

    {"time": {"command": "python", "args": ["-m", "mcp_server_time"], "env": {"TZ": "UTC"}},
     "docs": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer $TOKEN"}}}

`$VAR` and `${VAR}` in headers and env are kept as typed and read from the environment only when
the server is started (`connect_headers`, `connect_env`), so the setting, the listing and the
store never hold the secret; the values read are registered with `redaction`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError
from ..redaction import SECRETS, public_url

#: A server's name goes into its tools' names (``time__get_current_time``): short and plain.
NAME = re.compile(r"^[A-Za-z0-9-]{1,24}(_[A-Za-z0-9-]+)*$")
MAX_NAME = 24
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
ADD_USAGE = (
    "%assistant mcp add NAME -- COMMAND ARG... or "
    '%assistant mcp add NAME URL [--header "K: V"] [--hosted]'
)


@dataclass(frozen=True)
class ServerConfig:
    """One MCP server: a command to start (stdio) or a URL to reach (streamable HTTP)."""

    name: str
    command: str = ""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Every tool of the server asks before each call (beyond those marked destructive).
    confirm: bool = False
    #: On the Responses API, OpenAI's servers call it (the hosted `mcp` tool), not the kernel.
    hosted: bool = False

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"

    def described(self) -> str:
        """How the server is reached, safe to show: a URL's credentials masked, `$VAR`s as typed."""
        if self.url:
            return public_url(self.url)
        return " ".join([self.command, *self.args])

    def setting(self) -> dict[str, Any]:
        """This server in the `mcpServers` shape (what `%config` holds)."""
        if self.url:
            spec: dict[str, Any] = {"url": self.url}
            if self.headers:
                spec["headers"] = dict(self.headers)
        else:
            spec = {"command": self.command, "args": list(self.args)}
            if self.env:
                spec["env"] = dict(self.env)
        if self.confirm:
            spec["confirm"] = True
        if self.hosted:
            spec["hosted"] = True
        return spec

    def connect_headers(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        return {key: self._expanded(value, environ) for key, value in self.headers.items()}

    def connect_env(self, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        return {key: self._expanded(value, environ) for key, value in self.env.items()}

    def _expanded(self, value: str, environ: Mapping[str, str] | None) -> str:
        """`value` with its `$VAR`s read from the environment now; each value read is a secret."""
        source = os.environ if environ is None else environ

        def one(match: re.Match[str]) -> str:
            variable = match.group(1) or match.group(2)
            if variable not in source:
                raise ConfigurationError(
                    f"MCP server {self.name}: ${variable} is not set in the kernel's environment; "
                    "set it (os.environ or the shell that starts Jupyter) and ask again."
                )
            SECRETS.add(source[variable])
            return source[variable]

        return _VARIABLE.sub(one, value)


def check_name(name: str) -> str:
    if not NAME.fullmatch(name) or "__" in name:
        raise ConfigurationError(
            f"MCP server name {name!r}: use up to {MAX_NAME} letters, digits, - or single _ "
            "(it prefixes its tools' names), e.g. time or git-local."
        )
    return name


def from_setting(setting: Mapping[str, Any]) -> dict[str, ServerConfig]:
    """The servers of an `mcpServers`-shaped mapping (the whole Claude Desktop file works too)."""
    if isinstance(setting.get("mcpServers"), Mapping):
        setting = setting["mcpServers"]
    return {name: from_spec(name, spec) for name, spec in setting.items()}


def from_spec(name: str, spec: object) -> ServerConfig:
    """One server from its `{"command", "args", "env"}` or `{"url", "headers"}` entry."""
    check_name(name)
    if not isinstance(spec, Mapping) or ("command" in spec) == ("url" in spec):
        raise ConfigurationError(
            f"MCP server {name}: give either a command (with args, env) or a url (with "
            'headers), e.g. {"command": "python", "args": ["-m", "mcp_server_time"]}.'
        )
    confirm, hosted = spec.get("confirm", False), spec.get("hosted", False)
    if not isinstance(confirm, bool) or not isinstance(hosted, bool):
        raise ConfigurationError(f"MCP server {name}: confirm and hosted are true or false.")
    if "url" in spec:
        url = _text(name, "url", spec["url"])
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(f"MCP server {name}: url must be http(s)://..., not {url!r}.")
        headers = _strings(name, "headers", spec.get("headers"))
        return ServerConfig(name, url=url, headers=headers, confirm=confirm, hosted=hosted)
    if hosted:
        raise ConfigurationError(
            f"MCP server {name}: only a URL server can be hosted (OpenAI's servers reach it "
            "over the internet); a command runs here, without hosted."
        )
    args = spec.get("args") or []
    if not isinstance(args, Sequence) or isinstance(args, str):
        raise ConfigurationError(f"MCP server {name}: args must be a list of strings.")
    return ServerConfig(
        name,
        command=_text(name, "command", spec["command"]),
        args=tuple(_text(name, "args", arg) for arg in args),
        env=_strings(name, "env", spec.get("env")),
        confirm=confirm,
    )


def from_words(
    words: Sequence[str],
    headers: Sequence[str] = (),
    *,
    confirm: bool = False,
    hosted: bool = False,
) -> ServerConfig:
    """`mcp add NAME URL` or `mcp add NAME COMMAND ARG...` (the `--` before COMMAND is argparse's,
    gone by now): a URL names an HTTP server, anything else a command to start."""
    if len(words) < 2:
        raise ConfigurationError(f"mcp add needs a name and a server: {ADD_USAGE}")
    name, target = words[0], words[1:]
    if len(target) == 1 and target[0].startswith(("http://", "https://")):
        headers_ = _parsed_headers(name, headers)
        spec = {"url": target[0], "headers": headers_, "confirm": confirm, "hosted": hosted}
        return from_spec(name, spec)
    if headers or hosted:
        flag = "--header" if headers else "--hosted"
        raise ConfigurationError(f"{flag} goes with a URL server: {ADD_USAGE}")
    return from_spec(name, {"command": target[0], "args": list(target[1:]), "confirm": confirm})


def _parsed_headers(name: str, headers: Sequence[str]) -> dict[str, str]:
    parsed = {}
    for header in headers:
        key, colon, value = header.partition(":")
        if not colon or not key.strip():
            raise ConfigurationError(
                f'MCP server {name}: --header takes "Name: value", e.g. '
                '--header "Authorization: Bearer $TOKEN" (not {header!r}).'
            )
        parsed[key.strip()] = value.strip()
    return parsed


def _text(name: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"MCP server {name}: {key} must be a non-empty string.")
    return value


def _strings(name: str, key: str, value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigurationError(f'MCP server {name}: {key} maps names to strings: {{"K": "V"}}')
    return dict(value)
