"""Streamed Markdown cut into finished blocks and the growing tail."""

from __future__ import annotations

import random
import time

import pytest

from assistant_magic.markdown_blocks import BLOCK_LIMIT, Block, MarkdownBlocks

ANSWER = """Mamezou's **battle strength** is 530,000.

- speed: high
- stamina: endless

| fighter | strength |
|---|---|
| Mamezou | 530,000 |

```python
def strength(name):

    return 530_000
```

~~~
a tilde fence ``` with backticks inside
~~~

The end."""


def blocks_of(pieces: list[str], limit: int = BLOCK_LIMIT) -> list[Block]:
    splitter = MarkdownBlocks(limit)
    blocks = [block for piece in pieces for block in splitter.feed(piece)]
    return [*blocks, splitter.close()]


def shown(blocks: list[Block]) -> list[str]:
    return [block.shown for block in blocks]


def source(blocks: list[Block]) -> str:
    return "".join(block.source for block in blocks)


def test_blocks_end_at_blank_lines_and_closing_fences() -> None:
    blocks = shown(blocks_of([ANSWER]))
    assert "".join(blocks) == ANSWER, "the blocks are the answer, cut"
    assert [block.strip().split("\n", 1)[0] for block in blocks] == [
        "Mamezou's **battle strength** is 530,000.",
        "- speed: high",
        "| fighter | strength |",
        "```python",
        "~~~",
        "The end.",
    ]
    assert blocks[3].endswith("```\n"), "a blank line inside a fence does not end the block"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_any_chunking_gives_the_same_blocks(size: int) -> None:
    pieces = [ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]
    assert blocks_of(pieces) == blocks_of([ANSWER])


def test_random_chunking_of_random_markdown_joins_back() -> None:
    rng = random.Random(7)
    kinds = ["word " * 30 + "\n", "\n", "```\n", "- item\n", "~~~~\n", "| a | b |\n", "    code\n"]
    text = "".join(rng.choice(kinds) for _ in range(2_000))
    cuts = sorted(rng.sample(range(1, len(text)), 500))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    blocks = blocks_of(pieces, limit=300)
    assert source(blocks) == text
    assert all(len(block.shown) < 3 * 300 for block in blocks[:-1])


def test_an_unclosed_fence_stays_the_tail() -> None:
    splitter = MarkdownBlocks()
    assert shown(splitter.feed("Intro.\n\n```python\nx = 1\n\ny = 2\n")) == ["Intro.\n\n"]
    assert splitter.in_code and splitter.tail == "```python\nx = 1\n\ny = 2\n"


def test_a_huge_code_block_is_cut_into_pieces_that_each_render_as_code() -> None:
    code = "```python\n" + "".join(f"line_{i} = {i}\n" for i in range(1_000)) + "```\n\nAfter."
    blocks = blocks_of([code[i : i + 13] for i in range(0, len(code), 13)], limit=500)
    assert len(blocks) > 10
    for block in shown(blocks)[:-2]:
        assert block.startswith("```python\n") and block.endswith("```\n"), block[:40]
        assert len(block) < 2 * 500
    assert blocks[-1].shown.strip() == "After."
    assert source(blocks) == code


def test_an_endless_paragraph_is_cut_at_spaces() -> None:
    paragraph = " ".join(f"word{i}" for i in range(5_000))
    blocks = shown(blocks_of([paragraph[i : i + 5] for i in range(0, len(paragraph), 5)]))
    assert len(blocks) > 5 and all(len(block) <= BLOCK_LIMIT + 10 for block in blocks)
    assert all(block.endswith(" ") for block in blocks[:-1]), "never inside a word"
    assert "".join(blocks) == paragraph


def test_the_work_grows_with_the_answer_not_its_square() -> None:
    def seconds(words: int) -> float:
        text = "".join(f"word{i} " + ("\n\n" if i % 50 == 49 else "") for i in range(words))
        pieces = [text[i : i + 6] for i in range(0, len(text), 6)]
        splitter = MarkdownBlocks()
        start = time.perf_counter()
        for piece in pieces:
            splitter.feed(piece)
        return time.perf_counter() - start

    small, large = min(seconds(4_000) for _ in range(3)), min(seconds(40_000) for _ in range(3))
    assert large < small * 30, f"10x the words took {large / small:.0f}x the time"


def test_only_commonmark_fences_open_and_close_code() -> None:
    text = (
        "Type ```python``` to open a fence.\n\n"  # inline code, not a fence
        "```\ninside\n    ```\n\nstill inside\n``` python\n\nstill\n`````\n\n"  # 4-space, info
        "~~~~\n```\n~~~\n\nstill\n~~~~~\n\n"  # only a tilde fence at least as long closes
        "The end."
    )
    blocks = shown(blocks_of([text]))
    assert [block.strip().split("\n", 1)[0] for block in blocks] == [
        "Type ```python``` to open a fence.",
        "```",
        "~~~~",
        "The end.",
    ]
    assert blocks[1].endswith("still\n`````\n") and blocks[2].endswith("still\n~~~~~\n")
    assert blocks_of([text[i : i + 1] for i in range(len(text))]) == blocks_of([text])


def test_one_huge_delta_without_breaks_is_cut_into_bounded_pieces() -> None:
    paragraph = " ".join(f"word{i}" for i in range(5_000))
    splitter = MarkdownBlocks()
    pieces = shown(splitter.feed(paragraph))
    assert len(pieces) > 10 and all(len(piece) <= BLOCK_LIMIT for piece in pieces)
    assert len(splitter.tail) <= BLOCK_LIMIT
    assert "".join(pieces) + splitter.tail == paragraph
