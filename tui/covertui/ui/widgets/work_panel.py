"""Progress of the background work (a sync, a model download): label, bar, amounts, rate and ETA."""

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
        detail = f" · {progress.message}" if progress.message else ""
        self.label.update(plain(f"{progress.label} {progress.amounts}{detail}  (c cancels)"))
        self.bar.update(total=progress.total or None, progress=progress.done)
