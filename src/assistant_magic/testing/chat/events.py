"""Chat completion chunks in the real API's order, and the ``chat.completion`` they add up to.

Every chunk repeats ``id`` (``chatcmpl-...``), ``object: "chat.completion.chunk"``, ``created``,
``model`` and ``service_tier`` ("default", or the ``flex``/``scale``/``priority`` asked for), and
has one choice ``{"index": 0, "delta": ..., "logprobs": null, "finish_reason": ...}``;
``usage: null`` when the request asked for ``stream_options.include_usage``; a random
``obfuscation`` unless it set ``include_obfuscation: false``. A text reply (:class:`Text`) streams::

    delta {"role": "assistant", "content": "", "refusal": null}
    delta {"content": "<piece>"}                                   x n
    delta {}, finish_reason "stop"   ("length" or "content_filter" for status="incomplete")
    choices [], usage {...}          (only with stream_options.include_usage)
    data: [DONE]

A tool-calling step (:class:`ToolCalls`), calls numbered by ``index`` from 0::

    delta {"role": "assistant", "content": null, "tool_calls": [{"index": 0, "id": "call_...",
           "type": "function", "function": {"name": "add", "arguments": ""}}], "refusal": null}
    delta {"tool_calls": [{"index": 0, "function": {"arguments": "<piece>"}}]}    x n
    delta {"tool_calls": [{"index": 1, "id": ..., "type": "function", "function": {...}}]}
    ...                                                            (each further call alike)
    delta {}, finish_reason "tool_calls"
    choices [], usage {...}          (only with stream_options.include_usage)
    data: [DONE]

With ``ToolCalls.text`` the text streams first (the role chunk then has ``content: ""``) and the
first call opens in a chunk of its own.

A :class:`Refusal` streams its text as ``refusal``, never as ``content``::

    delta {"role": "assistant", "content": null, "refusal": ""}
    delta {"refusal": "<piece>"}                                   x n
    delta {}, finish_reason "stop"
    choices [], usage {...}          (only with stream_options.include_usage)
    data: [DONE]

and unstreamed it is ``message.refusal``, with ``content`` null.

``Text(fail_after=N)`` sends the role chunk and N pieces, then an ``{"error": {...}}`` frame
(``type: "server_error"``) and no ``[DONE]``: the openai SDK raises ``APIError`` with its message.
``Text(hang_up_after=N)`` sends N pieces, then drops the connection mid-body.

A non-streaming request drains the same chunks (paced alike) and answers the ``chat.completion``
they add up to, always with ``usage``; the error frame becomes an HTTP 500 (which the SDK
retries, each retry taking the next scripted reply) and a hang-up closes the connection without
an answer.

A stream the server cannot make (see ``ScriptedServer(chat_auto_tool_streams=...)``) is
:func:`no_chunks`: after the 200 it ends at once (``data: [DONE]`` alone), or the connection
closes mid-body.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..chunking import Sleep, split_arguments, split_words
from ..items import new_call_id, random_alphanumeric
from ..script import Refusal, Text, ToolCalls
from ..sse import HangUp
from ..usage import chat_usage
from ..wire import ApiFailure, Event, is_error_frame


def new_completion_id() -> str:
    """A chat completion id in the real shape: ``chatcmpl-`` and 29 letters or digits."""
    return "chatcmpl-" + random_alphanumeric(29)


@dataclass(frozen=True)
class ChatRun:
    """One chat completion being made: what its chunks repeat, and what its usage counts."""

    id: str
    created: int
    model: str
    #: The words of the request's messages (see `items.ChatThread.prompt_words`).
    prompt_words: int
    include_usage: bool = False
    obfuscate: bool = True
    service_tier: str = "default"

    @classmethod
    def of(cls, body: Mapping[str, Any], prompt_words: int) -> ChatRun:
        """The run a request asks for; a non-streaming one always counts usage."""
        options = body.get("stream_options")
        options = options if isinstance(options, Mapping) else {}
        streamed = bool(body.get("stream"))
        tier = body.get("service_tier")
        return cls(
            id=new_completion_id(),
            created=int(time.time()),
            model=str(body.get("model")),
            prompt_words=prompt_words,
            include_usage=bool(options.get("include_usage")) or not streamed,
            obfuscate=streamed and options.get("include_obfuscation") is not False,
            service_tier=str(tier) if tier in ("flex", "scale", "priority") else "default",
        )

    def chunk(self, delta: Mapping[str, Any], finish_reason: str | None = None) -> Event:
        choice = {
            "index": 0,
            "delta": dict(delta),
            "logprobs": None,
            "finish_reason": finish_reason,
        }
        return self._frame([choice], None)

    def usage_chunk(self, usage: Mapping[str, Any]) -> Event:
        return self._frame([], dict(usage))

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> Event:
        chunk: Event = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": self.service_tier,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        if self.obfuscate:
            chunk["obfuscation"] = secrets.token_urlsafe(secrets.randbelow(12) + 1)
        return chunk


def chat_chunks(
    run: ChatRun, reply: Text | ToolCalls | Refusal, *, delay: float, sleep: Sleep = time.sleep
) -> Generator[Event, None, None]:
    """The chunks of one scripted answer (see the module docstring)."""
    if isinstance(reply, ToolCalls):
        return _tool_call_chunks(run, reply, delay=delay, sleep=sleep)
    if isinstance(reply, Refusal):
        return _refusal_chunks(run, reply, delay=delay, sleep=sleep)
    return _text_chunks(run, reply, delay=delay, sleep=sleep)


def _text_chunks(
    run: ChatRun, reply: Text, *, delay: float, sleep: Sleep
) -> Generator[Event, None, None]:
    yield run.chunk({"role": "assistant", "content": "", "refusal": None})
    text = ""
    for sent, piece in enumerate(reply.pieces):
        if reply.fail_after is not None and sent >= reply.fail_after:
            break
        if reply.hang_up_after is not None and sent >= reply.hang_up_after:
            raise HangUp(reply.hang_up_frame)
        if delay > 0:
            sleep(delay)
        text += piece
        yield run.chunk({"content": piece})
    if reply.fail_after is not None:
        yield error_frame(reply.fail_message)
        return
    if reply.status == "completed":
        reason = "stop"
    else:
        reason = "length" if reply.incomplete_reason == "max_output_tokens" else "content_filter"
    yield run.chunk({}, reason)
    if run.include_usage:
        yield run.usage_chunk(chat_usage(reply.usage, prompt=run.prompt_words, output=text))


def _refusal_chunks(
    run: ChatRun, reply: Refusal, *, delay: float, sleep: Sleep
) -> Generator[Event, None, None]:
    yield run.chunk({"role": "assistant", "content": None, "refusal": ""})
    for piece in reply.pieces:
        if delay > 0:
            sleep(delay)
        yield run.chunk({"refusal": piece})
    yield run.chunk({}, "stop")
    if run.include_usage:
        yield run.usage_chunk(chat_usage(None, prompt=run.prompt_words, output=reply.text))


def _tool_call_chunks(
    run: ChatRun, reply: ToolCalls, *, delay: float, sleep: Sleep
) -> Generator[Event, None, None]:
    opened = False  # whether the role chunk went out
    said: list[str] = []
    if reply.text:
        yield run.chunk({"role": "assistant", "content": "", "refusal": None})
        opened = True
        for piece in split_words(reply.text):
            if delay > 0:
                sleep(delay)
            yield run.chunk({"content": piece})
        said.append(reply.text)
    for index, call in enumerate(reply.calls):
        arguments = call.arguments_text
        head = {
            "index": index,
            "id": call.call_id or new_call_id(),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        if opened:
            yield run.chunk({"tool_calls": [head]})
        else:
            role = {"role": "assistant", "content": None, "tool_calls": [head], "refusal": None}
            yield run.chunk(role)
            opened = True
        for piece in split_arguments(arguments, reply.argument_chunks):
            if delay > 0:
                sleep(delay)
            yield run.chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        said.append(f"{call.name} {arguments}")
    yield run.chunk({}, "tool_calls")
    if run.include_usage:
        output = " ".join(said)
        yield run.usage_chunk(chat_usage(reply.usage, prompt=run.prompt_words, output=output))


def no_chunks(*, cut: bool) -> Generator[Event, None, None]:
    """A stream that ends before its first chunk: at once, or (``cut``) by dropping the
    connection, which the client's transport reports as an unfinished body."""
    if cut:
        raise HangUp()
    yield from ()


