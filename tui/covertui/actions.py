"""Acting on what a search found: saving covers as a new private playlist, playing or queueing a track.
Headless: the app and the CLI call these from their workers."""

from __future__ import annotations

from collections import Counter

from .catalog import Catalog, SourceRecord
from .config import WRITE_SCOPES, Settings
from .errors import CovertuiError, ScopeMissing
from .spotify.library import Source, SpotifyLibrary, Track


def _library(settings: Settings, what: str) -> SpotifyLibrary:
    """A library whose login allows writing; a login made before covertui asked for that says so first."""
    from .spotify.auth import TokenStore, allows

    if not allows(TokenStore(settings.paths.token_file).load(), WRITE_SCOPES):
        raise ScopeMissing(what)
    return SpotifyLibrary(settings)


def tracks_to_save(settings: Settings, cover_ids: list[str], sources: list[str] | None) -> tuple[list[Track], Counter]:
    """For each cover in order, its tracks in `sources` (None: every synced source), each once; what
    cannot be saved is counted (images from folders have no Spotify track; a cover marked earlier may
    be in no checked source)."""
    with Catalog(settings.paths) as catalog:
        covers = catalog.covers(sources, on_disk={})
    tracks: dict[str, Track] = {}
    skipped: Counter = Counter()
    for cover_id in cover_ids:
        cover = covers.get(cover_id)
        if cover is None or not cover.tracks:
            skipped["covers outside the checked sources" if cover is None else "folder images"] += 1
            continue
        for track in cover.tracks:
            tracks.setdefault(track.uri, track)
    return list(tracks.values()), skipped


def save_as_playlist(settings: Settings, name: str, tracks: list[Track], description: str = ""):
    """A new private playlist of `tracks`, shown at once as a source (its covers are already synced)."""
    from .spotify.playlists import save_playlist

    name = name.strip()
    if not name:
        raise CovertuiError("A playlist needs a name.")
    if not tracks:
        raise CovertuiError("Nothing to save: none of these covers has a Spotify track.")
    library = _library(settings, "save playlists")
    saved = save_playlist(library, name, [t.uri for t in tracks], description)
    me = library.me()
    with Catalog(settings.paths) as catalog:
        catalog.save_sources([Source(saved.id, "playlist", name, str(me.get("display_name") or me.get("id") or ""),
                                     saved.tracks, snapshot_id=saved.snapshot_id, url=saved.url)])
        catalog.save_record(saved.id, SourceRecord(saved.snapshot_id, list(tracks), {}))
    return saved


def devices(settings: Settings):
    from .spotify.player import Player

    return Player(_library(settings, "see your Spotify devices")).devices()


def play(settings: Settings, uri: str, device: str | None = None, queue: bool = False):
    """Play `uri` now, or add it to the queue, on `device` (id or name) or the one Spotify would use.
    Returns the device. SeveralDevices lists the choice when none is active and several could play."""
    from .spotify.player import Player

    player = Player(_library(settings, "play music"))
    target = player.device(device)
    (player.queue if queue else player.play)(uri, target)
    return target
