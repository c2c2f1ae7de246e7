"""iTerm2 inline images (OSC 1337), read back from the bytes the app writes on a pty that answers
like WezTerm, iTerm2 or VS Code's terminal: the first tile is the first result's cover, a picture on
screen is not sent again when the app repaints around it, and a font change (new pixel size,
SIGWINCH) draws the covers again at the new size."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from covertui.search import Searcher
from covertui.ui import iterm

from fake_spotify import make_jpeg
from fake_terminal import FakeTerminal, app_env

COVERTUI = str(Path(sys.executable).with_name("covertui"))
INLINE = re.compile(r"\x1b\[(\d+);(\d+)H\x1b\]1337;File=([^:\x07]*):([A-Za-z0-9+/=]*)\x07")


def read_inline(output: str) -> list[tuple[int, tuple[int, int], dict, Image.Image]]:
    """(offset, (column, row) from 1, the File= arguments, the picture) of each inline image."""
    found = []
    for match in INLINE.finditer(output):
        args = dict(pair.split("=", 1) for pair in match.group(3).split(";"))
        raw = base64.b64decode(match.group(4))
        assert int(args["size"]) == len(raw)
        found.append((match.start(), (int(match.group(2)), int(match.group(1))), args,
                      Image.open(io.BytesIO(raw)).convert("RGB")))
    return found


def test_photos_go_as_jpeg_flat_pictures_as_png_sized_in_cells():
    photo = Image.open(io.BytesIO(make_jpeg(3, size=120))).convert("RGB")
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 120, 3), dtype=np.uint8))
    flat = Image.new("RGB", (120, 120), (200, 30, 40))
    for picture, kind in ((noise, b"\xff\xd8"), (flat, b"\x89PNG"), (photo, None)):
        data, size = iterm.payload(picture)
        raw = base64.b64decode(data)
        assert len(raw) == size and (kind is None or raw.startswith(kind))
        back = np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"), dtype=np.float64)
        assert np.abs(back.mean((0, 1)) - np.asarray(picture, dtype=np.float64).mean((0, 1))).max() < 3
    before = dict(iterm.payload.stats)
    iterm.payload(flat.copy())
    assert iterm.payload.stats["reused"] == before["reused"] + 1  # by content
    assert "width=12;height=6;" in iterm.sequence(flat, 12, 6)
    placed = iterm.placed("X", 3, 4, (10, 2))  # in tmux: moved in the outer terminal, through passthrough
    assert placed == "\x1bPtmux;\x1b\x1b7\x1b\x1b[7;14HX\x1b\x1b8\x1b\\"


@pytest.mark.parametrize("emulator, env_extra", [
    ("wezterm", {}),
    ("iterm2", {"TERM_PROGRAM": "iTerm.app"}),
    ("vscode", {"TERM_PROGRAM": "vscode"}),
])
def test_inline_images_show_the_results_and_follow_a_font_change(emulator, env_extra, synced, cli_env):
    first = Searcher(synced).search("a red cover", top=1).hits[0]
    expected = np.asarray(Image.open(first.path).convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
    env = app_env(cli_env, **env_extra)
    term = FakeTerminal(emulator, [COVERTUI], env, size=(48, 150), pixels=(1500, 960))  # 10 x 20 px cells
    try:
        term.wait_for("graphics: iterm")
        browsed = len(term.wait_for("all covers by"))
        term.type("\x1b[200~a red cover\x1b[201~")
        asked = term.wait_for("covers by best match", 60, after=browsed).index("covers by best match", browsed)
        queried = len(term.wait_for("of 40", 60, after=asked))  # the grid's bottom border: drawn after its tiles
        term.type("\x1b[B")  # to the covers: the grid repaints around its pictures
        moved = len(term.wait_for("Right", 30, after=queried))
        term.resize((38, 115), (1495, 988))  # a font zoom: 13 x 26 px cells, fewer of them
        term.wait_for("\x1b]1337;File=", 60, after=moved)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the covers at the new size: 22 columns of 13 px, 11 rows of 26
            late = [p for p in read_inline(term.text()[moved:]) if p[3].size == (286, 286)]
            if len(late) >= 6:
                break
            time.sleep(0.1)
        term.type("\x11")
        assert term.process.wait(30) == 0
    finally:
        term.close()
    output = term.text()
    pictures = read_inline(output[:moved])
    assert pictures and all(p[3].size == (220, int(p[2]["height"]) * 20) and p[2]["width"] == "22" for p in pictures)
    assert sum(p[2]["height"] == "11" for p in pictures) >= 8, "11 rows of 20 px: 22 columns of 10 px, square"
    first_tile = next(p for p in pictures if asked < p[0] < queried)
    assert np.abs(np.asarray(first_tile[3], dtype=np.float64).reshape(-1, 3).mean(0) - expected).max() < 25
    assert not read_inline(output[queried:moved]), "moving to the covers sent the pictures again"
    assert len(late) >= 6, "after the font change the covers were not drawn at 13 x 26 px cells"


async def test_pictures_through_tmux_are_drawn_again_when_the_pane_gets_the_focus_back(synced, monkeypatch):
    """tmux keeps no picture that passed through it: the app draws a burst of covers once more when
    tmux is quiet, then steps over cells it drew before, and draws them again when the pane gets the
    focus back (focus-in)."""
    from textual import events

    from covertui.ui.app import CovertuiApp
    from covertui.ui.graphics import choose_graphics
    from covertui.ui.widgets import CoverTile

    from conftest import until

    monkeypatch.setenv("TMUX", "/tmp/tmux-0/default,1,0")  # a forced protocol in tmux is wrapped
    graphics = choose_graphics("iterm")
    assert graphics.passthrough and graphics.pane is not None
    app = CovertuiApp(synced, graphics)
    async with app.run_test(size=(150, 48)) as pilot:
        def drawn() -> list:
            return [tile.art.shown for tile in app.query(CoverTile) if tile.display and tile.art.region.height]

        await until(pilot, lambda: len(drawn()) >= 8 and all(drawn()))
        first = drawn()  # tmux drops what passes through while it is behind: once quiet, drawn once more
        await until(pilot, lambda: graphics.pane.quiet is None and all(a is not b for a, b in zip(drawn(), first)))
        before = drawn()
        await pilot.pause()
        assert graphics.pane.quiet is None and all(a is b for a, b in zip(drawn(), before))  # and no more
        app.post_message(events.AppFocus())
        await until(pilot, lambda: all(drawn()) and not any(a is b for a, b in zip(drawn(), before)))


SIXEL_SIZE = re.compile(r'\x1bP0;1;0q"1;1;(\d+);(\d+)')


def picture_sizes(output: str, emulator: str) -> list[tuple[int, int]]:
    """The pixel sizes of the pictures the app sent, in order."""
    if emulator == "xterm-sixel":
        return [(int(w), int(h)) for w, h in SIXEL_SIZE.findall(output)]
    from test_kitty import read_kitty

    pictures = read_kitty(output)[0]
    return [Image.open(io.BytesIO(png)).size for _, (at, _, _, png) in sorted(pictures.items(), key=lambda p: p[1][0])]


@pytest.mark.parametrize("emulator", ["xterm-sixel", "kitty-0.35"])
def test_a_font_change_draws_sixel_and_kitty_covers_at_the_new_size(emulator, synced, cli_env):
    env = app_env(cli_env, term="xterm-kitty" if "kitty" in emulator else "xterm")
    term = FakeTerminal(emulator, [COVERTUI], env, size=(48, 150), pixels=(1500, 960))
    try:
        browsed = len(term.wait_for("of 40", 60))
        term.resize((38, 115), (1495, 988))  # a font zoom: 13 x 26 px cells
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sum(size == (286, 286) for size in
                                                  picture_sizes(term.text()[browsed:], emulator)) < 6:
            time.sleep(0.1)
        term.type("\x11")
        assert term.process.wait(30) == 0
    finally:
        term.close()
    before = picture_sizes(term.text()[:browsed], emulator)
    assert before and all(width == 220 for width, _ in before)
    assert sum(size == (286, 286) for size in picture_sizes(term.text()[browsed:], emulator)) >= 6


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_inline_images_pass_through_a_real_tmux_to_the_panes_place(synced, cli_env, tmp_path):
    """The app in tmux in "WezTerm" (the pty), in a pane below another: tmux hands the wrapped pictures
    on, each placed in the outer terminal where its cells are in the pane."""
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g allow-passthrough on\n")
    env = app_env(cli_env)
    socket = str(tmp_path / "tmux.sock")
    tmux = ["tmux", "-S", socket, "-f", str(conf)]
    term = FakeTerminal("wezterm", [*tmux, "new-session", "-x", "150", "-y", "60", "sleep 60", ";",
                                    "split-window", "-v", "-l", "48", f"{COVERTUI}; sleep 30"], env, size=(60, 150))
    try:
        term.wait_for("graphics: iterm")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(read_inline(term.text())) < 8:
            time.sleep(0.1)
        top = int(subprocess.run([*tmux, "display-message", "-p", "-t", ":.1", "#{pane_top}"], capture_output=True,
                                 text=True).stdout)
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        term.close()
    pictures = read_inline(term.text())
    assert len(pictures) >= 8, "the pictures did not pass through tmux"
    assert "Ptmux;" not in term.text(), "tmux passed the wrapping on"
    assert top >= 11 and all(row > top for _, (_, row), _, _ in pictures), "a picture placed outside the pane"
    rows = sorted({row for _, (_, row), _, _ in pictures})
    assert rows[0] == top + 6  # the query box (3), the grid's border, the tile's border: from 1
