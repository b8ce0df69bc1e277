"""`%%ask --dry-run`: what an ask would send, shown instead of sent.

The requests are the backend's own (`Backend.preview`), so what is shown is what would go on the
wire, byte for byte, except inline images and files, whose base64 is cut to a stub (it says how
long it was). Sizes come with token estimates (see `tokens`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .tokens import count_tokens, counting_method

if TYPE_CHECKING:
    from .answer_types import AnswerSchema
    from .assistant import Assistant
    from .context import ContextPart
    from .lines import AskLine
    from .settings import Settings

#: Inline data longer than this is shown as a stub.
STUB_AFTER = 120


def ask_preview(
    assistant: Assistant,
    text: str,
    question: str,
    args: AskLine,
    changes: dict[str, Any],
    parts: Sequence[ContextPart],
) -> str:
    """What `%%ask --dry-run` prints for an ask on the thread."""
    requests, replayed = assistant.preview_with_key(
        text,
        tools=args.tools,
        tool_choice=args.tool_choice,
        attachments=list(args.attach),
        schema=args.schema,
        **changes,
    )
    answer = assistant.answer_type(args.schema)
    shown = describe(
        requests,
        assistant.settings(**changes),
        parts,
        question=question,
        server_history=assistant.threads.last_ask() is not None,
        answer=answer.schema if answer is not None else None,
    )
    if replayed is None:
        return shown
    key, recorded = replayed
    found = "recorded: it would be replayed" if recorded else "not recorded: it would go live"
    return f"{shown}\nReplay key: {key} ({found})."


def describe(
    requests: Sequence[tuple[str, dict[str, Any]]],
    settings: Settings,
    parts: Sequence[ContextPart],
    *,
    question: str,
    server_history: bool,
    answer: AnswerSchema | None = None,
) -> str:
    lines = [
        f"Dry run, nothing sent: {settings.dialect} dialect at {settings.public_base_url}, "
        f"model {settings.model}."
    ]
    for endpoint, body in requests:
        lines += ["", endpoint, json.dumps(_stubbed(body), indent=2, ensure_ascii=False)]
    lines.append("")
    sizes = [f"question {_size(question)}", *(f"{p.label} {_size(p.text)}" for p in parts)]
    lines.append("Context: " + "; ".join(sizes) + ".")
    tools = _tool_names(requests)
    lines.append(f"Tools: {', '.join(tools) if tools else 'none'}.")
    if answer is not None:
        how = "strict" if answer.strict else f"not strict: {answer.note}"
        lines.append(f"Answer: JSON of {answer.name}, validated ({how}).")
    tokens = sum(count_tokens(body) for _, body in requests)
    kept = (
        ", plus the thread's earlier asks, which the server keeps"
        if server_history and settings.dialect != "chat"
        else ""
    )
    lines.append(f"Estimated input: ~{tokens:,} tokens ({counting_method()}){kept}.")
    return "\n".join(lines)


def _size(text: str) -> str:
    return f"{len(text):,} characters (~{count_tokens(text):,} tokens)"


def _stubbed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _stubbed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stubbed(item) for item in value]
    if isinstance(value, str) and value.startswith("data:") and len(value) > STUB_AFTER:
        return f"{value[:60]}… ({len(value):,} characters)"
    return value


def _tool_names(requests: Sequence[tuple[str, dict[str, Any]]]) -> list[str]:
    names: list[str] = []
    for _, body in requests:
        for tool in body.get("tools") or ():
            if tool.get("type") == "mcp":
                hosted = f"{tool.get('server_label')} (hosted MCP server)"
                names += [hosted] if hosted not in names else []
                continue
            function = tool.get("function") if isinstance(tool.get("function"), dict) else tool
            name = function.get("name") or tool.get("type")
            if name and name not in names:
                names.append(str(name).replace("_", " ") if "name" not in function else name)
    return names
