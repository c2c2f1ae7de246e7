"""Kitty graphics: each picture sent to the terminal once a session and shown again as placeholder
text. Read back from the bytes the app writes on a pty that answers like kitty 0.35: every cell
refers to a picture sent before it, no picture is sent twice, and the first tile is the first
result's cover."""

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
from covertui.ui import kitty

from fake_spotify import make_jpeg
from fake_terminal import FakeTerminal, app_env

COVERTUI = str(Path(sys.executable).with_name("covertui"))
COMMAND = re.compile(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\")
CELLS = re.compile("\x1b\\[([\\d;]*)m((?:\U0010EEEE[^\x1b\n\r]{3})+)")
MARK = {mark: n for n, mark in enumerate(kitty.MARKS)}


def read_kitty(output: str):
    """(pictures sent: {id: (offset, columns, rows, PNG bytes)}, how often each id was sent,
    cells drawn: [(offset, id, row, column)], deleted ids) from what the app wrote."""
    sent, times, deleted, receiving = {}, {}, [], None
    for match in COMMAND.finditer(output):
        keys = dict(pair.split("=", 1) for pair in match.group(1).split(",") if pair)
        if keys.get("a") == "t":
            receiving = int(keys["i"])
            times[receiving] = times.get(receiving, 0) + 1
            sent[receiving] = [match.start(), 0, 0, match.group(2) or ""]
        elif keys.get("a") == "p":
            assert keys["U"] == "1" and int(keys["i"]) in sent, "a placement of a picture never sent"
            sent[int(keys["i"])][1:3] = int(keys["c"]), int(keys["r"])
        elif keys.get("a") == "d":
            deleted.append(int(keys["i"]))
        elif receiving is not None:
            sent[receiving][3] += match.group(2) or ""
        if keys.get("m") == "0":
            receiving = None
    pictures = {i: (at, c, r, base64.b64decode(data)) for i, (at, c, r, data) in sent.items()}
    output = re.sub("\U0010EEEE[^\x1b\x08]{0,3}\x08", "", output)  # tmux draws a cell mark by mark, backing up
    cells = []
    for match in CELLS.finditer(output):
        colour = re.search(r"(?:^|;)38;2;(\d+);(\d+);(\d+)", match.group(1))
        assert colour, f"placeholders without a 24-bit colour: {match.group(1)!r}"
        low = int(colour.group(1)) << 16 | int(colour.group(2)) << 8 | int(colour.group(3))
        text = match.group(2)
        for n in range(0, len(text), 4):
            cells.append((match.start(), MARK[text[n + 3]] << 24 | low, MARK[text[n + 1]], MARK[text[n + 2]]))
    return pictures, times, cells, deleted


def test_a_picture_is_sent_once_and_its_placeholders_name_it():
    images = kitty.Images(limit=2)
    covers = [Image.open(io.BytesIO(make_jpeg(n, size=60))).convert("RGB") for n in range(3)]
    first_id, data = images.show(covers[0], 6, 3)
    pictures, times, _, _ = read_kitty(data)
    assert times == {first_id: 1} and pictures[first_id][1:3] == (6, 3)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pictures[first_id][3])).convert("RGB")),
                          np.asarray(covers[0]))  # PNG: exact
    assert images.show(covers[0].copy(), 6, 3) == (first_id, "")  # the same pixels: nothing to send
    assert images.show(covers[0], 4, 2)[1]  # another size is another placement
    rows = kitty.placeholder_rows(first_id, range(1, 3), range(2, 3))
    row = rows[0]
    assert len(rows) == 1 and row.count(kitty.PLACEHOLDER) == 2
    assert (MARK[row[1]], MARK[row[2]], MARK[row[3]]) == (2, 1, first_id >> 24)
    _, evicting = images.show(covers[1], 6, 3)  # a third picture: the least recently drawn one goes
    assert read_kitty(evicting)[3] == [first_id]
    assert read_kitty(images.show(covers[0], 6, 3)[1])[1]  # so it is sent again when needed
    assert len(read_kitty(images.release())[3]) == 2


