"""A sync: read the selected sources from Spotify, store them, download missing covers.

Headless and UI-agnostic: progress goes through a callback, cancellation through
a CancelToken. Only one sync runs at a time per data directory (a lock file).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import RECORD_VERSION, Catalog, SourceRecord
from .config import Paths, Settings
from .covers import download_covers
from .errors import AccountRefused, CovertuiError, RateLimited, SyncBusy
from .files import MAX_IMAGE_BYTES, ImageRejected, open_image, read_regular
from .progress import CancelToken, ProgressCallback, Step, no_progress, writing
from .spotify.library import (
    LIKED,
    Source,
    SourceUnavailable,
    SpotifyLibrary,
    playlist_id_from,
)


@dataclass
class SyncChoice:
    liked: bool = False
    playlists: list[str] = field(default_factory=list)
    all: bool = False
    folders: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, sources: list[Source]) -> SyncChoice:
        """The selection that syncs exactly these sources (the ones checked in the app's picker)."""
        return cls(liked=any(s.kind == "liked" for s in sources),
                   playlists=[s.id for s in sources if s.kind == "playlist"],
                   folders=[s.url for s in sources if s.kind == "folder"])

    @property
    def empty(self) -> bool:
        return not (self.liked or self.playlists or self.all or self.folders)

    @property
    def spotify(self) -> bool:
        return self.liked or bool(self.playlists) or self.all


@dataclass
class SyncSummary:
    sources: list[str] = field(default_factory=list)
    tracks: int = 0
    covers: int = 0
    downloaded: int = 0
    bytes: int = 0
    failed: list[dict] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    unavailable: list[dict] = field(default_factory=list)
    embedded: int = 0
    error: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)

    def sentence(self) -> str:
        """The summary in one line, as the CLI prints it and the app notifies it."""
        return (f"{self.tracks} tracks, {self.covers} covers: {self.downloaded} downloaded "
                f"({self.bytes / 1e6:.1f} MB), {self.embedded} embedded, {len(self.failed)} failed.")


@contextmanager
def sync_lock(paths: Paths):
    """Hold the data directory's sync lock, or raise SyncBusy at once."""
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(paths.sync_lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise SyncBusy(f"Another covertui sync is running (pid {holder}); wait for it to finish.") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


def refresh_sources(settings: Settings, select_readable: bool = False) -> list[Source]:
    """Ask Spotify for Liked Songs and the user's playlists and store them; the catalog's sources after.

    `select_readable`: where nothing was selected yet, select every readable source (the app's
    first start), so that a first sync has something to do.
    """
    listed = SpotifyLibrary(settings).sources()
    with Catalog(settings.paths) as catalog:
        catalog.save_listed(listed)
        if select_readable and not catalog.selection():
            catalog.save_selection([s.id for s in listed if s.readable])
        return list(catalog.sources().values())


def resolve_selection(selection: SyncChoice, available: dict[str, Source], catalog: Catalog,
                      library: SpotifyLibrary | None) -> list[Source]:
    """The sources a selection names; an empty selection reuses the saved one."""
    if selection.empty:
        saved = catalog.selection()
        if not saved:
            raise CovertuiError("Nothing selected yet: use --liked, --playlist ID_OR_URL, --all or --folder DIR "
                                "(see covertui sources).")
        return [available[sid] for sid in saved if sid in available]
    chosen: dict[str, Source] = {}
    for folder in selection.folders:
        source = folder_source(Path(folder))
        chosen[source.id] = source
    if selection.all:
        chosen.update((sid, s) for sid, s in available.items() if s.kind in ("liked", "playlist"))
    if selection.liked:
        chosen[LIKED] = available[LIKED]
    for ref in selection.playlists:
        pid = playlist_id_from(ref)
        if pid in available:
            chosen[pid] = available[pid]
        elif library is not None:
            chosen[pid] = library.playlist(pid)  # a public playlist the user does not follow
    return list(chosen.values())


IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"}


def folder_source(folder: Path) -> Source:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise CovertuiError(f"Not a folder: {folder}")
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:16]
    return Source(id=f"folder-{digest}", kind="folder", name=folder.name or str(folder), owner="local folder",
                  url=str(folder))


