"""What the APIs that keep objects share: a collection's routes, lookup or 404, deletion, pages.

Files, containers and their files, vector stores and their files, conversations, responses,
assistants and threads are served alike: ``POST <path>`` creates, ``GET <path>`` lists,
``GET <path>/{id}`` retrieves, ``POST <path>/{id}`` modifies and ``DELETE <path>/{id}`` deletes;
an unknown id is a 404 in that API's own words, and a deletion answers ``{"id", "object",
"deleted": true}``. Objects kept in a list on their parent (a thread's messages, a
conversation's items) are found with :func:`find_listed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .routing import Handler, Routes
from .state import ServerState, by_id
from .wire import Answer, ApiFailure, JsonAnswer, RecordedRequest, scripted_failure

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Collection(Generic[T]):
    """The objects of one kind, kept by id, that an API serves at ``template``
    (``"/containers/{container_id}/files/{file_id}"``) and at the path above it.

    ``table``: the dict holding them, or for a nested kind a function giving the one the
    request's path names (a container's ``files``). ``missing``: the API's 404 for the request's
    unknown id. ``show``: an object as answered. ``deleted_as``: the ``object`` a deletion
    answers with (default: the shown object's, plus ``.deleted``).
    """

    state: ServerState
    template: str
    table: dict[str, T] | Callable[[RecordedRequest], dict[str, T]]
    missing: Callable[[RecordedRequest], ApiFailure]
    show: Callable[[T], Any]
    deleted_as: str | None = None

    @property
    def path(self) -> str:
        return self.template.rsplit("/", 1)[0]

    @property
    def param(self) -> str:
        return self.template.rsplit("/", 1)[1].strip("{}")

    def register(
        self,
        routes: Routes,
        *,
        create: Handler | None = None,
        listing: Handler | None = None,
        retrieve: Handler | None = None,
        update: Handler | None = None,
    ) -> None:
        """Route the operations the API offers; retrieve and delete default to the plain ones."""
        offered = [
            ("POST", self.path, create),
            ("GET", self.path, listing),
            ("GET", self.template, retrieve or self.retrieve),
            ("POST", self.template, update),
            ("DELETE", self.template, self.delete),
        ]
        for method, template, handler in offered:
            if handler is not None:
                routes.add(method, template, handler)

    def find(self, request: RecordedRequest) -> T:
        """The object the request's path names, or the API's 404."""
        with self.state.lock:
            found = self._objects(request).get(request.param(self.param))
        if found is None:
            raise self.missing(request)
        return found

    def retrieve(self, request: RecordedRequest) -> Answer:
        return JsonAnswer(self.show(self.find(request)))

    def delete(self, request: RecordedRequest) -> Answer:
        ident = request.param(self.param)
        with self.state.lock:
            shown = self.show(self.find(request))
            del self._objects(request)[ident]
            self.state.changed()
        deleted_as = self.deleted_as or f"{shown['object']}.deleted"
        return JsonAnswer({"id": ident, "object": deleted_as, "deleted": True})

    def within(
        self,
        template: str,
        table: Callable[[T], dict[str, U]],
        missing: Callable[[RecordedRequest], ApiFailure],
        show: Callable[[U], Any],
    ) -> Collection[U]:
        """The objects of another kind each of these holds (``table``: a container's files),
        served at ``template`` below this one's (``"files/{file_id}"``)."""
        return Collection(
            self.state,
            f"{self.template}/{template}",
            lambda request: table(self.find(request)),
            missing,
            show,
        )

    def _objects(self, request: RecordedRequest) -> dict[str, T]:
        return self.table if isinstance(self.table, dict) else self.table(request)


def find_listed(
    state: ServerState, objects: list[dict[str, Any]], ident: str, missing: ApiFailure
) -> dict[str, Any]:
    """The object with id ``ident`` among ``objects`` (kept in a list on their parent, in order:
    a thread's messages, a conversation's items), or the API's 404, ``missing``."""
    with state.lock:
        found = by_id(objects, ident)
    if found is None:
        raise missing
    return found


def list_page(
    resources: list[dict[str, Any]],
    query: dict[str, str],
    *,
    default_limit: int = 20,
    max_limit: int | None = 100,
) -> dict[str, Any]:
    """One page of a cursor-paginated list (``resources`` oldest first): ``order`` (default
    "desc"), ``limit``, ``after`` and ``before`` (the page just before that id) from the query,
    in the spec's list envelope."""
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiFailure(400, f"Invalid value for 'order': '{order}'.", param="order")
    raw = query.get("limit", str(default_limit))
    limit = int(raw) if raw.isdigit() else 0
    if limit < 1 or (max_limit is not None and limit > max_limit):
        raise scripted_failure(400, f"Invalid 'limit': {raw}.", param="limit")
    ordered = resources if order == "asc" else resources[::-1]
    after = query.get("after")
    if after:
        ids = [resource.get("id") for resource in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    before = query.get("before")
    if before:
        ids = [resource.get("id") for resource in ordered]
        ordered = ordered[: ids.index(before)] if before in ids else []
    page = ordered[-limit:] if before and not after else ordered[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else "",
        "last_id": page[-1]["id"] if page else "",
        "has_more": len(ordered) > limit,
    }
