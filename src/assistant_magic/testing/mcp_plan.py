"""What a :class:`McpCall` step plays, read off the request's ``mcp`` tool, and the approval rules.

The request's tool for the step's ``server_label`` decides three things, as on the real API:

* which tools the server lists: the step's, narrowed by ``allowed_tools`` (a list of names, or a
  filter ``{"tool_names": [...], "read_only": bool}``);
* whether the list is sent: only when the context (conversation items, or the previous response
  chain) and the input hold no ``mcp_list_tools`` item for that server yet;
* whether the call waits for approval: ``require_approval`` ``"always"`` (the default) or
  ``"never"``, or per tool, ``{"never": filter, "always": filter}``. A tool that neither filter
  matches needs approval unless the object names only ``always`` tools (our reading: the docs
  show ``never`` lists of tools trusted, the rest asking).

An approval request the server sent is remembered (``ServerState.mcp_approvals``) until the
``mcp_approval_response`` that answers it arrives; that request then continues the step (a
:class:`McpApproval`) instead of taking the next script item. The approval rules, over the
context plus the new input, each a 400 with ``param: "input"`` in our words (the real ones are
unverified), checked in this order:

* ``[scripted server] No approval request found for mcp_approval_response with
  approval_request_id <id>.``: the answer names a request the context does not hold;
* ``[scripted server] Duplicate mcp_approval_response for approval_request_id <id>: each
  mcp_approval_request takes exactly one response.``;
* ``[scripted server] No approval response found for mcp_approval_request <id>: answer it with an
  mcp_approval_response item before going on.``: a request left unanswered (a new user message
  after it, say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .hosted_steps import McpCall
from .state import ServerState
from .tool_choice import ToolChoice
from .wire import scripted_failure

_WHO = "scripted McpCall reply to POST /v1/responses"


@dataclass(frozen=True)
class McpPlan:
    """How a :class:`McpCall` plays: the tools to list first (None: the context lists them
    already) and whether the call waits for approval."""

    reply: McpCall
    list_tools: list[dict[str, Any]] | None
    needs_approval: bool


@dataclass(frozen=True)
class McpApproval:
    """The answer to an approval request the server sent: the step it continues."""

    call: McpCall
    approval_request_id: str
    approve: bool

    @property
    def chunk_delay(self) -> float | None:
        return self.call.chunk_delay


def find_mcp_tool(body: Mapping[str, Any], server_label: str) -> Mapping[str, Any] | None:
    """The request's ``mcp`` tool for ``server_label``, if it offers one."""
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if (
            isinstance(tool, Mapping)
            and tool.get("type") == "mcp"
            and tool.get("server_label") == server_label
        ):
            return tool
    return None


def plan_mcp(
    reply: McpCall, body: Mapping[str, Any], seen: Sequence[Mapping[str, Any]]
) -> tuple[McpPlan, list[str]]:
    """The step's plan over the request's tool and the ``seen`` items (context and input), and
    the mistakes it makes (calling a tool ``allowed_tools`` leaves out)."""
    tool = find_mcp_tool(body, reply.server_label) or {}
    listed = [t for t in reply.listed_tools if _allowed(tool.get("allowed_tools"), t)]
    mistakes = []
    if reply.name not in (t["name"] for t in listed):
        mistakes.append(
            f"{_WHO} calls {reply.name!r} on {reply.server_label!r}, but the tool's "
            f"allowed_tools leaves it out (listed: {[t['name'] for t in listed]})"
        )
    called = next((t for t in reply.listed_tools if t["name"] == reply.name), {"name": reply.name})
    already = any(
        item.get("type") == "mcp_list_tools" and item.get("server_label") == reply.server_label
        for item in seen
    )
    approval = needs_approval(tool.get("require_approval"), called)
    return McpPlan(reply, None if already else listed, approval), mistakes


def mcp_mistakes(choice: ToolChoice, body: Mapping[str, Any], reply: McpCall) -> list[str]:
    """How an MCP step breaks the request's rules: its server not offered, or ``tool_choice``."""
    if find_mcp_tool(body, reply.server_label) is None:
        tools = body.get("tools")
        labels = [
            t.get("server_label")
            for t in (tools if isinstance(tools, list) else [])
            if isinstance(t, Mapping) and t.get("type") == "mcp"
        ]
        return [
            f"{_WHO} uses the mcp tool of server {reply.server_label!r}, but the request offers "
            f"no mcp tool with that server_label (mcp servers: {labels})"
        ]
    return choice.hosted_mistakes("mcp")


