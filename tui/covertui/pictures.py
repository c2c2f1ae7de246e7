"""What a cover's picture is, apart from its file: a perceptual hash (the same picture saved at
another size, format or quality hashes alike) and its colour (the dominant hue, for a rainbow order).

Measured once per cover by the sync, after its download, and kept in the catalog. Copies are told by
the hash and a 4 x 4 colour grid, never by embeddings, whose distances differ from model to model.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from .progress import CancelToken, ProgressCallback, Step, no_progress

log = logging.getLogger(__name__)

SIDE = 32  # the hash reads a 32 x 32 grey copy, keeps the 8 x 8 lowest frequencies
SAME_BITS = 7  # hashes at most this many bits apart (of 64; 7 keeps one of 8 bytes equal) are one picture...
SAME_COLOUR = 20  # ...when no square of their 4 x 4 colour grids differs more (of 255): the hash reads
# only lightness, and a series of covers on one template in other colours is not one picture
GREY = -1.0  # the hue of a picture without a colour of its own
SAVE_EVERY = 500


class Picture(NamedTuple):
    hash: int  # 64-bit DCT hash
    hue: float  # degrees, 0-360; GREY where too few pixels have a colour
    light: float  # mean lightness, 0-1
    grid: bytes  # the mean colours of 4 x 4 squares, RGB


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    matrix = np.cos(np.pi * (2 * np.arange(n)[None, :] + 1) * k / (2 * n)) * np.sqrt(2 / n)
    matrix[0] /= np.sqrt(2)
    return matrix


_DCT = _dct_matrix(SIDE)
_BITS = 1 << np.arange(63, -1, -1, dtype=np.uint64)


def measure(path) -> Picture:
    """The hash and colour of one image file (OSError or ValueError if it cannot be read)."""
    from PIL import Image

    from .files import open_image

    with open_image(path) as img:
        img.draft("RGB", (2 * SIDE, 2 * SIDE))  # JPEG decodes at 1/8 size: most of the cost gone
        small = img.convert("RGB").resize((SIDE, SIDE), Image.Resampling.BOX)
    rgb = np.asarray(small, dtype=np.float32)
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    low = (_DCT @ grey @ _DCT.T)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    grid = rgb.reshape(4, SIDE // 4, 4, SIDE // 4, 3).mean(axis=(1, 3)).round().astype(np.uint8).tobytes()
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32).reshape(-1, 3)
    return Picture(int(_BITS[bits].sum()), _dominant_hue(hsv), float(hsv[:, 2].mean() / 255), grid)


def _dominant_hue(hsv: np.ndarray, bins: int = 24) -> float:
    """The hue most of the picture's coloured pixels have (weighted by saturation), in degrees."""
    coloured = hsv[(hsv[:, 1] > 60) & (hsv[:, 2] > 50)]
    if len(coloured) < len(hsv) // 4:  # a black cover with a small red title is not a red cover
        return GREY
    which = (coloured[:, 0] * bins / 256).astype(int)
    weights = np.bincount(which, weights=coloured[:, 1], minlength=bins)
    top = int(weights.argmax())
    chosen = coloured[which == top]
    return float(np.average(chosen[:, 0], weights=chosen[:, 1]) * 360 / 256)


def measure_pictures(files: dict, known: set, save, progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> int:
    """Measure the files (cover id -> path) not in `known`; `save(dict)` receives them in parts, so a
    cancelled run keeps what it measured. Unreadable files are skipped. Returns how many were measured."""
    cancel = cancel or CancelToken()
    todo = [(cid, path) for cid, path in files.items() if cid not in known]
    if not todo:
        return 0
    progress(Step("pictures", 0, len(todo)))
    done: dict = {}
    count = 0

    def one(item):
        try:
            return item[0], measure(item[1])
        except Exception as exc:  # an unreadable file is the embedder's to report
            log.debug("not measured: %s: %s", item[0], exc)
            return item[0], None

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="picture") as pool:
        for start in range(0, len(todo), SAVE_EVERY):
            if cancel.cancelled:
                break
            for cid, picture in pool.map(one, todo[start:start + SAVE_EVERY]):
                if picture is not None:
                    done[cid] = picture
            save(done)
            count += len(done)
            done = {}
            progress(Step("pictures", min(start + SAVE_EVERY, len(todo)), len(todo)))
    return count


def copies(ids: list[str], pictures: dict) -> np.ndarray:
    """For each of `ids`, the position of the first of them showing the same picture (itself when
    none does). Hashes within SAME_BITS share one of 8 bytes (pigeonhole), so only those are compared."""
    group = np.arange(len(ids))
    known = [(i, pictures[cid]) for i, cid in enumerate(ids) if cid in pictures]
    if len(known) < 2:
        return group
    rows = np.array([i for i, _ in known])
    hashes = np.array([p.hash for _, p in known], dtype=np.uint64)
    colours = np.array([np.frombuffer(p.grid, dtype=np.uint8) for _, p in known], dtype=np.float32)
    parent = np.arange(len(known))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for shift in range(0, 64, 8):
        chunk = (hashes >> np.uint64(shift)) & np.uint64(0xFF)
        order = np.argsort(chunk, kind="stable")
        bounds = np.flatnonzero(np.diff(chunk[order])) + 1
        for bucket in np.split(order, bounds):
            if len(bucket) < 2:
                continue
            near = np.triu(_popcount(hashes[bucket][:, None] ^ hashes[bucket][None, :]) <= SAME_BITS, 1)
            firsts, seconds = np.nonzero(near)
            alike = np.abs(colours[bucket[firsts]] - colours[bucket[seconds]]).max(axis=1) <= SAME_COLOUR
            for i, j in zip(firsts[alike], seconds[alike]):
                a, b = root(int(bucket[i])), root(int(bucket[j]))
                if a != b:
                    parent[max(a, b)] = min(a, b)
    for k in range(len(known)):
        group[rows[k]] = rows[root(k)]
    return group


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(values)
    as_bytes = values.view(np.uint8).reshape(-1, 8)
    return np.unpackbits(as_bytes, axis=1).sum(axis=1)
