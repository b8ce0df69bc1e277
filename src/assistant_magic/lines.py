"""What a magic's line says: words split as a shell splits them, keys refused, and the typed
arguments of `%assistant` (`ConfigLine`) and `%%ask` (`AskLine`), each value checked."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from .errors import AssistantError, ConfigurationError
from .flags import parser
from .words import split_words

SECRET_FLAGS = ("--api-key", "--api_key", "--key", "--token", "--secret")
#: Longer --instructions get a note: they go with every ask, and a variable or a file keeps
#: them out of the magic's line.
LONG_INSTRUCTIONS = 20_000
#: Names `-o` may not take: the kernel and IPython rely on them.
KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_oh", "_ih", "_dh"})
#: Longer `%assistant` lines are not expanded: IPython's expansion is quadratic in the length.
EXPAND_LIMIT = 4_000
CODE_REQUEST = (
    "The user will get the Python code of your answer as a new notebook cell, to read and run "
    "themselves: put it in one ```python block."
)


def parse(magic: Any, line: str) -> argparse.Namespace:
    """Parse a magic's arguments the way a shell would: quotes group words and are removed.

    (IPython's own ``parse_argstring`` keeps the quotes, so ``--instructions "Be brief."``
    would send the quote marks to the model.)
    """
    try:
        words = split_words(line)
    except ValueError as exc:
        raise UsageError(f"Cannot read the arguments ({exc}): check the quotes.") from None
    _reject_secrets(words)
    return parser(magic).parse_args(words)


def expanded(line: str, namespace: Mapping[str, Any]) -> str:
    """`{expr}` and `$name` expanded from the user's namespace, as IPython expands any line
    magic (a line that cannot be expanded is left as typed)."""
    if "$" not in line and "{" not in line:
        return line
    if len(line) > EXPAND_LIMIT:
        print(
            f"note: {{expr}} and $name are not expanded in a line of {len(line):,} "
            "characters; keep long instructions in a variable or a file: "
            "--instructions-from NAME_OR_PATH"
        )
        return line
    from IPython.utils.text import DollarFormatter

    try:
        return DollarFormatter().vformat(line, args=[], kwargs=namespace)
    except Exception:  # as IPython does: what cannot be evaluated stays as typed
        return line


@dataclass(frozen=True)
class ConfigLine:
    """`%assistant`'s flags and command."""

    #: Options to change, by `Options` field name (only those given).
    updates: dict[str, Any]
    #: `--local [PATH]`: None when not given, "" for the default model.
    local: str | None
    confirm: bool
    command: tuple[str, ...]
    #: `--header "K: V"`s and `--hosted`, for `mcp add NAME URL`.
    headers: tuple[str, ...] = ()
    hosted: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace, namespace: Mapping[str, Any]) -> ConfigLine:
        updates = {
            name: value
            for name, value in (
                ("model", args.model),
                ("instructions", instructions(args, namespace)),
                ("base_url", args.base_url),
                ("dialect", args.dialect),
                ("assistant_id", args.assistant_id),
                ("code_interpreter", args.code_interpreter),
                ("image_generation", args.image_generation),
                ("file_search", args.file_search),
            )
            if value is not None
        }
        if args.temperature is not None:
            updates["temperature"] = temperature(args.temperature, allow_default=True)
        return cls(
            updates,
            args.local,
            args.confirm,
            tuple(args.command),
            tuple(args.header or ()),
            bool(args.hosted),
        )


@dataclass(frozen=True)
class AskLine:
    """`%%ask`'s flags."""

    #: Options for this ask only, by `Options` field name (only those given).
    changes: dict[str, Any]
    output: str | None
    tools: list[str] | None  # None: the default set; []: none
    tool_choice: str
    attach: tuple[str, ...]
    vars: tuple[str, ...]
    cells: tuple[int, ...]
    outs: tuple[int, ...]
    error: bool
    code: bool
    dry_run: bool
    save_images: str | None
    #: --schema's type expression (None: the answer is text), and its --retries.
    schema: str | None = None
    retries: int = 1
    #: --each's job over rows (None: an ask on the thread).
    each: str | None = None
    fields: tuple[str, ...] = ()
    concurrency: int | None = None
    rows_per_request: int = 1
    fresh: bool = False
    expand: bool = False
    batch_api: bool = False

    @classmethod
    def of(cls, args: argparse.Namespace, namespace: Mapping[str, Any]) -> AskLine:
        if args.output is not None:
            check_output_name(args.output)
        changes = {
            name: value
            for name, value in (
                ("model", args.model),
                ("instructions", instructions(args, namespace)),
                ("temperature", temperature(args.temperature)),
                ("code_interpreter", args.code_interpreter),
                ("image_generation", args.image_generation),
                ("file_search", args.file_search),
            )
            if value is not None
        }
        return cls(
            changes=changes,
            output=args.output,
            tools=tool_names(args.tools),
            tool_choice=args.tool_choice,
            attach=tuple(args.attach),
            vars=tuple(n.strip() for n in (args.vars or "").split(",") if n.strip()),
            cells=tuple(args.cell),
            outs=tuple(args.out),
            error=args.error,
            code=args.code,
            dry_run=args.dry_run,
            save_images=args.save_images,
            schema=args.schema.strip() if args.schema and args.schema.strip() else None,
            retries=args.retries,
            each=args.each,
            fields=tuple(n.strip() for n in (args.fields or "").split(",") if n.strip()),
            concurrency=args.concurrency,
            rows_per_request=args.rows_per_request,
            fresh=args.fresh,
            expand=args.expand,
            batch_api=args.batch_api,
        )

    @property
    def wants_context(self) -> bool:
        return bool(self.vars or self.cells or self.outs or self.error)


