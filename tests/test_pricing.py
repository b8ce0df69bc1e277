"""Pricing: exact cost arithmetic, model id matching, user overrides, the unknown model."""

from __future__ import annotations

import json
import math
import re
from importlib import resources
from typing import Any

import pytest

from assistant_magic.errors import AssistantError
from assistant_magic.events import Usage
from assistant_magic.pricing import Price, PriceTable, PricingError, format_cost

TABLE = PriceTable(
    {
        "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
        "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
        "gpt-5.4-mini": Price(input=0.75, cached_input=0.075, output=4.50),
    },
    as_of="2026-11-25",
)


def shipped() -> dict[str, Any]:
    text = resources.files("assistant_magic").joinpath("prices.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


# -- cost arithmetic -------------------------------------------------------------------------


def test_cached_tokens_are_the_discounted_part_of_the_input() -> None:
    usage = Usage(
        input_tokens=10_000, output_tokens=2_000, total_tokens=12_000, cached_tokens=8_000
    )
    # 2,000 uncached at $0.75, 8,000 cached at $0.075, 2,000 output at $4.50, per 1M tokens.
    expected = (2_000 * 0.75 + 8_000 * 0.075 + 2_000 * 4.50) / 1_000_000
    assert TABLE.cost("gpt-5.4-mini", usage) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.0111, rel=1e-12)


def test_no_cache_bills_all_input_at_the_full_rate() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000, total_tokens=2_000_000)
    assert TABLE.cost("gpt-4o", usage) == pytest.approx(12.50, rel=1e-12)


def test_more_cached_than_input_never_bills_negative_input() -> None:
    usage = Usage(input_tokens=100, output_tokens=0, total_tokens=100, cached_tokens=300)
    cost = TABLE.cost("gpt-4o", usage)
    assert cost == pytest.approx(300 * 1.25 / 1_000_000, rel=1e-12)
    assert cost is not None and cost >= 0


def test_empty_usage_costs_nothing() -> None:
    assert TABLE.cost("gpt-4o", Usage()) == 0.0


# -- model lookup ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "base"),
    [
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-5.4-mini-2026-03-17", "gpt-5.4-mini"),
        ("gpt-4o-0613", "gpt-4o"),
    ],
)
def test_dated_snapshots_are_priced_as_their_base_model(model: str, base: str) -> None:
    assert TABLE.price(model) == TABLE.price(base)
    assert TABLE.price(model) is not None


def test_lookup_ignores_case_and_surrounding_space() -> None:
    assert TABLE.price("GPT-4o-Mini") == TABLE.price("gpt-4o-mini")
    assert TABLE.price(" gpt-4o ") == TABLE.price("gpt-4o")


def test_mini_is_never_priced_as_the_big_model() -> None:
    assert TABLE.price("gpt-4o-mini") == Price(0.15, 0.075, 0.60)
    assert TABLE.price("gpt-4o-mini-2024-07-18") == Price(0.15, 0.075, 0.60)
    only_big = PriceTable({"gpt-4o": Price(2.50, 1.25, 10.00)})
    assert only_big.price("gpt-4o-mini") is None
    assert only_big.price("gpt-4o-mini-2024-07-18") is None


def test_no_prefix_matching_for_other_suffixes() -> None:
    assert TABLE.price("gpt-4o-audio-preview") is None
    assert TABLE.price("gpt") is None


def test_an_exact_snapshot_price_wins_over_its_base() -> None:
    table = TABLE.with_overrides({"gpt-4o-2024-05-13": [5.0, 5.0, 15.0]})
    assert table.price("gpt-4o-2024-05-13") == Price(5.0, 5.0, 15.0)
    assert table.price("gpt-4o-2024-08-06") == Price(2.50, 1.25, 10.00)


# -- the unknown model -----------------------------------------------------------------------


def test_an_unknown_model_has_no_price_and_no_cost() -> None:
    usage = Usage(input_tokens=100, output_tokens=50, total_tokens=150)
    assert TABLE.price("gemma-3-270m-it-Q4_K_M") is None
    assert TABLE.cost("gemma-3-270m-it-Q4_K_M", usage) is None


def test_the_unknown_cost_message_names_the_model_and_the_setting() -> None:
    text = format_cost(None, "gemma-3-270m-it-Q4_K_M")
    assert text == (
        "cost unknown (no price for gemma-3-270m-it-Q4_K_M: set AssistantMagics.prices)"
    )


def test_local_models_are_unknown_by_default() -> None:
    default = PriceTable.default()
    for local in ("gemma-3-270m-it-Q4_K_M", "llama3.2", "qwen2.5:7b", "gpt-oss-20b"):
        assert default.price(local) is None, local


# -- user overrides --------------------------------------------------------------------------


def test_overrides_in_dict_form_replace_ours() -> None:
    table = TABLE.with_overrides({"gpt-4o": {"input": 1.0, "cached_input": 0.5, "output": 4.0}})
    assert table.price("gpt-4o") == Price(1.0, 0.5, 4.0)
    assert table.price("gpt-4o-2024-08-06") == Price(1.0, 0.5, 4.0)
    assert TABLE.price("gpt-4o") == Price(2.50, 1.25, 10.00), "the original table is unchanged"


