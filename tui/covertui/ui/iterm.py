"""Covers as iTerm2 inline images (OSC 1337): a JPEG or PNG file sent as base64 and shown over the
cells named, which the terminal scales it to. WezTerm, iTerm2, Warp, mintty, Konsole and VS Code's
terminal draw them.

A photo goes as JPEG (a cover of 220 x 220 px is ~10 KiB, encoded in ~1 ms; sixel's is ~56 KiB in
64 colours), a flat picture of few colours as PNG (smaller, and sharp). Encodings are kept by
content and made ahead of time in the search worker (`sixel.prepare` with `payload`), as sixel's
are, so the UI thread only looks them up.

Textual-free; ui/widgets/art.py draws with it.
"""

from __future__ import annotations

import base64
import io

from .sixel import CACHE_SIZE, by_content

QUALITY = 90  # JPEG: alike to the eye at tile size, a fifth of the PNG
FLAT = 256  # colours: a picture with no more is flat art, sent as PNG


@by_content(CACHE_SIZE)
def payload(image) -> tuple[str, int]:
    """`image` (RGB, at the size it is drawn) as a base64 file, and the file's size in bytes."""
    rgb = image.convert("RGB")
    data = io.BytesIO()
    if rgb.getcolors(FLAT) is not None:
        rgb.save(data, format="PNG", optimize=False, compress_level=6)
    else:
        rgb.save(data, format="JPEG", quality=QUALITY)
    raw = data.getvalue()
    return base64.standard_b64encode(raw).decode("ascii"), len(raw)


def sequence(image, columns: int, rows: int) -> str:
    """The OSC 1337 sequence showing `image` over `columns` x `rows` cells from the cursor."""
    data, size = payload(image)
    return f"\x1b]1337;File=inline=1;size={size};width={columns};height={rows};preserveAspectRatio=0:{data}\x07"


def placed(sequence: str, x: int, y: int, offset: tuple[int, int] | None) -> str:
    """`sequence` drawn with its top-left cell at column `x`, row `y` (from 0). In tmux (`offset`: the
    pane's left and top in the outer terminal), inside passthrough, where tmux's cursor is not the
    pane's: the outer cursor is moved there and put back."""
    if offset is None:
        return f"\x1b[{y + 1};{x + 1}H{sequence}"
    from ..terminal import passthrough

    left, top = offset
    return passthrough(f"\x1b7\x1b[{y + top + 1};{x + left + 1}H{sequence}\x1b8")
