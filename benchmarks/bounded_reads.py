"""What bounding local reads costs the embedding's decoder: `load_pixels` (covertui's, which reads a
cover through files.open_image: a regular file, at most 64 MiB, at most 25 MP, checked before decoding)
against the same decode and resize from a plain `Image.open(path)`, alternating in one process.

    .venv/bin/python benchmarks/bounded_reads.py --images 512 --rounds 7
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _common import cover_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    from PIL import Image

    from covertui.embed.model import ImageSpec
    from covertui.embed.preprocess import _resized, load_pixels

    spec = ImageSpec(size=224, crop=224, resample=3, mean=(0.5,) * 3, std=(0.5,) * 3)

    def unbounded(path: Path, spec: ImageSpec):  # the code before: PIL opens the path itself
        with Image.open(path) as img:
            if img.format == "JPEG":
                img.draft("RGB", (spec.size, spec.size))
            return _resized(img.convert("RGB") if img.mode != "RGB" else img, spec, None)

    with tempfile.TemporaryDirectory() as folder:
        files = list(cover_files(Path(folder), args.images).values())
        times: dict[str, list[float]] = {"unbounded": [], "bounded": []}
        for _ in range(args.rounds):
            for name, load in (("unbounded", unbounded), ("bounded", load_pixels)):
                started = time.perf_counter()
                for path in files:
                    load(path, spec)
                times[name].append((time.perf_counter() - started) / len(files) * 1000)
    base, new = statistics.median(times["unbounded"]), statistics.median(times["bounded"])
    print(f"{args.images} covers, {args.rounds} rounds, median ms a cover (one thread): "
          f"plain Image.open {base:.3f}, bounded {new:.3f}: {new / base:.3f}x")


if __name__ == "__main__":
    main()
