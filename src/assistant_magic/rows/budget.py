"""A job's hard stops: tokens and dollars for the whole job. A request is sent only if what is
spent, plus what requests in flight may spend, plus its own estimate stays within the limit: a
job stops before the request that would cross it, not after."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..events import Usage
from ..tokens import count_tokens
from .running import Work

#: Output tokens assumed for a request before any answer has come back (and no output limit
#: is set): a short answer, as most row jobs ask for.
FIRST_OUTPUT_GUESS = 256


@dataclass
class JobBudget:
    """Tokens and cost a job may spend (0: no limit); `price` gives a usage's dollars (None:
    unknown, and then a cost limit cannot be kept: it says so when the job starts)."""

    tokens: int = 0
    cost: float = 0.0
    price: Callable[[Usage], float | None] = lambda usage: None
    #: Tokens the request itself adds to its message (instructions, schema, framing).
    overhead: int = 0
    max_output: int = 0
    spent: Usage = field(default_factory=lambda: Usage(0, 0, 0))
    reserved: int = 0
    answers: int = 0
    #: Why the job stopped ("" while it may go on).
    stopped: str = ""

    def allows(self, work: Work) -> bool:
        """Whether `work` may be sent; if so, its estimate is set aside until it is settled."""
        if not (self.tokens or self.cost):
            return True
        estimate = self.overhead + count_tokens(work.text) + self._output_estimate()
        if self.tokens and self.spent.total_tokens + self.reserved + estimate > self.tokens:
            self.stopped = (
                f"the next request would cross the job's token budget ({self.tokens:,}, "
                f"{self.spent.total_tokens:,} spent)"
            )
            return False
        dollars = self._dollars(self.spent.total_tokens + self.reserved + estimate)
        if self.cost and dollars is not None and dollars > self.cost:
            self.stopped = (
                f"the next request would cross the job's cost budget (${self.cost:,.4f}, "
                f"${self._dollars(self.spent.total_tokens) or 0:,.4f} spent)"
            )
            return False
        work.reserved = estimate
        self.reserved += estimate
        return True

    def settle(self, work: Work, usage: Usage | None) -> None:
        """A request came back: what it spent replaces what was set aside for it."""
        self.reserved -= work.reserved
        work.reserved = 0
        if usage is not None:
            self.spent = self.spent + usage
            self.answers += 1

    def _output_estimate(self) -> int:
        if self.answers:
            return max(1, self.spent.output_tokens // self.answers)
        return self.max_output or FIRST_OUTPUT_GUESS

    def _dollars(self, tokens: int) -> float | None:
        """The cost of `tokens`, split between input and output as spent so far."""
        spent = self.spent
        share = spent.output_tokens / spent.total_tokens if spent.total_tokens else 0.25
        output = int(tokens * share)
        return self.price(Usage(tokens - output, output, tokens))
