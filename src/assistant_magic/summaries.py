"""A bounded summary of any Python value, built in milliseconds whatever its size.

A million-row DataFrame is summarised by its shape, dtypes and first rows, an array by its shape,
dtype and edges, a huge list by a truncated repr. Nothing is formatted whole and then cut, because
formatting is the cost. Every probe of a user's object (repr, len, shape, ...) is guarded: a broken
``__repr__`` shows up in the text as "repr() raised ...", never as a failure. Secrets are masked
before any cut (a cut could leave a piece of a key too short to spot).

pandas and numpy are never imported here; their objects are recognised by class name and module.
"""

from __future__ import annotations

import inspect
import reprlib
from collections import deque
from collections.abc import Callable, Collection
from itertools import islice
from typing import Any

from .redaction import redact

#: Rows of a DataFrame or Series shown, and how many columns get a dtype line or a head column.
HEAD_ROWS = 5
MAX_DTYPE_COLUMNS = 30
MAX_HEAD_COLUMNS = 10
#: Bytes of a bytes object shown.
BYTES_HEAD = 64


def summarize(value: object, *, limit: int = 2000) -> str:
    """A description of any object in at most ``limit`` characters; it never raises."""
    try:
        text = _specific(value, limit)
    except Exception as exc:  # an odd subclass or a broken attribute: fall back to its repr
        try:
            text = f"{_generic(value, limit)}\n(a fuller summary failed: {exc_line(exc)})"
        except Exception as again:
            text = f"{_type_name(value)}\n(could not be summarised: {exc_line(again)})"
    return clip(text, limit)


def _specific(value: Any, limit: int) -> str:
    if isinstance(value, str):
        return _string(value, limit)
    if isinstance(value, bytes | bytearray):
        return _bytes(value)
    if _has_base(value, "pandas", "DataFrame"):
        return _dataframe(value)
    if _has_base(value, "pandas", "Series"):
        return _series(value)
    if _has_base(value, "numpy", "ndarray"):
        return _ndarray(value)
    if inspect.ismodule(value):
        return _module(value)
    if inspect.isclass(value) or inspect.isroutine(value):
        return _callable(value)
    if isinstance(value, _CONTAINERS):
        return f"{_type_name(value)}, {_count(len(value), 'item')}\n{_REPR.repr(value)}"
    return _generic(value, limit)


def _string(value: str, limit: int) -> str:
    header = f"{_type_name(value)}, {_count(len(value), 'character')}"
    return header + "\n" + clip(value, max(limit - len(header) - 1, 0))


def _bytes(value: bytes | bytearray) -> str:
    head = repr(bytes(value[:BYTES_HEAD]))
    more = len(value) - BYTES_HEAD
    tail = f"… ({more:,} more bytes)" if more > 0 else ""
    return f"{_type_name(value)}, {_count(len(value), 'byte')}\n{head}{tail}"


def _dataframe(frame: Any) -> str:
    rows, columns = frame.shape
    header = f"{_type_name(frame)}, {_count(rows, 'row')} × {_count(columns, 'column')}"
    names = [short(str(column), 60) for column in frame.columns[:MAX_DTYPE_COLUMNS]]
    dtypes = [str(dtype) for dtype in frame.dtypes.iloc[:MAX_DTYPE_COLUMNS]]
    width = max((len(name) for name in names), default=0)
    lines = [header, "dtypes:"]
    lines += [f"  {name.ljust(width)}  {dtype}" for name, dtype in zip(names, dtypes, strict=True)]
    if columns > MAX_DTYPE_COLUMNS:
        lines.append(f"  … ({columns - MAX_DTYPE_COLUMNS:,} more columns)")
    shown = f", first {MAX_HEAD_COLUMNS} columns" if columns > MAX_HEAD_COLUMNS else ""
    lines.append(f"head({HEAD_ROWS}){shown}:")
    head = frame.iloc[:HEAD_ROWS, :MAX_HEAD_COLUMNS]
    lines.append(head.to_string(max_colwidth=40))
    return "\n".join(lines)


def _series(series: Any) -> str:
    name = "" if series.name is None else f" {short(repr(series.name), 80)}"
    header = f"{_type_name(series)}{name}, {_count(len(series), 'value')}, dtype {series.dtype}"
    return f"{header}\nhead({HEAD_ROWS}):\n{series.iloc[:HEAD_ROWS].to_string()}"


