"""The Responses API: create (streamed, inline or in the background), retrieve, delete, cancel.

A create request passes the real API's rules in order (model, conversation or previous response,
tool calls and outputs pairing up: see ``input``; a ``text.format`` JSON schema fit for strict
mode: see ``structured``), then takes the next scripted reply. Rejected requests do not consume
one. A reply that calls tools the request did not allow is recorded as a mistake (see
``tool_choice``) but still answered.

Then the input's images and files must resolve (see ``attachments``), a ``code_interpreter``
tool must name existing containers and files (see ``resources.containers``) and a
``file_search`` tool existing vector stores (see ``resources.vector_stores``). A hosted tool reply
(``CodeInterpreter``, ``ImageGeneration``, ``FileSearch``) in a request that does not offer its
tool, or under ``tool_choice`` "none" or a forced function, is recorded as a mistake (see
``tool_choice``) and answered all the same; so is a ``FileSearch`` that finds or cites files its
stores do not make searchable (see ``search_plan``).

A ``McpCall`` reply plays against the request's ``mcp`` tool for its server (see ``mcp_plan``); one
whose server the request does not offer is recorded as a mistake and answered all the same. An
``mcp_approval_response`` in the input must answer an approval request of the context (else 400),
and a request answering one the server sent continues that step instead of taking a new reply.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from typing import Any

from ..attachments import attachments
from ..crud import Collection
from ..hosted_steps import CodeInterpreter, FileSearch, ImageGeneration, McpCall, hosted_tool
from ..items import Item
from ..mcp_plan import McpApproval, check_approvals, mcp_mistakes, plan_mcp, take_approval
from ..playback import PlaybackSettings, check_model, http_error_failure, take_reply
from ..reply_context import ReplyContext
from ..resources.containers import check_code_interpreter_tool, open_container
from ..resources.vector_stores import searched_stores
from ..routing import Routes
from ..script import HttpError, Step, ToolCalls
from ..search_plan import plan_search
from ..sse import HangUp
from ..state import Conversation, ServerState
from ..structured import check_format
from ..tool_choice import ToolChoice, find_tool
from ..wire import (
    Answer,
    ApiFailure,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    json_object,
    not_found,
    scripted_failure,
)
from .events import reply_events
from .file_search_events import file_search_events
from .hosted_tool_events import CodeRun, ImageRun, code_interpreter_events, image_generation_events
from .input import check_pairing, input_items
from .mcp_events import mcp_approval_events, mcp_call_events
from .response import Turn, initial_resource


class ResponsesApi:
    def __init__(self, state: ServerState, settings: PlaybackSettings) -> None:
        self.state = state
        self.settings = settings
        self.responses = Collection(
            state, "/responses/{response_id}", state.responses, _no_response, Turn.snapshot
        )

    def register(self, routes: Routes) -> None:
        self.responses.register(routes, create=self.create, retrieve=self.retrieve)
        routes.add("POST", "/responses/{response_id}/cancel", self.cancel)

    # -- create ----------------------------------------------------------------------------

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        check_model(self.settings.models, body.get("model"))
        conversation, context = self._context(body)
        items = input_items(body.get("input"))
        check_pairing([*context, *items])
        check_approvals(context, items)
        check_format(body)

        with self.state.lock:
            uploads = dict(self.state.files)
        seen = attachments(items, uploads)
        check_code_interpreter_tool(self.state, body)
        stores = searched_stores(self.state, body)

        context_for_reply = ReplyContext(body, items, context, seen.images, seen.files, stores)
        # An answer to an approval request continues the step that asked; else the next reply.
        reply: Step | McpApproval = take_approval(self.state, items) or take_reply(
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

    def _check_tool_use(self, body: Mapping[str, Any], reply: Step | McpApproval) -> None:
        """Record a reply that uses what the request did not allow (answered all the same)."""
        choice = ToolChoice.of(body)
        step = reply.call if isinstance(reply, McpApproval) else reply
        hosted = hosted_tool(step)
        if isinstance(step, McpCall):
            mistakes = mcp_mistakes(choice, body, step)
        elif hosted is not None:
            mistakes = choice.hosted_mistakes(hosted)
        else:
            mistakes = choice.reply_mistakes(step.calls if isinstance(step, ToolCalls) else None)
        self.state.report([*choice.request_mistakes(), *mistakes])

    def _generator(
        self,
        body: Mapping[str, Any],
        context: ReplyContext,
        reply: Step | McpApproval,
        delay: float,
    ) -> Callable[[Turn], Generator[Event, None, None]]:
        """How the turn's events are made; hosted tools are prepared here (a container opened)."""
        include = body.get("include")
        if isinstance(reply, McpApproval):
            return lambda turn: mcp_approval_events(turn, reply, delay=delay)
        if isinstance(reply, McpCall):
            seen = [*context.history, *context.input_items]
            mcp, mistakes = plan_mcp(reply, body, seen)
            self.state.report(mistakes)
            return lambda turn: mcp_call_events(turn, mcp, delay=delay)
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

    # -- retrieve, cancel (delete is the collection's) -------------------------------------

    def retrieve(self, request: RecordedRequest) -> Answer:
        if request.query.get("stream", "").lower() == "true":
            raise scripted_failure(400, "resuming a stream with GET ?stream=true is not supported.")
        return self.responses.retrieve(request)

    def cancel(self, request: RecordedRequest) -> Answer:
        turn = self.responses.find(request)
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


def _no_response(request: RecordedRequest) -> ApiFailure:
    return not_found("Response", request.param("response_id"))


def _conversation_id(reference: object) -> str:
    if isinstance(reference, Mapping):
        return str(reference.get("id"))
    return str(reference)
