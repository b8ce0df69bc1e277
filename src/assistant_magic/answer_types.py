"""Typed answers: a Python type as the JSON schema the answer must follow, and the answer
validated back into that type (`%%ask --schema T -o x`, `Assistant.ask(..., schema=T)`).

The schema is built the way tools' parameters are (`tools.strict`): pydantic describes the
type, and the description is made strict for OpenAI when the type allows it, with a one-line
reason when it does not. The API wants an object at the root, so any other type (`int`,
`list[Fighter]`, a `Literal`) is wrapped in one with a single field, ``answer``; validation
unwraps it. pydantic is imported when the first typed ask is made, never at import time.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import json
import re
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import AssistantError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from pydantic import TypeAdapter

#: The one field of the object a non-object type is wrapped in.
WRAPPER_FIELD = "answer"
#: Types `--schema` may name without importing them.
_TYPING_NAMES = ("Literal", "Optional", "Union", "Annotated", "Any")
_SCHEMA_NAME = re.compile(r"[^a-zA-Z0-9_-]+")
#: A JSON answer inside a Markdown code fence, as small models write one.
_FENCED = re.compile(r"^```[a-zA-Z]*\s*\n(.*?)\n?```$", re.DOTALL)


class SchemaError(AssistantError):
    """`--schema` names no type, or a type that has no JSON schema."""


@dataclass(frozen=True)
class AnswerSchema:
    """What the model is told its answer must be, in no particular wire format."""

    name: str
    schema: dict[str, Any]
    strict: bool
    #: Why the schema could not be strict (None when it is).
    note: str | None = None
    #: The schema's root is a wrapper object around the type (see the module's docstring).
    wrapped: bool = False

    def instructions(self) -> str:
        """The schema as an instruction, for servers that cannot be given it otherwise."""
        return (
            "Answer with only a JSON object that matches this JSON schema, and no other text:\n"
            + json.dumps(self.schema, ensure_ascii=False)
        )


class InvalidJson(ValueError):
    """An answer that did not validate: `line` says which field failed, in one line; `detail`
    lists every error, for the model to repair its answer."""

    def __init__(self, line: str, detail: str) -> None:
        super().__init__(line)
        self.line = line
        self.detail = detail


class AnswerType:
    """A type an answer must have: its schema, and the validation of the model's text."""

    def __init__(self, annotation: Any, label: str | None = None) -> None:
        self.annotation = annotation
        self.label = label or type_label(annotation)
        self.wrapped = not _is_object_type(annotation)
        self._adapter, self._bare = _adapters(annotation, self.wrapped, self.label)
        self.schema = _answer_schema(self._adapter, self.label, self.wrapped)

    def __repr__(self) -> str:
        return f"AnswerType({self.label}, strict={self.schema.strict})"

    def parse(self, text: str) -> Any:
        """The answer as a value of the type; `InvalidJson` when it is not one."""
        from pydantic import ValidationError

        raw = _unfenced(text)
        try:
            value = self._adapter.validate_json(raw)
        except ValidationError as exc:
            if self._bare is None or _is_wrapper(raw):
                raise _invalid(exc, self.wrapped) from None
            try:  # a bare value where the wrapper was asked for: judged as that
                return self._bare.validate_json(raw)
            except ValidationError as bare:
                raise _invalid(bare, wrapped=False) from None
        return getattr(value, WRAPPER_FIELD) if self.wrapped else value

    def to_json(self, value: Any) -> str:
        """The JSON answer that `parse` reads back as `value`."""
        adapter = self._bare if self._bare is not None else self._adapter
        dumped = adapter.dump_python(value, mode="json")
        return json.dumps({WRAPPER_FIELD: dumped} if self.wrapped else dumped, ensure_ascii=False)

    def repair_request(self, problem: InvalidJson) -> str:
        """What the model is told when its answer did not validate (once, by default)."""
        return (
            f"Your answer does not match the JSON schema {self.schema.name}:\n{problem.detail}\n"
            "Answer again with only the corrected JSON, and no other text."
        )


