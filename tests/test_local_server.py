"""The Gemma and Qwen prompts the local server builds from chat messages (llama_cpp not
needed)."""

from __future__ import annotations

import json

from assistant_magic.local_server import QWEN_SYSTEM, gemma_prompt, qwen_prompt


def call(call_id: str, name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def test_instructions_calls_and_results_all_reach_the_prompt() -> None:
    messages = [
        {"role": "system", "content": "You act as Frieza."},
        {"role": "user", "content": "Strengths of Mamezou and Goku?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                call("c1", "calc_strength", {"name": "Mamezou"}),
                call("c2", "calc_strength", {"name": "Goku", "unit": None}),
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "530,000"},
        {"role": "tool", "tool_call_id": "c2", "content": "a table:\n9001"},
    ]

    assert gemma_prompt(messages) == (
        "<start_of_turn>user\nYou act as Frieza.\n\nStrengths of Mamezou and Goku?<end_of_turn>\n"
        "<start_of_turn>model\n"
        'Calling calc_strength(name="Mamezou").\n'
        'Calling calc_strength(name="Goku", unit=null).<end_of_turn>\n'
        "<start_of_turn>user\n"
        'The result of calc_strength(name="Mamezou") is 530,000.\n\n'
        'The result of calc_strength(name="Goku", unit=null) is:\na table:\n9001<end_of_turn>\n'
        "<start_of_turn>model\n"
    )


def test_plain_turns_alternate_and_text_parts_are_read() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "image_url"}]},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye"},
    ]
    assert gemma_prompt(messages) == (
        "<start_of_turn>user\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nBye<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_instructions_alone_and_arguments_that_are_not_json() -> None:
    only_instructions = gemma_prompt([{"role": "developer", "content": "Be brief."}])
    assert (
        only_instructions == "<start_of_turn>user\nBe brief.<end_of_turn>\n<start_of_turn>model\n"
    )
    broken = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}
    prompt = gemma_prompt(
        [{"role": "user", "content": "Go"}, {"role": "assistant", "tool_calls": [broken]}]
    )
    assert 'Calling f({"a": 1).' in prompt


TOOL = {
    "type": "function",
    "function": {
        "name": "calc_strength",
        "description": "Calculate a fighter's battle strength.",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}}},
    },
}


def test_qwen_prompt_lists_the_tools_and_writes_calls_and_results_as_qwen_does() -> None:
    goku = call("c1", "calc_strength", {"name": "Goku"})
    asking = [
        {"role": "system", "content": "You act as Frieza."},
        {"role": "user", "content": "Goku's strength?"},
    ]
    prompt = qwen_prompt(asking, [TOOL])
    assert prompt.startswith("<|im_start|>system\nYou act as Frieza.\n\n# Tools\n")
    assert json.dumps(TOOL["function"]) in prompt and "<tool_call></tool_call>" in prompt
    assert prompt.endswith("<|im_start|>user\nGoku's strength?<|im_end|>\n<|im_start|>assistant\n")

    answered = [*asking, {"role": "assistant", "content": "", "tool_calls": [goku]}]
    answered.append({"role": "tool", "tool_call_id": "c1", "content": "9,001"})
    prompt = qwen_prompt(answered, [TOOL])
    call_text = (
        '<tool_call>\n{"name": "calc_strength", "arguments": {"name": "Goku"}}\n</tool_call>'
    )
    assert f"<|im_start|>assistant\n{call_text}<|im_end|>" in prompt, "arguments as JSON, once"
    assert "<|im_start|>user\n<tool_response>\n9,001\n</tool_response><|im_end|>" in prompt
    assert "# Tools" not in prompt, "with the result in hand, the answer is asked for"


def test_qwen_prompt_without_instructions_uses_qwens_own() -> None:
    prompt = qwen_prompt([{"role": "user", "content": "Hi"}])
    assert prompt.startswith(f"<|im_start|>system\n{QWEN_SYSTEM}<|im_end|>\n")
