"""The Responses API dialect: the thread is a server-side Conversation.

One ask is one streamed ``POST /responses`` on the conversation. The seed's run statuses map
onto the response's ``status`` (queued, in_progress, completed, failed, incomplete, cancelled).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..events import (
    Event,
)
from .files import SdkFiles
from .interface import UNRUN_OUTPUT, ApprovalAnswer, RemoteThread, ResponseRequest, ToolOutput
from .openai_sdk import api_errors, dialect_offered, raise_api_error
from .responses_events import sdk_events, translate
from .responses_mcp import Listed, approval_item

if TYPE_CHECKING:
    from ..answer_types import AnswerSchema
    from ..mcp_servers.hosted import HostedMcp
    from ..settings import Settings
    from ..tools import ToolSchema

#: Settling a thread reads its newest items in pages of this size, and at most this many.
SETTLE_PAGE, SETTLE_LIMIT = 100, 1000
#: Longest wait, in seconds, for a response the client left to end before settling its thread.
SETTLE_WAIT = 10.0
#: Items a conversation takes per request (at its creation, and added after).
SEED_PAGE = 20


class ResponsesDialect(SdkFiles):
    """The Responses API on a server-side Conversation; files and vector stores too."""

    name: ClassVar[str] = "responses"
    uploads_images: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        #: What hosted MCP servers' tool lists said, kept for the kernel's life: a conversation
        #: lists a server's tools only at its first use.
        self.mcp_listed: Listed = {}

    def create_thread(self, first: ResponseRequest) -> RemoteThread:
        with dialect_offered(self.settings, "responses", "/conversations"):
            conversation = self.client.conversations.create(
                metadata={"created_by": "assistant_magic"}
            )
        return RemoteThread(conversation.id)

    def seed_thread(self, first: ResponseRequest, items: list[dict[str, Any]]) -> RemoteThread:
        """A conversation that already holds `items` (a thread replayed so far, going live)."""
        with dialect_offered(self.settings, "responses", "/conversations"):
            conversation = self.client.conversations.create(
                metadata={"created_by": "assistant_magic"},
                items=items[:SEED_PAGE],  # type: ignore[arg-type]
            )
            for start in range(SEED_PAGE, len(items), SEED_PAGE):
                self.client.conversations.items.create(
                    conversation.id,
                    items=items[start : start + SEED_PAGE],  # type: ignore[arg-type]
                )
        return RemoteThread(conversation.id)

    def delete_thread(self, remote: RemoteThread) -> None:
        with api_errors(self.settings, missing_ok=True):
            self.client.conversations.delete(remote.id)

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        return [("POST /responses", request_params(request))]

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        from openai.types.responses import Response

        with api_errors(self.settings):
            # Events arrive as dicts (`object`): `sdk_events` builds the SDK's models only for
            # the few that need them, not for every delta.
            stream = self.post("/responses", request_params(request), Response, object)
        events = translate(sdk_events(stream), self._container_file, self.mcp_listed)
        yield from self.read(stream, events)

    def _container_file(self, container_id: str, file_id: str) -> bytes:
        content = self.client.containers.files.content.retrieve(file_id, container_id=container_id)
        return bytes(content.content)

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        if last_response:
            self._wait_until_ended(last_response)
        # The conversation, not the stream, says which calls it holds: a server may keep a
        # call the client never saw finish, or drop one it saw announced.
        open_calls, open_approvals = self._open_calls(remote.id)
        if not open_calls and not open_approvals:
            return []
        answers = [ToolOutput(call, outputs.get(call, UNRUN_OUTPUT)) for call in open_calls]
        # An approval the user never gave is a call not made.
        denials = [ApprovalAnswer(request, approve=False) for request in open_approvals]
        items = [_output_item(answer) for answer in answers]
        items += [approval_item(denial) for denial in denials]
        with api_errors(self.settings):
            self.client.conversations.items.create(remote.id, items=items)  # type: ignore[arg-type]
        done = [
            f"answered {count} {what}{'s' if count > 1 else ''} the last ask left open"
            for count, what in (
                (len(answers), "tool call"),
                (len(denials), "MCP approval request"),
            )
            if count
        ]
        return [f"{' and '.join(done)}, so the conversation takes this ask"]

    def _wait_until_ended(self, response_id: str) -> None:
        """Give a response the client left a moment to end: until it has, the server may
        still add its items to the conversation."""
        import openai

        deadline, wait = time.monotonic() + SETTLE_WAIT, 0.05
        while True:
            try:
                response = self.client.responses.retrieve(response_id)
            except openai.NotFoundError:
                return  # not stored: nothing more will come of it
            except openai.OpenAIError as exc:
                raise_api_error(exc, self.settings)
            if response.status not in ("queued", "in_progress") or time.monotonic() > deadline:
                return
            time.sleep(wait)
            wait = min(wait * 2, 1.0)

    def _open_calls(self, conversation_id: str) -> tuple[list[str], list[str]]:
        """Call ids of the conversation's function calls that have no output, and ids of its
        MCP approval requests that have no answer, oldest first.

        Read newest first, back to the latest user message: every call before it was answered,
        or the server would not have taken that message.
        """
        answered: set[str] = set()
        open_calls: list[str] = []
        open_approvals: list[str] = []
        with api_errors(self.settings):
            items = self.client.conversations.items.list(
                conversation_id, order="desc", limit=SETTLE_PAGE
            )
            for item in itertools.islice(items, SETTLE_LIMIT):
                if item.type == "message" and getattr(item, "role", None) == "user":
                    break
                if item.type == "function_call_output" and item.call_id:
                    answered.add(item.call_id)
                elif item.type == "function_call" and item.call_id not in answered:
                    open_calls.append(item.call_id)
                elif item.type == "mcp_approval_response":
                    answered.add(item.approval_request_id)
                elif item.type == "mcp_approval_request" and item.id not in answered:
                    open_approvals.append(item.id)
        return open_calls[::-1], open_approvals[::-1]

    def cancel(self, response_id: str) -> None:
        # Only background responses can be cancelled, and asks here are not: closing the
        # stream is what stops one.
        pass


def request_params(request: ResponseRequest) -> dict[str, Any]:
    """The body of ``POST /responses`` for one request of an ask."""
    items: list[dict[str, Any]] = [_output_item(o) for o in request.tool_outputs]
    items += [approval_item(answer) for answer in request.approvals]
    if request.user_text is not None:
        items.append(_user_message(request))
    params: dict[str, Any] = {"model": request.model, "input": items, "stream": True}
    if request.instructions:
        params["instructions"] = request.instructions
    if request.max_output_tokens:
        params["max_output_tokens"] = request.max_output_tokens
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.remote_thread:
        params["conversation"] = request.remote_thread.id
    if request.answer_format is not None:
        params["text"] = {"format": answer_format(request.answer_format)}
    tools = [_function_tool(schema) for schema in request.tools]
    tools += [_hosted_tool(name, request) for name in request.hosted_tools]
    tools += [server.tool() for server in request.mcp_servers]
    if tools:
        params["tools"] = tools
        params["tool_choice"] = _tool_choice(request.tool_choice, request.mcp_servers)
    return params


def answer_format(answer: AnswerSchema) -> dict[str, Any]:
    """A typed ask's ``text.format``: Structured Outputs."""
    return {
        "type": "json_schema",
        "name": answer.name,
        "schema": answer.schema,
        "strict": answer.strict,
    }


