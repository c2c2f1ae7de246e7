"""Shared by the benchmarks: a random checkpoint shaped as a real one (CLIP ViT-B/32, L/14; SigLIP 2
B/32-256, SO400M/16-256) and textured cover files."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tiny_siglip import SIGLIP2_B32, SIGLIP2_SO400M, make_siglip  # noqa: E402

from fake_spotify import make_jpeg  # noqa: E402
from tiny_clip import VIT_B32, VIT_L14, make_clip  # noqa: E402

SHAPES = {"vit-b32": (make_clip, VIT_B32), "vit-l14": (make_clip, VIT_L14),
          "siglip2-b32": (make_siglip, SIGLIP2_B32), "siglip2-so400m": (make_siglip, SIGLIP2_SO400M)}


def checkpoint(folder: Path, shape: str) -> Path:
    path = folder / f"random-{shape}"
    if not (path / "config.json").exists():
        make, sizes = SHAPES[shape]
        make(path, **sizes)
    return path


def cover_files(folder: Path, n: int) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for i in range(n):
        path = folder / f"c{i:06d}.jpg"
        if not path.exists():
            path.write_bytes(make_jpeg(i, 300, texture=True))
        files[f"c{i:06d}"] = path
    return files
