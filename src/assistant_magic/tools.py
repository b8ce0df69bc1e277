"""Notebook functions the model may call: their JSON schemas, their arguments, their results.

A `FunctionTool` wraps a plain Python callable. From its signature, type hints and docstring
it builds a pydantic model of the parameters; the model's JSON schema is what the assistant
is told about the function, and the same model validates the JSON arguments the assistant
sends back, so a dataclass parameter arrives as that dataclass, an Enum as its member, a date
as a `date`.

The schema is made to satisfy OpenAI's strict function-calling rules (every object closed and
fully required, no ``default``, a closed keyword subset) whenever the signature allows it:

=============================================  ==============================================
In the signature                               Schema
=============================================  ==============================================
str, int, float, bool, Literal, Enum, date,    strict
datetime, list[X], tuple[X, ...], set[X],
Optional[X], unions, dataclasses, BaseModels,
total TypedDicts, Annotated[X, Field(...)]
parameter with a default                       strict: required but nullable, the default in
                                               its description; null means "the default"
nested field with a default (dataclass, ...)   strict: required, the default in its
                                               description; the model sends a value
set[X]                                         strict, without ``uniqueItems`` (the set is
                                               built on validation anyway)
string format strict mode lacks (path, uri)    strict, without that ``format``
dict[str, X], plain dict                       NOT strict: a free-form mapping
Any, unannotated parameter                     NOT strict: no type to constrain
TypedDict with total=False / NotRequired keys  NOT strict: strict mode cannot leave a key out
fixed-length tuple[X, Y]                       NOT strict: ``prefixItems`` is not supported
other constraint keywords (maxLength, ...)     NOT strict: the keyword is not supported
=============================================  ==============================================

A NOT strict schema is pydantic's own (with its defaults, only required parameters in
``required``) and `ToolSchema.note` says in one line why strict mode was not possible.

This module is imported by the extension on first use of a tool: pydantic and
docstring_parser are imported inside the functions that need them, never at import time.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import inspect
import json
import re
import reprlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .errors import AssistantError

if TYPE_CHECKING:
    from pydantic import BaseModel
    from pydantic_core import ErrorDetails

__all__ = [
    "FunctionTool",
    "ToolArgumentError",
    "ToolDefinitionError",
    "ToolOptions",
    "ToolSchema",
    "result_text",
    "tool",
    "tool_options",
]

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute `tool` sets on a function.
MARK = "__assistant_tool__"
#: What OpenAI accepts as a function name.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

# Keywords OpenAI's strict mode accepts in a schema node (its "supported schemas" subset).
_STRICT_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "anyOf",
        "enum",
        "const",
        "$ref",
        "$defs",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    }
)
_STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
# Set by our JSON schema generator on a TypedDict whose keys may be left out; never emitted.
_OPTIONAL_KEYS = "x-assistant-optional-keys"
_NO_DEFAULT = inspect.Parameter.empty


# -- public types ------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ToolOptions:
    """How `@tool` marked a function: its tool name (None: the function's) and confirmation."""

    name: str | None = None
    confirm: bool = False


class ToolDefinitionError(AssistantError):
    """A function that cannot be a tool; the message names it and says what to change."""


class ToolArgumentError(Exception):
    """The model's arguments are invalid; ``str(exc)`` is one line written for the model."""


# -- marking functions -------------------------------------------------------------------------


@overload
def tool(fn: F, *, name: str | None = None, confirm: bool = False) -> F: ...
@overload
def tool(
    fn: None = None, *, name: str | None = None, confirm: bool = False
) -> Callable[[F], F]: ...
def tool(
    fn: F | None = None, *, name: str | None = None, confirm: bool = False
) -> F | Callable[[F], F]:
    """Mark a function as a tool the assistant may call: ``@tool`` or ``@tool(confirm=True)``.

    The function itself is returned, still callable as before. Checks that need no type
    machinery (a valid name, no ``*args``) run here, so mistakes show where the function is
    defined; the types are checked when the tool is first offered to the model.
    """

    def mark(target: F) -> F:
        label = _label(target)
        _check_signature(target, label)
        _check_name(name or _default_name(target), label, chosen=name is not None)
        try:
            setattr(target, MARK, ToolOptions(name=name, confirm=confirm))
        except (AttributeError, TypeError):
            raise ToolDefinitionError(
                f"{label} cannot be marked as a tool (it takes no attributes); "
                "wrap it in a def and decorate that."
            ) from None
        return target

    return mark if fn is None else mark(fn)


def tool_options(obj: object) -> ToolOptions | None:
    """The options `@tool` set on `obj`, or None when it is not marked."""
    options = getattr(obj, MARK, None)
    return options if isinstance(options, ToolOptions) else None


# -- the tool ----------------------------------------------------------------------------------


class FunctionTool:
    """A Python callable the model may call, with its schema and argument validation.

    Everything is checked when the tool is built: a definition problem raises
    `ToolDefinitionError` here, not in the middle of a conversation. `name` and `confirm`
    default to what `@tool` set, if anything.
    """

    def __init__(
        self, fn: Callable[..., Any], *, name: str | None = None, confirm: bool = False
    ) -> None:
        label = _label(fn)
        options = tool_options(fn) or ToolOptions()
        self.fn = fn
        self.name = name or options.name or _default_name(fn)
        self.confirm = confirm or options.confirm
        parameters = _check_signature(fn, label)
        _check_name(self.name, label, chosen=bool(name or options.name))
        self.is_async = _is_async(fn)
        self._spec = _ArgumentSpec.build(fn, label, parameters)
        self.schema = ToolSchema(
            name=self.name,
            description=self._spec.description,
            parameters=self._spec.schema,
            strict=self._spec.note is None,
            note=self._spec.note,
        )

    def __repr__(self) -> str:
        return f"FunctionTool({self.name!r}, strict={self.schema.strict})"

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """The model's JSON arguments as keyword arguments for ``fn``, validated.

        Every parameter is in the result: one the model left out (or sent as null when its
        type does not allow null) gets the signature's own default object.
        """
        data = _load_object(raw, self.name)
        for param in self._spec.null_means_default:
            if param in data and data[param] is None:
                del data[param]
        return self._spec.validate(data, self.name)


# -- what the model sent -----------------------------------------------------------------------


def _load_object(raw: str, tool_name: str) -> dict[str, Any]:
    prefix = f"Invalid arguments for {tool_name}:"
    if not raw.strip():
        return {}  # some models send "" for a function without parameters
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ToolArgumentError(
            f"{prefix} not valid JSON ({exc}); send one JSON object of arguments."
        ) from None
    except RecursionError:  # json recurses once per level of nesting
        raise ToolArgumentError(
            f"{prefix} nested too deeply to read; send one flat JSON object of arguments."
        ) from None
    if not isinstance(data, dict):
        raise ToolArgumentError(
            f"{prefix} expected a JSON object of arguments, got {_json_kind(data)}."
        )
    return data


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    kinds = {bool: "a boolean", str: "a string", list: "an array"}
    return kinds.get(type(value), "a number")


def _argument_error(
    tool_name: str, errors: list[ErrorDetails], data: object, params: list[str]
) -> str:
    """pydantic's errors as one line for the model: which argument, what was wrong."""
    problems: list[tuple[str, str, str]] = []  # (path, problem, what the model sent)
    for error in errors:
        path, problem, got = _explain(error, data, params)
        previous = problems[-1] if problems else None
        # The branches of a union each fail on the same input: say it once, with "or".
        if (
            previous
            and got
            and previous[0] == path
            and previous[2] == got
            and previous[1].startswith("must be ")
            and problem.startswith("must be ")
        ):
            merged = f"{previous[1]} or {problem.removeprefix('must be ')}"
            problems[-1] = (path, merged, got)
            continue
        problems.append((path, problem, got))
    shown = [
        f"'{path}' {problem} (got {got})" if got else problem for path, problem, got in problems[:6]
    ]
    if len(problems) > 6:
        shown.append(f"and {len(problems) - 6} more problems")
    text = f"Invalid arguments for {tool_name}: " + "; ".join(shown) + "."
    return " ".join(text.split())  # one line, whatever the messages held


def _explain(error: ErrorDetails, data: object, params: list[str]) -> tuple[str, str, str]:
    kind = error["type"]
    loc = _input_loc(error["loc"], data, keep_last=kind == "missing")
    path = _loc_text(loc)
    top = len(loc) == 1
    if kind == "missing":
        return path, f"missing required {'argument' if top else 'field'} '{path}'", ""
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        if top:
            expected = ", ".join(params) or "none"
            return path, f"unknown argument '{path}' (arguments are: {expected})", ""
        return path, f"unknown field '{path}'", ""
    message = error["msg"]
    if kind in ("literal_error", "enum"):
        expected = str((error.get("ctx") or {}).get("expected", ""))
        head, sep, last = expected.rpartition(" or ")
        message = f"must be one of {head}, {last}" if sep else f"must be {expected}"
    elif message.startswith("Input should be "):
        message = "must be " + message.removeprefix("Input should be ")
    else:
        message = f"is invalid: {message}"
    return path, message, _show(error["input"])


def _input_loc(loc: tuple[int | str, ...], data: object, *, keep_last: bool) -> list[int | str]:
    """The error's location in the model's JSON, without pydantic's union-branch tags.

    pydantic puts the name of each union member it tried into `loc` ("int", "Point"); those
    are not keys of the input, which is how they are told apart from field names.
    """
    kept: list[int | str] = []
    for index, part in enumerate(loc):
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]  # type: ignore[index]
        elif isinstance(part, str) and not (keep_last and index == len(loc) - 1):
            continue  # not in the input, and not the missing key itself: a union tag
        kept.append(part)
    return kept or list(loc[:1])


