"""`%assistant usage`: tokens and what they cost, per model, for the thread and the session.

Costs come from `pricing`; a model without a price is said to be unknown (with the setting that
fixes it) and left out of the total, which then says so, rather than counted as free.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from .events import Usage
from .pricing import SETTING, format_cost
from .view import usage_text

if TYPE_CHECKING:
    from .pricing import PriceTable


def report(sections: Sequence[tuple[str, Mapping[str, Usage]]], table: PriceTable) -> str:
    blocks = [_section(title, usage, table) for title, usage in sections]
    as_of = f" as of {table.as_of}" if table.as_of else ""
    source = f" ({table.source})" if table.source else ""
    blocks.append(
        f"Prices per 1M tokens{as_of}{source}; add or correct one with "
        f'%config {SETTING} = {{"model": [input, cached_input, output]}}.'
    )
    return "\n\n".join(blocks)


def _section(title: str, by_model: Mapping[str, Usage], table: PriceTable) -> str:
    if not by_model:
        return f"{title}: no tokens used yet."
    width = max(len(model) for model in by_model)
    lines = [f"{title}:"]
    known: list[float] = []
    for model, usage in by_model.items():
        dollars = table.cost(model, usage)
        if dollars is not None:
            known.append(dollars)
        lines.append(f"  {model:<{width}}  {usage_text(usage)}  {format_cost(dollars, model)}")
    if len(by_model) > 1 or len(known) < len(by_model):
        unknown = len(by_model) - len(known)
        rest = (
            f" (+ {unknown} model{'s' if unknown > 1 else ''} of unknown price)" if unknown else ""
        )
        total = sum(by_model.values(), Usage())
        lines.append(f"  {'total':<{width}}  {usage_text(total)}  ${sum(known):,.4f}{rest}")
    return "\n".join(lines)