def needs_approval(setting: object, tool: Mapping[str, Any]) -> bool:
    """Whether ``require_approval`` (the module doc's reading) wants approval for ``tool``."""
    if setting is None or setting == "always":
        return True
    if not isinstance(setting, Mapping):
        return False  # "never"
    never, always = setting.get("never"), setting.get("always")
    if isinstance(never, Mapping) and _matches(never, tool):
        return False
    if isinstance(always, Mapping) and _matches(always, tool):
        return True
    return not (always is not None and never is None)


def _allowed(allowed_tools: object, tool: Mapping[str, Any]) -> bool:
    if isinstance(allowed_tools, list):
        return tool["name"] in allowed_tools
    if isinstance(allowed_tools, Mapping):
        return _matches(allowed_tools, tool)
    return True


def _matches(tool_filter: Mapping[str, Any], tool: Mapping[str, Any]) -> bool:
    """An ``MCPToolFilter`` matches a tool that passes each criterion it gives."""
    names = tool_filter.get("tool_names")
    if isinstance(names, list) and tool.get("name") not in names:
        return False
    read_only = tool_filter.get("read_only")
    return read_only is None or _read_only(tool) == read_only


def _read_only(tool: Mapping[str, Any]) -> bool:
    """A tool annotated read-only (``read_only``, or MCP's own ``readOnlyHint``)."""
    annotations = tool.get("annotations")
    if not isinstance(annotations, Mapping):
        return False
    return bool(annotations.get("read_only") or annotations.get("readOnlyHint"))


# -- pending approvals ----------------------------------------------------------------------------


def remember_approval(state: ServerState, request_id: str, reply: McpCall) -> None:
    """An approval request was sent: the answer to ``request_id`` continues ``reply``."""
    with state.lock:
        state.mcp_approvals[request_id] = reply
        state.changed()


def take_approval(state: ServerState, items: Iterable[Mapping[str, Any]]) -> McpApproval | None:
    """The step the new input's first answer to a remembered approval request continues (it is
    forgotten: each request is answered once), or None if the input answers none."""
    with state.lock:
        for item in items:
            if item.get("type") != "mcp_approval_response":
                continue
            request_id = str(item.get("approval_request_id"))
            call = state.mcp_approvals.pop(request_id, None)
            if call is not None:
                state.changed()
                return McpApproval(call, request_id, item.get("approve") is True)
    return None


# -- the approval rules ---------------------------------------------------------------------------


def check_approvals(
    context: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> None:
    """The new input's approval answers name requests once, and no request goes unanswered."""
    for find, message in _APPROVAL_RULES:
        found = find(context, items)
        if found is not None:
            raise scripted_failure(400, message.format(found), param="input")


def _requests(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(i.get("id")) for i in items if i.get("type") == "mcp_approval_request"]


def _answers(items: Iterable[Mapping[str, Any]]) -> list[str]:
    return [
        str(i.get("approval_request_id")) for i in items if i.get("type") == "mcp_approval_response"
    ]


def _unknown_answer(
    context: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> str | None:
    made = set(_requests([*context, *items]))
    return next((answer for answer in _answers(items) if answer not in made), None)


def _repeated_answer(
    context: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> str | None:
    seen: set[str] = set()
    for answer in _answers([*context, *items]):
        if answer in seen:
            return answer
        seen.add(answer)
    return None


def _unanswered_request(
    context: Sequence[Mapping[str, Any]], items: Sequence[Mapping[str, Any]]
) -> str | None:
    answered = set(_answers([*context, *items]))
    return next((r for r in _requests([*context, *items]) if r not in answered), None)


_Finder = Callable[[Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]], "str | None"]
_APPROVAL_RULES: tuple[tuple[_Finder, str], ...] = (
    (
        _unknown_answer,
        "No approval request found for mcp_approval_response with approval_request_id {}.",
    ),
    (
        _repeated_answer,
        "Duplicate mcp_approval_response for approval_request_id {}: each mcp_approval_request "
        "takes exactly one response.",
    ),
    (
        _unanswered_request,
        "No approval response found for mcp_approval_request {}: answer it with an "
        "mcp_approval_response item before going on.",
    ),
)
