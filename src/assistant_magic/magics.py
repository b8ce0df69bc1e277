"""`%assistant` and `%%ask`: parse arguments, then hand over to the session.

Configuration is traitlets on `AssistantMagics`, so ``%config AssistantMagics.model = "..."``
and ``ipython_config.py`` work as for any IPython configurable. This module imports nothing
heavy: the session, store, SDK and widgets load at the first command that needs them.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Bunch, Dict, Enum, Float, Integer, TraitError, Unicode, validate

from .commands import FILE_COMMANDS, OTHER_COMMANDS, THREAD_COMMANDS, TOOL_COMMANDS, one_line
from .errors import AssistantError, ConfigurationError
from .redaction import redact
from .words import split_words

if TYPE_CHECKING:
    from collections.abc import Sequence

    from .attachments import Attachment
    from .commands import Commands
    from .context import ContextPart
    from .local import LocalServer
    from .session import Session, TurnOutcome
    from .settings import Settings
    from .toolbox import ToolBox

SECRET_FLAGS = ("--api-key", "--api_key", "--key", "--token", "--secret")
LOCAL_MAX_OUTPUT_TOKENS = 512
#: Longer --instructions get a note: they go with every ask, and a variable or a file keeps
#: them out of the magic's line.
LONG_INSTRUCTIONS = 20_000
#: Longer `%assistant` lines are not expanded: IPython's expansion is quadratic in the length.
EXPAND_LIMIT = 4_000
#: Names `-o` may not take: the kernel and IPython rely on them.
KERNEL_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "_oh", "_ih", "_dh"})


HOSTED_TOOL_FLAGS = {
    "--code-interpreter": "let the model run Python in the server's sandbox (its charts are shown)",
    "--image-generation": "let the model generate images",
    "--file-search": "let the model search the files attached on the thread",
}


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
class AssistantMagics(Magics):
    """An AI assistant in the notebook: configure with %assistant, ask with %%ask."""

    model = Unicode("gpt-5.4-mini", help="Model that answers each %%ask.").tag(config=True)
    instructions = Unicode("", help="System instructions sent with every ask.").tag(config=True)
    base_url = Unicode(
        "", help="API base URL; empty means $OPENAI_BASE_URL, else OpenAI's own."
    ).tag(config=True)
    api = Enum(
        ("auto", "responses", "chat", "assistants"),
        default_value="auto",
        help="Wire dialect; auto picks the one the server speaks.",
    ).tag(config=True)
    api_key_env = Unicode(
        "OPENAI_API_KEY", help="Environment variable that holds the API key."
    ).tag(config=True)
    store_path = Unicode(
        "",
        help="SQLite file that records threads; empty means $ASSISTANT_MAGIC_STORE, else the "
        "platform's user data directory.",
    ).tag(config=True)
    view = Enum(
        ("auto", "widget", "text"),
        default_value="auto",
        help="How a turn is shown: a live widget in Jupyter, plain text elsewhere.",
    ).tag(config=True)
    timeout = Float(600.0, help="Seconds to wait for the server.").tag(config=True)
    max_retries = Integer(2, help="Retries on 429/5xx, honouring Retry-After.").tag(config=True)
    notebook = Unicode(
        "", help="Name that groups this notebook's threads for `thread resume`; empty: detect."
    ).tag(config=True)
    refresh_interval = Float(
        0.05, help="Seconds between Markdown re-renders while the answer streams."
    ).tag(config=True)
    max_tool_rounds = Integer(
        10, help="Rounds of tool calls in one ask; then the model must answer without tools."
    ).tag(config=True)
    max_ask_tokens = Integer(
        0,
        help="Tokens (input + output) one ask may use before the model must answer without "
        "tools (0: no limit).",
    ).tag(config=True)
    max_thread_tokens = Integer(
        0, help="Tokens a thread may use in all; a spent thread takes no more asks (0: no limit)."
    ).tag(config=True)
    max_ask_tool_calls = Integer(
        0, help="Tool calls one ask may make; calls beyond it are not run (0: no limit)."
    ).tag(config=True)
    max_thread_tool_calls = Integer(
        0, help="Tool calls a thread may make in all (0: no limit)."
    ).tag(config=True)
    tool_stdout = Enum(
        ("show", "capture"),
        default_value="show",
        help="What a tool prints: shown in the cell, or captured and sent to the model.",
    ).tag(config=True)
    tool_result_limit = Integer(
        20_000, help="Characters of a tool's result sent to the model; longer is truncated."
    ).tag(config=True)
    code_interpreter = Bool(
        False, help="Let the model run Python in the server's sandbox (its charts are shown)."
    ).tag(config=True)
    image_generation = Bool(False, help="Let the model generate images.").tag(config=True)
    file_search = Bool(False, help="Let the model search the files attached on the thread.").tag(
        config=True
    )
    partial_images = Integer(2, help="Previews shown while an image is generated (0 to 3).").tag(
        config=True
    )
    max_image_bytes = Integer(
        25 * 1024 * 1024, help="Largest image file accepted from the server."
    ).tag(config=True)
    context_window = Integer(
        16_384,
        help="Tokens the model reads (chat dialect): older turns are left out of a request "
        "beyond it, never out of the thread.",
    ).tag(config=True)
    max_output_tokens = Integer(
        0, help="Longest answer in tokens (0: the server's own limit)."
    ).tag(config=True)
    assistant_id = Unicode(
        "",
        help="Assistants API: an existing assistant to run with (empty: the first ask makes one "
        "from this configuration, and cleanup deletes it).",
    ).tag(config=True)
    cleanup_at_exit = Bool(
        False,
        help="At kernel exit, delete the bound thread's server-side state as %assistant cleanup "
        "does.",
    ).tag(config=True)
    prices = Dict(
        {},
        help='Prices per 1M tokens over the shipped table, e.g. {"my-model": [0.5, 0.05, 1.5]} '
        "(input, cached input, output; US dollars).",
    ).tag(config=True)
    local_when_keyless = Bool(
        True,
        help="With no API key for OpenAI, answer with the local model (%assistant --local) when "
        '"assistant-magic[local]" is installed.',
    ).tag(config=True)
    temperature = Float(
        None,
        allow_none=True,
        help="Sampling temperature, 0 to 2 (None: the model's default); 0 picks the likeliest "
        "words, so a model answers the same question the same way.",
    ).tag(config=True)
    max_image_pixels = Integer(
        50_000_000, help="Largest image (width × height) accepted from the server."
    ).tag(config=True)

    # A value is checked when it is set (by %config, ipython_config.py or %assistant), so a
    # bad one is refused at once, with the setting named, and the old one stays.
    @validate(
        "timeout",
        "max_image_bytes",
        "max_image_pixels",
        "tool_result_limit",
        "refresh_interval",
        "max_tool_rounds",
    )
    def _positive(self, proposal: Bunch) -> Any:
        return _at_least(proposal, 0, inclusive=False)

    @validate(
        "max_retries",
        "context_window",
        "max_output_tokens",
        "max_ask_tokens",
        "max_thread_tokens",
        "max_ask_tool_calls",
        "max_thread_tool_calls",
        "partial_images",
    )
    def _not_negative(self, proposal: Bunch) -> Any:
        return _at_least(proposal, 0, inclusive=True)

    @validate("temperature")
    def _temperature_range(self, proposal: Bunch) -> Any:
        value = proposal.value
        if value is not None and not 0 <= value <= 2:
            raise TraitError(_setting_error(proposal, "a number from 0 to 2 (or None)"))
        return value

    @validate("base_url")
    def _base_url_form(self, proposal: Bunch) -> Any:
        from .settings import normalise_base_url

        if proposal.value.strip():
            try:
                normalise_base_url(proposal.value)
            except ConfigurationError as exc:
                raise TraitError(f"AssistantMagics.base_url: {exc}") from None
        return proposal.value

    @validate("model")
    def _model_named(self, proposal: Bunch) -> Any:
        if not proposal.value.strip():
            raise TraitError(_setting_error(proposal, "a model name, e.g. gpt-5.4-mini"))
        return proposal.value

    _session: Session | None = None
    _bound_thread_id: str | None = None
    _toolbox: ToolBox | None = None
    _local: LocalServer | None = None

    # -- %assistant ----------------------------------------------------------------------------

    @line_magic
    @no_var_expand  # expanded in `_expanded`, which stays fast for long lines
    @magic_arguments()
    @argument("--model", help="Model for every following ask.")
    @argument("--instructions", help='System instructions ("" clears them).')
    @argument(
        "--instructions-from",
        metavar="NAME_OR_PATH",
        help="Read the instructions from a variable holding a string, or from a text file "
        "(for long instructions).",
    )
    @argument("--base-url", help='API base URL ("" restores $OPENAI_BASE_URL or OpenAI\'s).')
    @argument(
        "--api",
        choices=("auto", "responses", "chat", "assistants"),
        help="Wire dialect: responses (OpenAI), chat (Chat Completions) or assistants (the "
        "legacy Assistants API).",
    )
    @argument(
        "--assistant-id",
        metavar="ID",
        help="With --api assistants: run with this existing assistant (its model, instructions "
        'and tools, plus yours) instead of making one; "" makes one again.',
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
    def assistant(self, line: str) -> None:
        """Configure the assistant and manage the thread bound to this kernel.

        The API key is read from $OPENAI_API_KEY (or the variable named by
        AssistantMagics.api_key_env), never from an argument.

        Examples::

            %assistant --model gpt-5.4-mini --instructions "You act as Frieza."
            %assistant thread list
            %assistant thread export transcript.md
            %assistant tools add calc_strength --confirm
        """
        args = _parse(self.assistant, self._expanded(line))
        args.instructions = self._instructions(args)
        if args.local is not None:
            self._point_at_local(args)
        changed = self._configure(args)
        command = list(args.command)
        if not command:
            if not changed:
                self._show_configuration()
            return
        verb, rest = command[0], command[1:]
        if args.confirm and verb != "tools":
            raise AssistantError(
                "--confirm goes with tools add: %assistant tools add NAME --confirm"
            )
        commands = self.commands
        if verb == "thread":
            commands.thread(rest)
        elif verb == "tools":
            commands.tools(rest, confirm=args.confirm)
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
                f"Unknown command {' '.join(command)!r}: use {THREAD_COMMANDS}, {TOOL_COMMANDS}, "
                f"{FILE_COMMANDS}, {OTHER_COMMANDS}."
            )

    # -- %%ask ---------------------------------------------------------------------------------

    @cell_magic
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
        args = _parse(self.ask, line)
        if args.output is not None:
            _check_output_name(args.output)
        args.instructions = self._instructions(args)
        question = cell.strip("\n")
        if not question.strip():
            raise AssistantError("Nothing to ask: write your question in the cell under %%ask.")
        _check_text(question, "The cell")
        settings = self._ask_settings(args, model=args.model)
        parts = self._context(args, settings)
        text = question
        if parts:
            from .context import render

            text = render(question, parts)
        if args.dry_run:
            self._dry_run(text, settings, args, parts, question)
            return
        if self._keyless_and_local(settings):
            print(
                f"No ${settings.api_key_env}: answering with the local model instead of "
                f"{settings.model} (set the variable to use OpenAI)."
            )
            local = _parse(self.assistant, "--local")
            self._point_at_local(local)
            self._configure(local)
            settings = self._ask_settings(args, model=None)
        attachments = self._attachments(args.attach, settings)
        outcome = self._run_turn(
            text,
            settings,
            tool_names=_tool_names(args.tools),
            attachments=attachments,
            tool_choice=args.tool_choice,
        )
        from .images import Answer

        answer = Answer(outcome.text, outcome.images) if outcome else Answer("", ())
        if args.code and outcome:
            self._place_code(outcome.text)
        if args.save_images and answer.images:
            for path in answer.save_images(os.path.expanduser(args.save_images)):
                print(f"Saved {path}")
        if args.output:
            self.shell.user_ns[args.output] = answer  # type: ignore[union-attr]

    def _ask_settings(self, args: Any, *, model: str | None) -> Settings:
        """The configuration with this ask's overrides."""
        settings = self.settings(
            model=model,
            instructions=args.instructions,
            temperature=_temperature(args.temperature),
            code_interpreter=args.code_interpreter,
            image_generation=args.image_generation,
            file_search=args.file_search,
        )
        if args.code:
            settings = replace(settings, instructions=_with_code_request(settings.instructions))
        return settings

    def _context(self, args: Any, settings: Settings) -> list[ContextPart]:
        """What --vars, --cell, --out and --error add to the question, in that order, with the
        API key masked wherever it shows (a variable or a traceback may hold it)."""
        if not (args.vars or args.cell or args.out or args.error):
            return []
        from .context import cell_input, cell_output, last_error, variable

        namespace = self.shell.user_ns if self.shell is not None else {}
        names = [n.strip() for n in (args.vars or "").split(",") if n.strip()]
        parts = [variable(name, namespace) for name in names]
        # What the user typed (In holds IPython's rewrite: magics as get_ipython() calls).
        history = getattr(getattr(self.shell, "history_manager", None), "input_hist_raw", None)
        parts += [cell_input(n, history or namespace.get("In", [])) for n in args.cell]
        parts += [cell_output(n, namespace.get("Out", {})) for n in args.out]
        if args.error:
            parts.append(last_error(getattr(sys, "last_value", None)))
        return [replace(part, text=settings.redact(part.text)) for part in parts]

    def _dry_run(
        self, text: str, settings: Settings, args: Any, parts: list[ContextPart], question: str
    ) -> None:
        from .dry_run import describe
        from .turn import ToolPlan

        names = self._tool_names_for(args.tools, args.tool_choice)
        plan = ToolPlan(self.toolbox, names=tuple(names), choice=args.tool_choice)
        attachments = self._attachments(args.attach, settings)
        requests = self.session.preview(text, settings, plan, attachments)
        thread = self.session.thread
        earlier = bool(thread and self.session.store.last_turn(thread.id))
        shown = describe(requests, settings, parts, question=question, server_history=earlier)
        print(redact(shown))

    def _place_code(self, answer: str) -> None:
        from .code_blocks import python_code

        code = python_code(answer)
        if code is None:
            print("--code: the answer has no Python code block to put in a cell.")
        elif self.shell is None:
            print(f"The answer's code (not run):\n{code}")
        else:
            self.shell.set_next_input(code, replace=False)
            where = (
                "in a new cell below"
                if type(self.shell).__name__ == "ZMQInteractiveShell"
                else "at the next prompt"
            )
            print(f"The answer's code is {where}, not run.")

    # -- configuration -------------------------------------------------------------------------

    def settings(
        self,
        *,
        model: str | None = None,
        instructions: str | None = None,
        temperature: float | None = None,
        code_interpreter: bool | None = None,
        image_generation: bool | None = None,
        file_search: bool | None = None,
    ) -> Settings:
        from .settings import resolve

        hosted = {
            "code_interpreter": _given(code_interpreter, self.code_interpreter),
            "image_generation": _given(image_generation, self.image_generation),
            "file_search": _given(file_search, self.file_search),
        }
        return resolve(
            model=model if model is not None else self.model,
            instructions=instructions if instructions is not None else self.instructions,
            base_url=self.base_url,
            api=self.api,
            api_key_env=self.api_key_env,
            timeout=self.timeout,
            max_retries=self.max_retries,
            hosted_tools=tuple(name for name, on in hosted.items() if on),
            partial_images=max(0, min(3, self.partial_images)),
            max_image_bytes=self.max_image_bytes,
            max_image_pixels=self.max_image_pixels,
            context_window=self.context_window,
            max_output_tokens=self.max_output_tokens,
            temperature=temperature if temperature is not None else self.temperature,
            assistant_id=self.assistant_id,
            prices=self.prices,
        )

    @property
    def session(self) -> Session:
        if self._session is None:
            from .notebook import notebook_key
            from .session import Session
            from .store import Store

            user_ns = self.shell.user_ns if self.shell is not None else {}
            atexit.register(self._cleanup_at_exit)
            self._session = Session(
                store_path=self.store_path or Store.default_path(),
                notebook=self.notebook or notebook_key(user_ns),
            )
            if self._bound_thread_id:
                self._session.thread = self._session.store.get_thread(self._bound_thread_id)
        return self._session

    @property
    def bound_thread_id(self) -> str | None:
        """The kernel's thread, without opening the store just to ask."""
        if self._session is None:
            return self._bound_thread_id
        return self._session.thread.id if self._session.thread else None

    @bound_thread_id.setter
    def bound_thread_id(self, thread_id: str | None) -> None:
        if self._session is None:
            self._bound_thread_id = thread_id
        elif thread_id is None:
            self._session.thread = None
        else:
            self._session.use_thread(thread_id)

    def close(self) -> None:
        atexit.unregister(self._cleanup_at_exit)
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._local is not None:
            self._local.stop()
            self._local = None

    def _point_at_local(self, args: Any) -> None:
        """Start the local model for `args.local` and aim the configuration `args` at it."""
        server = self._start_local(args.local)
        args.base_url, args.api = server.base_url, "chat"
        args.model = args.model or server.model.stem
        if args.model not in self.prices:
            # It runs on this machine: no API bill (the user may still price it otherwise).
            self.prices = {**self.prices, args.model: [0, 0, 0]}
        if not self.max_output_tokens:
            # Small local models run on until the context is full when left unbounded.
            self.max_output_tokens = LOCAL_MAX_OUTPUT_TOKENS
            print(f"max output tokens: {LOCAL_MAX_OUTPUT_TOKENS} (for the local model)")

    def _start_local(self, path: str) -> LocalServer:
        """The local model server for `path` (or the default model), started once."""
        from .local import LocalServer, check_model, default_model

        model = check_model(Path(os.path.expanduser(path)) if path else default_model())
        if self._local is not None and (self._local.model != model or not self._local.running):
            self._local.stop()
            self._local = None
        if self._local is None:
            self._local = LocalServer(model, context=self.context_window)
        self._local.start(progress=print)
        return self._local

    def _configure(self, args: Any) -> bool:
        updates = {
            name: value
            for name, value in (
                ("model", args.model),
                ("instructions", args.instructions),
                ("base_url", args.base_url),
                ("api", args.api),
                ("assistant_id", args.assistant_id),
                ("code_interpreter", args.code_interpreter),
                ("image_generation", args.image_generation),
                ("file_search", args.file_search),
            )
            if value is not None
        }
        if args.temperature is not None:
            updates["temperature"] = _temperature(args.temperature, allow_default=True)
        if not updates:
            return False
        try:
            old: Settings | None = self.settings()
        except AssistantError:
            old = None  # the configuration is broken now: these updates may be what mends it
        settings = self._apply(updates)
        for name, value in updates.items():
            # Hosted-tool switches live in Settings.hosted_tools, not under their own names.
            shown = value if isinstance(value, bool) else getattr(settings, name)
            if name == "base_url":
                shown = settings.public_base_url
            print(redact(f"{name.replace('_', ' ')}: {_shown(shown)}"))
        place = ("base_url", "api", "assistant_id")
        moved = old is None or any(getattr(settings, name) != getattr(old, name) for name in place)
        if moved and self._session is not None:
            thread = self._session.thread
            if thread is not None and not self._session.fits(thread, settings):
                self._session.thread = None
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

        namespace = self.shell.user_ns if self.shell is not None else {}
        try:
            return DollarFormatter().vformat(line, args=[], kwargs=namespace)
        except Exception:  # as IPython does: what cannot be evaluated stays as typed
            return line

    def _instructions(self, args: Any) -> str | None:
        """--instructions, or what --instructions-from names; long inline text gets a note."""
        if args.instructions_from is not None:
            if args.instructions is not None:
                raise AssistantError("Give --instructions or --instructions-from, not both.")
            namespace = self.shell.user_ns if self.shell is not None else {}
            text = _instructions_from(args.instructions_from, namespace)
        elif args.instructions is not None and len(args.instructions) > LONG_INSTRUCTIONS:
            text = args.instructions
            print(
                f"note: the instructions hold {len(text):,} characters, sent with every ask; "
                "long instructions are easier kept in a variable or a file: "
                "--instructions-from NAME_OR_PATH"
            )
        else:
            text = args.instructions
        if text is not None:
            _check_text(text, "The instructions")
        return text

    def _show_configuration(self) -> None:
        settings = self.settings()
        api = f"{settings.api} ({settings.api_source})"
        url = f"{settings.public_base_url} ({settings.base_url_source})"
        key = f"${settings.api_key_env} = {settings.masked_key}"
        rows = [
            ("model", settings.model),
            ("instructions", one_line(settings.instructions) or "(none)"),
            ("api", api),
            ("base URL", url),
            ("API key", key),
            ("tools", ", ".join(self.toolbox.available()) or "none (%assistant tools add NAME)"),
            ("hosted tools", ", ".join(settings.hosted_tools).replace("_", " ") or "none"),
            ("temperature", _shown(settings.temperature)),
            *self._assistant_row(settings),
            ("store", str(self.session.store_path)),
            ("thread", self.commands.describe_bound_thread()),
        ]
        for name, value in rows:
            print(redact(f"{name:<13} {value}"))

    def _assistant_row(self, settings: Settings) -> list[tuple[str, str]]:
        if settings.api != "assistants":
            return []
        thread = self.session.thread
        if thread is not None and thread.assistant_id:
            made = "made by this package" if thread.assistant_owned else "yours"
            return [("assistant", f"{thread.assistant_id} ({made})")]
        return [
            ("assistant", settings.assistant_id or "made from this configuration at the first ask")
        ]

    @property
    def commands(self) -> Commands:
        from .commands import Commands

        return Commands(self.session, self.settings, self.toolbox, self.prices)

    # -- turns ---------------------------------------------------------------------------------

    def _cleanup_at_exit(self) -> None:
        """At kernel exit, with `cleanup_at_exit`: what `%assistant cleanup` does, quietly."""
        if not self.cleanup_at_exit or self._session is None or self._session.thread is None:
            return
        with contextlib.suppress(Exception):  # the kernel is going away: nobody to tell
            self._session.cleanup(self.settings())

    def _retry(self) -> None:
        turn = self.session.last_turn()
        if turn is None:
            raise AssistantError("Nothing to retry: no ask has been made on this thread.")
        self._run_turn(turn.user_text, self.settings())

    def _attachments(self, names: list[str], settings: Settings) -> list[Attachment]:
        if not names:
            return []
        from .attachments import resolve
        from .images import ImageLimits

        limits = ImageLimits(
            max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels
        )
        namespace = self.shell.user_ns if self.shell is not None else {}
        return resolve(names, namespace, limits)

    def _keyless_and_local(self, settings: Settings) -> bool:
        """Whether OpenAI would refuse this ask for want of a key while a local model can answer."""
        from .local import local_model_installed
        from .settings import is_openai

        return (
            self.local_when_keyless
            and not settings.api_key
            and is_openai(settings.base_url)
            and local_model_installed()
        )

    def _run_turn(
        self,
        text: str,
        settings: Settings,
        tool_names: list[str] | None = None,
        attachments: Sequence[Attachment] = (),
        tool_choice: str = "auto",
    ) -> TurnOutcome | None:
        """The turn's outcome, or None when a spent budget kept it from being sent."""
        from .turn import ToolPlan
        from .view import make_view

        toolbox = self.toolbox
        names = self._tool_names_for(tool_names, tool_choice)
        budget = self.session.budget(
            ask_tokens=self.max_ask_tokens,
            thread_tokens=self.max_thread_tokens,
            ask_tool_calls=self.max_ask_tool_calls,
            thread_tool_calls=self.max_thread_tool_calls,
        )
        if budget.tokens == 0:
            # Not an exception: a spent budget must not stop "Run all" at this cell.
            print(
                f"Not sent: the token budget {budget.tokens_limit} is spent. Start a new thread "
                "(%assistant thread new) or raise the limit with %config AssistantMagics."
                f"{budget.tokens_limit.rsplit('(', 1)[-1].rstrip(')')}."
            )
            return None
        plan = ToolPlan(
            toolbox,
            names=tuple(names),
            max_rounds=self.max_tool_rounds,
            choice=tool_choice,
            budget=budget,
        )
        view = make_view(self.view, self.shell, refresh_interval=self.refresh_interval)
        return self.session.ask(text, settings, view, plan, attachments)

    def _tool_names_for(self, tool_names: Any, tool_choice: str) -> list[str]:
        """The tools an ask offers (`--tools` NAMES or a list, None: all available), checked
        against `--tool-choice`."""
        if isinstance(tool_names, str) or tool_names is None:
            tool_names = _tool_names(tool_names)
        names = self.toolbox.available() if tool_names is None else list(tool_names)
        if tool_choice not in ("auto", "required", "none", *names):
            offered = ", ".join(names) or "none"
            raise AssistantError(
                f"--tool-choice {tool_choice}: not a tool of this ask (tools: {offered}); use "
                "auto, required, none or one of them."
            )
        if tool_choice == "required" and not names:
            raise AssistantError("--tool-choice required, but this ask offers no tools.")
        return names

    # -- tools ---------------------------------------------------------------------------------

    @property
    def toolbox(self) -> ToolBox:
        if self._toolbox is None:
            from .toolbox import ToolBox, approve_with_input

            namespace = self.shell.user_ns if self.shell is not None else {}
            self._toolbox = ToolBox(namespace=namespace, approve=approve_with_input)
        self._toolbox.stdout = "capture" if self.tool_stdout == "capture" else "show"
        self._toolbox.result_limit = self.tool_result_limit
        return self._toolbox


