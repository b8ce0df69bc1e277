"""`Assistant`: the Python API under the magics. Ask from a script or a test, no IPython needed.

    from assistant_magic import Assistant

    assistant = Assistant(model="gpt-5.4-mini", instructions="You act as Frieza.")
    answer = assistant.ask("Please tell me the battle strength of Mamezou", tools=[calc_strength])
    print(answer, answer.outcome.usage)

One object owns the options, the thread store and the bound thread, the tools it may offer and
one dialect per server. Each `ask` resolves the options with the environment (the key, the base
URL, the dialect), runs one ask on the bound thread and returns its `Answer`; what happens while
it runs goes to the `view` it is given. The magics are a grammar over this object.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .answer import Answer
from .ask import Ask, AskView, Unseen
from .attachments import inline_text_files
from .budgets import budget_for
from .dialects.interface import server_files
from .errors import AnswerInvalid, AssistantError
from .options import Options
from .rounds import ToolPlan
from .rows.api import AsksOverRows
from .settings import resolve
from .staging import Question, Unsent, first_request
from .threads import Threads

if TYPE_CHECKING:
    from .answer_types import AnswerType
    from .attachments import Attachment
    from .dialects.interface import Dialect, ResponseRequest
    from .replay.dialect import Replayer
    from .settings import Settings
    from .tools import ToolBox

#: What the tools of an ask may be given as: names in the namespace, or the functions.
ToolSpec = str | Callable[..., Any]
DialectMaker = Callable[["Settings"], "Dialect"]
#: What a typed ask's answer must be: a type, or (as `%%ask --schema` takes it) an expression
#: naming one in the namespace.
SchemaSpec = Any
T = TypeVar("T")


class BudgetSpent(AssistantError):
    """The thread's token budget is used up: nothing was sent."""


