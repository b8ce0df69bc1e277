"""What every dialect built on the openai SDK shares: the client and the error messages."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import ApiError

NETWORK_PACKAGES = frozenset({"httpx", "httpx2", "httpcore", "httpcore2", "h11"})

if TYPE_CHECKING:
    import openai

    from ..events import Event
    from ..settings import Settings


class SdkDialect:
    """What the dialects built on the openai SDK share: a lazy client and reading a stream."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: openai.OpenAI | None = None

    @property
    def client(self) -> openai.OpenAI:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def post(
        self,
        path: str,
        body: dict[str, Any],
        result: type,
        event: Any,
        encoded: Callable[[], bytes] | None = None,
    ) -> Any:
        """What the SDK's ``create(**body)`` for `path` sends and returns (a `Stream` of `event`
        when ``body["stream"]``, else a `result`), without its walk over the body to turn
        Python values into JSON: ours is JSON already, and the walk costs time in proportion to
        the request (a short Responses turn pays a few hundred microseconds, a chat request
        holding a full 16k-token window 15 ms). ``encoded`` makes the body's JSON where a
        dialect keeps most of it encoded already (an SDK too old to send raw bytes is sent
        ``body``)."""
        streamed = bool(body.get("stream"))
        sent: dict[str, Any] = {"body": body}
        if encoded is not None and _sends_raw_content():
            sent = {"content": encoded()}
        return self.client.post(
            path, cast_to=result, stream=streamed, stream_cls=_drained_stream()[event], **sent
        )

    def read(
        self, stream: Any, events: Generator[Event, None, None]
    ) -> Generator[Event, None, None]:
        """Yield `events` (made from `stream`), then read the stream to its end and close it.

        Reading to the end puts the connection back in the pool: a stream closed early costs a
        fresh TCP connection on the next ask. Failures mid-stream become one-line errors.
        """
        import openai

        try:
            yield from events
            for _ in stream:
                pass
        except Exception as exc:
            if isinstance(exc, openai.OpenAIError) or is_network_error(exc):
                raise_api_error(exc, self.settings, mid_stream=True)
            if isinstance(exc, json.JSONDecodeError):  # a proxy's error page inside the stream
                raise ApiError(
                    f"{self.settings.public_base_url} sent a stream event that is not JSON "
                    f"({_quoted(exc.doc)}), so the answer stops here. Run %assistant retry to "
                    "send it again."
                ) from None
            raise
        finally:
            stream.close()


@functools.cache
def _sends_raw_content() -> bool:
    """Whether the SDK's ``post`` takes a body as bytes (``content``; older SDKs do not)."""
    import inspect

    import openai

    return "content" in inspect.signature(openai.OpenAI.post).parameters


