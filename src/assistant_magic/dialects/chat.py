"""The Chat Completions dialect: what Ollama, vLLM, llama.cpp, LM Studio and most services speak.

The server keeps no thread: each request carries the conversation, rebuilt from the package's
store (`ResponseRequest.history`), newest first and only as far as the model's context window
reaches: older asks are left out of the request (never out of the store), whole, so every tool
call stays with its result.
"""

from __future__ import annotations

import functools
from collections.abc import Generator, Hashable, Iterable, Iterator
from dataclasses import replace
from itertools import chain
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ApiError
from ..events import (
    Event,
    Notice,
    ResponseFinished,
    ResponseStarted,
    StatusChanged,
    TextDelta,
    ToolCallDelta,
    ToolCallRequested,
    Usage,
    UsageReported,
)
from ..tokens import count_tokens, counting_method
from .chat_messages import Fitted, Message, SentAsk, Windows, fit_window
from .interface import ResponseRequest
from .openai_sdk import SdkDialect, api_errors, encode_json, is_network_error
from .textual_calls import textual_calls

if TYPE_CHECKING:
    from ..answer_types import AnswerSchema
    from ..tools import ToolSchema

FINISH_STATUS = {"stop": "completed", "tool_calls": "completed", "length": "incomplete"}
#: Said once, when a server's tool requests stop being streamed.
UNSTREAMED_TOOLS = "this server does not stream requests with tools: asking without streaming"
#: Said once, when a server refuses a `json_schema` response format.
JSON_OBJECT_FALLBACK = (
    "this server does not take a JSON schema as the answer's format: asking for a JSON object, "
    "with the schema in the instructions"
)


class ChatDialect(SdkDialect):
    """Chat Completions: no server-side threads, no files (see the module's docstring)."""

    name: ClassVar[str] = "chat"

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._said_estimated = False
        #: False once a streamed request with tools ended before its first chunk: some servers
        #: (llama-cpp-python's, with `--chat_format chatml-function-calling`) cannot stream
        #: those, so they are asked without streaming from then on, for the kernel's life.
        self.streams_tool_requests = True
        #: Asks that are over as requests carry them (messages, JSON, token count), by store
        #: key: an ask that is over never changes, and a long thread resends a window of them.
        self._sent: dict[Hashable, SentAsk] = {}
        #: The windows of past requests, so the next one reads only the asks made since.
        self._windows = Windows()
        #: False once the server refused a `json_schema` response format (llama-cpp-python's
        #: does): typed asks then ask for a JSON object, for the kernel's life.
        self.takes_json_schema = True

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        messages = fit_window(request, self._sent, self._windows).messages
        return [("POST /chat/completions", self._params(request, messages))]

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        fitted = fit_window(request, self._sent, self._windows)
        if not fitted.whole:
            kept = fitted.kept
            yield Notice(
                f"sent the last {kept} ask{'s' if kept != 1 else ''} of the thread to fit the "
                f"{request.context_window:,}-token context window (the older ones stay in the "
                "thread)"
            )
        offered = {schema.name for schema in request.tools}
        for event in textual_calls(self._answer(request, fitted), offered):
            if isinstance(event, ResponseFinished) and event.usage is None:
                # Some servers (llama.cpp's) send no usage when streaming: count it ourselves,
                # so budgets and `%assistant usage` still see the ask.
                yield from self._estimated_usage(fitted.messages, event)
            yield event

    def _params(self, request: ResponseRequest, messages: list[Message]) -> dict[str, Any]:
        stream = self.streams_tool_requests or not request.tools
        return request_params(request, messages, stream=stream, json_schema=self.takes_json_schema)

    def _answer(self, request: ResponseRequest, fitted: Fitted) -> Generator[Event, None, None]:
        """The model's answer, streamed where the server streams it."""
        messages = fitted.messages
        params = self._params(request, messages)
        try:
            if not params["stream"]:
                yield from self._unstreamed(params, fitted)
                return
            with api_errors(self.settings):
                stream = self._create(params, fitted)
        except ApiError as exc:
            # Refused before anything was said: asked again, once, the way the server takes.
            if not _refuses_json_schema(exc, params):
                raise
            self.takes_json_schema = False
            yield Notice(JSON_OBJECT_FALLBACK)
            yield from self._answer(request, fitted)
            return
        try:
            chunks, empty = _opening(stream)
        except BaseException:
            stream.close()  # interrupted while the server was thinking: `read` is not there yet
            raise
        if empty and request.tools:
            stream.close()
            yield from self._stop_streaming_tools()
            yield from self._unstreamed(self._params(request, messages), fitted)
            return
        yield from self.read(stream, _translate(chunks))

    def _unstreamed(self, params: dict[str, Any], fitted: Fitted) -> Generator[Event, None, None]:
        with api_errors(self.settings):
            completion = self._create(params, fitted)
        yield from _translate_completion(completion)

    def _create(self, params: dict[str, Any], fitted: Fitted) -> Any:
        from openai.types.chat import ChatCompletion, ChatCompletionChunk

        encoded = None
        if params["messages"] is fitted.messages:  # not rewritten (see `response_format`)
            encoded = functools.partial(encoded_body, params, fitted.messages_json)
        return self.post(
            "/chat/completions", params, ChatCompletion, ChatCompletionChunk, encoded=encoded
        )

    def _stop_streaming_tools(self) -> Generator[Event, None, None]:
        self.streams_tool_requests = False
        # The server may close the connection it just ended (llama-cpp-python's does, though it
        # said keep-alive): a request sent on it from the pool would fail, so start afresh.
        self.close()
        yield Notice(UNSTREAMED_TOOLS)

    def _estimated_usage(
        self, messages: list[Message], end: ResponseFinished
    ) -> Generator[Event, None, None]:
        if not self._said_estimated:
            self._said_estimated = True
            yield Notice(f"this server reports no token usage: counted here ({counting_method()})")
        written = [end.text, *(f"{c.name}{c.arguments}" for c in end.tool_calls)]
        given, answered = count_tokens(messages), count_tokens("".join(written))
        yield UsageReported(Usage(given, answered, given + answered))

    def cancel(self, response_id: str) -> None:
        pass  # closing the stream is how a chat completion is stopped