def test_kitty_pictures_are_sent_once_and_drawn_again_as_text(synced, cli_env):
    first = Searcher(synced).search("a red cover", top=1).hits[0]
    expected = np.asarray(Image.open(first.path).convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
    env = app_env(cli_env, term="xterm-kitty")
    term = FakeTerminal("kitty-0.35", [COVERTUI], env)
    try:
        term.wait_for("graphics: kitty")
        browsed = len(term.wait_for("all covers by"))  # the first browse, drawn
        term.type("\x1b[200~a red cover\x1b[201~")  # pasted: typed, a busy machine may draw a partial query's results
        queried = len(term.wait_for("covers by best match", 60, after=browsed))
        answered = term.text().index("covers by best match", browsed)  # the results' frame: the title, then tiles
        term.type("\x7f" * len("a red cover"))  # back to browsing: the same covers again
        browsed_again = len(term.wait_for("all covers by", 60, after=queried))
        term.type("\x1b[B")  # to the covers
        term.wait_for("Right", 30, after=browsed_again)
        asked = len(term.text())
        term.type("?")  # help: the covers around it stay
        helped = len(term.wait_for("covertui keys", 30, after=asked))
        for _ in range(300):
            under_help = {i for _, i, _, _ in read_kitty(term.text()[asked:])[2]}
            if len(under_help) >= 6:
                break
            time.sleep(0.1)
        term.type("q")  # closes help: not Escape, which a busy app may read with the next key as alt+that key
        closed = len(term.wait_for(kitty.PLACEHOLDER, 30, after=helped))  # the covers drawn again
        term.type("\x10")  # ctrl+p: the command palette, whose backdrop must not dim the placeholders' colours
        paletted = len(term.wait_for("for commands", 30, after=closed))  # its input's placeholder (the cursor may cut "Search")
        for _ in range(300):
            under_palette = {i for _, i, _, _ in read_kitty(term.text()[paletted:])[2]}
            if len(under_palette) >= 6:
                break
            time.sleep(0.1)
        term.type("\x1b")
        term.type("\x11")
        assert term.process.wait(30) == 0
    finally:
        term.close()
    output = term.text()
    pictures, times, cells, deleted = read_kitty(output)
    assert cells and pictures
    assert max(times.values()) == 1, "a picture was sent twice"
    for at, image_id, row, column in cells:
        assert image_id in pictures and pictures[image_id][0] < at, "a cell drawn before its picture was sent"
        assert row < pictures[image_id][2] and column < pictures[image_id][1]
    assert len(under_help) >= 6, "the covers around the help dialog vanished"
    assert len(under_palette) >= 4, "the covers below the command palette vanished (it hides the top rows)"
    assert not [p for p in pictures.values() if p[0] > browsed_again], \
        "browsing again or closing a dialog sent pictures again"
    first_cell = next(i for at, i, row, column in cells if row == column == 0 and answered < at < browsed_again)
    picture = Image.open(io.BytesIO(pictures[first_cell][3])).convert("RGB")
    assert np.abs(np.asarray(picture, dtype=np.float64).reshape(-1, 3).mean(0) - expected).max() < 25
    assert sorted(deleted) == sorted(pictures), "the app's pictures are deleted when it ends"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_kitty_pictures_pass_through_a_real_tmux(synced, cli_env, tmp_path):
    """The app in tmux in "kitty 0.35" (the pty): tmux hands the wrapped pictures on, and its redraws
    keep the placeholders' 24-bit colour, so every cell names a picture the terminal was sent."""
    conf = tmp_path / "tmux.conf"
    conf.write_text("set -g allow-passthrough on\nset -as terminal-features ',xterm-256color:RGB'\n")
    env = app_env(cli_env)
    socket = str(tmp_path / "tmux.sock")
    term = FakeTerminal("kitty-0.35", ["tmux", "-S", socket, "-f", str(conf), "new-session", "-x", "150", "-y", "48",
                                       f"{COVERTUI}; sleep 30"], env)
    try:
        term.wait_for("graphics: kitty")
        browsed = len(term.wait_for("all covers by"))
        term.type("a red cover")
        term.wait_for("covers by best match", 60, after=browsed)
        term.wait_for(kitty.PLACEHOLDER, 30, after=browsed)
        # tmux may draw a frame's text before the pictures sent ahead of it, and drops what passes through
        # while it owes the terminal a redraw: the app sends them again once it is quiet. Wait for them.
        for _ in range(300):
            pictures, times, cells, _ = read_kitty(term.text())
            if {image_id for _, image_id, _, _ in cells} <= set(pictures):
                break
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "-S", socket, "kill-server"], capture_output=True)
        term.close()
    assert cells
    assert "Ptmux;" not in term.text(), "tmux passed the wrapping on"
    assert {image_id for _, image_id, _, _ in cells} <= set(pictures), "a picture never reached the terminal"
