"""A table of (method, path template) -> handler, with templates spelled as in the OpenAPI spec."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .wire import Answer, ApiFailure, RecordedRequest

Handler = Callable[[RecordedRequest], Answer]
#: Given a request body the spec rejects, the error the real API answers (None: not known, so
#: the server answers with the spec's complaint, marked as its own words).
Rejection = Callable[[Any], ApiFailure | None]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    rejection: Rejection | None = None


class Routes(Protocol):
    """Where an API registers its handlers: a :class:`Router`, or a :class:`Guarded` view."""

    def add(
        self, method: str, template: str, handler: Handler, *, rejection: Rejection | None = None
    ) -> None: ...


class Router:
    """Matches paths below /v1 (``/responses/resp_1``) to handlers.

    Templates use the spec's ``{name}`` placeholders, so a route's template also names the
    operation to validate against.
    """

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self, method: str, template: str, handler: Handler, *, rejection: Rejection | None = None
    ) -> None:
        route = Route(method.upper(), template, _compile(template), handler, rejection)
        self._routes.append(route)
        # Literal segments win over placeholders: /responses/compact before /responses/{id}.
        self._routes.sort(key=lambda route: route.template.count("{"))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match and route.method == method.upper():
                return route, match.groupdict()
        raise ApiFailure(404, f"Invalid URL ({method.upper()} /v1{path})")


@dataclass(frozen=True)
class Guarded:
    """Routes added through it answer only what ``guard`` lets through (the Assistants API's
    beta header, checked before any of its handlers runs)."""

    routes: Routes
    guard: Callable[[Handler], Handler]

    def add(
        self, method: str, template: str, handler: Handler, *, rejection: Rejection | None = None
    ) -> None:
        self.routes.add(method, template, self.guard(handler), rejection=rejection)


def _compile(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(regex)
