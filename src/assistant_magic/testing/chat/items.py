"""Chat Completions ``messages``: the rules the real API keeps, and the thread read as items.

A chat request carries the whole thread. The server reads it as the Responses items the rest of
the server understands, so ``ReplyContext``, the echo reply, attachment checks and usage
estimation work as for ``POST /v1/responses``:

* a system, developer or user message -> a ``message`` item; ``text`` parts become ``input_text``,
  ``image_url`` parts ``input_image`` and ``file`` parts ``input_file``;
* an assistant message -> a ``message`` item with ``output_text`` (when it has content), then one
  ``function_call`` item per function in its ``tool_calls``;
* a tool message -> a ``function_call_output`` item (``call_id`` its ``tool_call_id``, ``output``
  its ``content`` as sent).

The messages after the last assistant message are the request's *input* (the user's new message,
or the tool messages answering the assistant's calls); the ones up to it are the *history*.

The rules, each a 400 with the real API's words (``param`` as the real API spells it):

* no model: ``you must provide a model parameter``; no ``messages``: ``Missing required
  parameter: 'messages'.``;
* no messages: ``Invalid 'messages': empty array. Expected an array with minimum length 1, but
  got an empty array instead.`` (``param: "messages"``, ``code: "empty_array"``);
* an assistant message with ``tool_calls: []``: ``Invalid 'messages[N].tool_calls': empty array.
  ...`` (same wording);
* an assistant message whose calls are not all answered by the tool messages right after it:
  ``An assistant message with 'tool_calls' must be followed by tool messages responding to each
  'tool_call_id'. The following tool_call_ids did not have response messages: call_a, call_b``
  (``param: "messages.[N].role"``, N the assistant message: unverified, the real index may be
  the next message's);
* a tool message that does not follow an assistant message with ``tool_calls`` (or that one's other
  tool messages): ``Invalid parameter: messages with role 'tool' must be a response to a
  preceeding message with 'tool_calls'.`` (sic, ``param: "messages.[N].role"``);
* a tool message right after such an assistant message, answering none of its calls:
  ``Invalid parameter: 'tool_call_id' of 'call_x' not found in 'tool_calls' of previous
  message.`` (``param: "messages.[N].tool_call_id"``, unverified).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from ..attachments import attachments
from ..items import JSON_OBJECT, Item, message_text, output_text, output_text_part
from ..reply_context import InputFile, InputImage
from ..state import StoredFile
from ..usage import words
from ..wire import ApiFailure, missing_parameter, scripted_failure

_EMPTY_ARRAY = (
    "empty array. Expected an array with minimum length 1, but got an empty array instead."
)
_UNANSWERED = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
    "'tool_call_id'. The following tool_call_ids did not have response messages: "
)
_STRAY = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)


def empty_array(param: str) -> ApiFailure:
    """The real API's answer to an empty array where it wants at least one item."""
    return ApiFailure(400, f"Invalid '{param}': {_EMPTY_ARRAY}", param=param, code="empty_array")


def missing_model() -> ApiFailure:
    """Chat Completions' (older) words for a request without a model."""
    return ApiFailure(400, "you must provide a model parameter")


def chat_rejection(body: object) -> ApiFailure | None:
    """The real API's words for a chat request body the spec rejects, where they are known."""
    if not isinstance(body, Mapping):
        return None
    if not body.get("model"):
        return missing_model()
    if "messages" not in body:
        return missing_parameter("messages")
    if body.get("messages") == []:
        return empty_array("messages")
    return None


def check_messages(messages: object) -> list[Mapping[str, Any]]:
    """The request's messages, once they pass the real API's rules (see the module docstring)."""
    if messages is None:
        raise missing_parameter("messages")
    if not isinstance(messages, list):
        raise scripted_failure(400, "'messages' must be an array of messages.", param="messages")
    if not messages:
        raise empty_array("messages")
    checked = [message for message in messages if isinstance(message, JSON_OBJECT)]
    if len(checked) != len(messages):
        raise scripted_failure(400, "each of 'messages' must be an object.", param="messages")
    _check_tool_messages(checked)
    return checked


