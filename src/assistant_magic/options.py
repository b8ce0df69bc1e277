"""Every setting a user can change, declared once: name, type, default, help and the check.

`Options` is what an `Assistant` runs with. The magics' traitlets (`%config AssistantMagics.x`,
``ipython_config.py``) are made from these fields by `traits`, so a setting is written here and
nowhere else; `settings.resolve` then adds what comes from the environment (the key, the base URL
and the dialect chosen for the server).
"""

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import ConfigurationError

#: The dialects: the wire APIs the package speaks.
DIALECTS = ("responses", "chat", "assistants")
Dialect = Literal["auto", "responses", "chat", "assistants"]

#: A check of a value: "" when it is fine, else what the value must be ("more than 0").
Check = Callable[[Any], str]


def option(default: Any, help: str, check: Check | None = None) -> Any:
    """A field of `Options`: its default, its help (shown by `%config` and `%assistant?`)
    and the check a new value must pass."""
    metadata = {"help": help, "check": check}
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def more_than(floor: float) -> Check:
    return lambda value: "" if value > floor else f"more than {floor:g}"


def at_least(floor: float) -> Check:
    return lambda value: "" if value >= floor else f"at least {floor:g}"


def between(low: float, high: float) -> Check:
    return lambda value: "" if value is None or low <= value <= high else f"from {low} to {high}"


def named(value: str) -> str:
    return "" if value.strip() else "a name"


def url_or_empty(value: str) -> str:
    """An http(s) URL, or "" for $OPENAI_BASE_URL (else OpenAI's own)."""
    if not value.strip():
        return ""
    from .settings import normalise_base_url

    try:
        normalise_base_url(value)
    except ConfigurationError:
        return "an http(s) URL such as http://localhost:8000/v1, or empty"
    return ""


def mcp_servers_shape(value: dict[str, Any]) -> str:
    """The `mcpServers` shape: each name maps to a command (args, env) or a url (headers)."""
    from .mcp_servers.config import from_setting

    try:
        from_setting(value)
    except ConfigurationError as exc:
        return f"servers in the mcpServers shape ({exc})"
    return ""


@dataclass(frozen=True)
class Options:
    """What an assistant runs with. Every field is also `%config AssistantMagics.<name>`."""

    # -- the model and the server
    model: str = option("gpt-5.4-mini", "Model that answers each %%ask.", named)
    instructions: str = option("", "System instructions sent with every ask.")
    base_url: str = option(
        "", "API base URL; empty means $OPENAI_BASE_URL, else OpenAI's own.", url_or_empty
    )
    dialect: Dialect = option(
        "auto",
        "Wire dialect: responses, chat (Chat Completions) or assistants (the legacy Assistants "
        "API); auto picks responses on OpenAI's endpoint and chat elsewhere.",
    )
    api_key_env: str = option(
        "OPENAI_API_KEY", "Environment variable that holds the API key.", named
    )
    timeout: float = option(600.0, "Seconds to wait for the server.", more_than(0))
    max_retries: int = option(2, "Retries on 429/5xx, honouring Retry-After.", at_least(0))
    assistant_id: str = option(
        "",
        "Assistants API: an existing assistant to run with (empty: the first ask makes one from "
        "this configuration, and cleanup deletes it).",
    )
    temperature: float | None = option(
        None,
        "Sampling temperature, 0 to 2 (None: the model's default); 0 picks the likeliest "
        "words, so a model answers the same question the same way.",
        between(0, 2),
    )
    context_window: int = option(
        16_384,
        "Tokens the model reads (chat dialect): older turns are left out of a request beyond "
        "it, never out of the thread.",
        at_least(0),
    )
    max_output_tokens: int = option(
        0, "Longest answer in tokens (0: the server's own limit).", at_least(0)
    )
    local_when_keyless: bool = option(
        True,
        "With no API key for OpenAI, answer with the local model (%assistant --local) when "
        '"assistant-magic[local]" is installed.',
    )
    # -- tools
    max_tool_rounds: int = option(
        10,
        "Rounds of tool calls in one ask; then the model must answer without tools.",
        more_than(0),
    )
    tool_stdout: Literal["show", "capture"] = option(
        "show", "What a tool prints: shown in the cell, or captured and sent to the model."
    )
    tool_result_limit: int = option(
        20_000,
        "Characters of a tool's result sent to the model; longer is truncated.",
        more_than(0),
    )
    mcp_servers: dict[str, Any] = option(
        {},
        "MCP servers whose tools asks offer, in the mcpServers shape: "
        '{"time": {"command": "python", "args": ["-m", "mcp_server_time"]}, '
        '"docs": {"url": "https://host/mcp", "headers": {"Authorization": "Bearer $TOKEN"}}} '
        "($VARs are read from the environment when the server starts).",
        mcp_servers_shape,
    )
    mcp_timeout: float = option(
        30.0,
        "Seconds an MCP server has to start, list its tools or answer a call; then the call "
        "fails and the server is started again at the next ask.",
        more_than(0),
    )
    code_interpreter: bool = option(
        False, "Let the model run Python in the server's sandbox (its charts are shown)."
    )
    image_generation: bool = option(False, "Let the model generate images.")
    file_search: bool = option(False, "Let the model search the files attached on the thread.")
    # -- budgets
    max_ask_tokens: int = option(
        0,
        "Tokens (input + output) one ask may use before the model must answer without tools "
        "(0: no limit).",
        at_least(0),
    )
    max_thread_tokens: int = option(
        0,
        "Tokens a thread may use in all; a spent thread takes no more asks (0: no limit).",
        at_least(0),
    )
    max_ask_tool_calls: int = option(
        0, "Tool calls one ask may make; calls beyond it are not run (0: no limit).", at_least(0)
    )
    max_thread_tool_calls: int = option(
        0, "Tool calls a thread may make in all (0: no limit).", at_least(0)
    )
    max_job_tokens: int = option(
        0,
        "Tokens a job over rows (%%ask --each) may use in all: it stops before the request "
        "that would cross it (0: no limit).",
        at_least(0),
    )
    max_job_cost: float = option(
        0.0,
        "US dollars a job over rows may spend in all: it stops before the request that "
        "would cross it (0: no limit; needs the model's price).",
        at_least(0),
    )
    row_concurrency: int = option(
        8,
        "Requests a job over rows keeps in flight at most (it slows down on 429s).",
        between(1, 256),
    )
    prices: dict[str, Any] = option(
        {},
        'Prices per 1M tokens over the shipped table, e.g. {"my-model": [0.5, 0.05, 1.5]} '
        "(input, cached input, output; US dollars).",
    )
    # -- images
    partial_images: int = option(
        2, "Previews shown while an image is generated (0 to 3).", between(0, 3)
    )
    max_image_bytes: int = option(
        25 * 1024 * 1024, "Largest image file accepted from the server.", more_than(0)
    )
    max_image_pixels: int = option(
        50_000_000, "Largest image (width × height) accepted from the server.", more_than(0)
    )
    # -- where things are kept and shown
    store_path: str = option(
        "",
        "SQLite file that records threads; empty means $ASSISTANT_MAGIC_STORE, else the "
        "platform's user data directory.",
    )
    notebook: str = option(
        "", "Name that groups this notebook's threads for `thread resume`; empty: detect."
    )
    view: Literal["auto", "widget", "text"] = option(
        "auto", "How a turn is shown: a live widget in Jupyter, plain text elsewhere."
    )
    refresh_interval: float = option(
        0.05, "Seconds between Markdown re-renders while the answer streams.", more_than(0)
    )
    replay: Literal["off", "on", "only"] = option(
        "off",
        "Answer an ask made before from its recording: on (else it goes live and is "
        "recorded), only (never the network: an ask without a recording is an error), off "
        "($ASSISTANT_MAGIC_REPLAY when this is off).",
    )
    replay_file: str = option(
        "",
        "A recordings file (%assistant replay export) to replay from besides the store "
        "($ASSISTANT_MAGIC_REPLAY_FILE when empty).",
    )
    cleanup_at_exit: bool = option(
        False,
        "At kernel exit, delete the bound thread's server-side state as %assistant cleanup does.",
    )

    def __post_init__(self) -> None:
        for name, problem in problems(self).items():
            raise OptionError(name, getattr(self, name), problem)

    @property
    def hosted_tools(self) -> tuple[str, ...]:
        """The server's own tools switched on, by their Responses API names."""
        switches = ("code_interpreter", "image_generation", "file_search")
        return tuple(name for name in switches if getattr(self, name))