def test_overrides_in_list_form_add_new_models() -> None:
    table = TABLE.with_overrides({"My-Local-Model": [0, 0, 0], "proxy-model": (1, 0.1, 2)})
    assert table.price("my-local-model") == Price(0.0, 0.0, 0.0)
    assert table.cost("my-local-model", Usage(1000, 1000, 2000)) == 0.0
    assert table.price("proxy-model") == Price(1.0, 0.1, 2.0)
    assert table.price("gpt-4o-mini") == TABLE.price("gpt-4o-mini"), "the rest is kept"


def test_overrides_keep_the_date_of_the_table() -> None:
    assert TABLE.with_overrides({"x": [0, 0, 0]}).as_of == "2026-11-25"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"m": {"input": 1, "output": 2}}, "'m' lacks cached_input"),
        ({"m": {"input": 1, "cached_input": 1, "ouput": 2}}, "'m' lacks output and has unknown"),
        ({"m": [1, 2]}, "'m' has 2 number(s), not 3"),
        ({"m": [1, 2, 3, 4]}, "'m' has 4 number(s), not 3"),
        ({"m": [1, -0.5, 3]}, "'m' has cached_input -0.5, not a non-negative number"),
        ({"m": [1, 1, "3"]}, "'m' has output '3', not a non-negative number"),
        ({"m": [1, 1, True]}, "'m' has output True, not a non-negative number"),
        ({"m": [math.nan, 1, 1]}, "'m' has input nan, not a non-negative number"),
        ({"m": [math.inf, 1, 1]}, "'m' has input inf, not a non-negative number"),
        ({"m": "cheap"}, "'m' is 'cheap', not a dict or a list"),
        ({"m": None}, "'m' is None, not a dict or a list"),
        ({"": [0, 0, 0]}, "model ids must be non-empty strings, got ''"),
        ({3: [0, 0, 0]}, "model ids must be non-empty strings, got 3"),
    ],
)
def test_bad_overrides_fail_in_one_line(overrides: dict[Any, Any], problem: str) -> None:
    with pytest.raises(PricingError) as info:
        TABLE.with_overrides(overrides)
    message = str(info.value)
    assert problem in message
    assert message.startswith("AssistantMagics.prices")
    assert "\n" not in message
    if "model ids" not in problem:
        assert "expected {" in message and "or [" in message, "the message shows the shape"


def test_overrides_must_be_a_mapping() -> None:
    with pytest.raises(PricingError, match=r"must map model ids to prices, got a list"):
        TABLE.with_overrides([("m", [0, 0, 0])])  # type: ignore[arg-type]


def test_pricing_errors_are_shown_as_one_line_by_ipython() -> None:
    with pytest.raises(AssistantError) as info:
        TABLE.with_overrides({"m": [1, 2]})
    lines = info.value._render_traceback_()
    assert len(lines) == 1
    assert lines[0].startswith("PricingError: AssistantMagics.prices: the price for 'm'")


def test_long_or_multiline_values_stay_on_one_short_line() -> None:
    with pytest.raises(PricingError) as info:
        TABLE.with_overrides({"m": ["x\n" * 100, 0, 0]})
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 300


# -- formatting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dollars", "text"),
    [
        (0.0, "$0.00"),
        (0.00001, "<$0.0001"),
        (0.000099, "<$0.0001"),
        (0.0001, "$0.0001"),
        (0.00123, "$0.0012"),
        (0.00127, "$0.0013"),
        (0.0111, "$0.0111"),
        (0.5, "$0.5000"),
        (0.99994, "$0.9999"),
        (0.99996, "$1.00"),
        (1.234, "$1.23"),
        (1.236, "$1.24"),
        (1234.5, "$1,234.50"),
    ],
)
def test_format_cost_rounding(dollars: float, text: str) -> None:
    assert format_cost(dollars, "gpt-4o") == text


# -- the shipped table -----------------------------------------------------------------------


def test_the_shipped_table_loads_with_its_date_and_source() -> None:
    table = PriceTable.default()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.as_of)
    assert table.as_of == shipped()["as_of"]
    assert table.source == "https://platform.openai.com/docs/pricing"
    assert PriceTable.default() is table, "read once per process"


def test_every_shipped_entry_has_three_non_negative_numbers() -> None:
    models = shipped()["models"]
    assert models, "the table is not empty"
    for model, entry in models.items():
        assert set(entry) == {"input", "cached_input", "output"}, model
        for name, value in entry.items():
            assert isinstance(value, int | float) and not isinstance(value, bool), (model, name)
            assert math.isfinite(value) and value >= 0, (model, name)
        assert entry["cached_input"] <= entry["input"], model


def test_the_shipped_table_prices_the_default_model() -> None:
    table = PriceTable.default()
    assert table.price("gpt-5.4-mini") is not None
    assert set(table.models) == {model.lower() for model in shipped()["models"]}
