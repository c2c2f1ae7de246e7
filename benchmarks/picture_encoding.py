"""A cover's picture for each pixel protocol, encoded once as the search worker does: time per cover
and bytes per cover, sixel (covertui's encoder, 64 colours) as the baseline in the same run, against
kitty's PNG and the inline image (JPEG for photos, PNG for flat art) at 220 x 220 px (11 rows of 20 px).
"""

from __future__ import annotations

import argparse
import io
import time

from PIL import Image

from _common import make_jpeg


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--covers", type=int, default=60)
    parser.add_argument("--size", type=int, default=220)
    args = parser.parse_args()
    from covertui.ui import iterm, kitty, sixel

    encoders = {"sixel": lambda image: sixel.encode(image),
                "kitty PNG": lambda image: kitty.payload.__wrapped__(image),
                "inline": lambda image: iterm.payload.__wrapped__(image)[0]}  # uncached: each cover encoded once
    for kind, texture in (("photo-like (noise-textured)", True), ("flat", False)):
        covers = [Image.open(io.BytesIO(make_jpeg(i, 300, texture=texture))).convert("RGB").resize((args.size,) * 2)
                  for i in range(args.covers)]
        results = {}
        for name, encode in encoders.items():
            started = time.perf_counter()
            sizes = [len(encode(cover)) for cover in covers]
            results[name] = ((time.perf_counter() - started) * 1000 / len(covers), sum(sizes) / len(sizes) / 1024)
        base_ms, base_kib = results["sixel"]
        print(f"{args.covers} {kind} covers at {args.size} x {args.size} px, per cover:")
        for name, (ms, kib) in results.items():
            print(f"  {name:>9}: {ms:6.2f} ms ({ms / base_ms:.2f}x sixel), {kib:6.1f} KiB sent ({kib / base_kib:.2f}x)")


if __name__ == "__main__":
    main()
