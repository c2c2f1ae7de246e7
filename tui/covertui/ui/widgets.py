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
    """One cover: its image, title, artist and score. Tiles are reused from search to search."""

    def __init__(self, image_class, index: int) -> None:
        super().__init__(classes="tile")
        self.image_class = image_class
        self.index = index
        self.hit = None
        self.display = False  # shown once it holds a result

    def compose(self) -> ComposeResult:
        yield self.image_class(None, classes="art")
        yield Label("", classes="title")
        yield Label("", classes="meta")

    def show(self, hit, thumbnail) -> None:
        self.hit = hit
        first = hit.tracks[0] if hit.tracks else None
        title = first["name"] if first else (hit.path or hit.cover).rsplit("/", 1)[-1]
        artist = ", ".join(first["artists"]) if first else "local file"
        more = f" +{len(hit.tracks) - 1}" if len(hit.tracks) > 1 else ""
        self.query_one(".art").image = thumbnail
        self.query_one(".title", Label).update(clean(title)[:TILE_WIDTH - 4])
        self.query_one(".meta", Label).update(f"{clean(artist)[:TILE_WIDTH - 12]}{more} · {hit.score:.3f}")


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
        self.tiles: list[CoverTile] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="empty")
        yield Vertical(id="tiles")

    @property
    def columns(self) -> int:
        return max(1, (self.size.width - 1) // TILE_WIDTH)

    def on_resize(self) -> None:
        self.query_one("#tiles").styles.grid_size_columns = self.columns

    async def show(self, hits, thumbnails, empty_message: str = "") -> None:
        """Show results, reusing the tiles of the last search (mounting is what costs, not updating)."""
        self.hits = list(hits)
        grid = self.query_one("#tiles")
        grid.styles.grid_size_columns = self.columns
        if len(self.tiles) < len(hits):
            fresh = [CoverTile(self.image_class, i) for i in range(len(self.tiles), len(hits))]
            self.tiles += fresh
            await grid.mount_all(fresh)
        with self.app.batch_update():
            for i, tile in enumerate(self.tiles):
                tile.display = i < len(hits)
                if i < len(hits):
                    tile.show(hits[i], thumbnails[i])
            self.query_one("#empty", Static).update(empty_message or "No matching covers.")
            self.query_one("#empty").display = not hits
            grid.display = bool(hits)
        self.selected = 0
        self._mark()
        self.scroll_home(animate=False)

    def watch_selected(self) -> None:
        self._mark()

    def _mark(self) -> None:
        for tile in self.tiles:
            tile.set_class(tile.index == self.selected and tile.display, "-selected")
        if self.hits and self.selected < len(self.tiles):
            self.scroll_to_widget(self.tiles[self.selected], animate=False)

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
