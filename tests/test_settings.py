"""Settings: where the URL, dialect and key come from, and that the key never leaks."""

from __future__ import annotations

import pytest

from assistant_magic.errors import ConfigurationError
from assistant_magic.redaction import mask
from assistant_magic.settings import OPENAI_BASE_URL, resolve

KEY = "sk-proj-abcdefghijklmnop1234"


def settings(environ: dict[str, str], **overrides: object):  # type: ignore[no-untyped-def]
    values: dict[str, object] = dict(
        model="gpt-5.4-mini",
        instructions="",
        base_url="",
        dialect="auto",
        api_key_env="OPENAI_API_KEY",
        timeout=600.0,
        max_retries=2,
    )
    values.update(overrides)
    return resolve(environ=environ, **values)  # type: ignore[arg-type]


def test_defaults_to_openai_with_the_key_from_the_environment() -> None:
    s = settings({"OPENAI_API_KEY": KEY})
    assert (s.base_url, s.base_url_source) == (OPENAI_BASE_URL, "default")
    assert (s.dialect, s.dialect_source) == ("responses", "auto: OpenAI's endpoint")
    assert s.require_key() == KEY


def test_other_servers_get_chat_completions_unless_told() -> None:
    local = {"OPENAI_BASE_URL": "http://localhost:11434/v1"}
    assert settings(local).dialect == "chat"
    assert settings(local).dialect_source == "auto: not OpenAI's endpoint"
    assert settings({**local, "ASSISTANT_MAGIC_API": "responses"}).dialect == "responses"
    assert settings(local, dialect="responses").dialect_source == "configured"
    with pytest.raises(ConfigurationError, match="Unknown dialect 'soap'"):
        settings({**local, "ASSISTANT_MAGIC_API": "soap"})


def test_base_url_from_environment_then_configuration() -> None:
    env = {"OPENAI_BASE_URL": "http://localhost:8000/v1/"}
    assert settings(env).base_url == "http://localhost:8000/v1"
    assert settings(env).base_url_source == "$OPENAI_BASE_URL"
    configured = settings(env, base_url="https://example.test/v1")
    assert (configured.base_url, configured.base_url_source) == (
        "https://example.test/v1",
        "configured",
    )


def test_bad_base_url_is_one_clear_line() -> None:
    with pytest.raises(ConfigurationError, match="must be an http"):
        settings({}, base_url="localhost:8000")


def test_missing_key_names_the_variable_for_openai() -> None:
    with pytest.raises(ConfigurationError) as info:
        settings({}).require_key()
    assert "OPENAI_API_KEY" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_key_is_allowed_for_self_hosted_servers() -> None:
    s = settings({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"})
    assert s.require_key() == "no-key"
    assert s.masked_key == "not set"


def test_other_key_variable() -> None:
    s = settings({"MY_KEY": KEY}, api_key_env="MY_KEY")
    assert s.require_key() == KEY


def test_key_is_masked_and_redacted_and_absent_from_repr() -> None:
    s = settings({"OPENAI_API_KEY": KEY})
    assert s.masked_key == "sk-…1234"
    assert KEY not in repr(s)
    assert s.redact(f"server said: bad key {KEY}") == "server said: bad key sk-…1234"
    assert mask("short") == "****"


def test_empty_model_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"AssistantMagics\.model must be a name"):
        settings({}, model="  ")
