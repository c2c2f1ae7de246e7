"""Covers as kitty graphics, each sent to the terminal once a session and shown again by text.

A picture is transmitted once (PNG, base64, in 4 KiB chunks) with a virtual placement of its size
in cells; the cells then hold Unicode placeholders (U+10EEEE plus diacritics for row and column)
whose foreground colour is the image id. Drawing a cover again, after a search, a scroll or a
repaint, costs a screenful of text and no image data: the terminal keeps the pictures. This is
what textual-image does not do: its widget deletes and sends the PNG again at every render.

The PNGs are made in the search worker (`sixel.prepare` with `payload`), so the UI thread only
looks them up. At most IMAGES pictures are kept in the terminal; the least recently drawn one is
deleted when another comes, and all of them when the app ends.

Textual-free; ui/graphics.py draws with it.
"""

from __future__ import annotations

import base64
import io
import random
from collections import OrderedDict

from .sixel import by_content, content_key

PLACEHOLDER = "\U0010EEEE"
CHUNK = 4096  # base64 characters a message, as the protocol asks
IMAGES = 600  # kept in the terminal: ~110 MiB of kitty's 320 MiB default quota at 220 x 220 px
PAYLOADS = 600  # PNGs kept here, ~20 MB at most
# fmt: off
DIACRITICS = [  # row and column numbers, from kitty's rowcolumn-diacritics.txt
    0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F, 0x0346, 0x034A, 0x034B, 0x034C, 0x0350, 0x0351,
    0x0352, 0x0357, 0x035B, 0x0363, 0x0364, 0x0365, 0x0366, 0x0367, 0x0368, 0x0369, 0x036A, 0x036B, 0x036C, 0x036D,
    0x036E, 0x036F, 0x0483, 0x0484, 0x0485, 0x0486, 0x0487, 0x0592, 0x0593, 0x0594, 0x0595, 0x0597, 0x0598, 0x0599,
    0x059C, 0x059D, 0x059E, 0x059F, 0x05A0, 0x05A1, 0x05A8, 0x05A9, 0x05AB, 0x05AC, 0x05AF, 0x05C4, 0x0610, 0x0611,
    0x0612, 0x0613, 0x0614, 0x0615, 0x0616, 0x0617, 0x0657, 0x0658, 0x0659, 0x065A, 0x065B, 0x065D, 0x065E, 0x06D6,
    0x06D7, 0x06D8, 0x06D9, 0x06DA, 0x06DB, 0x06DC, 0x06DF, 0x06E0, 0x06E1, 0x06E2, 0x06E4, 0x06E7, 0x06E8, 0x06EB,
    0x06EC, 0x0730, 0x0732, 0x0733, 0x0735, 0x0736, 0x073A, 0x073D, 0x073F, 0x0740, 0x0741, 0x0743, 0x0745, 0x0747,
    0x0749, 0x074A, 0x07EB, 0x07EC, 0x07ED, 0x07EE, 0x07EF, 0x07F0, 0x07F1, 0x07F3, 0x0816, 0x0817, 0x0818, 0x0819,
    0x081B, 0x081C, 0x081D, 0x081E, 0x081F, 0x0820, 0x0821, 0x0822, 0x0823, 0x0825, 0x0826, 0x0827, 0x0829, 0x082A,
    0x082B, 0x082C, 0x082D, 0x0951, 0x0953, 0x0954, 0x0F82, 0x0F83, 0x0F86, 0x0F87, 0x135D, 0x135E, 0x135F, 0x17DD,
    0x193A, 0x1A17, 0x1A75, 0x1A76, 0x1A77, 0x1A78, 0x1A79, 0x1A7A, 0x1A7B, 0x1A7C, 0x1B6B, 0x1B6D, 0x1B6E, 0x1B6F,
    0x1B70, 0x1B71, 0x1B72, 0x1B73, 0x1CD0, 0x1CD1, 0x1CD2, 0x1CDA, 0x1CDB, 0x1CE0, 0x1DC0, 0x1DC1, 0x1DC3, 0x1DC4,
    0x1DC5, 0x1DC6, 0x1DC7, 0x1DC8, 0x1DC9, 0x1DCB, 0x1DCC, 0x1DD1, 0x1DD2, 0x1DD3, 0x1DD4, 0x1DD5, 0x1DD6, 0x1DD7,
    0x1DD8, 0x1DD9, 0x1DDA, 0x1DDB, 0x1DDC, 0x1DDD, 0x1DDE, 0x1DDF, 0x1DE0, 0x1DE1, 0x1DE2, 0x1DE3, 0x1DE4, 0x1DE5,
    0x1DE6, 0x1DFE, 0x20D0, 0x20D1, 0x20D4, 0x20D5, 0x20D6, 0x20D7, 0x20DB, 0x20DC, 0x20E1, 0x20E7, 0x20E9, 0x20F0,
    0x2CEF, 0x2CF0, 0x2CF1, 0x2DE0, 0x2DE1, 0x2DE2, 0x2DE3, 0x2DE4, 0x2DE5, 0x2DE6, 0x2DE7, 0x2DE8, 0x2DE9, 0x2DEA,
    0x2DEB, 0x2DEC, 0x2DED, 0x2DEE, 0x2DEF, 0x2DF0, 0x2DF1, 0x2DF2, 0x2DF3, 0x2DF4, 0x2DF5, 0x2DF6, 0x2DF7, 0x2DF8,
    0x2DF9, 0x2DFA, 0x2DFB, 0x2DFC, 0x2DFD, 0x2DFE, 0x2DFF, 0xA66F, 0xA67C, 0xA67D, 0xA6F0, 0xA6F1, 0xA8E0, 0xA8E1,
    0xA8E2, 0xA8E3, 0xA8E4, 0xA8E5, 0xA8E6, 0xA8E7, 0xA8E8, 0xA8E9, 0xA8EA, 0xA8EB, 0xA8EC, 0xA8ED, 0xA8EE, 0xA8EF,
    0xA8F0, 0xA8F1, 0xAAB0, 0xAAB2, 0xAAB3, 0xAAB7, 0xAAB8, 0xAABE, 0xAABF, 0xAAC1, 0xFE20, 0xFE21, 0xFE22, 0xFE23,
    0xFE24, 0xFE25, 0xFE26, 0x10A0F, 0x10A38, 0x1D185, 0x1D186, 0x1D187, 0x1D188, 0x1D189, 0x1D1AA, 0x1D1AB, 0x1D1AC,
    0x1D1AD, 0x1D242, 0x1D243, 0x1D244,
]
# fmt: on
MARKS = [chr(d) for d in DIACRITICS]


