"""The terminal's picture protocol, chosen before the app starts, and the one place that touches
textual-image beyond its public widgets.

The terminal is identified by covertui (terminal.py), not by textual-image, which queries the
terminal when it is imported: inside tmux its kitty query becomes the pane title, and it cannot
tell kitty 0.26 (no placeholders) from 0.35. So textual-image is imported as if stdout were no
terminal, with the cell size covertui measured given through its TEXTUAL_CELL_* variables.

Real pixels are drawn by covertui's own widgets (with sixel.py and kitty.py); textual-image draws
the text protocols. The internals used are guarded here, checked on textual-image 0.12 and its
newest source: its cell size helper (a default where it is missing), and Textual's driver writer
(`write_ahead`).
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import NamedTuple

CLASS_NAMES = {"halfcell": "HalfcellImage", "unicode": "UnicodeImage"}  # textual-image's, for the text protocols
TEXT_PROTOCOLS = ("halfcell", "unicode")  # drawn with characters: no pixels of their own
RESEND_AFTER = 0.5  # s without a new kitty picture, in tmux, before the last ones are sent again
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
    from ..terminal import Choice, identify, passthrough

    if choice == "auto":
        detected = detected or identify()
    else:
        detected = Choice(choice, "forced (--graphics or COVERTUI_GRAPHICS)", cell=(detected.cell if detected else None),
                          passthrough=bool(os.environ.get("TMUX")))  # kitty graphics in tmux: wrapped
    _import_textual_image(detected.cell or _ioctl_cell())
    protocol = detected.protocol
    if protocol in TEXT_PROTOCOLS:
        import textual_image.renderable as renderables
        import textual_image.widget as widgets

        name = CLASS_NAMES[protocol]
        widget_class = with_line_cache(getattr(widgets, name), getattr(renderables, name))
    elif protocol == "sixel":
        widget_class = sixel_art()
    else:
        if os.environ.get("COLORTERM") not in ("truecolor", "24bit"):
            os.environ["COLORTERM"] = "truecolor"  # the placeholders' colour is the image id: not to be rounded
        widget_class = kitty_art(passthrough if detected.passthrough else None)
    return Graphics(protocol, widget_class, detected.reason, detected.hint, detected.terminal)


def _pixel_art():
    """The base of covertui's widgets that draw real pixels (textual-image's send a picture again at
    every render): the picture scaled to the cells it fills (the thumbnails come at that size), and
    nothing under a dialog unless the subclass draws with text (sixel would be drawn over the dialog).
    A subclass's `draw(picture, crop, region, cell)` gives the strips."""
    from textual.css.query import NoMatches
    from textual.dom import NoScreen
    from textual.widget import Widget

    class PixelArt(Widget, can_focus=False):
        draws_pixels = True
        under_dialogs = False  # drawn under a dialog (its screen's background then must be transparent)
        shown: tuple | None = None  # what the terminal shows in these cells, where a subclass keeps track

        def __init__(self, image=None, *, classes: str | None = None) -> None:
            super().__init__(classes=classes)
            self._image = image

        @property
        def image(self):
            return self._image

        @image.setter
        def image(self, image) -> None:
            if image is not self._image:
                self._image = image
                self.refresh()

        def on_hide(self) -> None:
            self.shown = None  # other widgets draw where it was

        def render_lines(self, crop):
            try:
                if self._image is None or not (self.under_dialogs or self.screen.is_active):
                    self.shown = None  # the cells are blanked
                    return []
                region = self.screen.find_widget(self).visible_region
            except (NoScreen, NoMatches):
                return []
            cell = cell_size() or CellSize(*DEFAULT_CELL)
            width, height = self.content_size.width * cell.width, self.content_size.height * cell.height
            if not (width and height and crop.width and crop.height):
                return []
            picture = self._image if self._image.size == (width, height) else self._image.resize((width, height))
            return self.draw(picture, crop, region, cell)

    return PixelArt