def _parse(magic: Any, line: str) -> Any:
    """Parse a magic's arguments the way a shell would: quotes group words and are removed.

    (IPython's own ``parse_argstring`` keeps the quotes, so ``--instructions "Be brief."``
    would send the quote marks to the model.)
    """
    try:
        words = split_words(line)
    except ValueError as exc:
        raise UsageError(f"Cannot read the arguments ({exc}): check the quotes.") from None
    _reject_secrets(words)
    return magic.parser.parse_args(words)


def _at_least(proposal: Bunch, floor: int, *, inclusive: bool) -> Any:
    value = proposal.value
    if value < floor or (value == floor and not inclusive):
        wanted = f"{'at least' if inclusive else 'more than'} {floor}"
        raise TraitError(_setting_error(proposal, wanted))
    return value


def _setting_error(proposal: Bunch, wanted: str) -> str:
    name = proposal.trait.name
    return (
        f"AssistantMagics.{name} must be {wanted}, not {proposal.value!r}: e.g. "
        f"%config AssistantMagics.{name} = {proposal.trait.default_value!r}"
    )


def _check_output_name(name: str) -> None:
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


def _check_text(text: str, what: str) -> None:
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


def _reject_secrets(words: list[str]) -> None:
    """Refuse a key typed into a magic: the notebook would save it for anyone to read."""
    for word in words:
        if word.split("=", 1)[0] in SECRET_FLAGS or word.startswith(("sk-", "sk_")):
            raise ConfigurationError(
                "API keys are never taken as magic arguments (the notebook would keep them): "
                "set $OPENAI_API_KEY in the kernel's environment instead."
            )


def _given(flag: bool | None, configured: bool) -> bool:
    return configured if flag is None else flag


def _tool_names(option: str | None) -> list[str] | None:
    """--tools as a list of names: None means the default set, [] means no tools."""
    if option is None:
        return None
    names = [name.strip() for name in option.split(",") if name.strip()]
    return [] if names == ["none"] else names


CODE_REQUEST = (
    "The user will get the Python code of your answer as a new notebook cell, to read and run "
    "themselves: put it in one ```python block."
)


def _with_code_request(instructions: str) -> str:
    return f"{instructions}\n\n{CODE_REQUEST}" if instructions else CODE_REQUEST


def _temperature(text: str | None, *, allow_default: bool = False) -> float | None:
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


def _shown(value: object) -> str:
    """A setting as `%assistant` confirms it."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None or value == "":
        return "(default)" if value is None else "(none)"
    return str(value)
