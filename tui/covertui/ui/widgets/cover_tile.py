"""One cover in the results grid: its image, title, artist and score."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label

from ..plain import plain

TILE_WIDTH = 26  # cells, border included
TILE_HEIGHT = 15
ART_WIDTH = TILE_WIDTH - 2  # inside the border
ART_HEIGHT = TILE_HEIGHT - 4  # the border, the title and the meta line


class CoverTile(Vertical):
    """Tiles are reused from search to search: `show` binds one to a result."""

    DEFAULT_CSS = f"""
    CoverTile {{ width: {TILE_WIDTH}; height: {TILE_HEIGHT}; border: round $panel-lighten-2; padding: 0 0; }}
    CoverTile.-marked {{ border: round $success; border-title-color: $success; }}
    CoverTile.-selected {{ border: heavy $accent; }}
    CoverTile .art {{ height: {ART_HEIGHT}; }}
    CoverTile .title {{ width: {ART_WIDTH}; text-style: bold; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }}
    CoverTile .meta {{ width: {ART_WIDTH}; color: $text-muted; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }}
    """

    def __init__(self, graphics) -> None:
        super().__init__()
        self.graphics = graphics
        self.index = -1  # of the result it shows
        self.hit = None
        self.thumbnail = None
        self.display = False  # shown once it holds a result
        # made here, not in compose, and kept, not queried: a tile bound while the app closes may
        # never be composed (seen on a busy machine), or may have lost its children already
        self.art = graphics.art(classes="art")
        self.name_label = Label("", classes="title")
        self.meta_label = Label("", classes="meta")

    def compose(self) -> ComposeResult:
        self.fit_art()
        yield from (self.art, self.name_label, self.meta_label)

    def fit_art(self) -> None:
        """The picture square, as covers (thumbnails) are, for the cell size now, and centred."""
        from ..graphics import square_columns

        columns = square_columns(ART_HEIGHT, ART_WIDTH)
        left = (ART_WIDTH - columns) // 2
        self.art.styles.width = columns
        self.art.styles.margin = (0, ART_WIDTH - columns - left, 0, left)

    def show(self, index: int, hit, thumbnail) -> None:
        """Hold a result; what did not change is not touched (each change costs a redraw)."""
        self.index = index
        if hit is not self.hit:
            self.hit = hit
            more = f" +{len(hit.tracks) - 1}" if len(hit.tracks) > 1 else ""
            copies = f" ×{len(hit.copies) + 1}" if hit.copies else ""  # one picture, several covers
            score = f" · {hit.score:.3f}" if hit.score is not None else ""
            self.name_label.update(plain(hit.title), layout=False)  # fixed size: no relayout
            self.meta_label.update(plain(f"{hit.artists[:TILE_WIDTH - 12]}{more}{copies}{score}"), layout=False)
        if thumbnail is not self.thumbnail:
            self.thumbnail = thumbnail
            self.art.image = thumbnail

    def mark(self, marked: bool) -> None:
        if marked != self.has_class("-marked"):
            self.set_class(marked, "-marked")
            self.border_title = "✓ marked" if marked else None