def message(payload: str = "", **keys) -> str:
    """One graphics command: ESC _ G keys ; payload ESC \\."""
    return "\x1b_G" + ",".join(f"{k}={v}" for k, v in keys.items()) + (";" + payload if payload else "") + "\x1b\\"


@by_content(PAYLOADS)
def payload(image) -> str:
    """The base64 PNG of `image` (RGB, at the size it is drawn)."""
    png = io.BytesIO()
    image.convert("RGB").save(png, format="PNG", compress_level=6)
    return base64.standard_b64encode(png.getvalue()).decode("ascii")


def transmit(image_id: int, data: str, columns: int, rows: int) -> str:
    """Send a PNG (base64) as image `image_id`, then a virtual placement of `columns` x `rows` cells
    for the placeholders to show. q=2: the terminal answers nothing (Textual reads the input)."""
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)] or [""]
    first = message(chunks[0], a="t", i=image_id, f=100, q=2, m=int(len(chunks) > 1))
    rest = [message(chunk, q=2, m=int(n < len(chunks) - 1)) for n, chunk in enumerate(chunks[1:], 1)]
    return first + "".join(rest) + message(a="p", U=1, i=image_id, c=columns, r=rows, q=2)


def delete(image_id: int) -> str:
    """Delete image `image_id` and free its data."""
    return message(a="d", d="I", i=image_id, q=2)


def placeholder_rows(image_id: int, columns: range, rows: range) -> list[str]:
    """The text of the cells (`columns` x `rows` of the picture) that show image `image_id`; its low 24
    bits are the cells' foreground colour (the caller sets it), its high 8 a third diacritic."""
    high = MARKS[image_id >> 24]
    return ["".join(PLACEHOLDER + MARKS[row] + MARKS[column] + high for column in columns) for row in rows]


def colour(image_id: int) -> tuple[int, int, int]:
    return (image_id >> 16) & 255, (image_id >> 8) & 255, image_id & 255


class Images:
    """The pictures this session put in the terminal, by content and size in cells, least recently
    drawn first. `show` says which id draws a picture and what must be written first (its
    transmission, the deletion of the picture it pushes out), or "" when the terminal has it."""

    def __init__(self, limit: int = IMAGES, wrap=None) -> None:
        self.limit = limit
        self.wrap = wrap or (lambda sequence: sequence)
        self._ids: OrderedDict = OrderedDict()
        self._next = random.randrange(1, 2**31)  # another program in the same terminal has ids of its own

    def show(self, image, columns: int, rows: int) -> tuple[int, str]:
        key = (content_key(image), columns, rows)
        image_id = self._ids.get(key)
        if image_id is not None:
            self._ids.move_to_end(key)
            return image_id, ""
        image_id = self._new_id()
        out = [self.wrap(transmit(image_id, payload(image), columns, rows))]
        self._ids[key] = image_id
        while len(self._ids) > self.limit:
            out.append(self.wrap(delete(self._ids.popitem(last=False)[1])))
        return image_id, "".join(out)

    def _new_id(self) -> int:
        while True:
            self._next = self._next % (2**32 - 1) + 1
            if self._next & 0xFFFFFF:  # a colour of 0 reads as no id
                return self._next

    def ids(self) -> list[int]:
        return list(self._ids.values())

    def release(self) -> str:
        """Delete every picture this session sent (at the end)."""
        out = "".join(self.wrap(delete(image_id)) for image_id in self._ids.values())
        self._ids.clear()
        return out
