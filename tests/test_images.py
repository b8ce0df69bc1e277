"""assistant_magic.images as a whole: its public names, a cheap import, one-line errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import assistant_magic.images
from assistant_magic.image_errors import ImageError


def test_every_public_name_is_there() -> None:
    names = assistant_magic.images.__all__
    assert all(getattr(assistant_magic.images, name, None) is not None for name in names)


def test_importing_and_probing_imports_neither_pillow_nor_matplotlib() -> None:
    code = (
        "import sys, assistant_magic.images as m, assistant_magic.answer as a\n"
        "assert not m.is_image_object(object())\n"
        "assert m.from_object(3, source='s', name='n') is None\n"
        "x = a.Answer('hi'); assert x == 'hi' and x.images == ()\n"
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('PIL', 'matplotlib')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


# --- every error is one line -------------------------------------------------------------------


def test_image_error_is_one_line_even_from_a_multiline_message() -> None:
    error = ImageError("first\nsecond\t third  ")
    assert str(error) == "first second third"
    assert pickle.loads(pickle.dumps(error)).args == error.args