def _ndarray(array: Any) -> str:
    import numpy  # already imported: `array` is one of its arrays

    header = (
        f"{_type_name(array)}, shape {tuple(array.shape)}, dtype {array.dtype}, "
        f"{_count(int(array.size), 'element')}, {_size(int(array.nbytes))}"
    )
    if array.ndim <= 3:
        preview = numpy.array2string(array, threshold=40, edgeitems=3, max_line_width=100)
        return f"{header}\n{preview}"
    index = (0,) * (array.ndim - 3)
    preview = numpy.array2string(array[index], threshold=40, edgeitems=3, max_line_width=100)
    return f"{header}\nsub-array [{', '.join(map(str, index))}]:\n{preview}"


def _module(module: Any) -> str:
    lines = [f"module {module.__name__}"]
    path = getattr(module, "__file__", None)
    if path:
        lines.append(f"file: {path}")
    lines += _doc_line(module)
    return "\n".join(lines)


def _callable(value: Any) -> str:
    kind = _callable_kind(value)
    header = f"{kind} {_qualified(value)}{_signature(value)}"
    source = _notebook_source(value)
    if source is not None:
        return f"{header}\ndefined in the notebook:\n{source}"
    return "\n".join([header, *_doc_line(value)])


def _callable_kind(value: Any) -> str:
    if inspect.isclass(value):
        return "class"
    if inspect.ismethod(value):
        return "method"
    if inspect.isbuiltin(value):
        return "built-in function"
    if inspect.iscoroutinefunction(value):
        return "async function"
    if inspect.isfunction(value):
        return "function"
    return _type_name(value)


def _qualified(value: Any) -> str:
    name = str(getattr(value, "__qualname__", None) or getattr(value, "__name__", "?"))
    module = getattr(value, "__module__", None)
    return name if module in (None, "builtins", "__main__") else f"{module}.{name}"


def _signature(value: Any) -> str:
    for eval_str in (True, False):  # evaluated annotations read better than quoted strings
        try:
            return short(str(inspect.signature(value, eval_str=eval_str)), 300)
        except Exception:
            continue
    return ""


def _notebook_source(value: Any) -> str | None:
    """The source of a function or class the user defined in the notebook itself."""
    if getattr(value, "__module__", None) != "__main__":
        return None
    try:
        return inspect.getsource(value).rstrip()
    except Exception:
        return None


def _doc_line(value: Any) -> list[str]:
    try:
        doc = inspect.getdoc(value) or ""
    except Exception:
        return []
    first = next((line.strip() for line in doc.splitlines() if line.strip()), "")
    return [short(first, 300)] if first else []


def _generic(value: Any, limit: int) -> str:
    """Type, the size probes its class supports, and the repr; each probe guarded."""
    facts = [_type_name(value)]
    kind = type(value)  # probed on the class, so a __getattr__ cannot invent attributes
    if hasattr(kind, "__len__"):
        facts.append(_probe("len()", lambda: f"length {len(value):,}"))
    if hasattr(kind, "shape"):
        facts.append(_probe("shape", lambda: f"shape {_shape(value.shape)}"))
    if hasattr(kind, "dtype"):
        facts.append(_probe("dtype", lambda: f"dtype {short(str(value.dtype), 80)}"))
    body = _probe("repr()", lambda: clip(repr(value), limit))
    return f"{', '.join(facts)}\n{body}"


def _probe(what: str, probe: Callable[[], str]) -> str:
    try:
        return probe()
    except Exception as exc:
        return f"{what} raised {exc_line(exc)}"


def _shape(shape: Any) -> str:
    try:
        return str(tuple(int(dim) for dim in shape))
    except Exception:
        return short(str(shape), 80)


# --- bounded repr of containers --------------------------------------------------------------

_CONTAINERS: tuple[type[Collection[Any]], ...] = (list, tuple, dict, set, frozenset, deque)
#: Sets up to this size are shown sorted, so the text does not depend on hash order.
_SORT_SET_UP_TO = 1000


