"""`covertui doctor`: what a user needs to know when something looks wrong. Never prints secrets."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .config import Settings


@dataclass
class Check:
    section: str
    name: str
    value: str
    status: str = "ok"  # ok, warn, error, info
    hint: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _size(path: Path) -> tuple[int, int]:
    files = total = 0
    if path.is_dir():
        for root, _, names in os.walk(path):
            for name in names:
                try:
                    total += (Path(root) / name).stat().st_size
                    files += 1
                except OSError:
                    pass
    return files, total


def terminal_checks(settings: Settings) -> list[Check]:
    from .terminal import choose, clipboard_hint, measured_cell, tmux_info

    checks = [Check("terminal", "TERM", os.environ.get("TERM", "(unset)"), "info")]
    in_tmux = bool(os.environ.get("TMUX"))
    over_ssh = bool(os.environ.get("SSH_CONNECTION") or os.environ.get("SSH_TTY"))
    checks.append(Check("terminal", "session", ", ".join(
        [w for w, on in (("tmux", in_tmux), ("SSH", over_ssh)) if on]) or "local", "info"))
    chosen = choose(settings.graphics)
    if chosen.terminal:
        checks.append(Check("terminal", "terminal", chosen.terminal, "info"))
    shows = chosen.protocol in ("kitty", "iterm", "sixel")
    checks.append(Check("terminal", "graphics", f"{chosen.protocol}: {chosen.reason}" if chosen.reason else chosen.protocol,
                        "ok" if shows else "warn" if sys.stdout.isatty() else "info", "" if shows else chosen.hint))
    cell = measured_cell(chosen)
    checks.append(Check("terminal", "cell size", f"{cell.width}x{cell.height} px" if cell else "unknown", "info"))
    tmux = tmux_info() if in_tmux else None
    if in_tmux:
        hint = clipboard_hint(tmux) if tmux else "tmux did not answer `tmux display`."
        checks.append(Check("clipboard", "tmux set-clipboard", (tmux.clipboard if tmux else "") or "unknown",
                            "warn" if hint else "ok", hint))
        passthrough = tmux.passthrough if tmux else ""
        checks.append(Check("terminal", "tmux allow-passthrough", passthrough or "unknown", "info",
                            "used for kitty graphics" if passthrough in ("on", "all") else ""))
    else:
        checks.append(Check("clipboard", "OSC 52", "used for y/Y (works over SSH in most terminals)", "info",
                            "If copying does nothing, enable OSC 52 / clipboard access in your terminal's settings."))
    return checks


def spotify_checks(settings: Settings) -> list[Check]:
    from .errors import AuthError
    from .spotify.auth import TokenStore

    checks = [
        Check("spotify", "client id", "set" if settings.client_id else "missing",
              "ok" if settings.client_id else "error",
              "" if settings.client_id else f"Put SPOTIPY_CLIENT_ID in .env here or in {settings.paths.env_file}."),
        Check("spotify", "login flow", "authorization code (client secret set)" if settings.client_secret else "PKCE",
              "info"),
        Check("spotify", "redirect URI", settings.redirect_uri,
              "ok" if settings.redirect_uri.startswith("http://127.0.0.1") else "warn",
              "" if settings.redirect_uri.startswith("http://127.0.0.1") else
              "Spotify accepts loopback redirects only as http://127.0.0.1:PORT/..."),
        Check("spotify", ".env files", ", ".join(str(p) for p in settings.env_files) or "none (environment only)",
              "info"),
    ]
    for endpoint in settings.custom_endpoints:
        checks.append(Check("spotify", "endpoint", endpoint, "warn",
                            "Not Spotify's own: the login's tokens are sent there. Set it in the environment or in "
                            f"{settings.paths.env_file} only if you mean to."))
    for key in settings.ignored:
        checks.append(Check("spotify", "ignored setting", f"{key} in ./.env", "warn",
                            "Endpoints and the log file are taken only from the environment or the config folder's "
                            ".env, never from the current directory (it would decide where your login is sent, or "
                            "which file is written)."))
    try:
        token = TokenStore(settings.paths.token_file).load()
    except AuthError as exc:
        checks.append(Check("spotify", "login", "corrupt", "error", str(exc)))
        return checks
    if token is None:
        checks.append(Check("spotify", "login", "not logged in", "warn", "Run `covertui auth`."))
    else:
        mode = stat.S_IMODE(settings.paths.token_file.stat().st_mode)
        left = token.get("expires_at", 0) - time.time()
        state = f"access token valid {left / 60:.0f} more min" if left > 0 else "access token expired (refreshed on use)"
        checks.append(Check("spotify", "login", f"saved; {state}", "ok"))
        checks.append(_login_expiry(token))
        checks.append(Check("spotify", "scopes", token.get("scope", ""), "info"))
        checks.append(Check("spotify", "token file mode", oct(mode), "ok" if mode == 0o600 else "error",
                            "" if mode == 0o600 else f"chmod 600 {settings.paths.token_file}"))
        if settings.has_credentials:
            checks.append(_account_check(settings))
    return checks


def _login_expiry(token: dict) -> Check:
    from .spotify.auth import login_expires_at, login_warning

    ends = login_expires_at(token)
    if ends is None:
        return Check("spotify", "login ends", "unknown (saved before covertui kept the login date)", "info",
                     "Logins end six months after they were made; `covertui auth` now starts a new six months.")
    warning = login_warning(token)
    when = time.strftime("%Y-%m-%d", time.localtime(ends))
    status = "ok" if warning is None else "error" if ends <= time.time() else "warn"
    return Check("spotify", "login ends", f"{when} ({(ends - time.time()) / 86400:.0f} days)" if ends > time.time()
                 else f"{when} (ended)", status, warning or "")


def _account_check(settings: Settings) -> Check:
    """One /me call: the account and the app as Spotify sees them (no Premium, not listed, quota)."""
    from .errors import AccountRefused, CovertuiError, RateLimited
    from .spotify.library import SpotifyLibrary

    try:
        me = SpotifyLibrary(settings).me()
    except AccountRefused as exc:
        return Check("spotify", "account", "refused by Spotify", "error", str(exc))
    except RateLimited as exc:
        return Check("spotify", "account", "not checked", "warn", str(exc))
    except CovertuiError as exc:
        return Check("spotify", "account", "not checked", "error", str(exc))
    return Check("spotify", "account", f"{me.get('display_name') or ''} ({me.get('id', '?')})".strip(), "ok")


def model_checks(settings: Settings) -> list[Check]:
    from .embed.choice import BY_ID, choose_model, upgrade_note
    from .embed.model import model_is_cached, resolve_device, resolve_dtype
    from .errors import CovertuiError

    try:
        device = resolve_device(settings.device)
        dtype = resolve_dtype(device, settings.dtype)
    except CovertuiError as exc:
        return [Check("model", "device", str(exc), "error")]
    import torch

    detail = device
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        detail = f"{device} ({props.name}, {props.total_memory / 2**30:.0f} GiB)"
    checks = [Check("model", "device", detail, "ok"), Check("model", "dtype", dtype, "ok"),
              Check("model", "torch", f"{torch.__version__} (CUDA {torch.version.cuda or 'none'})", "info")]
    try:
        chosen = choose_model(settings, device)
    except CovertuiError as exc:  # a damaged catalog or store: the data section says more
        return checks + [Check("model", "model", "not chosen", "error", str(exc))]
    cached = model_is_cached(chosen.name, settings.paths.models_dir)
    info = BY_ID.get(chosen.name)
    size = f"about {info.download_mb / 1000:.1f} GB" if info else "its size"
    checks.append(Check("model", "model", f"{chosen.name} ({chosen.why}; "
                        f"{'available locally' if cached else 'not downloaded yet'})", "ok" if cached else "warn",
                        "" if cached else f"The first sync or search downloads it ({size})."))
    if chosen.better:
        checks.append(Check("model", "better model", chosen.better, "info", upgrade_note(chosen, 0, None)))
    return checks


def data_checks(settings: Settings) -> list[Check]:
    paths = settings.paths
    checks = [Check("data", "config", str(paths.config_dir), "info")]
    for label, path in (("covers", paths.covers_dir), ("catalog", paths.catalog_dir),
                        ("embeddings", paths.embeddings_dir)):
        files, total = _size(path)
        checks.append(Check("data", label, f"{path} ({files} files, {total / 2**20:.1f} MiB)", "info"))
    base = paths.data_dir if paths.data_dir.exists() else paths.data_dir.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    free = shutil.disk_usage(base).free
    writable = os.access(base, os.W_OK)
    checks.append(Check("data", "free disk", f"{free / 2**30:.1f} GiB", "ok" if free > 2**30 else "warn"))
    checks.append(Check("data", "writable", "yes" if writable else "no", "ok" if writable else "error",
                        "" if writable else f"covertui cannot write to {base}; set COVERTUI_HOME to a writable folder."))
    return checks


def run_checks(settings: Settings) -> list[Check]:
    checks = [Check("covertui", "version", f"{__version__} (Python {sys.version.split()[0]})", "info")]
    for group in (terminal_checks, spotify_checks, model_checks, data_checks):
        checks += group(settings)
    return checks


def render(checks: list[Check]) -> str:
    marks = {"ok": "ok ", "warn": "!! ", "error": "XX ", "info": "   "}
    first: dict[str, int] = {}  # each section once, where it first is (tmux's clipboard check sits among terminal's)
    for n, check in enumerate(checks):
        first.setdefault(check.section, n)
    lines, section = [], None
    for check in sorted(checks, key=lambda check: first[check.section]):
        if check.section != section:
            section = check.section
            lines.append(f"\n[{section}]")
        lines.append(f"  {marks[check.status]}{check.name:<24} {check.value}")
        if check.hint:
            lines.append(f"     {'':<24} -> {check.hint}")
    return "\n".join(lines).lstrip("\n")
