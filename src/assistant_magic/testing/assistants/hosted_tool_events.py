"""The steps of an Assistants API run that use hosted tools: code interpreter and file search.

:class:`CodeInterpreter`: a ``tool_calls`` step with one ``code_interpreter`` call whose ``input``
streams in deltas, then one delta with its ``outputs`` (``logs``, then an ``image`` per displayed
image); then, given ``text`` or images, a message: an ``image_file`` block per image, then the text,
whose links ``sandbox:/mnt/data/<name>`` carry ``file_path`` annotations. Images and saved files are
stored in the Files API with purpose ``assistants_output`` (downloadable).

:class:`FileSearch`: a ``tool_calls`` step with one ``file_search`` call (ranking options and
results: ``file_id``, ``file_name``, ``score``, and ``content`` only when the run's create asked for
it in ``include[]``); then, given ``text``, a message whose citations are markers
``【<step>:<result>†source】`` inserted where :class:`FileSearch` ``cite`` places them, each with a
``file_citation`` annotation. Annotations arrive in the delta whose text completes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..chunking import split_arguments, split_words
from ..hosted_steps import CodeInterpreter, FileSearch
from ..items import new_call_id
from ..resources.containers import SANDBOX_DIR
from ..resources.files import store_upload
from ..search_plan import SearchPlan
from ..state import StoredFile
from .runs import Run
from .stream import (
    Events,
    Play,
    complete_tool_step,
    finish,
    interrupted,
    message_delta,
    open_message,
    open_tool_step,
    tool_delta,
    write,
)

#: What the real file search reports as its ranking when the run sets none.
_RANKING = {"ranker": "default_2024_08_21", "score_threshold": 0.0}


def code_interpreter_events(run: Run, reply: CodeInterpreter, play: Play) -> Events:
    """A code interpreter step, then the message showing and linking what the code made."""
    step_id = yield from open_tool_step(run)
    head = {"input": "", "outputs": []}
    yield tool_delta(
        run, step_id, 0, {"id": new_call_id(), "type": "code_interpreter", "code_interpreter": head}
    )
    for piece in split_arguments(reply.code, reply.code_chunks):
        play.wait()
        if not run.generating:
            yield from interrupted(run)
            return
        code = {"type": "code_interpreter", "code_interpreter": {"input": piece}}
        yield tool_delta(run, step_id, 0, code)
    images, saved = _save_outputs(run, reply)
    outputs = _code_outputs(reply, images)
    if outputs:
        done = {"type": "code_interpreter", "code_interpreter": {"outputs": outputs}}
        yield tool_delta(run, step_id, 0, done)
    if not (yield from complete_tool_step(run, step_id, reply.usage, reply.code)):
        return
    if reply.text or images:
        opened = yield from open_message(run)
        for index, image in enumerate(images):
            block = {"type": "image_file", "image_file": {"file_id": image.id}}
            run.merge_content(opened.message_id, index, block)
            yield message_delta(opened, index, block)
        annotations = _file_paths(reply.text, saved)
        pieces = split_words(reply.text)
        if not (yield from write(run, opened, pieces, play, len(images), annotations)):
            return
    yield from finish(run, "completed")


def file_search_events(run: Run, reply: FileSearch, play: Play) -> Events:
    """A file search step playing the reply's plan, then the message citing what it found."""
    plan = play.search or SearchPlan([], [], [])
    step_id = yield from open_tool_step(run)
    head = {"id": new_call_id(), "type": "file_search", "file_search": {}}
    yield tool_delta(run, step_id, 0, head)
    play.wait()
    if not run.generating:
        yield from interrupted(run)
        return
    results = _search_results(plan, content=run.include_search_content)
    run.merge_tool_call(
        step_id, 0, {"file_search": {"ranking_options": dict(_RANKING), "results": results}}
    )
    if not (yield from complete_tool_step(run, step_id, reply.usage, " ".join(plan.queries))):
        return
    if reply.text:
        marked, annotations = _cited(reply.text, plan, step_number=len(run.steps) - 1)
        opened = yield from open_message(run)
        if not (yield from write(run, opened, split_words(marked), play, 0, annotations)):
            return
    yield from finish(run, "completed")


# -- what the tools made and found ----------------------------------------------------------------


def _save_outputs(
    run: Run, reply: CodeInterpreter
) -> tuple[list[StoredFile], list[tuple[str, StoredFile]]]:
    """The code ran: what it displayed and saved becomes files the Files API serves."""
    images = [
        store_upload(run.state, data, filename=f"image_{n}.png", purpose="assistants_output")
        for n, data in enumerate(reply.images, 1)
    ]
    saved = [
        (name, store_upload(run.state, data, filename=name, purpose="assistants_output"))
        for name, data in reply.files.items()
    ]
    return images, saved


def _code_outputs(reply: CodeInterpreter, images: Sequence[StoredFile]) -> list[dict[str, Any]]:
    outputs: list[dict[str, Any]] = []
    if reply.logs is not None:
        outputs.append({"type": "logs", "logs": reply.logs})
    outputs += [{"type": "image", "image": {"file_id": image.id}} for image in images]
    return [{"index": index, **output} for index, output in enumerate(outputs)]


def _file_paths(text: str, saved: Sequence[tuple[str, StoredFile]]) -> list[dict[str, Any]]:
    """A ``file_path`` annotation for each saved file the text links as a sandbox path."""
    found = []
    for name, upload in saved:
        target = f"sandbox:{SANDBOX_DIR}{name}"
        start = text.find(target)
        if start >= 0:
            found.append(
                {
                    "type": "file_path",
                    "text": target,
                    "start_index": start,
                    "end_index": start + len(target),
                    "file_path": {"file_id": upload.id},
                }
            )
    return sorted(found, key=lambda annotation: int(annotation["start_index"]))


def _search_results(plan: SearchPlan, *, content: bool) -> list[dict[str, Any]]:
    results = []
    for found in plan.results or []:
        result: dict[str, Any] = {
            "file_id": found["file_id"],
            "file_name": found["filename"],
            "score": found["score"],
        }
        if content:
            result["content"] = [{"type": "text", "text": found["text"]}]
        results.append(result)
    return results


def _cited(text: str, plan: SearchPlan, *, step_number: int) -> tuple[str, list[dict[str, Any]]]:
    """The text with a citation marker where each citation falls, and their annotations."""
    ranked = [str(result["file_id"]) for result in plan.results or []]
    marked = ""
    done = 0
    annotations = []
    for number, citation in enumerate(plan.citations):
        file_id = str(citation["file_id"])
        marked += text[done : int(citation["index"])]
        done = int(citation["index"])
        result = ranked.index(file_id) if file_id in ranked else number
        marker = f"【{step_number}:{result}†source】"
        annotations.append(
            {
                "type": "file_citation",
                "text": marker,
                "start_index": len(marked),
                "end_index": len(marked) + len(marker),
                "file_citation": {"file_id": file_id},
            }
        )
        marked += marker
    return marked + text[done:], annotations
