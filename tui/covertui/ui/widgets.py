"""The app's widgets: a cover tile, the results grid, the background-work panel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.reactive import reactive
from textual.widgets import Label, ProgressBar, Static

TILE_WIDTH = 26  # cells, border included


def clean(text: str) -> str:
    """Names can hold anything: keep control characters off the screen."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


class CoverTile(Vertical):
    """One cover: its image, title, artist and score."""

    def __init__(self, hit, thumbnail, image_class, index: int) -> None:
        super().__init__(classes="tile")
        self.hit = hit
        self.thumbnail = thumbnail
        self.image_class = image_class
        self.index = index

    def compose(self) -> ComposeResult:
        if self.thumbnail is not None:
            yield self.image_class(self.thumbnail, classes="art")
        else:
            yield Static("(no image)", classes="art missing")
        first = self.hit.tracks[0] if self.hit.tracks else None
        title = first["name"] if first else (self.hit.path or self.hit.cover).rsplit("/", 1)[-1]
        artist = ", ".join(first["artists"]) if first else "local file"
        more = f" +{len(self.hit.tracks) - 1}" if len(self.hit.tracks) > 1 else ""
        yield Label(clean(title)[:TILE_WIDTH - 4], classes="title")
        yield Label(f"{clean(artist)[:TILE_WIDTH - 12]}{more} · {self.hit.score:.3f}", classes="meta")


class CoverGrid(VerticalScroll, can_focus=True):
    """Result tiles in a grid that reflows with the width; arrows and h/j/k/l move the selection."""

    BINDINGS = [
        ("left,h", "move(-1, 0)", "Left"), ("right,l", "move(1, 0)", "Right"),
        ("up,k", "move(0, -1)", "Up"), ("down,j", "move(0, 1)", "Down"),
    ]
    selected: reactive[int] = reactive(0)

    def __init__(self, image_class, **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_class = image_class
        self.hits: list = []

    @property
    def columns(self) -> int:
        return max(1, (self.size.width - 1) // TILE_WIDTH)

    def on_resize(self) -> None:
        for grid in self.query("#tiles"):
            grid.styles.grid_size_columns = self.columns

    async def show(self, hits, thumbnails, empty_message: str = "") -> None:
        self.hits = list(hits)
        await self.remove_children()
        if not hits:
            await self.mount(Static(empty_message or "No matching covers.", id="empty"))
            return
        grid = Vertical(*[CoverTile(h, t, self.image_class, i) for i, (h, t) in enumerate(zip(hits, thumbnails))],
                        id="tiles")
        grid.styles.grid_size_columns = self.columns
        await self.mount(grid)
        self.selected = 0
        self._mark()

    def watch_selected(self) -> None:
        self._mark()

    def _mark(self) -> None:
        for tile in self.query(CoverTile):
            tile.set_class(tile.index == self.selected, "-selected")
            if tile.index == self.selected:
                self.scroll_to_widget(tile, animate=False)

    def action_move(self, dx: int, dy: int) -> None:
        if self.hits:
            target = self.selected + dx + dy * self.columns
            self.selected = max(0, min(len(self.hits) - 1, target))

    @property
    def current(self):
        return self.hits[self.selected] if self.hits and self.selected < len(self.hits) else None


class WorkPanel(Vertical):
    """Progress of the background sync/embedding: label, bar, counts, rate and ETA."""

    def compose(self) -> ComposeResult:
        yield Label("", id="work-label")
        yield ProgressBar(id="work-bar", show_eta=True)

    def report(self, progress) -> None:
        label = {"sources": "Reading sources", "tracks": "Reading playlists", "download": "Downloading covers",
                 "embed": "Embedding covers", "wait": "Waiting"}.get(progress.stage, progress.stage)
        rate = f" · {progress.rate:.0f}/s" if progress.rate else ""
        detail = f" · {clean(progress.message)}" if progress.message else ""
        counts = f" {progress.done}/{progress.total}" if progress.total else ""
        self.query_one("#work-label", Label).update(f"{label}{counts}{rate}{detail}  (c cancels)")
        bar = self.query_one("#work-bar", ProgressBar)
        bar.update(total=progress.total or None, progress=progress.done)
