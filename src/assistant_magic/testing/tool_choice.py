"""What a request lets the model call, and the ways a scripted reply can break that.

The request says it in ``tools``, ``tool_choice`` and ``parallel_tool_calls``.

The real model never calls a function the request did not offer, never calls one under
``tool_choice: "none"``, and always calls (the forced one) under ``"required"`` or a forced
function. A script that does otherwise is a mistake in the test or in the client's request, so
the server records it in ``validation_errors`` - but still answers, because small and local
models do call unknown tools and clients must cope. ``FunctionCall(..., undeclared=True)``
scripts such a call on purpose.

Both dialects are read: Responses tools (``{"type": "function", "name": ...}``, ``tool_choice``
``{"type": "function", "name": ...}`` or ``{"type": "allowed_tools", "mode", "tools"}``) and Chat
Completions tools (``{"type": "function", "function": {"name": ...}}``, ``tool_choice``
``{"type": "function", "function": {"name": ...}}`` or ``{"type": "allowed_tools",
"allowed_tools": {"mode", "tools"}}``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .script import FunctionCall

_ON_PURPOSE = "script FunctionCall(..., undeclared=True) if that is the point of the test"


@dataclass(frozen=True)
class ToolChoice:
    """``offered``: function tool names in ``tools``. ``mode``: "none", "auto" or "required".
    ``allowed``: the names ``tool_choice`` narrows calls to (a forced function or
    ``allowed_tools``), None if it does not. ``forced``: the function ``tool_choice`` forces.
    ``other``: a ``tool_choice`` for a non-function tool (hosted, MCP, custom), which a scripted
    FunctionCall never satisfies but is not judged here. ``hosted``: the types of the tools the
    server runs itself (``code_interpreter``, ``image_generation``, ...). ``endpoint``: the path
    the request went to, for the messages."""

    offered: tuple[str, ...]
    mode: str = "auto"
    allowed: frozenset[str] | None = None
    forced: str | None = None
    other: bool = False
    parallel: bool = True
    hosted: frozenset[str] = frozenset()
    endpoint: str = "/v1/responses"

    @classmethod
    def of(cls, body: Mapping[str, Any], *, endpoint: str = "/v1/responses") -> ToolChoice:
        base = cls(
            tuple(_function_names(body.get("tools"))),
            parallel=body.get("parallel_tool_calls") is not False,
            hosted=frozenset(_hosted_types(body.get("tools"))),
            endpoint=endpoint,
        )
        choice = body.get("tool_choice")
        if isinstance(choice, str) and choice in ("none", "auto", "required"):
            return replace(base, mode=choice)
        if not isinstance(choice, Mapping):
            return base
        kind = choice.get("type")
        if kind == "function":
            name = str(_function_name(choice))
            return replace(base, mode="required", allowed=frozenset([name]), forced=name)
        if kind == "allowed_tools":
            nested = choice.get("allowed_tools")  # Chat Completions nests mode and tools
            spec = nested if isinstance(nested, Mapping) else choice
            mode = "required" if spec.get("mode") == "required" else "auto"
            allowed = frozenset(_function_names(spec.get("tools")))
            return replace(base, mode=mode, allowed=allowed)
        return replace(base, other=True)

    @property
    def _who(self) -> str:
        return f"scripted reply to POST {self.endpoint}"

    def request_mistakes(self) -> list[str]:
        """Contradictions inside the request itself (the client's mistake)."""
        where = f"POST {self.endpoint} request"
        if self.forced is not None and self.forced not in self.offered:
            return [
                f"{where}: tool_choice forces function {self.forced!r}, which is not among the "
                f"offered tools {list(self.offered)}"
            ]
        if self.mode == "required" and not (self.offered or self.hosted or self.other):
            return [f"{where}: tool_choice 'required' but the request offers no tools"]
        return []

    def reply_mistakes(self, calls: Sequence[FunctionCall] | None) -> list[str]:
        """How a scripted reply breaks the request's rules; ``calls`` is None for a text reply."""
        if calls is None:
            if self.mode == "required" and not self.other:
                wanted = f"function {self.forced!r}" if self.forced else "'required'"
                return [f"{self._who} is text, but tool_choice {wanted} requires a tool call"]
            return []
        problems = [problem for call in calls for problem in self._call_mistakes(call)]
        if len(calls) > 1 and not self.parallel:
            problems.append(
                f"{self._who} makes {len(calls)} calls in one step, but the request set "
                "parallel_tool_calls false"
            )
        return problems

    def hosted_mistakes(self, tool: str) -> list[str]:
        """How a reply that uses the hosted tool ``tool`` (``code_interpreter``, ...) breaks the
        request's rules. Such a call cannot be made on purpose: the server runs hosted tools."""
        uses = f"{self._who} uses the {tool} tool"
        if tool not in self.hosted:
            return [f"{uses}, but the request does not offer it (tools: {sorted(self.hosted)})"]
        if self.mode == "none":
            return [f"{uses}, but the request set tool_choice 'none'"]
        if self.forced is not None:
            return [f"{uses}, but tool_choice forces function {self.forced!r}"]
        return []

    def _call_mistakes(self, call: FunctionCall) -> list[str]:
        if call.undeclared:
            return []
        calls = f"{self._who} calls {call.name!r}"
        if self.mode == "none":
            return [f"{calls}, but the request set tool_choice 'none' ({_ON_PURPOSE})"]
        if not self.offered:
            return [f"{calls}, but the request offers no function tools ({_ON_PURPOSE})"]
        if call.name not in self.offered:
            return [
                f"{calls}, which is not among the offered tools {list(self.offered)} "
                f"({_ON_PURPOSE})"
            ]
        if self.forced is not None and call.name != self.forced:
            return [f"{calls}, but tool_choice forces function {self.forced!r} ({_ON_PURPOSE})"]
        if self.allowed is not None and call.name not in self.allowed:
            return [
                f"{calls}, which tool_choice allowed_tools does not allow "
                f"{sorted(self.allowed)} ({_ON_PURPOSE})"
            ]
        return []


def _function_names(tools: object) -> list[str]:
    if not isinstance(tools, list):
        return []
    return [
        str(_function_name(tool))
        for tool in tools
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]


def _function_name(tool: Mapping[str, Any]) -> object:
    """The name in a function tool or forced choice: top level (Responses) or under
    ``function`` (Chat Completions)."""
    nested = tool.get("function")
    if "name" not in tool and isinstance(nested, Mapping):
        return nested.get("name")
    return tool.get("name")


def _hosted_types(tools: object) -> list[str]:
    """The ``type`` of each tool the server runs itself (anything but functions and custom)."""
    if not isinstance(tools, list):
        return []
    return [
        str(tool.get("type"))
        for tool in tools
        if isinstance(tool, Mapping) and tool.get("type") not in ("function", "custom")
    ]


def find_tool(body: Mapping[str, Any], kind: str) -> tuple[int, Mapping[str, Any]] | None:
    """The index and value of the request's first tool of type ``kind``, if it offers one."""
    tools = body.get("tools")
    for index, tool in enumerate(tools if isinstance(tools, list) else []):
        if isinstance(tool, Mapping) and tool.get("type") == kind:
            return index, tool
    return None
