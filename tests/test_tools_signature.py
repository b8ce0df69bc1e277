"""Callables that cannot be tools, found without pydantic; async callables told apart."""

from __future__ import annotations

import asyncio
import functools

import pytest

from assistant_magic.errors import AssistantError
from assistant_magic.tools import FunctionTool, ToolDefinitionError
from tool_definitions import build, calc_strength


def test_star_args_and_kwargs() -> None:
    def spread(*numbers: int) -> None: ...

    def options(**settings: str) -> None: ...

    with pytest.raises(
        ToolDefinitionError, match=r"spread\(\) cannot be a tool: it takes \*numbers"
    ):
        FunctionTool(spread)
    with pytest.raises(ToolDefinitionError, match=r"it takes \*\*settings"):
        FunctionTool(options)


def test_positional_only_parameters() -> None:
    def div(a: int, b: int, /) -> float:
        return a / b

    with pytest.raises(
        ToolDefinitionError, match=r"parameter 'a' is positional-only.*remove the '/'"
    ):
        FunctionTool(div)


def test_bad_names() -> None:
    with pytest.raises(ToolDefinitionError, match=r"tool named '<lambda>'.*pass name="):
        FunctionTool(lambda x: x)
    assert build(lambda x: x, name="identity").name == "identity"
    with pytest.raises(ToolDefinitionError, match=r"tool named 'has space'.*choose another name"):
        FunctionTool(calc_strength, name="has space")
    with pytest.raises(ToolDefinitionError, match="1 to 64"):
        FunctionTool(calc_strength, name="x" * 65)
    assert FunctionTool(calc_strength, name="x" * 64).name == "x" * 64


def test_not_callable() -> None:
    with pytest.raises(ToolDefinitionError, match=r"42 cannot be a tool: it is not callable"):
        FunctionTool(42)  # type: ignore[arg-type]


def test_definition_errors_are_assistant_errors_shown_in_one_line() -> None:
    with pytest.raises(AssistantError) as caught:
        FunctionTool(42)  # type: ignore[arg-type]
    assert caught.value._render_traceback_() == [f"ToolDefinitionError: {caught.value}"]


def test_async_detection() -> None:
    async def fetch(url: str) -> str:
        return url

    class Client:
        async def get(self, path: str) -> str:
            return path

        async def __call__(self, path: str) -> str:
            return path

    class SyncCallable:
        def __call__(self, path: str) -> str:
            return path

    assert build(fetch).is_async
    assert build(functools.partial(fetch, url="x"), name="fetch").is_async
    assert build(Client().get).is_async
    assert build(Client()).is_async
    assert not build(SyncCallable()).is_async
    assert not build(calc_strength).is_async
    kwargs = build(fetch).parse_arguments('{"url": "u"}')
    assert asyncio.run(fetch(**kwargs)) == "u"
