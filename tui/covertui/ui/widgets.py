"""The app's widgets: a cover tile, the results grid, the background-work panel."""

from __future__ import annotations

import asyncio

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, ProgressBar, Static

TILE_WIDTH = 26  # cells, border included
TILE_HEIGHT = 15


def clean(text: str) -> str:
    """Names can hold anything: keep control characters off the screen."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


class CoverTile(Vertical):
    """One cover: its image, title, artist and score. Tiles are reused from search to search."""

    def __init__(self, image_class) -> None:
        super().__init__(classes="tile")
        self.image_class = image_class
        self.index = -1  # of the result it shows
        self.hit = None
        self.thumbnail = None
        self.display = False  # shown once it holds a result

    def compose(self) -> ComposeResult:
        yield self.image_class(None, classes="art")
        yield Label("", classes="title")
        yield Label("", classes="meta")

    def show(self, index: int, hit, thumbnail) -> None:
        """Hold a result; what did not change is not touched (each change costs a redraw)."""
        self.index = index
        if hit is not self.hit:
            self.hit = hit
            first = hit.tracks[0] if hit.tracks else None
            title = first["name"] if first else (hit.path or hit.cover).rsplit("/", 1)[-1]
            artist = ", ".join(first["artists"]) if first else "local file"
            more = f" +{len(hit.tracks) - 1}" if len(hit.tracks) > 1 else ""
            self.query_one(".title", Label).update(clean(title), layout=False)  # fixed size: no relayout
            self.query_one(".meta", Label).update(f"{clean(artist)[:TILE_WIDTH - 12]}{more} · {hit.score:.3f}",
                                                  layout=False)
        if thumbnail is not self.thumbnail:
            self.thumbnail = thumbnail
            self.query_one(".art").image = thumbnail


class CoverGrid(Widget, can_focus=True):
    """Result tiles in a grid that reflows with the width; arrows and h/j/k/l move the selection.

    Only the rows on screen have tiles: moving past the last row binds the same tiles to the next
    results, so a search or a scroll redraws a screenful of tiles however many results there are.
    """

    BINDINGS = [
        ("left,h", "move(-1, 0)", "Left"), ("right,l", "move(1, 0)", "Right"),
        ("up,k", "move(0, -1)", "Up"), ("down,j", "move(0, 1)", "Down"),
        Binding("pageup", "page(-1)", "Page up", show=False), Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "move_to(0)", "First", show=False), Binding("end", "move_to(-1)", "Last", show=False),
    ]
    selected: reactive[int] = reactive(0)

    def __init__(self, image_class, **kwargs) -> None:
        super().__init__(**kwargs)
        self.image_class = image_class
        self.hits: list = []
        self.thumbnails: list = []
        self.tiles: list[CoverTile] = []
        self.top = 0  # the first row of results on screen
        self._mounting = asyncio.Lock()
        # Tiles on screen, the part-visible row included: the results that need a thumbnail first.
        # A plain number, set on the UI thread, that the search worker reads.
        self.page_size = 12

    def compose(self) -> ComposeResult:
        yield Static("", id="empty")
        yield Vertical(id="tiles")

    @property
    def columns(self) -> int:
        return max(1, self.content_size.width // TILE_WIDTH)

    @property
    def rows(self) -> int:
        """Rows wholly on screen (one more, cut off at the bottom, is drawn when it fits in part)."""
        return max(1, self.content_size.height // TILE_HEIGHT)

    async def show(self, hits, thumbnails, empty_message: str = "", keep_selection: bool = False) -> None:
        """Show results; `thumbnails` may cover only the first ones (add_thumbnails brings the rest).

        `keep_selection`: the same query again (covers were added): stay on the selected cover.
        """
        before = self.current.cover if keep_selection and self.current is not None else None
        self.hits = hits
        self.thumbnails = list(thumbnails[:len(hits)]) + [None] * (len(hits) - len(thumbnails))
        self.top = 0
        self.set_reactive(CoverGrid.selected, next((i for i, h in enumerate(hits) if h.cover == before), 0))
        self.query_one("#empty", Static).update(empty_message or "No matching covers.")
        self.query_one("#empty").display = not hits
        self.query_one("#tiles").display = bool(hits)
        await self._draw()

    def add_thumbnails(self, hits, start: int, thumbnails: list) -> None:
        """Thumbnails of results past the first screenful, decoded after them; ignored if stale."""
        if hits is not self.hits:
            return
        self.thumbnails[start:start + len(thumbnails)] = thumbnails
        self._bind()

    async def on_resize(self) -> None:
        await self._draw()

    async def _draw(self) -> None:
        """Enough tiles for the screen (mounted once, reused), then bind them to the results."""
        self.page_size = self.columns * max(1, -(-self.content_size.height // TILE_HEIGHT))
        wanted = min(self.page_size, len(self.hits))
        async with self._mounting:
            if len(self.tiles) < wanted:
                fresh = [CoverTile(self.image_class) for _ in range(len(self.tiles), wanted)]
                await self.query_one("#tiles").mount_all(fresh)
                self.tiles += fresh  # only now: a tile is bound once its children exist
        self.query_one("#tiles").styles.grid_size_columns = self.columns
        self._scroll_to(self.selected)
        self._bind()

    def _scroll_to(self, index: int) -> None:
        row = index // self.columns
        last = max(0, (len(self.hits) - 1) // self.columns - self.rows + 1)
        self.top = max(0, min(self.top, row, last), row - self.rows + 1)

    def _bind(self) -> None:
        first, count = self.top * self.columns, self.page_size
        with self.app.batch_update():
            for i, tile in enumerate(self.tiles):
                index = first + i
                if i < count and index < len(self.hits):
                    tile.show(index, self.hits[index], self.thumbnails[index])
                    tile.set_class(index == self.selected, "-selected")
                    tile.display = True
                else:
                    tile.display = False
        shown = min(len(self.hits), first + count) - first
        self.border_subtitle = f"{first + 1}–{first + shown} of {len(self.hits)}" if self.hits else ""

    def watch_selected(self, selected: int) -> None:
        self._scroll_to(selected)
        self._bind()

    def action_move(self, dx: int, dy: int) -> None:
        if self.hits:
            target = self.selected + dx + dy * self.columns
            self.selected = max(0, min(len(self.hits) - 1, target))

    def action_page(self, pages: int) -> None:
        self.action_move(0, pages * self.rows)

    def action_move_to(self, index: int) -> None:
        if self.hits:
            self.selected = index % len(self.hits)

    def on_mouse_scroll_down(self, event) -> None:
        event.stop()
        self.action_move(0, 1)

    def on_mouse_scroll_up(self, event) -> None:
        event.stop()
        self.action_move(0, -1)

    def on_click(self, event) -> None:
        tile = next((w for w in event.widget.ancestors_with_self if isinstance(w, CoverTile)), None)
        if tile is not None and tile.display:
            self.focus()
            self.selected = tile.index
            if event.chain == 2:
                self.app.action_details()  # type: ignore[attr-defined]

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