class Assistant(AsksOverRows):
    """An assistant bound to one thread. Options are the fields of `Options`, given as
    keywords; `store` is the thread store's file (default: $ASSISTANT_MAGIC_STORE, else the
    user's data directory); tools named by a string are looked up in `namespace`."""

    def __init__(
        self,
        options: Options | None = None,
        *,
        store: str | Path | None = None,
        notebook: str = "python",
        namespace: Mapping[str, Any] | None = None,
        approve: Callable[[Any, str], bool | None] | None = None,
        environ: Mapping[str, str] | None = None,
        dialect_maker: DialectMaker | None = None,
        **changes: Any,
    ) -> None:
        from .mcp_servers.servers import McpServers
        from .store import Store
        from .tools import ToolBox

        self.options = replace(options or Options(), **changes)
        self.environ = environ
        self._make_dialect = dialect_maker
        self._dialects: dict[tuple[object, ...], Dialect] = {}
        path = store or self.options.store_path or Store.default_path()
        self.threads = Threads(path, notebook, self.dialect)
        #: The MCP servers whose tools asks offer, started at the first ask that needs one.
        self.mcp = McpServers(environ)
        self.toolbox: ToolBox = ToolBox(
            namespace={} if namespace is None else namespace,
            approve=approve or _deny,
            servers=self.mcp,
        )
        #: The asks made through this object, for `%assistant usage`.
        self.ask_ids: list[int] = []
        self._replayer: Replayer | None = None

    # -- configuration -------------------------------------------------------------------------

    def settings(self, **changes: Any) -> Settings:
        """The options (with `changes`) as an ask would run with them now."""
        return resolve(replace(self.options, **changes) if changes else self.options, self.environ)

    def dialect(self, settings: Settings) -> Dialect:
        """The dialect for the settings' server, made once per server; a missing key fails
        here, before anything is sent (but where only recordings answer)."""
        if settings.replay != "only":
            settings.require_key()
        key = (
            settings.dialect,
            settings.base_url,
            settings.api_key,
            settings.timeout,
            settings.max_retries,
            settings.replay,
            settings.replay_file,
        )
        if key not in self._dialects:
            from .dialects import create_dialect

            make = self._make_dialect or create_dialect
            if settings.replay == "off":
                self._dialects[key] = make(settings)
            else:
                self._dialects[key] = self._replaying(make, settings)
        dialect = self._dialects[key]
        dialect.settings = settings  # the key names the server; the rest may change per ask
        return dialect

    @property
    def replayer(self) -> Replayer | None:
        """Replay's state, once an ask ran with replay on."""
        return self._replayer

    def _replaying(self, make: DialectMaker, settings: Settings) -> Dialect:
        """The dialect wrapped in replay (see `replay`), sharing one `Replayer` per mode."""
        from .replay.dialect import ReplayDialect, ReplayThreadsDialect

        replayer = self._replayer_for(settings)
        assert replayer is not None, "only asks with replay on or only are replayed"
        probe = make(settings)
        wrapper = ReplayThreadsDialect if hasattr(probe, "create_thread") else ReplayDialect
        return wrapper(  # type: ignore[return-value]
            lambda: probe, probe.name, replayer, self.threads.replace_remote, settings
        )

    def _replayer_for(self, settings: Settings) -> Replayer | None:
        """Replay's state for `settings`' mode (None when replay is off), made at first use."""
        from .replay.dialect import Replayer
        from .replay.recordings import load

        if settings.replay == "off":
            return None
        if self._replayer is None or self._replayer.mode != settings.replay:
            file = load(settings.replay_file) if settings.replay_file else None
            if self._replayer is not None:
                self._replayer.close()
            self._replayer = Replayer(settings.replay, self.threads.store.path, file)
        return self._replayer

    # -- asking --------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        *,
        view: AskView | None = None,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: str = "auto",
        attachments: Sequence[str | Attachment] = (),
        schema: SchemaSpec = None,
        retries: int = 1,
        fresh: bool = False,
        **changes: Any,
    ) -> Answer:
        """Ask on the bound thread (a new one at first); the answer, with its images and how
        the ask went (`Answer.outcome`). Raises `AssistantError` with one line on failure,
        `AskInterrupted` when interrupted (the partial answer is kept on the thread).

        With `schema` (a type), the answer is JSON of that type and `Answer.value` the object
        validated from it; an answer that does not validate is sent back `retries` times with
        what was wrong, then `AnswerInvalid` is raised, its `answer` holding the raw text."""
        settings = self.settings(**changes)
        budget = budget_for(settings, self.threads.store, self.threads.thread)
        if budget.spent:
            raise BudgetSpent(budget.spent_message())
        prepared = self._question(question, settings, tools, tool_choice, attachments)
        prepared = replace(
            prepared,
            plan=replace(prepared.plan, budget=budget),
            answer=self.answer_type(schema),
            repairs=_checked_retries(retries),
        )
        if fresh and self._replayer is not None:
            self._replayer.live_next = True  # asked live once, even if it was recorded
        run = Ask(prepared, self.threads, view or Unseen())
        try:
            outcome = run.run()
        except AnswerInvalid as invalid:
            invalid.answer = Answer(
                invalid.outcome.text, invalid.outcome.images, outcome=invalid.outcome
            )
            raise
        finally:
            if run.record_id is not None:
                self.ask_ids.append(run.record_id)
        return Answer(outcome.text, outcome.images, outcome=outcome, value=outcome.value)

    def ask_typed(self, question: str, schema: type[T], **options: Any) -> T:
        """Ask for a value of type `schema` (a pydantic model, a dataclass, a TypedDict, an
        Enum, `list[Record]`...) and return it, validated; `ask`'s other arguments apply."""
        return self.ask(question, schema=schema, **options).value

    def preview(self, question: str, **options: Any) -> list[tuple[str, dict[str, Any]]]:
        """The requests an ask would send first, as ("POST /path", JSON body): nothing is sent,
        made or recorded (`%%ask --dry-run`). Takes `ask`'s arguments."""
        return self.preview_with_key(question, **options)[0]

    def preview_with_key(
        self, question: str, **options: Any
    ) -> tuple[list[tuple[str, dict[str, Any]]], tuple[str, bool] | None]:
        """`preview`, and with replay on, the key the ask's first response is recorded under
        and whether a recording has it (`%%ask --dry-run` shows them)."""
        dialect, request = self._unsent(question, **options)
        requests = dialect.preview(request)
        if self._replayer is None or not hasattr(dialect, "replay_key"):
            return requests, None
        key = dialect.replay_key(request)
        return requests, (key, self._replayer.find(key) is not None)

    def _unsent(
        self,
        question: str,
        *,
        tools: Sequence[ToolSpec] | None = None,
        tool_choice: str = "auto",
        attachments: Sequence[str | Attachment] = (),
        schema: SchemaSpec = None,
        **changes: Any,
    ) -> tuple[Dialect, ResponseRequest]:
        settings = self.settings(**changes)
        prepared = self._question(question, settings, tools, tool_choice, attachments)
        prepared = replace(prepared, answer=self.answer_type(schema))
        request = first_request(prepared, self.threads.thread, Unsent(self.threads))
        return prepared.dialect, request

    def _question(
        self,
        text: str,
        settings: Settings,
        tools: Sequence[ToolSpec] | None,
        tool_choice: str,
        attachments: Sequence[str | Attachment],
    ) -> Question:
        dialect = self.dialect(settings)
        # How tools run follows this ask's options too.
        self.toolbox.stdout = settings.tool_stdout
        self.toolbox.result_limit = settings.tool_result_limit
        self.mcp.configure(settings.mcp_servers, settings.mcp_timeout)
        self.mcp.begin_ask()
        names = self.tool_names(tools, tool_choice)
        hosted, local = self._hosted_mcp(names, dialect.name)
        offered, notices = self.toolbox.resolve(local)  # a broken tool fails here, unsent
        attached = self._attachments(attachments, settings)
        if server_files(dialect) is None:  # the files go into the message: the thread keeps them
            text, attached = inline_text_files(text, attached)
        plan = ToolPlan(
            self.toolbox,
            names=tuple(names),
            max_rounds=settings.max_tool_rounds,
            choice=tool_choice,
        )
        return Question(
            text=text,
            settings=settings,
            dialect=dialect,
            plan=plan,
            tools=tuple(offered),
            attachments=tuple(attached),
            notices=tuple(notices),
            hosted_mcp=hosted,
        )

    def _hosted_mcp(self, names: list[str], dialect: str) -> tuple[tuple[Any, ...], list[str]]:
        """The MCP servers OpenAI calls (on the Responses API), and the tools left to offer."""
        if dialect != "responses" or not self.mcp.configs:
            return (), names  # only the Responses API hosts MCP: elsewhere the kernel calls them
        from .mcp_servers.hosted import split_hosted

        return split_hosted(self.mcp, names)

    def answer_type(self, schema: SchemaSpec) -> AnswerType | None:
        """The type a typed ask's answer must have: given, or named by an expression."""
        from .answer_types import AnswerType, answer_type, resolve

        if schema is None or isinstance(schema, AnswerType):
            return schema
        if isinstance(schema, str):
            return resolve(schema, self.toolbox.namespace)
        return answer_type(schema)

    def tool_names(self, tools: Sequence[ToolSpec] | None, tool_choice: str = "auto") -> list[str]:
        """The tools an ask offers (None: those registered and those marked with `@tool`, and
        every MCP server's), checked against `tool_choice`; functions given are added to the
        namespace."""
        if tools is None:
            names = [*self.toolbox.available(), *self.mcp.configs]
        else:
            names = [self._tool_name(tool) for tool in tools]
        forced_server = self.mcp.owner(tool_choice)
        if tool_choice not in ("auto", "required", "none", *names) and forced_server not in names:
            offered = ", ".join(names) or "none"
            raise AssistantError(
                f"--tool-choice {tool_choice}: not a tool of this ask (tools: {offered}); use "
                "auto, required, none or one of them."
            )
        if tool_choice == "required" and not names:
            raise AssistantError("--tool-choice required, but this ask offers no tools.")
        return names

    def _tool_name(self, tool: ToolSpec) -> str:
        if isinstance(tool, str):
            return tool
        name = getattr(tool, "__name__", "")
        if not name.isidentifier():
            raise AssistantError(f"{tool!r} has no name to offer it by: define it with def.")
        self.toolbox.namespace[name] = tool  # type: ignore[index]
        return name

    def _attachments(
        self, attachments: Sequence[str | Attachment], settings: Settings
    ) -> list[Attachment]:
        from .attachments import resolve as resolve_attachments
        from .images import ImageLimits

        names = [a for a in attachments if isinstance(a, str)]
        ready = [a for a in attachments if not isinstance(a, str)]
        if not names:
            return ready
        limits = ImageLimits(settings.max_image_bytes, settings.max_image_pixels)
        return [*resolve_attachments(names, self.toolbox.namespace, limits), *ready]

    def close(self) -> None:
        self.mcp.close()
        for dialect in self._dialects.values():
            dialect.close()
        self._dialects.clear()
        if self._replayer is not None:
            self._replayer.close()
            self._replayer = None
        self.threads.close()


def _deny(tool: object, display: str) -> bool | None:
    return False


def _checked_retries(retries: int) -> int:
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 5:
        raise AssistantError(
            f"retries {retries!r}: give how many times an invalid answer is sent back, 0 to 5."
        )
    return retries
