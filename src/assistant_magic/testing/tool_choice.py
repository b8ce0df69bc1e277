"""What a request lets the model call (``tools``, ``tool_choice``, ``parallel_tool_calls``), and
the ways a scripted reply can break that.

The real model never calls a function the request did not offer, never calls one under
``tool_choice: "none"``, and always calls (the forced one) under ``"required"`` or a forced
function. A script that does otherwise is a mistake in the test or in the client's request, so
the server records it in ``validation_errors`` - but still answers, because small and local
models do call unknown tools and clients must cope. ``FunctionCall(..., undeclared=True)``
scripts such a call on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .script import FunctionCall

_WHO = "scripted reply to POST /v1/responses"
_ON_PURPOSE = "script FunctionCall(..., undeclared=True) if that is the point of the test"


@dataclass(frozen=True)
class ToolChoice:
    """``offered``: function tool names in ``tools``. ``mode``: "none", "auto" or "required".
    ``allowed``: the names ``tool_choice`` narrows calls to (a forced function or
    ``allowed_tools``), None if it does not. ``forced``: the function ``tool_choice`` forces.
    ``other``: a ``tool_choice`` for a non-function tool (hosted, MCP, custom), which a scripted
    FunctionCall never satisfies but is not judged here."""

    offered: tuple[str, ...]
    mode: str = "auto"
    allowed: frozenset[str] | None = None
    forced: str | None = None
    other: bool = False
    parallel: bool = True

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> ToolChoice:
        offered = tuple(_function_names(body.get("tools")))
        parallel = body.get("parallel_tool_calls") is not False
        choice = body.get("tool_choice")
        if isinstance(choice, str) and choice in ("none", "auto", "required"):
            return cls(offered, mode=choice, parallel=parallel)
        if not isinstance(choice, Mapping):
            return cls(offered, parallel=parallel)
        kind = choice.get("type")
        if kind == "function":
            name = str(choice.get("name"))
            return cls(
                offered, "required", allowed=frozenset([name]), forced=name, parallel=parallel
            )
        if kind == "allowed_tools":
            mode = "required" if choice.get("mode") == "required" else "auto"
            allowed = frozenset(_function_names(choice.get("tools")))
            return cls(offered, mode, allowed=allowed, parallel=parallel)
        return cls(offered, other=True, parallel=parallel)

    def request_mistakes(self) -> list[str]:
        """Contradictions inside the request itself (the client's mistake)."""
        where = "POST /v1/responses request"
        if self.forced is not None and self.forced not in self.offered:
            return [
                f"{where}: tool_choice forces function {self.forced!r}, which is not among the "
                f"offered tools {list(self.offered)}"
            ]
        if self.mode == "required" and not self.offered and not self.other:
            return [f"{where}: tool_choice 'required' but the request offers no function tools"]
        return []

    def reply_mistakes(self, calls: Sequence[FunctionCall] | None) -> list[str]:
        """How a scripted reply breaks the request's rules; ``calls`` is None for a text reply."""
        if calls is None:
            if self.mode == "required" and not self.other:
                wanted = f"function {self.forced!r}" if self.forced else "'required'"
                return [f"{_WHO} is text, but tool_choice {wanted} requires a tool call"]
            return []
        problems = [problem for call in calls for problem in self._call_mistakes(call)]
        if len(calls) > 1 and not self.parallel:
            problems.append(
                f"{_WHO} makes {len(calls)} calls in one step, but the request set "
                "parallel_tool_calls false"
            )
        return problems

    def _call_mistakes(self, call: FunctionCall) -> list[str]:
        if call.undeclared:
            return []
        calls = f"{_WHO} calls {call.name!r}"
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
        str(tool.get("name"))
        for tool in tools
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]
