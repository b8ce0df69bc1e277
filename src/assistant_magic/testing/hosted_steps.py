"""Scripted model steps that use hosted tools: code interpreter, image generation, file search,
remote MCP servers.

The server runs these tools itself, so the client answers nothing (but an MCP call's approval):
each step streams the tool's call and, given ``text``, a message that cites what the tool made or
found. The Responses API plays all four (see ``responses.hosted_tool_events``,
``responses.file_search_events`` and ``responses.mcp_events``); an Assistants API run plays code
interpreter and file search (see ``assistants.hosted_tool_events``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias


@dataclass(frozen=True)
class CodeInterpreter:
    """One model step that runs Python in a code interpreter container, then (given ``text``)
    answers with an assistant message citing the files the code made.

    The request must offer ``{"type": "code_interpreter", ...}``. The call runs in the container
    the tool names, or (``container: {"type": "auto"}``) one a previous call in the context used,
    else a new one holding the tool's ``file_ids``. Its ``code`` streams in about ``code_chunks``
    deltas, each after ``chunk_delay`` seconds (None: the server's default).

    ``files``: name -> bytes the code saved under ``/mnt/data``. They join the container when the
    call completes (``/v1/containers/{id}/files/{file_id}/content`` serves them) and the message
    cites each with a ``container_file_citation`` spanning ``sandbox:/mnt/data/<name>`` if the
    text links it, else the first ``<name>`` in the text, else the empty span 0..0.
    ``images``: images the code displayed (``plt.show()``). Each becomes an ``image`` output (a
    data URL) and a container file ``cfile_....png`` cited at 0..0, as the real API does.
    ``logs``: what the code printed, a ``logs`` output after the images. Outputs are only sent
    when the request's ``include`` asks for ``code_interpreter_call.outputs`` (else null).
    """

    code: str
    files: Mapping[str, bytes] = field(default_factory=dict)
    images: Sequence[bytes] = ()
    logs: str | None = None
    text: str = ""
    code_chunks: int = 3
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.code_chunks < 1:
            raise ValueError("CodeInterpreter.code_chunks must be >= 1")
        if any(not name or name.endswith("/") for name in self.files):
            raise ValueError("CodeInterpreter.files needs file names")


@dataclass(frozen=True)
class ImageGeneration:
    """One model step that generates an image with the ``image_generation`` tool.

    ``image``: the final image's bytes, sent base64-encoded as the call's ``result`` (any bytes:
    corrupt or huge images are fine when that is the point of the test). ``partials``: preview
    images; at most the tool's ``partial_images`` of them are streamed, and only when streaming.
    ``revised_prompt`` defaults to the user's last text. ``text``: an optional assistant message
    after the call. ``chunk_delay`` paces the partial images and the text.
    """

    image: bytes
    partials: Sequence[bytes] = ()
    text: str = ""
    revised_prompt: str | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class SearchResult:
    """One result of a :class:`FileSearch`: a chunk of a searchable file.

    ``file_id``: the id of a file in the request's vector stores (or that file's name).
    ``filename``, ``attributes``: None takes the file's own. ``text``: the chunk found (None: the
    file's content, decoded as UTF-8, up to 2,000 characters). ``score``: relevance in 0..1 (None:
    a score from how many of the query words the text holds, as for automatic results).
    A plain tuple ``(file_id, filename, text, score)`` (or a prefix of it) is read as one.
    """

    file_id: str
    filename: str | None = None
    text: str | None = None
    score: float | None = None
    attributes: Mapping[str, str | float | bool] | None = None


#: Where a :class:`FileSearch` answer cites a file: ``(file id or filename, where)``, ``where``
#: being a character index into the text, or a piece of the text the citation follows.
Citation: TypeAlias = tuple[str, int | str]


@dataclass(frozen=True)
class FileSearch:
    """One model step that searches the request's vector stores with the ``file_search`` tool,
    then (given ``text``) answers with an assistant message citing the files it found.

    The request must offer ``{"type": "file_search", "vector_store_ids": [...]}``.
    ``queries``: what the model searched for (None: the user's last text).
    ``results``: what the search found, as :class:`SearchResult` or tuples; None searches for
    real: every searchable file (completed in one of the tool's stores) is a result, ranked by
    how many query words its text holds, at most the tool's ``max_num_results``. Results are only
    sent when the request's ``include`` has ``file_search_call.results`` (else null).
    ``cite``: where the message cites files, as :data:`Citation` pairs; None cites each file among
    the results once, at the end of the text (as the real model tends to); ``[]`` cites nothing.
    Each citation is a ``file_citation`` annotation (``file_id``, ``filename``, ``index``), streamed
    as ``response.output_text.annotation.added`` once the text reaches its index.
    """

    queries: Sequence[str] | None = None
    results: Sequence[SearchResult | tuple[Any, ...]] | None = None
    text: str = ""
    cite: Sequence[Citation] | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.queries, str):
            object.__setattr__(self, "queries", (self.queries,))
        elif self.queries is not None:
            object.__setattr__(self, "queries", tuple(self.queries))
        if self.results is not None:
            results = tuple(
                r if isinstance(r, SearchResult) else SearchResult(*r) for r in self.results
            )
            object.__setattr__(self, "results", results)
        if self.cite is not None:
            cite = tuple((str(file), where) for file, where in self.cite)
            object.__setattr__(self, "cite", cite)
            for file, where in cite:
                self.citation_index(file, where)

    def citation_index(self, file: str, where: int | str) -> int:
        """The character index a citation of ``file`` at ``where`` takes in ``text``."""
        if isinstance(where, str):
            start = self.text.find(where)
            if not where or start < 0:
                raise ValueError(f"FileSearch.cite: {where!r} (citing {file!r}) is not in text")
            return start + len(where)
        if not 0 <= where <= len(self.text):
            raise ValueError(
                f"FileSearch.cite: index {where} (citing {file!r}) is outside the text "
                f"(0..{len(self.text)})"
            )
        return where


@dataclass(frozen=True)
class McpCall:
    """One model step that calls tool ``name`` of the remote MCP server ``server_label`` with
    ``arguments``, then (given ``text``) answers with an assistant message.

    The request must offer ``{"type": "mcp", "server_label": ..., "server_url": ...}`` with that
    label. As on the real API, the response first lists the server's tools (an ``mcp_list_tools``
    item) unless its context - the conversation or the previous response chain - already holds a
    list for that server. ``tools``: what the server lists, as ``mcp_list_tools`` entries
    (``name``, ``input_schema``, ``description``, ``annotations``); None lists just ``name``,
    with an input schema read off ``arguments``. The tool's ``allowed_tools`` narrows the list.

    If the tool's ``require_approval`` (default ``"always"``) wants approval for ``name``, the
    response ends with an ``mcp_approval_request`` (``mcpr_...``) and no call. The client's next
    request (same conversation, or ``previous_response_id``) sends
    ``{"type": "mcp_approval_response", "approval_request_id": "mcpr_...", "approve": ...}``; that
    request continues this step without taking a new script item: approved, it plays the
    ``mcp_call`` (its ``approval_request_id`` set) and the text; denied, only the text. Without
    approval the call plays at once.

    The call completes with ``output``, or fails with ``error``: a string becomes an
    ``mcp_tool_execution_error`` whose content is that text, a mapping is sent as it is (an
    ``mcp_protocol_error``, say). ``chunk_delay`` paces the argument deltas and the text.
    """

    server_label: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    output: str | None = None
    error: str | Mapping[str, Any] | None = None
    text: str = ""
    tools: Sequence[Mapping[str, Any]] | None = None
    chunk_delay: float | None = None
    usage: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.output is not None and self.error is not None:
            raise ValueError("McpCall takes an output or an error, not both")
        if self.tools is not None:
            tools = tuple(_listed_tool(tool) for tool in self.tools)
            object.__setattr__(self, "tools", tools)
            if self.name not in (tool["name"] for tool in tools):
                raise ValueError(f"McpCall.tools must list the called tool {self.name!r}")

    @property
    def arguments_text(self) -> str:
        return json.dumps(dict(self.arguments))

    @property
    def listed_tools(self) -> list[dict[str, Any]]:
        """The ``mcp_list_tools`` entries the server lists (before ``allowed_tools``)."""
        if self.tools is not None:
            return [dict(tool) for tool in self.tools]
        schema = {
            "type": "object",
            "properties": {key: _json_type(value) for key, value in self.arguments.items()},
            "required": list(self.arguments),
        }
        return [_listed_tool({"name": self.name, "input_schema": schema})]

    def error_object(self) -> dict[str, Any] | None:
        """The call's ``error`` as the spec's ``MCPToolCallError`` (None if it succeeded)."""
        if self.error is None or isinstance(self.error, Mapping):
            return None if self.error is None else dict(self.error)
        content = [{"type": "text", "text": self.error}]
        return {"type": "mcp_tool_execution_error", "content": content}


def _listed_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """An ``mcp_list_tools`` entry with every field the real API reports."""
    if not tool.get("name"):
        raise ValueError(f"McpCall.tools entries need a name: {tool!r}")
    return {
        "name": str(tool["name"]),
        "input_schema": dict(tool.get("input_schema") or {"type": "object", "properties": {}}),
        "description": tool.get("description"),
        "annotations": tool.get("annotations"),
    }


def _json_type(value: object) -> dict[str, str]:
    """The JSON schema type of an example argument value."""
    kinds: tuple[tuple[type, str], ...] = (
        (bool, "boolean"),  # before int: a bool is an int too
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    )
    for kind, name in kinds:
        if isinstance(value, kind):
            return {"type": name}
    return {}


def hosted_tool(reply: object) -> str | None:
    """The ``type`` of the hosted tool a scripted step uses (None for other replies)."""
    if isinstance(reply, CodeInterpreter):
        return "code_interpreter"
    if isinstance(reply, ImageGeneration):
        return "image_generation"
    if isinstance(reply, FileSearch):
        return "file_search"
    if isinstance(reply, McpCall):
        return "mcp"
    return None