def with_code_request(instructions: str) -> str:
    """The instructions of an ask whose answer's code goes into the next cell (`--code`)."""
    return f"{instructions}\n\n{CODE_REQUEST}" if instructions else CODE_REQUEST


# -- one value each ----------------------------------------------------------------------------


def instructions(args: argparse.Namespace, namespace: Mapping[str, Any]) -> str | None:
    """--instructions, or what --instructions-from names; long inline text gets a note."""
    if args.instructions_from is not None:
        if args.instructions is not None:
            raise AssistantError("Give --instructions or --instructions-from, not both.")
        text = _instructions_from(args.instructions_from, namespace)
    else:
        text = args.instructions
        if text is not None and len(text) > LONG_INSTRUCTIONS:
            print(
                f"note: the instructions hold {len(text):,} characters, sent with every ask; "
                "long instructions are easier kept in a variable or a file: "
                "--instructions-from NAME_OR_PATH"
            )
    if text is not None:
        check_text(text, "The instructions")
    return text


def _instructions_from(source: str, namespace: Mapping[str, Any]) -> str:
    """The text of a variable holding a string, else of a file."""
    value = namespace.get(source)
    if isinstance(value, str):
        return value
    if value is not None:
        raise AssistantError(
            f"--instructions-from {source}: that variable holds a {type(value).__name__}, not "
            "a string."
        )
    path = Path(os.path.expanduser(source))
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = "no such variable or file" if isinstance(exc, FileNotFoundError) else str(exc)
        raise AssistantError(
            f"--instructions-from {source}: {why}; name a variable holding a string, or a "
            "UTF-8 text file."
        ) from None


def temperature(text: str | None, *, allow_default: bool = False) -> float | None:
    """A temperature argument: a number from 0 to 2 ("" restores the model's default)."""
    if text is None or (allow_default and not text.strip()):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 2:
        raise AssistantError(f"--temperature takes a number from 0 to 2, not {text!r}.")
    return value


def tool_names(option: str | None) -> list[str] | None:
    """--tools as a list of names: None means the default set, [] means no tools."""
    if option is None:
        return None
    names = [name.strip() for name in option.split(",") if name.strip()]
    return [] if names == ["none"] else names


def check_output_name(name: str) -> None:
    """-o names a plain variable: never a keyword, a builtin or a name the kernel relies on."""
    import builtins
    import keyword

    reason = ""
    if not name.isidentifier():
        reason = "is not a Python name"
    elif keyword.iskeyword(name):
        reason = "is a Python keyword"
    elif name.startswith("__") and name.endswith("__"):
        reason = "is a name Python itself uses"
    elif name in KERNEL_NAMES or re.fullmatch(r"_+|_i+|_i?\d+", name):
        reason = "is a name the kernel relies on"
    elif hasattr(builtins, name):
        reason = "would hide the builtin of that name"
    if reason:
        raise AssistantError(f"-o {name} {reason}: choose another name, e.g. -o answer.")


def check_text(text: str, what: str) -> None:
    """Text that cannot be encoded (a lone surrogate, pasted from a broken source) would fail
    deep in the store or the request: say where it is instead."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise AssistantError(
            f"{what} holds a character that is not valid text ({text[exc.start]!r}, line "
            f"{line}): remove it and try again."
        ) from None


def _reject_secrets(words: list[str]) -> None:
    """Refuse a key typed into a magic: the notebook would save it for anyone to read."""
    for word in words:
        if word.split("=", 1)[0] in SECRET_FLAGS or word.startswith(("sk-", "sk_")):
            raise ConfigurationError(
                "API keys are never taken as magic arguments (the notebook would keep them): "
                "set $OPENAI_API_KEY in the kernel's environment instead."
            )


def shown(value: object) -> str:
    """A setting as `%assistant` confirms it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "(default)" if value is None else "(none)"
    return str(value)
