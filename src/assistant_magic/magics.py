"""`%assistant` and `%%ask`: a grammar over an `Assistant`.

Each magic parses its line into typed arguments (`lines.ConfigLine`, `lines.AskLine`), calls the
`Assistant` the kernel holds, and shows what came back. The configuration is `options.Options`
as traitlets, so ``%config AssistantMagics.model = "..."`` and ``ipython_config.py`` work as for
any IPython configurable; every setting flows from there to each ask the same way. This module
imports nothing heavy: the assistant, store, SDK and widgets load at the first command that needs
them.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
from collections.abc import Callable
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bunch, Enum, TraitError, observe, validate
from traitlets.config import Configurable

from . import options as option_specs
from .commands import FILE_COMMANDS, OTHER_COMMANDS, THREAD_COMMANDS, TOOL_COMMANDS, one_line
from .errors import AssistantError, ConfigurationError
from .lines import AskLine, ConfigLine, check_text, parse, shown, with_code_request
from .options import DIALECTS, Options
from .redaction import redact

if TYPE_CHECKING:
    from .answer import Answer
    from .assistant import Assistant
    from .commands import Commands
    from .local import LocalModels
    from .settings import Settings

#: Longer `%assistant` lines are not expanded: IPython's expansion is quadratic in the length.
EXPAND_LIMIT = 4_000
#: Options whose values have a check (see `options.option`).
CHECKED = tuple(spec.name for spec in fields(Options) if spec.metadata.get("check"))
HOSTED_TOOL_FLAGS = {
    "--code-interpreter": "let the model run Python in the server's sandbox (its charts are shown)",
    "--image-generation": "let the model generate images",
    "--file-search": "let the model search the files attached on the thread",
}
DIALECT_HELP = (
    "Wire dialect: responses (OpenAI), chat (Chat Completions) or assistants (the legacy "
    "Assistants API); --api is its older name."
)

#: The options as configurable traitlets, declared once in `options.Options`.
OptionTraits = type(
    "OptionTraits",
    (Configurable,),
    {"__doc__": "The options of `options.Options` as traitlets.", **option_specs.traits()},
)


def _hosted_tool_flags(scope: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The on/off flags of the server's own tools, declared alike on both magics."""

    def declare(magic: Callable[..., Any]) -> Callable[..., Any]:
        for flag, what in reversed(HOSTED_TOOL_FLAGS.items()):
            magic = argument(flag, action=argparse.BooleanOptionalAction, help=f"{what}, {scope}.")(
                magic
            )
        return magic

    return declare


