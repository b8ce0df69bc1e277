"""What a :class:`FileSearch` step finds and cites, planned over the vector stores it searches.

The plan is made when the request is accepted, from copies of the stores the request's (or the
run's) ``file_search`` tool names: scripted results and citations must name files that are
searchable there (completed in one of those stores). A script that names others is a mistake
recorded in ``validation_errors`` (the step is played all the same, citing the id as its own
filename): the real model only finds and cites what it searched. The Responses API and
Assistants API runs stream the same plan, each in its own events (``responses.file_search_events``,
``assistants.hosted_tool_events``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .hosted_steps import FileSearch, SearchResult
from .reply_context import ReplyContext
from .state import StoredFile, VectorStore, VectorStoreFile

#: Characters of a file's content an automatic result quotes.
RESULT_TEXT_LIMIT = 2000
_WHO = "scripted FileSearch reply to POST /v1/responses"


@dataclass(frozen=True)
class SearchPlan:
    """What a file search step reports: its queries, results (None when not included) and
    the message's citations, ordered by index."""

    queries: list[str]
    results: list[dict[str, Any]] | None
    citations: list[dict[str, Any]]


def plan_search(
    reply: FileSearch,
    context: ReplyContext,
    tool: Mapping[str, Any],
    *,
    include_results: bool,
) -> tuple[SearchPlan, list[str]]:
    """The step's plan, and the script's mistakes (files that were not searchable)."""
    shelf = _Shelf(context.vector_stores)
    queries = list(reply.queries) if reply.queries is not None else [context.last_user_text or ""]
    mistakes: list[str] = []
    if reply.results is None:
        results = _automatic_results(shelf, queries, tool.get("max_num_results"))
    else:
        scripted = [r if isinstance(r, SearchResult) else SearchResult(*r) for r in reply.results]
        results = [_scripted_result(shelf, r, queries, mistakes) for r in scripted]
    citations = _citations(reply, shelf, results, mistakes) if reply.text else []
    plan = SearchPlan(queries, results if include_results else None, citations)
    return plan, mistakes


class _Shelf:
    """The files of the searched stores, found by id or filename."""

    def __init__(self, stores: Sequence[VectorStore]) -> None:
        self.stores = list(stores)
        self.entries: list[VectorStoreFile] = []
        seen: set[str] = set()
        for store in stores:
            for entry in store.files.values():
                if entry.id not in seen:
                    seen.add(entry.id)
                    self.entries.append(entry)

    @property
    def searchable(self) -> list[VectorStoreFile]:
        return [entry for entry in self.entries if entry.status == "completed"]

    def find(self, reference: str) -> VectorStoreFile | None:
        for entry in self.entries:
            if reference in (entry.id, entry.filename):
                return entry
        return None

    def unsearchable(self, reference: str, what: str) -> str:
        """The mistake of naming ``reference``, which is not a searchable file."""
        entry = self.find(reference)
        if entry is not None:
            why = f"whose processing is {entry.status} in {entry.vector_store_id}"
        elif not self.stores:
            why = "but the request offers no file_search tool with vector stores"
        else:
            known = [f"{e.id} ({e.filename})" for e in self.searchable]
            ids = [store.id for store in self.stores]
            why = f"which is not in the searched vector stores {ids} (searchable: {known})"
        return f"{_WHO} {what} {reference!r}, {why}"


def _automatic_results(
    shelf: _Shelf, queries: Sequence[str], max_results: object
) -> list[dict[str, Any]]:
    found = [
        _result(entry.file, entry.attributes, None, None, queries) for entry in shelf.searchable
    ]
    found.sort(key=lambda result: -result["score"])
    limit = max_results if isinstance(max_results, int) and max_results > 0 else None
    return found[:limit]


def _scripted_result(
    shelf: _Shelf, scripted: SearchResult, queries: Sequence[str], mistakes: list[str]
) -> dict[str, Any]:
    entry = shelf.find(scripted.file_id)
    if entry is None or entry.status != "completed":
        mistakes.append(shelf.unsearchable(scripted.file_id, "finds"))
        stand_in = StoredFile(scripted.file_id, scripted.filename or scripted.file_id, "", b"")
        return _result(stand_in, scripted.attributes or {}, scripted.text, scripted.score, queries)
    result = _result(entry.file, entry.attributes, scripted.text, scripted.score, queries)
    if scripted.filename is not None:
        result["filename"] = scripted.filename
    if scripted.attributes is not None:
        result["attributes"] = dict(scripted.attributes)
    return result


def _result(
    upload: StoredFile,
    attributes: Mapping[str, Any],
    text: str | None,
    score: float | None,
    queries: Sequence[str],
) -> dict[str, Any]:
    if text is None:
        text = upload.data.decode("utf-8", "replace")[:RESULT_TEXT_LIMIT]
    return {
        "file_id": upload.id,
        "filename": upload.filename,
        "score": score if score is not None else relevance(text, queries),
        "text": text,
        "attributes": dict(attributes),
    }


def relevance(text: str, queries: Sequence[str]) -> float:
    """A plausible, stable score in 0.5..0.95: the share of query words that ``text`` holds."""
    wanted = {word for query in queries for word in _words(query)}
    if not wanted:
        return 0.5
    held = wanted & set(_words(text))
    return round(0.5 + 0.45 * len(held) / len(wanted), 4)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _citations(
    reply: FileSearch, shelf: _Shelf, results: Sequence[Mapping[str, Any]], mistakes: list[str]
) -> list[dict[str, Any]]:
    """``file_citation`` annotations ordered by index (see :class:`FileSearch` ``cite``)."""
    if reply.cite is None:
        cited: dict[str, str] = {}
        for result in results:
            entry = shelf.find(str(result["file_id"]))
            if entry is not None and entry.status == "completed":
                cited.setdefault(entry.id, str(result["filename"]))
        end = len(reply.text)
        return [_citation(file_id, name, end) for file_id, name in cited.items()]
    citations = []
    for reference, where in reply.cite:
        index = reply.citation_index(reference, where)
        entry = shelf.find(reference)
        if entry is None or entry.status != "completed":
            mistakes.append(shelf.unsearchable(reference, "cites"))
            citations.append(_citation(reference, reference, index))
        else:
            citations.append(_citation(entry.id, entry.filename, index))
    citations.sort(key=lambda citation: int(citation["index"]))
    return citations


def _citation(file_id: str, filename: str, index: int) -> dict[str, Any]:
    return {"type": "file_citation", "file_id": file_id, "filename": filename, "index": index}
