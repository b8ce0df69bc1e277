"""What one ask runs with: the options, the server and dialect resolved, and the key.

`resolve` reads the environment once per ask into an immutable `Settings`. The API key lives only
here and in the HTTP client: it is never printed, logged or stored, and `redact` scrubs it from any
text we show.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .options import DIALECTS, FIELDS, Options
from .redaction import SECRETS, mask, public_url, redact

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Settings(Options):
    """The options as one ask runs with them: the base URL and the dialect resolved (never
    "auto"), and the key read from the environment (see `resolve`)."""

    base_url_source: str = "default"
    dialect_source: str = "configured"
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        pass  # made by `resolve` from options already checked

    @property
    def masked_key(self) -> str:
        return mask(self.api_key) if self.api_key else "not set"

    @property
    def public_base_url(self) -> str:
        """The base URL as shown and stored: credentials in it masked."""
        return public_url(self.base_url)

    def require_key(self) -> str:
        """The key, or a one-line error naming the variable that should hold it."""
        if self.api_key:
            return self.api_key
        if is_openai(self.base_url):
            raise ConfigurationError(
                f"No API key: set the {self.api_key_env} environment variable "
                "(or point AssistantMagics.api_key_env at the variable that holds it), or run a "
                "model on this machine with %assistant --local."
            )
        # Self-hosted servers often need no key, but the SDK insists on one; a server that
        # does want one answers 401, and that error names the variable.
        return "no-key"

    def redact(self, text: str) -> str:
        return redact(text)


def is_openai(base_url: str) -> bool:
    return (urlsplit(base_url).hostname or "").endswith("openai.com")


def resolve_base_url(configured: str, environ: Mapping[str, str]) -> tuple[str, str]:
    """The base URL to use and a word on where it came from."""
    if configured:
        return normalise_base_url(configured), "configured"
    from_env = environ.get("OPENAI_BASE_URL", "").strip()
    if from_env:
        return normalise_base_url(from_env), "$OPENAI_BASE_URL"
    return OPENAI_BASE_URL, "default"


def normalise_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it checks it: "host:notaport" raises here
    except ValueError as exc:
        raise _not_a_url(url, f" ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _not_a_url(url)
    return url


def _not_a_url(url: str, why: str = "") -> ConfigurationError:
    return ConfigurationError(
        f"Base URL {public_url(url)!r} is not an http(s) URL{why}: use e.g. "
        "--base-url http://localhost:8000/v1"
    )


#: Where the dialect may be set for a whole environment (the second is its older name).
DIALECT_ENVS = ("ASSISTANT_MAGIC_DIALECT", "ASSISTANT_MAGIC_API")


def resolve_dialect(
    configured: str, base_url: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The wire dialect: as configured, else from $ASSISTANT_MAGIC_DIALECT, else from the server:
    the Responses API on OpenAI's own endpoint, Chat Completions elsewhere (what Ollama, vLLM,
    llama.cpp and LM Studio speak)."""
    env = os.environ if environ is None else environ
    source = "configured"
    named = next(
        ((name, env[name].strip()) for name in DIALECT_ENVS if env.get(name, "").strip()), None
    )
    if configured == "auto" and named is not None:
        configured, source = named[1], f"${named[0]}"
    if configured != "auto":
        if configured not in DIALECTS:
            raise ConfigurationError(
                f"Unknown dialect {configured!r}: choose one of {', '.join(('auto', *DIALECTS))}."
            )
        return configured, source
    if is_openai(base_url):
        return "responses", "auto: OpenAI's endpoint"
    return "chat", "auto: not OpenAI's endpoint"


#: Where replay may be set for a whole environment (a CI run, `jupyter execute`).
REPLAY_ENV, REPLAY_FILE_ENV = "ASSISTANT_MAGIC_REPLAY", "ASSISTANT_MAGIC_REPLAY_FILE"


def replay_settings(options: Options, env: Mapping[str, str]) -> dict[str, Any]:
    """The replay mode and file: the options', else the environment's."""
    mode: str = options.replay
    if mode == "off":
        mode = env.get(REPLAY_ENV, "").strip().lower() or "off"
        if mode not in ("off", "on", "only"):
            raise ConfigurationError(f"${REPLAY_ENV}={mode!r}: use on, only or off.")
    path = options.replay_file.strip() or env.get(REPLAY_FILE_ENV, "").strip()
    return {"replay": mode, "replay_file": path}


def resolve(
    options: Options | None = None, environ: Mapping[str, str] | None = None, **changes: Any
) -> Settings:
    """`options` (with `changes`) and the environment, as one ask runs with them."""
    options = replace(options or Options(), **changes)
    env = os.environ if environ is None else environ
    url, url_source = resolve_base_url(options.base_url, env)
    dialect, dialect_source = resolve_dialect(options.dialect, url, env)
    key = env.get(options.api_key_env, "").strip() or None
    SECRETS.add(key)
    SECRETS.add_url(url)
    values = {spec.name: getattr(options, spec.name) for spec in FIELDS}
    values.update(
        model=options.model.strip(),
        assistant_id=options.assistant_id.strip(),
        base_url=url,
        dialect=dialect,
        **replay_settings(options, env),
    )
    return Settings(
        **values,
        base_url_source=url_source,
        dialect_source=dialect_source,
        api_key=key,
    )
