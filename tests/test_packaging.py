"""What the package promises about its dependencies (issue 13, items 5 and 6).

* The base install (no extras) registers the pytest plugin for every pytest run in its
  environment, so it must load, and the ``openai_server`` fixture must work, without the
  ``[test]`` extra; OpenAPI validation alone needs it, and its absence is said in one line.
* Every third-party module the tests and benchmarks import is a declared requirement, so a
  fresh ``pip install -e ".[test]"`` collects them all however the dependency tree shifts.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import packages_distributions
from pathlib import Path

import openai
import pytest

from assistant_magic.testing import ScriptedServer, Text, ValidationUnavailableWarning
from assistant_magic.testing.openapi import load_spec

if sys.version_info >= (3, 11):
    import tomllib
else:  # the project supports 3.10, where tomllib is the tomli package (declared for it)
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tests" / "data" / "openai-openapi" / "openapi.json"
KEY = "sk-test-packaging"
INSTALL_HINT = 'pip install "assistant-magic[test]"'
# The extras a test environment installs, beside the base dependencies.
TEST_EXTRAS = ("test", "dev")
IMPORTING_DIRS = (ROOT / "tests", ROOT / "benchmarks")
# A project running with -W error: the fixture must not trip it when it cannot validate.
STRICT = "error::assistant_magic.testing.ValidationUnavailableWarning"

pytest_plugins = ["pytester"]


# -- item 6: the tests declare what they import ----------------------------------------------


def normalized(name: str) -> str:
    """A distribution name as PEP 503 compares them (``Jupyter_Client`` == ``jupyter-client``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution a PEP 508 string names (``"pillow>=10; python_version<'4'"`` -> pillow)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, f"unreadable requirement {requirement!r} in pyproject.toml"
    return normalized(match.group(1))


def requirement_extras(requirement: str) -> list[str]:
    """The extras a requirement asks for (``"assistant-magic[test]"`` -> ["test"])."""
    match = re.match(r"[^\[;]*\[([^\]]*)\]", requirement)
    return [extra.strip() for extra in match.group(1).split(",")] if match else []


def declared_distributions(extras: tuple[str, ...] = TEST_EXTRAS) -> set[str]:
    """The base dependencies plus those of ``extras``, following self-references such as
    ``dev = ["assistant-magic[test]"]``."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    own_name = normalized(project["name"])
    declared: set[str] = set()
    pending = list(project.get("dependencies", []))
    seen_extras: set[str] = set()
    for extra in extras:
        pending += optional.get(extra, [])
        seen_extras.add(extra)
    while pending:
        requirement = pending.pop()
        name = requirement_name(requirement)
        if name != own_name:
            declared.add(name)
            continue
        for extra in set(requirement_extras(requirement)) - seen_extras:
            seen_extras.add(extra)
            pending += optional.get(extra, [])
    return declared


def imported_modules(source: Path) -> Iterator[str]:
    """Top-level names of every absolute import in ``source``, wherever it stands."""
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), str(source))):
        if isinstance(node, ast.Import):
            yield from (alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.partition(".")[0]


def local_modules(directory: Path) -> set[str]:
    """Modules the directory itself provides (``conftest``, ``notebook_io``)."""
    return {path.stem for path in directory.glob("*.py")} | {
        path.parent.name for path in directory.glob("*/__init__.py")
    }


def third_party_imports() -> dict[str, set[str]]:
    """Module -> the files importing it, over tests/ and benchmarks/, leaving out the standard
    library, the package itself and the checkout's own helpers (a benchmark may start the
    tests' MCP server)."""
    found: dict[str, set[str]] = {}
    helpers = set().union(*(local_modules(directory) for directory in IMPORTING_DIRS))
    for directory in IMPORTING_DIRS:
        ours = helpers | {"assistant_magic"}
        for source in sorted(directory.glob("*.py")):
            for module in imported_modules(source):
                if module not in sys.stdlib_module_names and module not in ours:
                    found.setdefault(module, set()).add(source.relative_to(ROOT).as_posix())
    return found


def test_requirement_parsing_follows_names_extras_and_self_references() -> None:
    assert requirement_name("Jupyter_Client>=8; python_version >= '3.10'") == "jupyter-client"
    assert requirement_extras("llama-cpp-python[server]>=0.3") == ["server"]
    assert requirement_extras("pytest>=8; extra == 'x[y]'") == []
    declared = declared_distributions(("dev",))
    assert {"openai", "jsonschema", "ruff"} <= declared  # base, test through dev, dev itself
    assert "assistant-magic" not in declared


def providers(module: str, installed: Mapping[str, list[str]]) -> set[str]:
    """The distributions that may provide ``module``: those installed here that do, else one
    of the same name (a requirement whose marker leaves it out here, such as tomli on 3.11)."""
    return {normalized(dist) for dist in installed.get(module, [])} or {normalized(module)}


def test_every_third_party_import_of_the_tests_is_declared() -> None:
    declared = declared_distributions()
    installed = packages_distributions()
    undeclared = {
        module: sorted(files)
        for module, files in third_party_imports().items()
        if not providers(module, installed) & declared
    }
    assert undeclared == {}, (
        "imported by the tests but not declared in pyproject.toml's dependencies or its "
        f"{' / '.join(TEST_EXTRAS)} extras (module: files): {undeclared}"
    )


# -- item 5: without jsonschema, in this environment -------------------------------------------


@pytest.fixture
def without_validation_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make jsonschema and referencing unimportable, as in a base install."""
    for name in ("jsonschema", "referencing"):
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules: the import fails
    assert importlib.util.find_spec("jsonschema") is None


@pytest.mark.usefixtures("without_validation_modules")
def test_server_given_a_spec_without_jsonschema_warns_in_one_line_and_answers() -> None:
    with pytest.warns(ValidationUnavailableWarning) as warned:
        server = ScriptedServer(api_key=KEY, openapi=SPEC)
    (warning,) = warned.list
    message = str(warning.message)
    assert "\n" not in message
    assert str(SPEC) in message
    assert INSTALL_HINT in message
    assert warning.filename == __file__  # points at the code that built the server
    assert server.validator is None
    with server:
        server.script(Text("Unchecked, but here."))
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY)
        answer = client.responses.create(model="gpt-5.4-mini", input="Still there?")
    assert answer.output_text == "Unchecked, but here."
    assert server.validation_errors == []


@pytest.mark.usefixtures("without_validation_modules")
def test_server_without_a_spec_says_nothing_about_validation(
    monkeypatch: pytest.MonkeyPatch, recwarn: pytest.WarningsRecorder
) -> None:
    monkeypatch.delenv("ASSISTANT_MAGIC_OPENAPI", raising=False)
    assert ScriptedServer(api_key=KEY).validator is None
    assert not [w for w in recwarn.list if issubclass(w.category, ValidationUnavailableWarning)]


@pytest.mark.usefixtures("without_validation_modules")
def test_loading_a_spec_without_jsonschema_names_the_extra() -> None:
    with pytest.raises(ModuleNotFoundError, match=re.escape(INSTALL_HINT)):
        load_spec(SPEC)


FIXTURE_TEST = """\
import openai

from assistant_magic.testing import Text


def test_openai_server_answers(openai_server):
    openai_server.script(Text("Paris."))
    answer = openai.OpenAI().responses.create(model="gpt-5.4-mini", input="Capital of France?")
    assert answer.output_text == "Paris."
"""


def not_validated_notes(output: str) -> list[str]:
    """The lines of a pytest run's output that say traffic went unchecked."""
    return [line for line in output.splitlines() if "not validated" in line]


@pytest.mark.usefixtures("without_validation_modules")
def test_fixture_given_a_spec_without_jsonschema_answers_and_says_so_once(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_first=FIXTURE_TEST, test_second=FIXTURE_TEST)
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "-W", STRICT, f"--openai-spec={SPEC}"
    )
    result.assert_outcomes(passed=2)
    (note,) = not_validated_notes(result.stdout.str())
    assert note.startswith("openai_server: ")
    assert str(SPEC) in note and INSTALL_HINT in note


