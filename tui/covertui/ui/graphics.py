"""The terminal's picture protocol, chosen before the app starts, and the one place that touches
textual-image beyond its public widgets.

The terminal is identified by covertui (terminal.py), not by textual-image, which queries the
terminal when it is imported: inside tmux its kitty query becomes the pane title, and it cannot
tell kitty 0.26 (no placeholders) from 0.35. So textual-image is imported as if stdout were no
terminal, with the cell size covertui measured given through its TEXTUAL_CELL_* variables. The
internals used (the cell size helper, the kitty message writer wrapped for tmux, the sixel widget's
placeholder renderable) are guarded here, checked on 0.12 and its newest source, with a fallback
if a release moves them.
"""

from __future__ import annotations

import os
import sys
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
    reason: str = ""  # why this protocol (doctor shows it)
    hint: str = ""  # what would give real pictures, where they are not shown
    terminal: str = ""


def choose_graphics(choice: str = "auto", detected=None) -> Graphics:
    """The protocol named (kitty, sixel, halfcell, unicode), or for "auto" the one the terminal
    (terminal.identify(), or `detected`) can show."""
    from ..terminal import Choice, identify

    if choice == "auto":
        detected = detected or identify()
    else:
        detected = Choice(choice, "forced (--graphics or COVERTUI_GRAPHICS)", cell=(detected.cell if detected else None))
    _import_textual_image(detected.cell or _ioctl_cell())
    import textual_image.renderable as renderables
    import textual_image.widget as widgets

    protocol = detected.protocol
    if protocol == "kitty" and detected.passthrough and not _wrap_kitty_for_tmux():
        protocol = "halfcell"  # a textual-image that writes kitty graphics some other way: blocks always work
    widget_class = getattr(widgets, CLASS_NAMES[protocol])
    if protocol in TEXT_PROTOCOLS:
        widget_class = with_line_cache(widget_class, getattr(renderables, CLASS_NAMES[protocol]))
    elif protocol == "sixel":
        widget_class = with_sixel_cache(widget_class)
    else:
        widget_class = type(widget_class.__name__, (widget_class,), {"draws_pixels": True},
                            Renderable=getattr(renderables, CLASS_NAMES[protocol]))
    return Graphics(protocol, widget_class, detected.reason, detected.hint, detected.terminal)


def with_sixel_cache(widget_class):
    """textual-image's sixel widget, drawing with ui/sixel.py: encodings cached by content (filled
    ahead of time by the search worker), a tile cut off at the bottom cut from its full encoding, the
    cells under the picture blanked first and the cursor left where the line goes on (textual-image
    leaves those cells unwritten and ends one line too low, so a closed dialog's text stayed in the
    gaps between covers). Falls back to the plain widget where a release moves `_NoopRenderable`."""
    from rich.control import Control
    from rich.segment import Segment
    from textual.css.query import NoMatches
    from textual.dom import NoScreen
    from textual.strip import Strip
    from textual.widget import Widget

    from . import sixel

    try:
        from textual_image.widget.sixel import _NoopRenderable
    except ImportError:
        return widget_class

    class Sixels(Widget, can_focus=False):
        DEFAULT_CSS = "Sixels { width: 100%; height: 100%; }"

        def __init__(self, image) -> None:
            super().__init__()
            self.image = image

        def render_lines(self, crop):
            try:
                if self.image is None or not self.screen.is_active:
                    return []  # under a dialog a picture would be drawn over it
                region = self.screen.find_widget(self).visible_region
            except (NoScreen, NoMatches):
                return []
            cell = cell_size() or CellSize(*DEFAULT_CELL)
            width, height = self.content_size.width * cell.width, self.content_size.height * cell.height
            if not (width and height and crop.width and crop.height):
                return []
            picture = self.image if self.image.size == (width, height) else self.image.resize((width, height))
            data = sixel.encoded(picture)
            if crop.x or crop.width != self.content_size.width:  # cut at the side: rare (an overlay)
                data = sixel.encoded(picture.crop((crop.x * cell.width, crop.y * cell.height,
                                                   crop.right * cell.width, crop.bottom * cell.height)))
            elif crop.y or crop.height != self.content_size.height:  # cut at the bottom: the last row
                data = sixel.top(data, crop.height * cell.height) if not crop.y else sixel.encoded(
                    picture.crop((0, crop.y * cell.height, width, crop.bottom * cell.height)))
            blank = Segment(" " * crop.width, self.rich_style)
            last = [blank, Segment(Control.move_to(region.x, region.y).segment.text), Segment(data),
                    Segment(Control.move_to(region.right, region.bottom - 1).segment.text)]
            return [Strip([blank], crop.width)] * (crop.height - 1) + [Strip(last, crop.width)]

    class SixelImage(widget_class, Renderable=_NoopRenderable):
        draws_pixels = True

        def compose(self):
            yield Sixels(self.image)

    return SixelImage


def square_columns(rows: int, limit: int) -> int:
    """The cells a square picture `rows` cells high is wide, at most `limit`."""
    cell = cell_size() or CellSize(*DEFAULT_CELL)
    return max(1, min(limit, round(rows * cell.height / cell.width)))


def _ioctl_cell() -> tuple[int, int] | None:
    """The cell size from the terminal's window size in pixels, where the terminal fills it in."""
    import fcntl
    import struct
    import termios

    try:
        rows, columns, width, height = struct.unpack("HHHH", fcntl.ioctl(sys.stderr.fileno(), termios.TIOCGWINSZ,
                                                                         b"\0" * 8))  # where Textual draws
    except (OSError, ValueError):
        return None
    return (width // columns, height // rows) if rows and columns and width and height else None


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
    sys.__stdout__ = _NotATerminal(real) if real is not None else None
    try:
        import importlib

        importlib.import_module("textual_image.renderable")
        importlib.import_module("textual_image.widget")  # measures the cell size once, from the variables above
    finally:
        sys.__stdout__ = real


def _wrap_kitty_for_tmux() -> bool:
    """Make textual-image's kitty graphics messages pass through tmux to the outer terminal."""
    from ..terminal import passthrough

    try:
        from textual_image.renderable import tgp

        original = tgp._send_tgp_message
    except (ImportError, AttributeError):
        return False
    if getattr(original, "wrapped_for_tmux", False):
        return True

    def send(*, payload: str | None = None, **kwargs) -> None:
        keys = ",".join(f"{k}={v}" for k, v in kwargs.items() if v is not None)
        sys.__stdout__.write(passthrough(f"\x1b_G{keys}{';' + payload if payload else ''}\x1b\\"))
        sys.__stdout__.flush()

    send.wrapped_for_tmux = True
    tgp._send_tgp_message = send
    return True


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


def sixel_preparer(protocol: str, columns: int, rows: int):
    """For the search worker: encode each thumbnail as the sixel widget will draw it (None otherwise)."""
    if protocol != "sixel":
        return None
    from functools import partial

    from . import sixel

    cell = cell_size() or CellSize(*DEFAULT_CELL)
    size = (square_columns(rows, columns) * cell.width, rows * cell.height)
    return partial(sixel.prepare, size=size)


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
