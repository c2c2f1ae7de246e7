"""The app's start and end, as a person meets them: the real `covertui` on a pty (half-cell pictures, a
terminal answering like a plain VT100), a synced library with a ViT-B/32-shaped checkpoint (or
`--shape siglip2-b32`, the CPU default's).

- launch -> first covers on screen (a tile's caption is drawn);
- launch -> the answer to a query typed as soon as the query box is drawn;
- ctrl+q, once the model is in -> the process has ended (the shell's prompt would be back);
- the app's resident memory 3 s after its answer (a CLIP app has loaded torch's text tower by then),
  and its peak.

The first start with a model loads its text tower through transformers and saves it for numpy
(embed/text_fast.py); it is reported apart, and the runs measured come after it.

Baseline in the same run: a bare Textual app on the same pty, launch -> its first frame and
ctrl+q -> ended. Each moment is the median of --runs fresh processes.

    .venv/bin/python benchmarks/app_start.py --covers 581 --runs 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from app_latency import build_library

from _common import checkpoint
from fake_terminal import FakeTerminal

BARE = """
from textual.app import App
from textual.widgets import Static
class Bare(App):
    BINDINGS = [("ctrl+q", "quit")]
    def compose(self):
        yield Static("bare-first-frame")
Bare().run()
"""


def timed(term: FakeTerminal, needle: str, since: float, timeout: float = 120) -> float:
    term.wait_for(needle, timeout)
    return time.monotonic() - since


def ended(term: FakeTerminal) -> float:
    started = time.monotonic()
    term.type("\x11")  # ctrl+q
    term.process.wait(60)
    return time.monotonic() - started


def bare(env: dict) -> tuple[float, float]:
    started = time.monotonic()
    term = FakeTerminal("plain", [sys.executable, "-c", BARE], env, size=(48, 150))
    try:
        first = timed(term, "bare-first-frame", started)
        time.sleep(0.5)
        return first, ended(term)
    finally:
        term.close()


def covertui(env: dict, query: str) -> tuple[float, float, float, float, float]:
    command = str(Path(sys.executable).with_name("covertui"))
    started = time.monotonic()
    term = FakeTerminal("plain", [command, "--graphics", "halfcell"], env, size=(48, 150))
    try:
        term.wait_for("earch covers", 60)  # the cursor sits on the S
        term.type(query)  # at once, as soon as the box is there
        covers = timed(term, "Song ", started)
        answer = timed(term, "covers by best match", started)
        time.sleep(3)
        status = Path(f"/proc/{term.process.pid}/status").read_text()
        memory = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status.splitlines()
                  if line.startswith(("VmRSS", "VmHWM"))}
        return covers, answer, ended(term), memory["VmRSS"], memory["VmHWM"]
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--covers", type=int, default=581)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shape", default="vit-b32", help="vit-b32, or siglip2-b32 (the CPU default's shape)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "covertui-bench")
    args = parser.parse_args()
    model = checkpoint(args.work, args.shape)
    home = Path(tempfile.mkdtemp(prefix="covertui-start-"))
    build_library(home, model, args.covers)
    report(home, model, args.runs)


def report(home: Path, model: Path, runs: int) -> None:
    """Measure and print, for the library in `home` (app_latency.py calls this too)."""
    from covertui.config import load_settings
    from covertui.spotify.auth import TokenStore, _stamp

    from fake_spotify import FakeSpotify, Library

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIPY_", "COVERTUI_", "TMUX"))}
    fake = FakeSpotify(Library(), client_id="bench").start()  # an empty account: the catalog's sources stay
    env.update(COVERTUI_HOME=str(home), COVERTUI_MODEL=str(model), COVERTUI_DEVICE="cpu", HF_HUB_OFFLINE="1",
               TERM="xterm-256color", **fake.env())
    settings = load_settings(environ=env, cwd=home)
    TokenStore(settings.paths.token_file).save(_stamp(settings, fake.issue_token()))
    bares = [bare(env) for _ in range(runs)]
    first_start = covertui(env, "red cover")  # loads the text tower through transformers, saves it for numpy
    apps = [covertui(env, "red cover") for _ in range(runs)]
    median = lambda xs: statistics.median(xs)  # noqa: E731
    bare_first, bare_quit = median([b[0] for b in bares]), median([b[1] for b in bares])
    covers, answer, quit_, rss, peak = (median([a[i] for a in apps]) for i in range(5))
    fake.stop()
    print(f"{model.name} shapes, half-cell, {runs} runs (median); a bare Textual app: "
          f"first frame {bare_first:.2f} s, ctrl+q -> ended {bare_quit:.2f} s")
    print(f"  launch -> first covers      {covers:5.2f} s ({covers / bare_first:.1f}x the bare first frame)   "
          "target <= 1 s")
    print(f"  launch -> answer to a query typed at once {answer:5.2f} s ({answer / bare_first:.1f}x)   target <= 2 s")
    print(f"  ctrl+q -> ended             {quit_:5.2f} s ({quit_ / bare_quit:.1f}x the bare app's)   target <= 0.3 s")
    print(f"  resident memory 3 s after the answer {rss:.0f} MiB, peak {peak:.0f} MiB   bound <= 1 GB (1024 MiB)")
    print(f"  the first start of this model (its text tower through transformers, then saved for numpy): first "
          f"covers {first_start[0]:.2f} s, answer {first_start[1]:.2f} s, ctrl+q {first_start[2]:.2f} s")


if __name__ == "__main__":
    main()
