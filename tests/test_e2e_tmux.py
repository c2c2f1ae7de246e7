"""The installed `covertui` in a real terminal (tmux), first run to copy, read with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
COVERTUI = str(Path(sys.executable).with_name("covertui"))


class Terminal:
    """One tmux session on a private server: type keys, read the screen."""

    def __init__(self, name: str, tmp: Path) -> None:
        self.socket = str(tmp / "tmux.sock")
        self.name = name
        subprocess.run(self._cmd("new-session", "-d", "-s", name, "-x", "150", "-y", "48", "bash --norc --noprofile"),
                       check=True, env={**os.environ, "TERM": "xterm-256color"})
        self._tmux("set-option", "-g", "set-clipboard", "on")

    def _cmd(self, *args: str) -> list[str]:
        return ["tmux", "-S", self.socket, *args]

    def _tmux(self, *args: str) -> str:
        return subprocess.run(self._cmd(*args), check=True, capture_output=True, text=True).stdout

    def run(self, command: str) -> None:
        self.keys(command, "Enter")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.name, *keys)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def buffer(self) -> str:
        """tmux's newest paste buffer: what the app copied (set-clipboard on)."""
        return self._tmux("show-buffer")

    def screen(self, joined: bool = False) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name, *(["-J"] if joined else []))

    def wait_for(self, text: str, timeout: float = 60, joined: bool = False, columns: int | None = None) -> str:
        """Wait until `text` is on the screen; with `columns`, in the text of the screen's first `columns`
        columns read as one line (a notification, wrapped in its box over the picker)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen(joined)
            seen = screen if columns is None else " ".join(
                " ".join(line[:columns].strip(" ▌▐▎▊│").split()) for line in screen.splitlines())
            if text in seen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{self.screen()}")

    def close(self) -> None:
        subprocess.run(self._cmd("kill-server"), capture_output=True)


@pytest.fixture
def terminal(tmp_path):
    term = Terminal("covertui", tmp_path)
    yield term
    term.close()


def exports(env: dict[str, str]) -> str:
    return " ".join(f"{k}='{v}'" for k, v in env.items())


def test_first_run_to_copy_in_a_real_terminal(fake, home, tmp_path, tiny_model, terminal):
    base = {"COVERTUI_HOME": str(home), "COVERTUI_MODEL": str(tiny_model), "COVERTUI_DEVICE": "cpu",
            "COVERTUI_DTYPE": "float32", "HF_HUB_OFFLINE": "1", "SPOTIPY_CLIENT_ID": ""}
    terminal.run(f"cd {tmp_path} && export PS1='$ ' {exports(base)}")

    # 1. No credentials: the app shows the setup guide.
    terminal.run(COVERTUI)
    screen = terminal.wait_for("Set up Spotify access")
    assert "SPOTIPY_CLIENT_ID" in screen and "http://127.0.0.1:8888/callback" in screen
    terminal.keys("q")
    terminal.wait_for("$ ", timeout=10)

    # 2. Credentials in the config .env; log in by pasting the redirected URL.
    (home / "config").mkdir(parents=True, exist_ok=True)
    env_lines = [f"{k}={v}" for k, v in fake.env().items()] + ["SPOTIPY_REDIRECT_URI=http://127.0.0.1:9/callback"]
    (home / "config" / ".env").write_text("\n".join(env_lines) + "\n")
    terminal.run("unset SPOTIPY_CLIENT_ID; clear")
    terminal.run(f"{COVERTUI} auth")
    screen = terminal.wait_for("/authorize?", joined=True)
    url = next(line.strip() for line in screen.splitlines() if "/authorize?" in line)
    location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
    terminal.type(location)
    terminal.keys("Enter")
    terminal.wait_for("Logged in.", timeout=30)

    # 3. The app: picker lists the sources, s syncs with progress, a query shows covers, y copies.
    terminal.run("clear")
    fake.image_delay = 0.05
    terminal.run(COVERTUI)
    screen = terminal.wait_for("Playlist 2 (40)", timeout=8)
    assert "Liked Songs (60)" in screen
    terminal.wait_for("covers indexed")
    terminal.keys("s")  # nothing synced yet: the picker has the focus
    screen = terminal.wait_for("Downloading covers", timeout=30)
    terminal.wait_for("40 covers: 40 downloaded", timeout=120, columns=36)  # a notification over the picker
    terminal.wait_for("40 embedded, 0 failed.", timeout=10, columns=36)
    terminal.keys("/")
    time.sleep(0.3)  # as a person types: keys in one read reach the picker before "/" has moved the focus
    terminal.type("a blue cover")
    terminal.wait_for("Song ", timeout=30)  # the covers; each of these is drawn by its own message
    terminal.wait_for("last search", timeout=30)
    terminal.wait_for("40 covers indexed", timeout=30)  # the index reloads after the sync, beside the search
    terminal.keys("Down")  # separate keystrokes, as a person types them
    time.sleep(0.3)
    terminal.keys("y")
    terminal.wait_for("Copied track URL", timeout=10)
    assert terminal.buffer().startswith("https://open.spotify.com/track/track0")  # OSC 52 reached tmux
    terminal.keys("q")
    terminal.wait_for("$ ", timeout=10)


def test_quitting_during_a_hung_download_returns_at_once(fake, settings, tmp_path, terminal, cli_env, logged_in):
    env = {k: v for k, v in cli_env.items() if k.startswith(("SPOTIPY_", "COVERTUI_"))}
    env["COVERTUI_TIMEOUT"] = "30"  # each download would hold the app this long
    terminal.run(f"cd {tmp_path} && export PS1='$ ' {exports(env)} HF_HUB_OFFLINE=1")
    fake.image_delay = 60  # the image host answers nothing
    terminal.run(COVERTUI)
    terminal.wait_for("covers indexed")
    terminal.keys("s")
    terminal.wait_for("Downloading covers 0/40", timeout=30)
    quit_at = time.monotonic()
    terminal.keys("q")
    while not terminal.screen().rstrip().endswith(f"{COVERTUI}\n$"):  # the shell's prompt is back
        assert time.monotonic() - quit_at < 10, "quitting waited for the hung downloads"
        time.sleep(0.05)

    # Nothing is lost or locked: the next sync (image host back) completes.
    fake.image_delay = 0
    terminal.run(f"{COVERTUI} sync --all --no-embed")
    terminal.wait_for("40 covers: 40 downloaded", timeout=60)
    covers = settings.paths.covers_dir
    assert len(list(covers.glob("*.jpg"))) == 40 and not list(covers.glob(".*"))  # no .part file left over
