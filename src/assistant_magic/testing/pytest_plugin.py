"""pytest plugin: the ``openai_server`` fixture, for testing notebooks and code offline.

Installed with the package (entry point ``pytest11``), so any test can ask for it::

    from assistant_magic.testing import Text

    def test_my_notebook_code(openai_server):
        openai_server.script(Text("Paris."))
        client = openai.OpenAI()          # picks up OPENAI_BASE_URL / OPENAI_API_KEY
        answer = client.responses.create(model="gpt-5.4-mini", input="Capital of France?")
        assert answer.output_text == "Paris."

The fixture starts a :class:`~assistant_magic.testing.ScriptedServer` on loopback, points
``OPENAI_BASE_URL`` and ``OPENAI_API_KEY`` at it for the test, and stops it afterwards. With
OpenAI's OpenAPI document available (``--openai-spec PATH``, the ini option ``openai_spec``, or the
``ASSISTANT_MAGIC_OPENAPI`` environment variable) all traffic is validated, and the test fails if
anything sent or received broke the spec.

The plugin is registered by the base install, so it is loaded by every pytest run in that
environment and imports nothing the base install lacks. Validation needs the ``[test]`` extra
(``pip install "assistant-magic[test]"``): with a spec chosen but without the extra, the fixture
still works, unchecked, and the end of the run says so in one line. It says it there, not as a
warning in each test, so that a project running with ``-W error`` keeps a working fixture.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import ScriptedServer

_KEY = "sk-test-scripted-server"
# The spec the fixture was asked to validate against but could not, for the end-of-run note.
_UNVALIDATED_SPEC = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = "OpenAI's openapi.json, to validate traffic of the openai_server fixture"
    parser.addoption("--openai-spec", action="store", default=None, metavar="PATH", help=help_text)
    parser.addini("openai_spec", help_text, default=None)


def spec_path(config: pytest.Config) -> Path | None:
    """The spec chosen by option, then ini (relative to the rootdir), then environment."""
    option = config.getoption("--openai-spec", default=None)
    if option:
        return Path(option)
    ini = config.getini("openai_spec")
    if ini:
        return config.rootpath / str(ini)
    from_env = os.environ.get("ASSISTANT_MAGIC_OPENAPI")
    return Path(from_env) if from_env else None


@pytest.fixture
def openai_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ScriptedServer]:
    """A scripted OpenAI server on loopback; the openai SDK's env vars point at it."""
    with _scripted_server(request.config) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", _KEY)
        yield server
    if server.validation_errors:
        pytest.fail(
            "the scripted OpenAI server saw traffic that breaks the OpenAPI spec:\n  "
            + "\n  ".join(server.validation_errors),
            pytrace=False,
        )


def _scripted_server(config: pytest.Config) -> ScriptedServer:
    """The fixture's server, validating if it can; if it cannot, noted for the run's end."""
    # Imported on use, so that this module itself imports nothing beyond pytest.
    from .openapi import ValidationUnavailableWarning
    from .server import ScriptedServer

    spec = spec_path(config)
    with warnings.catch_warnings():
        # Said once by pytest_terminal_summary instead (module docstring).
        warnings.simplefilter("ignore", ValidationUnavailableWarning)
        server = ScriptedServer(api_key=_KEY, openapi=spec)
    if spec is not None and server.validator is None:
        config.stash[_UNVALIDATED_SPEC] = spec
    return server


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    spec = config.stash.get(_UNVALIDATED_SPEC, None)
    if spec is None:
        return
    from .openapi import unvalidated_reason

    reason = unvalidated_reason(spec)
    if reason is not None:
        terminalreporter.write_line(f"openai_server: {reason}", yellow=True, bold=True)
