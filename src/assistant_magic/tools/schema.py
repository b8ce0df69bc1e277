"""FunctionTool: a function, its parameters as a pydantic model, and the schema the model is told.

From a callable's signature, type hints and docstring, a `FunctionTool` builds a pydantic model
of the parameters. The model's JSON schema (made strict where it can be, see `strict`) is what
the assistant is told about the function; the same model validates the JSON arguments the
assistant sends back (see `arguments`), so a dataclass parameter arrives as that dataclass, an
Enum as its member, a date as a `date`.

pydantic and docstring_parser are imported inside the functions that need them, never at import
time: building the first tool is what loads them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .arguments import ArgumentModel
from .marking import ToolOptions, tool_options
from .signature import (
    ToolDefinitionError,
    callable_label,
    check_name,
    check_signature,
    default_name,
    docstring_source,
    hints_source,
    is_async,
)
from .strict import OPTIONAL_KEYS, accepts_null, parameters_schema

if TYPE_CHECKING:
    from pydantic import BaseModel

_NO_DEFAULT = inspect.Parameter.empty


@dataclass(frozen=True)
class ToolSchema:
    """What the model is told about one tool, in no particular wire format."""

    name: str
    description: str
    parameters: dict[str, Any]
    strict: bool
    note: str | None = None

    def fingerprint(self) -> str:
        """A stable hash of what the model sees, to notice that a tool was redefined."""
        payload = json.dumps(
            [self.name, self.description, self.parameters, self.strict],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


class FunctionTool:
    """A Python callable the model may call, with its schema and argument validation.

    Everything is checked when the tool is built: a definition problem raises
    `ToolDefinitionError` here, not in the middle of a conversation. `name` and `confirm`
    default to what `@tool` set, if anything.
    """

    def __init__(
        self, fn: Callable[..., Any], *, name: str | None = None, confirm: bool = False
    ) -> None:
        label = callable_label(fn)
        options = tool_options(fn) or ToolOptions()
        self.fn = fn
        self.name = name or options.name or default_name(fn)
        self.confirm = confirm or options.confirm
        parameters = check_signature(fn, label)
        check_name(self.name, label, chosen=bool(name or options.name))
        self.is_async = is_async(fn)
        self._arguments, self.schema = _describe(fn, self.name, label, parameters)

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r}, strict={self.schema.strict})"

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """The model's JSON arguments as keyword arguments for ``fn``, validated.

        Every parameter is in the result: one the model left out (or sent as null when its
        type does not allow null) gets the signature's own default object.
        """
        return self._arguments.parse(raw, self.name)


def _describe(
    fn: Callable[..., Any], name: str, label: str, params: list[inspect.Parameter]
) -> tuple[ArgumentModel, ToolSchema]:
    """The parameters' pydantic model, and what the model is told about the function."""
    hints = _type_hints(fn, label)
    description, param_docs = _parse_docstring(docstring_source(fn))
    model, fields, json_schema = _parameters_model(fn, label, params, hints, param_docs)
    defaults = {p.name: p.default for p in params if p.default is not _NO_DEFAULT}
    unannotated = [p.name for p in params if p.name not in hints]
    null_ok = {param for param in defaults if accepts_null(json_schema["properties"][param])}
    parameters, note = parameters_schema(json_schema, defaults, null_ok, unannotated)
    arguments = ArgumentModel(
        model=model,
        fields=fields,
        defaults=defaults,
        null_means_default=frozenset(defaults) - null_ok,
    )
    schema = ToolSchema(
        name=name, description=description, parameters=parameters, strict=note is None, note=note
    )
    return arguments, schema


def _parameters_model(
    fn: Callable[..., Any],
    label: str,
    params: list[inspect.Parameter],
    hints: dict[str, Any],
    param_docs: dict[str, str],
) -> tuple[type[BaseModel], dict[str, str], dict[str, Any]]:
    """The parameters as a pydantic model, parameter -> field names, and pydantic's schema."""
    from pydantic import ConfigDict, create_model
    from pydantic.errors import PydanticUserError

    definitions: dict[str, Any] = {}
    fields: dict[str, str] = {}
    for index, param in enumerate(params):
        # Fields get neutral names with the parameter as alias: a parameter may be called
        # `json`, `model_config` or `_x`, which a pydantic field may not.
        fields[param.name] = f"arg{index}"
        annotation = hints.get(param.name, Any)
        field_info = _field(annotation, param, param_docs.get(param.name))
        definitions[fields[param.name]] = (annotation, field_info)
    try:
        model = create_model(
            f"{default_name(fn)}_arguments",
            __config__=ConfigDict(extra="forbid"),
            **definitions,
        )
        json_schema = model.model_json_schema(schema_generator=schema_generator())
    except (PydanticUserError, TypeError, ValueError, NameError) as exc:
        raise _type_error(label, params, hints, exc) from None
    return model, fields, json_schema


