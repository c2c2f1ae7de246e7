"""covertui in VS Code's terminal engine: xterm.js 6 with its image addon (VS Code's
`terminal.integrated.enableImages`), in headless Chromium, on a real pty (tests/vscode/bridge.mjs).
xterm.js itself answers covertui's queries, decodes the inline images and draws them; the test
reads the screen back as pixels: the first tile is the top result's cover, closing help leaves the
gaps between covers as background, and a font zoom draws the covers again at the new size.

`.ci/run` installs Chromium and the npm packages; elsewhere the test is skipped without them."""

from __future__ import annotations

import base64
import json
import os
import pty
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from covertui.search import Searcher
from test_inline import read_inline

from fake_terminal import _controlling_terminal, app_env

HERE = Path(__file__).parent / "vscode"
COVERTUI = str(Path(sys.executable).with_name("covertui"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
READY = shutil.which("node") and Path(CHROMIUM).exists() and (HERE / "node_modules" / "playwright-core").exists()
pytestmark = pytest.mark.skipif(not READY and not os.environ.get("COVERTUI_CI"),
                                reason="needs node, Chromium and `npm ci` in tests/vscode (.ci/run installs them)")


class VSCodeTerminal:
    """covertui on a pty whose other end is xterm.js in Chromium."""

    def __init__(self, env: dict, shots: Path) -> None:
        self.shots = shots
        self.bridge = subprocess.Popen(["node", str(HERE / "bridge.mjs")], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True, env={**os.environ, "CHROMIUM": CHROMIUM})
        self.replies: queue.Queue = queue.Queue()
        self.output = bytearray()
        self.lock = threading.Lock()
        self.ids = 0
        ready = json.loads(self.bridge.stdout.readline())
        self.size = ready["ready"]  # columns, rows, width px, height px
        self.master, slave = pty.openpty()
        self._winsize(slave, self.size)
        self.process = subprocess.Popen([COVERTUI], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                        start_new_session=True, preexec_fn=_controlling_terminal)
        os.close(slave)
        threading.Thread(target=self._from_program, daemon=True).start()
        threading.Thread(target=self._from_terminal, daemon=True).start()

    @staticmethod
    def _winsize(fd: int, size) -> None:
        import fcntl
        import struct
        import termios

        columns, rows, width, height = size
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, width, height))  # as VS Code does

    def _send(self, message: dict) -> None:
        with self.lock:
            self.bridge.stdin.write(json.dumps(message) + "\n")
            self.bridge.stdin.flush()

    def _from_program(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.output += chunk
            try:
                self._send({"out": base64.b64encode(chunk).decode()})
            except (OSError, ValueError):
                return

    def _from_terminal(self) -> None:
        for line in self.bridge.stdout:
            message = json.loads(line)
            if "input" in message:
                os.write(self.master, message["input"].encode())
            else:
                self.replies.put(message)

    def _ask(self, message: dict) -> dict:
        self.ids += 1
        self._send({**message, "id": self.ids})
        reply = self.replies.get(timeout=60)
        assert reply.get("done") == self.ids, reply
        return reply

    def text(self) -> str:
        with self.lock:
            return bytes(self.output).decode("utf-8", "replace")

    def wait_for(self, needle: str, after: int = 0, timeout: float = 60) -> int:
        """The offset of `needle` in the output (past `after`) once it is there."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.text().find(needle, after)
            if found >= 0:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} never appeared; the output ended:\n{self.text()[-2000:]!r}")

    def paste(self, text: str) -> None:
        self._send({"paste": text})

    def press(self, key: str) -> None:
        self._send({"press": key})

    def screenshot(self, name: str) -> np.ndarray:
        path = self.shots / f"{name}.png"
        self._ask({"shot": str(path)})
        return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)

    def zoom(self, font_px: int) -> None:
        """A font zoom: the panel holds fewer, larger cells; the pty learns it (SIGWINCH)."""
        self.size = self._ask({"font": font_px})["size"]
        self._winsize(self.master, self.size)

    @property
    def cell(self) -> tuple[float, float]:
        columns, rows, width, height = self.size
        return width / columns, height / rows

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        try:
            self._send({"quit": True})
        except (OSError, ValueError):
            pass
        try:
            self.bridge.wait(30)
        except subprocess.TimeoutExpired:
            self.bridge.kill()
        os.close(self.master)


def tile_colour(screen: np.ndarray, cell: tuple[float, float], column: int, row: int) -> np.ndarray:
    """The mean colour of the 22 x 11 cells of a cover whose top-left cell is (column, row), from 1."""
    width, height = cell
    x, y = round((column - 1) * width), round((row - 1) * height)
    return screen[y + 2:round(y + 11 * height) - 2, x + 2:round(x + 22 * width) - 2].reshape(-1, 3).mean(0)


def first_tile(terminal: VSCodeTerminal, start: int, end: int, expected: np.ndarray, name: str):
    """The top-left cover drawn last between offsets `start` and `end` and, once the screen shows it
    (the image addon decodes asynchronously), its place (column, row from 1), picture, and mean
    colour on screen."""
    drawn = read_inline(terminal.text()[start:end])
    _, place, _, picture = min(reversed(drawn), key=lambda found: (found[1][1], found[1][0]))
    deadline = time.monotonic() + 30
    while True:
        colour = tile_colour(terminal.screenshot(name), terminal.cell, *place)
        if np.abs(colour - expected).max() < 25 or time.monotonic() > deadline:
            return place, picture, colour
        time.sleep(0.2)


def test_covers_in_vscodes_terminal_engine(synced, cli_env, tmp_path):
    top = Searcher(synced).search("a red cover", top=1).hits[0]
    expected = np.asarray(Image.open(top.path).convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(0)
    env = app_env(cli_env, TERM_PROGRAM="vscode", COLORTERM="truecolor")
    terminal = VSCodeTerminal(env, tmp_path)
    try:
        terminal.wait_for("graphics: iterm")
        browsed = terminal.wait_for("of 40")
        terminal.paste("a red cover")  # one query (typed, each partial query would draw its results)
        asked = terminal.wait_for("covers by best match", browsed)
        shown = terminal.wait_for("of 40", asked)
        place, picture, colour = first_tile(terminal, asked, shown, expected, "results")
        assert np.abs(colour - expected).max() < 25, f"the first tile shows {colour}, not the top cover {expected}"
        assert picture.size == (22 * int(terminal.cell[0]), 11 * int(terminal.cell[1]))

        terminal.press("F1")  # help over the covers, then closed: the gaps between them are background again
        helped = terminal.wait_for("covertui keys", shown)
        terminal.press("Escape")
        terminal.wait_for("\x1b]1337;File=", helped)
        terminal.wait_for("of 40", helped)
        width, height = terminal.cell

        def gaps() -> list[float]:
            """How far from flat the blank column each side of the first cover is (leftover text is not)."""
            screen = terminal.screenshot("help-closed")
            return [float(screen[round((place[1] - 1) * height):round((place[1] + 10) * height),
                                 round((column - 1) * width) + 1:round(column * width) - 1].reshape(-1, 3).std(0).max())
                    for column in (place[0] - 1, place[0] + 22)]

        deadline = time.monotonic() + 30
        while max(gaps()) >= 2 and time.monotonic() < deadline:  # until the closing frame is drawn
            time.sleep(0.2)
        assert max(gaps()) < 2, f"the columns beside a cover are not bare background after help: {gaps()}"

        before = terminal.size
        zoomed_at = len(terminal.text())
        terminal.zoom(20)
        assert terminal.size[0] < before[0] and terminal.cell[0] > before[2] / before[0]
        reflowed = terminal.wait_for("1–6 of 40", zoomed_at)  # 3 x 2 covers, not 5 x 4: the grid laid out again
        _, picture, colour = first_tile(terminal, zoomed_at, reflowed, expected, "zoomed")
        assert picture.size == (22 * int(terminal.cell[0]), 11 * int(terminal.cell[1])), "not drawn at the new size"
        assert np.abs(colour - expected).max() < 25, f"after the zoom the first tile shows {colour}"
        assert all(args["width"] == "22" for _, _, args, _ in read_inline(terminal.text()[zoomed_at:])), \
            "covers cut at the side while the grid reflowed: drawn in vain"
        terminal.press("Control+q")
        assert terminal.process.wait(30) == 0
    finally:
        terminal.close()
