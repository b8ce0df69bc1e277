"""Response and conversation input: read into stored items, and checked for calls that pair up.

Input arrives in the loose shapes the API accepts (a bare string, ``{"role", "content": "..."}``);
stored items take the strict shapes the API returns (ids, ``status``, content parts).

The pairing rules, over the context (conversation items or the previous response's transcript)
plus the new input, each a 400 with ``param: "input"``:

* an item id twice (typically a ``function_call`` re-sent with its output although the context
  holds it): ``Duplicate item found with id <id>. Remove duplicate items from your input and try
  again.`` (the real API's words);
* a tool output whose ``call_id`` matches no call:
  ``No tool call found for function call output with call_id <id>.`` (the real API's words);
* a second output for one call: ``[scripted server] Duplicate function_call_output for call_id
  <id>: each function_call takes exactly one output.`` (our words: the real one is unverified);
* a call with no output: ``No tool output found for function call <id>.`` (the real API's words).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..items import CALL_ANSWERS, Item, new_id, output_text_part
from ..wire import ApiFailure, scripted_failure

# Stored ids follow the real prefixes, so code that sniffs them behaves the same.
_ID_PREFIXES = {
    "message": "msg",
    "function_call": "fc",
    "function_call_output": "fco",
    "code_interpreter_call": "ci",
    "image_generation_call": "ig",
    "file_search_call": "fs",
    "mcp_list_tools": "mcpl",
    "mcp_approval_request": "mcpr",
    "mcp_approval_response": "mcpa",
    "mcp_call": "mcp",
}
_SUPPORTED_TYPES = frozenset(_ID_PREFIXES)
# Items whose schemas have no ``status``: stored without one.
_STATUSLESS = frozenset({"mcp_list_tools", "mcp_approval_request", "mcp_approval_response"})


def input_items(raw: object) -> list[Item]:
    """The request's ``input`` (string or list of items) as stored items, in order."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [stored_item({"type": "message", "role": "user", "content": raw})]
    if isinstance(raw, list):
        return [stored_item(item) for item in raw if isinstance(item, Mapping)]
    raise scripted_failure(400, "'input' must be a string or a list of items.", param="input")


def stored_item(item: Mapping[str, Any]) -> Item:
    """An input item in the shape the API returns when listing conversation items."""
    kind = item.get("type", "message")
    if kind not in _SUPPORTED_TYPES:
        raise scripted_failure(
            400, f"input items of type '{kind}' are not supported yet.", param="input"
        )
    stored: Item = {k: v for k, v in item.items() if v is not None}
    stored["type"] = kind
    stored.setdefault("id", new_id(_ID_PREFIXES[kind]))
    if kind not in _STATUSLESS:
        stored.setdefault("status", "completed")
    if kind == "message":
        stored["content"] = _content_parts(str(item.get("role")), item.get("content"))
    elif kind == "function_call_output" and isinstance(item.get("output"), list):
        stored["output"] = _content_parts("tool", item.get("output"))
    return stored


def _content_parts(role: str, content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        if role == "assistant":
            return [output_text_part(content)]
        return [{"type": "input_text", "text": content}]
    if not isinstance(content, list):
        return []
    parts = [dict(part) for part in content if isinstance(part, Mapping)]
    for part in parts:
        if part.get("type") == "output_text":
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
        elif part.get("type") == "input_image" and part.get("detail") is None:
            part["detail"] = "auto"  # optional in a tool output, always reported
    return parts


# -- the pairing rules ----------------------------------------------------------------------------


def check_pairing(items: list[Item]) -> None:
    """No item twice; every tool call answered exactly once, no stray answers (module doc)."""
    for find, message, ours in _PAIRING_RULES:
        found = find(items)
        if found is not None:
            words = message.format(found)
            if ours:
                raise scripted_failure(400, words, param="input")
            raise ApiFailure(400, words, param="input")


def _calls_and_answers(
    items: Iterable[Mapping[str, Any]],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Calls (keyed by the answer type they expect) and answers, as (type, call_id), in order."""
    calls: list[tuple[str, str]] = []
    answers: list[tuple[str, str]] = []
    for item in items:
        kind = item.get("type")
        if kind in CALL_ANSWERS:
            calls.append((CALL_ANSWERS[kind], str(item.get("call_id"))))
        elif kind in CALL_ANSWERS.values():
            answers.append((str(kind), str(item.get("call_id"))))
    return calls, answers


def unanswered_call(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool call with no matching output among ``items``."""
    calls, answers = _calls_and_answers(items)
    answered = set(answers)
    return next((call[1] for call in calls if call not in answered), None)


def orphan_output(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool output that answers no call among ``items``."""
    calls, answers = _calls_and_answers(items)
    made = set(calls)
    return next((answer[1] for answer in answers if answer not in made), None)


def repeated_output(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The ``call_id`` of the first tool call answered more than once among ``items``."""
    _, answers = _calls_and_answers(items)
    seen: set[tuple[str, str]] = set()
    for answer in answers:
        if answer in seen:
            return answer[1]
        seen.add(answer)
    return None


def repeated_id(items: Iterable[Mapping[str, Any]]) -> str | None:
    """The first item ``id`` that occurs twice among ``items`` (a client re-sending an item the
    context already holds, such as a ``function_call`` next to its output)."""
    seen: set[str] = set()
    for item in items:
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in seen:
                return item_id
            seen.add(item_id)
    return None


#: Each rule: what finds the first offending id, the message for it, and whether the message
#: is ours (the real one is unverified). In the order the real API checks them.
_PAIRING_RULES: tuple[tuple[Callable[[list[Item]], str | None], str, bool], ...] = (
    (
        repeated_id,
        "Duplicate item found with id {}. Remove duplicate items from your input and try again.",
        False,
    ),
    (orphan_output, "No tool call found for function call output with call_id {}.", False),
    (
        repeated_output,
        "Duplicate function_call_output for call_id {}: each function_call takes exactly one "
        "output.",
        True,
    ),
    (unanswered_call, "No tool output found for function call {}.", False),
)