def error_frame(message: str) -> Event:
    """What the API streams when generation fails mid-way (the SDK raises ``APIError``)."""
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def chat_completion(run: ChatRun, chunks: Iterable[Event]) -> dict[str, Any]:
    """The ``chat.completion`` object the chunks add up to (pulled to the end).

    An error frame becomes an HTTP 500 :class:`ApiFailure`; a :class:`HangUp` passes through.
    """
    content: str | None = None
    refusal: str | None = None
    calls: dict[int, dict[str, Any]] = {}
    finish_reason = "stop"
    usage: dict[str, Any] | None = None
    for chunk in chunks:
        if is_error_frame(chunk):
            error = chunk["error"]
            raise ApiFailure(500, str(error["message"]), type=str(error["type"]))
        if not chunk["choices"]:
            usage = chunk.get("usage")
            continue
        choice = chunk["choices"][0]
        delta = choice["delta"]
        if isinstance(delta.get("content"), str):
            content = (content or "") + delta["content"]
        if isinstance(delta.get("refusal"), str):
            refusal = (refusal or "") + delta["refusal"]
        for part in delta.get("tool_calls", []):
            empty = {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            call = calls.setdefault(part["index"], empty)
            call["id"] = part.get("id", call["id"])
            function = part.get("function", {})
            call["function"]["name"] = function.get("name", call["function"]["name"])
            call["function"]["arguments"] += function.get("arguments", "")
        finish_reason = choice["finish_reason"] or finish_reason
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    message["annotations"] = []
    answer: dict[str, Any] = {
        "id": run.id,
        "object": "chat.completion",
        "created": run.created,
        "model": run.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
    }
    if usage is not None:
        answer["usage"] = usage
    answer["service_tier"] = run.service_tier
    return answer
