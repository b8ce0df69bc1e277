"""Secrets never leave the kernel: every text shown, stored, exported or sent passes `redact`.

The process knows a few secrets: the API key, credentials inside a base URL, and (later) MCP and
provider tokens. They are registered here once, when the configuration is read, and every
boundary (the turn's view, the thread store, exports, the requests to the model, error lines)
masks them. Text is often cut before it is shown (a variable's summary, a tool's long result), so
a key can appear as a piece: any run of `MIN_FRAGMENT` or more characters of a secret is masked
too, wherever the cut fell.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit, urlunsplit

#: Shorter secrets are not registered: masking every "abc" in a text would hide more than it
#: protects, and a secret that short protects nothing anyway.
MIN_SECRET = 8
#: The shortest piece of a secret that is masked on its own (a cut key's head or tail).
MIN_FRAGMENT = 8
#: Pieces are found by searching for the secret's aligned blocks of this size: any piece of at
#: least 2 * BLOCK - 1 characters holds one whole block, so MIN_FRAGMENT >= 7 is always found.
BLOCK = 4
FRAGMENT_MASK = "****"
#: Query parameters of a URL whose values are credentials (matched as substrings of the name).
SECRET_PARAMETERS = ("key", "token", "secret", "sig", "password", "auth", "credential")


def mask(secret: str) -> str:
    """How a whole secret reads once masked: its kind and its last four characters."""
    if len(secret) <= MIN_SECRET:
        return FRAGMENT_MASK
    return f"{secret[:3]}…{secret[-4:]}"


class Secrets:
    """The secrets this process knows, and masking them in any text."""

    def __init__(self) -> None:
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add(self, secret: str | None) -> None:
        secret = (secret or "").strip()
        if len(secret) < MIN_SECRET or secret in self._secrets:
            return
        with self._lock:
            # Longest first: a secret that holds another is masked whole, not in pieces.
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def add_url(self, url: str) -> None:
        """Register the credentials a URL carries (user:password@, ?api-key=...)."""
        for secret in url_secrets(url):
            self.add(secret)

    def clear(self) -> None:
        with self._lock:
            self._secrets = ()

    def redact(self, text: str) -> str:
        secrets = self._secrets
        if not secrets or not text:
            return text
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, mask(secret))
        spans = sorted(span for secret in secrets for span in _fragments(text, secret))
        return _masked(text, _merged(spans)) if spans else text


def _fragments(text: str, secret: str) -> Iterable[tuple[int, int]]:
    """Where pieces of `secret` at least MIN_FRAGMENT long sit in `text`, as (start, end)."""
    for offset in range(0, len(secret) - BLOCK + 1, BLOCK):
        block = secret[offset : offset + BLOCK]
        found = text.find(block)
        while found != -1:
            before = _common_suffix(text, found, secret, offset)
            after = _common_prefix(text, found + BLOCK, secret, offset + BLOCK)
            if before + BLOCK + after >= MIN_FRAGMENT:
                yield found - before, found + BLOCK + after
            found = text.find(block, found + 1)


def _common_suffix(text: str, end: int, secret: str, secret_end: int) -> int:
    """How many characters before `end` in text equal those before `secret_end` in secret."""
    length = 0
    while (
        length < end
        and length < secret_end
        and text[end - length - 1] == secret[secret_end - length - 1]
    ):
        length += 1
    return length


def _common_prefix(text: str, start: int, secret: str, secret_start: int) -> int:
    length = 0
    while (
        start + length < len(text)
        and secret_start + length < len(secret)
        and text[start + length] == secret[secret_start + length]
    ):
        length += 1
    return length


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _masked(text: str, spans: list[tuple[int, int]]) -> str:
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], FRAGMENT_MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def url_secrets(url: str) -> list[str]:
    """The credentials in a URL, as typed and percent-decoded."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return []
    found = []
    if parts.password:
        found.append(parts.password)
    elif parts.username:  # https://KEY@host: a lone user name is how some services take a key
        found.append(parts.username)
    found += [value for name, value in parse_qsl(parts.query) if _secret_name(name)]
    return [form for secret in found for form in {secret, unquote(secret), quote(secret, "")}]


def public_url(url: str) -> str:
    """The URL with its credentials masked: what is shown and stored instead of it."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return SECRETS.redact(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{FRAGMENT_MASK}@{netloc.rsplit('@', 1)[1]}"
    query = "&".join(
        f"{name}={FRAGMENT_MASK if _secret_name(name) else value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _secret_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_PARAMETERS)


#: The process's secrets: the key and credentials are per process (the environment), so one
#: registry serves every boundary without threading it through each call.
SECRETS = Secrets()


def redact(text: str) -> str:
    return SECRETS.redact(text)