class _BoundedRepr(reprlib.Repr):
    """`reprlib.Repr` that stays bounded for subclasses and huge dicts and sets too.

    The stock one formats a subclass (defaultdict, Counter, a namedtuple) with its full repr and
    sorts every dict and set before showing a few items.
    """

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 3
        self.maxtuple = self.maxlist = self.maxdeque = self.maxarray = 20
        self.maxdict = self.maxset = self.maxfrozenset = 20
        self.maxstring = 80
        self.maxlong = 80
        self.maxother = 80

    def repr1(self, x: Any, level: int) -> str:
        kind = type(x)
        base = next((b for b in _CONTAINERS if kind is not b and issubclass(kind, b)), None)
        if base is None:
            return super().repr1(x, level)
        if base is tuple and hasattr(kind, "_fields"):
            return self._namedtuple(x, level)
        inner = getattr(self, f"repr_{base.__name__}")(x, level)
        return f"{kind.__name__}({inner})"

    def _namedtuple(self, x: Any, level: int) -> str:
        if level <= 0:
            return f"{type(x).__name__}(...)"
        pairs = islice(zip(type(x)._fields, x, strict=False), self.maxtuple)
        fields = ", ".join(f"{field}={self.repr1(item, level - 1)}" for field, item in pairs)
        return f"{type(x).__name__}({fields})"

    def repr_dict(self, x: Any, level: int) -> str:
        if not x:
            return "{}"
        if level <= 0:
            return "{...}"
        pieces = [
            f"{self.repr1(key, level - 1)}: {self.repr1(item, level - 1)}"
            for key, item in islice(x.items(), self.maxdict)  # insertion order, never sorted
        ]
        if len(x) > self.maxdict:
            pieces.append("...")
        return "{" + ", ".join(pieces) + "}"

    def repr_set(self, x: Any, level: int) -> str:
        return self._set(x, level, "{", "}") if x else "set()"

    def repr_frozenset(self, x: Any, level: int) -> str:
        return self._set(x, level, "frozenset({", "})") if x else "frozenset()"

    def _set(self, x: Any, level: int, left: str, right: str) -> str:
        if level <= 0:
            return f"{left}...{right}"
        pieces = [self.repr1(item, level - 1) for item in _ordered(x)[: self.maxset]]
        if len(x) > self.maxset:
            pieces.append("...")
        return left + ", ".join(pieces) + right

    def repr_str(self, x: Any, level: int) -> str:
        return super().repr_str(redact(x), level)  # before reprlib cuts it, as in clip

    def repr_int(self, x: Any, level: int) -> str:
        try:
            return super().repr_int(x, level)
        except ValueError:  # more digits than int-to-str conversion allows
            return f"<int of {x.bit_length():,} bits>"

    def repr_instance(self, x: Any, level: int) -> str:
        # The stock fallback for a failing repr shows the object's address: not deterministic.
        try:
            return short(repr(x), self.maxother)
        except Exception as exc:
            return f"<{type(x).__name__}: repr() raised {type(exc).__name__}>"


def _ordered(items: Any) -> list[Any]:
    if len(items) <= _SORT_SET_UP_TO:
        try:
            return sorted(items)
        except Exception:
            pass
    return list(islice(items, _SORT_SET_UP_TO))


_REPR = _BoundedRepr()


# --- small helpers ---------------------------------------------------------------------------


def _has_base(value: object, package: str, name: str) -> bool:
    # By class name and module, so pandas and numpy are never imported to check.
    return any(
        kind.__name__ == name and kind.__module__.split(".")[0] == package
        for kind in type(value).__mro__
    )


def _type_name(value: object) -> str:
    kind = type(value)
    module = getattr(kind, "__module__", None) or ""
    name = getattr(kind, "__qualname__", None) or kind.__name__
    if module in ("builtins", "__main__", ""):
        return name
    if module.startswith("pandas."):  # pandas.core.frame.DataFrame is pandas.DataFrame
        module = "pandas"
    return f"{module}.{name}"


def exc_line(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:
        message = "<message could not be shown>"
    return f"{type(exc).__name__}: {short(message, 200)}" if message else type(exc).__name__


def clip(text: str, limit: int) -> str:
    """``text``, or its start and a note of how much was cut, in at most ``limit`` characters."""
    text = redact(text)  # before the cut, which could leave a piece of a secret too short to spot
    if len(text) <= limit:
        return text
    keep = max(limit - len(f"… ({len(text):,} more characters)"), 0)
    return f"{text[:keep]}… ({len(text) - keep:,} more characters)"


def short(text: str, limit: int) -> str:
    text = redact(text)  # before the cut, as in clip
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _size(nbytes: int) -> str:
    if nbytes < 1000:
        return _count(nbytes, "byte")
    size = nbytes / 1000
    for unit in ("kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:,.1f} TB"
