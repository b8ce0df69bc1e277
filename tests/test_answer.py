"""assistant_magic.answer: the Answer is the text, and carries its images."""

from __future__ import annotations

import copy
import io
import json
import pickle

from PIL import Image

from assistant_magic.answer import Answer
from assistant_magic.images import decode


def picture(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 30)).save(buffer, fmt)
    return buffer.getvalue()


def test_answer_is_the_text() -> None:
    answer = Answer("Battle strength: 530,000.")
    assert isinstance(answer, str)
    assert answer == "Battle strength: 530,000."
    assert "Battle strength: 530,000." == answer  # noqa: SIM300
    assert answer.split() == ["Battle", "strength:", "530,000."]
    assert answer + "!" == "Battle strength: 530,000.!" and type(answer + "!") is str
    formatted = "{}|{:>30}".format(answer, answer)  # noqa: UP032
    assert formatted == "Battle strength: 530,000.|     Battle strength: 530,000."
    assert format(answer, ".6") == "Battle"
    assert f"{answer}" == "Battle strength: 530,000."
    assert json.dumps(answer) == '"Battle strength: 530,000."'
    assert json.dumps({"answer": answer}) == '{"answer": "Battle strength: 530,000."}'
    assert {"Battle strength: 530,000.": 1}[answer] == 1
    assert answer.upper() == "BATTLE STRENGTH: 530,000." and len(answer) == 25
    assert type(answer.text) is str and answer.text == answer
    assert str(answer) == answer and repr(answer) == repr("Battle strength: 530,000.")
    assert answer._repr_markdown_() == "Battle strength: 530,000."
    assert answer.images == () and Answer() == ""


def test_answer_carries_images_through_pickle_and_copy() -> None:
    chart = decode(picture("PNG"), source="code interpreter", name="chart.png")
    photo = decode(picture("JPEG"), source="image generation", name="image-1")
    answer = Answer("Two pictures.", [chart, photo])
    assert answer.images == (chart, photo) and isinstance(answer.images, tuple)
    assert answer == "Two pictures."
    for clone in (pickle.loads(pickle.dumps(answer)), copy.copy(answer), copy.deepcopy(answer)):
        assert type(clone) is Answer and clone == answer
        assert clone.images == answer.images
        assert clone.images[0].image.tobytes() == chart.image.tobytes()
    assert len({chart, photo, copy.deepcopy(chart)}) == 2  # images are hashable, equal by bytes
