"""The terminal's picture protocol, chosen before the app starts, and the one place that touches
textual-image beyond its public widgets.

The terminal is identified by covertui (terminal.py), not by textual-image, which queries the
terminal when it is imported: inside tmux its kitty query becomes the pane title, and it cannot
tell kitty 0.26 (no placeholders) from 0.35. So textual-image is imported as if stdout were no
terminal, with the cell size covertui measured given through its TEXTUAL_CELL_* variables.

The widgets are in ui/widgets/art.py. The internals used are guarded here, checked on textual-image
0.12 and its newest source: its cell size helper (a default where it is missing), and Textual's
driver writer (`write_ahead`).
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from ..terminal import DEFAULT_CELL, CellSize, Choice, choose, ioctl_cell, measured_cell, pane_offset, passthrough

TEXT_PROTOCOLS = ("halfcell", "unicode")  # drawn with characters: no pixels of their own
PIXEL_PROTOCOLS = ("kitty", "iterm", "sixel")
log = logging.getLogger(__name__)


class Pane:
    """Where covertui's tmux pane lies in the outer terminal: inline images go through passthrough,
    drawn from the outer terminal's cursor, not the pane's. Read again when the terminal resizes.
    `unsure`: the widgets that drew since tmux was last quiet (it drops what passes through while it
    owes the terminal a redraw), drawn once more when it is (art.InlineArt)."""

    def __init__(self) -> None:
        self.offset: tuple[int, int] = (0, 0)
        self.unsure: dict[int, Any] = {}
        self.quiet: Any = None  # the timer that draws them again
        self.update()

    def update(self) -> None:
        self.offset = pane_offset() or self.offset


@dataclass(frozen=True)
class Graphics:
    protocol: str  # kitty, iterm, sixel, halfcell or unicode
    widget: type  # the widget that draws a cover with it
    kitty: Any = None  # art.KittyPictures: what the app put in the terminal, with kitty graphics
    pane: Pane | None = None  # inline images in tmux: where the pane is
    passthrough: bool = False  # pictures through tmux's passthrough, which tmux does not redraw

    def art(self, classes: str = ""):
        """A new widget that draws a cover (its `image`) with this protocol."""
        if self.kitty is not None:
            return self.widget(None, classes=classes, pictures=self.kitty)
        if self.pane is not None:
            return self.widget(None, classes=classes, pane=self.pane)
        return self.widget(None, classes=classes)

    def remeasure(self, pixels: tuple[int, int] | None = None, cells: tuple[int, int] | None = None) -> bool:
        """After a resize or a font change: the cell size again, from the pixel size the terminal sent
        (`pixels` over `cells`, columns x rows) or its window size; True when it changed, and the
        pictures prepared for the old size are dropped."""
        if self.pane is not None:
            self.pane.update()
        if not self.draws_pixels:
            return False
        cell = None
        if pixels and cells and all(pixels) and all(cells):
            cell = CellSize(pixels[0] // cells[0], pixels[1] // cells[1])
        cell = cell or (CellSize(*found) if (found := ioctl_cell()) else None)
        if cell is None or cell == cell_size():
            return False
        log.info("cell size %dx%d px (was %dx%d)", *cell, *cell_size())
        _CELL[0] = cell
        from . import iterm, kitty, sixel

        for cache in (sixel.encoded, kitty.payload, iterm.payload):
            cache.clear()
        return True

    @property
    def draws_pixels(self) -> bool:
        return getattr(self.widget, "draws_pixels", False)

    @property
    def under_dialogs(self) -> bool:
        """Drawn under a dialog: its screen's background must then stay transparent (kitty)."""
        return getattr(self.widget, "under_dialogs", False)

    def release(self) -> None:
        """Pictures the terminal keeps: deleted now, not at interpreter exit."""
        if self.kitty is not None:
            self.kitty.release()


