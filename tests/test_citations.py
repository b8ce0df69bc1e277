"""Citations in an answer become numbered notes a notebook can show."""

from __future__ import annotations

from assistant_magic.citations import Citation, render


def test_sandbox_links_become_notes() -> None:
    text = "See [the chart](sandbox:/mnt/data/chart.png) and [data](sandbox:/mnt/data/out.csv)."
    citations = [
        Citation("container_file_citation", "chart.png", "cfile_1", container_id="cntr_1"),
        Citation("container_file_citation", "/mnt/data/out.csv", "cfile_2", container_id="cntr_1"),
    ]
    assert render(text, citations) == (
        "See the chart<sup>1</sup> and data<sup>2</sup>.\n\n"
        "<sup>1</sup> chart.png: from the code interpreter, shown below<br>\n"
        "<sup>2</sup> out.csv: in the code interpreter's sandbox (file cfile_2)"
    )


def test_file_search_citations_are_marked_where_they_point() -> None:
    text = "Mamezou is strong. Goku is strong too."
    citations = [
        Citation("file_citation", "goku.pdf", "file-2", index=len(text)),
        Citation("file_citation", "mamezou.pdf", "file-1", index=len("Mamezou is strong.")),
        Citation("file_citation", "mamezou.pdf", "file-1", index=len(text)),
    ]
    assert render(text, citations) == (
        "Mamezou is strong.<sup>1</sup> Goku is strong too.<sup>1</sup><sup>2</sup>\n\n"
        "<sup>1</sup> mamezou.pdf (file search)<br>\n"
        "<sup>2</sup> goku.pdf (file search)"
    )


def test_no_citations_leave_the_text_alone() -> None:
    text = "A [link](https://example.com) and [sandbox](sandbox:/mnt/data/x.png)."
    assert render(text, []) == text