def type_label(annotation: Any) -> str:
    """A type as the user wrote it: ``Fighter``, ``list[Fighter]``, ``Literal['a', 'b']``."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def resolve(expression: str, namespace: Mapping[str, Any]) -> AnswerType:
    """`--schema`'s value: a name in the namespace or a type expression over it."""
    expression = expression.strip()
    return answer_type(_evaluate(expression, namespace), expression)


def answer_type(annotation: Any, label: str | None = None) -> AnswerType:
    """The `AnswerType` of a type, built once per type: building it (pydantic's schema, its
    strict rewrite) costs more than validating an answer. A class defined again is another
    type, so a changed definition is always seen."""
    try:
        return _built(annotation, label)
    except TypeError:  # unhashable (an Annotated with a dict, say): built each time
        return AnswerType(annotation, label)


@functools.lru_cache(maxsize=64)
def _built(annotation: Any, label: str | None) -> AnswerType:
    return AnswerType(annotation, label)


# -- building ------------------------------------------------------------------------------------


def _evaluate(expression: str, namespace: Mapping[str, Any]) -> Any:
    """A type expression, evaluated only if it is made of names, subscripts, attributes,
    literals and ``|``: no calls, so naming a type never runs code."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError:
        raise SchemaError(
            f"--schema {expression!r} is not a type expression; give a type's name or, say, "
            '"list[Record]".'
        ) from None
    allowed = (
        ast.Expression,
        ast.Name,
        ast.Attribute,
        ast.Subscript,
        ast.Tuple,
        ast.List,
        ast.Constant,
        ast.Load,
        ast.BinOp,
        ast.BitOr,
    )
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise SchemaError(
                f"--schema {expression!r}: only names, [ ], dots, | and literals may make a "
                "type (no calls); define the type in a cell and name it."
            )
    scope = {name: getattr(typing, name) for name in _TYPING_NAMES}
    scope.update({name: getattr(builtins, name) for name in ("int", "float", "bool", "str")})
    scope.update({name: getattr(builtins, name) for name in ("list", "dict", "tuple", "set")})
    try:
        return eval(
            compile(tree, "<--schema>", "eval"), {"__builtins__": {}}, {**scope, **namespace}
        )
    except NameError as exc:
        raise SchemaError(
            f"--schema {expression!r}: {exc}; define or import the type before this cell."
        ) from None
    except Exception as exc:
        raise SchemaError(f"--schema {expression!r} is not a type: {exc}") from None


def _is_object_type(annotation: Any) -> bool:
    """Whether the type's JSON is an object with named fields (a model, a dataclass, a
    TypedDict): such a type is the schema's root itself."""
    from pydantic import BaseModel

    if not isinstance(annotation, type):
        return False
    if issubclass(annotation, BaseModel) and annotation.model_config.get("extra") != "allow":
        return "root" not in annotation.model_fields or len(annotation.model_fields) > 1
    from typing_extensions import is_typeddict  # knows typing's and typing_extensions' kinds

    return dataclasses.is_dataclass(annotation) or is_typeddict(annotation)


