"""The child process behind `%assistant --local`: llama-cpp-python's server, plus a Gemma prompt
format that keeps tool calls and their results.

llama-cpp-python's own "gemma" format keeps only user and model text: the system instructions, the
model's tool calls and the tools' results never reach the prompt, so a Gemma model cannot see what
a tool answered. Gemma has no tool or system role, so `gemma_prompt` puts instructions at the
head of the first user turn, each call in the model's turn and each result in the user's turn, in
plain sentences. (Google's guide for Gemma uses ```tool_code``` / ```tool_output``` blocks; the
270M default model, a base model, then only repeats blocks, while after the sentences its answer
starts with the result.)

Run as ``python -m assistant_magic.local_server`` with llama_cpp.server's own arguments. Only this
child process imports llama_cpp; `gemma_prompt` itself is plain Python, tested without it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: The `--chat_format` names this module registers with llama-cpp-python.
GEMMA_WITH_TOOLS = "assistant-magic-gemma"
QWEN_WITH_TOOLS = "assistant-magic-qwen"

START, END = "<start_of_turn>", "<end_of_turn>"


def gemma_prompt(messages: Sequence[Mapping[str, Any]]) -> str:
    """The Gemma prompt for OpenAI chat `messages`, ending where the model's answer starts."""
    instructions = [_text(m.get("content")) for m in messages if m.get("role") in _INSTRUCTIONS]
    names = _call_names(messages)
    turns: list[tuple[str, str]] = []
    for message in messages:
        role = message.get("role")
        if role in _INSTRUCTIONS:
            continue
        speaker = "model" if role == "assistant" else "user"
        text = _render(message, names)
        if turns and turns[-1][0] == speaker:
            turns[-1] = (speaker, f"{turns[-1][1]}\n\n{text}".strip())
        else:
            turns.append((speaker, text))
    preamble = "\n\n".join(part for part in instructions if part)
    if preamble:
        if turns and turns[0][0] == "user":
            turns[0] = ("user", f"{preamble}\n\n{turns[0][1]}")
        else:
            turns.insert(0, ("user", preamble))
    prompt = "".join(f"{START}{speaker}\n{text}{END}\n" for speaker, text in turns)
    return f"{prompt}{START}model\n"


_INSTRUCTIONS = ("system", "developer")


def _render(message: Mapping[str, Any], names: Mapping[str, str]) -> str:
    role = message.get("role")
    text = _text(message.get("content"))
    if role == "tool":
        call = names.get(str(message.get("tool_call_id")), "the tool")
        return (
            f"The result of {call} is:\n{text}"
            if "\n" in text
            else f"The result of {call} is {text}."
        )
    calls = [f"Calling {_call_code(call)}." for call in message.get("tool_calls") or ()]
    return "\n".join([text, *calls]).strip()


def _call_code(call: Mapping[str, Any]) -> str:
    """A call as Gemma writes one: ``name(key="value", ...)``."""
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        return f"{function.get('name', '')}({function.get('arguments', '')})"
    pairs = ", ".join(f"{key}={json.dumps(value)}" for key, value in arguments.items())
    return f"{function.get('name', '')}({pairs})"


def _call_names(messages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Each call id with the call as written in the model's turn."""
    return {
        str(call.get("id")): _call_code(call)
        for message in messages
        for call in message.get("tool_calls") or ()
    }


def _text(content: object) -> str:
    """Text of a message's content: a string, or the text parts of a list (Gemma 3 270M reads
    no images)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict)
        ).strip()
    return ""


# -- Qwen2.5 -------------------------------------------------------------------------------------

IM_START, IM_END = "<|im_start|>", "<|im_end|>"
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
QWEN_TOOLS = """# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{tools}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{{"name": <function-name>, "arguments": <args-json-object>}}
</tool_call>"""


def qwen_prompt(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> str:
    """Qwen2.5's ChatML prompt with its own tool format (as its chat template writes it):
    the tools in the system turn, each call as a ``<tool_call>`` JSON object in the assistant's
    turn, each result as a ``<tool_response>`` in the user's. (llama-cpp-python's rendering of
    the GGUF's template encodes a call's arguments twice, and the model then repeats the call
    instead of answering.)"""
    system = "\n\n".join(
        _text(m.get("content")) for m in messages if m.get("role") in _INSTRUCTIONS
    )
    system = system or QWEN_SYSTEM
    answering = bool(messages) and messages[-1].get("role") == "tool"
    # After a tool's result this small model calls the tool again, and again, while the tools
    # are listed: with the result in hand, it is asked for the answer.
    if tools and not answering:
        listed = "\n".join(json.dumps(tool.get("function", tool)) for tool in tools)
        system = f"{system}\n\n{QWEN_TOOLS.format(tools=listed)}"
    turns: list[tuple[str, str]] = [("system", system)]
    for message in messages:
        role = message.get("role")
        if role in _INSTRUCTIONS:
            continue
        if role == "tool":
            text = f"<tool_response>\n{_text(message.get('content'))}\n</tool_response>"
            if turns[-1][0] == "user" and turns[-1][1].endswith("</tool_response>"):
                turns[-1] = ("user", f"{turns[-1][1]}\n{text}")
            else:
                turns.append(("user", text))
            continue
        text = _text(message.get("content"))
        calls = [_qwen_call(call) for call in message.get("tool_calls") or ()]
        turns.append((str(role), "\n".join(part for part in (text, *calls) if part)))
    prompt = "".join(f"{IM_START}{role}\n{text}{IM_END}\n" for role, text in turns)
    return f"{prompt}{IM_START}assistant\n"


def _qwen_call(call: Mapping[str, Any]) -> str:
    function = call.get("function") or {}
    try:
        arguments = json.loads(function.get("arguments") or "{}")
    except json.JSONDecodeError:
        arguments = function.get("arguments")
    body = json.dumps({"name": function.get("name", ""), "arguments": arguments})
    return f"<tool_call>\n{body}\n</tool_call>"


def main() -> None:
    from llama_cpp import llama_chat_format
    from llama_cpp.server.__main__ import main as serve

    @llama_chat_format.register_chat_format(GEMMA_WITH_TOOLS)
    def _gemma(messages: list[Any], **kwargs: Any) -> llama_chat_format.ChatFormatterResponse:
        return llama_chat_format.ChatFormatterResponse(prompt=gemma_prompt(messages), stop=END)

    @llama_chat_format.register_chat_format(QWEN_WITH_TOOLS)
    def _qwen(messages: list[Any], **kwargs: Any) -> llama_chat_format.ChatFormatterResponse:
        prompt = qwen_prompt(messages, kwargs.get("tools"))
        return llama_chat_format.ChatFormatterResponse(prompt=prompt, stop=IM_END)

    serve()


if __name__ == "__main__":
    main()
