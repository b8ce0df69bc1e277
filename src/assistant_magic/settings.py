"""What one turn runs with: the model, the server, and where the key came from.

The magics hold configuration as traitlets; before each turn they are resolved, with the
environment, into one immutable `Settings`. The API key lives only here and in the HTTP client:
it is never printed, logged or stored, and `redact` scrubs it from any text we show.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redaction import SECRETS, mask, public_url, redact

OPENAI_BASE_URL = "https://api.openai.com/v1"
DIALECTS = ("responses", "chat", "assistants")


@dataclass(frozen=True)
class Settings:
    model: str
    instructions: str
    base_url: str
    base_url_source: str
    api: str
    api_source: str
    api_key_env: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 600.0
    max_retries: int = 2
    #: Tools the server runs itself, by Responses API name: "code_interpreter", ...
    hosted_tools: tuple[str, ...] = ()
    #: Previews streamed while an image is generated.
    partial_images: int = 0
    max_image_bytes: int = 25 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    #: Tokens the model reads; dialects that resend the thread leave old turns out beyond it.
    context_window: int = 0
    #: Longest answer in tokens (0: the server's own limit).
    max_output_tokens: int = 0
    #: Sampling temperature (None: the model's default).
    temperature: float | None = None
    #: Assistants API: an existing assistant to run with ("": make one from this configuration).
    assistant_id: str = ""
    #: The user's prices per 1M tokens, over the shipped table (see `pricing`).
    prices: Mapping[str, Any] = field(default_factory=dict)

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


API_ENV = "ASSISTANT_MAGIC_API"


def resolve_api(
    configured: str, base_url: str, environ: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The wire dialect: as configured, else from $ASSISTANT_MAGIC_API, else from the server:
    the Responses API on OpenAI's own endpoint, Chat Completions elsewhere (what Ollama, vLLM,
    llama.cpp and LM Studio speak)."""
    env = os.environ if environ is None else environ
    source = "configured"
    if configured == "auto" and env.get(API_ENV, "").strip():
        configured, source = env[API_ENV].strip(), f"${API_ENV}"
    if configured != "auto":
        if configured not in DIALECTS:
            raise ConfigurationError(
                f"Unknown API {configured!r}: choose one of {', '.join(('auto', *DIALECTS))}."
            )
        return configured, source
    if is_openai(base_url):
        return "responses", "auto: OpenAI's endpoint"
    return "chat", "auto: not OpenAI's endpoint"


def resolve(
    *,
    model: str,
    instructions: str,
    base_url: str,
    api: str,
    api_key_env: str,
    timeout: float,
    max_retries: int,
    hosted_tools: tuple[str, ...] = (),
    partial_images: int = 0,
    max_image_bytes: int = 25 * 1024 * 1024,
    max_image_pixels: int = 50_000_000,
    context_window: int = 0,
    max_output_tokens: int = 0,
    temperature: float | None = None,
    assistant_id: str = "",
    prices: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if environ is None else environ
    if not model.strip():
        raise ConfigurationError("No model: set one with %assistant --model NAME.")
    url, url_source = resolve_base_url(base_url, env)
    dialect, dialect_source = resolve_api(api, url, env)
    key = env.get(api_key_env, "").strip() or None
    SECRETS.add(key)
    SECRETS.add_url(url)
    return Settings(
        model=model.strip(),
        instructions=instructions,
        base_url=url,
        base_url_source=url_source,
        api=dialect,
        api_source=dialect_source,
        api_key_env=api_key_env,
        api_key=key,
        timeout=timeout,
        max_retries=max_retries,
        hosted_tools=hosted_tools,
        partial_images=partial_images,
        max_image_bytes=max_image_bytes,
        max_image_pixels=max_image_pixels,
        context_window=context_window,
        max_output_tokens=max_output_tokens,
        temperature=temperature,
        assistant_id=assistant_id.strip(),
        prices=dict(prices or {}),
    )
