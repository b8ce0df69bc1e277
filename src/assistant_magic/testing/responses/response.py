"""One server-side response: its Response object, its output items, and how it ends.

The class is a :class:`Turn` (one model turn of the conversation); :func:`initial_resource` is
the Response object it starts as.

A turn is driven by an event generator (streaming, draining in the background, or inline) and may
be ended from outside: ``POST /responses/{id}/cancel`` or a client that hangs up mid-stream. All
changes go through here, under the state lock, so the stored Response, the conversation and the
stream agree.

An interrupted message is kept as an ``incomplete`` item (the text so far is worth reading). An
interrupted ``function_call`` is dropped: a half-streamed call cannot be run, and keeping it would
leave the conversation holding a call that blocks the next response until answered. Calls that
completed before the interruption stay, and do block until the client sends their outputs.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..items import Item, new_id
from ..state import Conversation, ServerState

FINAL_STATUSES = frozenset({"completed", "failed", "incomplete", "cancelled"})
#: Output item types kept, marked ``incomplete``, when the turn ends while they stream.
KEPT_WHEN_INTERRUPTED = frozenset({"message"})


# Fields the real API echoes from the request, with the value it reports when omitted.
_ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "store": True,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
}


def initial_resource(body: Mapping[str, Any], *, conversation_id: str | None) -> dict[str, Any]:
    """A new Response carrying every field the spec requires, before any output.

    ``usage`` is left out rather than null until the end: the spec types it as an object.
    """
    resource: dict[str, Any] = {
        "id": new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "background": bool(body.get("background")),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": body.get("model"),
        "output": [],
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "conversation": {"id": conversation_id} if conversation_id else None,
    }
    for name, default in _ECHOED_DEFAULTS.items():
        value = body.get(name)
        resource[name] = copy.deepcopy(value if value is not None else default)
    if isinstance(body.get("text"), Mapping):
        resource["text"].update(copy.deepcopy(dict(body["text"])))
    if isinstance(body.get("reasoning"), Mapping):
        resource["reasoning"].update(copy.deepcopy(dict(body["reasoning"])))
    return resource


class Turn:
    """One response from its acceptance to its end; ``resource`` is its Response object."""

    def __init__(
        self,
        state: ServerState,
        resource: dict[str, Any],
        *,
        conversation: Conversation | None,
        context_items: Sequence[Item],
        input_items: Sequence[Item],
    ) -> None:
        self.state = state
        self.resource = resource
        self.conversation = conversation
        self.context_items = list(context_items)
        self.input_items = list(input_items)
        self._open_item: Item | None = None

    @property
    def id(self) -> str:
        return str(self.resource["id"])

    @property
    def background(self) -> bool:
        return bool(self.resource.get("background"))

    @property
    def status(self) -> str:
        with self.state.lock:
            return str(self.resource["status"])

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    def begin(self) -> None:
        """The request was accepted: its input joins the conversation."""
        with self.state.lock:
            self.state.live.add(self)
            if self.conversation is not None:
                self.conversation.items.extend(copy.deepcopy(self.input_items))
            self.state.accepted(self.input_items)
            self.state.changed()

    def snapshot(self) -> dict[str, Any]:
        with self.state.lock:
            return copy.deepcopy(self.resource)

    def transcript(self) -> list[Item]:
        """Everything a follow-up with ``previous_response_id`` sees: context, input, output."""
        with self.state.lock:
            output = self.resource["output"]
            return copy.deepcopy([*self.context_items, *self.input_items, *output])

    def set_status(self, status: str) -> None:
        with self.state.lock:
            if not self.is_final:
                self.resource["status"] = status
                self.state.changed()

    def open_item(self, item: Item) -> None:
        """An output item started streaming; kept so an interruption can save what arrived."""
        with self.state.lock:
            self._open_item = copy.deepcopy(item)

    def grow_part(self, part: Mapping[str, Any]) -> None:
        """The open message's one content part (text or refusal) as streamed so far."""
        with self.state.lock:
            if self._open_item is not None:
                self._open_item["content"] = [dict(part)]

    def complete_item(self, item: Item) -> bool:
        """An output item is done: it joins the response's output and the conversation.

        False once the turn has ended: a cancel that raced the generator already kept the
        partial item, and a second copy must not follow it.
        """
        with self.state.lock:
            if self.is_final:
                return False
            self._keep(item)
            return True

    def _keep(self, item: Item) -> None:
        self._open_item = None
        self.resource["output"].append(copy.deepcopy(item))
        if self.conversation is not None:
            self.conversation.items.append(copy.deepcopy(item))
        self.state.changed()

    def finish(self, status: str, **fields: Any) -> bool:
        """End the turn once; False if it had already ended (cancelled while generating)."""
        with self.state.lock:
            if self.is_final:
                return False
            self.resource["status"] = status
            self.resource["completed_at"] = int(time.time()) if status == "completed" else None
            self.resource.update(fields)
            self.state.live.discard(self)
            self.state.changed()
            return True

    def fail(self, code: str, message: str) -> bool:
        with self.state.lock:
            self._open_item = None  # a failed item never completes, so nothing is kept
            return self.finish("failed", error={"code": code, "message": message})

    def cancel(self) -> bool:
        """Stop now, keeping a partial message as an ``incomplete`` item (a call is dropped)."""
        with self.state.lock:
            if self.is_final:
                return False
            partial = self._open_item
            if partial is not None and partial.get("type") in KEPT_WHEN_INTERRUPTED:
                partial["status"] = "incomplete"
                self._keep(partial)
            return self.finish("cancelled")

    def abandon(self) -> None:
        """The streaming client hung up: recorded, and the turn stops as a cancellation."""
        with self.state.lock:
            self.state.disconnects.append(self.id)
            self.cancel()
            self.state.changed()
