"""Which terminal covertui runs in, and so which picture protocol it can show, learned before
Textual owns the terminal.

Outside tmux, the terminal is asked, in one write: its name and version (XTVERSION, `CSI > q`), its
cell size in pixels (`CSI 16 t`), whether it takes kitty graphics (a query image), and its
attributes (DA1, `CSI c`, whose `4` means sixel). Every terminal answers DA1, so its answer ends the
wait. Inside tmux, nothing that tmux would turn into a pane title is sent: tmux itself says what the
outer terminal is (`client_termtype`), what it can do (`client_termfeatures`), and whether it lets
graphics through (`allow-passthrough`).

Protocols: kitty graphics need Unicode placeholders (kitty >= 0.28, Ghostty); iTerm2's inline images
(OSC 1337) go to the terminals known by name to draw them best: WezTerm (its sixel is glitchy, its
kitty placeholders are not merged), iTerm2 (which answers the kitty query but has no placeholders),
Warp (its only protocol), mintty, Konsole, and VS Code's terminal (xterm.js) when its images are on
(then DA1 says sixel; it decodes OSC 1337 without saying so); sixel where DA1 says so; half-cell
blocks otherwise, with a hint where a setting or a newer version would give pictures.
"""

from __future__ import annotations

import logging
import os
import re
import select
import subprocess
import time
from dataclasses import dataclass, field
from typing import NamedTuple

log = logging.getLogger(__name__)

KITTY_PLACEHOLDERS = (0, 28)  # kitty draws Unicode placeholders from 0.28
TMUX_PASSTHROUGH = (3, 3)  # allow-passthrough exists from tmux 3.3
QUERY_ID = 31
KITTY_QUERY = f"\x1b_Gi={QUERY_ID},s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\"
_XTVERSION = re.compile(r"\x1bP>\|([^\x1b]*)\x1b\\")
_DA1 = re.compile(r"\x1b\[\?([\d;]*)c")
_CELL = re.compile(r"\x1b\[6;(\d+);(\d+)t")
_KITTY = re.compile(r"\x1b_Gi=" + str(QUERY_ID) + r"[^;]*;([^\x1b]*)\x1b\\")
_NAME_VERSION = re.compile(r"^\s*([A-Za-z][\w.+-]*?)[\s(]+v?([\d][\w.+-]*)\)?\s*$")
PLACEHOLDERS = {"kitty", "ghostty"}  # draw kitty graphics through Unicode placeholders
INLINE_TERMINALS = {"wezterm", "iterm2", "warp", "mintty", "konsole"}  # iTerm2's inline images, by name
XTERM_JS = {"vscode", "xterm.js"}  # inline images where the image addon is on (DA1 then says sixel)
SIXEL_TERMINALS = {"foot", "mlterm", "contour", "xterm", "blackbox"}
ALIASES = {"iterm.app": "iterm2", "warpterminal": "warp"}  # TERM_PROGRAM's spellings
VSCODE_IMAGES = "In VS Code, turn on `terminal.integrated.enableImages` (with `terminal.integrated.gpuAcceleration` " \
                "not `off`) and open a new terminal for real covers."
TMUX_CONF = "~/.tmux.conf"
DEFAULT_CELL = (10, 20)  # VT340's, what textual-image assumes too when a terminal does not say


class CellSize(NamedTuple):
    width: int
    height: int


@dataclass
class Answers:
    """What a terminal said to the queries."""

    name: str = ""  # lower case: kitty, xterm, wezterm, ...
    version: str = ""
    da1: list[int] | None = None  # None: no answer at all
    kitty_graphics: bool = False
    cell: tuple[int, int] | None = None  # pixels, width x height

    @property
    def sixel(self) -> bool:
        return self.da1 is not None and 4 in self.da1


@dataclass
class Tmux:
    version: str = ""
    outer: str = ""  # the outer terminal's XTVERSION, e.g. "kitty(0.35.2)"; "" when tmux does not say
    termname: str = ""  # the outer TERM, e.g. xterm-kitty
    features: set[str] = field(default_factory=set)
    passthrough: str = ""  # allow-passthrough: on, all, off
    clipboard: str = ""  # set-clipboard: on, external, off
    overrides: str = ""  # terminal-overrides, one per line


@dataclass
class Choice:
    protocol: str  # kitty, iterm, sixel, halfcell or unicode
    reason: str  # why, in words (doctor shows it)
    hint: str = ""  # what would give real pictures, when they are not shown
    terminal: str = ""  # the terminal, e.g. "kitty 0.35.2", "xterm 379 in tmux 3.3a"
    passthrough: bool = False  # kitty graphics or inline images wrapped for tmux
    cell: tuple[int, int] | None = None


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text)[:3])


