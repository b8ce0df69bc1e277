"""Checks traffic against OpenAI's published OpenAPI description.

The scripted server validates every request body it receives and every JSON answer and stream event
it sends, so a test fails when our client (or the server itself) drifts from the real API.

Three liberties are taken with plain JSON Schema, each because the spec means something else:

* OpenAPI 3.0 leftovers ``nullable: true`` are rewritten to ``anyOf [schema, {type: null}]``.
* ``oneOf`` is checked as "at least one" (``anyOf``): the spec's unions overlap (a message with a
  content list is both an ``EasyInputMessage`` and an ``InputMessage``), and the real API accepts
  such input, so exclusivity would reject valid traffic.
* Unions carrying a ``discriminator`` are narrowed by the tag first (``type: "message"`` only tries
  the branches whose ``type`` allows ``"message"``). That matches how the API dispatches, keeps
  validation fast, and makes errors name the one schema that applied instead of 30 branches.

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

import importlib.util
import json
import os
import re
import reprlib
import threading
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Test-only dependencies: imported at run time only once a spec is loaded (module docstring).
    from jsonschema import ValidationError

#: Where to find the spec when no path is given explicitly.
SPEC_ENV_VAR = "ASSISTANT_MAGIC_OPENAPI"

#: The advice given wherever validation is impossible for want of its dependencies.
INSTALL_HINT = 'pip install "assistant-magic[test]"'

# What validation imports; neither is a dependency of the base install.
_VALIDATION_MODULES = ("jsonschema", "referencing")

# The base URI the whole document is registered under; its internal "#/..." refs resolve inside it.
_DOC_URI = "urn:openai-openapi"
_STREAM_EVENT_UNION = "#/components/schemas/ResponseStreamEvent"
_ASSISTANT_EVENT_UNION = "#/components/schemas/AssistantStreamEvent"
ERROR_SCHEMA = "#/components/schemas/ErrorResponse"

_brief = reprlib.Repr()
_brief.maxstring = 60
_brief.maxother = 60
_brief.maxdict = 4
_brief.maxlist = 8


@dataclass(frozen=True)
class Operation:
    """One (method, path template) of the spec and the schemas that govern it."""

    method: str
    template: str
    request_schema: str | None
    body_required: bool
    json_schema: str | None
    event_schema: str | None
    form_schema: str | None = None


class ValidationUnavailableWarning(UserWarning):
    """A spec was given, but jsonschema or referencing is missing: traffic goes unchecked."""


def missing_validation_modules() -> list[str]:
    """The modules validation needs that are not installed; empty when it can run.

    Looked up without importing them, so asking costs nothing on the plugin's start-up path.
    """
    return [name for name in _VALIDATION_MODULES if importlib.util.find_spec(name) is None]


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
    _require_validation_modules()  # before reading 3.4 MB that could not be used
    return _load_cached(Path(path).resolve())


@cache
def _load_cached(path: Path) -> OpenApiSpec:
    with path.open(encoding="utf-8") as handle:
        return OpenApiSpec(json.load(handle))


class OpenApiSpec:
    """The parsed document: operations by method and path, and cached validators per schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        _require_validation_modules()
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        _rewrite_nullable(document)
        self._document = document
        resource: Resource[Any] = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
        self._validator_class = _union_aware_validator(document)
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._operations = _index_operations(document)
        self._event_schemas = _event_schemas_by_type(document)
        self._assistant_event_schemas = _assistant_event_schemas(document)

    @property
    def document(self) -> dict[str, Any]:
        """The parsed document (with ``nullable`` rewritten); treat it as read-only."""
        return self._document

    # -- lookups -----------------------------------------------------------------------------

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (a concrete path or a template, without /v1)."""
        for pattern, operations in self._operations:
            if pattern.fullmatch(path) and method.lower() in operations:
                return operations[method.lower()]
        return None

    def event_schema(self, event_type: object) -> str:
        """The schema for a stream event of this ``type``, or the whole union if unknown."""
        if isinstance(event_type, str) and event_type in self._event_schemas:
            return self._event_schemas[event_type]
        return _STREAM_EVENT_UNION

    def assistant_event_schema(self, name: object) -> str:
        """The schema for an Assistants API stream event named ``name`` (``thread.run.created``,
        ``done``, ...), or the whole union if unknown."""
        if isinstance(name, str) and name in self._assistant_event_schemas:
            return self._assistant_event_schemas[name]
        return _ASSISTANT_EVENT_UNION

    def allowed_properties(self, schema: str) -> frozenset[str] | None:
        """Top-level property names a request schema declares, or None if it allows any."""
        return _collect_properties(self._document, {"$ref": schema})

    # -- validation --------------------------------------------------------------------------

    def form_problems(
        self, schema: str, fields: Mapping[str, str], files: frozenset[str]
    ) -> list[str]:
        """Form fields are strings and files, not JSON, so they are checked by hand: required
        fields, unknown fields (``additionalProperties: false``), files where the schema wants
        ``format: binary``, enums, integers and their bounds. Nested objects arrive flattened
        (``expires_after[anchor]``) and are checked field by field."""
        values: dict[str, Any] = {name: _FILE for name in files}
        for name, value in fields.items():
            head, _, rest = name.partition("[")
            if rest.endswith("]") and "[" not in rest:
                nested = values.setdefault(head, {})
                if isinstance(nested, dict):
                    nested[rest[:-1]] = value
                    continue
            values[name] = value
        return _form_problems(self._document, {"$ref": schema}, values, prefix="")

    def violations(self, schema: str, instance: object) -> list[str]:
        """Readable messages for each way ``instance`` breaks ``schema`` (a local ref)."""
        errors = sorted(self._validator(schema).iter_errors(instance), key=lambda e: e.json_path)
        label = self.schema_name(schema)
        return [_describe(label, error) for error in errors]

    def schema_name(self, schema: str) -> str:
        """A short name for a schema pointer: the component it refers to, if any."""
        node = _lookup(self._document, schema)
        target = str(node.get("$ref", schema) if isinstance(node, dict) else schema)
        # "#/components/schemas/Foo" -> "Foo"; a branch inside one -> "Foo/oneOf/2"
        return "/".join(target.split("/")[3:]) if "/components/" in target else target

    def _validator(self, schema: str) -> Any:
        with self._lock:
            validator = self._validators.get(schema)
            if validator is None:
                ref = {"$ref": _DOC_URI + schema}
                validator = self._validator_class(ref, registry=self._registry)
                self._validators[schema] = validator
            return validator


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
        return [f"{label}: {v}" for v in self.spec.violations(operation.request_schema, body)]

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
        if status >= 400:
            schema: str | None = ERROR_SCHEMA
        else:
            operation = self.spec.operation(method, path)
            schema = operation.json_schema if operation else None
        if schema is None:
            return []
        label = f"{method} /v1{path} answer {status}"
        return [f"{label}: {v}" for v in self.spec.violations(schema, body)]

    def event_violations(self, event: Mapping[str, Any]) -> list[str]:
        schema = self.spec.event_schema(event.get("type"))
        label = f"stream event {event.get('type')!r} #{event.get('sequence_number')}"
        return [f"{label}: {v}" for v in self.spec.violations(schema, event)]

    def assistant_event_violations(self, event: Mapping[str, Any]) -> list[str]:
        """One Assistants API stream event, ``{"event": name, "data": object}``."""
        schema = self.spec.assistant_event_schema(event.get("event"))
        label = f"assistant stream event {event.get('event')!r}"
        return [f"{label}: {v}" for v in self.spec.violations(schema, event)]

    def chunk_violations(
        self, method: str, path: str, chunk: Mapping[str, Any], number: int
    ) -> list[str]:
        """One frame of a ``data:``-only stream (Chat Completions), the ``number``-th from 0:
        checked against the operation's ``text/event-stream`` schema, or an ``{"error": ...}``
        frame against the error envelope."""
        if "error" in chunk and "object" not in chunk:
            schema: str | None = ERROR_SCHEMA
        else:
            operation = self.spec.operation(method, path)
            schema = operation.event_schema if operation else None
        if schema is None:
            return []
        label = f"{method} /v1{path} stream chunk #{number}"
        return [f"{label}: {v}" for v in self.spec.violations(schema, chunk)]


def _require_validation_modules() -> None:
    """Fail in one line naming the extra, rather than on whichever import happens first."""
    missing = missing_validation_modules()
    if missing:
        needed = " and ".join(missing)
        raise ModuleNotFoundError(
            f"validating against OpenAI's OpenAPI spec needs {needed}: {INSTALL_HINT}",
            name=missing[0],
        )


# -- document preparation ----------------------------------------------------------------------


def _rewrite_nullable(node: Any) -> None:
    """Turn OpenAPI 3.0 ``nullable: true`` (ignored by JSON Schema) into an explicit null branch."""
    if isinstance(node, list):
        for child in node:
            _rewrite_nullable(child)
        return
    if not isinstance(node, dict):
        return
    for child in node.values():
        _rewrite_nullable(child)
    nullable = node.pop("nullable", None)
    if nullable is True:
        inner = dict(node)
        node.clear()
        node["anyOf"] = [inner, {"type": "null"}]


def _index_operations(
    document: Mapping[str, Any],
) -> list[tuple[re.Pattern[str], dict[str, Operation]]]:
    """Each path template as a regex, literal paths first so /responses/compact beats {id}."""
    indexed = []
    for template, item in document.get("paths", {}).items():
        if "?" in template:
            continue  # "?beta=true" variants are selected by a query flag we never send
        pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)))
        operations = {
            method: _operation(method, template, spec)
            for method, spec in item.items()
            if isinstance(spec, dict) and method in {"get", "post", "delete", "put", "patch"}
        }
        indexed.append((template.count("{"), pattern, operations))
    indexed.sort(key=lambda entry: entry[0])
    return [(pattern, operations) for _, pattern, operations in indexed]


def _operation(method: str, template: str, spec: Mapping[str, Any]) -> Operation:
    base = "#/paths/" + _escape_pointer(template) + "/" + method
    request = None
    if "application/json" in spec.get("requestBody", {}).get("content", {}):
        request = base + "/requestBody/content/application~1json/schema"
    answer = spec.get("responses", {}).get("200", {}).get("content", {})
    json_schema = (
        base + "/responses/200/content/application~1json/schema"
        if "application/json" in answer
        else None
    )
    event_schema = (
        base + "/responses/200/content/text~1event-stream/schema"
        if "text/event-stream" in answer
        else None
    )
    form = None
    if "multipart/form-data" in spec.get("requestBody", {}).get("content", {}):
        form = base + "/requestBody/content/multipart~1form-data/schema"
    required = bool(spec.get("requestBody", {}).get("required"))
    return Operation(method.upper(), template, request, required, json_schema, event_schema, form)


def _escape_pointer(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _event_schemas_by_type(document: Mapping[str, Any]) -> dict[str, str]:
    union = document.get("components", {}).get("schemas", {}).get("ResponseStreamEvent", {})
    table: dict[str, str] = {}
    for branch in union.get("anyOf", []) + union.get("oneOf", []):
        ref = branch.get("$ref")
        values = _tag_values(document, branch, "type")
        if ref and values:
            table.update(dict.fromkeys(values, ref))
    return table


def _assistant_event_schemas(document: Mapping[str, Any]) -> dict[str, str]:
    """Event name -> schema pointer, through the union of unions (``RunStreamEvent`` holds one
    inline branch per ``thread.run.*`` event)."""
    union = document.get("components", {}).get("schemas", {}).get("AssistantStreamEvent", {})
    table: dict[str, str] = {}
    for branch in union.get("oneOf", []):
        ref = branch.get("$ref")
        target = _deref(document, branch)
        if not ref or not isinstance(target, dict):
            continue
        nested = target.get("oneOf")
        members = enumerate(nested) if nested else [(None, target)]
        for index, member in members:
            names = _tag_values(document, member, "event")
            pointer = ref if index is None else f"{ref}/oneOf/{index}"
            table.update(dict.fromkeys(names or (), pointer))
    return table


def _lookup(document: Mapping[str, Any], ref: str) -> Any:
    node: Any = document
    for token in ref.removeprefix("#/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _deref(document: Mapping[str, Any], schema: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        schema = _lookup(document, ref)
        seen += 1
    return schema


def _collect_properties(document: Mapping[str, Any], schema: Any) -> frozenset[str] | None:
    schema = _deref(document, schema)
    if not isinstance(schema, dict):
        return None
    names: set[str] = set(schema.get("properties", {}))
    if isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"]:
        return None  # a map: any key is fine
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            found = _collect_properties(document, sub)
            target = _deref(document, sub)
            if found is None and isinstance(target, dict) and target.get("type") == "object":
                return None  # an object part that declares nothing: any key may belong to it
            names |= found or set()
    return frozenset(names) if names else None


_FILE = object()  # a form value that is a file part


def _form_problems(
    document: Mapping[str, Any], schema: Any, values: Mapping[str, Any], *, prefix: str
) -> list[str]:
    schema = _deref(document, schema)
    if not isinstance(schema, dict):
        return []
    properties = schema.get("properties", {})
    problems = [
        f"'{prefix}{name}' is a required field"
        for name in schema.get("required", [])
        if name not in values
    ]
    for name, value in values.items():
        where = f"'{prefix}{name}'"
        if name not in properties:
            if schema.get("additionalProperties") is False:
                problems.append(f"{where} is not a field of this form")
            continue
        field = _deref(document, properties[name])
        field = field if isinstance(field, dict) else {}
        binary = field.get("format") == "binary"
        if binary or value is _FILE:
            if binary != (value is _FILE):
                problems.append(f"{where} must {'' if binary else 'not '}be a file part")
        elif isinstance(value, dict):
            if field.get("type") == "object":
                problems += _form_problems(document, field, value, prefix=f"{prefix}{name}.")
            else:
                problems.append(f"{where} is not an object")
        else:
            problems += _form_value_problems(where, field, value)
    return problems


def _form_value_problems(where: str, field: Mapping[str, Any], value: str) -> list[str]:
    if "enum" in field and value not in field["enum"]:
        return [f"{where}: {value!r} is not one of {_brief.repr(field['enum'])}"]
    if field.get("type") == "integer":
        try:
            number = int(value)
        except ValueError:
            return [f"{where}: {value!r} is not an integer"]
        if "minimum" in field and number < field["minimum"]:
            return [f"{where}: {number} is less than the minimum of {field['minimum']}"]
        if "maximum" in field and number > field["maximum"]:
            return [f"{where}: {number} is greater than the maximum of {field['maximum']}"]
    return []


# -- unions --------------------------------------------------------------------------------------


def _tag_values(document: Mapping[str, Any], schema: Any, prop: str) -> frozenset[str] | None:
    """The values a branch allows for its discriminator property, or None if unconstrained."""
    schema = _deref(document, schema)
    if not isinstance(schema, dict):
        return None
    declared = _deref(document, schema.get("properties", {}).get(prop))
    if isinstance(declared, dict):
        if "const" in declared:
            return frozenset([declared["const"]])
        if isinstance(declared.get("enum"), list):
            return frozenset(v for v in declared["enum"] if isinstance(v, str))
    for sub in schema.get("allOf", []):
        found = _tag_values(document, sub, prop)
        if found is not None:
            return found
    return None


def _union_aware_validator(document: Mapping[str, Any]) -> Any:
    """A Draft 2020-12 validator class whose ``oneOf``/``anyOf`` follow the module docstring."""
    from jsonschema import Draft202012Validator, ValidationError, validators

    # Branches are dicts inside the long-lived document, so their ids are stable keys.
    tag_cache: dict[tuple[int, str], frozenset[str] | None] = {}

    def tags(branch: Any, prop: str) -> frozenset[str] | None:
        key = (id(branch), prop)
        if key not in tag_cache:
            tag_cache[key] = _tag_values(document, branch, prop)
        return tag_cache[key]

    def accepts(branch: Any, prop: str, tag: str) -> bool:
        allowed = tags(branch, prop)
        return allowed is None or tag in allowed

    def union(
        validator: Any, branches: list[Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[ValidationError]:
        candidates = list(enumerate(branches))
        prop = (schema.get("discriminator") or {}).get("propertyName")
        if prop and isinstance(instance, dict) and isinstance(instance.get(prop), str):
            tag = instance[prop]
            narrowed = [(i, b) for i, b in candidates if accepts(b, prop, tag)]
            if not narrowed:
                known = sorted(set().union(*(tags(b, prop) or () for _, b in candidates)))
                yield ValidationError(f"{prop} {tag!r} is not one of {_brief.repr(known)}")
                return
            candidates = narrowed
        failures: list[list[ValidationError]] = []
        for index, branch in candidates:
            found = list(validator.descend(instance, branch, schema_path=index))
            if not found:
                return
            failures.append(found)
        yield from _explain_union_failure(instance, failures)

    return validators.extend(Draft202012Validator, {"oneOf": union, "anyOf": union})


def _explain_union_failure(
    instance: object, failures: list[list[ValidationError]]
) -> Iterator[ValidationError]:
    """One error for a union no branch accepted, naming the branch that came closest.

    Branches rejected only for the wrong JSON type (the ``{type: null}`` half of a nullable, a
    string alternative to an object) say nothing useful once another branch got further.
    """
    from jsonschema import ValidationError

    informative = [errors for errors in failures if not _only_type_mismatch(errors)]
    if not informative:
        found = {kind for errors in failures for e in errors for kind in _type_names(e)}
        kinds = sorted(found, key=lambda kind: (kind == "null", kind))
        # Marked as a type error so an enclosing union can merge it ("string or object or null").
        yield ValidationError(
            f"{_brief.repr(instance)} is not of type {' or '.join(kinds)}",
            validator="type",
            validator_value=kinds,
        )
    elif len(informative) == 1:
        yield from informative[0]
    else:
        yield ValidationError(
            f"{_brief.repr(instance)} is not valid under any of the given schemas",
            context=[e for errors in informative for e in errors],
        )


def _type_names(error: ValidationError) -> list[str]:
    value = error.validator_value
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _only_type_mismatch(errors: list[ValidationError]) -> bool:
    return all(e.validator == "type" and not e.relative_path for e in errors)


def _describe(label: str, error: ValidationError) -> str:
    from jsonschema.exceptions import best_match

    best = best_match([error])
    message = best.message if len(best.message) <= 300 else best.message[:297] + "..."
    return f"{label} at {best.json_path}: {message}"
