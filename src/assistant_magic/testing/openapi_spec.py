"""OpenAI's OpenAPI document read as JSON Schema: operations, event schemas, form checks.

Four liberties are taken with plain JSON Schema, each because the spec means something else:

* OpenAPI 3.0 leftovers ``nullable: true`` are rewritten to ``anyOf [schema, {type: null}]``.
* The MCP approval response schemas require a ``request_id`` that none of their properties
  declares; the SDKs neither send nor expect it, so it is dropped.
* ``oneOf`` is checked as "at least one" (``anyOf``): the spec's unions overlap (a message with a
  content list is both an ``EasyInputMessage`` and an ``InputMessage``), and the real API accepts
  such input, so exclusivity would reject valid traffic.
* Unions carrying a ``discriminator`` are narrowed by the tag first (``type: "message"`` only tries
  the branches whose ``type`` allows ``"message"``). That matches how the API dispatches, keeps
  validation fast, and makes errors name the one schema that applied instead of 30 branches.

The first two are made here; the last two are the validator's (``openapi_schema``), which this
module imports only once a spec is loaded: it needs ``jsonschema``, which the base install lacks
(see ``openapi``).
"""

from __future__ import annotations

import importlib.util
import re
import reprlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The advice given wherever validation is impossible for want of its dependencies.
INSTALL_HINT = 'pip install "assistant-magic[test]"'

# What validation imports; neither is a dependency of the base install.
_VALIDATION_MODULES = ("jsonschema", "referencing")

# The base URI the whole document is registered under; its internal "#/..." refs resolve inside it.
_DOC_URI = "urn:openai-openapi"
_STREAM_EVENT_UNION = "#/components/schemas/ResponseStreamEvent"
_ASSISTANT_EVENT_UNION = "#/components/schemas/AssistantStreamEvent"
ERROR_SCHEMA = "#/components/schemas/ErrorResponse"

#: Shortens the values quoted in messages.
brief = reprlib.Repr()
brief.maxstring = 60
brief.maxother = 60
brief.maxdict = 4
brief.maxlist = 8


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


def missing_validation_modules() -> list[str]:
    """The modules validation needs that are not installed; empty when it can run.

    Looked up without importing them, so asking costs nothing on the plugin's start-up path.
    """
    return [name for name in _VALIDATION_MODULES if importlib.util.find_spec(name) is None]


def require_validation_modules() -> None:
    """Fail in one line naming the extra, rather than on whichever import happens first."""
    missing = missing_validation_modules()
    if missing:
        needed = " and ".join(missing)
        raise ModuleNotFoundError(
            f"validating against OpenAI's OpenAPI spec needs {needed}: {INSTALL_HINT}",
            name=missing[0],
        )


class OpenApiSpec:
    """The parsed document: operations by method and path, and cached validators per schema."""

    def __init__(self, document: dict[str, Any]) -> None:
        require_validation_modules()
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        from .openapi_schema import describe, union_aware_validator

        _rewrite_nullable(document)
        _drop_undeclared_required(document)
        self._document = document
        resource: Resource[Any] = DRAFT202012.create_resource(document)
        self._registry: Registry[Any] = Registry().with_resource(_DOC_URI, resource)
        self._validator_class = union_aware_validator(document)
        self._describe = describe
        self._validators: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._operations = _index_operations(document)
        self._event_schemas = _event_schemas_by_type(document)
        self._assistant_event_schemas = _assistant_event_schemas(document)

    @property
    def document(self) -> dict[str, Any]:
        """The parsed document (with ``nullable`` rewritten); treat it as read-only."""
        return self._document

    # -- lookups ---------------------------------------------------------------------------

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

    # -- validation ------------------------------------------------------------------------

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
        return [self._describe(label, error) for error in errors]

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


# -- document preparation -------------------------------------------------------------------------


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


#: Schemas whose ``required`` names a field they do not declare (a mistake of the spec), and it.
_UNDECLARED_REQUIRED = {
    "MCPApprovalResponse": "request_id",
    "MCPApprovalResponseResource": "request_id",
}


def _drop_undeclared_required(document: dict[str, Any]) -> None:
    """Forget the required fields :data:`_UNDECLARED_REQUIRED` lists, where still undeclared."""
    schemas = document.get("components", {}).get("schemas", {})
    for name, field in _UNDECLARED_REQUIRED.items():
        for schema in (schemas.get(name), schemas.get(f"Beta{name}")):
            if not isinstance(schema, dict) or field in schema.get("properties", {}):
                continue
            required = schema.get("required")
            if isinstance(required, list) and field in required:
                required.remove(field)


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
        values = tag_values(document, branch, "type")
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
        target = deref(document, branch)
        if not ref or not isinstance(target, dict):
            continue
        nested = target.get("oneOf")
        members = enumerate(nested) if nested else [(None, target)]
        for index, member in members:
            names = tag_values(document, member, "event")
            pointer = ref if index is None else f"{ref}/oneOf/{index}"
            table.update(dict.fromkeys(names or (), pointer))
    return table


def _lookup(document: Mapping[str, Any], ref: str) -> Any:
    node: Any = document
    for token in ref.removeprefix("#/").split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def deref(document: Mapping[str, Any], schema: Any) -> Any:
    seen = 0
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            return schema
        schema = _lookup(document, ref)
        seen += 1
    return schema


def _collect_properties(document: Mapping[str, Any], schema: Any) -> frozenset[str] | None:
    schema = deref(document, schema)
    if not isinstance(schema, dict):
        return None
    names: set[str] = set(schema.get("properties", {}))
    if isinstance(schema.get("additionalProperties"), dict) and schema["additionalProperties"]:
        return None  # a map: any key is fine
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            found = _collect_properties(document, sub)
            target = deref(document, sub)
            if found is None and isinstance(target, dict) and target.get("type") == "object":
                return None  # an object part that declares nothing: any key may belong to it
            names |= found or set()
    return frozenset(names) if names else None


_FILE = object()  # a form value that is a file part


def _form_problems(
    document: Mapping[str, Any], schema: Any, values: Mapping[str, Any], *, prefix: str
) -> list[str]:
    schema = deref(document, schema)
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
        field = deref(document, properties[name])
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
        return [f"{where}: {value!r} is not one of {brief.repr(field['enum'])}"]
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


def tag_values(document: Mapping[str, Any], schema: Any, prop: str) -> frozenset[str] | None:
    """The values a branch allows for its discriminator property, or None if unconstrained."""
    schema = deref(document, schema)
    if not isinstance(schema, dict):
        return None
    declared = deref(document, schema.get("properties", {}).get(prop))
    if isinstance(declared, dict):
        if "const" in declared:
            return frozenset([declared["const"]])
        if isinstance(declared.get("enum"), list):
            return frozenset(v for v in declared["enum"] if isinstance(v, str))
    for sub in schema.get("allOf", []):
        found = tag_values(document, sub, prop)
        if found is not None:
            return found
    return None
