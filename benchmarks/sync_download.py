"""Sync throughput: concurrency N against concurrency 1, same fake library, same run.

The fake image host adds a fixed delay per request (a stand-in for CDN latency) and serves
textured JPEGs with real covers' sizes. Also reports disk per cover against the 640 px variant
the original tool stored.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fake_spotify import FakeSpotify, standard_library  # noqa: E402

from covertui.config import load_settings  # noqa: E402
from covertui.spotify.auth import TokenStore, _stamp  # noqa: E402
from covertui.sync import Selection, sync  # noqa: E402


def run_sync(fake: FakeSpotify, concurrency: int) -> tuple[float, dict, Path]:
    home = Path(tempfile.mkdtemp(prefix="covertui-bench-"))
    settings = load_settings(environ={**fake.env(), "COVERTUI_HOME": str(home),
                                      "COVERTUI_CONCURRENCY": str(concurrency)}, cwd=home)
    TokenStore(settings.paths.token_file).save(_stamp(settings, fake.issue_token()))
    started = time.perf_counter()
    summary = sync(settings, Selection(all=True))
    return time.perf_counter() - started, summary.to_dict(), home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=5000)
    parser.add_argument("--covers", type=int, default=1500)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the image host adds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    library = standard_library(tracks=args.tracks, covers=args.covers, playlists=10, liked=0)
    fake = FakeSpotify(library, image_delay=args.delay, texture=True).start()
    print(f"preparing {args.covers} textured covers ...", flush=True)
    for h in library.covers:  # render once up front, so neither run pays for it
        fake.image(h, 300)
        fake.image(h, 640)
    try:
        fast, summary, home_fast = run_sync(fake, args.concurrency)
        slow, _, home_slow = run_sync(fake, 1)
    finally:
        fake.stop()
    stored = sum(p.stat().st_size for p in (home_fast / "data" / "covers").iterdir())
    big = sum(len(fake.image(h, 640)) for h in library.covers)
    n = summary["covers"]
    print(f"tracks {summary['tracks']}, covers {n}, downloaded {summary['downloaded']}, failed {len(summary['failed'])}")
    print(f"concurrency {args.concurrency}: {fast:6.2f} s ({n / fast:7.1f} covers/s)")
    print(f"concurrency 1 : {slow:6.2f} s ({n / slow:7.1f} covers/s)")
    print(f"speed-up: {slow / fast:.1f}x  (target >= 10x)")
    print(f"disk per cover: {stored / n / 1024:.1f} KiB stored (300 px) vs {big / n / 1024:.1f} KiB for the 640 px "
          f"variant: {big / stored:.1f}x smaller; the original tool stored ~112 KB per track")
    for home in (home_fast, home_slow):
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
