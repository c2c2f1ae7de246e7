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

from ..terminal import DEFAULT_CELL, CellSize, Choice, choose, measured_cell, passthrough

TEXT_PROTOCOLS = ("halfcell", "unicode")  # drawn with characters: no pixels of their own
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Graphics:
    protocol: str  # kitty, sixel, halfcell or unicode
    widget: type  # the widget that draws a cover with it
    kitty: Any = None  # art.KittyPictures: what the app put in the terminal, with kitty graphics

    def art(self, classes: str = ""):
        """A new widget that draws a cover (its `image`) with this protocol."""
        if self.kitty is not None:
            return self.widget(None, classes=classes, pictures=self.kitty)
        return self.widget(None, classes=classes)

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
    """The protocol named (kitty, sixel, halfcell, unicode), or for "auto" the one the terminal
    (terminal.identify(), or `detected`) can show, and the widget that draws with it."""
    detected = choose(choice, detected)
    _import_textual_image(measured_cell(detected))
    from .widgets import art

    widgets = {"halfcell": art.HalfcellArt, "unicode": art.UnicodeArt, "sixel": art.SixelArt, "kitty": art.KittyArt}
    pictures = None
    if detected.protocol == "kitty":
        if os.environ.get("COLORTERM") not in ("truecolor", "24bit"):
            os.environ["COLORTERM"] = "truecolor"  # the placeholders' colour is the image id: not to be rounded
        pictures = art.KittyPictures(passthrough if detected.passthrough else None)
    return Graphics(detected.protocol, widgets[detected.protocol], pictures)


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


def cell_size() -> CellSize:
    """The terminal's cell size in pixels as textual-image measured it; VT340's where it cannot say."""
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
    """For the search worker: encode each thumbnail as the sixel or kitty widget will draw it (None
    for the text protocols, which draw from the thumbnail itself)."""
    if protocol not in ("sixel", "kitty"):
        return None
    from functools import partial

    from . import kitty, sixel

    cell = cell_size()
    size = (square_columns(rows, columns) * cell.width, rows * cell.height)
    return partial(sixel.prepare, size=size, encode=sixel.encoded if protocol == "sixel" else kitty.payload)
