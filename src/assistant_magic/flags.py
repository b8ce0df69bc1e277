"""The flags of `%assistant` and `%%ask`, declared once: argparse reads them and IPython's
`%assistant?` / `%%ask?` show them. Each bundle marks its magic; the parser (and the help text
that replaces the magic's docstring) is built at the first parse or the first `?`, so that
`%load_ext` pays nothing for argparse."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .options import DIALECTS

if TYPE_CHECKING:
    from IPython.core.magic_arguments import MagicArgumentParser

Magic = Callable[..., Any]
F = TypeVar("F", bound=Magic)

THREAD_COMMANDS = "thread [new | list | use ID | delete ID | export [PATH] | resume]"
TOOL_COMMANDS = "tools [add NAME... [--confirm] | remove NAME...]"
FILE_COMMANDS = "files [delete ID... | delete all]"
OTHER_COMMANDS = "retry | history [N] | usage | jobs | replay [on|off|only|export [PATH]] | cleanup"
MCP_COMMANDS = (
    "mcp [add NAME -- COMMAND ARG... | add NAME URL [--header 'K: V'] [--hosted] | remove NAME]"
)

HOSTED_TOOL_FLAGS = {
    "--code-interpreter": "let the model run Python in the server's sandbox (its charts are shown)",
    "--image-generation": "let the model generate images",
    "--file-search": "let the model search the files attached on the thread",
}
DIALECT_HELP = (
    "Wire dialect: responses (OpenAI), chat (Chat Completions) or assistants (the legacy "
    "Assistants API); --api is its older name."
)


def hosted_tool_flags(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The on/off flags of the server's own tools, declared alike on both magics."""
    from IPython.core.magic_arguments import argument

    def declare(magic: Callable[..., Any]) -> Callable[..., Any]:
        for flag, what in reversed(HOSTED_TOOL_FLAGS.items()):
            magic = argument(flag, action=argparse.BooleanOptionalAction, help=f"{what}, {scope}.")(
                magic
            )
        return magic

    return declare


def config_flags(magic: F) -> F:
    """`%assistant`'s flags and its command."""
    return _declare(magic, config_declarations)


def ask_flags(magic: F) -> F:
    """`%%ask`'s flags."""
    return _declare(magic, ask_declarations)


def parser(magic: Magic) -> MagicArgumentParser:
    """The magic's argument parser, built on first use."""
    function: Any = getattr(magic, "__func__", magic)
    built = vars(function).get("parser")
    if built is None:
        decorated: Magic = function
        for decorate in reversed(function.flag_declarations()):  # as if written top to bottom
            decorated = decorate(decorated)
        built = function.parser  # set by `magic_arguments`, which also rewrites __doc__
    return built


def help_text(magic: Magic) -> str:
    """What `%magic?` shows: the usage line and every flag."""
    parser(magic)
    function: Any = getattr(magic, "__func__", magic)
    return str(function.__doc__)


def _declare(magic: F, declarations: Callable[[], list[Callable[[Magic], Magic]]]) -> F:
    function: Any = magic
    function.flag_declarations = declarations
    # IPython's inspector (`%assistant?`, Shift-Tab) asks an object for getdoc() first.
    function.getdoc = lambda: help_text(function)
    return magic


def config_declarations() -> list[Callable[[Magic], Magic]]:
    """`%assistant`'s flags, as IPython's `magic_arguments` decorators, top to bottom."""
    from IPython.core.magic_arguments import argument, magic_arguments

    return [
        magic_arguments("assistant"),
        argument("--model", help="Model for every following ask."),
        argument("--instructions", help='System instructions ("" clears them).'),
        argument(
            "--instructions-from",
            metavar="NAME_OR_PATH",
            help="Read the instructions from a variable holding a string, or from a text file "
            "(for long instructions).",
        ),
        argument("--base-url", help='API base URL ("" restores $OPENAI_BASE_URL or OpenAI\'s).'),
        argument("--dialect", "--api", choices=("auto", *DIALECTS), help=DIALECT_HELP),
        argument(
            "--assistant-id",
            metavar="ID",
            help="With --dialect assistants: run with this existing assistant (its model, "
            'instructions and tools, plus yours) instead of making one; "" makes one again.',
        ),
        argument(
            "--temperature",
            metavar="T",
            help='Sampling temperature, 0 to 2, for the following asks ("" restores the '
            "model's default).",
        ),
        hosted_tool_flags("for the following asks"),
        argument(
            "--local",
            nargs="?",
            const="",
            metavar="PATH.gguf",
            help="Run a local model with llama.cpp (the small default one, $ASSISTANT_MAGIC_GGUF, "
            'or PATH.gguf) and talk to it; needs pip install "assistant-magic[local]".',
        ),
        argument(
            "--confirm",
            action="store_true",
            help="With tools add or mcp add: ask before each call of these tools.",
        ),
        argument(
            "--header",
            action="append",
            default=[],
            metavar='"NAME: VALUE"',
            help="With mcp add NAME URL: an HTTP header for the server; write secrets as $VAR, "
            "read from the environment when the server starts. Repeat for several.",
        ),
        argument(
            "--hosted",
            action="store_true",
            help="With mcp add NAME URL: on the Responses API, OpenAI's servers call this MCP "
            "server (the hosted mcp tool); approvals still ask here.",
        ),
        argument(
            "command",
            nargs="*",
            help=f"{THREAD_COMMANDS} | {TOOL_COMMANDS} | {MCP_COMMANDS} | {FILE_COMMANDS} | "
            f"{OTHER_COMMANDS}. With no command and no flag: show the configuration.",
        ),
    ]