# -- building a request ----------------------------------------------------------------------


def request_params(
    request: ResponseRequest,
    messages: list[Message],
    *,
    stream: bool = True,
    json_schema: bool = True,
) -> dict[str, Any]:
    """The body of ``POST /chat/completions``; `json_schema` False for a server that refuses
    that response format (a typed ask then asks for a JSON object: see `response_format`)."""
    params: dict[str, Any] = {"model": request.model, "messages": messages, "stream": stream}
    if stream:
        params["stream_options"] = {"include_usage": True}
    if request.max_output_tokens:
        # max_tokens, not max_completion_tokens: what llama.cpp, Ollama and vLLM read.
        params["max_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.tools:
        params["tools"] = [function_tool(schema) for schema in request.tools]
        params["tool_choice"] = tool_choice(request.tool_choice)
    if request.answer_format is not None:
        params.update(response_format(request, messages, json_schema=json_schema))
    return params


def encoded_body(params: dict[str, Any], messages_json: str) -> bytes:
    """``params`` as JSON, with `messages_json` (`Fitted.messages_json`, made mostly of the
    JSON of asks kept as sent) for its messages: a long thread's window is not encoded again."""
    rest = encode_json({key: value for key, value in params.items() if key != "messages"})
    return f'{{"messages":[{messages_json}],{rest[1:]}'.encode()


def response_format(
    request: ResponseRequest, messages: list[Message], *, json_schema: bool
) -> dict[str, Any]:
    """How a typed ask asks for its schema: Structured Outputs, or, where the server refuses
    them, a JSON object with the schema in the instructions (and under ``schema``, which
    llama-cpp-python turns into a grammar) - left out while the model may still call tools,
    since a grammar for the answer would keep it from calling any."""
    answer = request.answer_format
    assert answer is not None
    if json_schema:
        return {"response_format": json_schema_format(answer)}
    instructed = _with_instructions(messages, answer.instructions())
    if request.tools and request.tool_choice != "none":
        return {"messages": instructed}
    return {
        "messages": instructed,
        "response_format": {"type": "json_object", "schema": answer.schema},
    }


def json_schema_format(answer: AnswerSchema) -> dict[str, Any]:
    """Structured Outputs, as Chat Completions and the Assistants API's runs take them."""
    body = {"name": answer.name, "schema": answer.schema, "strict": answer.strict}
    return {"type": "json_schema", "json_schema": body}


def _with_instructions(messages: list[Message], text: str) -> list[Message]:
    if messages and messages[0].get("role") == "system":
        first = messages[0]
        return [{**first, "content": f"{first['content']}\n\n{text}"}, *messages[1:]]
    return [{"role": "system", "content": text}, *messages]


def _refuses_json_schema(exc: ApiError, params: dict[str, Any]) -> bool:
    asked = (params.get("response_format") or {}).get("type") == "json_schema"
    return asked and refuses_json_schema(exc.status, str(exc))


def refuses_json_schema(status: int | None, message: str) -> bool:
    """Whether an error refuses a request's `json_schema` response format: a 400 or 422, or,
    as llama-cpp-python's server answers, a 500, that names the field."""
    said = message.lower()
    return status in (400, 422, 500) and ("response_format" in said or "json_schema" in said)


def function_tool(schema: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": schema.name,
            "description": schema.description,
            "parameters": schema.parameters,
            "strict": schema.strict,
        },
    }


def tool_choice(choice: str) -> str | dict[str, Any]:
    if choice in ("auto", "none", "required"):
        return choice
    return {"type": "function", "function": {"name": choice}}


# -- reading the answer ----------------------------------------------------------------------


