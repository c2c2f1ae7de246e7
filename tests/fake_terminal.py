"""A pseudo-terminal whose other end answers queries the way a given terminal emulator does.

Runs a command on the pty's slave side; a thread reads everything the command writes and answers
XTVERSION (`CSI > q`), the cell size (`CSI 16 t`), the kitty graphics query and DA1 (`CSI c`) as
that emulator would, so covertui's detection meets the same bytes it meets in the real one.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Emulator:
    xtversion: str | None  # the name(version) it answers XTVERSION with; None: it does not
    da1: str | None  # its DA1 answer's parameters; None: it answers nothing at all
    kitty: bool  # answers the kitty graphics query with OK


EMULATORS = {
    "xterm-sixel": Emulator("XTerm(379)", "63;1;2;4;6;9;15;16;22;28", False),  # xterm -ti vt340
    "kitty-0.35": Emulator("kitty(0.35.2)", "62;c;52", True),
    "kitty-0.26": Emulator("kitty(0.26.5)", "62;c;52", True),
    "wezterm": Emulator("WezTerm 20240203-110809-5046fc22", "65;4;6;18;22", True),
    "iterm2": Emulator("iTerm2 3.5.10", "62;4", True),  # answers the kitty query, has no placeholders
    "vscode": Emulator("xterm.js(6.1.0-beta.128)", "62;4;9;22", False),  # VS Code's engine, images on
    "vscode-6.0": Emulator(None, "62;4;9;22", False),  # xterm.js 6.0 says no XTVERSION: TERM_PROGRAM tells
    "vscode-no-images": Emulator("xterm.js(6.1.0-beta.128)", "1;2", False),  # terminal.integrated.enableImages off
    "plain": Emulator(None, "1;2", False),  # a VT100-like terminal: DA1 only
    "silent": Emulator(None, None, False),  # answers nothing (a serial line, a dumb pipe with a tty)
}
_HINTS = ("TMUX", "KITTY_WINDOW_ID", "TERM_PROGRAM", "COLORTERM")  # what tells an app its terminal, beside TERM


def app_env(cli_env: dict, term: str = "xterm-256color", **hints: str) -> dict:
    """The app's environment in a fake terminal: offline, `TERM` as given, and none of the hints of the
    terminal the tests run in, only `hints`."""
    return {**{k: v for k, v in cli_env.items() if k not in _HINTS}, "HF_HUB_OFFLINE": "1", "TERM": term, **hints}


_KITTY_QUERY = re.compile(rb"\x1b_Gi=(\d+)[^\x1b]*a=q[^\x1b]*\x1b\\")


def _controlling_terminal() -> None:
    """In the child, a session leader now: the pty becomes its controlling terminal, as a terminal
    emulator's shell has it, so that a resize reaches it as SIGWINCH."""
    import fcntl
    import termios

    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class FakeTerminal:
    def __init__(self, emulator: str, command: list[str], env: dict, size: tuple[int, int] = (48, 150),
                 pixels: tuple[int, int] = (0, 0)) -> None:
        import fcntl
        import struct
        import termios

        self.emulator = EMULATORS[emulator]
        self.master, slave = pty.openpty()
        rows, columns = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, *pixels))  # (0, 0): asked
        self.process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                                        start_new_session=True, preexec_fn=_controlling_terminal)
        os.close(slave)
        self.output = bytearray()
        self.writes: list[tuple[float, int, int]] = []  # (time.monotonic(), offset, bytes) of each read: benchmarks
        self.queries: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._answer, daemon=True)
        self._reader.start()

    def _answer(self) -> None:
        unread = b""  # output not yet searched for queries (a query may arrive in two reads)
        while True:
            try:
                ready = select.select([self.master], [], [], 0.1)[0]
                chunk = os.read(self.master, 65536) if ready else b""
            except OSError:
                return
            if ready and not chunk:
                return
            with self._lock:
                if chunk:
                    self.writes.append((time.monotonic(), len(self.output), len(chunk)))
                self.output += chunk
            unread += chunk
            found = sorted(self._replies(unread))
            for _, _, query, reply in found:
                self.queries.append(query)
                if reply:
                    os.write(self.master, reply)
            unread = unread[max(end for _, end, _, _ in found):] if found else unread[-64:]

    def _replies(self, data: bytes):
        """(start, end, query, reply) for each query in `data`."""
        emulator = self.emulator
        if emulator.da1 is None:
            return
        for match in re.finditer(rb"\x1b\[>0?q", data):
            reply = f"\x1bP>|{emulator.xtversion}\x1b\\".encode() if emulator.xtversion else b""
            yield match.start(), match.end(), "xtversion", reply
        for match in re.finditer(rb"\x1b\[16t", data):
            yield match.start(), match.end(), "cell", b"\x1b[6;20;10t"
        for match in _KITTY_QUERY.finditer(data):
            reply = b"\x1b_Gi=" + match.group(1) + b";OK\x1b\\" if emulator.kitty else b""
            yield match.start(), match.end(), "kitty", reply
        for match in re.finditer(rb"\x1b\[0?c", data):
            yield match.start(), match.end(), "da1", f"\x1b[?{emulator.da1}c".encode()

    def resize(self, size: tuple[int, int], pixels: tuple[int, int] = (0, 0)) -> None:
        """The window (or its font) changed: a new size in cells and pixels; the kernel sends SIGWINCH."""
        import fcntl
        import struct
        import termios

        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", *size, *pixels))

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def text(self) -> str:
        with self._lock:
            return bytes(self.output).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 60, after: int = 0) -> str:
        """The output once `needle` is in it (past offset `after`: written since then)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.text()[after:]:
                return self.text()
            if self.process.poll() is not None:
                time.sleep(0.2)  # the last output may still be on its way
                if needle in self.text()[after:]:
                    return self.text()
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} never appeared; the output was:\n{self.text()[-3000:]!r}")

    def close(self) -> int | None:
        if self.process.poll() is None:
            self.process.kill()
        code = self.process.wait(10)
        self._reader.join(5)
        os.close(self.master)
        return code