def scan_folder(folder: Path, cancel: CancelToken | None = None) -> tuple[SourceRecord, list[tuple[str, str]]]:
    """Every image below `folder` as a cover (id = content hash); what cannot be used is listed with the
    reason. Only regular files are read, each bounded in bytes and pixels: a FIFO or a link to a device
    named like an image is skipped, never waited on (the sync lock is held meanwhile)."""
    cancel = cancel or CancelToken()
    covers: dict[str, str] = {}
    unreadable: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if path.suffix.lower() not in IMAGE_SUFFIXES or name.startswith("."):
                continue
            cancel.check()
            try:
                data = read_regular(path, MAX_IMAGE_BYTES)
                with open_image(data):
                    pass  # the header: an image, and not too many pixels
            except (OSError, ImageRejected) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                unreadable.append((str(path.relative_to(folder)), reason or "unreadable"))
                continue
            covers.setdefault("f" + hashlib.sha1(data).hexdigest()[:39], str(path))
    skipped = {"unreadable": len(unreadable)} if unreadable else {}
    return SourceRecord(snapshot_id="", tracks=[], skipped=skipped, covers=covers), unreadable


def sync(
    settings: Settings,
    selection: SyncChoice,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    embed=None,
) -> SyncSummary:
    """Run one sync; `embed(covers, progress, cancel)` (optional) embeds the covers on disk, returns an EmbedReport."""
    cancel = cancel or CancelToken()
    paths = settings.paths
    summary = SyncSummary()
    with writing(), sync_lock(paths), Catalog(paths) as catalog:
        saved = catalog.sources()
        needs_spotify = selection.spotify or (
            selection.empty and any(saved.get(sid) is None or saved[sid].kind != "folder" for sid in catalog.selection()))
        library = None
        if needs_spotify:
            library = SpotifyLibrary(settings, progress=progress, cancel=cancel)
            progress(Step("sources", 0, 1, message="Reading your playlists"))
            listed = library.sources()
            catalog.save_listed(listed)
        available = catalog.sources()
        chosen = resolve_selection(selection, available, catalog, library)
        if not selection.empty:
            catalog.save_sources([s for s in chosen if s.id not in available])
            catalog.save_selection([s.id for s in chosen])
        stopped: RateLimited | AccountRefused | None = None
        for index, source in enumerate(chosen):
            cancel.check()
            progress(Step("tracks", index, len(chosen), message=source.name))
            if source.kind == "folder":
                record, unreadable = scan_folder(Path(source.url), cancel)
                catalog.save_record(source.id, record)
                catalog.save_sources([Source(**{**source.to_dict(), "tracks": len(record.covers)})])
                summary.failed += [{"cover": name, "reason": f"unreadable image: {why}"} for name, why in unreadable]
                continue
            known = catalog.record(source.id)
            if (known is not None and source.snapshot_id and known.snapshot_id == source.snapshot_id
                    and known.version >= RECORD_VERSION):  # an older record lacks dates: read again
                summary.unchanged.append(source.id)
                continue
            try:
                assert library is not None  # a Spotify source: read with Spotify
                items = library.items(source)
            except SourceUnavailable as exc:
                catalog.mark_unavailable(source.id, str(exc))
                summary.unavailable.append({"source": source.id, "name": source.name, "reason": str(exc)})
                continue
            except (RateLimited, AccountRefused) as exc:
                stopped = exc  # keep what we have: download covers of the sources already read
                break
            catalog.save_record(source.id, SourceRecord(source.snapshot_id, items.tracks, dict(items.skipped)))
            if not source.readable:
                catalog.save_sources([Source(**{**source.to_dict(), "readable": True, "reason": ""})])
        progress(Step("tracks", len(chosen), len(chosen)))
        ids = [s.id for s in chosen]
        summary.sources = ids
        covers = catalog.covers(ids)
        summary.tracks = len({t.id for c in covers.values() for t in c.tracks})
        summary.covers = len(covers)
        summary.skipped = dict(catalog.skipped(ids))
        wanted = {cid: c.url for cid, c in covers.items() if c.url}
        report = download_covers(wanted, paths, settings.concurrency, settings.request_timeout, progress, cancel)
        summary.downloaded, summary.bytes = len(report.downloaded), report.bytes
        summary.failed += [{"cover": cid, "reason": reason} for cid, reason in sorted(report.failed.items())]
        cancel.check()
        on_disk = {cid: c.path for cid, c in catalog.covers(ids).items() if c.path is not None}
        from .pictures import (
            measure_pictures,  # numpy: only once there is something to measure
        )

        measure_pictures(on_disk, set(catalog.pictures()), catalog.save_pictures, progress, cancel)
        cancel.check()
        if embed is not None:
            embedded = embed(on_disk, progress, cancel)
            summary.embedded = embedded.embedded
            summary.failed += [{"cover": cid, "reason": reason} for cid, reason in sorted(embedded.failed.items())]
        if stopped is not None:  # a long rate limit, a spent quota, a refusal: what was read and downloaded is kept
            summary.error = str(stopped)
            stopped.partial = summary
            raise stopped
    return summary