def encode_json(value: Any) -> str:
    """JSON as the SDK spells a request body (compact, UTF-8 left as it is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@functools.cache
def _drained_stream() -> Any:
    """The SDK's `Stream`, reading the body to its end at ``[DONE]`` (Chat Completions and
    Assistants streams end with it). The SDK's sync stream closes the response there, before the
    body's last bytes, so HTTP/1.1 cannot reuse the connection and every ask opens a new one
    (a TLS handshake, on a remote server); its async stream drains, as this does."""
    from typing import TypeVar

    from openai import Stream

    T = TypeVar("T")

    class DrainedStream(Stream[T]):
        def _iter_events(self) -> Iterator[Any]:
            events = super()._iter_events()
            for sse in events:
                if sse.data.startswith("[DONE]"):
                    for _ in events:  # only the end of the body is left
                        pass
                yield sse

    return DrainedStream


def make_client(settings: Settings) -> openai.OpenAI:
    import openai

    return openai.OpenAI(
        api_key=settings.require_key(),
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
    )


@contextmanager
def dialect_offered(settings: Settings, api: str, endpoint: str) -> Iterator[None]:
    """A 404 inside the block means the server does not speak this dialect at all: say so, and
    which `--dialect` to try, instead of a bare "not found"."""
    try:
        with api_errors(settings):
            yield
    except ApiError as exc:
        if exc.status != 404:
            raise
        others = " or ".join(
            f"--dialect {d}" for d in ("responses", "chat", "assistants") if d != api
        )
        raise ApiError(
            f"{settings.public_base_url} does not offer the {DIALECT_NAMES[api]} (404 on "
            f"{endpoint}): try {others}.",
            status=404,
        ) from None


DIALECT_NAMES = {
    "responses": "Responses API's conversations",
    "chat": "Chat Completions API",
    "assistants": "Assistants API",
}


@contextmanager
def api_errors(settings: Settings, *, missing_ok: bool = False) -> Iterator[None]:
    """SDK errors inside the block become one-line `ApiError`s.

    With `missing_ok`, a 404 counts as success: deleting what is already gone.
    """
    import openai

    try:
        yield
    except openai.OpenAIError as exc:
        if missing_ok and isinstance(exc, openai.NotFoundError):
            return
        raise_api_error(exc, settings)


def raise_api_error(exc: Exception, settings: Settings, *, mid_stream: bool = False) -> NoReturn:
    """Re-raise an SDK exception as one line that says what happened and what to do."""
    message = describe(exc, settings, mid_stream=mid_stream)
    raise ApiError(settings.redact(message), status=_status(exc)) from None


def _status(exc: Exception) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


#: What to do about a failure that may pass, said after it: for an ask.
ASK_RETRY = "Run %assistant retry to send it again."


def describe(
    exc: Exception, settings: Settings, *, mid_stream: bool = False, retry: str = ASK_RETRY
) -> str:
    """``exc`` as one line for the user, ending with `retry` where trying again may help."""
    import openai

    url = settings.public_base_url
    if isinstance(exc, openai.APITimeoutError):
        return f"{url} did not answer within {settings.timeout:g} s. {retry}"
    lost = is_network_error(exc) or isinstance(exc, openai.APIConnectionError)
    if lost and mid_stream:
        return f"Lost the connection to {url} during the answer. {retry}"
    if isinstance(exc, openai.APIConnectionError):
        return (
            f"Cannot reach {url}: is the server running? Check --base-url or $OPENAI_BASE_URL. "
            f"{retry}"
        )
    if is_network_error(exc):
        return f"The connection to {url} failed ({exc}). {retry}"
    if not isinstance(exc, openai.APIStatusError):
        return f"{type(exc).__name__}: {exc}"
    message = server_message(exc)
    status = exc.status_code
    if status == 401:
        return (
            f"{url} rejected the API key (401): check ${settings.api_key_env}. "
            f"Server said: {message}"
        )
    if status == 403:
        return f"{url} refused access (403): {message}"
    if status == 404:
        if exc.param == "conversation" or "conversation" in message.lower():
            return (
                f"The thread's conversation is gone from {url} (404): "
                "start a new one with %assistant thread new."
            )
        return (
            f"Not found at {url} (404): {message} "
            "Check the model (--model) and the base URL (--base-url)."
        )
    if status == 429:
        return (
            f"Rate limited by {url} (429) after {settings.max_retries} retries: {message} "
            f"Wait a moment, then {retry[0].lower()}{retry[1:]}"
        )
    if status >= 500:
        return f"{url} failed ({status}): {message} Try again later. {retry}"
    return f"{url} rejected the request ({status}): {message}"


def _quoted(text: str, limit: int = 40) -> str:
    """The start of what the server sent, on one line."""
    line = " ".join(text.split())
    return repr(line if len(line) <= limit else line[: limit - 1] + "…")


def is_network_error(exc: BaseException) -> bool:
    """A transport failure while reading a stream, which the SDK passes through unwrapped."""
    package = type(exc).__module__.split(".")[0]
    return isinstance(exc, OSError) or package in NETWORK_PACKAGES


#: Longest server message quoted in an error (a server may send a whole traceback).
MESSAGE_LIMIT = 300


def server_message(exc: openai.APIStatusError) -> str:
    """What the server said, on one line (llama-cpp-python's 500s hold a traceback)."""
    body = exc.body
    message = exc.message
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = error["message"]
    line = " ".join(message.split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 1] + "…"