def _check_tool_messages(messages: Sequence[Mapping[str, Any]]) -> None:
    """Tool calls and tool messages pair up: each assistant message's calls are answered by the
    tool messages right after it, and each tool message answers a call of that message."""
    calls: list[str] | None = None  # the calls the current run of tool messages answers
    unanswered: list[str] = []
    asked_at = 0
    for index, message in enumerate(messages):
        if message.get("role") == "tool":
            call_id = str(message.get("tool_call_id"))
            if calls is None:
                raise ApiFailure(400, _STRAY, param=f"messages.[{index}].role")
            if call_id not in calls:
                raise ApiFailure(
                    400,
                    f"Invalid parameter: 'tool_call_id' of '{call_id}' not found in 'tool_calls' "
                    "of previous message.",
                    param=f"messages.[{index}].tool_call_id",
                )
            if call_id in unanswered:
                unanswered.remove(call_id)
            continue
        _check_answered(calls, unanswered, asked_at)
        calls = None
        tool_calls = message.get("tool_calls")
        if message.get("role") == "assistant" and isinstance(tool_calls, list):
            if not tool_calls:
                raise empty_array(f"messages[{index}].tool_calls")
            calls = [str(call.get("id")) for call in tool_calls if isinstance(call, Mapping)]
            unanswered, asked_at = list(calls), index
    _check_answered(calls, unanswered, asked_at)


def _check_answered(calls: list[str] | None, unanswered: list[str], asked_at: int) -> None:
    if calls is not None and unanswered:
        raise ApiFailure(
            400, _UNANSWERED + ", ".join(unanswered), param=f"messages.[{asked_at}].role"
        )


class LazyItems(Sequence[Item]):
    """Messages read as items (`message_items`) when first looked at: a long thread's request
    holds hundreds of messages, and a reply is usually made from the newest alone."""

    def __init__(self, messages: Sequence[Mapping[str, Any]]) -> None:
        self._messages = messages
        self._items: list[Item] | None = None

    @property
    def _read(self) -> list[Item]:
        if self._items is None:
            self._items = [item for message in self._messages for item in message_items(message)]
        return self._items

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Item]: ...

    def __getitem__(self, index: int | slice) -> Item | Sequence[Item]:
        return self._read[index]

    def __len__(self) -> int:
        return len(self._read)

    def __iter__(self) -> Iterator[Item]:
        return iter(self._read)

    def __eq__(self, other: object) -> bool:
        """Equal to a list (or another `LazyItems`) of the same items, as the list was."""
        return self._read == (other._read if isinstance(other, LazyItems) else other)

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, as a list is

    def __repr__(self) -> str:
        return repr(self._read)


@dataclass
class ChatThread:
    """The messages of one chat request, read as items (see the module docstring): `history`
    up to the last assistant message, `input_items` after it, each read when first looked at.

    ``images`` and ``files``: the attachments of the input messages (those of the history are
    checked, not listed).
    """

    messages: Sequence[Mapping[str, Any]]
    split: int
    images: list[InputImage] = field(default_factory=list)
    files: list[InputFile] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.history = LazyItems(self.messages[: self.split])
        self.input_items = LazyItems(self.messages[self.split :])

    @property
    def items(self) -> list[Item]:
        return [*self.history, *self.input_items]

    @property
    def prompt_words(self) -> int:
        """`usage.prompt_words` of the items, read from the messages without making them."""
        return sum(_message_words(message) for message in self.messages)


def read_thread(
    messages: Sequence[Mapping[str, Any]], uploads: Mapping[str, StoredFile]
) -> ChatThread:
    """The thread the messages hold; their images and files must resolve (see ``attachments``,
    whose errors name the part as ``messages[N].content[M]``)."""
    split = 1 + max(
        (index for index, message in enumerate(messages) if message.get("role") == "assistant"),
        default=-1,
    )
    # One entry per message, so the attachment errors name the message by its index.
    parts = [_attachment_item(message) for message in messages]
    found = attachments(parts, uploads, param="messages")
    return ChatThread(
        messages,
        split,
        images=found.images[_count(parts[:split], "input_image") if found.images else 0 :],
        files=found.files[_count(parts[:split], "input_file") if found.files else 0 :],
    )