def parse(data: str) -> Answers:
    """The answers found in what the terminal wrote back."""
    answers = Answers()
    if match := _XTVERSION.search(data):
        text = match.group(1).strip()
        found = _NAME_VERSION.match(text)
        name, version = (found.group(1), found.group(2)) if found else (text.split()[0] if text else "", "")
        answers.name, answers.version = name.lower(), version
    if match := _DA1.search(data):
        answers.da1 = [int(n) for n in match.group(1).split(";") if n.isdigit()]
    if match := _CELL.search(data):
        answers.cell = (int(match.group(2)), int(match.group(1)))
    if match := _KITTY.search(data):
        answers.kitty_graphics = match.group(1) == "OK"
    return answers


def ask(fd_in: int, fd_out: int, in_tmux: bool, timeout: float = 1.0) -> Answers:
    """Send the queries on a terminal and read the answers (up to DA1's, or `timeout` seconds)."""
    import termios
    import tty

    saved = termios.tcgetattr(fd_in)
    data = ""
    try:
        tty.setcbreak(fd_in, termios.TCSANOW)  # no echo, no line buffering; signals still work
        queries = "\x1b[>0q\x1b[16t" + ("" if in_tmux else KITTY_QUERY) + "\x1b[c"
        os.write(fd_out, queries.encode())
        deadline = time.monotonic() + timeout
        while not _DA1.search(data):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd_in], [], [], left)[0]:
                break
            chunk = os.read(fd_in, 4096)
            if not chunk:
                break
            data += chunk.decode("utf-8", "replace")
    finally:
        termios.tcsetattr(fd_in, termios.TCSANOW, saved)
    return parse(data)


def tmux_info(run=subprocess.run) -> Tmux | None:
    """What tmux says about itself and the terminal it is shown in; None when it does not answer."""
    def tmux(*args: str) -> str | None:
        try:
            out = run(["tmux", *args], capture_output=True, text=True, timeout=3)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.debug("tmux %s: %s", args[0], exc)
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    shown = tmux("display-message", "-p", "#{version}|#{client_termtype}|#{client_termname}|#{client_termfeatures}")
    if shown is None:
        return None
    version, outer, termname, features = (shown.split("|") + ["", "", "", ""])[:4]
    passthrough = tmux("show-options", "-pv", "allow-passthrough") or tmux("show-options", "-gv", "allow-passthrough")
    return Tmux(version, outer, termname, {f for f in features.split(",") if f}, passthrough or "",
                tmux("show-options", "-gv", "set-clipboard") or "", tmux("show-options", "-sv", "terminal-overrides") or "")


CLIPBOARD_MS = r"Ms=\E]52;c%p1%.0s;%p2%s\7"  # OSC 52 to the clipboard, whatever selection tmux names


def clipboard_hint(tmux: Tmux) -> str:
    """What ~/.tmux.conf needs for y/Y to reach the clipboard; "" when it has it. With set-clipboard
    `external` (the default) or `off`, tmux drops an application's OSC 52; with `on`, tmux 3.3 hands it
    on with no selection named, which xterm puts in PRIMARY, unless Ms names the clipboard."""
    if tmux.clipboard != "on":
        return f"Add `set -g set-clipboard on` to {TMUX_CONF}: with `{tmux.clipboard or 'unset'}` tmux drops y/Y's copies."
    if "52;c" not in tmux.overrides:
        line = f"set -as terminal-overrides ',{tmux.termname or 'xterm*'}:{CLIPBOARD_MS}'"
        return f"Add `{line}` to {TMUX_CONF}: else tmux may pass y/Y's copies on as the primary selection, " \
               "not the clipboard."
    return ""


def _placeholders(name: str, version: str) -> bool:
    if name == "kitty":
        return _version(version) >= KITTY_PLACEHOLDERS
    return name in PLACEHOLDERS


def _name(answers: Answers, env: dict) -> tuple[str, str]:
    """The terminal's name (lower case, one spelling) and version: XTVERSION's, else the environment's."""
    name, version = answers.name, answers.version
    if not name and env.get("KITTY_WINDOW_ID"):
        name = "kitty"
    if not name and env.get("TERM_PROGRAM"):
        name, version = env["TERM_PROGRAM"].lower(), env.get("TERM_PROGRAM_VERSION", "")
    if not name and env.get("KONSOLE_VERSION"):
        name, version = "konsole", env["KONSOLE_VERSION"]
    if name == "xterm.js" and env.get("TERM_PROGRAM", "").lower() == "vscode":
        name = "vscode"  # VS Code's terminal names its engine: the hint is VS Code's
    return ALIASES.get(name, name), version


