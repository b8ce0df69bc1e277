"""Each request's way through the server: record, authenticate, route, check, handle, check.

In that order: the request is recorded, its key checked, its path routed, its body checked
against the spec, the API family's handler answers, and what goes out is checked too. With
OpenAI's OpenAPI document (see ``openapi``) every request body, JSON answer and stream event is
checked, and mismatches collect in ``validation_errors``: a test then fails, whether the client
or the server drifted from the real API.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator

from .multipart import MultipartForm
from .openapi import TrafficValidator
from .routing import Route, Router
from .state import ServerState
from .wire import (
    Answer,
    ApiFailure,
    Event,
    EventStream,
    JsonAnswer,
    RecordedRequest,
    scripted_failure,
)

_MISSING_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with "
    "blank username) if you're accessing the API from your browser and are prompted for a "
    "username and password. You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
_BAD_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
    "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was "
    "not valid JSON. If you have trouble figuring out how to fix this, please contact us through "
    "our help center at help.openai.com.)"
)


class Pipeline:
    """``api_key``: the bearer key every request must carry (None: no auth). ``validator``: the
    spec's checks (None: the traffic goes unchecked). ``latency``: seconds each request waits
    before it is handled, as a remote server and its model take time."""

    def __init__(
        self,
        state: ServerState,
        router: Router,
        validator: TrafficValidator | None,
        api_key: str | None,
    ) -> None:
        self._state = state
        self._router = router
        self.validator = validator
        self.api_key = api_key
        self.latency = 0.0

    def respond(
        self,
        request: RecordedRequest,
        *,
        unparsable: bool = False,
        before_send: Callable[[str], None] | None = None,
    ) -> Answer:
        """Everything between reading a request and writing the answer (``unparsable``: its
        body was not the JSON it claimed to be)."""
        with self._state.lock:
            self._state.requests.append(request)
            self._state.changed()
        if self.latency > 0:
            time.sleep(self.latency)  # on the request's own thread: requests still overlap
        path = request.path.removeprefix("/v1") if request.path.startswith("/v1/") else None
        answer = self._handled(request, path, authenticate=True, unparsable=unparsable)
        self._note_rejection(request, answer)
        return _tapped(request, answer, before_send)

    def dispatch(self, method: str, path: str, body: object) -> Answer:
        """Answer ``method path`` (``/v1/responses``) with ``body`` as a live request would be,
        checks included, but neither recorded nor authenticated: how a batch plays each line
        of its input file (the batch itself was both)."""
        request = RecordedRequest(method, path, {}, {}, body, time.monotonic())
        inner = path.removeprefix("/v1") if path.startswith("/v1/") else None
        return self._handled(request, inner, authenticate=False)

    def _handled(
        self,
        request: RecordedRequest,
        path: str | None,
        *,
        authenticate: bool,
        unparsable: bool = False,
    ) -> Answer:
        """Authenticate, route, check, handle, check what goes out (``path`` without /v1)."""
        try:
            if authenticate:
                self._authenticate(request.headers.get("authorization"))
            if path is None:
                raise ApiFailure(404, f"Invalid URL ({request.method} {request.path})")
            route, params = self._router.resolve(request.method, path)
            if unparsable:
                raise ApiFailure(400, _BAD_JSON)
            self._check_request(request.method, path, request.body, route)
            answer = route.handler(dataclasses.replace(request, params=params))
        except ApiFailure as failure:
            answer = failure.answer()
        except Exception as exc:  # a bug here must fail the test, not be retried by the SDK
            self._record([f"server bug on {request.method} {request.path}: {exc!r}"])
            answer = ApiFailure(
                500, f"{exc!r}", type="server_error", headers={"x-should-retry": "false"}
            ).answer()
        return self._validated(request, path, answer)

    def _validated(self, request: RecordedRequest, path: str | None, answer: Answer) -> Answer:
        if isinstance(answer, EventStream):
            events = self._checked_events(request.method, path, answer)
            return EventStream(events, answer.on_disconnect, answer.dialect)
        if isinstance(answer, JsonAnswer) and self.validator is not None and path is not None:
            self._record(
                self.validator.answer_violations(request.method, path, answer.status, answer.body)
            )
        return answer

    def _checked_events(
        self, method: str, path: str | None, stream: EventStream
    ) -> Generator[Event, None, None]:
        """The stream's events, each checked by its dialect's rules as it goes out."""
        if stream.dialect == "chat":
            for number, chunk in enumerate(stream.events):
                if self.validator is not None and path is not None:
                    self._record(self.validator.chunk_violations(method, path, chunk, number))
                yield chunk
            return
        check = self.check_assistant_event if stream.dialect == "assistants" else self.check_event
        for event in stream.events:
            check(event)
            yield event

    def _note_rejection(self, request: RecordedRequest, answer: Answer) -> None:
        if isinstance(answer, JsonAnswer) and answer.status >= 400:
            error = answer.body.get("error") if isinstance(answer.body, dict) else None
            message = error.get("message") if isinstance(error, dict) else answer.body
            with self._state.lock:
                self._state.rejections.append(
                    f"{request.method} {request.path} {answer.status}: {message}"
                )
                self._state.changed()

    def _authenticate(self, authorization: str | None) -> None:
        if self.api_key is None:
            return
        if not authorization:
            raise ApiFailure(401, _MISSING_KEY)
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or key.strip() != self.api_key:
            raise ApiFailure(
                401,
                f"Incorrect API key provided: {mask_key(key.strip())}. You can find your API key "
                "at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _check_request(self, method: str, path: str, body: object, route: Route) -> None:
        if self.validator is None:
            return
        if isinstance(body, MultipartForm):
            problems = self.validator.form_violations(method, path, body.fields, body.files)
            if problems:
                self._record(problems)
                raise scripted_failure(400, problems[0])
            return
        unknown = self.validator.unknown_parameters(method, path, body)
        if unknown:
            self._record(
                [f"{method} /v1{path} request body: unknown parameter {name!r}" for name in unknown]
            )
            noun = "argument" if len(unknown) == 1 else "arguments"
            raise ApiFailure(400, f"Unrecognized request {noun} supplied: {', '.join(unknown)}")
        problems = self.validator.request_violations(method, path, body)
        if problems:
            self._record(problems)
            known = route.rejection(body) if route.rejection is not None else None
            if known is not None:
                raise known  # the real API's words for this one
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise scripted_failure(400, problems[0] + more)

    def check_event(self, event: Event) -> None:
        """Check a Responses stream event (also one generated with no client reading it)."""
        if self.validator is not None:
            self._record(self.validator.event_violations(event))

    def check_assistant_event(self, event: Event) -> None:
        """Check an Assistants API stream event (also one a polled run plays unread)."""
        if self.validator is not None:
            self._record(self.validator.assistant_event_violations(event))

    def _record(self, messages: list[str]) -> None:
        self._state.report(messages)


def _tapped(request: RecordedRequest, answer: Answer, tap: Callable[[str], None] | None) -> Answer:
    """The answer, with ``tap`` called before it and each of its events goes out."""
    if tap is None:
        return answer
    where = f"{request.method} {request.path}"
    if not isinstance(answer, EventStream):
        tap(f"{where} {getattr(answer, 'status', 'dropped')}")
        return answer
    tap(f"{where} stream")

    def events() -> Generator[Event, None, None]:
        try:
            for event in answer.events:
                tap(f"{where} event {event.get('type') or event.get('event') or 'chunk'}")
                yield event
        finally:
            answer.events.close()

    return EventStream(events(), answer.on_disconnect, answer.dialect)


def mask_key(key: str) -> str:
    """Show a key the way the API's 401 does: a few characters at each end."""
    if len(key) < 8:
        return "*" * len(key)
    return key[:5] + "*" * max(3, len(key) - 7) + key[-2:]
