"""The Conversations API: conversations and their items, as ``POST /v1/responses`` extends them.

Images and files in added items are checked as in response input (see ``attachments``).
"""

from __future__ import annotations

import copy
from typing import Any

from ..attachments import attachments
from ..crud import Collection, find_listed
from ..items import Item, new_id
from ..routing import Routes
from ..state import Conversation, ServerState
from ..wire import Answer, ApiFailure, JsonAnswer, RecordedRequest, json_object, not_found
from .input import input_items

_ITEM = "/conversations/{conversation_id}/items/{item_id}"


class ConversationsApi:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.conversations = Collection(
            state,
            "/conversations/{conversation_id}",
            state.conversations,
            _no_conversation,
            Conversation.resource,
        )

    def register(self, routes: Routes) -> None:
        self.conversations.register(routes, create=self.create, update=self.update)
        routes.add("GET", "/conversations/{conversation_id}/items", self.list_items)
        routes.add("POST", "/conversations/{conversation_id}/items", self.add_items)
        routes.add("GET", _ITEM, self.get_item)
        routes.add("DELETE", _ITEM, self.delete_item)

    def _checked(self, items: list[Item]) -> list[Item]:
        """Items whose images and files pass the same checks as response input."""
        with self.state.lock:
            uploads = dict(self.state.files)
        attachments(items, uploads, param="items")
        return items

    def create(self, request: RecordedRequest) -> Answer:
        body = json_object(request.body)
        conversation = Conversation(new_id("conv"), dict(body.get("metadata") or {}))
        conversation.items.extend(self._checked(input_items(body.get("items") or [])))
        with self.state.lock:
            self.state.conversations[conversation.id] = conversation
            self.state.accepted(conversation.items)
            self.state.changed()
        return JsonAnswer(conversation.resource())

    def update(self, request: RecordedRequest) -> Answer:
        conversation = self.conversations.find(request)
        with self.state.lock:
            conversation.metadata = dict(json_object(request.body).get("metadata") or {})
            self.state.changed()
        return JsonAnswer(conversation.resource())

    # -- items: a list, in the order the model reads them ----------------------------------

    def list_items(self, request: RecordedRequest) -> Answer:
        conversation = self.conversations.find(request)
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
        conversation = self.conversations.find(request)
        added = self._checked(input_items(json_object(request.body).get("items") or []))
        with self.state.lock:
            conversation.items.extend(copy.deepcopy(added))
            self.state.accepted(added)
            self.state.changed()
        return JsonAnswer(item_list(added, has_more=False))

    def get_item(self, request: RecordedRequest) -> Answer:
        _, item = self._item(request)
        with self.state.lock:
            return JsonAnswer(copy.deepcopy(item))

    def delete_item(self, request: RecordedRequest) -> Answer:
        """Answers with the conversation, not the item: that is what the spec and SDK expect."""
        with self.state.lock:
            conversation, item = self._item(request)
            conversation.items.remove(item)
            self.state.changed()
        return JsonAnswer(conversation.resource())

    def _item(self, request: RecordedRequest) -> tuple[Conversation, Item]:
        conversation = self.conversations.find(request)
        item_id = request.param("item_id")
        missing = not_found("Item", item_id)
        return conversation, find_listed(self.state, conversation.items, item_id, missing)


def _no_conversation(request: RecordedRequest) -> ApiFailure:
    return not_found("Conversation", request.param("conversation_id"))


def item_list(items: list[Item], *, has_more: bool) -> dict[str, Any]:
    # The spec types first_id/last_id as strings; for an empty page "" keeps that promise.
    return {
        "object": "list",
        "data": items,
        "first_id": items[0]["id"] if items else "",
        "last_id": items[-1]["id"] if items else "",
        "has_more": has_more,
    }


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
