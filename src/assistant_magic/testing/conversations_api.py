"""The Conversations API: conversations and their items.

Images and files in added items are checked as in response input (see ``attachments``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .attachments import attachments
from .items import Item, input_items, new_id
from .routing import Router
from .state import Conversation, ServerState
from .wire import Answer, ApiFailure, JsonAnswer, RecordedRequest, not_found


class ConversationsApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state

    def register(self, router: Router) -> None:
        router.add("POST", "/conversations", self.create)
        router.add("GET", "/conversations/{conversation_id}", self.retrieve)
        router.add("POST", "/conversations/{conversation_id}", self.update)
        router.add("DELETE", "/conversations/{conversation_id}", self.delete)
        router.add("GET", "/conversations/{conversation_id}/items", self.list_items)
        router.add("POST", "/conversations/{conversation_id}/items", self.add_items)
        router.add("GET", "/conversations/{conversation_id}/items/{item_id}", self.get_item)
        router.add("DELETE", "/conversations/{conversation_id}/items/{item_id}", self.delete_item)

    def _conversation(self, request: RecordedRequest) -> Conversation:
        conversation_id = request.param("conversation_id")
        with self.state.lock:
            conversation = self.state.conversations.get(conversation_id)
        if conversation is None:
            raise not_found("Conversation", conversation_id)
        return conversation

    def _checked(self, items: list[Item]) -> list[Item]:
        """Items whose images and files pass the same checks as response input."""
        with self.state.lock:
            uploads = dict(self.state.files)
        attachments(items, uploads, param="items")
        return items

    def create(self, request: RecordedRequest) -> Answer:
        body = _object(request.body)
        conversation = Conversation(new_id("conv"), dict(body.get("metadata") or {}))
        conversation.items.extend(self._checked(input_items(body.get("items") or [])))
        with self.state.lock:
            self.state.conversations[conversation.id] = conversation
            self.state.accepted(conversation.items)
            self.state.changed()
        return JsonAnswer(conversation.resource())

    def retrieve(self, request: RecordedRequest) -> Answer:
        return JsonAnswer(self._conversation(request).resource())

    def update(self, request: RecordedRequest) -> Answer:
        conversation = self._conversation(request)
        with self.state.lock:
            conversation.metadata = dict(_object(request.body).get("metadata") or {})
            self.state.changed()
        return JsonAnswer(conversation.resource())

    def delete(self, request: RecordedRequest) -> Answer:
        conversation = self._conversation(request)
        with self.state.lock:
            self.state.conversations.pop(conversation.id, None)
            self.state.changed()
        deleted = {"id": conversation.id, "object": "conversation.deleted", "deleted": True}
        return JsonAnswer(deleted)

    def list_items(self, request: RecordedRequest) -> Answer:
        conversation = self._conversation(request)
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiFailure(400, f"Invalid value for 'order': '{order}'.", param="order")
        limit = _limit(request.query.get("limit", "20"))
        with self.state.lock:
            items = copy.deepcopy(conversation.items)
        if order == "desc":
            items.reverse()
        after = request.query.get("after")
        if after:
            ids = [item.get("id") for item in items]
            if after not in ids:
                raise not_found("Item", after, param="after")
            items = items[ids.index(after) + 1 :]
        page = items[:limit]
        return JsonAnswer(item_list(page, has_more=len(items) > limit))

    def add_items(self, request: RecordedRequest) -> Answer:
        conversation = self._conversation(request)
        added = self._checked(input_items(_object(request.body).get("items") or []))
        with self.state.lock:
            conversation.items.extend(copy.deepcopy(added))
            self.state.accepted(added)
            self.state.changed()
        return JsonAnswer(item_list(added, has_more=False))

    def get_item(self, request: RecordedRequest) -> Answer:
        conversation = self._conversation(request)
        with self.state.lock:
            item = copy.deepcopy(conversation.find(request.param("item_id")))
        if item is None:
            raise not_found("Item", request.param("item_id"))
        return JsonAnswer(item)

    def delete_item(self, request: RecordedRequest) -> Answer:
        """Answers with the conversation, not the item: that is what the spec and SDK expect."""
        conversation = self._conversation(request)
        item_id = request.param("item_id")
        with self.state.lock:
            item = conversation.find(item_id)
            if item is None:
                raise not_found("Item", item_id)
            conversation.items.remove(item)
            self.state.changed()
        return JsonAnswer(conversation.resource())


def item_list(items: list[Item], *, has_more: bool) -> dict[str, Any]:
    # The spec types first_id/last_id as strings; for an empty page "" keeps that promise.
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else "",
        "last_id": items[-1]["id"] if items else "",
        "has_more": has_more,
    }


def _object(body: object) -> Mapping[str, Any]:
    return body if isinstance(body, Mapping) else {}


def _limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiFailure(
            400, f"Invalid 'limit': integer between 1 and 100 expected, got {raw}.", param="limit"
        )
    return limit