def ask_declarations() -> list[Callable[[Magic], Magic]]:
    """`%%ask`'s flags, as IPython's `magic_arguments` decorators, top to bottom."""
    from IPython.core.magic_arguments import argument, magic_arguments

    return [
        # The usage line then reads %%ask, as the user types it.
        magic_arguments("%ask"),
        argument(
            "-o",
            "--output",
            metavar="NAME",
            help="Also store the answer in NAME: its text, or with --schema the validated value.",
        ),
        argument("--model", help="Model for this ask only."),
        argument("--instructions", help="Instructions for this ask only."),
        argument(
            "--instructions-from",
            metavar="NAME_OR_PATH",
            help="Instructions for this ask only, from a variable holding a string or a text file.",
        ),
        argument("--temperature", metavar="T", help="Sampling temperature for this ask only."),
        argument(
            "--tools",
            metavar="NAMES",
            help='Comma-separated functions the model may call in this ask ("none": no tools). '
            "Default: the registered tools and those marked with @assistant_magic.tool.",
        ),
        argument(
            "--tool-choice",
            metavar="NAME|auto|required|none",
            default="auto",
            help="Whether the model must call a tool first: auto (it decides), required (some "
            "tool), none, or the name of the one tool to call. Forcing a tool makes small local "
            "models call it reliably.",
        ),
        argument(
            "--schema",
            metavar="TYPE",
            help="Answer as a value of TYPE, validated: a pydantic model, dataclass, TypedDict, "
            "Enum or Literal, int/float/bool/str, or list[...] / dict[str, ...] of these, named "
            'as in the notebook (e.g. Fighter, "list[Record]"). Shown as a table or a field list.',
        ),
        argument(
            "--retries",
            metavar="N",
            type=int,
            default=1,
            help="With --schema: how many times an answer that does not validate is sent back "
            "with what was wrong (default 1).",
        ),
        argument(
            "--each",
            metavar="NAME",
            help="Ask the question of every row of the DataFrame, Series or list NAME, each on "
            "its own (not on the thread), with the row's fields as context; -o gets the answers "
            "as a Series aligned to NAME (failures in .attrs['errors']). Answered rows are kept "
            "and never asked again.",
        ),
        argument("--fields", metavar="A,B", help="With --each: the columns sent (default: all)."),
        argument(
            "--concurrency",
            metavar="N",
            type=int,
            help="With --each: requests in flight at most (default: row_concurrency, 8).",
        ),
        argument(
            "--rows-per-request",
            metavar="N",
            type=int,
            default=1,
            help="With --each: rows asked in one request (fewer tokens and requests; a row the "
            "answer leaves out is asked alone).",
        ),
        argument(
            "--fresh",
            action="store_true",
            help="Ask live even where a recording or a kept answer exists (and record the new "
            "answer): with replay on, this ask; with --each, every row.",
        ),
        argument(
            "--batch-api",
            action="store_true",
            help="With --each: send the rows as a batch (OpenAI's Batch API: half the price, "
            "answers within 24 h); run the cell again to collect them, from any kernel. "
            "%%assistant jobs lists the batches.",
        ),
        argument(
            "--expand",
            action="store_true",
            help="With --each --schema: -o gets a DataFrame, a column per field.",
        ),
        hosted_tool_flags("for this ask only"),
        argument("--save-images", metavar="DIR", help="Also save the answer's images in DIR."),
        argument(
            "--attach",
            action="append",
            default=[],
            metavar="PATH_OR_NAME",
            help="Attach a file, or a variable (a DataFrame goes as CSV, a PIL image or matplotlib "
            "figure as an image). Repeat for several.",
        ),
        argument(
            "--vars",
            metavar="NAMES",
            help="Comma-separated variables to send as context, each summarised to a bounded size "
            "(a DataFrame's shape, dtypes and head, ...). Nothing else of the namespace is sent.",
        ),
        argument(
            "--cell", action="append", type=int, default=[], metavar="N", help="Include In[N]."
        ),
        argument(
            "--out", action="append", type=int, default=[], metavar="N", help="Include Out[N]."
        ),
        argument(
            "--error", action="store_true", help="Include the last exception and its traceback."
        ),
        argument(
            "--code",
            action="store_true",
            help="Put the answer's Python code into a new cell below (never run).",
        ),
        argument(
            "--dry-run",
            action="store_true",
            help="Show exactly what would be sent (requests, context sizes, estimated tokens) "
            "and send nothing.",
        ),
    ]
