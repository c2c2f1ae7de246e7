"""Our own image preprocessing: JPEG draft decode, resize, centre crop -> uint8 CHW.

Matches the checkpoint's image processor: CLIPImageProcessor's shortest-edge resize and centre crop,
or SiglipImageProcessor's resize to a fixed height x width (a cover that is not square is squeezed,
as SigLIP was trained); the normalisation (mean/std) runs on the device in ClipModel.encode_pixels. Runs in threads:
PIL and torch release the GIL while decoding and resizing.

The resize is torch's antialiased uint8 kernel where torch has its vectorised version (x86 with
AVX2 or newer): 3.1x faster than PIL's on a 300 px cover (0.28 against 0.87 ms, one thread), which
frees a core for the model. Its pixels are PIL's within 2 levels (0.3% of a 300 px cover's differ
by 1, at most 6% of an upscaled one's), well inside the scores' tolerance, so the vectors keep their
version. Elsewhere torch's generic kernel is
slower than PIL's (1.36 ms), and PIL resizes.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .model import ImageSpec

# Bump when the pixels given to the model change: embeddings are keyed by it.
PREPROCESS_VERSION = 1

_TORCH_MODES = {2: "bilinear", 3: "bicubic"}  # PIL filters torch's antialiased resize reproduces


@lru_cache(maxsize=1)
def fast_resize() -> bool:
    """Whether torch's vectorised uint8 resize runs here (see the module's note)."""
    import torch

    return torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512")


def load_pixels(path: Path, spec: ImageSpec, fast: bool | None = None) -> np.ndarray:
    """(3, crop, crop) uint8 pixels of an image file; raises on unreadable files. `fast`: resize with
    torch (None: where it is the faster one). Only regular files, bounded in bytes and pixels."""
    from ..files import open_image

    with open_image(path) as img:
        if img.format == "JPEG":
            side = max(spec.size, spec.crop)
            img.draft("RGB", (side, side))  # decode at a reduced scale when the file is large
        return _resized(img.convert("RGB") if img.mode != "RGB" else img, spec, fast)


def _resized(rgb, spec: ImageSpec, fast: bool | None) -> np.ndarray:
    w, h = rgb.size
    if spec.fixed:  # (width, height); nothing cropped
        size, (top, left), (height, width) = (spec.crop, spec.size), (0, 0), (spec.size, spec.crop)
    else:
        size = (spec.size, int(spec.size * h / w)) if w <= h else (int(spec.size * w / h), spec.size)
        (top, left), (height, width) = ((size[1] - spec.crop) // 2, (size[0] - spec.crop) // 2), (spec.crop, spec.crop)
    if fast is None:
        fast = spec.resample in _TORCH_MODES and fast_resize()
    if fast and size != (w, h):
        import torch

        hwc = torch.from_numpy(np.array(rgb))  # a writable copy: torch warns on PIL's read-only view
        out = torch.nn.functional.interpolate(hwc.permute(2, 0, 1)[None], size=(size[1], size[0]),
                                              mode=_TORCH_MODES[spec.resample], antialias=True)[0]
        # numpy copies: a torch copy of this size opens an OpenMP team for this thread, beside the model's
        return np.ascontiguousarray(out.numpy()[:, top:top + height, left:left + width])
    if size != (w, h):
        rgb = rgb.resize(size, resample=spec.resample)
    if size != (width, height):
        rgb = rgb.crop((left, top, left + width, top + height))
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8).transpose(2, 0, 1))
