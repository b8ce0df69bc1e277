"""The notebook context `%%ask` can add (`context`), with its bounded, fast, guarded summaries
(`summaries`), and a stable format."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

from assistant_magic.context import (
    ContextError,
    ContextPart,
    cell_input,
    cell_output,
    last_error,
    render,
    variable,
)
from assistant_magic.errors import AssistantError
from assistant_magic.summaries import summarize

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
HERE = __name__  # "test_context" or "tests.test_context", as pytest imported it


def timed(name: str, namespace: Mapping[str, Any]) -> tuple[str, float]:
    start = time.perf_counter()
    text = variable(name, namespace).text
    return text, time.perf_counter() - start


class Untouchable(Mapping[str, Any]):
    """A namespace that fails the test if anything but the named variable is read."""

    def __init__(self, **values: Any) -> None:
        self.values = values
        self.read: list[str] = []

    def __getitem__(self, key: str) -> Any:
        self.read.append(key)
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the namespace must not be listed")

    def __len__(self) -> int:
        raise AssertionError("the namespace must not be measured")


class BrokenRepr:
    def __repr__(self) -> str:
        raise ValueError("boom")


class BrokenLen:
    def __len__(self) -> int:
        raise TypeError("no length today")

    def __repr__(self) -> str:
        return "BrokenLen()"


def scale(values: list[float], factor: float = 2.0) -> list[float]:
    """Multiply each value by factor.

    More detail that the model does not need.
    """
    return [v * factor for v in values]


# --- variables ---------------------------------------------------------------------------------


def test_a_million_row_dataframe_is_summarised_small_and_fast() -> None:
    n = 1_000_000
    df = pd.DataFrame(
        {"id": np.arange(n), "price": np.linspace(0, 1, n), "city": np.repeat("Oslo", n)}
    )
    text, seconds = timed("df", {"df": df})
    assert len(text) < 2000
    assert seconds < 0.5
    assert text.startswith("pandas.DataFrame, 1,000,000 rows × 3 columns\ndtypes:\n")
    assert "  id     int64\n" in text
    assert "  price  float64\n" in text
    assert "city" in text
    assert "head(5):\n" in text
    assert "999999" not in text  # only the first rows


def test_a_wide_dataframe_lists_some_columns_and_counts_the_rest() -> None:
    df = pd.DataFrame(np.zeros((2, 500)), columns=[f"c{i}" for i in range(500)])
    text = variable("df", {"df": df}).text
    assert "2 rows × 500 columns" in text
    assert "… (470 more columns)" in text
    assert "head(5), first 10 columns:" in text
    assert "c9" in text and "c499" not in text


def test_a_series_shows_name_length_dtype_and_head() -> None:
    s = pd.Series(np.arange(100_000, dtype="int32"), name="count")
    text = variable("s", {"s": s}).text
    assert text.startswith("pandas.Series 'count', 100,000 values, dtype int32\nhead(5):\n0    0\n")
    assert "99999" not in text


def test_a_ten_million_element_array_shows_shape_dtype_and_edges() -> None:
    a = np.arange(10_000_000, dtype=np.float64)
    text, seconds = timed("a", {"a": a})
    assert seconds < 0.5
    assert text.startswith(
        "numpy.ndarray, shape (10000000,), dtype float64, 10,000,000 elements, 80.0 MB\n"
    )
    assert "..." in text and len(text) < 300


def test_a_many_dimensional_array_previews_one_block() -> None:
    text = summarize(np.zeros((2, 2, 2, 2, 50)))
    assert "shape (2, 2, 2, 2, 50)" in text
    assert "sub-array [0, 0]:" in text
    assert len(text) < 2000


def test_a_long_string_keeps_its_head_and_counts_the_rest() -> None:
    text = variable("s", {"s": "abc" * 100_000}).text
    assert text.startswith("str, 300,000 characters\nabcabc")
    assert text.endswith(" more characters)")
    assert len(text) == 2000
    head = text.split("\n", 1)[1].split("…")[0]
    assert text.endswith(f"… ({300_000 - len(head):,} more characters)")


def test_a_short_string_is_shown_as_is() -> None:
    assert variable("s", {"s": "print({'a': 1})"}).text == "str, 15 characters\nprint({'a': 1})"


def test_bytes_show_length_and_an_escaped_head() -> None:
    text = summarize(b"%PDF\x00\xff" * 1000)
    assert text.startswith("bytes, 6,000 bytes\nb'%PDF\\x00\\xff%PDF")
    assert text.endswith("… (5,936 more bytes)")


def test_a_huge_list_is_never_formatted_whole() -> None:
    big = list(range(2_000_000))
    text, seconds = timed("big", {"big": big})
    assert seconds < 0.1
    assert text == "list, 2,000,000 items\n[" + ", ".join(map(str, range(20))) + ", ...]"


def test_huge_dicts_and_sets_are_bounded_and_dicts_keep_their_order() -> None:
    d = {f"k{i}": i for i in range(200_000, 0, -1)}
    text = summarize(d)
    assert text.startswith("dict, 200,000 items\n{'k200000': 200000, 'k199999': 199999")
    assert text.endswith(", ...}")
    assert summarize({3, 1, 2}) == "set, 3 items\n{1, 2, 3}"
    nested = defaultdict(list, {i: list(range(1000)) for i in range(100)})
    text = summarize(nested)
    assert text.startswith("collections.defaultdict, 100 items\ndefaultdict({0: [0, 1, 2")
    assert len(text) <= 2000


def test_an_object_whose_repr_raises_does_not_break_the_ask() -> None:
    text = variable("obj", {"obj": BrokenRepr()}).text
    assert text == f"{HERE}.BrokenRepr\nrepr() raised ValueError: boom"
    assert summarize([BrokenRepr()]) == "list, 1 item\n[<BrokenRepr: repr() raised ValueError>]"


def test_an_object_whose_len_raises_does_not_break_the_ask() -> None:
    text = summarize(BrokenLen())
    assert text == f"{HERE}.BrokenLen, len() raised TypeError: no length today\nBrokenLen()"


def test_other_objects_show_type_and_a_clipped_repr() -> None:
    assert summarize(42) == "int\n42"
    text = summarize(range(10**9), limit=100)
    assert text.startswith("range, length 1,000,000,000\nrange(0, 1000000000)")
    text = summarize(pd.Index(list("abcdefghij") * 10_000), limit=300)
    assert text.startswith("pandas.Index, length 100,000, shape (100000,)")
    assert len(text) <= 300


def test_a_function_shows_its_signature_and_first_doc_line() -> None:
    text = variable("scale", {"scale": scale}).text
    assert text == (
        f"function {HERE}.scale(values: list[float], factor: float = 2.0) -> list[float]\n"
        "Multiply each value by factor."
    )


def test_modules_classes_and_builtins_are_described() -> None:
    import json

    assert summarize(json).startswith("module json\nfile: ")
    doc = "Return the number of items in a container."
    assert summarize(len) == f"built-in function len(obj, /)\n{doc}"
    assert summarize(BrokenLen) == f"class {HERE}.BrokenLen()"


def test_only_the_named_variable_is_read() -> None:
    namespace = Untouchable(df=1, secret=2)
    part = variable("df", namespace)
    assert part == ContextPart("variable df", "int\n1")
    assert namespace.read == ["df"]


def test_unknown_or_invalid_names_say_how_to_fix() -> None:
    with pytest.raises(ContextError, match=r"^--vars df2: no variable named 'df2' in the notebook"):
        variable("df2", {"df": 1})
    with pytest.raises(ContextError, match=r"^--vars df\.x: 'df\.x' is not a variable name"):
        variable("df.x", {"df": 1})
    assert issubclass(ContextError, AssistantError)


@pytest.mark.parametrize("limit", [50, 200, 2000])
def test_every_summary_fits_its_limit(limit: int) -> None:
    values = [
        "x" * 10_000,
        b"y" * 10_000,
        list(range(10_000)),
        np.ones((100, 100)),
        pd.DataFrame({"a": range(1000)}),
        BrokenRepr(),
        "é" * 3000,
    ]
    for value in values:
        assert len(summarize(value, limit=limit)) <= limit


# --- cells -------------------------------------------------------------------------------------

HISTORY = ["", "import pandas as pd\n", "df = pd.read_csv('x.csv')\n", "df.head()\n"]


def test_cell_input_is_the_source_as_typed() -> None:
    assert cell_input(2, HISTORY) == ContextPart("In[2]", "df = pd.read_csv('x.csv')", "python")


@pytest.mark.parametrize("n", [0, -1, 4, 12])
def test_cell_input_out_of_range_names_the_cells_that_exist(n: int) -> None:
    with pytest.raises(ContextError) as info:
        cell_input(n, HISTORY)
    assert str(info.value) == f"--cell {n}: no input cell {n} in this session (1 to 3)."


def test_cell_input_before_any_cell_ran() -> None:
    with pytest.raises(ContextError, match=r"\(no cells have run yet\)"):
        cell_input(1, [""])


def test_cell_output_is_summarised_like_a_variable() -> None:
    outputs = {1: 41, 3: "done"}
    assert cell_output(3, outputs) == ContextPart("Out[3]", "str, 4 characters\ndone")


def test_a_missing_output_lists_the_outputs_there_are() -> None:
    with pytest.raises(ContextError) as info:
        cell_output(4, {1: 1, 3: 3})
    assert str(info.value) == "--out 4: cell 4 has no output (Out holds 1, 3)."
    with pytest.raises(ContextError, match=r"no cell has produced an output yet"):
        cell_output(1, {})
    with pytest.raises(ContextError, match=r"\(Out holds 1, 2, 3, …, 15, 16, 17, 18, 19, 20\)\.$"):
        cell_output(99, {i: i for i in range(1, 21)})


# --- the last error ----------------------------------------------------------------------------


def divide_by_zero() -> float:
    return 1 / 0


def test_last_error_shows_the_traceback_and_message() -> None:
    with pytest.raises(ZeroDivisionError) as info:
        divide_by_zero()
    part = last_error(info.value)
    assert part.label == "last error"
    assert part.text.startswith("Traceback (most recent call last):\n")
    assert "in divide_by_zero\n" in part.text
    assert part.text.endswith("ZeroDivisionError: division by zero")


def ping(depth: int) -> None:
    if depth == 0:
        raise ValueError("\x1b[31mthe bottom\x1b[0m")
    pong(depth - 1)


def pong(depth: int) -> None:
    ping(depth - 1)


def test_a_long_traceback_keeps_its_end() -> None:
    with pytest.raises(ValueError) as info:
        ping(200)
    text = last_error(info.value, limit=1000).text
    assert len(text) <= 1000
    first, rest = text.split("\n", 1)
    assert first.startswith("… (") and first.endswith(" earlier lines cut)")
    assert "in ping\n" in rest
    assert text.endswith("ValueError: the bottom")  # colour codes stripped
    assert "Traceback (most recent call last)" not in text


def test_a_huge_message_keeps_the_exception_type() -> None:
    text = last_error(KeyError("k" * 10_000), limit=500).text
    assert len(text) <= 500
    assert "\nKeyError: 'kkk" in text


def test_no_error_yet() -> None:
    with pytest.raises(ContextError) as info:
        last_error(None)
    assert str(info.value) == "--error: no exception has been raised in this session yet."


def test_in_a_real_shell_ipython_frames_are_left_out_and_notebook_source_shown(
    _ipython: InteractiveShell, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        monkeypatch.setattr(sys, name, None, raising=False)  # restored after the test
    shell = _ipython
    before = set(shell.user_ns)
    try:
        shell.run_cell("def double(x):\n    return 2 * x\n")
        shell.run_cell("def boom():\n    raise ValueError('bad')\n")
        shell.run_cell("boom()")
        text = last_error(sys.last_value).text
        source = variable("double", shell.user_ns).text
    finally:
        for name in set(shell.user_ns) - before:
            del shell.user_ns[name]
    assert "interactiveshell.py" not in text
    assert "in boom\n" in text and text.endswith("ValueError: bad")
    assert (
        source
        == "function double(x)\ndefined in the notebook:\n" + "def double(x):\n    return 2 * x"
    )


# --- the message -------------------------------------------------------------------------------


def test_render_without_parts_is_the_question_unchanged() -> None:
    question = "Why does print({'a': 1}) cost $5?\n"
    assert render(question, []) == question


def test_render_exact_format() -> None:
    parts = [
        ContextPart("variable n", "int\n3"),
        ContextPart("In[2]", "x = {'a': 1}", "python"),
    ]
    assert render("What is ${n} in {x}?\n", parts) == (
        "What is ${n} in {x}?\n"
        "\n"
        "Context from the notebook:\n"
        "\n"
        "### variable n\n"
        "```text\n"
        "int\n"
        "3\n"
        "```\n"
        "\n"
        "### In[2]\n"
        "```python\n"
        "x = {'a': 1}\n"
        "```"
    )


def test_render_fences_cannot_be_closed_by_the_content() -> None:
    text = 'doc = """\n```python\nprint(1)\n````\n"""'
    message = render("Explain", [ContextPart("In[1]", text, "python")])
    fence = "`````"  # one longer than the longest run of backticks inside
    assert (
        message
        == f"Explain\n\nContext from the notebook:\n\n### In[1]\n{fence}python\n{text}\n{fence}"
    )


def test_render_with_only_context() -> None:
    assert render("  \n", [ContextPart("last error", "E")]) == (
        "Context from the notebook:\n\n### last error\n```text\nE\n```"
    )
