"""The widgets that draw a cover, one per picture protocol.

Real pixels are drawn by covertui's own widgets, with ui/sixel.py and ui/kitty.py (textual-image's
send a picture again at every render); the text protocols (half-cell blocks, unicode) by
textual-image's widgets, whose lines are kept here by the picture's content.

Import this module only through ui/graphics.py, which imports textual-image first as if stdout were
no terminal (textual-image queries the terminal when it is imported).
"""

from __future__ import annotations

import atexit
import sys
import weakref
from collections import OrderedDict
from typing import Any

from rich.color import Color
from rich.control import Control
from rich.segment import Segment
from rich.style import Style
from textual.css.query import NoMatches
from textual.dom import NoScreen
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget
from textual_image.renderable import HalfcellImage as HalfcellRenderable
from textual_image.renderable import UnicodeImage as UnicodeRenderable
from textual_image.widget import HalfcellImage, UnicodeImage

from .. import iterm, kitty, sixel
from ..graphics import cell_size, write_ahead
from ..sixel import content_key

RESEND_AFTER = 0.5  # s without a new picture, in tmux, before the last ones are sent again
LINE_CACHE_SIZE = 512


class PixelArt(Widget, can_focus=False):
    """The base of the widgets that draw real pixels: the picture scaled to the cells it fills (the
    thumbnails come at that size), and nothing under a dialog unless the subclass draws with text
    (sixel would be drawn over the dialog). A subclass's `draw(picture, crop, region, cell)` gives
    the strips."""

    draws_pixels = True
    under_dialogs = False  # drawn under a dialog (its screen's background then must be transparent)

    def __init__(self, image=None, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._image = image
        self.shown: tuple | None = None  # what the terminal shows in these cells, where a subclass keeps track

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
        cell = cell_size()
        width, height = self.content_size.width * cell.width, self.content_size.height * cell.height
        if not (width and height and crop.width and crop.height):
            return []
        picture = self._image if self._image.size == (width, height) else self._image.resize((width, height))
        return self.draw(picture, crop, region, cell)

    def draw(self, picture, crop, region, cell) -> list[Strip]:
        raise NotImplementedError


class PlacedArt(PixelArt):
    """Pictures the terminal draws from the cursor over the cells (sixel, inline images): the cells
    under the picture blanked first (a closed dialog's text must not stay in the gaps between
    covers), the picture placed at its top-left cell, and the cursor left where the line goes on.
    A subclass's `picture(picture, crop, cell, region)` gives the sequence that draws what `crop`
    shows of `picture` from there.

    Textual renders a widget whenever an update's bounding box touches it, but writes only the
    regions that were refreshed: a render is not proof that the terminal got it. So a picture is
    drawn, and counted as shown, only in a render this widget asked for (`refresh`); a render that
    finds the picture stale without having asked gives blank cells and asks for the next frame."""

    def __init__(self, image=None, *, classes: str | None = None) -> None:
        super().__init__(image, classes=classes)
        self.asked = False  # refreshed since the last render: this render's lines will be written

    def refresh(self, *regions, repaint: bool = True, layout: bool = False, recompose: bool = False):
        self.asked = True
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def draw(self, picture, crop, region, cell) -> list[Strip]:
        # The same picture in the same cells, nothing drawn over them since (no dialog or other
        # screen: the screen's resumes count them; no resize): the cursor steps over the cells.
        # A tile whose border changes (the selection) is repainted whole by Textual.
        resumes = getattr(self.screen, "stack_updates", None)  # Textual's; None: always draw
        now = (region, crop, self.app.size, resumes, cell)
        blank = Segment(" " * crop.width, self.rich_style)
        if crop.height > 1:  # one line: a hit test, whose lines are never written
            asked, self.asked = self.asked, False
            if self.shown and self.shown[0] is self._image and self.shown[1:] == now and resumes is not None:
                return [Strip([Segment(f"\x1b[{crop.width}C")], crop.width)] * crop.height
            if not asked:
                self.shown = None
                self.call_later(self.refresh)
                return [Strip([blank], crop.width)] * crop.height
        self.shown = (self._image, *now) if crop.height > 1 else None
        last = [blank, Segment(self.picture(picture, crop, cell, region)),
                Segment(Control.move_to(region.right, region.bottom - 1).segment.text)]
        return [Strip([blank], crop.width)] * (crop.height - 1) + [Strip(last, crop.width)]

    def picture(self, picture, crop, cell, region) -> str:
        raise NotImplementedError


class SixelArt(PlacedArt):
    """Covers drawn with ui/sixel.py: encodings cached by content (filled ahead of time by the search
    worker), a tile cut off at the bottom cut from its full encoding (textual-image leaves the cells
    under a picture unwritten and ends one line too low)."""

    def picture(self, picture, crop, cell, region) -> str:
        width, _ = picture.size
        data = sixel.encoded(picture)
        if crop.x or crop.width != self.content_size.width:  # cut at the side: rare (an overlay)
            data = sixel.encoded(picture.crop((crop.x * cell.width, crop.y * cell.height,
                                               crop.right * cell.width, crop.bottom * cell.height)))
        elif crop.y or crop.height != self.content_size.height:  # cut at the bottom: the last row
            data = sixel.top(data, crop.height * cell.height) if not crop.y else sixel.encoded(
                picture.crop((0, crop.y * cell.height, width, crop.bottom * cell.height)))
        return Control.move_to(region.x, region.y).segment.text + data


class InlineArt(PlacedArt):
    """Covers drawn as iTerm2 inline images (ui/iterm.py), JPEG or PNG, encoded ahead of time by the
    search worker; a tile cut off shows the part of its picture in sight. In tmux, `pane` says where
    the pane lies in the outer terminal (the images go through passthrough)."""

    def __init__(self, image=None, *, classes: str | None = None, pane=None) -> None:
        super().__init__(image, classes=classes)
        self.pane = pane  # graphics.Pane
        self.again = False  # drawn again once tmux was quiet: not to be drawn a third time

    def picture(self, picture, crop, cell, region) -> str:
        if crop.x or crop.y or crop.width != self.content_size.width or crop.height != self.content_size.height:
            picture = picture.crop((crop.x * cell.width, crop.y * cell.height,
                                    crop.right * cell.width, crop.bottom * cell.height))
        if self.pane is None:
            return iterm.placed(iterm.sequence(picture, crop.width, crop.height), region.x, region.y, None)
        if self.again:
            self.again = False
        else:
            self.pane.unsure[id(self)] = self
            if self.pane.quiet is not None:
                self.pane.quiet.stop()
            self.pane.quiet = self.app.set_timer(RESEND_AFTER, self._draw_again)
        return iterm.placed(iterm.sequence(picture, crop.width, crop.height), region.x, region.y, self.pane.offset)

    def _draw_again(self) -> None:
        """tmux is quiet: the pictures of the last burst once more (it may have dropped some)."""
        unsure, self.pane.unsure, self.pane.quiet = self.pane.unsure, {}, None
        for art in unsure.values():
            if art.is_attached and art.shown is not None:
                art.again, art.shown = True, None
                art.refresh()


class KittyPictures:
    """What one app put in the terminal with kitty graphics: the pictures (ui/kitty.py), and in tmux
    those of the last burst, sent again once tmux is quiet (it drops what passes through while it
    owes the terminal a redraw). `wrap` wraps each sequence for tmux."""

    def __init__(self, wrap=None) -> None:
        self.images = kitty.Images(wrap=wrap)
        self.in_tmux = wrap is not None
        self.unsure: dict[int, str] = {}  # pictures sent since the app was last quiet: id -> what sent them
        self.quiet: Timer | None = None  # the timer that sends them again
        _LIVE.add(self)

    def sent(self, app, image_id: int, data: str) -> None:
        write_ahead(app, data)
        if self.in_tmux:
            self.unsure[image_id] = data
            if self.quiet is not None:
                self.quiet.stop()
            self.quiet = app.set_timer(RESEND_AFTER, lambda: self.send_again(app))

    def send_again(self, app) -> None:
        """Once quiet (tmux has caught up), the pictures of the last burst once more: a picture sent
        again replaces itself."""
        unsure, self.unsure, self.quiet = self.unsure, {}, None
        kept = set(self.images.ids())
        write_ahead(app, "".join(sent for image_id, sent in unsure.items() if image_id in kept))

    def release(self) -> None:
        """The app is gone: free the terminal's memory."""
        leftover = self.images.release()
        if leftover and sys.__stderr__ is not None and sys.__stderr__.isatty():
            sys.__stderr__.write(leftover)
            sys.__stderr__.flush()


_LIVE: weakref.WeakSet[KittyPictures] = weakref.WeakSet()


@atexit.register
def _release_all() -> None:
    """Pictures still in the terminal at exit (ui/run.py releases them at once; the process may end
    without atexit)."""
    for pictures in list(_LIVE):
        pictures.release()


class KittyArt(PixelArt):
    """Covers drawn with ui/kitty.py: each picture is sent to the terminal once a session and drawn
    again as placeholder text. The transmission goes through Textual's own writer, ahead of the frame
    whose text shows it."""

    under_dialogs = True  # text: cut where a dialog lies over it, but its colour must stay as it is

    def __init__(self, image=None, *, classes: str | None = None, pictures: KittyPictures) -> None:
        super().__init__(image, classes=classes)
        self.pictures = pictures

    def draw(self, picture, crop, region, cell) -> list[Strip]:
        image_id, first = self.pictures.images.show(picture, self.content_size.width, self.content_size.height)
        if first:
            self.pictures.sent(self.app, image_id, first)
        style = Style(color=Color.from_rgb(*kitty.colour(image_id)))
        rows = kitty.placeholder_rows(image_id, range(crop.x, crop.right), range(crop.y, crop.bottom))
        return [Strip([Segment(text, style)], crop.width) for text in rows]


class LineCache:
    """Rendered lines by the picture's content, its widget's class and size, and the crop (LRU).

    textual-image turns an image into cells on every frame (~6 ms a tile); a cover at a given size
    always draws the same cells, so a new search redraws from here. Keyed by content, not by the
    image object: a thumbnail evicted from its cache frees its id for the next one."""

    def __init__(self, size: int = LINE_CACHE_SIZE) -> None:
        self.size = size
        self._lines: OrderedDict = OrderedDict()

    def lines(self, key: tuple, render) -> Any:
        lines = self._lines.get(key)
        if lines is None:
            lines = self._lines[key] = render()
            if len(self._lines) > self.size:
                self._lines.popitem(last=False)
        else:
            self._lines.move_to_end(key)
        return lines


LINES = LineCache()


class _KeptLines:
    """For textual-image's text-drawn widgets: their lines from LINES."""

    _content: tuple | None = None  # (a weak reference to the image, its content key): one key an image

    def render_lines(self, crop):
        image = self.image
        if image is None:
            return super().render_lines(crop)
        if self._content is None or self._content[0]() is not image:
            self._content = (weakref.ref(image), content_key(image))
        key = (type(self), self._content[1], self.size, crop)
        return LINES.lines(key, lambda: super(_KeptLines, self).render_lines(crop))


class HalfcellArt(_KeptLines, HalfcellImage, Renderable=HalfcellRenderable):
    """Half-cell blocks: two pixels a cell, in every terminal."""


class UnicodeArt(_KeptLines, UnicodeImage, Renderable=UnicodeRenderable):
    """Unicode blocks."""