# -- item 5: a real base install in a fresh virtualenv -----------------------------------------

TRIVIAL_TEST = """\
def test_ok():
    assert True
"""


def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``command``; its output, or a failure that shows it."""
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=540, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {done.returncode}:\n{output[-4000:]}")
    return output


def base_install(venv: Path) -> Path:
    """A fresh venv with the package, without extras, plus pytest; its python."""
    run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent)
    python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    # The wheel is built from this working tree; pip's cache keeps repeated runs quick.
    run([str(python), "-m", "pip", "install", "--quiet", str(ROOT), "pytest"], cwd=venv.parent)
    return python


def user_project(directory: Path) -> Path:
    """A project of the user's: an empty pytest.ini (so the rootdir is here) and two tests."""
    directory.mkdir()
    (directory / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (directory / "test_ok.py").write_text(TRIVIAL_TEST, encoding="utf-8")
    (directory / "test_fixture.py").write_text(FIXTURE_TEST, encoding="utf-8")
    return directory


def pytest_env(spec: Path | None) -> dict[str, str]:
    """This environment, minus what would reach back into it or steer the inner pytest."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "PYTEST_ADDOPTS", "ASSISTANT_MAGIC_OPENAPI"}
        and not name.startswith("OPENAI_")
    }
    if spec is not None:
        env["ASSISTANT_MAGIC_OPENAPI"] = str(spec)
    return env


# About 20 s: a venv, then pip builds the wheel and installs some 45 packages (from its cache
# once warm; it may reach PyPI for what the cache lacks).
@pytest.mark.slow
def test_base_install_runs_pytest_and_the_openai_server_fixture(tmp_path: Path) -> None:
    started = time.monotonic()
    python = base_install(tmp_path / "venv")
    print(f"fresh venv and base install: {time.monotonic() - started:.1f} s")
    present = "import importlib.util as u; print([m for m in {names} if u.find_spec(m)])"
    names = ("jsonschema", "referencing")
    assert run([str(python), "-c", present.format(names=names)], cwd=tmp_path).strip() == "[]"

    project = user_project(tmp_path / "project")
    command = [str(python), "-m", "pytest", "-p", "no:cacheprovider"]

    plain = run(command, cwd=project, env=pytest_env(spec=None))
    assert re.search(r"\b2 passed\b", plain), plain
    assert not not_validated_notes(plain)

    # A spec chosen but no jsonschema: the fixture still answers, and the run's end says why
    # nothing was checked, once.
    unchecked = run([*command, "-W", STRICT], cwd=project, env=pytest_env(spec=SPEC))
    assert re.search(r"\b2 passed\b", unchecked), unchecked
    notes = not_validated_notes(unchecked)
    assert len(notes) == 1, unchecked
    assert str(SPEC) in notes[0] and INSTALL_HINT in notes[0]
    assert "ValidationUnavailableWarning" not in unchecked
