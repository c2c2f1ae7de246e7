"""Covers as sixel, encoded once: a palette per cover by median cut, one pass per colour and band
(textual-image's encoder packs several colours into a pass, which xterm draws with stray-coloured
bits along the top band and shape edges), kept by content so that a cover seen before is never
encoded again, and encoded ahead of time in the search worker so the UI thread only looks tiles up.

Textual-free; ui/graphics.py draws with `encoded()`.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict

import numpy as np

COLOURS = 64  # per cover: a photo tile is ~56 KiB at 220 x 220 px (128: ~75 KiB, alike to the eye), a flat one ~3 KiB
CACHE_SIZE = 600  # tiles: ten screenfuls, ~20 MB at most


def paletted(image):
    """`image` with at most COLOURS colours: median cut on a small copy (a few ms), every pixel then
    mapped to its nearest palette colour."""
    from PIL import Image

    rgb = image.convert("RGB")
    palette = rgb.resize((64, 64), Image.Resampling.BOX).quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT)
    return rgb.quantize(palette=palette, dither=Image.Dither.NONE)


def _band(lines: np.ndarray, colours: np.ndarray, width: int) -> bytes:
    """One band: for each colour present, "#colour" then its sixel characters, lines joined by "$".
    Runs of 4 or more of one character become "!count" + character; a line's trailing "?" (nothing
    to draw) is dropped. Runs are found with numpy, so Python only visits the long ones."""
    flat = lines.ravel()
    size = flat.size
    first = np.ones(size, dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    first[::width] = True  # a run never spans two lines
    starts = np.flatnonzero(first)
    lengths = np.diff(np.append(starts, size))
    trailing = (flat[starts] == 63) & ((starts + lengths) % width == 0)
    keep = (lengths >= 4) | trailing
    starts, lengths, trailing = starts[keep].tolist(), lengths[keep].tolist(), trailing[keep].tolist()
    data = flat.tobytes()
    out, pos, event = [], 0, 0
    for row, colour in enumerate(colours.tolist()):
        end = (row + 1) * width
        out.append(b"#%d" % colour if not row else b"$#%d" % colour)
        while event < len(starts) and starts[event] < end:
            start, length = starts[event], lengths[event]
            out.append(data[pos:start])
            if not trailing[event]:
                out.append(b"!%d%c" % (length, data[start]))
            pos = start + length
            event += 1
        out.append(data[pos:end])
        pos = end
    return b"".join(out)


def encode(image) -> str:
    """One sixel image (DCS q ... ST) of a PIL image."""
    mapped = paletted(image)
    pixels = np.asarray(mapped, dtype=np.int32)
    height, width = pixels.shape
    used = int(pixels.max()) + 1 if pixels.size else 0
    palette = np.array(mapped.getpalette()[:3 * used], dtype=np.int32).reshape(-1, 3) * 100 // 255
    out = [b'\x1bP0;1;0q"1;1;%d;%d' % (width, height)]  # P2=1: bits not set leave the pixel as it is
    out += [b"#%d;2;%d;%d;%d" % (i, r, g, b) for i, (r, g, b) in enumerate(palette.tolist())]
    columns = np.arange(width)
    for top in range(0, height, 6):
        band = pixels[top:top + 6]
        weights = np.repeat((1 << np.arange(len(band)))[:, None], width, axis=1)
        bits = np.bincount((band * width + columns).ravel(), weights=weights.ravel(),
                           minlength=used * width).reshape(used, width).astype(np.uint8)
        present = np.flatnonzero(bits.any(axis=1))
        out.append(_band(bits[present] + 63, present, width) + b"-")  # 63, "?": no pixel of that colour
    out.append(b"\x1b\\")
    return b"".join(out).decode("ascii")


def content_key(image) -> bytes:
    """A picture's identity: its pixels, mode and size (kitty.py keys by it too)."""
    return hashlib.blake2b(image.tobytes(), digest_size=16, person=b"%s%dx%d" % (image.mode.encode(), *image.size)).digest()


def by_content(limit: int):
    """Keep what `encode(image)` gives for the `limit` pictures used last, by content: the same
    pixels are never encoded twice. The wrapped function's `stats` count encodings and reuses; its
    `clear()` forgets them (the pictures are drawn at another size now)."""
    def wrap(encode):
        cache: OrderedDict = OrderedDict()
        lock = threading.Lock()
        counts = {"encoded": 0, "reused": 0}

        @functools.wraps(encode)
        def cached(image):
            key = content_key(image)
            with lock:
                data = cache.get(key)
                if data is not None:
                    cache.move_to_end(key)
                    counts["reused"] += 1
                    return data
            data = encode(image)
            with lock:
                cache[key] = data
                counts["encoded"] += 1
                while len(cache) > limit:
                    cache.popitem(last=False)
            return data

        def clear() -> None:
            with lock:
                cache.clear()

        cached.stats = counts
        cached.clear = clear
        return cached

    return wrap


encoded = by_content(CACHE_SIZE)(encode)  # the sixel data of a picture (RGB, as the widget scaled and cut it)
stats = encoded.stats


def top(data: str, height: int) -> str:
    """The top `height` pixels of an encoded picture (whole bands of 6, so up to 5 fewer): a cover
    cut off by the bottom of the grid needs no encoding of its own."""
    head, _, body = data.partition('"1;1;')
    size, _, rest = body.partition("#")
    width = size.split(";")[0]
    bands = rest.removesuffix("\x1b\\").split("-")
    return f'{head}"1;1;{width};{height // 6 * 6}#' + "-".join(bands[:height // 6]) + "-\x1b\\"


def prepare(thumbnail, size: tuple[int, int], encode=encoded) -> None:
    """In a worker: encode a thumbnail at the pixel size the widget draws it (with sixel, or
    `encode`: kitty's PNG), so that drawing finds it."""
    if thumbnail is not None:
        encode(thumbnail if thumbnail.size == size else thumbnail.resize(size))
