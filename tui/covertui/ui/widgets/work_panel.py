"""Progress of the background sync: label, bar, counts, rate and ETA."""

from __future__ import annotations

from textual import getters
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar

from ...progress import Step
from ..plain import plain


class WorkPanel(Vertical):
    DEFAULT_CSS = """
    WorkPanel { height: auto; display: none; padding: 0 1; background: $boost; }
    """

    label = getters.query_one("#work-label", Label)
    bar = getters.query_one("#work-bar", ProgressBar)

    def compose(self) -> ComposeResult:
        yield Label("", id="work-label")
        yield ProgressBar(id="work-bar", show_eta=True)

    def report(self, progress: Step) -> None:
        rate = f" · {progress.rate:.0f}/s" if progress.rate else ""
        detail = f" · {progress.message}" if progress.message else ""
        counts = f" {progress.done}/{progress.total}" if progress.total else ""
        self.label.update(plain(f"{progress.label}{counts}{rate}{detail}  (c cancels)"))
        self.bar.update(total=progress.total or None, progress=progress.done)