def _loc_text(loc: list[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _show(value: object, width: int = 60) -> str:
    """A value as the model wrote it: JSON, but strings in quotes like the messages use."""
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


# -- checks without pydantic -------------------------------------------------------------------


def _label(fn: object) -> str:
    """How messages name a callable: ``calc()``; or what it is, when it is not a function."""
    target = _unwrap_partial(fn)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if isinstance(name, str) and callable(fn):
        return f"{name}()"
    return reprlib.repr(fn) if not callable(fn) else f"a {type(fn).__name__} object"


def _unwrap_partial(fn: object) -> object:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def _default_name(fn: object) -> str:
    target = _unwrap_partial(fn)
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def _check_name(name: str, label: str, *, chosen: bool) -> None:
    if not NAME_PATTERN.match(name):
        fix = "choose another name" if chosen else "pass name='...'"
        raise ToolDefinitionError(
            f"{label} cannot be a tool named {name!r}: a tool name is 1 to 64 letters, digits, "
            f"'_' or '-'; {fix}."
        )


def _check_signature(fn: object, label: str) -> list[inspect.Parameter]:
    """The parameters the model will fill in, or a ToolDefinitionError saying what to change."""
    if not callable(fn):
        raise ToolDefinitionError(
            f"{label} cannot be a tool: it is not callable (type {type(fn).__name__}); "
            "pass a function."
        )
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(
            f"{label} cannot be a tool: its signature cannot be read ({exc}); "
            "wrap it in a def with named, annotated parameters."
        ) from None
    parameters = list(signature.parameters.values())
    for param in parameters:
        if param.kind is param.VAR_POSITIONAL or param.kind is param.VAR_KEYWORD:
            star = "*" if param.kind is param.VAR_POSITIONAL else "**"
            raise ToolDefinitionError(
                f"{label} cannot be a tool: it takes {star}{param.name}; the model passes named "
                "arguments only, so give it named parameters instead."
            )
        if param.kind is param.POSITIONAL_ONLY:
            raise ToolDefinitionError(
                f"{label} cannot be a tool: parameter {param.name!r} is positional-only; the "
                "model passes arguments by name, so remove the '/' from its signature."
            )
    return parameters


def _is_async(fn: object) -> bool:
    if inspect.iscoroutinefunction(fn):  # also sees through functools.partial
        return True
    target = _unwrap_partial(fn)
    if inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target):
        return inspect.iscoroutinefunction(target)
    # A callable object: what counts is its __call__.
    return callable(target) and inspect.iscoroutinefunction(type(target).__call__)


def _hints_source(fn: object) -> object:
    """Where the annotations of `fn`'s parameters live (and the globals to resolve them)."""
    target = _unwrap_partial(fn)
    if inspect.isclass(target):
        return target.__init__
    if inspect.isfunction(target) or inspect.ismethod(target):
        return target
    call = type(target).__call__
    return call if inspect.isfunction(call) else target


def _docstring_source(fn: object) -> object:
    target = _unwrap_partial(fn)
    if inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target):
        return target
    call = type(target).__call__
    return call if inspect.isfunction(call) and call.__doc__ else target


