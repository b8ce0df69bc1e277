"""Chat Completions: ``POST /v1/chat/completions``, streamed or not, from the same script.

The dialect of self-hosted servers (Ollama, vLLM, llama.cpp, LM Studio): nothing is stored, every
request carries the whole thread as ``messages``. A request passes the real API's rules in order,
then takes the next scripted reply; rejected requests do not consume one:

* the model is given (``you must provide a model parameter``) and known (404
  ``model_not_found`` as for responses);
* the messages pair up: see ``items`` for those rules and their messages;
* ``tool_choice`` (other than "none") and ``parallel_tool_calls`` need ``tools``:
  ``Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.``
  (and likewise for ``parallel_tool_calls``; the real API's words);
* ``stream_options`` needs ``stream: true``: ``The 'stream_options' parameter is only allowed when
  'stream' is enabled.`` (the real API's words);
* a ``response_format`` JSON schema has a fit name and, with ``strict: true``, a schema fit for
  strict mode (see ``structured``, the real API's words);
* images and files in the messages resolve (see ``attachments``);
* ``n`` above 1 is refused (``[scripted server]``: one script, one choice).

The reply is played as chunks (see ``events``). ``Text``, ``Refusal`` and
``ToolCalls``/``FunctionCall`` work as for responses, and so do the checks of calls against
``tools`` and ``tool_choice`` (``tool_choice``; recorded in ``validation_errors``, answered all
the same). Hosted tool steps (``CodeInterpreter``, ``ImageGeneration``, ``FileSearch``) do not
exist in this dialect: one scripted for a chat request is recorded as a mistake and answered with
a 500 the SDK does not retry. ``HttpError`` answers as for responses.

Like llama-cpp-python's server with ``--chat_format chatml-function-calling``, the API can fail
to stream a request that offers tools with ``tool_choice: "auto"`` (``AutoToolStreams``): after
the 200 the stream ends, or is cut, before its first chunk. Such a request takes no scripted
reply and accepts no tool output, so the client's next request (unstreamed, say) plays them.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any, Literal, TypeAlias, get_args

from ..hosted_steps import hosted_tool
from ..playback import PlaybackSettings, check_model, http_error_failure, take_reply
from ..reply_context import ReplyContext
from ..routing import Routes
from ..script import HttpError, Refusal, Step, Text, ToolCalls
from ..sse import HangUp
from ..state import ServerState
from ..structured import check_format
from ..tool_choice import ToolChoice
from ..wire import (
    Answer,
    ApiFailure,
    Dropped,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    json_object,
    mistake_failure,
    scripted_failure,
)
from .events import ChatRun, chat_chunks, chat_completion, no_chunks
from .items import ChatThread, chat_rejection, check_messages, missing_model, read_thread

ENDPOINT = "/v1/chat/completions"

#: How a streamed request offering tools with ``tool_choice: "auto"`` is answered: "streamed"
#: as any other; "empty": the stream ends at once, before any chunk; "cut": the connection
#: closes before any chunk.
AutoToolStreams: TypeAlias = Literal["streamed", "empty", "cut"]


class ChatApi:
    def __init__(
        self,
        state: ServerState,
        settings: PlaybackSettings,
        *,
        auto_tool_streams: AutoToolStreams = "streamed",
    ) -> None:
        if auto_tool_streams not in get_args(AutoToolStreams):
            raise ValueError(f"auto_tool_streams must be one of {get_args(AutoToolStreams)}")
        self.state = state
        self.settings = settings
        self.auto_tool_streams = auto_tool_streams

    def register(self, routes: Routes) -> None:
        routes.add("POST", "/chat/completions", self.create, rejection=chat_rejection)

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        if not body.get("model"):
            raise missing_model()
        check_model(self.settings.models, body.get("model"))
        messages = check_messages(body.get("messages"))
        _check_options(body)
        check_format(body)
        with self.state.lock:
            uploads = dict(self.state.files)
        thread = read_thread(messages, uploads)
        if self._cannot_stream(body):
            return EventStream(
                no_chunks(cut=self.auto_tool_streams == "cut"), lambda: None, dialect="chat"
            )

        context = ReplyContext(
            body, thread.input_items, thread.history, thread.images, thread.files
        )
        reply = take_reply(self.state, self.settings.default_reply, context, ENDPOINT)
        reply = self._playable(body, reply)
        self.state.accepted(thread.input_items)
        delay = reply.chunk_delay if reply.chunk_delay is not None else self.settings.chunk_delay
        return self._answer(body, thread, reply, delay)

    def _cannot_stream(self, body: Mapping[str, Any]) -> bool:
        """Whether this is a stream the server fails to make (see ``AutoToolStreams``).

        Only an explicit "auto" fails, as on llama-cpp-python's server, which ignores the
        tools of a request that names no ``tool_choice``.
        """
        if self.auto_tool_streams == "streamed" or not body.get("stream"):
            return False
        return bool(body.get("tools")) and body.get("tool_choice") == "auto"

    def _playable(self, body: Mapping[str, Any], reply: Step) -> Text | ToolCalls | Refusal:
        """The reply if this dialect can play it; tool use the request did not allow is recorded."""
        if isinstance(reply, HttpError):
            raise http_error_failure(reply)
        if not isinstance(reply, (Text, ToolCalls, Refusal)):
            problem = (
                f"scripted reply to POST {ENDPOINT} is a {type(reply).__name__} step, but Chat "
                f"Completions has no hosted tools ({hosted_tool(reply)}): script it for "
                "POST /v1/responses only"
            )
            self.state.report([problem])
            raise mistake_failure(problem)
        choice = ToolChoice.of(body, endpoint=ENDPOINT)
        calls = reply.calls if isinstance(reply, ToolCalls) else None
        self.state.report([*choice.request_mistakes(), *choice.reply_mistakes(calls)])
        return reply

    def _answer(
        self,
        body: Mapping[str, Any],
        thread: ChatThread,
        reply: Text | ToolCalls | Refusal,
        delay: float,
    ) -> Answer:
        run = ChatRun.of(body, thread.prompt_words)
        chunks = chat_chunks(run, reply, delay=delay)
        if body.get("stream"):
            return EventStream(
                chunks, on_disconnect=lambda: self._client_gone(run, chunks), dialect="chat"
            )
        try:
            return JsonAnswer(chat_completion(run, chunks))
        except HangUp:
            return Dropped()

    def _client_gone(self, run: ChatRun, chunks: Generator[Event, None, None]) -> None:
        chunks.close()
        with self.state.lock:
            self.state.disconnects.append(run.id)
            self.state.changed()


def _check_options(body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    has_tools = isinstance(tools, list) and bool(tools)
    choice = body.get("tool_choice")
    if choice is not None and choice != "none" and not has_tools:
        raise _only_with_tools("tool_choice")
    if body.get("parallel_tool_calls") is not None and not has_tools:
        raise _only_with_tools("parallel_tool_calls")
    if body.get("stream_options") is not None and not body.get("stream"):
        raise ApiFailure(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    choices = body.get("n")
    if isinstance(choices, int) and choices > 1:
        raise scripted_failure(
            400, f"n={choices}: the scripted server makes one choice per request.", param="n"
        )


def _only_with_tools(name: str) -> ApiFailure:
    return ApiFailure(
        400,
        f"Invalid value for '{name}': '{name}' is only allowed when 'tools' are specified.",
        param=name,
    )