def sixel_art():
    """Covers drawn with ui/sixel.py: encodings cached by content (filled ahead of time by the search
    worker), a tile cut off at the bottom cut from its full encoding, the cells under the picture
    blanked first and the cursor left where the line goes on (textual-image leaves those cells
    unwritten and ends one line too low, so a closed dialog's text stayed in the gaps between covers)."""
    from rich.control import Control
    from rich.segment import Segment
    from textual.strip import Strip

    from . import sixel

    class SixelArt(_pixel_art()):
        def draw(self, picture, crop, region, cell):
            # The same picture in the same cells, nothing drawn over them since (no dialog or other
            # screen: the screen's resumes count them; no resize): the cursor steps over the cells.
            # A tile whose border changes (the selection) is repainted whole by Textual.
            resumes = getattr(self.screen, "stack_updates", None)  # Textual's; None: always draw
            now = (region, crop, self.app.size, resumes)
            if (self.shown and self.shown[0] is self._image and self.shown[1:] == now and resumes is not None
                    and crop.height > 1):  # one line: a hit test, whose lines are never written
                return [Strip([Segment(f"\x1b[{crop.width}C")], crop.width)] * crop.height
            self.shown = (self._image, *now) if crop.height > 1 else None
            width, height = picture.size
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

    return SixelArt


def kitty_art(wrap=None):
    """Covers drawn with ui/kitty.py: each picture is sent to the terminal once a session and drawn
    again as placeholder text. The transmission goes through Textual's own writer, ahead of the frame
    whose text shows it; `wrap` wraps it for tmux."""
    import atexit
    import sys

    from rich.color import Color
    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from . import kitty

    def release() -> None:  # the app is gone: free the terminal's memory
        leftover = KittyArt.images.release()
        if leftover and sys.__stderr__ is not None and sys.__stderr__.isatty():
            sys.__stderr__.write(leftover)
            sys.__stderr__.flush()

    atexit.register(release)  # run_app calls it at once (the process may end without atexit)

    class KittyArt(_pixel_art()):
        release_terminal = staticmethod(release)
        under_dialogs = True  # text: cut where a dialog lies over it, but its colour must stay as it is
        images = kitty.Images(wrap=wrap)
        unsure: dict = {}  # in tmux: pictures sent since the app was last quiet, id -> what sent them
        quiet = None  # the timer that sends them again

        def draw(self, picture, crop, region, cell):
            image_id, first = self.images.show(picture, self.content_size.width, self.content_size.height)
            if first:
                write_ahead(self.app, first)
                if wrap is not None:  # tmux drops what passes through while it owes the terminal a redraw
                    KittyArt.unsure[image_id] = first
                    if KittyArt.quiet is not None:
                        KittyArt.quiet.stop()
                    KittyArt.quiet = self.app.set_timer(RESEND_AFTER, self.send_again)
            style = Style(color=Color.from_rgb(*kitty.colour(image_id)))
            rows = kitty.placeholder_rows(image_id, range(crop.x, crop.right), range(crop.y, crop.bottom))
            return [Strip([Segment(text, style)], crop.width) for text in rows]

        def send_again(self) -> None:
            """Once quiet (tmux has caught up), the pictures of the last burst once more: a picture
            sent again replaces itself."""
            unsure, KittyArt.unsure, KittyArt.quiet = KittyArt.unsure, {}, None
            kept = set(self.images.ids())
            write_ahead(self.app, "".join(sent for image_id, sent in unsure.items() if image_id in kept))

    return KittyArt


def write_ahead(app, data: str) -> None:
    """Write `data` to the terminal ahead of the frame being drawn: through the driver's writer, which
    the frame goes through next (textual-image writes to stdout itself, which can cut into a frame)."""
    driver = getattr(app, "_driver", None)
    if driver is not None:
        driver.write(data)


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


def preparer(protocol: str, columns: int, rows: int):
    """For the search worker: encode each thumbnail as the sixel or kitty widget will draw it (None
    for the text protocols, which draw from the thumbnail itself)."""
    if protocol not in ("sixel", "kitty"):
        return None
    from functools import partial

    from . import kitty, sixel

    cell = cell_size() or CellSize(*DEFAULT_CELL)
    size = (square_columns(rows, columns) * cell.width, rows * cell.height)
    return partial(sixel.prepare, size=size, encode=sixel.encoded if protocol == "sixel" else kitty.payload)


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