def _attachment_item(message: Mapping[str, Any]) -> Item:
    """The message's item that may hold images and files ({} when none can: only content
    given as parts can, and not a tool's)."""
    if message.get("role") == "tool" or not isinstance(message.get("content"), list):
        return {}
    items = message_items(message)
    return items[0] if items and items[0]["type"] == "message" else {}


def _message_words(message: Mapping[str, Any]) -> int:
    """The words of the items `message_items` makes of the message (see `usage.prompt_words`)."""
    role = str(message.get("role"))
    content = message.get("content")
    if role == "tool":
        return words(output_text(content if content is not None else ""))
    tool_calls = message.get("tool_calls")
    calls = tool_calls if role == "assistant" and isinstance(tool_calls, list) else []
    count = 0
    if content not in (None, "", []) or not calls:
        count += words(message_text(message))  # the item's parts hold what `message` does
    for call in calls:
        function = call.get("function") if isinstance(call, JSON_OBJECT) else None
        if isinstance(function, JSON_OBJECT):
            name, arguments = function.get("name", ""), function.get("arguments", "")
            count += words(f"{name} {arguments}")
    return count


def message_items(message: Mapping[str, Any]) -> list[Item]:
    """One chat message as the Responses items it stands for."""
    role = str(message.get("role"))
    content = message.get("content")
    if isinstance(content, str) and role != "tool" and "tool_calls" not in message:
        # Most messages of a long thread's request: a question or an answer, as text.
        return [{"type": "message", "role": role, "content": [_text_part(role, content)]}]
    if role == "tool":
        return [
            {
                "type": "function_call_output",
                "call_id": str(message.get("tool_call_id")),
                "output": content if content is not None else "",
            }
        ]
    items: list[Item] = []
    tool_calls = message.get("tool_calls")
    calls = tool_calls if role == "assistant" and isinstance(tool_calls, list) else []
    if content not in (None, "", []) or not calls:
        items.append({"type": "message", "role": role, "content": _parts(role, content)})
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            items.append(
                {
                    "type": "function_call",
                    "call_id": str(call.get("id")),
                    "name": str(function.get("name", "")),
                    "arguments": str(function.get("arguments", "")),
                }
            )
    return items


def _parts(role: str, content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [_text_part(role, content)]
    if not isinstance(content, list):
        return []
    return [_part(role, part) for part in content if isinstance(part, JSON_OBJECT)]


def _text_part(role: str, text: str) -> dict[str, Any]:
    return output_text_part(text) if role == "assistant" else {"type": "input_text", "text": text}


def _part(role: str, part: Mapping[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "text":
        return _text_part(role, str(part.get("text", "")))
    if kind == "image_url":
        image = part.get("image_url")
        spec = image if isinstance(image, Mapping) else {"url": image}
        return {
            "type": "input_image",
            "image_url": spec.get("url"),
            "detail": spec.get("detail") or "auto",
        }
    if kind == "file":
        upload = part.get("file")
        spec = upload if isinstance(upload, Mapping) else {}
        keys = ("file_id", "file_data", "filename")
        return {"type": "input_file", **{key: spec[key] for key in keys if key in spec}}
    return dict(part)  # refusal, input_audio: kept as they are, read by nobody


def _count(items: Sequence[Mapping[str, Any]], kind: str) -> int:
    """How many parts of ``kind`` the items' contents hold (only asked when there are any:
    a long thread's requests hold hundreds of messages)."""
    count = 0
    for item in items:
        content = item.get("content")
        parts = content if isinstance(content, list) else []
        count += sum(
            1 for part in parts if isinstance(part, JSON_OBJECT) and part.get("type") == kind
        )
    return count
