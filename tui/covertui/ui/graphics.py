"""The terminal's picture protocol, chosen before the app starts, and the one place that touches
textual-image beyond its public widgets.

textual-image queries the terminal when it is imported, which is impossible once Textual owns it,
so the choice is made first. Its public API names the widget and renderable classes of each
protocol; the cell size in pixels is internal (`textual_image._terminal`, checked on 0.12 and
0.13) and read only here, with a fallback if a release moves it.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

CLASS_NAMES = {"kitty": "TGPImage", "sixel": "SixelImage", "halfcell": "HalfcellImage", "unicode": "UnicodeImage"}
TEXT_PROTOCOLS = ("halfcell", "unicode")  # drawn with characters: no pixels of their own
DEFAULT_CELL = (10, 20)  # VT340's, what textual-image assumes too when a terminal does not say


class CellSize(NamedTuple):
    width: int
    height: int


@dataclass(frozen=True)
class Graphics:
    protocol: str  # kitty, sixel, halfcell or unicode
    image_class: type  # the widget that draws a cover with it


def choose_graphics(choice: str = "auto") -> Graphics:
    """The protocol named (kitty, sixel, halfcell, unicode), or the one detected for "auto"."""
    import textual_image.renderable as renderables
    import textual_image.widget as widgets

    protocol = choice
    if choice == "auto":
        detected = renderables.Image
        protocol = next((name for name, cls in CLASS_NAMES.items() if getattr(renderables, cls) is detected),
                        "halfcell")
        if os.environ.get("TMUX") and protocol == "kitty":
            # kitty graphics inside tmux need allow-passthrough and placeholder support; halfcell always works
            protocol = "halfcell"
    widget_class = getattr(widgets, CLASS_NAMES[protocol])
    if protocol in TEXT_PROTOCOLS:
        widget_class = with_line_cache(widget_class, getattr(renderables, CLASS_NAMES[protocol]))
    return Graphics(protocol, widget_class)


def cell_size() -> CellSize | None:
    """The terminal's cell size in pixels as textual-image measured it; None where it cannot say."""
    try:
        from textual_image._terminal import get_cell_size

        cell = get_cell_size()
        return CellSize(int(cell.width), int(cell.height))
    except Exception:  # no terminal, or a textual-image release without this helper
        return None


def thumbnail_pixels(protocol: str, columns: int, rows: int) -> int:
    """Pixels of the square thumbnail an image of `columns` x `rows` cells needs: blocks draw 2 pixels
    per cell, graphics protocols real pixels."""
    if protocol in TEXT_PROTOCOLS:
        return 2 * columns
    width, height = cell_size() or DEFAULT_CELL
    return max(2 * columns, min(320, columns * width, rows * height))


_LINES: OrderedDict = OrderedDict()
LINE_CACHE_SIZE = 512


def with_line_cache(widget_class, renderable_class):
    """For the text-drawn protocols (halfcell, unicode): keep each cover's rendered lines.

    textual-image turns the image into cells on every frame (~6 ms a tile); a cover at a given size
    always draws the same cells, so they are kept (LRU) and a new search redraws from the cache.
    sixel and kitty output carry terminal state and are left as they are.
    """

    class Cached(widget_class, Renderable=renderable_class):
        def render_lines(self, crop):
            if self.image is None:
                return super().render_lines(crop)
            key = (widget_class, id(self.image), self.size, crop)
            lines = _LINES.get(key)
            if lines is None:
                lines = _LINES[key] = super().render_lines(crop)
                if len(_LINES) > LINE_CACHE_SIZE:
                    _LINES.popitem(last=False)
            else:
                _LINES.move_to_end(key)
            return lines

    Cached.__name__ = widget_class.__name__
    Cached.__qualname__ = widget_class.__qualname__
    return Cached
