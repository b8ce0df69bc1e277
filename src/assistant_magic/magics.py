"""`%assistant` and `%%ask`: a grammar over an `Assistant`.

Each magic parses its line into typed arguments (`lines.ConfigLine`, `lines.AskLine`), calls the
`Assistant` the kernel holds, and shows what came back. The configuration is `options.Options`
as traitlets, so ``%config AssistantMagics.model = "..."`` and ``ipython_config.py`` work as for
any IPython configurable; every setting flows from there to each ask the same way. This module
imports nothing heavy: the assistant, store, SDK and widgets load at the first command that needs
them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from traitlets import Bunch, Enum, TraitError, observe, validate
from traitlets.config import Configurable

from . import options as option_specs
from .errors import AnswerInvalid, AssistantError, ConfigurationError
from .flags import (
    FILE_COMMANDS,
    MCP_COMMANDS,
    OTHER_COMMANDS,
    THREAD_COMMANDS,
    TOOL_COMMANDS,
    ask_flags,
    config_flags,
)
from .options import DIALECTS, Options
from .redaction import redact

if TYPE_CHECKING:
    from .answer import Answer
    from .assistant import Assistant
    from .commands import Commands
    from .lines import AskLine, ConfigLine
    from .local import LocalModels
    from .settings import Settings

#: Options whose values have a check (see `options.option`).
CHECKED = tuple(spec.name for spec in fields(Options) if spec.metadata.get("check"))
#: The options as configurable traitlets, declared once in `options.Options`.
OptionTraits = type(
    "OptionTraits",
    (Configurable,),
    {"__doc__": "The options of `options.Options` as traitlets.", **option_specs.traits()},
)


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

    # IPython types a named magic as "function or decorator"; mypy cannot pick.
    @line_magic("assistant")  # type: ignore[arg-type]
    @no_var_expand  # expanded in `_expanded`, which stays fast for long lines
    @config_flags
    def configure(self, line: str) -> None:
        """Configure the assistant and manage the thread bound to this kernel.

        The API key is read from $OPENAI_API_KEY (or the variable named by
        AssistantMagics.api_key_env), never from an argument.

        Examples::

            %assistant --model gpt-5.4-mini --instructions "You act as Frieza."
            %assistant thread list
            %assistant tools add calc_strength --confirm
            %assistant mcp add time -- python -m mcp_server_time
        """
        from .lines import ConfigLine, expanded, parse

        # An MCP server's $VARs are read from the environment when it starts, never here.
        text = line if line.lstrip().startswith("mcp") else expanded(line, self._namespace())
        config = ConfigLine.of(parse(self.configure, text), self._namespace())
        updates = dict(config.updates)
        if config.local is not None:
            updates = {**self._local_options(config.local, updates.get("model")), **updates}
        changed = self._configure(updates)
        if not config.command:
            if not changed:
                self.commands.show_configuration()
            return
        verb, rest = config.command[0], list(config.command[1:])
        if config.confirm and verb not in ("tools", "mcp"):
            raise AssistantError("--confirm goes with tools add or mcp add: see %assistant?")
        self._dispatch(verb, rest, config)

    def _dispatch(self, verb: str, rest: list[str], config: ConfigLine) -> None:
        commands = self.commands
        if verb == "thread":
            commands.thread(rest)
        elif verb == "tools":
            commands.tools(rest, confirm=config.confirm)
        elif verb == "mcp":
            commands.mcp(rest, self._apply, config)
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
        elif verb == "jobs" and not rest:
            commands.jobs()
        elif verb == "replay":
            from .replay.commands import run

            run(rest, self.assistant, self._configure)
        else:
            raise AssistantError(
                f"Unknown command {' '.join((verb, *rest))!r}: use {THREAD_COMMANDS}, "
                f"{TOOL_COMMANDS}, {MCP_COMMANDS}, {FILE_COMMANDS}, {OTHER_COMMANDS}."
            )

    # -- %%ask ---------------------------------------------------------------------------------

    @cell_magic("ask")  # type: ignore[arg-type]
    @no_var_expand
    @ask_flags
    def ask(self, line: str, cell: str) -> None:
        """Send the cell as a user message on the kernel's thread and stream the answer."""
        from .lines import AskLine, check_text, parse, with_code_request

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
        if args.each is not None:
            self._ask_each(text, args, changes)
            return
        if args.dry_run:
            from .dry_run import ask_preview

            print(redact(ask_preview(self.assistant, text, question, args, changes, parts)))
            return
        changes.update(self._keyless_fallback(changes))
        typed = {"schema": args.schema, "retries": args.retries} if args.schema else {}
        if args.fresh:
            typed["fresh"] = True
        try:
            answer = self._ask(text, args.tools, args.tool_choice, args.attach, changes, **typed)
        except AnswerInvalid as invalid:
            if not args.output:
                raise
            # Nothing is lost: the raw answer goes where the value would have.
            self._namespace()[args.output] = invalid.answer
            kept = f"{args.output}.raw"
            raise type(invalid)(invalid.failure, invalid.outcome, kept_in=kept) from None
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
            self._namespace()[args.output] = answer.value if args.schema else answer

    def _ask(
        self,
        text: str,
        tools: list[str] | None,
        tool_choice: str,
        attach: tuple[str, ...] | list[str],
        changes: dict[str, Any],
        **typed: Any,
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
                **typed,
                **changes,
            )
        except BudgetSpent as spent:
            print(spent)  # not an exception: a spent budget must not stop "Run all" here
            return None

    def _ask_each(self, text: str, args: AskLine, changes: dict[str, Any]) -> None:
        """`--each NAME`: the question asked of every row of NAME, as one job."""
        from .rows.cell import run_each

        if not args.dry_run:
            changes.update(self._keyless_fallback(changes))
        run_each(self.assistant, self.shell, text, args, changes, view=self.view)

    def _retry(self) -> None:
        last = self.assistant.threads.last_ask()
        if last is None:
            raise AssistantError("Nothing to retry: no ask has been made on this thread.")
        self._ask(last.user_text, None, "auto", (), self._keyless_fallback({}))

    # -- the assistant -------------------------------------------------------------------------

    def options(self) -> Options:
        """The configuration as it is now."""
        return Options(**{spec.name: getattr(self, spec.name) for spec in fields(Options)})

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
        from .lines import shown

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

    # -- a model on this machine ---------------------------------------------------------------

    def _local_options(self, path: str, model: str | None) -> dict[str, Any]:
        """What `--local [PATH]` sets: the local server's URL, the chat dialect, its model."""
        from .local import local_options, replayed_local_options

        if self.settings().replay == "only":
            changes = replayed_local_options(path, self.options(), model, progress=print)
        else:
            server = self.local_models.start(path, self.context_window, progress=print)
            changes = local_options(server, self.options(), model)
        if "max_output_tokens" in changes:
            print(f"max output tokens: {changes['max_output_tokens']} (for the local model)")
        return changes

    def _keyless_fallback(self, changes: dict[str, Any]) -> dict[str, Any]:
        """With no key for OpenAI and the local model installed, this ask goes to the local
        model (the configuration itself is left as it is)."""
        from .local import keyless_changes

        if not self.local_when_keyless or os.environ.get(self.api_key_env, "").strip():
            return {}  # the common case, told without resolving the settings
        local = keyless_changes(self.settings(**changes), self.local_models, self.context_window)
        if "prices" in local:
            # The one lasting change: what runs here costs nothing, in `%assistant usage` too.
            self.set_trait("prices", local.pop("prices"))
        return local