def _adapters(
    annotation: Any, wrapped: bool, label: str
) -> tuple[TypeAdapter[Any], TypeAdapter[Any] | None]:
    """The adapter that validates the answer as asked, and (wrapped) the bare type's."""
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter, create_model

    try:
        bare = TypeAdapter(annotation)
        bare.json_schema()
        if not wrapped:
            return bare, None
        wrapper = create_model(
            _schema_name(label), __config__=ConfigDict(extra="forbid"), answer=(annotation, ...)
        )
        return TypeAdapter(wrapper), bare
    except (PydanticUserError, TypeError, ValueError, NameError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SchemaError(
            f"--schema {label}: pydantic cannot describe it ({reason}); use a pydantic model, a "
            "dataclass, a TypedDict, an Enum or Literal, int/float/bool/str, or list[...] / "
            "dict[str, ...] of these."
        ) from None


def _answer_schema(adapter: TypeAdapter[Any], label: str, wrapped: bool) -> AnswerSchema:
    from .tools.schema import schema_generator
    from .tools.strict import parameters_schema

    generated = adapter.json_schema(schema_generator=schema_generator())
    description = generated.get("description")
    if "properties" not in generated:  # a root that only refers (a recursive model)
        raise SchemaError(
            f"--schema {label}: its JSON schema has no fields at the root; wrap it in a model."
        )
    schema, note = parameters_schema(generated, {}, set(), [], what="field")
    if description:
        schema = {"description": description, **schema}
    return AnswerSchema(
        _schema_name(label), schema, strict=note is None, note=note, wrapped=wrapped
    )


def _schema_name(label: str) -> str:
    """A name the API takes: letters, digits, _ and -, at most 64."""
    return _SCHEMA_NAME.sub("_", label).strip("_")[:64] or "answer"


# -- validating ----------------------------------------------------------------------------------


def _is_wrapper(raw: str) -> bool:
    """Whether the answer is the wrapper object (or not JSON at all: said as such)."""
    try:
        value = json.loads(raw)
    except ValueError:
        return True
    return isinstance(value, dict) and WRAPPER_FIELD in value


def _unfenced(text: str) -> str:
    stripped = text.strip()
    fenced = _FENCED.match(stripped)
    return fenced.group(1) if fenced else stripped


def _invalid(exc: Any, wrapped: bool) -> InvalidJson:
    """A validation error as one line for the user, and a list for the model."""
    problems = []
    for error in exc.errors(include_url=False):
        location = list(error.get("loc", ()))
        if wrapped and location[:1] == [WRAPPER_FIELD]:
            location = location[1:]
        where = _path(location)
        got = error.get("input")
        shown = "" if error.get("type") in ("missing", "json_invalid") else f" (got {_short(got)})"
        problems.append(f"{where}: {error.get('msg', 'invalid')}{shown}")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    line = f"{problems[0]}{more}" if problems else "not valid"
    return InvalidJson(line, "\n".join(f"- {problem}" for problem in problems))


def _path(location: list[Any]) -> str:
    """Where in the answer an error is: ``power``, ``[0].race``."""
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    return path.lstrip(".") or "the answer"


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= 60 else text[:59] + "…"


# -- one ask's answer ----------------------------------------------------------------------------


@dataclass
class AnswerCheck:
    """A typed ask's answer as the ask goes: each final response is checked; one that does not
    validate is sent back for repair, up to `repairs` times, with what was wrong."""

    type: AnswerType
    repairs: int = 1
    #: The validated answer, once there is one.
    value: Any = None
    valid: bool = False
    #: The text of the last answer checked (the JSON, or what the model said instead).
    raw: str | None = None
    problem: InvalidJson | None = None
    refusal: str | None = None
    tries: int = 0

    def check(self, text: str, refusal: str | None = None) -> str | None:
        """Check a final answer; the request to repair it, or None when the ask is done
        (valid, refused, or out of repairs)."""
        self.tries += 1
        self.raw = refusal if refusal is not None else text
        if refusal is not None:
            self.refusal = refusal
            return None
        try:
            self.value, self.valid, self.problem = self.type.parse(text), True, None
        except InvalidJson as problem:
            self.problem = problem
            if self.tries <= self.repairs:
                return self.type.repair_request(problem)
        return None

    def failure(self) -> str | None:
        """Why the ask gave no value, in one line (None when it gave one)."""
        if self.valid:
            return None
        name = self.type.label
        if self.refusal is not None:
            return f"The model refused to answer as {name}: {_quoted(self.refusal)}"
        if self.problem is None:
            return f"The ask ended without an answer to read as {name}."
        tries = f"after {self.tries} tries" if self.tries > 1 else "and was not sent back"
        return f"The answer did not match {name} {tries}: {self.problem.line}."


def _quoted(text: str) -> str:
    line = " ".join(text.split())
    return f"“{line if len(line) <= 200 else line[:199] + '…'}”"
