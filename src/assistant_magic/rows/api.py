"""`Assistant.ask_each`: the Python API of asking over rows (mixed into `Assistant`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ..answer_types import AnswerType
    from ..replay.dialect import Replayer
    from ..replay.recordings import RowRecording
    from ..settings import Settings
    from ..threads import Threads
    from .asking import RowsAsk
    from .cache import Cached
    from .progress import ProgressView

#: What a typed answer's type may be given as (see `Assistant.answer_type`).
SchemaSpec = Any


class AsksOverRows:
    """Jobs over rows for an object with `settings`, `answer_type` and `threads`."""

    threads: Threads

    def settings(self, **changes: Any) -> Settings:
        raise NotImplementedError

    def answer_type(self, schema: SchemaSpec) -> AnswerType | None:
        raise NotImplementedError

    def _replayer_for(self, settings: Settings) -> Replayer | None:
        raise NotImplementedError

    def ask_each(
        self,
        question: str,
        rows: Any,
        *,
        schema: SchemaSpec = None,
        fields: Sequence[str] = (),
        concurrency: int | None = None,
        rows_per_request: int = 1,
        fresh: bool = False,
        expand: bool = False,
        batch_api: bool = False,
        name: str = "rows",
        progress: ProgressView | None = None,
        **changes: Any,
    ) -> Any:
        """Ask `question` of every row of `rows` (a DataFrame, a Series or a list), each on its
        own, outside the bound thread; the answers as a pandas Series aligned to the rows
        (typed values with `schema`; with `expand`, a DataFrame of their fields), failures
        in ``.attrs["errors"]``. Rows answered before are read from the store, identical rows
        asked once, `concurrency` requests at a time, `rows_per_request` rows in each. Raises
        `JobInterrupted` (holding the results so far) when interrupted. With `batch_api`,
        the rows go to the server's Batch API instead: a later call collects the answers
        (rows still waiting say so in their errors)."""
        from .asking import job
        from .job import JobInterrupted
        from .results import assemble

        ask = self._rows_ask(
            question,
            rows,
            schema,
            fields=tuple(fields),
            concurrency=concurrency,
            rows_per_request=rows_per_request,
            fresh=fresh,
            name=name,
        )
        settings = self.settings(**changes)
        replayer = self._replayer_for(settings)
        carried = carried_rows(replayer.file_rows) if replayer is not None else None
        running = job(ask, settings, self.threads.store.path, progress, carried)
        try:
            results = self._by_batch(running, settings) if batch_api else running.run()
        except JobInterrupted as stopped:
            stopped.answers = assemble(running.spec.table, stopped.results, expand=expand)
            raise
        finally:
            running.cache.close()
            if replayer is not None:  # what `%assistant replay export` carries
                replayer.used_rows.extend(running.planned_keys())
        return assemble(running.spec.table, results, expand=expand)

    @staticmethod
    def _by_batch(running: Any, settings: Settings) -> Any:
        from ..dialects.openai_sdk import api_errors, make_client
        from .batches import BatchRun

        client = make_client(settings)
        try:
            with api_errors(settings):
                return BatchRun(running, client).run()
        finally:
            client.close()

    def _rows_ask(self, question: str, rows: Any, schema: SchemaSpec, **job: Any) -> RowsAsk:
        """The job's description: `job` holds `RowsAsk`'s own fields."""
        from .asking import RowsAsk

        return RowsAsk(question, rows, answer=self.answer_type(schema), **job)

    def preview_each(self, question: str, rows: Any, **options: Any) -> str:
        """What `ask_each` would send, as `%%ask --each --dry-run` shows it; nothing is sent.
        Takes `ask_each`'s arguments (but `expand` and `progress`)."""
        from dataclasses import fields

        from .asking import RowsAsk, preview

        own = {field.name for field in fields(RowsAsk)}
        job = {name: value for name, value in options.items() if name in own}
        changes = {name: value for name, value in options.items() if name not in own | {"schema"}}
        if "fields" in job:
            job["fields"] = tuple(job["fields"])
        ask = self._rows_ask(question, rows, options.get("schema"), **job)
        return preview(ask, self.settings(**changes), self.threads.store.path)


def carried_rows(rows: Mapping[str, RowRecording]) -> dict[str, Cached]:
    """A replay file's rows as the store keeps answers."""
    from ..events import Usage
    from .cache import Cached

    return {key: Cached(row.answer, row.model, Usage(*row.usage)) for key, row in rows.items()}
