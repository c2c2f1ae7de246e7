"""Saving tracks as a new private playlist, safely: a write whose answer was lost is checked, never
sent again blindly, so a saved playlist is made once and never holds a track twice or misses one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..errors import NetworkError, WriteUncertain
from .library import (
    PAGE,
    SpotifyLibrary,
    as_dict,
    as_id,
    as_text,
    item_uri_of,
    spotify_link,
)

ADD_LIMIT = 100  # URIs per POST /playlists/{id}/items
CHECKS = 3  # lost answers in a row before giving up


@dataclass
class SavedPlaylist:
    id: str
    name: str
    url: str
    tracks: int
    snapshot_id: str


def save_playlist(library: SpotifyLibrary, name: str, uris: list[str], description: str = "") -> SavedPlaylist:
    """A new private playlist holding `uris` (each once, in order)."""
    uris = list(dict.fromkeys(uris))
    mark = f"covertui {secrets.token_hex(3)}"  # finds this playlist again if the answer to its creation is lost
    text = f"{description} ({mark})" if description else f"Saved by {mark}"
    playlist = _create(library, name, text, mark)
    if not as_id(as_dict(playlist).get("id")):
        raise NetworkError("Spotify's answer to creating the playlist was not understood; look for it in Spotify "
                           "before trying again.")
    snapshot = _add(library, playlist["id"], uris) or as_text(playlist.get("snapshot_id"))
    url = spotify_link(playlist.get("external_urls"), "playlist", playlist["id"])
    return SavedPlaylist(playlist["id"], name, url, len(uris), snapshot)


def _create(library: SpotifyLibrary, name: str, description: str, mark: str) -> dict:
    client = library.client
    for _ in range(CHECKS):
        try:  # POST /me/playlists: /users/{id}/playlists is refused to development-mode apps
            return library.call(client.current_user_playlist_create, name, public=False, description=description,
                                 write=True)
        except WriteUncertain:
            made = _find(library, mark)
            if made is not None:
                return made
    raise NetworkError("Spotify's answers to creating the playlist were lost several times; nothing was created. "
                       "Try again later.")


def _find(library: SpotifyLibrary, mark: str) -> dict | None:
    """The user's playlist whose description carries `mark`, if the lost creation was made."""
    for page in library.pages(lambda offset: library.client.current_user_playlists(limit=PAGE, offset=offset)):
        for playlist in page["items"]:
            if isinstance(playlist, dict) and mark in str(playlist.get("description") or ""):
                return playlist
    return None


def _add(library: SpotifyLibrary, playlist_id: str, uris: list[str]) -> str:
    """Add in chunks of 100; after a lost answer, re-read the playlist and add only what is missing."""
    snapshot, todo, lost = "", list(uris), 0
    while todo:
        chunk = todo[:ADD_LIMIT]
        try:
            answer = as_dict(library.call(library.client.playlist_add_items, playlist_id, chunk, write=True))
        except WriteUncertain:
            lost += 1
            if lost >= CHECKS:
                raise NetworkError("Spotify's answers to adding tracks were lost several times; the playlist holds "
                                   "what was added. Try again later.") from None
            present = set(playlist_uris(library, playlist_id))
            todo = [uri for uri in todo if uri not in present]
            continue
        lost = 0
        snapshot = as_text(answer.get("snapshot_id")) or snapshot
        todo = todo[len(chunk):]
    return snapshot


def playlist_uris(library: SpotifyLibrary, playlist_id: str) -> list[str]:
    uris = []
    fetch = lambda offset: library.client.playlist_items(playlist_id, limit=PAGE, offset=offset)  # noqa: E731
    for page in library.pages(fetch):
        for entry in page["items"]:
            entry = as_dict(entry)
            item = entry.get("item") or entry.get("track")
            if isinstance(item, dict) and item.get("id"):
                uris.append(item_uri_of(item))
    return uris
