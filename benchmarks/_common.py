"""Shared by the benchmarks: a ViT-shaped random checkpoint and textured cover files."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fake_spotify import make_jpeg  # noqa: E402
from tiny_clip import VIT_B32, VIT_L14, make_clip  # noqa: E402

SHAPES = {"vit-b32": VIT_B32, "vit-l14": VIT_L14}


def checkpoint(folder: Path, shape: str) -> Path:
    path = folder / f"random-{shape}"
    if not (path / "config.json").exists():
        make_clip(path, **SHAPES[shape])
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