def _type_hints(fn: object, label: str) -> dict[str, Any]:
    import typing

    source = hints_source(fn)
    try:
        # Uses the function's own globals: a notebook's namespace for notebook functions, so
        # `from __future__ import annotations` there resolves like anywhere else.
        hints = typing.get_type_hints(source, include_extras=True)
    except Exception as exc:
        raise ToolDefinitionError(
            f"{label} cannot be a tool: its type hints do not resolve ({exc}); define or "
            "import those types before the function."
        ) from None
    hints.pop("return", None)
    return hints


def _field(annotation: Any, param: inspect.Parameter, doc: str | None) -> Any:
    from pydantic import Field

    kwargs: dict[str, Any] = {"alias": param.name}
    # Annotated[X, Field(description=...)] is the more deliberate text: it beats the docstring.
    if doc and not _annotated_description(annotation):
        kwargs["description"] = doc
    if param.default is not _NO_DEFAULT:
        kwargs["default"] = param.default
    return Field(**kwargs)


def _annotated_description(annotation: Any) -> str | None:
    from pydantic.fields import FieldInfo

    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, FieldInfo) and meta.description:
            return meta.description
    return None


def _parse_docstring(source: object) -> tuple[str, dict[str, str]]:
    """The summary (+ long description) and per-parameter texts, in any common style."""
    text = inspect.getdoc(source)
    if not text:
        return "", {}
    import docstring_parser

    try:
        parsed = docstring_parser.parse(text)  # Google, NumPy, Sphinx/reST or Epydoc
    except docstring_parser.ParseError:
        return text.strip(), {}
    params: dict[str, str] = {}
    for param in parsed.params:
        if param.description:
            # NumPy style may document several at once: "x, y : float".
            for name in param.arg_name.split(","):
                params[name.strip().lstrip("*")] = param.description.strip()
    return (parsed.description or "").strip(), params


def _type_error(
    label: str, params: list[inspect.Parameter], hints: dict[str, Any], exc: Exception
) -> ToolDefinitionError:
    """Name the parameter whose type pydantic cannot handle (found by trying each alone)."""
    from pydantic import TypeAdapter

    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    for param in params:
        annotation = hints.get(param.name, Any)
        try:
            TypeAdapter(annotation).json_schema()
        except Exception as inner:
            lines = str(inner).strip().splitlines()
            reason = lines[0] if lines else type(inner).__name__
            return ToolDefinitionError(
                f"{label} cannot be a tool: parameter {param.name!r} has type "
                f"{_type_name(annotation)}, which has no JSON schema ({reason}); use JSON-friendly "
                "types: str, int, float, bool, list, dict, Literal, Enum, dataclasses or pydantic "
                "models."
            )
    return ToolDefinitionError(f"{label} cannot be a tool: {reason}")


def _type_name(annotation: Any) -> str:
    return annotation.__name__ if isinstance(annotation, type) else repr(annotation)


def schema_generator() -> type:
    """pydantic's generator, but it marks TypedDicts with optional keys and stays quiet."""
    from pydantic.json_schema import GenerateJsonSchema

    class ToolJsonSchema(GenerateJsonSchema):
        def typed_dict_schema(self, schema: Any) -> dict[str, Any]:
            json_schema: dict[str, Any] = super().typed_dict_schema(schema)
            total = schema.get("total", True)
            optional = [
                name for name, field in schema["fields"].items() if not field.get("required", total)
            ]
            if optional:
                json_schema[OPTIONAL_KEYS] = optional
            return json_schema

        def emit_warning(self, kind: Any, detail: str) -> None:
            # A default that is not JSON is left out of the schema; the note in the
            # description (strict) or pydantic's default (non-strict) is all we lose.
            pass

    return ToolJsonSchema
