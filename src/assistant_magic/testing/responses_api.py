"""The Responses API: create (streamed, inline or in the background), retrieve, delete, cancel.

A create request passes the real API's rules in order (model, conversation or previous response,
tool calls and outputs pairing up), then takes the next scripted reply. Rejected requests do not
consume one. A reply that calls tools the request did not allow is recorded as a mistake (see
``tool_choice``) but still answered.

The item rules, over the context (conversation items or the previous response's transcript) plus
the new input, each a 400 with ``param: "input"``:

* an item id twice (typically a ``function_call`` re-sent with its output although the context
  holds it): ``Duplicate item found with id <id>. Remove duplicate items from your input and try
  again.`` (the real API's words);
* a tool output whose ``call_id`` matches no call:
  ``No tool call found for function call output with call_id <id>.`` (the real API's words);
* a second output for one call: ``[scripted server] Duplicate function_call_output for call_id
  <id>: each function_call takes exactly one output.`` (our words: the real one is unverified);
* a call with no output: ``No tool output found for function call <id>.`` (the real API's words).

Then the input's images and files must resolve (see ``attachments``), a ``code_interpreter``
tool must name existing containers and files (see ``containers_api``) and a ``file_search`` tool
existing vector stores (see ``vector_stores_api``). A hosted tool reply (``CodeInterpreter``,
``ImageGeneration``, ``FileSearch``) in a request that does not offer its tool, or under
``tool_choice`` "none" or a forced function, is recorded as a mistake (see ``tool_choice``) and
answered all the same; so is a ``FileSearch`` that finds or cites files its stores do not make
searchable (see ``file_search``).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .attachments import attachments
from .containers_api import check_code_interpreter_tool, open_container
from .file_search import file_search_events, plan_search
from .hosted_tool_events import CodeRun, ImageRun, code_interpreter_events, image_generation_events
from .items import (
    Item,
    input_items,
    orphan_output,
    repeated_id,
    repeated_output,
    unanswered_call,
)
from .response_events import initial_resource, reply_events
from .routing import Router
from .script import (
    REPLY_TYPES,
    CodeInterpreter,
    FileSearch,
    HttpError,
    ImageGeneration,
    ReplyContext,
    ReplyFactory,
    RunFailure,
    ScriptItem,
    Step,
    ToolCalls,
    as_step,
    hosted_tool,
)
from .sse import HangUp
from .state import Conversation, ServerState
from .tool_choice import ToolChoice, find_tool
from .turns import Turn
from .vector_stores_api import searched_stores
from .wire import (
    Answer,
    ApiFailure,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    mistake_failure,
    not_found,
    scripted_failure,
)


@dataclass(frozen=True)
class ResponsesSettings:
    """``models``: accepted model ids (None: any). ``check_event`` validates events that are
    generated without a client reading them (background turns)."""

    models: frozenset[str] | None
    chunk_delay: float
    default_reply: ReplyFactory
    check_event: Callable[[Event], None]


def model_not_found(model: str) -> ApiFailure:
    return ApiFailure(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def check_model(models: frozenset[str] | None, model: object) -> None:
    """The request names a model the server knows (any, when ``models`` is None)."""
    if not model:
        raise ApiFailure(
            400,
            "Missing required parameter: 'model'.",
            param="model",
            code="missing_required_parameter",
        )
    if models is not None and model not in models:
        raise model_not_found(str(model))


def next_reply(
    state: ServerState, default_reply: ReplyFactory, context: ReplyContext
) -> Step | RunFailure:
    """The next scripted reply (the default one when the script is empty), as played."""
    with state.lock:
        scripted: ScriptItem | None = state.script.popleft() if state.script else None
    item = scripted if scripted is not None else default_reply
    reply = item if isinstance(item, REPLY_TYPES) else item(context)
    if not isinstance(reply, REPLY_TYPES):
        raise TypeError(
            f"a reply factory returned {reply!r}, not Text, ToolCalls, FunctionCall, "
            "CodeInterpreter, ImageGeneration, FileSearch, RunFailure or HttpError"
        )
    return reply if isinstance(reply, RunFailure) else as_step(reply)


def take_reply(
    state: ServerState, default_reply: ReplyFactory, context: ReplyContext, endpoint: str
) -> Step:
    """The next reply for a request that is not an Assistants run (which alone plays
    `RunFailure`: one scripted here is recorded as a mistake and answered with a 500)."""
    reply = next_reply(state, default_reply, context)
    if not isinstance(reply, RunFailure):
        return reply
    problem = (
        f"scripted reply to POST {endpoint} is {reply!r}, which ends an Assistants API run: "
        "script it for runs only"
    )
    state.report([problem])
    raise mistake_failure(problem)


def http_error_failure(reply: HttpError) -> ApiFailure:
    """A scripted :class:`HttpError` as the failure the server answers with."""
    return ApiFailure(
        reply.status,
        reply.error_message(),
        type=reply.error_type(),
        param=reply.param,
        code=reply.error_code(),
        headers=reply.response_headers(),
    )


class ResponsesApi:
    def __init__(self, state: ServerState, settings: ResponsesSettings) -> None:
        self.state = state
        self.settings = settings

    def register(self, router: Router) -> None:
        router.add("POST", "/responses", self.create)
        router.add("GET", "/responses/{response_id}", self.retrieve)
        router.add("DELETE", "/responses/{response_id}", self.delete)
        router.add("POST", "/responses/{response_id}/cancel", self.cancel)

    # -- create ----------------------------------------------------------------------------

    def create(self, request: RecordedRequest) -> Answer:
        body = request.body if isinstance(request.body, dict) else {}
        self._check_model(body.get("model"))
        conversation, context = self._context(body)
        items = input_items(body.get("input"))
        self._check_items([*context, *items])

        with self.state.lock:
            uploads = dict(self.state.files)
        seen = attachments(items, uploads)
        check_code_interpreter_tool(self.state, body)
        stores = searched_stores(self.state, body)

        context_for_reply = ReplyContext(body, items, context, seen.images, seen.files, stores)
        reply = take_reply(
            self.state, self.settings.default_reply, context_for_reply, "/v1/responses"
        )
        if isinstance(reply, HttpError):
            raise http_error_failure(reply)
        self._check_tool_use(body, reply)
        delay = reply.chunk_delay if reply.chunk_delay is not None else self.settings.chunk_delay
        generate = self._generator(body, context_for_reply, reply, delay)

        turn = self._start_turn(body, conversation, context, items)
        events = _until_cancelled(turn, generate(turn))
        if body.get("stream"):
            return EventStream(events, on_disconnect=lambda: self._client_gone(turn, events))
        if turn.background:
            self.settings.check_event(next(events))  # response.created sets the queued status
            answer = JsonAnswer(turn.snapshot())  # before the drain moves it on
            self._drain_in_background(events)
            return answer
        self._drain(events)
        return JsonAnswer(turn.snapshot())

    def _drain(self, events: Iterator[Event]) -> None:
        # A hang-up only drops a stream; without one, the response simply ends failed.
        with contextlib.suppress(HangUp):
            for event in events:
                self.settings.check_event(event)

    def _check_model(self, model: object) -> None:
        check_model(self.settings.models, model)

    def _context(self, body: Mapping[str, Any]) -> tuple[Conversation | None, list[Item]]:
        """The conversation this turn joins (if any) and the items the model sees before it."""
        conversation_ref = body.get("conversation")
        previous = body.get("previous_response_id")
        if conversation_ref and previous:
            raise ApiFailure(
                400,
                "Mutually exclusive parameters: Ensure you are only providing one of: "
                "'previous_response_id' or 'conversation'.",
                code="mutually_exclusive_parameters",
            )
        with self.state.lock:
            if conversation_ref:
                conversation_id = _conversation_id(conversation_ref)
                conversation = self.state.conversations.get(conversation_id)
                if conversation is None:
                    raise not_found("Conversation", conversation_id, param="conversation")
                return conversation, copy.deepcopy(conversation.items)
            if previous:
                earlier = self.state.responses.get(str(previous))
                if earlier is None:
                    raise not_found(
                        "Previous response", str(previous), param="previous_response_id"
                    )
                return None, earlier.transcript()
        return None, []

    @staticmethod
    def _check_items(items: list[Item]) -> None:
        """No item twice; every tool call in the context answered exactly once, no stray answers."""
        item_id = repeated_id(items)
        if item_id is not None:
            message = (
                f"Duplicate item found with id {item_id}. Remove duplicate items from your input "
                "and try again."
            )
            raise ApiFailure(400, message, param="input")
        call_id = orphan_output(items)
        if call_id is not None:
            message = f"No tool call found for function call output with call_id {call_id}."
            raise ApiFailure(400, message, param="input")
        call_id = repeated_output(items)
        if call_id is not None:
            message = (
                f"Duplicate function_call_output for call_id {call_id}: each function_call "
                "takes exactly one output."
            )
            raise scripted_failure(400, message, param="input")
        call_id = unanswered_call(items)
        if call_id is not None:
            message = f"No tool output found for function call {call_id}."
            raise ApiFailure(400, message, param="input")

    def _check_tool_use(self, body: Mapping[str, Any], reply: Step) -> None:
        """Record a reply that uses what the request did not allow (answered all the same)."""
        choice = ToolChoice.of(body)
        hosted = hosted_tool(reply)
        if hosted is not None:
            mistakes = choice.hosted_mistakes(hosted)
        else:
            mistakes = choice.reply_mistakes(reply.calls if isinstance(reply, ToolCalls) else None)
        self.state.report([*choice.request_mistakes(), *mistakes])

    def _generator(
        self, body: Mapping[str, Any], context: ReplyContext, reply: Step, delay: float
    ) -> Callable[[Turn], Generator[Event, None, None]]:
        """How the turn's events are made; hosted tools are prepared here (a container opened)."""
        include = body.get("include")
        if isinstance(reply, CodeInterpreter):
            wanted = isinstance(include, list) and "code_interpreter_call.outputs" in include
            run = CodeRun(open_container(self.state, body, context.history), wanted)
            return lambda turn: code_interpreter_events(turn, reply, run, delay=delay)
        if isinstance(reply, ImageGeneration):
            found = find_tool(body, "image_generation")
            tool = found[1] if found else {}
            image = ImageRun(tool, context.last_user_text or "")
            return lambda turn: image_generation_events(turn, reply, image, delay=delay)
        if isinstance(reply, FileSearch):
            found = find_tool(body, "file_search")
            wanted = isinstance(include, list) and "file_search_call.results" in include
            plan, mistakes = plan_search(
                reply, context, found[1] if found else {}, include_results=wanted
            )
            self.state.report(mistakes)
            return lambda turn: file_search_events(turn, reply, plan, delay=delay)
        if isinstance(reply, HttpError):
            raise http_error_failure(reply)
        return lambda turn: reply_events(turn, reply, delay=delay)

    def _start_turn(
        self,
        body: Mapping[str, Any],
        conversation: Conversation | None,
        context: list[Item],
        items: list[Item],
    ) -> Turn:
        resource = initial_resource(body, conversation_id=conversation.id if conversation else None)
        turn = Turn(
            self.state,
            resource,
            conversation=conversation,
            context_items=context,
            input_items=items,
        )
        turn.begin()
        if body.get("store") is not False or turn.background:
            with self.state.lock:
                self.state.responses[turn.id] = turn
        return turn

    def _client_gone(self, turn: Turn, events: Generator[Event, None, None]) -> None:
        """A streaming client hung up. Background turns carry on, as on the real service."""
        if turn.background:
            with self.state.lock:
                self.state.disconnects.append(turn.id)
                self.state.changed()
            self._drain_in_background(events)
        else:
            events.close()
            turn.abandon()

    def _drain_in_background(self, events: Iterator[Event]) -> None:
        threading.Thread(
            target=self._drain, args=(events,), name="scripted-background-turn", daemon=True
        ).start()

    # -- retrieve, delete, cancel ----------------------------------------------------------

    def _turn(self, request: RecordedRequest) -> Turn:
        response_id = request.param("response_id")
        with self.state.lock:
            turn = self.state.responses.get(response_id)
        if turn is None:
            raise not_found("Response", response_id)
        return turn

    def retrieve(self, request: RecordedRequest) -> Answer:
        if request.query.get("stream", "").lower() == "true":
            raise scripted_failure(400, "resuming a stream with GET ?stream=true is not supported.")
        return JsonAnswer(self._turn(request).snapshot())

    def delete(self, request: RecordedRequest) -> Answer:
        turn = self._turn(request)
        with self.state.lock:
            self.state.responses.pop(turn.id, None)
            self.state.changed()
        return JsonAnswer({"id": turn.id, "object": "response.deleted", "deleted": True})

    def cancel(self, request: RecordedRequest) -> Answer:
        turn = self._turn(request)
        if not turn.background:
            raise ApiFailure(400, "Only responses created with background=true can be cancelled.")
        if turn.is_final and turn.status != "cancelled":
            raise ApiFailure(400, f"Cannot cancel a response with status '{turn.status}'.")
        turn.cancel()
        return JsonAnswer(turn.snapshot())


def _until_cancelled(
    turn: Turn, events: Generator[Event, None, None]
) -> Generator[Event, None, None]:
    """Stop pulling once the turn was cancelled from outside: the stream simply ends."""
    try:
        for event in events:
            if turn.status == "cancelled":
                return
            yield event
    finally:
        events.close()


def _conversation_id(reference: object) -> str:
    if isinstance(reference, Mapping):
        return str(reference.get("id"))
    return str(reference)
