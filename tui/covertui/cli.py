"""The `covertui` command. No heavy imports at module level: the app must paint at once."""

from __future__ import annotations

import argparse
import dataclasses
import errno
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__
from .config import GRAPHICS_CHOICES
from .errors import CovertuiError
from .orders import ORDERS
from .progress import BYTE_STAGES
from .query import SYNTAX
from .text import clean, clean_lines, dumps

WRITE_ERRORS = {errno.EROFS, errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EDQUOT}
QUIT_GRACE = 0.3  # s that exiting waits for a sync or download told to stop (see run)
log = logging.getLogger(__name__)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="covertui",
        description="Find Spotify tracks by what their cover looks like. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"covertui {__version__}")
    parser.add_argument("--graphics", choices=GRAPHICS_CHOICES,
                        help="terminal image protocol for the app (default: detect; COVERTUI_GRAPHICS)")
    parser.add_argument("--log", metavar="PATH", type=Path,
                        help="append covertui's log (debug level) to this file (COVERTUI_LOG; default: no log)")
    parser.add_argument("--model", help="CLIP checkpoint: Hugging Face id or local folder (COVERTUI_MODEL)")
    parser.add_argument("--device", help="cuda, mps or cpu (COVERTUI_DEVICE; default: the best available)")
    parser.add_argument("--dtype", help="float16, bfloat16, float32, or int8 (CPU: quantized, ~2x faster, not exact) "
                        "(COVERTUI_DTYPE)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    auth = sub.add_parser("auth", help="log in to Spotify (works over SSH: paste the redirected URL)")
    auth.add_argument("--logout", action="store_true", help="forget the saved login")

    sources = sub.add_parser("sources", help="list Liked Songs and your playlists")
    sources.add_argument("--json", action="store_true", help="print JSON")
    sources.add_argument("--offline", action="store_true", help="list what the last sync saw, without asking Spotify")

    sync = sub.add_parser("sync", help="download the covers of the selected sources")
    sync.add_argument("--liked", action="store_true", help="Liked Songs")
    sync.add_argument("--playlist", action="append", default=[], metavar="ID_OR_URL", help="a playlist (repeatable)")
    sync.add_argument("--all", action="store_true", help="Liked Songs and every readable playlist")
    sync.add_argument("--folder", action="append", default=[], metavar="DIR",
                      help="a folder of images (local cover art) as a source (repeatable)")
    sync.add_argument("--no-embed", action="store_true", help="download only; embed later")
    sync.add_argument("--json", action="store_true", help="print the summary as one JSON object")

    search = sub.add_parser("search", help="search the synced covers",
                            description=" ".join(("QUERY:", *SYNTAX, "Covers showing the same picture are one result.")))
    search.add_argument("query", metavar="QUERY", nargs="?", default="")
    search.add_argument("--top", type=int, default=10, help="how many covers (default 10)")
    search.add_argument("--source", action="append", default=[], metavar="ID", help="only covers of this source")
    search.add_argument("--json", action="store_true", help="print one JSON object")
    search.add_argument("--save", metavar="NAME", help="save the results' tracks as a new private playlist")
    search.add_argument("--sort", choices=list(ORDERS), default="relevance",
                        help="order of the results (default relevance; browsing: recent)")
    search.add_argument("--no-fold", action="store_true", help="list copies of one picture as separate results")

    for name, what in (("play", "play a track now"), ("queue", "add a track to the queue")):
        player = sub.add_parser(name, help=f"{what} on a Spotify Connect device (Premium)")
        player.add_argument("track", metavar="TRACK", help="track id, spotify:track:/spotify:episode: URI or "
                                                           "open.spotify.com link")
        player.add_argument("--device", metavar="NAME_OR_ID", help="where (default: the active device, or the only one)")
    devices = sub.add_parser("devices", help="list your Spotify Connect devices")
    devices.add_argument("--json", action="store_true", help="print JSON")
    models = sub.add_parser("models", help="the models covertui recommends: languages, size, vectors, speed here")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.add_argument("--use", metavar="ID", help="use this model from now on (a Hugging Face id or a folder; "
                        "'' for the default)")
    doctor = sub.add_parser("doctor", help="check terminal, clipboard, Spotify login, model and data")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    return parser


def say(text: str, err: bool = False) -> None:
    """Print a line (or lines) of output: everything the CLI prints goes through here, so no character
    of outside text in it (a name, a device, Spotify's own message) can reach the terminal as a control."""
    print(clean_lines(text), file=sys.stderr if err else sys.stdout, flush=True)


class CliProgress:
    """Progress bars on a terminal, plain throttled lines otherwise; always on stderr."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self._bars: Any = None  # rich's progress bars, on a terminal
        self._tasks: dict[str, int] = {}
        self._last: dict[str, float] = {}

    def __enter__(self) -> CliProgress:
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            # names are data: the description is shown as plain text, never as rich markup
            self._bars = Progress(TextColumn("{task.description}", markup=False), BarColumn(),
                                  TextColumn("{task.fields[amounts]}", markup=False), TimeRemainingColumn(),
                                  console=Console(stderr=True), transient=False)
            self._bars.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.stop()

    def __call__(self, p) -> None:
        if p.stage == "wait" or (p.stage == "sources"):
            self._line(p.message)
            return
        label = p.label
        if self._bars is not None:
            task = self._tasks.get(p.stage)
            if task is None:
                task = self._tasks[p.stage] = self._bars.add_task(label, total=p.total or None, amounts="")
            self._bars.update(task, completed=p.done, total=p.total or None, amounts=clean(p.amounts),
                              description=clean(f"{label} {p.message}".strip()[:60]))
            return
        now = time.monotonic()
        if p.done >= p.total or now - self._last.get(p.stage, 0) > 2:
            self._last[p.stage] = now
            what = f" {clean(p.message)}" if p.stage in BYTE_STAGES else ""
            say(f"{label}{what}: {p.amounts}".rstrip(), err=True)

    def _line(self, text: str) -> None:
        if not text:
            return
        if self._bars is not None:
            self._bars.console.print(clean_lines(text), markup=False, highlight=False, emoji=False)
        else:
            say(text, err=True)


def cmd_auth(settings, args) -> int:
    from .spotify.auth import LoginFlow, TokenStore, require_credentials

    if args.logout:
        TokenStore(settings.paths.token_file).clear()
        say("Logged out: the saved Spotify login was removed.")
        return 0
    require_credentials(settings)
    flow = LoginFlow(settings)
    token = flow.run_interactive(sys.stdin.readline, say)
    say(f"Logged in. Scopes: {clean(token.get('scope') or '')}. The login is saved in "
        f"{clean(settings.paths.token_file)}.")
    return 0


def cmd_sources(settings, args) -> int:
    if args.offline:
        from .catalog import Catalog

        with Catalog(settings.paths) as catalog:
            listed = list(catalog.sources().values())
    else:
        from .sync import refresh_sources

        listed = refresh_sources(settings)
    if args.json:
        say(dumps([s.to_dict() for s in listed]))
        return 0
    for s in listed:
        state = "" if s.readable else f"  [unavailable: {clean(s.reason)}]"
        say(f"{clean(s.id):<24} {s.tracks:>6}  {clean(s.name)} ({clean(s.owner)}){state}")
    return 0


def cmd_sync(settings, args) -> int:
    from .spotify.auth import TokenStore, login_warning
    from .sync import SyncChoice, sync

    selection = SyncChoice(liked=args.liked, playlists=args.playlist, all=args.all, folders=args.folder)
    warning = login_warning(TokenStore(settings.paths.token_file).load())
    if warning:
        say(f"covertui: {clean(warning)}", err=True)
    embed = None
    if not args.no_embed:
        from .embed.pipeline import embedder

        embed = embedder(settings)
    try:
        with CliProgress() as progress:
            summary = sync(settings, selection, progress=progress, embed=embed)
    except CovertuiError as exc:
        if exc.partial is not None and args.json:
            say(dumps(exc.partial.to_dict()))
        raise
    if args.json:
        say(dumps(summary.to_dict()))
        return 0
    say(summary.sentence())
    for source in summary.unavailable:
        say(f"  skipped {clean(source['name'])}: {clean(source['reason'])}")
    for failure in summary.failed[:10]:
        say(f"  cover {clean(failure['cover'])}: {clean(failure['reason'])} (retried on the next sync)")
    if len(summary.failed) > 10:
        say(f"  ... and {len(summary.failed) - 10} more")
    if summary.skipped:
        say("  items without a cover: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.skipped.items())))
    if embed is not None:
        _say_upgrade(settings, summary.covers)
    return 0


def _say_upgrade(settings, covers: int) -> None:
    """Where the covers stay with an earlier default, what the better model would cost here."""
    from .embed.choice import choose_model, measured_rate, upgrade_note
    from .embed.model import resolve_device

    chosen = choose_model(settings, resolve_device(settings.device))
    if chosen.better:
        say(f"covertui: {upgrade_note(chosen, covers, measured_rate(settings, chosen.name))}", err=True)


def cmd_search(settings, args) -> int:
    from .search import Searcher

    if not args.query.strip() and args.sort == "relevance":
        raise CovertuiError("Give a QUERY, or browse with --sort recent|colour|artist.")
    searcher = Searcher(settings)
    result = searcher.search(args.query, top=args.top, sources=args.source or None, order=args.sort,
                             fold=not args.no_fold)
    saved = None
    if args.save is not None:
        from .actions import save_as_playlist, tracks_to_save

        covers = [c for h in result.hits for c in (h.cover, *h.copies)]
        tracks, skipped = tracks_to_save(settings, covers, args.source or None)
        saved = save_as_playlist(settings, args.save, tracks, description=f"covers like: {args.query}")
        left_out = ", ".join(f"{n} {what}" for what, n in skipped.items())
        say(f"Saved {saved.tracks} tracks as the private playlist {clean(saved.name)}: {clean(saved.url)}"
              + (f" (left out: {left_out})" if left_out else ""), err=True)
    if args.json:
        out = {"query": result.query, "model": searcher.model.name, "elapsed_ms": round(result.elapsed_ms, 3),
               "matched": result.matched, "order": result.order, "note": result.note,
               "results": [h.to_dict() for h in result.hits]}
        if saved is not None:
            out["playlist"] = {"id": saved.id, "url": saved.url, "tracks": saved.tracks}
        say(dumps(out))
        return 0
    named = f"; {clean(result.matched)} first" if result.matched else ""
    order = f"; by {ORDERS[result.order]}" if result.order != "relevance" else ""
    say(f"{clean(searcher.model.description)}: {searcher.indexed} covers, {result.elapsed_ms:.1f} ms{named}{order}",
          err=True)
    if result.note:
        say(f"covertui: {result.note}", err=True)
    for hit in result.hits:
        title = f"{hit.title} - {hit.artists}" if hit.tracks else (hit.path or hit.cover)
        more = f" (+{len(hit.tracks) - 1} tracks)" if len(hit.tracks) > 1 else ""
        more += f" ({len(hit.copies) + 1} copies)" if hit.copies else ""
        score = f"{hit.score:6.3f}" if hit.score is not None else "     -"
        say(f"{score}  {clean(title)}{more}  {clean(hit.tracks[0].url) if hit.tracks else ''}".rstrip())
    return 0


def cmd_play(settings, args) -> int:
    from .actions import play
    from .spotify.player import item_uri

    uri = item_uri(args.track)
    device = play(settings, uri, args.device, queue=args.command == "queue")
    say(f"{'Queued' if args.command == 'queue' else 'Playing'} {uri} on {clean(device.name)}.")
    return 0


def cmd_devices(settings, args) -> int:
    from .actions import devices

    found = devices(settings)
    if args.json:
        say(dumps([d.to_dict() for d in found]))
        return 0
    if not found:
        say("No Spotify device is available: open Spotify on any device (phone, computer, web player).")
    for device in found:
        say(f"{clean(device.id)}  {clean(device.label)}")
    return 0


def cmd_doctor(settings, args) -> int:
    from .doctor import render, run_checks

    checks = run_checks(settings)
    if args.json:
        say(dumps([c.to_dict() for c in checks]))
    else:
        say(render(checks))
    return 1 if any(c.status == "error" for c in checks) else 0


def cmd_models(settings, args) -> int:
    from .embed.choice import BY_ID, catalog, use
    from .embed.model import resolve_device

    if args.use is not None:
        if args.use and not (args.use in BY_ID or Path(args.use).expanduser().is_dir() or "/" in args.use):
            raise CovertuiError(f"Unknown model {args.use!r}: give a Hugging Face id (owner/name), a local folder, "
                                "or one listed by `covertui models`.")
        use(settings, args.use)
        say(f"covertui now uses {args.use or 'the default model'}; `covertui sync` embeds the covers for it "
            "(vectors of other models are kept).")
        return 0
    rows = catalog(settings, resolve_device(settings.device))
    if args.json:
        say(dumps(rows))
        return 0
    for row in rows:
        size = f"{row['download_mb'] / 1000:.1f} GB" if row["download_mb"] else "?"
        rate = f"{row['covers_per_s']:.0f} covers/s here" if row["covers_per_s"] else "speed not measured here"
        mark = "*" if row["in_use"] else " "
        say(f"{mark} {row['id']}")
        say(f"    {row['family'] or 'other'} · reads {row['languages'] or '?'} · download {size} "
            f"({'downloaded' if row['downloaded'] else 'not downloaded'}) · vectors for {row['vectors']} covers · "
            f"{rate}{' · ' + row['note'] if row['note'] else ''}")
    say("* in use. `covertui models --use ID` switches (keeping every model's vectors); `--use ''` goes back "
        "to the default.")
    return 0


COMMANDS = {"auth": cmd_auth, "sources": cmd_sources, "sync": cmd_sync, "search": cmd_search, "play": cmd_play,
            "queue": cmd_play, "devices": cmd_devices, "doctor": cmd_doctor, "models": cmd_models}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        from .config import load_settings

        settings = load_settings()
        overrides = {k: getattr(args, k) for k in ("model", "device", "dtype") if getattr(args, k)}
        if overrides:
            settings = dataclasses.replace(settings, **overrides)
        log_file = args.log or settings.log_file
        if log_file is not None:
            from . import logs

            logs.start(log_file)
            log.info("covertui %s: %s", __version__, args.command or "app")
        if args.command is None:
            from .ui.run import run_app

            return run_app(settings, graphics=args.graphics)
        return COMMANDS[args.command](settings, args)
    except CovertuiError as exc:
        say(f"covertui: {exc}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        say("covertui: interrupted; finished work is kept.", err=True)
        return 130
    except OSError as exc:
        if exc.errno not in WRITE_ERRORS:
            raise
        say(f"covertui: cannot write to {clean(exc.filename or 'the data folder')}: {exc.strerror}. Finished work is "
            "kept; free some space or set COVERTUI_HOME to a writable folder.", err=True)
        return 10


def run() -> None:
    """The `covertui` command: main(), then exit without waiting for work that was told to stop.

    After Ctrl-C or quitting the app, a download can sit in a hung request for the whole timeout,
    or a model load go on for seconds. What finished is stored; cutting the rest off is as safe as
    the kills the fault tests make (.part files, database transactions), so after a short grace
    the process leaves without them.

    Everything is saved by then (the app released its pictures in run_app), and the interpreter's
    teardown only costs time after the terminal is restored (2.2 s with torch and transformers loaded
    on 2 cores, ~0.4 s without), so the process ends without it.
    """
    from .progress import wait_for_writers

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    wait_for_writers(QUIT_GRACE)  # a sync told to stop ends the file in hand; nothing else is waited for
    logging.shutdown()  # what atexit would have flushed: the log file
    os._exit(code)


if __name__ == "__main__":
    run()