def decide(answers: Answers | None, env: dict, tmux: Tmux | None = None) -> Choice:
    """The protocol for what the terminal (and tmux) said."""
    if env.get("TMUX"):
        return _decide_in_tmux(tmux or Tmux(), env)
    if answers is None or answers.da1 is None:
        return Choice("halfcell", "the terminal did not answer its queries", "", env.get("TERM", ""))
    name, version = _name(answers, env)
    terminal = f"{name} {version}".strip() or env.get("TERM", "unknown terminal")
    choice = Choice("halfcell", "", "", terminal, cell=answers.cell)
    if _placeholders(name, version) and (answers.kitty_graphics or name in PLACEHOLDERS):
        choice.protocol, choice.reason = "kitty", f"{terminal} draws kitty graphics placeholders"
    elif name in INLINE_TERMINALS or (name in XTERM_JS and answers.sixel):
        choice.protocol, choice.reason = "iterm", f"{terminal} draws iTerm2 inline images"
    elif name in XTERM_JS:
        choice.reason = f"{terminal} has its images off"
        choice.hint = VSCODE_IMAGES
    elif answers.sixel:
        choice.protocol, choice.reason = "sixel", f"{terminal} reports sixel"
        if answers.kitty_graphics and name != "kitty":
            choice.reason += " (its kitty graphics lack the placeholders covertui draws with)"
    elif name == "kitty":
        choice.reason = f"kitty {version or '(old)'} has no kitty graphics placeholders"
        choice.hint = "kitty >= 0.28 shows real covers (kitty graphics with Unicode placeholders)."
    else:
        choice.reason = f"{terminal} reports neither sixel nor kitty graphics placeholders"
        choice.hint = _no_graphics_hint(name, env)
    return choice


def _no_graphics_hint(name: str, env: dict) -> str:
    """What gives real covers in a terminal that shows none: its setting or version where one is known."""
    if name == "xterm":
        return "Start xterm with `-ti vt340` (or set `XTerm*decTerminalID: vt340` in ~/.Xresources) for sixel covers."
    if env.get("WT_SESSION"):
        return "Windows Terminal 1.22 or newer draws sixel: real covers after an update."
    if env.get("VTE_VERSION"):
        return "This VTE terminal (GNOME Terminal, Tilix, ...) draws sixel from VTE 0.76 when built with sixel " \
               "support; else use WezTerm, kitty or foot."
    return "Real covers need sixel, kitty graphics or iTerm2 inline images: kitty >= 0.28, WezTerm, iTerm2, " \
           "Ghostty, foot, Konsole, VS Code with images on, or xterm started with -ti vt340."


def _decide_in_tmux(tmux: Tmux, env: dict) -> Choice:
    outer = parse(f"\x1bP>|{tmux.outer}\x1b\\") if tmux.outer else Answers()
    name = outer.name or ("kitty" if "kitty" in tmux.termname else tmux.termname.split("-")[0])
    name = ALIASES.get(name, name)
    terminal = f"{(name + ' ' + outer.version).strip() or 'unknown terminal'} in tmux {tmux.version}".strip()
    passthrough = tmux.passthrough in ("on", "all")
    new_enough = _version(tmux.version) >= TMUX_PASSTHROUGH
    kitty_outside = _placeholders(name, outer.version) if outer.version else name in PLACEHOLDERS | {"kitty"}
    rgb = "RGB" in tmux.features  # else tmux rounds the placeholders' colour, which is the image id
    if kitty_outside and passthrough and new_enough and rgb:
        return Choice("kitty", f"{terminal}: kitty graphics through allow-passthrough", terminal=terminal,
                      passthrough=True)
    if name in INLINE_TERMINALS and passthrough and new_enough:
        return Choice("iterm", f"{terminal}: iTerm2 inline images through allow-passthrough", terminal=terminal,
                      passthrough=True)
    if "sixel" in tmux.features:
        return Choice("sixel", f"{terminal}: tmux draws sixel", terminal=terminal)
    choice = Choice("halfcell", f"{terminal}: tmux lets no pictures through", terminal=terminal)
    if kitty_outside and new_enough:
        lines = ["set -g allow-passthrough on"] * (not passthrough) + \
                [f"set -as terminal-features ',{tmux.termname or 'xterm-kitty'}:RGB'"] * (not rgb)
        if passthrough:
            choice.reason = f"{terminal}: tmux sends no 24-bit colour, which kitty graphics placeholders need"
        choice.hint = f"Add {' and '.join(f'`{line}`' for line in lines)} to {TMUX_CONF} for real covers (kitty graphics)."
    elif kitty_outside:
        choice.hint = "tmux >= 3.3 with `set -g allow-passthrough on` shows real covers in kitty."
    elif name in INLINE_TERMINALS:
        choice.hint = f"Add `set -g allow-passthrough on` to {TMUX_CONF} for real covers (iTerm2 inline images)." \
            if new_enough else "tmux >= 3.3 with `set -g allow-passthrough on` shows real covers in this terminal."
    elif name in SIXEL_TERMINALS:
        choice.hint = "tmux >= 3.4 built with sixel support shows real covers in this terminal."
    return choice


