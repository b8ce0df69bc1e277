"""Views: the plain-text view's output, and the widget view's saved-notebook fallback."""

from __future__ import annotations

import io

from assistant_magic.ask import AskOutcome
from assistant_magic.events import ResponseStarted, StatusChanged, TextDelta, Usage, UsageReported
from assistant_magic.view import TextView, make_view, status_label, usage_text
from assistant_magic.widget_view import WidgetView


def outcome(status: str = "completed", text: str = "Hello **world**") -> AskOutcome:
    return AskOutcome(
        status=status,
        text=text,
        model="gpt-5.4-mini",
        thread_id="th_1",
        ask_id=1,
        elapsed=1.25,
        usage=Usage(input_tokens=12, output_tokens=5, total_tokens=17, cached_tokens=2),
    )


def test_text_view_prints_status_changes_and_streams_the_answer() -> None:
    out = io.StringIO()
    view = TextView(out)
    view.start(model="gpt-5.4-mini", thread_id="th_1")
    for event in (
        ResponseStarted("resp_1", "gpt-5.4-mini"),
        StatusChanged("queued"),
        StatusChanged("in_progress"),
        TextDelta("Hello "),
        TextDelta("**world**"),
        UsageReported(Usage(12, 5, 17, 2)),
        StatusChanged("completed"),
    ):
        view.update(event)
    view.finish(outcome())
    assert out.getvalue() == (
        "[assistant] … starting · gpt-5.4-mini · thread th_1\n"
        "[assistant] ◷ queued\n"
        "[assistant] ● in progress\n"
        "Hello **world**\n"
        "[assistant] ✓ completed · gpt-5.4-mini · 1.2 s · 12 in (2 cached) / 5 out tokens\n"
    )


def test_text_view_shows_an_answer_that_did_not_stream() -> None:
    out = io.StringIO()
    view = TextView(out)
    view.start(model="m", thread_id="th_1")
    view.finish(outcome(status="incomplete", text="partial"))
    assert "partial\n[assistant] ◐ incomplete · gpt-5.4-mini" in out.getvalue()


def test_labels() -> None:
    assert status_label("in_progress") == "● in progress"
    assert status_label("requires_action") == "⚑ requires action"
    assert status_label("calling_tools") == "⚙ calling tools"
    assert status_label("some_new_status") == "· some new status"
    assert usage_text(None) == ""


def test_make_view_picks_text_outside_a_kernel() -> None:
    class TerminalShell:
        pass

    class KernelShell:
        kernel = object()

    assert isinstance(make_view("auto", TerminalShell()), TextView)
    assert isinstance(make_view("auto", KernelShell()), WidgetView)
    assert isinstance(make_view("text", KernelShell()), TextView)
    assert isinstance(make_view("widget", TerminalShell()), WidgetView)


def test_widget_view_keeps_a_readable_status_for_saved_notebooks(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    shown: list[tuple[object, dict[str, object]]] = []

    class Handle:
        def __init__(self, obj: object) -> None:
            self.updates: list[object] = [obj]

        def update(self, obj: object, **kwargs: object) -> None:
            self.updates.append(obj)
            shown.append((obj, kwargs))

    def fake_display(obj: object, **kwargs: object) -> Handle:
        shown.append((obj, kwargs))
        return Handle(obj)

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", fake_display)
    view = WidgetView(refresh_interval=0.0, tick=60)
    view.start(model="gpt-5.4-mini", thread_id="th_1")
    view.update(StatusChanged("in_progress"))
    view.update(TextDelta("Hello "))
    view.update(TextDelta("**world**"))
    view.finish(outcome())
    first_bundle = shown[0][0]
    assert isinstance(first_bundle, dict)
    assert "application/vnd.jupyter.widget-view+json" in first_bundle
    final_bundle = shown[-1][0]
    assert isinstance(final_bundle, dict)
    assert final_bundle["text/plain"].startswith("[assistant] ✓ completed · gpt-5.4-mini")
    answers = [obj for obj, _ in shown if isinstance(obj, dict) and "text/markdown" in obj]
    assert answers[-1] == {"text/markdown": "Hello **world**", "text/plain": "Hello **world**"}
    assert 'data-status="completed"' in view._widget.value


def test_the_text_view_flushes_a_few_times_a_second_not_per_token() -> None:
    """A kernel's stdout flush waits for its IO thread: per token it cost 5x the stream."""

    class CountingOut(io.StringIO):
        flushes = 0

        def flush(self) -> None:
            self.flushes += 1

    out = CountingOut()
    view = TextView(out, refresh_interval=60)
    view.start(model="m", thread_id="th_1")
    for i in range(1_000):
        view.update(TextDelta(f"w{i} "))
    view.finish(outcome())
    assert "w0 w1 " in out.getvalue() and "w999 " in out.getvalue()
    assert out.flushes <= 3, "start, one delta, the end"
