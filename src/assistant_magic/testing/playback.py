"""Playing the script for the APIs that answer as the model: the next reply, the model check.

Responses, Chat Completions and Assistants API runs each take the next scripted reply (the
default one when the script is empty) once a request passes their rules; a scripted
:class:`HttpError` is answered as the failure it describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .reply_context import ReplyContext
from .script import (
    REPLY_TYPES,
    HttpError,
    ReplyFactory,
    RunFailure,
    ScriptItem,
    Step,
    as_step,
)
from .state import ServerState
from .wire import ApiFailure, Event, missing_parameter, mistake_failure


@dataclass(frozen=True)
class PlaybackSettings:
    """``models``: accepted model ids (None: any). ``chunk_delay``: seconds before each streamed
    piece, unless a reply sets its own. ``check_event`` validates events that are generated
    without a client reading them (background responses, polled runs)."""

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
        raise missing_parameter("model")
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
            f"a reply factory returned {reply!r}, not Text, Refusal, ToolCalls, FunctionCall, "
            "CodeInterpreter, ImageGeneration, FileSearch, McpCall, RunFailure or HttpError"
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
