"""`%%ask --each NAME`: the magic's side of a job over rows (what it checks, shows, stores)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import AssistantError
from ..redaction import redact

if TYPE_CHECKING:
    from ..assistant import Assistant
    from ..lines import AskLine
    from .progress import ProgressView


def run_each(
    assistant: Assistant,
    shell: Any,
    text: str,
    args: AskLine,
    changes: dict[str, Any],
    *,
    view: str = "auto",
) -> None:
    """Run the job (or, with --dry-run, show it); -o gets the answers, even when interrupted."""
    from .job import JobInterrupted

    namespace = shell.user_ns if shell is not None else {}
    rows = _rows(args, namespace)
    options: dict[str, Any] = {
        "schema": args.schema,
        "fields": args.fields,
        "concurrency": args.concurrency,
        "rows_per_request": args.rows_per_request,
        "fresh": args.fresh,
        "name": args.each,
    }
    if args.dry_run:
        print(redact(assistant.preview_each(text, rows, **options, **changes)))
        return
    try:
        answers = assistant.ask_each(
            text,
            rows,
            expand=args.expand,
            batch_api=args.batch_api,
            progress=_progress(view, shell),
            **options,
            **changes,
        )
    except JobInterrupted as stopped:
        if args.output:
            namespace[args.output] = stopped.answers
        raise
    _say_failures(answers, args)
    if args.output:
        namespace[args.output] = answers
    else:
        from IPython.display import display

        display(answers)


def _rows(args: AskLine, namespace: dict[str, Any]) -> Any:
    name = str(args.each)
    if name not in namespace:
        raise AssistantError(
            f"--each {name}: no variable named {name!r} in the notebook; run the cell that "
            "defines it."
        )
    for flag, given in (("--attach", args.attach), ("--code", args.code), ("--tools", args.tools)):
        if given:
            raise AssistantError(
                f"{flag} does not go with --each: each row is asked alone, without it."
            )
    return namespace[name]


def _say_failures(answers: Any, args: AskLine) -> None:
    if args.expand:
        failed = int(answers["error"].notna().sum())
        where = "its error column"
    else:
        failed = len(answers.attrs["errors"])
        where = f"{args.output or 'the answers'}.attrs['errors']"
    if failed:
        print(f"{failed:,} row{'s' if failed != 1 else ''} without an answer: see {where}.")


def _progress(view: str, shell: Any) -> ProgressView:
    from ..view import shows_widgets
    from .progress import TextProgress, WidgetProgress

    return WidgetProgress() if shows_widgets(view, shell) else TextProgress()
