"""One row's request as each dialect sends it (unstreamed, outside any thread), and what came
back: the answer's text, a refusal, the usage.

The bodies are the dialects' own (`responses.request_params`, `chat.request_params`), so a row
asks exactly as an ask would, with the same schema; only the sending differs: an async client,
many at once (`running`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..dialects.interface import History, PastAsk, ResponseRequest
from ..errors import AssistantError
from ..events import Usage

if TYPE_CHECKING:
    import openai

    from ..answer_types import AnswerSchema
    from ..settings import Settings

#: The dialects a job can run on: a row needs a request that stands alone.
ROW_DIALECTS = ("responses", "chat")


@dataclass(frozen=True)
class Reply:
    """What the server answered to one request."""

    text: str
    refusal: str | None = None
    usage: Usage | None = None
    #: "completed", or why the answer is not whole ("incomplete: max_output_tokens").
    status: str = "completed"


@dataclass(frozen=True)
class RowRequest:
    """How every request of a job is made: the settings' model and options, the answer's
    schema, and the wire (the dialect, and for Chat Completions, whether the server takes a
    JSON schema)."""

    settings: Settings
    answer: AnswerSchema | None = None
    json_schema: bool = True

    def __post_init__(self) -> None:
        if self.settings.dialect not in ROW_DIALECTS:
            raise AssistantError(
                f"--each runs on the responses or chat dialect, not {self.settings.dialect}: "
                "a row is asked outside any thread (use --dialect responses or chat)."
            )

    @property
    def path(self) -> str:
        return "/responses" if self.settings.dialect == "responses" else "/chat/completions"

    def body(self, text: str, answer: AnswerSchema | None = None) -> dict[str, Any]:
        """The JSON body for a user message `text` (with `answer`, another schema than the
        job's: a group's)."""
        settings = self.settings
        request = ResponseRequest(
            model=settings.model,
            instructions=settings.instructions,
            remote_thread=None,
            user_text=text,
            history=History(PastAsk(text)),
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
            answer_format=answer or self.answer,
        )
        if settings.dialect == "responses":
            from ..dialects.responses import request_params

            body = request_params(request)
            body["stream"] = False
            body["store"] = False  # nothing to continue: the server need not keep it
            return body
        from ..dialects.chat import request_params as chat_params
        from ..dialects.chat_messages import fit_window

        messages = fit_window(request).messages
        return chat_params(request, messages, stream=False, json_schema=self.json_schema)

    def key(self, text: str) -> str:
        """What identifies a row's answer in the cache: everything that shapes it (the model,
        the options, the schema, the message), hashed. Not the server's address: as for replay
        keys, the same request answered through another URL (a notebook run elsewhere, from a
        recordings file) is the same answer."""
        settings = self.settings
        shaping = [
            settings.dialect,
            settings.model,
            settings.instructions,
            settings.temperature,
            settings.max_output_tokens,
            self.answer.schema if self.answer is not None else None,
            text,
        ]
        encoded = json.dumps(shaping, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(encoded.encode()).hexdigest()


async def send(client: openai.AsyncOpenAI, request: RowRequest, body: dict[str, Any]) -> Reply:
    """Send one body and read the reply (SDK errors pass through, for `running` to judge)."""
    if request.settings.dialect == "responses":
        from openai.types.responses import Response

        response = await client.post(request.path, body=body, cast_to=Response)
        return responses_reply(response)
    from openai.types.chat import ChatCompletion

    completion = await client.post(request.path, body=body, cast_to=ChatCompletion)
    return chat_reply(completion)


def responses_reply(response: Any) -> Reply:
    from ..dialects.responses_events import refusal_of, usage_of

    status = response.status or "completed"
    if status == "incomplete" and response.incomplete_details is not None:
        status = f"incomplete: {response.incomplete_details.reason}"
    elif status == "failed" and response.error is not None:
        status = f"failed: {response.error.message}"
    return Reply(response.output_text, refusal_of(response), usage_of(response.usage), status)


def chat_reply(completion: Any) -> Reply:
    from ..dialects.chat import usage_of

    usage = usage_of(completion.usage) if completion.usage is not None else None
    if not completion.choices:
        return Reply("", None, usage, "failed: the server answered with no choice")
    choice = completion.choices[0]
    status = "incomplete: max_output_tokens" if choice.finish_reason == "length" else "completed"
    message = choice.message
    return Reply(message.content or "", getattr(message, "refusal", None), usage, status)
