"""The line under the grid: the model, covers indexed, the last search's time, a note, the protocol."""

from __future__ import annotations

from textual.widgets import Static

from ..plain import plain


class StatusLine(Static):
    DEFAULT_CSS = """
    StatusLine { height: 1; padding: 0 1; background: $panel; color: $text-muted; }
    """

    def __init__(self, protocol: str, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.protocol = protocol
        self.searcher = None
        self.last_ms: float | None = None
        self.marked = 0
        self.note = "loading the model…"

    def on_mount(self) -> None:
        self.show()

    def show(self, **changes) -> None:
        """Set any of searcher, last_ms, marked and note, and redraw."""
        for name, value in changes.items():
            setattr(self, name, value)
        parts = []
        if self.searcher is not None:
            parts += [self.searcher.model.description, f"{self.searcher.indexed} covers indexed"]
        if self.last_ms is not None:
            parts.append(f"last search {self.last_ms:.1f} ms" if self.last_ms < 10 else f"last search {self.last_ms:.0f} ms")
        if self.marked:
            parts.append(f"{self.marked} marked (n saves them, U unmarks)")
        if self.note:
            parts.append(self.note)
        parts.append(f"graphics: {self.protocol}")
        self.update(plain(" · ".join(parts)))
