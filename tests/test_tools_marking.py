"""@tool: its forms, the options it leaves, and the mistakes it catches where a def stands."""

from __future__ import annotations

import pytest

from assistant_magic.tools import ToolDefinitionError, ToolOptions, tool, tool_options
from tool_definitions import build, calc_strength


def test_tool_decorator_forms() -> None:
    @tool
    def plain(a: int) -> int:
        return a

    @tool()
    def empty_call(a: int) -> int:
        return a

    @tool(name="renamed", confirm=True)
    def configured(a: int) -> int:
        return a

    def later(a: int) -> int:
        return a

    assert plain(2) == 2 and configured(3) == 3  # still the user's functions
    assert tool_options(plain) == ToolOptions(name=None, confirm=False)
    assert tool_options(empty_call) == ToolOptions()
    assert tool_options(configured) == ToolOptions(name="renamed", confirm=True)
    assert tool(later) is later and tool_options(later) == ToolOptions()
    assert tool_options(calc_strength) is None
    assert tool_options(42) is None


def test_function_tool_reads_the_decorators_options() -> None:
    @tool(name="renamed", confirm=True)
    def configured(a: int) -> int:
        return a

    made = build(configured)
    assert (made.name, made.confirm, made.fn) == ("renamed", True, configured)
    assert build(configured, name="other").name == "other"
    plain = build(calc_strength)
    assert (plain.name, plain.confirm) == ("calc_strength", False)
    assert build(calc_strength, confirm=True).confirm


def test_decorator_rejects_what_cannot_be_a_tool_at_once() -> None:
    with pytest.raises(ToolDefinitionError, match=r"\*args"):

        @tool
        def spread(*args: int) -> None: ...

    with pytest.raises(ToolDefinitionError, match=r"cannot be a tool named 'bad name'.*choose"):
        tool(name="bad name")(calc_strength)
    with pytest.raises(ToolDefinitionError, match="tool named '<lambda>'"):
        tool(lambda x: x)
    assert tool(name="ident")(lambda x: x)(1) == 1
