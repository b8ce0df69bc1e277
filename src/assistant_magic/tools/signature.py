"""A callable as a tool sees it, read and checked without pydantic: its name, parameters, kind."""

from __future__ import annotations

import functools
import inspect
import re
import reprlib

from ..errors import AssistantError

#: What OpenAI accepts as a function name.
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


class ToolDefinitionError(AssistantError):
    """A function that cannot be a tool; the message names it and says what to change."""


def callable_label(fn: object) -> str:
    """How messages name a callable: ``calc()``; or what it is, when it is not a function."""
    target = unwrap_partial(fn)
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if isinstance(name, str) and callable(fn):
        return f"{name}()"
    return reprlib.repr(fn) if not callable(fn) else f"a {type(fn).__name__} object"


def unwrap_partial(fn: object) -> object:
    while isinstance(fn, functools.partial):
        fn = fn.func
    return fn


def default_name(fn: object) -> str:
    """The tool name a callable gets unless one is chosen: its own name."""
    target = unwrap_partial(fn)
    name = getattr(target, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def check_name(name: str, label: str, *, chosen: bool) -> None:
    if not NAME_PATTERN.match(name):
        fix = "choose another name" if chosen else "pass name='...'"
        raise ToolDefinitionError(
            f"{label} cannot be a tool named {name!r}: a tool name is 1 to 64 letters, digits, "
            f"'_' or '-'; {fix}."
        )


def check_signature(fn: object, label: str) -> list[inspect.Parameter]:
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


def is_async(fn: object) -> bool:
    """Whether calling `fn` gives a coroutine to await."""
    if inspect.iscoroutinefunction(fn):  # also sees through functools.partial
        return True
    target = unwrap_partial(fn)
    if inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target):
        return inspect.iscoroutinefunction(target)
    # A callable object: what counts is its __call__.
    return callable(target) and inspect.iscoroutinefunction(type(target).__call__)


def hints_source(fn: object) -> object:
    """Where the annotations of `fn`'s parameters live (and the globals to resolve them)."""
    target = unwrap_partial(fn)
    if inspect.isclass(target):
        return target.__init__
    if inspect.isfunction(target) or inspect.ismethod(target):
        return target
    call = type(target).__call__
    return call if inspect.isfunction(call) else target


def docstring_source(fn: object) -> object:
    """Where `fn`'s docstring lives: a callable object's __call__ when that has one."""
    target = unwrap_partial(fn)
    if inspect.isfunction(target) or inspect.ismethod(target) or inspect.isclass(target):
        return target
    call = type(target).__call__
    return call if inspect.isfunction(call) and call.__doc__ else target
