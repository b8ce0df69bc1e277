"""The legacy Assistants API dialect: an assistant, a thread, and one run per ask.

This is the seed article's flow. OpenAI turned the API off on 2026-08-26; servers that
reimplement it remain, and so do notebooks and assistant ids built on it:

* the thread's first ask creates an assistant from the configuration (model, instructions,
  tools), or uses the one named by ``--assistant-id``, and creates a thread;
* each ask adds a user message and creates a run, streamed where the server streams runs and
  polled with backoff where it does not; the run's statuses and steps go to the view as they come;
* ``requires_action`` ends a model step with its tool calls; the rounds run them and the next
  request submits every output to the waiting run in one ``submit_tool_outputs``;
* the run's messages come back as text (annotations rendered as notes) and ``image_file``
  content, fetched from the Files API (reading a run: `assistant_runs`; what it wrote:
  `assistant_messages`).

A run with an unanswered ``requires_action`` or still generating blocks the thread, so
interrupting cancels it and waits until the server says it is cancelled.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from ..errors import ApiError
from ..events import Event, Notice
from .assistant_runs import ACTIVE, NotStreamed, RunReading

# The Assistants API describes functions, and a forced one, as Chat Completions does.
from .chat import function_tool, json_schema_format, tool_choice
from .interface import RemoteThread, ResponseRequest, ToolOutput
from .openai_sdk import api_errors, dialect_offered, raise_api_error

# Using this API is the point of this module; the SDK's deprecation notices are for new code.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

#: What the Assistants API calls the hosted tools it has (it has no image generation).
HOSTED_TOOLS = ("code_interpreter", "file_search")
#: The API refuses a smaller ``max_completion_tokens``.
MIN_COMPLETION_TOKENS = 256
#: Who made the assistants and threads this package creates (visible in the server's listings).
METADATA = {"created_by": "assistant_magic"}


class AssistantsDialect(RunReading):
    """The legacy Assistants API: an assistant, a thread and a run per ask; files too."""

    name: ClassVar[str] = "assistants"
    uploads_images: ClassVar[bool] = True

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self._assistant_tools: dict[str, list[dict[str, Any]]] = {}  # reused assistants' own
        self._streams_runs = True  # until the server shows it does not stream runs

    # -- threads -------------------------------------------------------------------------------

    def create_thread(self, first: ResponseRequest) -> RemoteThread:
        assistant_id = self.settings.assistant_id
        owned = not assistant_id
        if owned:
            with dialect_offered(self.settings, "assistants", "/assistants"):
                assistant = self.client.beta.assistants.create(
                    model=first.model,
                    name="assistant_magic",
                    instructions=first.instructions or None,
                    tools=_tools(first, ()),  # type: ignore[arg-type]
                    metadata=METADATA,
                )
            assistant_id = assistant.id
        else:
            self._reused_tools(assistant_id)  # a wrong id fails here, before a thread is made
        with api_errors(self.settings):
            thread = self.client.beta.threads.create(metadata=METADATA)
        return RemoteThread(thread.id, assistant_id, owns_assistant=owned)

    def seed_thread(self, first: ResponseRequest, items: list[dict[str, Any]]) -> RemoteThread:
        """A thread that already holds `items` (a thread replayed so far, going live): its
        messages; tool calls and their outputs, which a thread's messages cannot hold as such,
        as the assistant's text."""
        remote = self.create_thread(first)
        for role, text in _seed_messages(items):
            with api_errors(self.settings):
                self.client.beta.threads.messages.create(remote.id, role=role, content=text)  # type: ignore[arg-type]
        return remote

    def delete_thread(self, remote: RemoteThread) -> None:
        with api_errors(self.settings, missing_ok=True):
            self.client.beta.threads.delete(remote.id)
        if remote.owns_assistant and remote.assistant_id:
            with api_errors(self.settings, missing_ok=True):
                self.client.beta.assistants.delete(remote.assistant_id)

    def _reused_tools(self, assistant_id: str) -> list[dict[str, Any]]:
        """The tools an assistant this package did not make already has (kept on each run)."""
        if assistant_id not in self._assistant_tools:
            try:
                with api_errors(self.settings):
                    assistant = self.client.beta.assistants.retrieve(assistant_id)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                raise ApiError(
                    f"No assistant {assistant_id} at {self.settings.public_base_url}: check "
                    "%assistant --assistant-id (or clear it with --assistant-id '').",
                    status=404,
                ) from None
            self._assistant_tools[assistant_id] = [
                tool.model_dump(exclude_none=True) for tool in assistant.tools
            ]
        return self._assistant_tools[assistant_id]

    # -- asks ---------------------------------------------------------------------------------

    def stream(self, request: ResponseRequest) -> Generator[Event, None, None]:
        remote = request.remote_thread
        if remote is None or remote.assistant_id is None:
            raise ApiError("This thread has no assistant: start one with %assistant thread new.")
        if request.user_text is None:
            yield from self._submit(remote, request.tool_outputs)
            return
        if "image_generation" in request.hosted_tools:
            yield Notice("image generation is not part of the Assistants API: left out")
        yield from self._add_message(remote, request)
        params = self._run_params(remote, request)
        yield from self._run(remote, params)

    def preview(self, request: ResponseRequest) -> list[tuple[str, dict[str, Any]]]:
        remote = request.remote_thread
        thread = remote.id if remote else "(thread made at the first ask)"
        if remote is None:
            # The first ask makes the assistant from this request: the run then follows it.
            remote = RemoteThread(
                thread,
                self.settings.assistant_id or "(made at the first ask)",
                owns_assistant=not self.settings.assistant_id,
            )
        message: dict[str, Any] = {"role": "user", "content": request.user_text or ""}
        if request.images:
            message["content"] = [
                {"type": "text", "text": request.user_text or ""},
                *(
                    {"type": "image_file", "image_file": {"file_id": f"(upload of {i.name})"}}
                    for i in request.images
                ),
            ]
        attachments = _attachments(request)
        if attachments:
            message["attachments"] = attachments
        run = {**self._run_params(remote, request), "stream": self._streams_runs}
        return [
            (f"POST /threads/{thread}/messages", message),
            (f"POST /threads/{thread}/runs", run),
        ]

    def _add_message(
        self, remote: RemoteThread, request: ResponseRequest
    ) -> Generator[Event, None, None]:
        """Add the user's message; a run left active by a broken ask is cancelled first."""
        if request.vector_store_ids:
            with api_errors(self.settings):
                self.client.beta.threads.update(
                    remote.id,
                    tool_resources={
                        "file_search": {"vector_store_ids": list(request.vector_store_ids)}
                    },
                )
        if remote.id not in self._answered and self._unanswered(remote.id, request):
            return  # a retry: the question is on the thread already, with no answer after it
        self._answered.discard(remote.id)
        content = self._content(request)
        attachments = _attachments(request)
        try:
            self._post_message(remote.id, content, attachments)
        except ApiError as exc:
            # The API refuses messages while a run is active: one a broken ask left behind.
            active = self._active_run(remote.id) if exc.status == 400 else None
            if active is None:
                raise
            yield Notice(f"cancelling run {active}, which an earlier ask left unfinished")
            self._cancel_and_wait(remote.id, active)
            self._post_message(remote.id, content, attachments)

    def _unanswered(self, thread_id: str, request: ResponseRequest) -> bool:
        """Whether the thread ends with this very question, unanswered (a failed run left it)."""
        if request.files:
            return False
        with api_errors(self.settings):
            page = self.client.beta.threads.messages.list(thread_id, limit=1, order="desc")
        latest = next(iter(page.data), None)
        if latest is None or latest.role != "user":
            return False
        texts = [block.text.value for block in latest.content if block.type == "text"]
        return texts == [request.user_text]

    def _post_message(
        self, thread_id: str, content: str | list[dict[str, Any]], attachments: list[dict[str, Any]]
    ) -> None:
        import openai

        with api_errors(self.settings):
            self.client.beta.threads.messages.create(
                thread_id,
                role="user",
                content=content,  # type: ignore[arg-type]
                attachments=attachments or openai.omit,  # type: ignore[arg-type]
            )

    def _content(self, request: ResponseRequest) -> str | list[dict[str, Any]]:
        """The message's content: its text, and its images (uploaded for vision)."""
        text = request.user_text or ""
        images = [file for file in request.files if file.image]
        if not images:
            return text
        parts: list[dict[str, Any]] = [{"type": "text", "text": text}]
        parts += [{"type": "image_file", "image_file": {"file_id": f.file_id}} for f in images]
        return parts

    def _run_params(self, remote: RemoteThread, request: ResponseRequest) -> dict[str, Any]:
        """How the run differs from the assistant: an assistant this package made follows the
        configuration; one it reuses keeps its own model, instructions and tools, plus ours."""
        assert remote.assistant_id is not None
        params: dict[str, Any] = {"assistant_id": remote.assistant_id}
        if remote.owns_assistant:
            params["model"] = request.model
            params["instructions"] = request.instructions
            params["tools"] = _tools(request, ())
        else:
            if request.instructions:
                params["additional_instructions"] = request.instructions
            params["tools"] = _tools(request, self._reused_tools(remote.assistant_id))
        if params["tools"] and request.tool_choice != "auto":
            params["tool_choice"] = tool_choice(request.tool_choice)
        if request.max_output_tokens:
            params["max_completion_tokens"] = max(request.max_output_tokens, MIN_COMPLETION_TOKENS)
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.answer_format is not None:
            params["response_format"] = json_schema_format(request.answer_format)
        return params

    def _run(self, remote: RemoteThread, params: dict[str, Any]) -> Generator[Event, None, None]:
        runs = self.client.beta.threads.runs
        yield from self._follow(
            remote, lambda streamed: runs.create(remote.id, stream=streamed, **params)
        )

    def _submit(
        self, remote: RemoteThread, outputs: Sequence[ToolOutput]
    ) -> Generator[Event, None, None]:
        """All the outputs the waiting run asked for, in one request."""
        run_id = self._waiting_run.pop(remote.id, None)
        if run_id is None:
            raise ApiError(
                "No run is waiting for these tool outputs (was the kernel restarted?). Run "
                "%assistant retry to ask again."
            )
        answers = [{"tool_call_id": o.call_id, "output": _output_text(o)} for o in outputs]
        runs = self.client.beta.threads.runs
        try:
            yield from self._follow(
                remote,
                lambda streamed: runs.submit_tool_outputs(
                    run_id,
                    thread_id=remote.id,
                    tool_outputs=answers,  # type: ignore[arg-type]
                    stream=streamed,
                ),
            )
        except ApiError as exc:
            ended = self._ended_meanwhile(remote.id, run_id) if exc.status == 400 else None
            if ended is None:
                raise
            # The run expired (or was cancelled) while the tools ran: say so, not "400".
            yield from self._finish(ended, ended.status, self._run_messages(remote.id, run_id))

    def _follow(
        self, remote: RemoteThread, start: Callable[[bool], Any]
    ) -> Generator[Event, None, None]:
        """Start the run's next stretch (`start` creates it, or submits outputs to it), streamed
        where the server streams runs and polled where it does not, and follow it to its next
        stop: an end, or tool calls to answer."""
        if self._streams_runs:
            stream = self._open_stream(lambda: start(True))
            if stream is not None:
                try:
                    yield from self.read(stream, self._translate(stream, remote))
                    return
                except NotStreamed:  # the server ignored "stream" and made the run anyway
                    self._streams_runs = False
                    yield from self._poll(remote, self._only_latest_run(remote.id))
                    return
            yield Notice("this server does not stream runs: following the run by polling")
        with api_errors(self.settings):
            run = start(False)
        yield from self._poll(remote, run)

    def _open_stream(self, open_: Callable[[], Any]) -> Any | None:
        """The run's event stream, or None when the server refuses to stream runs."""
        import openai

        try:
            return open_()
        except openai.APIStatusError as exc:
            if not _refuses_streaming(exc):
                raise_api_error(exc, self.settings)
        except openai.OpenAIError as exc:
            raise_api_error(exc, self.settings)
        self._streams_runs = False
        return None

    # -- cancelling ----------------------------------------------------------------------------

    def cancel(self, response_id: str) -> None:
        # Streaming or waiting for tool outputs, an active run blocks the thread and may still
        # spend tokens that nobody will read: end it now.
        thread_id = self._thread_of_run.get(response_id)
        if thread_id is not None:
            with contextlib.suppress(ApiError):
                self._cancel_and_wait(thread_id, response_id)

    def settle(
        self, remote: RemoteThread, outputs: Mapping[str, str], last_response: str | None
    ) -> list[str]:
        # Outputs are not submitted: the run would go on to an answer nobody reads.
        latest = self._latest_run(remote.id)
        if latest is None or latest.status not in ACTIVE:
            return []
        self._cancel_and_wait(remote.id, latest.id, latest)
        return [f"cancelled run {latest.id}, which the last ask left {latest.status}"]

    # -- files ---------------------------------------------------------------------------------

    def upload_file(self, filename: str, data: bytes, purpose: str = "user_data") -> str:
        # The Assistants API reads only files uploaded for it (or for vision).
        return super().upload_file(
            filename, data, "vision" if purpose == "vision" else "assistants"
        )