@magics_class
class AssistantMagics(Magics, OptionTraits):  # type: ignore[misc, valid-type]
    """An AI assistant in the notebook: configure with %assistant, ask with %%ask."""

    api = Enum(
        ("auto", *DIALECTS),
        default_value=None,
        allow_none=True,
        help="The older name of `dialect`: setting it sets that.",
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._assistant: Assistant | None = None
        self._bound_thread_id: str | None = None
        self._local_models: LocalModels | None = None
        # Registered here, in plain sight, and unregistered by `close`.
        atexit.register(self._cleanup_at_exit)

    @validate(*CHECKED)
    def _checked(self, proposal: Bunch) -> Any:
        name = proposal.trait.name
        problem = option_specs.check(name, proposal.value)
        if problem:
            raise TraitError(str(option_specs.OptionError(name, proposal.value, problem)))
        return proposal.value

    @observe("api")
    def _older_name(self, change: Bunch) -> None:
        if change.new is not None:
            self.dialect = change.new

    # -- %assistant ----------------------------------------------------------------------------

    @line_magic("assistant")
    @no_var_expand  # expanded in `_expanded`, which stays fast for long lines
    @magic_arguments("%assistant")
    @argument("--model", help="Model for every following ask.")
    @argument("--instructions", help='System instructions ("" clears them).')
    @argument(
        "--instructions-from",
        metavar="NAME_OR_PATH",
        help="Read the instructions from a variable holding a string, or from a text file "
        "(for long instructions).",
    )
    @argument("--base-url", help='API base URL ("" restores $OPENAI_BASE_URL or OpenAI\'s).')
    @argument("--dialect", "--api", choices=("auto", *DIALECTS), help=DIALECT_HELP)
    @argument(
        "--assistant-id",
        metavar="ID",
        help="With --dialect assistants: run with this existing assistant (its model, "
        'instructions and tools, plus yours) instead of making one; "" makes one again.',
    )
    @argument(
        "--temperature",
        metavar="T",
        help='Sampling temperature, 0 to 2, for the following asks ("" restores the '
        "model's default).",
    )
    @_hosted_tool_flags("for the following asks")
    @argument(
        "--local",
        nargs="?",
        const="",
        metavar="PATH.gguf",
        help="Run a local model with llama.cpp (the small default one, $ASSISTANT_MAGIC_GGUF, "
        'or PATH.gguf) and talk to it; needs pip install "assistant-magic[local]".',
    )
    @argument(
        "--confirm",
        action="store_true",
        help="With tools add: ask before each call of these tools.",
    )
    @argument(
        "command",
        nargs="*",
        help=f"{THREAD_COMMANDS} | {TOOL_COMMANDS} | {FILE_COMMANDS} | {OTHER_COMMANDS}. "
        "With no command and no flag: show the configuration.",
    )
    def configure(self, line: str) -> None:
        """Configure the assistant and manage the thread bound to this kernel.

        The API key is read from $OPENAI_API_KEY (or the variable named by
        AssistantMagics.api_key_env), never from an argument.

        Examples::

            %assistant --model gpt-5.4-mini --instructions "You act as Frieza."
            %assistant thread list
            %assistant thread export transcript.md
            %assistant tools add calc_strength --confirm
        """
        config = ConfigLine.of(parse(self.configure, self._expanded(line)), self._namespace())
        updates = dict(config.updates)
        if config.local is not None:
            updates = {**self._local_options(config.local, updates.get("model")), **updates}
        changed = self._configure(updates)
        if not config.command:
            if not changed:
                self._show_configuration()
            return
        verb, rest = config.command[0], list(config.command[1:])
        if config.confirm and verb != "tools":
            raise AssistantError(
                "--confirm goes with tools add: %assistant tools add NAME --confirm"
            )
        self._dispatch(verb, rest, config)

    def _dispatch(self, verb: str, rest: list[str], config: ConfigLine) -> None:
        commands = self.commands
        if verb == "thread":
            commands.thread(rest)
        elif verb == "tools":
            commands.tools(rest, confirm=config.confirm)
        elif verb == "files":
            commands.files(rest)
        elif verb == "retry" and not rest:
            self._retry()
        elif verb == "cleanup" and not rest:
            commands.cleanup()
        elif verb == "history" and len(rest) <= 1:
            commands.history(rest[0] if rest else "5")
        elif verb == "usage" and not rest:
            commands.usage()
        else:
            raise AssistantError(
                f"Unknown command {' '.join((verb, *rest))!r}: use {THREAD_COMMANDS}, "
                f"{TOOL_COMMANDS}, {FILE_COMMANDS}, {OTHER_COMMANDS}."
            )

    # -- %%ask ---------------------------------------------------------------------------------

    @cell_magic("ask")
    @no_var_expand
    @magic_arguments("%ask")  # the usage line then reads %%ask, as the user types it
    @argument("-o", "--output", metavar="NAME", help="Also store the answer text in NAME.")
    @argument("--model", help="Model for this ask only.")
    @argument("--instructions", help="Instructions for this ask only.")
    @argument(
        "--instructions-from",
        metavar="NAME_OR_PATH",
        help="Instructions for this ask only, from a variable holding a string or a text file.",
    )
    @argument("--temperature", metavar="T", help="Sampling temperature for this ask only.")
    @argument(
        "--tools",
        metavar="NAMES",
        help='Comma-separated functions the model may call in this ask ("none": no tools). '
        "Default: the registered tools and those marked with @assistant_magic.tool.",
    )
    @argument(
        "--tool-choice",
        metavar="NAME|auto|required|none",
        default="auto",
        help="Whether the model must call a tool first: auto (it decides), required (some "
        "tool), none, or the name of the one tool to call. Forcing a tool makes small local "
        "models call it reliably.",
    )
    @_hosted_tool_flags("for this ask only")
    @argument("--save-images", metavar="DIR", help="Also save the answer's images in DIR.")
    @argument(
        "--attach",
        action="append",
        default=[],
        metavar="PATH_OR_NAME",
        help="Attach a file, or a variable (a DataFrame goes as CSV, a PIL image or matplotlib "
        "figure as an image). Repeat for several.",
    )
    @argument(
        "--vars",
        metavar="NAMES",
        help="Comma-separated variables to send as context, each summarised to a bounded size "
        "(a DataFrame's shape, dtypes and head, ...). Nothing else of the namespace is sent.",
    )
    @argument("--cell", action="append", type=int, default=[], metavar="N", help="Include In[N].")
    @argument("--out", action="append", type=int, default=[], metavar="N", help="Include Out[N].")
    @argument("--error", action="store_true", help="Include the last exception and its traceback.")
    @argument(
        "--code",
        action="store_true",
        help="Put the answer's Python code into a new cell below (never run).",
    )
    @argument(
        "--dry-run",
        action="store_true",
        help="Show exactly what would be sent (requests, context sizes, estimated tokens) "
        "and send nothing.",
    )
    def ask(self, line: str, cell: str) -> None:
        """Send the cell as a user message on the kernel's thread and stream the answer."""
        args = AskLine.of(parse(self.ask, line), self._namespace())
        question = cell.strip("\n")
        if not question.strip():
            raise AssistantError("Nothing to ask: write your question in the cell under %%ask.")
        check_text(question, "The cell")
        changes = dict(args.changes)
        if args.code:
            instructions = changes.get("instructions", self.instructions)
            changes["instructions"] = with_code_request(str(instructions))
        parts, text = [], question
        if args.wants_context:
            from .context import render
            from .kernel import context_parts

            parts = context_parts(self.shell, args.vars, args.cells, args.outs, args.error)
            text = render(question, parts)
        if args.dry_run:
            self._dry_run(text, question, args, changes, parts)
            return
        changes.update(self._keyless_fallback(changes))
        answer = self._ask(text, args.tools, args.tool_choice, args.attach, changes)
        if answer is None:  # not sent: -o still names an (empty) answer, so later cells run
            from .answer import Answer

            answer = Answer("")
        if args.code and answer.outcome is not None:
            from .kernel import place_code

            place_code(self.shell, answer.text)
        if args.save_images and answer.images:
            for path in answer.save_images(os.path.expanduser(args.save_images)):
                print(f"Saved {path}")
        if args.output:
            self._namespace()[args.output] = answer

    def _ask(
        self,
        text: str,
        tools: list[str] | None,
        tool_choice: str,
        attach: tuple[str, ...] | list[str],
        changes: dict[str, Any],
    ) -> Answer | None:
        """The answer, or None when a spent budget kept the ask from being sent."""
        from .assistant import BudgetSpent
        from .view import make_view

        view = make_view(self.view, self.shell, refresh_interval=self.refresh_interval)
        try:
            return self.assistant.ask(
                text,
                view=view,
                tools=tools,
                tool_choice=tool_choice,
                attachments=list(attach),
                **changes,
            )
        except BudgetSpent as spent:
            print(spent)  # not an exception: a spent budget must not stop "Run all" here
            return None

    def _dry_run(
        self,
        text: str,
        question: str,
        args: AskLine,
        changes: dict[str, Any],
        parts: list[Any],
    ) -> None:
        from .dry_run import describe

        assistant = self.assistant
        requests = assistant.preview(
            text,
            tools=args.tools,
            tool_choice=args.tool_choice,
            attachments=list(args.attach),
            **changes,
        )
        settings = assistant.settings(**changes)
        earlier = assistant.threads.last_ask() is not None
        shown_text = describe(requests, settings, parts, question=question, server_history=earlier)
        print(redact(shown_text))

    def _retry(self) -> None:
        last = self.assistant.threads.last_ask()
        if last is None:
            raise AssistantError("Nothing to retry: no ask has been made on this thread.")
        self._ask(last.user_text, None, "auto", (), self._keyless_fallback({}))

    # -- the assistant -------------------------------------------------------------------------

    def options(self) -> Options:
        """The configuration as it is now."""
        values = {spec.name: getattr(self, spec.name) for spec in fields(Options)}
        return Options(**values)

    def settings(self, **changes: Any) -> Settings:
        return self.assistant.settings(**changes)

    @property
    def assistant(self) -> Assistant:
        """The kernel's assistant, made at the first command that needs it, with the options
        as they are at each use."""
        if self._assistant is None:
            from .assistant import Assistant
            from .kernel import notebook_key
            from .tools import approve_with_input

            namespace = self._namespace()
            self._assistant = Assistant(
                self.options(),
                notebook=self.notebook or notebook_key(namespace),
                namespace=namespace,
                approve=approve_with_input,
            )
            if self._bound_thread_id:
                threads = self._assistant.threads
                threads.thread = threads.store.get_thread(self._bound_thread_id)
        self._assistant.options = self.options()
        return self._assistant

    @property
    def bound_thread_id(self) -> str | None:
        """The kernel's thread, without opening the store just to ask."""
        if self._assistant is None:
            return self._bound_thread_id
        thread = self._assistant.threads.thread
        return thread.id if thread else None

    @bound_thread_id.setter
    def bound_thread_id(self, thread_id: str | None) -> None:
        if self._assistant is None:
            self._bound_thread_id = thread_id
        elif thread_id is None:
            self._assistant.threads.thread = None
        else:
            self._assistant.threads.use(thread_id)

    @property
    def local_models(self) -> LocalModels:
        """The kernel's local model server, if it runs one (`--local`)."""
        if self._local_models is None:
            from .local import LocalModels  # here: it imports the HTTP client

            self._local_models = LocalModels()
        return self._local_models

    @property
    def commands(self) -> Commands:
        from .commands import Commands

        return Commands(self.assistant)

    def close(self) -> None:
        atexit.unregister(self._cleanup_at_exit)
        if self._assistant is not None:
            self._assistant.close()
            self._assistant = None
        if self._local_models is not None:
            self._local_models.stop()

    def _cleanup_at_exit(self) -> None:
        """At kernel exit, with `cleanup_at_exit`: what `%assistant cleanup` does, quietly."""
        assistant = self._assistant
        if not self.cleanup_at_exit or assistant is None or assistant.threads.thread is None:
            return
        with contextlib.suppress(Exception):  # the kernel is going away: nobody to tell
            assistant.threads.cleanup(self.settings())

    def _namespace(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    # -- configuration -------------------------------------------------------------------------

    def _configure(self, updates: dict[str, Any]) -> bool:
        """Apply `updates` to the configuration and say what changed; a rejected value changes
        nothing. A thread that cannot go on under the new configuration is unbound."""
        if not updates:
            return False
        settings = self._apply(updates)
        for name, value in updates.items():
            if name == "prices":
                continue  # a table: `%assistant usage` shows what it prices
            value = settings.public_base_url if name == "base_url" else getattr(settings, name)
            print(redact(f"{name.replace('_', ' ')}: {shown(value)}"))
        assistant = self._assistant
        thread = assistant.threads.thread if assistant is not None else None
        if thread is not None and not assistant.threads.fits(thread, settings):  # type: ignore[union-attr]
            assistant.threads.thread = None  # type: ignore[union-attr]
            print(
                f"The next %%ask starts a new thread on {settings.public_base_url}; "
                f"{thread.id} stays in %assistant thread list."
            )
        return True

    def _apply(self, updates: dict[str, Any]) -> Settings:
        """Set `updates` and return the settings they make; a rejected value changes nothing."""
        before = {name: getattr(self, name) for name in updates}
        try:
            for name, value in updates.items():
                setattr(self, name, value)
            return self.settings()
        except (TraitError, AssistantError) as exc:
            for name, value in before.items():
                setattr(self, name, value)
            raise ConfigurationError(f"{exc} Nothing was changed.") from None

    def _expanded(self, line: str) -> str:
        """`{expr}` and `$name` expanded from the user's namespace, as IPython expands any line
        magic (a line that cannot be expanded is left as typed)."""
        if "$" not in line and "{" not in line:
            return line
        if len(line) > EXPAND_LIMIT:
            # IPython's expansion takes time growing with the square of the line's length.
            print(
                f"note: {{expr}} and $name are not expanded in a line of {len(line):,} "
                "characters; keep long instructions in a variable or a file: "
                "--instructions-from NAME_OR_PATH"
            )
            return line
        from IPython.utils.text import DollarFormatter

        try:
            return DollarFormatter().vformat(line, args=[], kwargs=self._namespace())
        except Exception:  # as IPython does: what cannot be evaluated stays as typed
            return line

    def _show_configuration(self) -> None:
        settings = self.settings()
        dialect = f"{settings.dialect} ({settings.dialect_source})"
        url = f"{settings.public_base_url} ({settings.base_url_source})"
        key = f"${settings.api_key_env} = {settings.masked_key}"
        tools = self.assistant.toolbox.available()
        rows = [
            ("model", settings.model),
            ("instructions", one_line(settings.instructions) or "(none)"),
            ("dialect", dialect),
            ("base URL", url),
            ("API key", key),
            ("tools", ", ".join(tools) or "none (%assistant tools add NAME)"),
            ("hosted tools", ", ".join(settings.hosted_tools).replace("_", " ") or "none"),
            ("temperature", shown(settings.temperature)),
            *self._assistant_row(settings),
            ("store", str(self.assistant.threads.store_path)),
            ("thread", self.commands.describe_bound_thread()),
        ]
        for name, value in rows:
            print(redact(f"{name:<13} {value}"))

    def _assistant_row(self, settings: Settings) -> list[tuple[str, str]]:
        if settings.dialect != "assistants":
            return []
        thread = self.assistant.threads.thread
        if thread is not None and thread.assistant_id:
            made = "made by this package" if thread.assistant_owned else "yours"
            return [("assistant", f"{thread.assistant_id} ({made})")]
        return [
            ("assistant", settings.assistant_id or "made from this configuration at the first ask")
        ]

    # -- a model on this machine ---------------------------------------------------------------

    def _local_options(self, path: str, model: str | None) -> dict[str, Any]:
        """What `--local [PATH]` sets: the local server's URL, the chat dialect, its model."""
        from .local import local_options

        server = self.local_models.start(path, self.context_window, progress=print)
        changes = local_options(
            server, model=model, prices=self.prices, max_output_tokens=self.max_output_tokens
        )
        if "max_output_tokens" in changes:
            print(f"max output tokens: {changes['max_output_tokens']} (for the local model)")
        return changes

    def _keyless_fallback(self, changes: dict[str, Any]) -> dict[str, Any]:
        """With no key for OpenAI and the local model installed, this ask goes to the local
        model (the configuration itself is left as it is)."""
        from .local import local_model_installed, local_options
        from .settings import is_openai

        settings = self.settings(**changes)
        if not (
            self.local_when_keyless
            and not settings.api_key
            and is_openai(settings.base_url)
            and local_model_installed()
        ):
            return {}
        print(
            f"No ${settings.api_key_env}: answering with the local model instead of "
            f"{settings.model} (set the variable to use OpenAI)."
        )
        server = self.local_models.start("", self.context_window, progress=print)
        changes = local_options(
            server, model=None, prices=self.prices, max_output_tokens=self.max_output_tokens
        )
        if "prices" in changes:
            # The one lasting change: what runs here costs nothing, in `%assistant usage` too.
            self.set_trait("prices", changes.pop("prices"))
        return changes