# -- building the schema -----------------------------------------------------------------------


@dataclass
class _ArgumentSpec:
    """The parameters as a pydantic model, its JSON schema, and how to map results back."""

    model: type[BaseModel]
    #: parameter name -> the model's field name (fields are aliased, see `build`)
    fields: dict[str, str]
    defaults: dict[str, Any]
    #: parameters whose type rejects null: null from the model means "use the default"
    null_means_default: frozenset[str]
    description: str
    schema: dict[str, Any]
    note: str | None

    @classmethod
    def build(
        cls, fn: Callable[..., Any], label: str, params: list[inspect.Parameter]
    ) -> _ArgumentSpec:
        from pydantic import ConfigDict, create_model
        from pydantic.errors import PydanticUserError

        hints = _type_hints(fn, label)
        description, param_docs = _parse_docstring(_docstring_source(fn))
        definitions: dict[str, Any] = {}
        fields: dict[str, str] = {}
        for index, param in enumerate(params):
            # Fields get neutral names with the parameter as alias: a parameter may be called
            # `json`, `model_config` or `_x`, which a pydantic field may not.
            fields[param.name] = f"arg{index}"
            annotation = hints.get(param.name, Any)
            field_info = _field(annotation, param, param_docs.get(param.name))
            definitions[fields[param.name]] = (annotation, field_info)
        defaults = {p.name: p.default for p in params if p.default is not _NO_DEFAULT}
        unannotated = [p.name for p in params if p.name not in hints]
        try:
            model = create_model(
                f"{_default_name(fn)}_arguments",
                __config__=ConfigDict(extra="forbid"),
                **definitions,
            )
            schema = model.model_json_schema(schema_generator=_schema_generator())
        except (PydanticUserError, TypeError, ValueError, NameError) as exc:
            raise _type_error(label, params, hints, exc) from None
        null_ok = {name for name in defaults if _accepts_null(schema["properties"][name])}
        plain = _plain_schema(schema)
        strict, problems = _strict_schema(schema, defaults, null_ok, unannotated)
        return cls(
            model=model,
            fields=fields,
            defaults=defaults,
            null_means_default=frozenset(defaults) - null_ok,
            description=description,
            schema=plain if problems else strict,
            note=_note(problems),
        )

    def validate(self, data: dict[str, Any], tool_name: str) -> dict[str, Any]:
        from pydantic import ValidationError

        # Validate JSON as JSON (not as Python objects): the same rules as the schema promised.
        try:
            values = self.model.model_validate_json(json.dumps(data))
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            message = _argument_error(tool_name, errors, data, list(self.fields))
            raise ToolArgumentError(message) from None
        given = values.model_fields_set
        return {
            param: getattr(values, field) if field in given else self.defaults[param]
            for param, field in self.fields.items()
        }


