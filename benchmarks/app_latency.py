"""The app's latency: launch to first frame, to "ready to search" with 10,000 covers, keystroke to
grid drawn; memory of the running app. Each run is a fresh process, driven headless by Pilot.
Baseline in the same run: a bare Textual app's first frame (the framework's own floor).
Targets: first frame <= 0.5 s; keystroke to grid <= 100 ms at 10,000 covers on CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import covertui  # noqa: F401  first, as in the CLI

from _common import checkpoint, make_jpeg

HERE = Path(__file__).resolve().parent


def vector_size(model_path: Path) -> int:
    """The length of the checkpoint's vectors: CLIP's projection, SigLIP's vision width."""
    config = json.loads((model_path / "config.json").read_text())
    return config.get("projection_dim") or config["vision_config"]["hidden_size"]


def build_library(home: Path, model_path: Path, n: int) -> None:
    """A synced library of n covers: catalog, cover files (hard links to 50 images), vectors."""
    from covertui.catalog import Catalog, SourceRecord
    from covertui.config import load_settings
    from covertui.embed.model import model_identity
    from covertui.embed.preprocess import PREPROCESS_VERSION
    from covertui.embed.store import EmbeddingStore
    from covertui.models import Source, Track

    settings = load_settings(environ={"COVERTUI_HOME": str(home)}, cwd=home)
    paths = settings.paths
    paths.covers_dir.mkdir(parents=True, exist_ok=True)
    originals = []
    for i in range(50):
        original = home / f"original{i}.jpg"
        original.write_bytes(make_jpeg(i, 300, texture=True))
        originals.append(original)
    ids = [f"ab67616d00001e02{i:024x}" for i in range(n)]
    for i, cid in enumerate(ids):
        os.link(originals[i % 50], paths.cover_file(cid, "jpg"))
    tracks = [Track(f"t{i}", f"Song {i}", [f"Artist {i % 300}"], f"Album {i}", f"https://open.spotify.com/track/t{i}",
                    f"https://open.spotify.com/album/a{i}", cid, f"https://i.scdn.co/image/{cid}")
              for i, cid in enumerate(ids)]
    with Catalog(paths) as catalog:
        half = n // 2
        catalog.save_sources([Source("liked", "liked", "Liked Songs", "me", half),
                              Source("p1", "playlist", "Everything else", "me", n - half)])
        catalog.save_record("liked", SourceRecord("s", tracks[:half], {}))
        catalog.save_record("p1", SourceRecord("s", tracks[half:], {}))
        catalog.save_selection(["liked", "p1"])
    store = EmbeddingStore(paths, model_identity(model_path, str(model_path)), PREPROCESS_VERSION)
    rng = np.random.default_rng(0)
    size = vector_size(model_path)
    for start in range(0, n, 1000):
        vectors = rng.standard_normal((min(1000, n - start), size), dtype=np.float32)
        store.add(ids[start:start + 1000], vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    store.close()


CHILD = r"""
import os, sys, time, json, asyncio
t0 = float(os.environ["BENCH_T0"])
sys.path.insert(0, os.environ["BENCH_DIR"])
mode = sys.argv[1]
marks = {}
if mode == "bare":
    from textual.app import App
    from textual.widgets import Static
    class Bare(App):
        def compose(self):
            yield Static("hello")
        def on_mount(self):
            self.call_after_refresh(lambda: marks.setdefault("first_frame", time.time() - t0))
    async def main():
        async with Bare().run_test(size=(160, 50)) as pilot:
            while "first_frame" not in marks:
                await pilot.pause(0.001)
    asyncio.run(main())
    print(json.dumps(marks)); sys.exit()

from textual import events
from covertui.config import load_settings
from covertui.ui.app import CovertuiApp
from covertui.ui.graphics import choose_graphics

WORDS = ("cat sun red sea dog car sky war fog ice owl map bee jam oak pen cup gem fox elk "
         "ant bus hat kid lip mud net orb pig rug").split()

class Timed(CovertuiApp):
    def __init__(self, *args):
        super().__init__(*args)
        self.notes = []

    def notify(self, message, **kwargs):
        self.notes.append(message)
        super().notify(message, **kwargs)

    def on_mount(self):  # Textual runs CovertuiApp.on_mount too (handlers of every class in the MRO)
        self.call_after_refresh(lambda: marks.setdefault("first_frame", time.time() - t0))

    def on_main_screen_search_finished(self, event):  # bubbled up once the main screen drew the results
        self.call_after_refresh(lambda: marks.__setitem__("drawn", time.perf_counter()))  # the frame with them

    def on_input_changed(self):
        self.call_after_refresh(lambda: marks.setdefault("echo", time.perf_counter()))  # the frame with the key


async def send_key(app, key):  # as the terminal driver does (no Pilot waits): returns when it was sent
    started = time.perf_counter()
    app.post_message(events.Key(key, key if len(key) == 1 else None))
    return started


async def wait_for(app, done, what):
    deadline = time.time() + 30
    while not done():
        if time.time() > deadline:
            sys.exit(f"timed out waiting for {what}: " + str(app.notes))
        await asyncio.sleep(0.0005)


async def main():
    graphics = choose_graphics("unicode")
    app = Timed(load_settings(), graphics)
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(app, lambda: app.model_ready and not app.searcher.model.numpy_text, "the model")
        marks["ready"] = time.time() - t0
        await pilot.press("escape")  # no Spotify app configured here: "continue without Spotify"
        samples = {"typed": [], "echo": [], "row": []}
        query, grid = app.query_one("#query"), app.main.grid
        for word in WORDS:  # a new query each time: neither its text encoding nor its thumbnails are cached
            query.focus()
            query.value = word[:-1]
            await asyncio.sleep(0.3)
            for mark in ("drawn", "echo"):
                marks.pop(mark, None)
            started = await send_key(app, word[-1])  # the key completing the query
            await wait_for(app, lambda: "drawn" in marks, f"results for {word!r}")
            samples["typed"].append((marks["drawn"] - started) * 1000)
            samples["echo"].append((marks["echo"] - started) * 1000)
            grid.focus()
            grid.selected = grid.columns * (grid.rows - 1)  # the last row wholly on screen
            await asyncio.sleep(0.2)
            top, frame = grid.top, []
            started = await send_key(app, "down")  # to the next row: the tiles are bound to other results
            await wait_for(app, lambda: grid.top != top, "the grid to scroll")
            app.call_after_refresh(lambda: frame.append(time.perf_counter()))
            await wait_for(app, lambda: frame, "the scrolled frame")
            samples["row"].append((frame[0] - started) * 1000)
        marks["samples"] = samples
        marks["rss_mib"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")) / 1024
        marks["hwm_mib"] = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 1024
try:
    asyncio.run(main())
except Exception:
    import traceback
    traceback.print_exc()
    sys.exit(1)
print(json.dumps(marks))
"""


def child(mode: str, env: dict) -> dict:
    env = {**env, "BENCH_T0": repr(time.time()), "BENCH_DIR": str(HERE)}
    out = subprocess.run([sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, timeout=600)
    if out.returncode:
        sys.exit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


_POSITION = __import__("re").compile(rb"\x1b\[(\d+);\d+H")


def quiet(term, since: float, silence: float = 1.0) -> tuple[float, int]:
    """Wait until the app has drawn nothing below the query box (where the cursor blinks) for `silence`
    seconds; returns the time of its last such write after `since`, and the bytes written since."""
    below: dict[int, bool] = term.__dict__.setdefault("below", {})  # write index -> drew below row 3
    while True:
        time.sleep(0.05)
        writes = list(term.writes)
        last, written = since, 0
        for i, (t, offset, n) in enumerate(writes):
            if t < since:
                continue
            written += n
            if i not in below:
                below[i] = n > 4096 or any(int(row) > 3 for row in _POSITION.findall(term.output[offset:offset + n]))
            if below[i]:
                last = t
        if time.monotonic() - last > silence:
            return last, written


def pty_paths(env: dict, words: list[str], protocols: list[str]) -> dict:
    """The real app on a pseudo-terminal that answers like xterm (sixel, 10 x 20 px cells), each picture
    protocol forced: from the key completing a query to the last byte of the redrawn grid, the bytes
    of that redraw, and of a scroll by one row of covers."""
    from fake_terminal import FakeTerminal

    program = str(Path(sys.executable).with_name("covertui"))
    results = {}
    for protocol in protocols:
        term = FakeTerminal("xterm-sixel", [program, "--graphics", protocol], env, size=(48, 150), pixels=(1500, 960))
        try:
            term.wait_for("Set up Spotify access", 60)
            term.type("\x1b")
            term.wait_for("covers indexed", 120)
            quiet(term, time.monotonic())
            typed, sent, scrolled = [], [], []
            for word in words:
                term.type("\x15" + word[:-1])  # ctrl+u clears the input
                quiet(term, time.monotonic())
                started = time.monotonic()
                term.type(word[-1])
                last, written = quiet(term, started)
                typed.append((last - started) * 1000)
                sent.append(written)
            term.type("\x1b[B")  # down: to the covers
            quiet(term, time.monotonic())
            for _ in range(4):
                started = time.monotonic()
                term.type("j")  # the last row on screen, then one past it: the tiles show the next results
                scrolled.append(quiet(term, started)[1])
            started = time.monotonic()
            term.type("l")  # the next cover: only the selection's border moves
            moved = quiet(term, started)[1]
            results[protocol] = {"typed": typed, "bytes": sent, "row_bytes": max(scrolled), "move_bytes": moved}
        finally:
            term.type("\x11")
            term.close()
    return results


def pilot_paths(home: Path, model: Path, env: dict, args) -> None:
    """First frame, ready, key to grid, next row and memory with Pilot; then app_start's report."""
    p = lambda xs, q: float(np.percentile(xs, q))  # noqa: E731
    bare = [child("bare", env)["first_frame"] for _ in range(args.runs)]
    runs = [child("app", env) for _ in range(args.runs)]
    first = [r["first_frame"] for r in runs]
    ready = [r["ready"] for r in runs]
    typed, echo, row = ([s for r in runs for s in r["samples"][k]] for k in ("typed", "echo", "row"))
    print(f"first frame: covertui {p(first, 50):.2f} s (bare Textual app {p(bare, 50):.2f} s, "
          f"{p(first, 50) / p(bare, 50):.2f}x)   target <= 0.5 s")
    print(f"ready to search with {args.covers} covers: {p(ready, 50):.2f} s")
    print(f"from a key sent as the terminal driver does to the app's first frame showing its effect "
          f"({len(typed)} new queries):")
    print(f"  key completing a query -> grid drawn with its results: p50 {p(typed, 50):.0f} ms, "
          f"p95 {p(typed, 95):.0f} ms   target <= 100 ms")
    print(f"  same key -> its echo in the input (the floor: Textual's own key-to-frame): p50 {p(echo, 50):.0f} ms, "
          f"p95 {p(echo, 95):.0f} ms; results/echo {p(typed, 50) / p(echo, 50):.1f}x")
    print(f"  down past the last row -> next row of tiles drawn: p50 {p(row, 50):.0f} ms, p95 {p(row, 95):.0f} ms")
    print(f"memory of the running app: {runs[-1]['rss_mib']:.0f} MiB resident, peak {runs[-1]['hwm_mib']:.0f} MiB")
    from app_start import report

    report(home, model, args.runs)  # launch -> first covers, -> first answer; ctrl+q -> ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--covers", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pty-queries", type=int, default=8)
    parser.add_argument("--protocols", default="halfcell,sixel,kitty,iterm",
                        help="on the pty, comma-separated; the first is the baseline of the ratios")
    parser.add_argument("--pty-only", action="store_true", help="only the pty paths (before/after comparisons)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "covertui-bench")
    args = parser.parse_args()
    model = checkpoint(args.work, "vit-b32")
    home = Path(tempfile.mkdtemp(prefix="covertui-app-"))
    print(f"building a library of {args.covers} covers in {home} ...", flush=True)
    build_library(home, model, args.covers)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIPY_", "COVERTUI_"))}
    env.update(COVERTUI_HOME=str(home), COVERTUI_MODEL=str(model), COVERTUI_DEVICE="cpu", HF_HUB_OFFLINE="1")
    if not args.pty_only:
        pilot_paths(home, model, env, args)
    words = ["cat", "sun", "red", "sea", "dog", "car", "sky", "war", "fog", "ice"][:args.pty_queries]
    protocols = args.protocols.split(",")
    paths = pty_paths(env, words, protocols)
    p = lambda xs, q: float(np.percentile(xs, q))  # noqa: E731
    base = p(paths[protocols[0]]["typed"], 50)
    print("the real app on a pty answering like xterm with sixel (150 x 48 cells of 10 x 20 px), "
          f"{args.pty_queries} new queries each; key completing a query -> last byte of the redrawn grid:")
    for protocol, found in paths.items():
        print(f"  {protocol:>8}: p50 {p(found['typed'], 50):4.0f} ms, p95 {p(found['typed'], 95):4.0f} ms "
              f"({p(found['typed'], 50) / base:.2f}x {protocols[0]}); {p(found['bytes'], 50) / 1024:5.0f} KiB per "
              f"redraw, {found['row_bytes'] / 1024:5.0f} KiB per scrolled row, {found['move_bytes'] / 1024:5.0f} KiB "
              "per move to the next cover")


if __name__ == "__main__":
    main()
