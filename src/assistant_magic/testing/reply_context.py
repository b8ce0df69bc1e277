"""What a reply factory sees of a request: its input, history, tool results, images and files.

Every dialect is read the same way (as Responses items, see ``items``), so one factory answers
Responses, Chat Completions and Assistants API runs alike; so is the JSON schema a typed ask wants
its answer to follow (see ``structured``).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from PIL import Image

from .items import CALL_ANSWERS, last_user_text, output_text
from .state import StoredFile, VectorStore
from .structured import requested_format
from .tool_choice import ToolChoice, find_tool


@dataclass(frozen=True)
class ToolResult:
    """A ``function_call_output`` of this request, with the ``function_call`` it answers.

    ``name`` and ``arguments`` are empty when the call is not in the context (the server rejects
    such requests before any reply factory runs, so a factory never sees that).
    """

    call_id: str
    name: str
    arguments: str
    output: str


@dataclass(frozen=True)
class InputImage:
    """An image in this request's input, as the model sees it.

    ``source``: the ``file_id``, the URL of a remote image, or ``"data_url"`` for an inline one.
    ``data``: the image bytes (empty for a remote URL: the scripted server fetches nothing).
    ``media_type``: ``image/png`` etc. ``call_id``: the ``function_call_output`` it came in
    (None for a message).
    """

    source: str
    data: bytes
    media_type: str
    detail: str = "auto"
    call_id: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` in pixels (decoded with Pillow; (0, 0) for a remote URL)."""
        if not self.data:
            return (0, 0)
        with Image.open(io.BytesIO(self.data)) as image:
            return image.size


@dataclass(frozen=True)
class InputFile:
    """A file in this request's input (``input_file``), as the model sees it.

    ``source``: the ``file_id``, the ``file_url``, or ``"file_data"`` for inline data.
    ``data``: its bytes (empty for a URL). ``call_id`` as for :class:`InputImage`.
    """

    source: str
    filename: str
    data: bytes
    call_id: str | None = None


@dataclass(frozen=True)
class ReplyContext:
    """What a reply factory may look at: the request and the items the model would see.

    For a Chat Completions request (:attr:`dialect` ``"chat"``) the ``messages`` are read as
    Responses items (see ``chat.items``): ``input_items`` are the messages after the last
    assistant message (the new user message, or the tool messages as ``function_call_output``),
    ``history`` the ones up to it (assistant ``tool_calls`` as ``function_call`` items). So
    :attr:`last_user_text`, :attr:`tool_results`, :attr:`input_images` and the rest read alike in
    every dialect.

    For a step of an Assistants API run (:attr:`dialect` ``"assistants"``) ``body`` is the run
    object (its ``model``, ``instructions``, ``tools``, ``tool_choice``, ...), and the thread's
    messages are read the same way: after submitted tool outputs, ``input_items`` are those
    outputs as ``function_call_output`` items.
    """

    body: Mapping[str, Any]
    input_items: Sequence[Mapping[str, Any]]
    history: Sequence[Mapping[str, Any]]
    images: Sequence[InputImage] = ()
    files: Sequence[InputFile] = ()
    stores: Sequence[VectorStore] = ()

    @property
    def dialect(self) -> Literal["responses", "chat", "assistants"]:
        """``"chat"`` for ``POST /v1/chat/completions`` (the body has ``messages``),
        ``"assistants"`` for a step of an Assistants API run (the body is a ``thread.run``), else
        ``"responses"``."""
        if self.body.get("object") == "thread.run":
            return "assistants"
        return "chat" if "messages" in self.body else "responses"

    @property
    def vector_stores(self) -> list[VectorStore]:
        """The vector stores the request's ``file_search`` tool names, as they were when the
        request arrived (copies); empty without the tool."""
        return list(self.stores)

    @property
    def vector_store_ids(self) -> list[str]:
        """The ``vector_store_ids`` of the request's ``file_search`` tool (empty without it); for
        a run, those of its assistant's and thread's ``tool_resources``."""
        if self.dialect == "assistants":
            return [store.id for store in self.stores]
        found = find_tool(self.body, "file_search")
        ids = found[1].get("vector_store_ids") if found else None
        return [str(i) for i in ids] if isinstance(ids, list) else []

    @property
    def searchable_files(self) -> list[StoredFile]:
        """The uploads the request made searchable: files done processing in the ``file_search``
        tool's stores, in store order, each once (``data`` holds the bytes to quote)."""
        found: dict[str, StoredFile] = {}
        for store in self.stores:
            for upload in store.searchable_files:
                found.setdefault(upload.id, upload)
        return list(found.values())

    @property
    def input_images(self) -> list[InputImage]:
        """Images in this request's input (messages and tool outputs), in order."""
        return list(self.images)

    @property
    def input_files(self) -> list[InputFile]:
        """Files (``input_file`` parts) in this request's input, in order."""
        return list(self.files)

    @property
    def last_user_text(self) -> str | None:
        """The newest user text, from this request's input, else from the history."""
        found = last_user_text(self.input_items)
        return found if found is not None else last_user_text(self.history)

    @property
    def tool_outputs(self) -> dict[str, str]:
        """``call_id`` -> output of each ``function_call_output`` in this request's input.

        An output given as content parts reads as its text parts joined.
        """
        return {result.call_id: result.output for result in self.tool_results}

    @property
    def tool_results(self) -> list[ToolResult]:
        """This request's tool outputs in input order, each with the call it answers."""
        outputs = [item for item in self.input_items if item.get("type") in CALL_ANSWERS.values()]
        if not outputs:
            return []  # the history is not read (on a long chat thread, hundreds of messages)
        calls = {
            str(item.get("call_id")): item
            for item in [*self.history, *self.input_items]
            if item.get("type") in CALL_ANSWERS
        }
        results = []
        for item in outputs:
            call_id = str(item.get("call_id"))
            call = calls.get(call_id, {})
            results.append(
                ToolResult(
                    call_id=call_id,
                    name=str(call.get("name", "")),
                    arguments=str(call.get("arguments", "")),
                    output=output_text(item.get("output")),
                )
            )
        return results

    @property
    def offered_tools(self) -> list[str]:
        """Names of the function tools in the request's ``tools``, in order."""
        return list(ToolChoice.of(self.body).offered)

    @property
    def tool_choice(self) -> str | Mapping[str, Any]:
        """The request's ``tool_choice`` ("auto" when omitted)."""
        choice = self.body.get("tool_choice")
        return choice if isinstance(choice, (str, Mapping)) else "auto"

    @property
    def answer_schema(self) -> dict[str, Any] | None:
        """The JSON schema the request wants its answer to follow (a copy), or None for plain
        text: Responses ``text.format``, Chat Completions ``response_format`` (``json_schema``,
        or a ``json_object`` with a ``schema``), a run's ``response_format``."""
        found = requested_format(self.body)
        if found is None or found.schema is None:
            return None
        return copy.deepcopy(dict(found.schema))

    @property
    def answer_format_name(self) -> str | None:
        """The ``name`` of the requested ``json_schema`` format (None for plain text or a
        ``json_object``)."""
        found = requested_format(self.body)
        return found.name if found is not None else None