def _tools(request: ResponseRequest, own: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The run's tools: an assistant's own (if reused), then the hosted ones and the functions
    of this ask, each once."""
    tools = list(own)
    kinds = {tool.get("type") for tool in tools}
    for name in request.hosted_tools:
        if name in HOSTED_TOOLS and name not in kinds:
            tools.append({"type": name})
    names = {
        tool.get("function", {}).get("name") for tool in tools if tool.get("type") == "function"
    }
    tools += [function_tool(schema) for schema in request.tools if schema.name not in names]
    return tools


def _attachments(request: ResponseRequest) -> list[dict[str, Any]]:
    """Files on the message, each with the tools that may read it."""
    attached = []
    for file in request.files:
        if file.image:
            continue  # shown in the message's content, not attached for a tool
        tools = []
        if "code_interpreter" in request.hosted_tools:
            tools.append({"type": "code_interpreter"})
        if file.searchable and "file_search" in request.hosted_tools:
            tools.append({"type": "file_search"})
        if not tools:
            raise ApiError(
                f"Cannot attach {file.filename}: in the Assistants API only the code interpreter "
                "or file search reads files; add --code-interpreter or --file-search."
            )
        attached.append({"file_id": file.file_id, "tools": tools})
    return attached


def _output_text(output: ToolOutput) -> str:
    # Tool outputs are text here: a picture reaches the model only as its description.
    return output.output


def _refuses_streaming(exc: Any) -> bool:
    """Whether a server error says it cannot stream runs (rather than something else)."""
    from .openai_sdk import server_message

    if exc.status_code not in (400, 404, 405, 422, 501):
        return False
    return "stream" in f"{getattr(exc, 'param', '') or ''} {server_message(exc)}".lower()


def _seed_messages(items: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    messages: list[tuple[str, str]] = []
    for item in items:
        kind = item.get("type")
        if kind == "message":
            messages.append((str(item["role"]), str(item["content"])))
        elif kind == "function_call":
            messages.append(("assistant", f"(called {item['name']}({item['arguments']}))"))
        elif kind == "function_call_output":
            messages.append(("assistant", f"(the call returned: {item['output']})"))
    return messages