def _opening(stream: Iterable[Any]) -> tuple[Iterator[Any], bool]:
    """The stream's chunks, and whether it ended before its first one: empty, or cut by the
    transport (the two ways a server that cannot stream a request hangs up after its 200).

    A failure is kept in the chunks returned, raised where `SdkDialect.read` describes it.
    """
    chunks = iter(stream)
    try:
        first = next(chunks)
    except StopIteration:
        return iter(()), True
    except Exception as exc:
        return _raising(exc), _connection_lost(exc)
    return chain([first], chunks), False


def _connection_lost(exc: Exception) -> bool:
    """The transport failed (not a timeout): the SDK wraps that in `APIConnectionError`, or
    passes it through."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return False
    return isinstance(exc, openai.APIConnectionError) or is_network_error(exc)


def _raising(exc: Exception) -> Iterator[Any]:
    raise exc
    yield  # a generator: `exc` is raised when the chunks are read


def _translate(stream: Any) -> Generator[Event, None, None]:
    """Chunks → our events, ending with exactly one `ResponseFinished`."""
    text: list[str] = []
    calls: dict[int, list[str]] = {}  # index -> [call id, name, arguments]
    response_id: str | None = None
    model = ""
    finish: str | None = None
    usage: Usage | None = None
    refusal: list[str] = []
    for chunk in stream:
        if response_id is None:
            response_id, model = chunk.id, chunk.model
            yield ResponseStarted(response_id=response_id, model=model)
            yield StatusChanged("in_progress")
        if chunk.usage is not None:
            usage = usage_of(chunk.usage)
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
                yield TextDelta(delta.content)
            if getattr(delta, "refusal", None):
                refusal.append(delta.refusal)
            for piece in delta.tool_calls or ():
                call = calls.setdefault(piece.index, ["", "", ""])
                if piece.id:
                    call[0] = piece.id
                if piece.function is not None:
                    name = piece.function.name or ""
                    # OpenAI names a call once; llama.cpp's server repeats the name in every
                    # delta, which must not be appended again.
                    if name and name != call[1]:
                        call[1] += name
                    call[2] += piece.function.arguments or ""
                    yield ToolCallDelta(call[0], call[1], piece.function.arguments or "")
            finish = choice.finish_reason or finish
    if usage is not None:
        yield UsageReported(usage)
    if finish is None:
        yield ResponseFinished(
            status="failed",
            text="".join(text),
            response_id=response_id,
            usage=usage,
            error="The stream ended before the answer finished.",
            model=model,
        )
        return
    requested = tuple(
        ToolCallRequested(call_id=c[0] or f"call_{i}", name=c[1], arguments=c[2] or "{}")
        for i, c in sorted(calls.items())
    )
    end = _finished(finish, "".join(text), requested, response_id, model, usage)
    yield replace(end, refusal="".join(refusal) or None)


def _translate_completion(completion: Any) -> Generator[Event, None, None]:
    """An unstreamed chat completion → the events its stream would have made."""
    yield ResponseStarted(response_id=completion.id, model=completion.model)
    yield StatusChanged("in_progress")
    usage = usage_of(completion.usage) if completion.usage is not None else None
    choice = completion.choices[0] if completion.choices else None
    text = (choice.message.content if choice else None) or ""
    if text:
        yield TextDelta(text)
    requested = _requested_calls(choice.message.tool_calls if choice else None)
    for call in requested:
        yield ToolCallDelta(call.call_id, call.name, call.arguments)
    if usage is not None:
        yield UsageReported(usage)
    if choice is None:
        yield ResponseFinished(
            status="failed",
            text="",
            response_id=completion.id,
            usage=usage,
            error="The server answered with no choice.",
            model=completion.model,
        )
        return
    # The whole answer is here: a server that names no finish reason finished all the same.
    finish = choice.finish_reason or "stop"
    end = _finished(finish, text, requested, completion.id, completion.model, usage)
    yield replace(end, refusal=getattr(choice.message, "refusal", None) or None)


def _requested_calls(calls: Iterable[Any] | None) -> tuple[ToolCallRequested, ...]:
    functions = [call for call in calls or () if getattr(call, "function", None) is not None]
    return tuple(
        ToolCallRequested(
            call_id=call.id or f"call_{i}",
            name=call.function.name or "",
            arguments=call.function.arguments or "{}",
        )
        for i, call in enumerate(functions)
    )


def _finished(
    finish: str,
    text: str,
    calls: tuple[ToolCallRequested, ...],
    response_id: str | None,
    model: str,
    usage: Usage | None,
) -> ResponseFinished:
    """How a response that ended with `finish` ends the ask."""
    status = FINISH_STATUS.get(finish, "completed")
    return ResponseFinished(
        status=status,  # type: ignore[arg-type]
        text=text,
        response_id=response_id,
        usage=usage,
        error="stopped early: max_output_tokens" if status == "incomplete" else None,
        model=model,
        tool_calls=calls,
    )


def usage_of(usage: Any) -> Usage:
    details = getattr(usage, "prompt_tokens_details", None)
    return Usage(
        input_tokens=usage.prompt_tokens or 0,
        output_tokens=usage.completion_tokens or 0,
        total_tokens=usage.total_tokens or 0,
        cached_tokens=(getattr(details, "cached_tokens", 0) or 0) if details else 0,
    )