def choose_graphics(choice: str = "auto", detected: Choice | None = None) -> Graphics:
    """The protocol named (kitty, iterm, sixel, halfcell, unicode), or for "auto" the one the terminal
    (terminal.identify(), or `detected`) can show, and the widget that draws with it."""
    detected = choose(choice, detected)
    cell = measured_cell(detected)
    _import_textual_image(cell)
    if cell:
        _CELL[0] = cell
    from .widgets import art

    widgets = {"halfcell": art.HalfcellArt, "unicode": art.UnicodeArt, "sixel": art.SixelArt, "kitty": art.KittyArt,
               "iterm": art.InlineArt}
    pictures = pane = None
    if detected.protocol == "kitty":
        if os.environ.get("COLORTERM") not in ("truecolor", "24bit"):
            os.environ["COLORTERM"] = "truecolor"  # the placeholders' colour is the image id: not to be rounded
        pictures = art.KittyPictures(passthrough if detected.passthrough else None)
    if detected.protocol == "iterm" and detected.passthrough:
        pane = Pane()
    return Graphics(detected.protocol, widgets[detected.protocol], pictures, pane,
                    detected.passthrough and detected.protocol in ("kitty", "iterm"))


def write_ahead(app, data: str) -> None:
    """Write `data` to the terminal ahead of the frame being drawn: through the driver's writer, which
    the frame goes through next (textual-image writes to stdout itself, which can cut into a frame)."""
    driver = getattr(app, "_driver", None)
    if driver is not None:
        driver.write(data)


def square_columns(rows: int, limit: int) -> int:
    """The cells a square picture `rows` cells high is wide, at most `limit`."""
    cell = cell_size()
    return max(1, min(limit, round(rows * cell.height / cell.width)))


class _NotATerminal:
    """stdout as textual-image sees it while it is imported: no terminal, so nothing is asked."""

    def __init__(self, real) -> None:
        self._real = real

    def isatty(self) -> bool:
        return False

    def __getattr__(self, name):
        return getattr(self._real, name)


def _import_textual_image(cell: tuple[int, int] | None) -> None:
    if "textual_image.widget" in sys.modules:
        return
    if cell:
        os.environ.setdefault("TEXTUAL_CELL_WIDTH", str(cell[0]))
        os.environ.setdefault("TEXTUAL_CELL_HEIGHT", str(cell[1]))
    real = sys.__stdout__
    setattr(sys, "__stdout__", _NotATerminal(real) if real is not None else None)  # noqa: B010  (a Final)
    try:
        import importlib

        importlib.import_module("textual_image.renderable")
        importlib.import_module("textual_image.widget")  # measures the cell size once, from the variables above
    finally:
        setattr(sys, "__stdout__", real)  # noqa: B010


_CELL: list[CellSize | None] = [None]  # the terminal's cell size as last measured: one terminal a process


def cell_size() -> CellSize:
    """The terminal's cell size in pixels as last measured (at the start: as textual-image measured it);
    VT340's where it cannot say."""
    if _CELL[0] is not None:
        return _CELL[0]
    try:
        from textual_image._terminal import get_cell_size

        cell = get_cell_size()
        return CellSize(int(cell.width), int(cell.height))
    except Exception as exc:  # no terminal, or a textual-image release without this helper
        log.debug("no cell size from textual-image: %s", exc)
        return CellSize(*DEFAULT_CELL)


def thumbnail_pixels(protocol: str, columns: int, rows: int) -> int:
    """Pixels of the square thumbnail an image of `columns` x `rows` cells needs: blocks draw 2 pixels
    per cell, graphics protocols real pixels."""
    if protocol in TEXT_PROTOCOLS:
        return 2 * columns
    width, height = cell_size()
    return max(2 * columns, min(320, columns * width, rows * height))


def preparer(protocol: str, columns: int, rows: int):
    """For the search worker: encode each thumbnail as the pixel widget will draw it (None for the text
    protocols, which draw from the thumbnail itself). Asked again after the cell size changed."""
    if protocol not in PIXEL_PROTOCOLS:
        return None
    from functools import partial

    from . import iterm, kitty, sixel

    cell = cell_size()
    size = (square_columns(rows, columns) * cell.width, rows * cell.height)
    encode = {"sixel": sixel.encoded, "kitty": kitty.payload, "iterm": iterm.payload}[protocol]
    return partial(sixel.prepare, size=size, encode=encode)
