"""The results: cover tiles in a grid that reflows with the width."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from ...models import Hit
from ..plain import plain_lines
from .cover_tile import TILE_HEIGHT, TILE_WIDTH, CoverTile

MOVE = "move between covers (the wheel moves a row; a double click opens details)"
JUMP = "a screen of covers up or down, the first, the last"


class CoverGrid(Widget, can_focus=True):
    """Arrows and h/j/k/l move the selection.

    Only the rows on screen have tiles: moving past the last row binds the same tiles to the next
    results, so a search or a scroll redraws a screenful of tiles however many results there are.
    """

    DEFAULT_CSS = f"""
    CoverGrid {{ border: round $primary-darken-2; align-horizontal: center; }}
    CoverGrid:focus {{ border: round $accent; }}
    CoverGrid #tiles {{ layout: grid; grid-size: 3; grid-columns: {TILE_WIDTH}; grid-gutter: 0 0; height: auto; }}
    CoverGrid #empty {{ padding: 2 4; color: $text-muted; }}
    """  # tiles keep their width, the columns centred: a narrower grid hides the last column until it reflows
    BINDINGS = [
        Binding("left,h", "move(-1, 0)", "Left", tooltip=MOVE),
        Binding("right,l", "move(1, 0)", "Right", tooltip=MOVE),
        Binding("up,k", "move(0, -1)", "Up", tooltip=MOVE),
        Binding("down,j", "move(0, 1)", "Down", tooltip=MOVE),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip=JUMP),
        Binding("pagedown", "page(1)", "Page down", show=False, tooltip=JUMP),
        Binding("home", "move_to(0)", "First", show=False, tooltip=JUMP),
        Binding("end", "move_to(-1)", "Last", show=False, tooltip=JUMP),
        Binding("space", "mark", "Mark", show=False, tooltip="(on the covers) mark or unmark a cover; U unmarks all"),
    ]
    selected: reactive[int] = reactive(0, repaint=False)  # the tiles show it; repainting the grid would resend every picture

    @dataclass
    class PageSizeChanged(Message):
        """The grid now shows this many tiles: the results that need a thumbnail first."""

        page_size: int

    @dataclass
    class MarksChanged(Message):
        """Covers were marked or unmarked; `count` are marked now."""

        count: int

    class DetailsRequested(Message):
        """Show every track of the selected cover (a double click on a tile)."""

    def __init__(self, graphics, **kwargs) -> None:
        super().__init__(**kwargs)
        self.graphics = graphics
        self.hits: list[Hit] = []
        self.thumbnails: list = []
        self.tiles: list[CoverTile] = []
        self.top = 0  # the first row of results on screen
        self._mounting = asyncio.Lock()
        self.page_size = 12  # tiles on screen, the part-visible row included
        self.marked: dict[str, None] = {}  # cover ids, in the order they were marked; kept from search to search

    def compose(self) -> ComposeResult:
        # kept, not queried (as the tiles keep theirs): a draw that awaited may find them removed
        self.empty = Static("", id="empty")
        self.box = Vertical(id="tiles")
        yield from (self.empty, self.box)

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
        self.empty.update(plain_lines(empty_message or "No matching covers."))  # errors quote names and paths
        self.empty.display = not hits
        self.box.display = bool(hits)
        await self._draw()

    def add_thumbnails(self, hits, start: int, thumbnails: list) -> None:
        """Thumbnails of results past the first screenful, decoded after them; ignored if stale."""
        if hits is not self.hits:
            return
        self.thumbnails[start:start + len(thumbnails)] = thumbnails
        self._bind()

    async def on_resize(self) -> None:
        await self._draw()

    def redraw_pictures(self) -> None:
        """Draw every picture again (the terminal lost them)."""
        for tile in self.tiles:
            tile.art.shown = None
            tile.art.refresh()

    def refit(self) -> None:
        """The cell size changed: the pictures square again, drawn in the resize's frame."""
        for tile in self.tiles:
            tile.fit_art()

    async def _draw(self) -> None:
        """Enough tiles for the screen (mounted once, reused), then bind them to the results."""
        page_size = self.columns * max(1, -(-self.content_size.height // TILE_HEIGHT))
        if page_size != self.page_size:
            self.page_size = page_size
            self.post_message(self.PageSizeChanged(page_size))
        wanted = min(self.page_size, len(self.hits))
        async with self._mounting:
            # not once the app stops: Textual stops it before it removes the box (MainScreen.is_live)
            if len(self.tiles) < wanted and self.app.is_running and self.box.is_attached:
                fresh = [CoverTile(self.graphics) for _ in range(len(self.tiles), wanted)]
                await self.box.mount_all(fresh)
                self.tiles += fresh  # only now: a tile is bound once it is mounted
        self.box.styles.grid_size_columns = self.columns
        self.box.styles.width = self.columns * TILE_WIDTH
        self._keep_in_view(self.selected)
        self._bind()

    def _keep_in_view(self, index: int) -> None:
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
                    tile.mark(self.hits[index].cover in self.marked)
                    tile.display = True
                else:
                    tile.display = False
        shown = min(len(self.hits), first + count) - first
        subtitle = f"{first + 1}–{first + shown} of {len(self.hits)}" if self.hits else ""
        if subtitle != self.border_subtitle:  # setting it repaints the whole grid: real pictures are sent again
            self.border_subtitle = subtitle

    def watch_selected(self, selected: int) -> None:
        self._keep_in_view(selected)
        self._bind()

    def action_move(self, dx: int, dy: int) -> None:
        if self.hits:
            target = self.selected + dx + dy * self.columns
            self.selected = max(0, min(len(self.hits) - 1, target))

    def action_mark(self) -> None:
        """Mark the selected cover, or unmark it."""
        if self.current is not None:
            cover = self.current.cover
            if cover in self.marked:
                del self.marked[cover]
            else:
                self.marked[cover] = None
            self._marks_changed()

    def unmark_all(self) -> None:
        self.marked.clear()
        self._marks_changed()

    def _marks_changed(self) -> None:
        self._bind()
        self.post_message(self.MarksChanged(len(self.marked)))

    def marked_in_rank_order(self) -> list[str]:
        """The marked covers: those among the results in their order (each with its copies), then the
        others as marked."""
        shown = [c for h in self.hits if h.cover in self.marked for c in (h.cover, *h.copies)]
        return shown + [c for c in self.marked if c not in set(shown)]

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
                self.post_message(self.DetailsRequested())

    @property
    def current(self) -> Hit | None:
        return self.hits[self.selected] if self.hits and self.selected < len(self.hits) else None
