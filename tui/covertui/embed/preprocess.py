"""Our own image preprocessing: JPEG draft decode, resize, centre crop -> uint8 CHW.

Matches the checkpoint's CLIPImageProcessor (shortest-edge resize, centre crop); the
normalisation (mean/std) runs on the device in ClipModel.encode_pixels. Runs in threads:
PIL releases the GIL while decoding and resizing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model import ImageSpec

# Bump when the pixels given to the model change: embeddings are keyed by it.
PREPROCESS_VERSION = 1


def load_pixels(path: Path, spec: ImageSpec) -> np.ndarray:
    """(3, crop, crop) uint8 pixels of an image file; raises on unreadable files."""
    from PIL import Image

    with Image.open(path) as img:
        if img.format == "JPEG":
            img.draft("RGB", (spec.size, spec.size))  # decode at a reduced scale when the file is large
        rgb = img.convert("RGB")
    w, h = rgb.size
    if w <= h:
        size = (spec.size, int(spec.size * h / w))
    else:
        size = (int(spec.size * w / h), spec.size)
    if size != (w, h):
        rgb = rgb.resize(size, resample=spec.resample)
    w, h = rgb.size
    top, left = (h - spec.crop) // 2, (w - spec.crop) // 2
    rgb = rgb.crop((left, top, left + spec.crop, top + spec.crop))
    return np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1)
