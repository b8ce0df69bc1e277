"""What an ask may still spend: tokens and tool calls, per ask and per thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .options import Options
    from .records import ThreadRecord
    from .store import Store


@dataclass(frozen=True)
class Budget:
    """What one ask may still spend: tokens (input + output, all its requests together) and tool
    calls, None for no limit, each with the limit it comes from, for the note when it is hit.

    Budgets are soft: a request's tokens are known only once it has run, so the ask notices it
    went over after the fact, and then asks once more, without tools, for a final answer.
    """

    tokens: int | None = None
    tokens_limit: str = ""
    tool_calls: int | None = None
    tool_calls_limit: str = ""

    def tokens_spent(self, used: int) -> bool:
        return self.tokens is not None and used >= self.tokens

    def calls_left(self, made: int) -> int | None:
        return None if self.tool_calls is None else max(self.tool_calls - made, 0)

    @property
    def spent(self) -> bool:
        """Nothing may be sent at all: the thread's token budget is used up."""
        return self.tokens == 0

    def spent_message(self) -> str:
        setting = self.tokens_limit.rsplit("(", 1)[-1].rstrip(")")
        return (
            f"Not sent: the token budget {self.tokens_limit} is spent. Start a new thread "
            f"(%assistant thread new) or raise the limit with %config AssistantMagics.{setting}."
        )


def budget_for(options: Options, store: Store, thread: ThreadRecord | None) -> Budget:
    """What the next ask may spend: the tighter of the per-ask limit and what the thread has
    left of its own (0: no limit)."""
    used_tokens = used_calls = 0
    if thread is not None and (options.max_thread_tokens or options.max_thread_tool_calls):
        used = store.usage_by_model(thread_id=thread.id).values()
        used_tokens = sum(u.total_tokens for u in used)
        used_calls = store.tool_call_count(thread.id)
    tokens, tokens_limit = _tighter(
        (options.max_ask_tokens, "per ask (max_ask_tokens)"),
        (
            options.max_thread_tokens,
            f"left of this thread's {options.max_thread_tokens:,} (max_thread_tokens)",
        ),
        used_tokens,
    )
    calls, calls_limit = _tighter(
        (options.max_ask_tool_calls, "per ask (max_ask_tool_calls)"),
        (
            options.max_thread_tool_calls,
            f"left of this thread's {options.max_thread_tool_calls:,} (max_thread_tool_calls)",
        ),
        used_calls,
    )
    return Budget(tokens, tokens_limit, calls, calls_limit)


def _tighter(
    ask: tuple[int, str], thread: tuple[int, str], thread_used: int
) -> tuple[int | None, str]:
    """The smaller allowance of a per-ask limit and a thread's remainder (0 limits: none)."""
    options = []
    if ask[0] > 0:
        options.append(ask)
    if thread[0] > 0:
        options.append((max(thread[0] - thread_used, 0), thread[1]))
    if not options:
        return None, ""
    return min(options, key=lambda option: option[0])
