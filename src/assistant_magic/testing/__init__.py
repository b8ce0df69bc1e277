"""A scripted, OpenAI-compatible HTTP server for offline tests and demos.

    from assistant_magic.testing import ScriptedServer, Text, HttpError

    with ScriptedServer(openapi="tests/data/openai-openapi/openapi.json") as server:
        server.script(HttpError(429, retry_after=0.2), Text("Hello there."))
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")
        ...
        assert server.validation_errors == []

The "model" can call the client's functions: script ``ToolCalls`` (or a lone ``FunctionCall``),
then a reply that reads the outputs the client sent back::

    server.script(
        FunctionCall("now", call_id="call_1"),
        lambda context: Text(f"It is {context.tool_outputs['call_1']}."),
    )

The "model" can also use hosted tools, with real bytes::

    server.script(
        CodeInterpreter(
            code="plt.savefig('/mnt/data/chart.png')",
            files={"chart.png": png_bytes},
            text="Here it is: [chart.png](sandbox:/mnt/data/chart.png)",
        ),
        ImageGeneration(png_bytes, partials=[preview_bytes]),
    )

streams a ``code_interpreter_call`` and a message citing the container file (served by
``/v1/containers``), then an ``image_generation_call``. Images and files the client sends
(``input_image``, ``input_file``, uploads to ``/v1/files``) reach reply factories as
``context.input_images`` and ``context.input_files``.

File search runs over the vector stores the client made (``/v1/vector_stores``)::

    server.script(
        FileSearch(
            queries=["battle strength"],
            text="Mamezou's strength is 530,000.",
            cite=[("report.txt", "530,000")],
        )
    )

streams a ``file_search_call`` over the request's ``file_search`` tool's stores, then a message
with ``file_citation`` annotations; ``context.searchable_files`` lets a reply factory quote them.

Remote MCP servers (``tools: [{"type": "mcp", "server_label": "dmcp", ...}]``) are called as the
real API does::

    server.script(McpCall("dmcp", "roll", {"notation": "2d4"}, output="5", text="You rolled 5."))

answers an ``mcp_list_tools`` item (the first time the context uses the server) and, when the
tool's ``require_approval`` wants it (``"always"`` by default), an ``mcp_approval_request``. The
client's next request answers it with ``{"type": "mcp_approval_response", "approval_request_id":
"mcpr_...", "approve": true}`` (same conversation or ``previous_response_id``) and gets the
``mcp_call`` and the text (only the text if denied), without taking a new script item.

The same script answers Chat Completions, the dialect of self-hosted servers (Ollama, vLLM,
llama.cpp): ``client.chat.completions.create(model=..., messages=[...], stream=True)`` streams
``chat.completion.chunk``s (text deltas, ``tool_calls`` deltas by index, ``data: [DONE]``), and
``server.chat_messages(i)`` is the history the client sent in its i-th chat request.
``ScriptedServer(chat_only=True)`` answers 404 on ``/v1/responses`` and ``/v1/conversations``,
as servers that only speak chat do.

The legacy Assistants API (v2) plays the same script, one reply per model step of a run::

    server.script(FunctionCall("now", call_id="call_1"), Text("It is noon."))
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=asst.id)
    assert run.status == "requires_action"         # then submit_tool_outputs, poll again

Runs nobody streams move one state on per read (``run_polls_per_state``); streamed ones send the
real ``thread.run.*`` / ``thread.message.*`` events. ``RunFailure("failed", code=...)`` ends a run
``failed`` or ``expired``; ``server.runs(thread_id)``, ``server.thread_messages(thread_id)`` and
``server.wait_for_run_status(run_id, ...)`` show what happened.

Typed answers (Structured Outputs) work in every dialect: the server checks a requested JSON
schema as the real API does (strict mode's rules, see ``structured``), the default reply answers
a JSON document valid against it, and ``Refusal("I can't help with that.")`` plays the model
declining in each dialect's refusal shape. ``context.answer_schema`` gives factories the schema.

The Batch API plays the same script, one reply per line of the uploaded JSONL file, each line
answered as a live unstreamed request to the batch's endpoint::

    batch = client.batches.create(input_file_id=upload.id, endpoint="/v1/responses", ...)
    client.batches.retrieve(batch.id)   # validating -> in_progress -> finalizing -> completed

Each state lasts ``batch_polls_per_state`` retrievals (0: done at the first);
``server.expire_batch(batch_id)`` ends one ``expired``; the output and error files are served by
``/v1/files``; ``server.batches`` and ``server.batch(batch_id)`` show the batch objects.

It speaks the Responses API (streamed or not, background, cancel), Chat Completions, Assistants,
Batches, Conversations, Files, Containers, Vector Stores and Models over real loopback HTTP,
keeps the real API's rules (auth, known models, tool calls and outputs pairing up, attachments and
vector stores that resolve) and, given OpenAI's OpenAPI document, validates all traffic against
it. See ``pytest_plugin`` for the ``openai_server`` fixture and ``python -m
assistant_magic.testing`` for a demo server.

Everything here works with the base install. Validation alone needs the ``[test]`` extra
(``pip install "assistant-magic[test]"``, for jsonschema and referencing): without it, a server
given a spec says so in one line (a ``ValidationUnavailableWarning``) and runs unchecked.
"""

from .hosted_steps import (
    Citation,
    CodeInterpreter,
    FileSearch,
    ImageGeneration,
    McpCall,
    SearchResult,
)
from .openapi import SPEC_ENV_VAR, TrafficValidator, ValidationUnavailableWarning, load_spec
from .openapi_spec import OpenApiSpec
from .reply_context import InputFile, InputImage, ReplyContext, ToolResult
from .script import (
    FunctionCall,
    HttpError,
    Refusal,
    Reply,
    ReplyFactory,
    RunFailure,
    ScriptItem,
    Text,
    ToolCalls,
    echo,
)
from .server import DEFAULT_MODELS, ScriptedServer
from .state import Container, ContainerFile, StoredFile, VectorStore, VectorStoreFile
from .wire import RecordedRequest

__all__ = [
    "DEFAULT_MODELS",
    "SPEC_ENV_VAR",
    "Citation",
    "CodeInterpreter",
    "Container",
    "ContainerFile",
    "FileSearch",
    "FunctionCall",
    "HttpError",
    "ImageGeneration",
    "InputFile",
    "InputImage",
    "McpCall",
    "OpenApiSpec",
    "RecordedRequest",
    "Refusal",
    "Reply",
    "ReplyContext",
    "ReplyFactory",
    "RunFailure",
    "ScriptItem",
    "ScriptedServer",
    "SearchResult",
    "StoredFile",
    "Text",
    "ToolCalls",
    "ToolResult",
    "TrafficValidator",
    "ValidationUnavailableWarning",
    "VectorStore",
    "VectorStoreFile",
    "echo",
    "load_spec",
]
