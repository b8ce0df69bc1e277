"""What an ask costs: token prices from a small, editable table, and an honest "unknown".

The shipped table (`prices.json`, next to this module) lists OpenAI's list prices for the models a
notebook user is likely to run, with the date they were checked. Users correct or extend it with
`AssistantMagics.prices`; a model in neither is *unknown*, and we say so rather than guess: a wrong
price shown with confidence is worse than none. Local models are unknown until the user prices
them (usually at 0), because we cannot tell what their hardware costs.

Only the standard rates for text tokens are modelled. Long-context surcharges, Batch/Flex/Priority
tiers and regional uplifts are not, so a cost here is an estimate, not an invoice.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from .errors import AssistantError
from .events import Usage

#: Where users put their own prices; named in every message that asks them to act.
SETTING = "AssistantMagics.prices"
#: The shipped table, package data beside this module.
TABLE_FILE = "prices.json"

_FIELDS = ("input", "cached_input", "output")
_EXPECTED = (
    'expected {"input": 1.25, "cached_input": 0.125, "output": 10.0} '
    "or [1.25, 0.125, 10.0] (US dollars per 1M tokens)"
)
#: A dated snapshot suffix: OpenAI's `-2024-08-06`, or the older `-0613`.
_SNAPSHOT = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{4})$")
_PER_TOKEN = 1_000_000


class PricingError(AssistantError):
    """A price entry is malformed; the one-line message names the model and the expected shape."""


@dataclass(frozen=True)
class Price:
    """US dollars per 1 million tokens.

    `cached_input` applies to the part of the input served from the prompt cache, which OpenAI bills
    at a discount; the rest of the input is billed at `input`.
    """

    input: float
    cached_input: float
    output: float

    def cost(self, usage: Usage) -> float:
        """Dollars for one usage record.

        `cached_tokens` is a part of `input_tokens`, so only the remainder is billed at the full
        input rate. A server that reports more cached than input tokens (or negative counts) must
        not make the cost go negative, so every count is floored at zero.
        """
        cached = max(usage.cached_tokens, 0)
        uncached = max(usage.input_tokens - cached, 0)
        output = max(usage.output_tokens, 0)
        total = uncached * self.input + cached * self.cached_input + output * self.output
        return total / _PER_TOKEN


class PriceTable:
    """Prices by model id, looked up the way model ids are actually written.

    A lookup tries the exact id, then the id without a dated snapshot suffix, so
    `gpt-4o-2024-08-06` is priced as `gpt-4o`. It never falls back to a shorter prefix:
    `gpt-4o-mini` must not be priced as `gpt-4o`, and a local `gpt-oss-20b` is not `gpt`.
    Ids are compared case-insensitively. Instances are immutable: `with_overrides` makes a new one.
    """

    def __init__(self, prices: Mapping[str, Price], *, as_of: str = "", source: str = "") -> None:
        self._prices: Mapping[str, Price] = MappingProxyType(
            {_normalize(model): price for model, price in prices.items()}
        )
        self._as_of = as_of
        self._source = source

    @classmethod
    def default(cls) -> PriceTable:
        """The shipped table, read from `prices.json` once per process."""
        return _default_table()

    @property
    def as_of(self) -> str:
        """The date (YYYY-MM-DD) the shipped prices were checked against the source."""
        return self._as_of

    @property
    def source(self) -> str:
        """Where the shipped prices come from, so a reader can check them."""
        return self._source

    @property
    def models(self) -> tuple[str, ...]:
        """The priced model ids (lower case), sorted, for listings and help text."""
        return tuple(sorted(self._prices))

    def with_overrides(self, overrides: Mapping[str, Any]) -> PriceTable:
        """This table with the user's prices added or replacing ours.

        Accepts `{"model": {"input": .., "cached_input": .., "output": ..}}` or
        `{"model": [input, cached_input, output]}`. All entries are checked before any is used,
        so a typo fails loudly instead of silently keeping the old price.
        """
        if not isinstance(overrides, Mapping):
            raise PricingError(
                f"{SETTING} must map model ids to prices, got {_describe(overrides)}; "
                f'for example {{"my-model": [0, 0, 0]}}'
            )
        extra = {_model_id(model): parse_price(model, spec) for model, spec in overrides.items()}
        return PriceTable({**self._prices, **extra}, as_of=self._as_of, source=self._source)

    def price(self, model: str) -> Price | None:
        """The price for `model`, or None when we have none (the "unknown model" case)."""
        for candidate in _candidates(model):
            if candidate in self._prices:
                return self._prices[candidate]
        return None

    def cost(self, model: str, usage: Usage) -> float | None:
        """Dollars for `usage` on `model`, or None when the model is unknown."""
        price = self.price(model)
        return None if price is None else price.cost(usage)


def format_cost(dollars: float | None, model: str) -> str:
    """A cost as a person reads it: "$1.23", "$0.0012", "<$0.0001", or why there is none.

    Asks usually cost fractions of a cent, so sub-dollar amounts keep four decimals; "<$0.0001"
    says "tiny but not free", which "$0.0000" would hide. An unknown price names the model and the
    setting that fixes it.
    """
    if dollars is None:
        return f"cost unknown (no price for {model}: set {SETTING})"
    if dollars <= 0:
        return "$0.00"
    if dollars < 0.0001:
        return "<$0.0001"
    if round(dollars, 4) < 1:
        return f"${dollars:.4f}"
    return f"${dollars:,.2f}"


def parse_price(model: object, spec: object, *, where: str = SETTING) -> Price:
    """One entry of a price table, from the dict or the list form; PricingError if malformed."""
    if isinstance(spec, Mapping):
        values = _values_from_mapping(model, spec, where)
    elif isinstance(spec, list | tuple):
        values = _values_from_sequence(model, spec, where)
    else:
        raise _entry_error(where, model, f"is {_describe(spec)}, not a dict or a list")
    for name, value in zip(_FIELDS, values, strict=True):
        _check_amount(where, model, name, value)
    return Price(*(float(v) for v in values))


def _values_from_mapping(model: object, spec: Mapping[Any, Any], where: str) -> list[Any]:
    missing = [name for name in _FIELDS if name not in spec]
    unknown = sorted(str(key) for key in spec if key not in _FIELDS)
    if missing or unknown:
        problems = [f"lacks {', '.join(missing)}"] if missing else []
        problems += [f"has unknown key(s) {', '.join(unknown)}"] if unknown else []
        raise _entry_error(where, model, " and ".join(problems))
    return [spec[name] for name in _FIELDS]


def _values_from_sequence(model: object, spec: Sequence[Any], where: str) -> list[Any]:
    if len(spec) != len(_FIELDS):
        raise _entry_error(where, model, f"has {len(spec)} number(s), not 3")
    return list(spec)


def _check_amount(where: str, model: object, name: str, value: object) -> None:
    # bool is an int to Python, but `true` as a price is a mistake, not $1.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise _entry_error(
            where, model, f"has {name} {_describe(value)}, not a non-negative number"
        )


def _entry_error(where: str, model: object, problem: str) -> PricingError:
    return PricingError(f"{where}: the price for {_describe(model)} {problem}; {_EXPECTED}")


def _describe(value: object) -> str:
    """A short, single-line rendering of a user's value for an error message."""
    if isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
    else:
        text = f"a {type(value).__name__}"
    return text if len(text) <= 60 else text[:57] + "..."


def _model_id(model: object, where: str = SETTING) -> str:
    if not isinstance(model, str) or not model.strip():
        raise PricingError(
            f"{where}: model ids must be non-empty strings, got {_describe(model)}; {_EXPECTED}"
        )
    return model


def _normalize(model: str) -> str:
    return model.strip().lower()


def _candidates(model: str) -> tuple[str, ...]:
    """The ids to try for `model`: itself, then its base without a dated snapshot suffix."""
    exact = _normalize(model)
    base = _SNAPSHOT.sub("", exact)
    return (exact,) if base == exact or not base else (exact, base)


@cache
def _default_table() -> PriceTable:
    text = resources.files("assistant_magic").joinpath(TABLE_FILE).read_text(encoding="utf-8")
    return _table_from_json(json.loads(text))


def _table_from_json(data: Any) -> PriceTable:
    """The shipped table; a malformed file is our bug, reported with the same precision."""
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, dict):
        raise PricingError(f"{TABLE_FILE}: expected an object with a 'models' object")
    prices = {
        _model_id(model, TABLE_FILE): parse_price(model, spec, where=TABLE_FILE)
        for model, spec in models.items()
    }
    return PriceTable(prices, as_of=str(data.get("as_of", "")), source=str(data.get("source", "")))