def _user_message(request: ResponseRequest) -> dict[str, Any]:
    text = request.user_text or ""
    # A file goes where a hosted tool reads it (the sandbox, the vector store), else inline.
    sandbox = "code_interpreter" in request.hosted_tools
    search = "file_search" in request.hosted_tools
    files = [f for f in request.files if not sandbox and not (search and f.searchable)]
    if not request.images and not files:
        return {"type": "message", "role": "user", "content": text}
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": text}]
    parts += [
        {"type": "input_image", "image_url": image.data_url(), "detail": "auto"}
        for image in request.images
    ]
    parts += [{"type": "input_file", "file_id": f.file_id} for f in files]
    return {"type": "message", "role": "user", "content": parts}


def _hosted_tool(name: str, request: ResponseRequest) -> dict[str, Any]:
    if name == "code_interpreter":
        # Attached files go into the sandbox, where the model's code can open them.
        container: dict[str, Any] = {"type": "auto"}
        if request.files:
            container["file_ids"] = [f.file_id for f in request.files]
        return {"type": "code_interpreter", "container": container}
    if name == "image_generation":
        tool: dict[str, Any] = {"type": "image_generation"}
        if request.partial_images:
            tool["partial_images"] = request.partial_images
        return tool
    if name == "file_search":
        return {"type": "file_search", "vector_store_ids": list(request.vector_store_ids)}
    raise ValueError(f"unknown hosted tool {name!r}")


def _function_tool(schema: ToolSchema) -> dict[str, Any]:
    return {
        "type": "function",
        "name": schema.name,
        "description": schema.description,
        "parameters": schema.parameters,
        "strict": schema.strict,
    }


def _tool_choice(choice: str, hosted: Sequence[HostedMcp] = ()) -> str | dict[str, str]:
    if choice in ("auto", "none", "required"):
        return choice
    for server in hosted:  # a hosted MCP server, or one of its tools (SERVER__TOOL)
        if choice == server.label:
            return {"type": "mcp", "server_label": server.label}
        if choice.startswith(f"{server.label}__"):
            return {"type": "mcp", "server_label": server.label, "name": choice.split("__", 1)[1]}
    return {"type": "function", "name": choice}


def _output_item(output: ToolOutput) -> dict[str, Any]:
    if not output.images:
        return {"type": "function_call_output", "call_id": output.call_id, "output": output.output}
    # A tool that returned a picture: the model sees the picture itself, and the text beside it.
    parts: list[dict[str, Any]] = [{"type": "input_text", "text": output.output}]
    parts += [
        {"type": "input_image", "image_url": image.data_url(), "detail": "auto"}
        for image in output.images
    ]
    return {"type": "function_call_output", "call_id": output.call_id, "output": parts}
