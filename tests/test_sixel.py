"""The sixel encoder, read back by a small decoder: every pixel drawn once in its palette colour,
runs compressed, a cut-off tile taken from the full encoding, encodings reused by content; and
the app on a pty answering like xterm, sending a picture again only where its cells were drawn over."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from covertui.ui import sixel

from fake_spotify import make_jpeg
from fake_terminal import FakeTerminal, app_env

COVERTUI = str(Path(sys.executable).with_name("covertui"))


def decode(data: str) -> tuple[np.ndarray, np.ndarray]:
    """(colours as percent RGB, height x width x 3; how often each pixel was drawn) of one sixel image."""
    assert data.startswith("\x1bP") and data.endswith("\x1b\\")
    body = data[data.index("q") + 1:-2]
    size = re.match(r'"1;1;(\d+);(\d+)', body)
    width, height = int(size.group(1)), int(size.group(2))
    pixels = np.zeros((height, width, 3), dtype=int)
    drawn = np.zeros((height, width), dtype=int)
    registers, colour, x, top = {}, None, 0, 0
    for token in re.finditer(r'"[\d;]+|#(\d+)(?:;2;(\d+);(\d+);(\d+))?|!(\d+)([?-~])|([?-~])|(\$)|(-)', body):
        if token.group(1) is not None:
            colour = int(token.group(1))
            if token.group(2) is not None:
                registers[colour] = tuple(int(token.group(i)) for i in (2, 3, 4))
        elif token.group(5) is not None or token.group(7) is not None:
            count, char = (int(token.group(5)), token.group(6)) if token.group(5) else (1, token.group(7))
            bits = ord(char) - 63
            for column in range(x, x + count):
                for row in range(6):
                    if bits >> row & 1 and top + row < height:
                        pixels[top + row, column] = registers[colour]
                        drawn[top + row, column] += 1
            x += count
        elif token.group(8):
            x = 0
        elif token.group(9):
            x, top = 0, top + 6
    return pixels, drawn


def cover() -> Image.Image:
    img = Image.open(io.BytesIO(make_jpeg(7, 300, texture=True))).convert("RGB").resize((60, 45))
    ImageDraw.Draw(img).ellipse([10, 5, 40, 30], fill=(250, 250, 20))
    return img


def test_every_pixel_is_drawn_once_in_its_palette_colour():
    img = cover()
    data = sixel.encode(img)
    pixels, drawn = decode(data)
    assert pixels.shape == (45, 60, 3) and (drawn == 1).all()
    mapped = sixel.paletted(img)
    expected = np.array(mapped.getpalette(), dtype=int).reshape(-1, 3)[np.asarray(mapped)] * 100 // 255
    assert (pixels == expected).all()
    assert "!" in data  # runs are compressed
    assert len(np.unique(np.asarray(mapped))) <= sixel.COLOURS


def test_a_tile_cut_off_at_the_bottom_is_the_top_of_its_encoding():
    data = sixel.encode(cover())
    pixels, drawn = decode(data)
    cut, cut_drawn = decode(sixel.top(data, 20))  # 20 px: 3 whole bands, 18 px
    assert cut.shape == (18, 60, 3) and (cut_drawn == 1).all() and (cut == pixels[:18]).all()


def test_encodings_are_reused_by_content():
    img = cover()
    before = dict(sixel.stats)
    first = sixel.encoded(img)
    again = sixel.encoded(img.copy())  # another object, the same pixels
    other = sixel.encoded(img.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    assert again is first and other != first
    assert sixel.stats["encoded"] - before["encoded"] == 2 and sixel.stats["reused"] - before["reused"] == 1
    sixel.prepare(img.resize((30, 30)), size=(60, 45))  # as the widget will draw it: already there
    assert sixel.stats["encoded"] - before["encoded"] == 3
    sixel.prepare(img.resize((30, 30)), size=(60, 45))
    assert sixel.stats["encoded"] - before["encoded"] == 3


def test_the_app_sends_a_picture_again_only_when_its_cells_were_drawn_over(synced, cli_env):
    """On a pty answering like xterm with sixel: going to the covers repaints the grid (its border
    shows the focus), and the pictures stay (the cursor steps over them); after a dialog, the
    pictures it covered are drawn again."""
    env = app_env(cli_env, term="xterm")
    term = FakeTerminal("xterm-sixel", [COVERTUI], env)
    try:
        term.wait_for("\x1bP0;1;0q", 60)  # pictures
        browsed = len(term.wait_for("of 40", 60))  # the grid's bottom border: drawn after its tiles
        term.type("\x1b[B")  # to the covers
        moved = len(term.wait_for("Right", 30, after=browsed))  # the footer: drawn after the grid
        term.type("?")
        helped = len(term.wait_for("covertui keys", 30, after=moved))
        term.type("\x1b")
        term.wait_for("\x1bP0;1;0q", 30, after=helped)  # the dialog is gone: what it covered is drawn again
        term.type("\x11")
        assert term.process.wait(30) == 0
    finally:
        term.close()
    assert "\x1bP" not in term.text()[browsed:moved], "repainting the grid sent its pictures again"


async def test_a_picture_rendered_but_not_written_is_drawn_in_the_next_frame(synced, monkeypatch):
    """Textual renders a widget whenever an update's bounding box touches it, and writes only the
    regions refreshed (seen on a busy machine: after a dialog closed, a neighbour's update rendered
    the covers, nothing wrote them, and the frame that was written stepped over them, leaving the
    dialog's text in their cells). A render the picture did not ask for must not count it shown."""
    from textual.geometry import Region

    from covertui.ui.app import CovertuiApp
    from covertui.ui.graphics import choose_graphics
    from covertui.ui.widgets import CoverTile
    from covertui.ui.widgets.art import SixelArt

    from conftest import until

    drawn: list[int] = []
    picture = SixelArt.picture
    monkeypatch.setattr(SixelArt, "picture", lambda self, *a: drawn.append(id(self)) or picture(self, *a))
    app = CovertuiApp(synced, choose_graphics("sixel"))
    async with app.run_test(size=(150, 48)) as pilot:
        def arts() -> list[SixelArt]:
            return [tile.art for tile in app.query(CoverTile) if tile.display and tile.art.region.height > 1]

        await until(pilot, lambda: len(arts()) >= 8 and all(art.shown for art in arts()))
        app.screen.stack_updates += 1  # a dialog came and went: what it covered must be drawn again
        for art in arts():  # rendered inside a neighbour's update, never written
            art.render_lines(Region(0, 0, *art.content_size))
        drawn.clear()
        app.screen.refresh()  # the frame that is written
        await until(pilot, lambda: {id(art) for art in arts()} <= set(drawn))
