"""Which picture protocol each terminal gets: decided from what the terminal (or tmux) says, checked
on a pty that answers like xterm with sixel, kitty 0.35 and 0.26, WezTerm, a plain and a silent
terminal, and in a real tmux whose pane title must stay untouched."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from covertui.terminal import Answers, Tmux, decide, parse, passthrough

from fake_terminal import FakeTerminal

COVERTUI = str(Path(sys.executable).with_name("covertui"))


@pytest.mark.parametrize("emulator, program, protocol, words", [
    ("xterm-sixel", "", "sixel", "xterm 379 reports sixel"),
    ("kitty-0.35", "", "kitty", "kitty 0.35.2 draws kitty graphics placeholders"),
    ("kitty-0.26", "", "halfcell", "kitty 0.26.5 has no kitty graphics placeholders"),
    ("wezterm", "WezTerm", "iterm", "wezterm 20240203-110809-5046fc22 draws iTerm2 inline images"),
    ("iterm2", "iTerm.app", "iterm", "iterm2 3.5.10 draws iTerm2 inline images"),
    ("vscode", "vscode", "iterm", "vscode 6.1.0-beta.128 draws iTerm2 inline images"),
    ("vscode-6.0", "vscode", "iterm", "vscode 1.107.0 draws iTerm2 inline images"),
    ("vscode-no-images", "vscode", "halfcell", "has its images off"),
    ("plain", "", "halfcell", "reports neither sixel nor kitty"),
    ("silent", "", "halfcell", "did not answer"),
])
def test_doctor_on_a_terminal_names_the_protocol_and_why(emulator, program, protocol, words, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "KITTY_WINDOW_ID", "TERM_PROGRAM")}
    env.update(TERM="xterm-256color", COVERTUI_HOME=str(tmp_path / "home"), SPOTIPY_CLIENT_ID="")
    if program:
        env.update(TERM_PROGRAM=program, TERM_PROGRAM_VERSION="1.107.0")
    term = FakeTerminal(emulator, [COVERTUI, "doctor", "--json"], env)
    try:
        text = term.wait_for("]", 60)
        assert term.process.wait(60) is not None
    finally:
        term.close()
    checks = json.loads(text[text.index("[{"):text.rindex("]") + 1].replace("\r\n", "\n"))
    graphics = next(c for c in checks if c["name"] == "graphics")
    assert graphics["value"].startswith(protocol + ":") and words in graphics["value"], graphics
    if emulator == "kitty-0.26":
        assert "kitty >= 0.28" in graphics["hint"]
    if emulator == "vscode-no-images":
        assert "`terminal.integrated.enableImages`" in graphics["hint"] and graphics["status"] == "warn"
    if emulator != "silent":
        assert term.queries[-1] == "da1"  # one round of queries, DA1 last: its answer ends the wait
        assert term.queries.count("kitty") == 1


def test_the_app_draws_with_the_protocol_the_terminal_has(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TMUX", "KITTY_WINDOW_ID", "TERM_PROGRAM")}
    env.update(TERM="xterm-256color", COVERTUI_HOME=str(tmp_path / "home"), SPOTIPY_CLIENT_ID="",
               COVERTUI_MODEL="no-such-model")
    term = FakeTerminal("kitty-0.35", [COVERTUI], env)
    try:
        term.wait_for("Set up Spotify access")
        term.type("\x1b")  # continue without Spotify
        term.wait_for("graphics: kitty")
        term.type("\x11")  # ctrl+q: the query box has the focus, where q is a letter
        assert term.process.wait(30) == 0
    finally:
        term.close()
    assert term.queries.count("kitty") == 1  # ours: textual-image asked nothing


def test_decisions_from_answers():
    kitty = parse("\x1bP>|kitty(0.35.2)\x1b\\\x1b_Gi=31;OK\x1b\\\x1b[6;20;10t\x1b[?62;c;52c")
    assert (kitty.name, kitty.version, kitty.cell, kitty.kitty_graphics, kitty.sixel) == \
        ("kitty", "0.35.2", (10, 20), True, False)
    assert decide(kitty, {}).protocol == "kitty"
    assert decide(Answers(name="ghostty", version="1.0.1", da1=[62, 22]), {}).protocol == "kitty"
    assert decide(Answers(name="konsole", da1=[62, 4], kitty_graphics=True), {}).protocol == "iterm"
    assert decide(Answers(da1=[62, 4]), {"KONSOLE_VERSION": "230804"}).protocol == "iterm"
    assert decide(Answers(da1=[61]), {"TERM_PROGRAM": "WarpTerminal"}).protocol == "iterm"  # its only protocol
    assert decide(Answers(name="mintty", version="3.7.4", da1=[62, 4]), {}).protocol == "iterm"
    assert "-ti vt340" in decide(Answers(name="xterm", version="379", da1=[63, 1]), {}).hint  # a setting away
    assert "1.22" in decide(Answers(da1=[61]), {"WT_SESSION": "x"}).hint  # a newer version away
    old = decide(Answers(da1=[62], kitty_graphics=True), {"KITTY_WINDOW_ID": "1"})  # no XTVERSION: kitty < 0.2x
    assert old.protocol == "halfcell" and "0.28" in old.hint
    assert decide(Answers(name="foot", version="1.16", da1=[62, 4]), {}).protocol == "sixel"
    assert decide(None, {}).protocol == "halfcell"


@pytest.mark.parametrize("tmux, protocol, hint", [
    (Tmux("3.3a", "kitty(0.35.2)", "xterm-kitty", {"RGB"}, "on"), "kitty", ""),
    (Tmux("3.3a", "kitty(0.35.2)", "xterm-kitty", {"RGB"}, "off"), "halfcell", "`set -g allow-passthrough on` to"),
    (Tmux("3.3a", "kitty(0.35.2)", "xterm-kitty", set(), "on"),  # no 24-bit colour: tmux would round the ids
     "halfcell", "`set -as terminal-features ',xterm-kitty:RGB'` to"),
    (Tmux("3.3a", "kitty(0.35.2)", "xterm-kitty", set(), "off"), "halfcell", "on` and `set -as terminal-features"),
    (Tmux("3.2a", "", "xterm-kitty", {"RGB"}, ""), "halfcell", "tmux >= 3.3"),
    (Tmux("3.3a", "kitty(0.26.5)", "xterm-kitty", {"RGB"}, "on"), "halfcell", ""),
    (Tmux("3.4", "XTerm(379)", "xterm", {"sixel", "RGB"}, "off"), "sixel", ""),
    (Tmux("3.3a", "XTerm(379)", "xterm-256color", {"RGB"}, "off"), "halfcell", "tmux >= 3.4 built with sixel"),
    (Tmux("3.3a", "WezTerm 20240203-110809-5046fc22", "xterm-256color", {"RGB"}, "on"), "iterm", ""),
    (Tmux("3.3a", "iTerm2 3.5.10", "xterm-256color", {"RGB"}, "off"), "halfcell", "`set -g allow-passthrough on`"),
])
def test_decisions_in_tmux(tmux, protocol, hint):
    choice = decide(None, {"TMUX": "/tmp/tmux-0/default,1,0"}, tmux)
    assert choice.protocol == protocol and hint in choice.hint
    assert choice.passthrough == (protocol in ("kitty", "iterm"))


def test_doctor_prints_each_section_once():
    from covertui.doctor import Check, render

    text = render([Check("terminal", "TERM", "tmux-256color"), Check("clipboard", "tmux set-clipboard", "on"),
                   Check("terminal", "tmux allow-passthrough", "on"), Check("spotify", "client id", "set")])
    assert [line for line in text.splitlines() if line.startswith("[")] == ["[terminal]", "[clipboard]", "[spotify]"]
    assert text.index("allow-passthrough") < text.index("[clipboard]")


def test_kitty_graphics_are_wrapped_for_tmux():
    assert passthrough("\x1b_Ga=p,i=7\x1b\\") == "\x1bPtmux;\x1b\x1b_Ga=p,i=7\x1b\x1b\\\x1b\\"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_tmux_nothing_reaches_the_pane_title(tmp_path):
    socket = str(tmp_path / "tmux.sock")
    env = {**os.environ, "TERM": "xterm-256color", "COVERTUI_HOME": str(tmp_path / "home"), "SPOTIPY_CLIENT_ID": ""}
    env.pop("TMUX", None)
    tmux = ["tmux", "-S", socket]
    out = tmp_path / "doctor.txt"
    subprocess.run([*tmux, "new-session", "-d", "-s", "t", "-x", "150", "-y", "40", f"{COVERTUI} doctor > {out}; sleep 30"],
                   env=env, check=True)
    try:
        title = subprocess.run([*tmux, "display-message", "-p", "-t", "t", "#{pane_title}"], capture_output=True,
                               text=True).stdout
        for _ in range(600):
            if out.exists() and "graphics" in out.read_text():
                break
            subprocess.run(["sleep", "0.1"])
        report = out.read_text()
        after = subprocess.run([*tmux, "display-message", "-p", "-t", "t", "#{pane_title}"], capture_output=True,
                               text=True).stdout
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert "Gi=" not in after and after == title
    assert "halfcell" in report and "in tmux 3." in report


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_in_tmux_the_clipboard_lines_doctor_gives_make_copies_reach_the_clipboard(tmp_path):
    """tmux attached to a terminal (a pty): doctor's clipboard hint, applied to the config line by line,
    until a copy as Textual sends it (OSC 52, `c`) reaches the outer terminal naming the clipboard."""
    env = {k: v for k, v in os.environ.items() if k != "TMUX"}
    env.update(TERM="xterm-256color", COVERTUI_HOME=str(tmp_path / "home"), SPOTIPY_CLIENT_ID="")
    conf, lines, forwarded = tmp_path / "tmux.conf", [], []
    for attempt in range(3):
        conf.write_text("".join(line + "\n" for line in lines))
        report = tmp_path / f"doctor{attempt}.json"
        pane = f"{COVERTUI} doctor --json > {report}; printf '\\033]52;c;aGVsbG8=\\007copied-then'; sleep 30"
        term = FakeTerminal("xterm-sixel", ["tmux", "-S", str(tmp_path / "tmux.sock"), "-f", str(conf), "new-session",
                                            "-x", "150", "-y", "40", pane], env)
        try:
            output = term.wait_for("copied-then")  # tmux hands an OSC 52 on before it draws what follows
        finally:
            subprocess.run(["tmux", "-S", str(tmp_path / "tmux.sock"), "kill-server"], capture_output=True)
            term.close()
        clipboard = next(c for c in json.loads(report.read_text()) if c["name"] == "tmux set-clipboard")
        forwarded.append(output[output.index("]52;"):output.index("]52;") + 6] if "]52;" in output else "")
        if not clipboard["hint"]:
            break
        lines += [line for line in re.findall(r"`([^`]+)`", clipboard["hint"]) if line.startswith("set ")]
    assert forwarded == ["", "]52;;a", "]52;c;"]  # dropped (external), PRIMARY (no selection named), clipboard
    assert clipboard["status"] == "ok" and len(lines) == 2


def test_quitting_restores_the_terminal_and_ends_at_once_after_the_model_loaded(synced, cli_env):
    """torch's teardown took ~2 s after the terminal was restored: the process now ends without it,
    after the terminal is restored and its pictures released (kitty: test_kitty reads the deletions)."""
    term = FakeTerminal("plain", [COVERTUI], cli_env)
    try:
        term.wait_for("earch covers")  # the query box (the cursor sits on its S)
        term.type("red")  # runs once the model is in
        term.wait_for("covers by best match", 120)
        quit_at = len(term.text())
        term.type("\x11")
        assert term.process.wait(30) == 0
    finally:
        term.close()
    assert "\x1b[?1049l" in term.text()[quit_at:]  # the alternate screen left: the shell's screen is back
    assert "Traceback" not in term.text()
