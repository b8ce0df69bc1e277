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

It speaks the Responses API (streamed or not, background, cancel), Conversations and Models over
real loopback HTTP, keeps the real API's rules (auth, known models, tool calls and outputs pairing
up) and, given OpenAI's OpenAPI document, validates all traffic against it. See ``pytest_plugin``
for the ``openai_server`` fixture and ``python -m assistant_magic.testing`` for a demo server.
"""

from .openapi import SPEC_ENV_VAR, OpenApiSpec, TrafficValidator, load_spec
from .script import (
    FunctionCall,
    HttpError,
    Reply,
    ReplyContext,
    ReplyFactory,
    ScriptItem,
    Text,
    ToolCalls,
    ToolResult,
    echo,
)
from .server import DEFAULT_MODELS, ScriptedServer
from .wire import RecordedRequest

__all__ = [
    "DEFAULT_MODELS",
    "SPEC_ENV_VAR",
    "FunctionCall",
    "HttpError",
    "OpenApiSpec",
    "RecordedRequest",
    "Reply",
    "ReplyContext",
    "ReplyFactory",
    "ScriptItem",
    "ScriptedServer",
    "Text",
    "ToolCalls",
    "ToolResult",
    "TrafficValidator",
    "echo",
    "load_spec",
]
