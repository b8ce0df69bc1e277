"""Finding the Python code of an answer."""

from __future__ import annotations

from assistant_magic.code_blocks import python_code


def test_python_and_unlabelled_blocks_in_order() -> None:
    answer = (
        "First load it:\n\n```python\nimport pandas as pd\ndf = pd.read_csv('x.csv')\n```\n\n"
        "Install with:\n\n```bash\npip install pandas\n```\n\nThen:\n\n```\nprint({'a': 1})\n```\n"
    )
    assert python_code(answer) == (
        "import pandas as pd\ndf = pd.read_csv('x.csv')\n\nprint({'a': 1})"
    )


def test_longer_fences_tildes_and_nested_backticks() -> None:
    answer = "````py\ns = '''\n```\n'''\n````\n\n~~~ python title\nx = 1\n~~~"
    assert python_code(answer) == "s = '''\n```\n'''\n\nx = 1"


def test_no_code() -> None:
    assert python_code("Just prose, and `inline` code.") is None
    assert python_code("```json\n{}\n```") is None
    assert python_code("```python\n\n```") is None
