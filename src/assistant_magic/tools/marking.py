"""``@tool``: marking a function as one the assistant may call, and reading the mark back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from .signature import (
    ToolDefinitionError,
    callable_label,
    check_name,
    check_signature,
    default_name,
)

F = TypeVar("F", bound=Callable[..., Any])

#: The attribute `tool` sets on a function.
MARK = "__assistant_tool__"


@dataclass(frozen=True)
class ToolOptions:
    """How `@tool` marked a function: its tool name (None: the function's) and confirmation."""

    name: str | None = None
    confirm: bool = False


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
        label = callable_label(target)
        check_signature(target, label)
        check_name(name or default_name(target), label, chosen=name is not None)
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