def identify(env: dict | None = None, timeout: float = 1.0) -> Choice:
    """Ask the terminal (and tmux) and decide; half-cell blocks when there is no terminal. The terminal
    is the one Textual draws on: stderr, read through stdin. Inside tmux only what tmux answers itself
    is asked (its version, the cell size, DA1): nothing reaches the pane title."""
    import sys

    env = dict(os.environ if env is None else env)
    in_tmux = bool(env.get("TMUX"))
    answers = None
    try:
        fd_in, fd_out = sys.stdin.fileno(), sys.stderr.fileno()
        if os.isatty(fd_in) and os.isatty(fd_out):
            answers = ask(fd_in, fd_out, in_tmux=in_tmux, timeout=timeout)
        elif not in_tmux:
            return Choice("halfcell", "not a terminal")
    except (OSError, ValueError, ImportError) as exc:  # termios on an odd stdin
        if not in_tmux:
            return Choice("halfcell", f"the terminal could not be asked ({type(exc).__name__})")
    if in_tmux:
        choice = _decide_in_tmux(tmux_info() or Tmux(), env)
        choice.cell = answers.cell if answers else None
        return choice
    return decide(answers, env)


def choose(choice: str = "auto", detected: Choice | None = None) -> Choice:
    """The protocol named (kitty, iterm, sixel, halfcell, unicode), or for "auto" the one the terminal
    (identify(), or `detected`) can show."""
    if choice == "auto":
        return detected or identify()
    return Choice(choice, "forced (--graphics or COVERTUI_GRAPHICS)", cell=detected.cell if detected else None,
                  passthrough=bool(os.environ.get("TMUX")))  # kitty graphics, inline images in tmux: wrapped


def measured_cell(choice: Choice) -> CellSize | None:
    """The cell size in pixels: as the terminal answered, else from its window size in pixels."""
    cell = choice.cell or ioctl_cell()
    return CellSize(*cell) if cell else None


def ioctl_cell() -> tuple[int, int] | None:
    """The cell size from the terminal's window size in pixels, where the terminal fills it in."""
    import fcntl
    import struct
    import sys
    import termios

    stream = sys.__stderr__ or sys.stderr  # where Textual draws (sys.stderr is Textual's capture while it runs)
    try:
        rows, columns, width, height = struct.unpack("HHHH", fcntl.ioctl(stream.fileno(), termios.TIOCGWINSZ,
                                                                         b"\0" * 8))
    except (OSError, ValueError, AttributeError) as exc:
        log.debug("no window size in pixels: %s", exc)
        return None
    return (width // columns, height // rows) if rows and columns and width and height else None


def pane_offset(run=subprocess.run) -> tuple[int, int] | None:
    """Where this tmux pane's top-left cell lies in the outer terminal (column, row from 0); None when
    tmux does not say."""
    pane = os.environ.get("TMUX_PANE")
    try:
        out = run(["tmux", "display-message", "-p", *(["-t", pane] if pane else []), "#{pane_left},#{pane_top}"],
                  capture_output=True, text=True, timeout=3)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.debug("tmux pane position: %s", exc)
        return None
    left, _, top = out.stdout.strip().partition(",")
    return (int(left), int(top)) if out.returncode == 0 and left.isdigit() and top.isdigit() else None


def passthrough(sequence: str) -> str:
    """An escape sequence wrapped for tmux to hand to the outer terminal (allow-passthrough)."""
    return "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