class OptionError(ConfigurationError):
    """A value an option does not take; the message names the setting and shows a good one."""

    def __init__(self, name: str, value: object, wanted: str) -> None:
        default = DEFAULTS[name]
        super().__init__(
            f"AssistantMagics.{name} must be {wanted} (not {value!r}): e.g. "
            f"%config AssistantMagics.{name} = {default!r}"
        )
        self.name = name


def problems(options: Options) -> dict[str, str]:
    """What is wrong with each option that fails its check."""
    found = {}
    for spec in FIELDS:
        check = spec.metadata.get("check")
        problem = check(getattr(options, spec.name)) if check else ""
        if problem:
            found[spec.name] = problem
    return found


def check(name: str, value: object) -> str:
    """What `value` must be for the option `name` ("" when it is fine)."""
    spec = FIELDS_BY_NAME[name]
    checker = spec.metadata.get("check")
    return checker(value) if checker else ""


FIELDS = dataclasses.fields(Options)
FIELDS_BY_NAME = {spec.name: spec for spec in FIELDS}
DEFAULTS: Mapping[str, Any] = {
    spec.name: spec.default_factory() if callable(spec.default_factory) else spec.default
    for spec in FIELDS
}


# -- traitlets ---------------------------------------------------------------------------------


def traits() -> dict[str, Any]:
    """One configurable traitlet per option, for the magics' class."""
    # The annotations are types already (this module does not postpone them): reading them
    # costs nothing, where `get_type_hints` compiles each one at every `%load_ext`.
    hints = Options.__annotations__
    return {spec.name: _trait(spec, hints[spec.name]) for spec in FIELDS}


def _trait(spec: dataclasses.Field[Any], hint: Any) -> Any:
    import traitlets

    help_text = spec.metadata["help"]
    default = DEFAULTS[spec.name]
    optional = type(None) in typing.get_args(hint) and typing.get_origin(hint) in (
        typing.Union,
        types.UnionType,
    )
    if optional:
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is Literal:
        trait: Any = traitlets.Enum(typing.get_args(hint), default_value=default, help=help_text)
    else:
        kinds = {
            str: traitlets.Unicode,
            bool: traitlets.Bool,
            int: traitlets.Integer,
            float: traitlets.Float,
            dict: traitlets.Dict,
        }
        kind = kinds[typing.get_origin(hint) or hint]
        trait = kind(default_value=default, allow_none=optional, help=help_text)
    return trait.tag(config=True)
