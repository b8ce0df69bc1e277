"""Checks traffic against OpenAI's published OpenAPI description: loading the spec, and the checks.

The scripted server validates every request body it receives and every JSON answer and stream event
it sends, so a test fails when our client (or the server itself) drifts from the real API. How the
spec is read as JSON Schema is ``openapi_spec``'s business; the validator it compiles,
``openapi_schema``'s.

Stream events are checked per event against the union's branch for their name: a Responses event
by its ``type`` in ``ResponseStreamEvent``; an Assistants API event (``{"event", "data"}``) by its
``event`` in ``AssistantStreamEvent``, whose branches are themselves unions (``RunStreamEvent``,
``MessageStreamEvent``, ...) of one schema per event name.

Multipart uploads (``POST /files``) are not JSON: their fields are checked by hand against the
operation's form schema (:meth:`OpenApiSpec.form_problems`). Raw-bytes answers (file contents) are
not checked at all: the spec types ``GET /files/{file_id}/content`` as a JSON string.

The 3.4 MB document is loaded once per process and validators are compiled per schema on first use.

Validation needs ``jsonschema`` and ``referencing``, which come with the ``[test]`` extra and not
with the base install. The base install still registers the pytest plugin for every pytest run in
its environment, so this module imports them only once a spec is loaded. Without them,
:func:`traffic_validator` (what ``ScriptedServer(openapi=...)`` calls) warns in one line
(:class:`ValidationUnavailableWarning`, naming ``pip install "assistant-magic[test]"``) and
returns None: the server runs, unchecked. :func:`load_spec` and :class:`OpenApiSpec`, which exist
only to validate, raise ``ModuleNotFoundError`` with the same advice instead.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from .openapi_spec import (
    ERROR_SCHEMA,
    INSTALL_HINT,
    OpenApiSpec,
    missing_validation_modules,
    require_validation_modules,
)
from .wire import is_error_frame

#: Where to find the spec when no path is given explicitly.
SPEC_ENV_VAR = "ASSISTANT_MAGIC_OPENAPI"


class ValidationUnavailableWarning(UserWarning):
    """A spec was given, but jsonschema or referencing is missing: traffic goes unchecked."""


def unvalidated_reason(spec: str | os.PathLike[str]) -> str | None:
    """One line saying why traffic cannot be checked against ``spec``, or None if it can."""
    missing = missing_validation_modules()
    if not missing:
        return None
    verb = "is" if len(missing) == 1 else "are"
    return (
        f"traffic is not validated against {spec}: {' and '.join(missing)} {verb} not installed"
        f" ({INSTALL_HINT})"
    )


def traffic_validator(openapi: str | os.PathLike[str] | None) -> TrafficValidator | None:
    """The validator for ``openapi`` (else ``$ASSISTANT_MAGIC_OPENAPI``), or None: no spec, or
    a spec but not the modules to check it, which a :class:`ValidationUnavailableWarning` says.

    A warning, not an error: the server is still worth running unchecked, and a test suite that
    wants the opposite turns the warning into an error with ``-W error``.
    """
    path = resolve_spec_path(openapi)
    if path is None:
        return None
    reason = unvalidated_reason(path)
    if reason is not None:
        # stacklevel 3: the warning points at the code that built the ScriptedServer.
        warnings.warn(reason, ValidationUnavailableWarning, stacklevel=3)
        return None
    return TrafficValidator(load_spec(path))


def resolve_spec_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The spec to use: the explicit path, else ``$ASSISTANT_MAGIC_OPENAPI``, else none."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(SPEC_ENV_VAR)
    return Path(from_env) if from_env else None


def load_spec(path: str | os.PathLike[str]) -> OpenApiSpec:
    """The spec at ``path``, parsed once per process however many servers use it."""
    require_validation_modules()  # before reading 3.4 MB that could not be used
    return _load_cached(Path(path).resolve())


@cache
def _load_cached(path: Path) -> OpenApiSpec:
    with path.open(encoding="utf-8") as handle:
        return OpenApiSpec(json.load(handle))


class TrafficValidator:
    """The checks the server runs on each exchange, phrased as HTTP-level questions."""

    def __init__(self, spec: OpenApiSpec) -> None:
        self.spec = spec

    def unknown_parameters(self, method: str, path: str, body: object) -> list[str]:
        """Top-level body keys the operation's schema does not declare (the API rejects them)."""
        operation = self.spec.operation(method, path)
        if operation is None or operation.request_schema is None or not isinstance(body, dict):
            return []
        allowed = self.spec.allowed_properties(operation.request_schema)
        if allowed is None:
            return []
        return [name for name in body if name not in allowed]

    def request_violations(self, method: str, path: str, body: object) -> list[str]:
        operation = self.spec.operation(method, path)
        if operation is None or operation.request_schema is None:
            return []
        label = f"{method} /v1{path} request body"
        if body is None:
            return [f"{label}: a JSON body is required"] if operation.body_required else []
        return self._violations(label, operation.request_schema, body)

    def form_violations(
        self, method: str, path: str, fields: Mapping[str, str], files: Iterable[str]
    ) -> list[str]:
        """A multipart body checked by hand against the operation's form schema (see
        :meth:`OpenApiSpec.form_problems`); ``files`` names the parts that carry a file."""
        operation = self.spec.operation(method, path)
        if operation is None or operation.form_schema is None:
            return []
        label = f"{method} /v1{path} form"
        problems = self.spec.form_problems(operation.form_schema, fields, frozenset(files))
        return [f"{label}: {problem}" for problem in problems]

    def answer_violations(self, method: str, path: str, status: int, body: object) -> list[str]:
        operation = self.spec.operation(method, path)
        schema = operation.json_schema if operation else None
        if status >= 400:
            schema = ERROR_SCHEMA
        return self._violations(f"{method} /v1{path} answer {status}", schema, body)

    def event_violations(self, event: Mapping[str, Any]) -> list[str]:
        label = f"stream event {event.get('type')!r} #{event.get('sequence_number')}"
        return self._violations(label, self.spec.event_schema(event.get("type")), event)

    def assistant_event_violations(self, event: Mapping[str, Any]) -> list[str]:
        """One Assistants API stream event, ``{"event": name, "data": object}``."""
        label = f"assistant stream event {event.get('event')!r}"
        return self._violations(label, self.spec.assistant_event_schema(event.get("event")), event)

    def chunk_violations(
        self, method: str, path: str, chunk: Mapping[str, Any], number: int
    ) -> list[str]:
        """One frame of a ``data:``-only stream (Chat Completions), the ``number``-th from 0:
        checked against the operation's ``text/event-stream`` schema, or an ``{"error": ...}``
        frame against the error envelope."""
        operation = self.spec.operation(method, path)
        schema = operation.event_schema if operation else None
        if is_error_frame(chunk):
            schema = ERROR_SCHEMA
        return self._violations(f"{method} /v1{path} stream chunk #{number}", schema, chunk)

    def _violations(self, label: str, schema: str | None, instance: object) -> list[str]:
        """How ``instance`` breaks ``schema`` (None: nothing to check), each under ``label``."""
        if schema is None:
            return []
        return [f"{label}: {v}" for v in self.spec.violations(schema, instance)]
