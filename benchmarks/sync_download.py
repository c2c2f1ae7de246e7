"""Sync throughput: concurrency N against concurrency 1, same fake library, same run.

The fake Spotify runs in its own process (as the real one would be elsewhere); its image host
adds a fixed delay per request (a stand-in for CDN latency) and serves textured JPEGs with
real covers' sizes. Also reports disk per cover against the 640 px variant the original tool
stored.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from covertui.config import load_settings
from covertui.spotify.auth import TokenStore, _stamp
from covertui.sync import SyncChoice, sync

ROOT = Path(__file__).resolve().parents[1]


def start_fake(args, ready: Path) -> tuple[subprocess.Popen, dict]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_spotify.py"), "--tracks", str(args.tracks),
                             "--covers", str(args.covers), "--playlists", "10", "--liked", "0", "--texture",
                             "--image-delay", str(args.delay), "--ready-file", str(ready)], stdout=subprocess.DEVNULL)
    while not ready.exists():
        if proc.poll() is not None:
            sys.exit("the fake Spotify did not start")
        time.sleep(0.1)
    return proc, json.loads(ready.read_text())


def run_sync(info: dict, concurrency: int) -> tuple[float, dict, Path]:
    home = Path(tempfile.mkdtemp(prefix="covertui-bench-"))
    settings = load_settings(environ={**info["env"], "COVERTUI_HOME": str(home),
                                      "COVERTUI_CONCURRENCY": str(concurrency)}, cwd=home)
    TokenStore(settings.paths.token_file).save(_stamp(settings, info["token"]))
    started = time.perf_counter()
    summary = sync(settings, SyncChoice(all=True))
    return time.perf_counter() - started, summary.to_dict(), home


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tracks", type=int, default=5000)
    parser.add_argument("--covers", type=int, default=1500)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds the image host adds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="covertui-fake-"))
    print(f"starting the fake Spotify with {args.covers} textured covers ...", flush=True)
    proc, info = start_fake(args, scratch / "ready.json")
    try:
        fast, summary, home_fast = run_sync(info, args.concurrency)
        slow, _, home_slow = run_sync(info, 1)
    finally:
        proc.terminate()
        proc.wait()
    stored = sum(p.stat().st_size for p in (home_fast / "data" / "covers").iterdir())
    big = info["bytes"]["640"]
    n = summary["covers"]
    floor = n * args.delay / args.concurrency
    print(f"tracks {summary['tracks']}, covers {n}, downloaded {summary['downloaded']}, failed {len(summary['failed'])}")
    print(f"concurrency {args.concurrency}: {fast:6.2f} s ({n / fast:7.1f} covers/s; the delay alone needs {floor:.1f} s)")
    print(f"concurrency 1 : {slow:6.2f} s ({n / slow:7.1f} covers/s)")
    print(f"speed-up: {slow / fast:.1f}x  (target >= 10x)")
    print(f"disk per cover: {stored / n / 1024:.1f} KiB stored (300 px) vs {big / n / 1024:.1f} KiB for the 640 px "
          f"variant: {big / stored:.1f}x smaller; the original tool stored ~112 KB per track")
    for home in (home_fast, home_slow, scratch):
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