def _type_hints(fn: object, label: str) -> dict[str, Any]:
    import typing

    source = _hints_source(fn)
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


def _schema_generator() -> type:
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
                json_schema[_OPTIONAL_KEYS] = optional
            return json_schema

        def emit_warning(self, kind: Any, detail: str) -> None:
            # A default that is not JSON is left out of the schema; the note in the
            # description (strict) or pydantic's default (non-strict) is all we lose.
            pass

    return ToolJsonSchema


# -- schema transformations --------------------------------------------------------------------


def _subschemas(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schemas directly inside `node` (never property names or other keyword values)."""
    for key in ("properties", "$defs"):
        if isinstance(node.get(key), dict):
            yield from (value for value in node[key].values() if isinstance(value, dict))
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), dict):
            yield node[key]
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        if isinstance(node.get(key), list):
            yield from (value for value in node[key] if isinstance(value, dict))


def _strip_noise(node: dict[str, Any]) -> None:
    """Remove titles (noise for the model) and our own markers, everywhere."""
    node.pop("title", None)
    node.pop(_OPTIONAL_KEYS, None)
    for sub in _subschemas(node):
        _strip_noise(sub)


def _root(properties: dict[str, Any], required: list[str], defs: Any) -> dict[str, Any]:
    root: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if defs:
        root["$defs"] = defs
    return root


def _plain_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic's schema as it is, without titles: what non-strict tools send."""
    plain = copy.deepcopy(schema)
    _strip_noise(plain)
    return _root(plain.get("properties", {}), plain.get("required", []), plain.get("$defs"))


def _accepts_null(node: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if not any(key in node for key in ("type", "$ref", "anyOf", "oneOf", "enum", "const")):
        return True  # Any
    if None in node.get("enum", ()) or ("const" in node and node["const"] is None):
        return True
    return any(_accepts_null(sub) for sub in node.get("anyOf", []) + node.get("oneOf", []))


def _default_text(value: object) -> str:
    from pydantic_core import to_json

    try:
        text = to_json(value).decode()
    except Exception:
        text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


def _with_note(node: dict[str, Any], note: str) -> dict[str, Any]:
    description = node.get("description")
    node["description"] = f"{description.rstrip()} {note}" if description else note
    return node


def _strict_schema(
    schema: dict[str, Any],
    defaults: dict[str, Any],
    null_ok: set[str],
    unannotated: list[str],
) -> tuple[dict[str, Any], list[str]]:
    """The schema under OpenAI's strict rules, and why it cannot be strict (if it cannot)."""
    work = copy.deepcopy(schema)
    strict = _Strictifier(work)
    properties = work.get("properties", {})
    for name in list(properties):
        if name in unannotated:
            strict.problems.append(f"unannotated parameter '{name}'")
            continue
        prop = properties[name]
        if name in defaults:
            prop = _nullable_default(prop, defaults[name], accepts_null=name in null_ok)
        properties[name] = strict.node(prop, f"parameter '{name}'", None)
    # Definitions after parameters, so the note names parameters first. Order does not
    # matter otherwise: a definition inlined before its turn is rewritten where it lands.
    defs = work.get("$defs", {})
    for def_name in list(defs):
        defs[def_name] = strict.node(defs[def_name], f"'{def_name}'", def_name)
    # OpenAI's size limits for a strict schema.
    if strict.property_count + len(properties) > 5000:
        strict.problems.append("more than 5000 properties in all")
    if strict.enum_count > 1000:
        strict.problems.append("more than 1000 enum values in all")
    root = _root(properties, list(properties), defs)
    _prune_defs(root)
    return root, list(dict.fromkeys(strict.problems))


def _nullable_default(
    prop: dict[str, Any], default: object, *, accepts_null: bool
) -> dict[str, Any]:
    """Strict mode has no optional parameters: make it required, and let null mean default."""
    prop.pop("default", None)
    description = prop.pop("description", None)
    if accepts_null:
        note = f"(default: {_default_text(default)})"
    else:
        note = f"(default: {_default_text(default)}; pass null to use it)"
        if set(prop) == {"anyOf"}:
            prop["anyOf"].append({"type": "null"})
        else:
            prop = {"anyOf": [prop, {"type": "null"}]}
    if description:
        prop["description"] = description
    return _with_note(prop, note)


class _Strictifier:
    """Walks a schema, rewriting it for strict mode and collecting what cannot be rewritten."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.problems: list[str] = []
        self.property_count = 0
        self.enum_count = 0

    def node(self, node: dict[str, Any], where: str, path: str | None) -> dict[str, Any]:
        node = self._rewrite(node)
        if not any(key in node for key in ("type", "$ref", "anyOf", "enum", "const")):
            self.problems.append(f"untyped value (Any) in {where}")
        if node.get("type") == "object" or "properties" in node:
            self._object(node, where, path)
        if isinstance(node.get("items"), dict):
            node["items"] = self.node(node["items"], where, path)
        if isinstance(node.get("anyOf"), list):
            node["anyOf"] = [self.node(sub, where, path) for sub in node["anyOf"]]
        if "prefixItems" in node:
            self.problems.append(f"fixed-length tuple in {where}")
        self.enum_count += len(node.get("enum", ()))
        for key in node:
            if key not in _STRICT_KEYWORDS and key != "prefixItems":
                self.problems.append(f"'{key}' in {where} is not supported in strict mode")
        return node

    def _rewrite(self, node: dict[str, Any]) -> dict[str, Any]:
        """What can be said the strict way without losing meaning (validation is unchanged)."""
        node.pop("title", None)
        if "$ref" in node and len(node) > 1:
            # Strict mode wants a $ref alone: inline the target under the extra keywords.
            node = {**copy.deepcopy(self._resolve(node.pop("$ref"))), **node}
            node.pop("title", None)
        if "oneOf" in node:  # pydantic's discriminated unions; anyOf means the same here
            node["anyOf"] = node.get("anyOf", []) + node.pop("oneOf")
            node.pop("discriminator", None)
        if isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = {**node.pop("allOf")[0], **node}
        if "default" in node:
            _with_note(node, f"(default: {_default_text(node.pop('default'))})")
        node.pop("uniqueItems", None)  # a set[X] parameter is built as a set on validation
        if "format" in node and node["format"] not in _STRICT_FORMATS:
            del node["format"]  # e.g. "path", "uri": only a hint; validation still checks
        return node

    def _object(self, node: dict[str, Any], where: str, path: str | None) -> None:
        extra = node.get("additionalProperties", False)
        if extra is not False or "properties" not in node:
            self.problems.append(f"free-form dict in {where}")
            node.pop("additionalProperties", None)  # not reported again as a keyword
            return
        optional = node.pop(_OPTIONAL_KEYS, None)
        if optional:
            self.problems.append(
                f"optional key '{optional[0]}' in {where} (TypedDict total=False or NotRequired)"
            )
        properties = node["properties"]
        self.property_count += len(properties)
        for key in list(properties):
            sub_path = f"{path}.{key}" if path else None
            sub_where = f"'{sub_path}'" if sub_path else where
            properties[key] = self.node(properties[key], sub_where, sub_path)
        node["required"] = list(properties)
        node["additionalProperties"] = False

    def _resolve(self, ref: str) -> dict[str, Any]:
        prefix = "#/$defs/"
        target = self.root.get("$defs", {}).get(ref.removeprefix(prefix))
        if not ref.startswith(prefix) or not isinstance(target, dict):
            raise ValueError(f"unexpected $ref {ref!r} in a pydantic schema")
        return target


def _prune_defs(root: dict[str, Any]) -> None:
    """Drop definitions no longer referenced (inlining can orphan them): fewer tokens."""
    defs = root.get("$defs")
    if not defs:
        root.pop("$defs", None)
        return
    seen: set[str] = set()
    pending = [node for key, node in root.items() if key != "$defs"]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen and name in defs:
                    seen.add(name)
                    pending.append(defs[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    for name in [name for name in defs if name not in seen]:
        del defs[name]
    if not defs:
        del root["$defs"]


def _note(problems: list[str]) -> str | None:
    if not problems:
        return None
    shown = "; ".join(problems[:3])
    more = len(problems) - 3
    return f"{shown}; and {more} more" if more > 0 else shown


# -- what goes back to the model ---------------------------------------------------------------


def result_text(value: Any, *, limit: int = 20_000) -> str:
    """A tool's return value as text for the model; never raises.

    Strings are sent as they are; JSON-like values (containers, dataclasses, pydantic models,
    enums, dates, decimals, UUIDs, paths) as compact JSON; pandas and numpy values as their
    text tables; anything else as its repr. Text over `limit` characters is cut, with a marker
    saying how much was left out.
    """
    try:
        text = _render(value)
    except Exception as exc:
        text = _unrepresentable(value, exc)
    return _truncate(text, limit)


def _render(value: Any) -> str:
    import enum

    if value is None:
        return "null"
    if isinstance(value, enum.Enum):  # before str/int: StrEnum and IntEnum are both
        return _json_text(value)
    if isinstance(value, str):
        return str.__str__(value)  # a plain str, even from a subclass
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    package = type(value).__module__.partition(".")[0]
    if package == "pandas":
        text = _pandas_text(value)
        if text is not None:
            return text
    if package == "numpy":
        return _numpy_text(value)
    if _is_jsonable(value):
        return _json_text(value)
    return repr(value)


def _is_jsonable(value: object) -> bool:
    import datetime
    import decimal
    import pathlib
    import sys
    import uuid

    plain = (
        dict,
        list,
        tuple,
        set,
        frozenset,
        datetime.date,
        datetime.time,
        datetime.timedelta,
        decimal.Decimal,
        uuid.UUID,
        pathlib.PurePath,
    )
    if isinstance(value, plain):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    pydantic = sys.modules.get("pydantic")  # a model instance implies pydantic is loaded
    return pydantic is not None and isinstance(value, pydantic.BaseModel)


def _json_text(value: object) -> str:
    """Compact JSON by pydantic's serializer; a top-level string comes back unquoted."""
    from pydantic_core import to_json

    try:
        text = to_json(value, fallback=_json_fallback).decode()
    except Exception:  # circular data, keys JSON cannot have: the repr still says something
        return repr(value)
    return json.loads(text) if text.startswith('"') else text


def _json_fallback(value: Any) -> Any:
    """Nested values pydantic does not know: numpy's as Python numbers and lists, others str."""
    if type(value).__module__.partition(".")[0] == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def _pandas_text(value: Any) -> str | None:
    kind = type(value).__name__
    if kind == "DataFrame":
        rows, columns = value.shape
        table = value.to_string(max_rows=20, max_cols=20, max_colwidth=60)
        return f"DataFrame with {rows:,} rows and {columns:,} columns\n{table}"
    if kind == "Series":
        name = f" {value.name!r}" if value.name is not None else ""
        table = value.to_string(max_rows=20)
        return f"Series{name}: {len(value):,} values, dtype {value.dtype}\n{table}"
    return None


def _numpy_text(value: Any) -> str:
    import numpy

    if isinstance(value, numpy.ndarray):
        body = numpy.array2string(value, threshold=200, edgeitems=5, max_line_width=120)
        return f"ndarray shape {value.shape}, dtype {value.dtype}\n{body}"
    if isinstance(value, numpy.generic):  # numpy scalars: as the Python value they hold
        return _render(value.item())
    return repr(value)


def _unrepresentable(value: object, exc: Exception) -> str:
    try:
        reason = str(exc)
    except Exception:
        reason = type(exc).__name__
    return f"<unrepresentable {type(value).__name__}: {reason[:200]}>"


def _truncate(text: str, limit: int) -> str:
    if limit <= 0 or len(text) <= limit:
        return text
    return f"{text[:limit]}\n… [truncated: {len(text) - limit:,} more characters]"
