"""Reading the user's library: sources (Liked Songs, playlists) and their tracks.

Every call goes through `SpotifyLibrary.call`, which turns spotipy's exceptions
into covertui errors and handles 429s: a Retry-After up to `max_retry_wait`
seconds is waited out (reported through the progress callback), a longer one
raises `RateLimited` so the caller can stop and keep what it has.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import requests

from ..config import Settings
from ..errors import (AccountRefused, AuthError, CovertuiError, NetworkError, PlaybackRefused, QuotaExceeded,
                      RateLimited, ScopeMissing, WriteUncertain)
from ..progress import CancelToken, Progress, ProgressCallback, no_progress
from .auth import TokenManager
from .http import make_session

LIKED = "liked"
PAGE = 50
NETWORK_RETRIES = 3
MIN_COVER_WIDTH = 224
_ID = re.compile(r"^[A-Za-z0-9]{8,64}$")
_PLAYLIST_REF = re.compile(r"(?:playlist[/:])?([A-Za-z0-9]{16,32})(?:[/?#].*)?$")
UNAVAILABLE_FOLLOWED = "followed, not owned: Spotify lets development-mode apps read only playlists you own or collaborate on"
DASHBOARD = "https://developer.spotify.com/dashboard"
OWNER_WITHOUT_PREMIUM = (
    "Spotify refuses this app: the account that created it in the developer dashboard has no Premium "
    "(\"{message}\"). Development-mode apps work only while their owner has Spotify Premium: renew it "
    f"for that account, or create the app under an account that has it ({DASHBOARD}).")
USER_NOT_LISTED = (
    "Spotify refuses this account for this app (\"{message}\"). Add the Spotify account you log in with "
    f"under User Management in the app's dashboard ({DASHBOARD}: your app, then User Management; at most "
    "5 users), then try again.")


class SourceUnavailable(CovertuiError):
    """One source cannot be read (403/404); the sync goes on with the others."""


@dataclass
class Source:
    id: str
    kind: str  # "liked", "playlist" or "folder"
    name: str
    owner: str = ""
    tracks: int = 0
    readable: bool = True
    reason: str = ""
    snapshot_id: str = ""
    url: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Track:
    id: str
    name: str
    artists: list[str]
    album: str
    url: str
    album_url: str
    cover_id: str
    cover_url: str
    kind: str = "track"
    added_at: str = ""  # when it was added to the source it was read from (ISO 8601)
    release: str = ""  # the album's (an episode's) release date: "1994", "1994-06" or "1994-06-13"

    @property
    def uri(self) -> str:
        return f"spotify:{self.kind}:{self.id}"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class SourceItems:
    tracks: list[Track] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def playlist_id_from(ref: str) -> str:
    """A playlist id from an id, a spotify: URI or an open.spotify.com URL."""
    match = _PLAYLIST_REF.search(ref.strip())
    if not match:
        raise CovertuiError(f"Not a Spotify playlist id or URL: {ref!r}")
    return match.group(1)


def item_uri_of(item: dict) -> str:
    """A track's or episode's spotify: URI, from its object (built from type and id where it has none)."""
    return item.get("uri") or f"spotify:{item.get('type') or 'track'}:{item.get('id')}"


def choose_image(images: list[dict] | None) -> str | None:
    """The smallest image at least 224 px wide (the 300 px one), else the largest."""
    images = [i for i in images or [] if isinstance(i, dict) and i.get("url")]
    if not images:
        return None
    sized = [i for i in images if i.get("width")]
    if not sized:
        return images[0]["url"]  # Spotify lists the largest first
    wide = [i for i in sized if i["width"] >= MIN_COVER_WIDTH]
    pick = min(wide, key=lambda i: i["width"]) if wide else max(sized, key=lambda i: i["width"])
    return pick["url"]


def cover_id_for(url: str) -> str:
    """Spotify's image id (the last path segment of i.scdn.co/image/<id>); a hash otherwise.

    The id becomes a file name, so anything that is not plain alphanumerics is hashed.
    """
    import hashlib

    last = url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    if _ID.match(last):
        return last
    return "u" + hashlib.sha256(url.encode()).hexdigest()[:39]


def parse_entry(entry: Any, skipped: Counter) -> Track | None:
    """A Track from a playlist or saved-tracks entry; None (counted in `skipped`) otherwise."""
    if not isinstance(entry, dict):
        skipped["null"] += 1
        return None
    item = entry.get("item") if entry.get("item") is not None else entry.get("track")
    if not isinstance(item, dict):
        skipped["null"] += 1
        return None
    if entry.get("is_local") or item.get("is_local"):
        skipped["local"] += 1
        return None
    if not item.get("id"):
        skipped["null"] += 1
        return None
    links = item.get("external_urls") or {}
    if item.get("type") == "episode":
        show = item.get("show") or {}
        images = item.get("images") or show.get("images")
        artists = [show.get("publisher") or show.get("name") or ""]
        album, album_links, kind = show.get("name", ""), show.get("external_urls") or {}, "episode"
        release = item.get("release_date")
        default_url = f"https://open.spotify.com/episode/{item['id']}"
        album_default = f"https://open.spotify.com/show/{show['id']}" if show.get("id") else ""
    else:
        album_obj = item.get("album") or {}
        images = album_obj.get("images")
        artists = [a.get("name", "") for a in item.get("artists") or [] if isinstance(a, dict)]
        album, album_links, kind = album_obj.get("name", ""), album_obj.get("external_urls") or {}, "track"
        release = album_obj.get("release_date")
        default_url = f"https://open.spotify.com/track/{item['id']}"
        album_default = f"https://open.spotify.com/album/{album_obj['id']}" if album_obj.get("id") else ""
    cover_url = choose_image(images)
    if cover_url is None:
        skipped["no_image"] += 1
        return None
    if not cover_url.startswith(("https://", "http://")):
        skipped["bad_image_url"] += 1
        return None
    return Track(
        id=str(item["id"]),
        name=str(item.get("name") or ""),
        artists=[str(a) for a in artists],
        album=str(album or ""),
        url=links.get("spotify") or default_url,
        album_url=album_links.get("spotify") or album_default,
        cover_id=cover_id_for(cover_url),
        cover_url=cover_url,
        kind=kind,
        added_at=str(entry.get("added_at") or ""),
        release=str(release or ""),
    )


def _retry_after(headers: Any) -> float | None:
    """Seconds Spotify asked to wait (a number or an HTTP date); None without the header."""
    raw = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def spotify_message(exc: Any) -> tuple[str, str]:
    """Spotify's own words for a refusal, from its error body: (message, reason).

    spotipy keeps them as `msg` ("URL:\n message", or the raw text of a body that is not JSON) and
    `reason` (`error.reason`, e.g. QUOTA_EXCEEDED or PREMIUM_REQUIRED).
    """
    text = str(getattr(exc, "msg", "") or "")
    message = text.split(":\n", 1)[1].strip() if ":\n" in text else text.strip()
    return ("" if message == "None" else message[:300]), str(getattr(exc, "reason", "") or "")


def account_refusal(message: str) -> AccountRefused | None:
    """The 403s that refuse the app or the account as a whole, whatever was asked for."""
    low = message.lower()
    if "premium" in low and "owner" in low:
        return AccountRefused(OWNER_WITHOUT_PREMIUM.format(message=message))
    if "not registered" in low:
        return AccountRefused(USER_NOT_LISTED.format(message=message))
    return None


def refusal(status: int, message: str, reason: str, source: Source | None = None,
            write: bool = False) -> CovertuiError:
    """The error for a Spotify answer other than a 429, read from its status, message and reason."""
    if status == 401:
        return AuthError("Spotify rejected the saved login. Run `covertui auth` to log in again.")
    if status == 403 and "scope" in message.lower():  # "Insufficient client scope"
        return ScopeMissing()
    if reason == "PREMIUM_REQUIRED":
        return PlaybackRefused(f"Playing needs Spotify Premium on the account you are logged in with (Spotify: "
                               f"\"{message}\").")
    if reason == "NO_ACTIVE_DEVICE":
        return PlaybackRefused("No Spotify device is playing: open Spotify on any device (phone, computer, web "
                               "player), then try again.")
    if status >= 500 and write:
        return WriteUncertain(f"Spotify answered HTTP {status} to a change; it may have been made.")
    if status == 403 and account_refusal(message) is not None:
        return account_refusal(message)
    if status in (403, 404) and source is not None:
        return SourceUnavailable(_reason(status, message, source))
    if status == 403:
        return AccountRefused(f"Spotify refused access (HTTP 403: {message or 'no reason given'}).")
    if status >= 500:
        return NetworkError(f"Spotify answered HTTP {status} repeatedly; try again later.")
    return CovertuiError(f"Spotify refused the request (HTTP {status}: {message or 'no reason given'}).")


class SpotifyLibrary:
    """The user's sources and their items, through the real spotipy client."""

    def __init__(
        self,
        settings: Settings,
        progress: ProgressCallback = no_progress,
        cancel: CancelToken | None = None,
    ) -> None:
        import spotipy

        self.settings = settings
        self.progress = progress
        self.cancel = cancel or CancelToken()
        session = make_session(pool_size=4)
        self.client = spotipy.Spotify(
            auth_manager=TokenManager(settings, session),
            requests_session=session,
            requests_timeout=settings.request_timeout,
        )
        self.client.prefix = settings.api_url
        self._me: dict | None = None

    def call(self, fn: Callable, *args, source: Source | None = None, write: bool = False, **kwargs):
        """Call spotipy; Spotify's refusals become covertui errors. `source`: the call reads that one
        playlist, so a 403 or 404 makes only it unavailable (SourceUnavailable). `write`: a call that
        changes something is never sent twice: a lost answer raises WriteUncertain (a 429 was not
        applied, and is waited out as for reads)."""
        from spotipy.exceptions import SpotifyException

        waits = dropped = 0
        while True:
            self.cancel.check()
            try:
                return fn(*args, **kwargs)
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
                if write:
                    raise WriteUncertain(f"Spotify's answer was lost ({type(exc).__name__}).") from None
                dropped += 1  # urllib3 retries failed connects; a body cut off mid-way lands here
                if dropped > NETWORK_RETRIES:
                    kind = "did not answer in time" if isinstance(exc, requests.Timeout) else "dropped the connection"
                    raise NetworkError(f"Spotify {kind} {dropped} times in a row (network down or very slow?); "
                                       "what was fetched so far is kept.") from None
                self.cancel.sleep(0.5 * 2 ** (dropped - 1))
            except SpotifyException as exc:
                status = exc.http_status
                message, reason = spotify_message(exc)
                if status == 429:
                    delay = _retry_after(exc.headers)
                    if reason == "QUOTA_EXCEEDED" or "quota" in message.lower():
                        raise QuotaExceeded(delay) from None  # hours away: retrying only spends more of it
                    delay = 5.0 if delay is None else delay
                    waits += 1
                    if delay > self.settings.max_retry_wait or waits > 20:
                        raise RateLimited(delay) from None
                    self.progress(Progress("wait", 0, 0, message=f"Rate limited by Spotify; waiting {delay:.0f} s"))
                    self.cancel.sleep(delay)
                    continue
                raise refusal(status, message, reason, source, write) from None
            except requests.RequestException as exc:
                raise NetworkError(f"Could not talk to Spotify ({type(exc).__name__}).") from None

    def me(self) -> dict:
        if self._me is None:
            self._me = self.call(self.client.me) or {}
        return self._me

    def pages(self, fetch: Callable[[int], dict | None], source: Source | None = None) -> Iterator[dict]:
        offset = 0
        while True:
            page = self.call(fetch, offset, source=source) or {}
            items = page.get("items") or []
            yield page
            offset += len(items)
            if not items or offset >= int(page.get("total") or 0):
                return

    def sources(self) -> list[Source]:
        """Liked Songs first, then every playlist of the user (owned, collaborative, followed)."""
        me = self.me()
        my_id = me.get("id")
        liked = self.call(self.client.current_user_saved_tracks, limit=1)
        result = [
            Source(LIKED, "liked", "Liked Songs", me.get("display_name") or my_id or "", int(liked.get("total") or 0),
                   snapshot_id=_liked_snapshot(liked), url="https://open.spotify.com/collection/tracks")
        ]
        for page in self.pages(lambda offset: self.client.current_user_playlists(limit=PAGE, offset=offset)):
            for pl in page.get("items") or []:
                if not isinstance(pl, dict) or not pl.get("id"):
                    continue
                owner = pl.get("owner") or {}
                counts = pl.get("items") if isinstance(pl.get("items"), dict) else pl.get("tracks") or {}
                mine = owner.get("id") == my_id or bool(pl.get("collaborative"))
                result.append(
                    Source(
                        id=str(pl["id"]),
                        kind="playlist",
                        name=str(pl.get("name") or ""),
                        owner=str(owner.get("display_name") or owner.get("id") or ""),
                        tracks=int(counts.get("total") or 0),
                        readable=mine,
                        reason="" if mine else UNAVAILABLE_FOLLOWED,
                        snapshot_id=str(pl.get("snapshot_id") or ""),
                        url=(pl.get("external_urls") or {}).get("spotify", ""),
                    )
                )
        return result

    def playlist(self, playlist_id: str) -> Source:
        """One playlist's details, for a playlist named on the command line."""
        pl = self.call(self.client.playlist, playlist_id, fields="id,name,owner,snapshot_id,external_urls,collaborative",
                        source=Source(playlist_id, "playlist", playlist_id, readable=False))
        owner = pl.get("owner") or {}
        return Source(
            id=str(pl.get("id") or playlist_id), kind="playlist", name=str(pl.get("name") or ""),
            owner=str(owner.get("display_name") or owner.get("id") or ""), snapshot_id=str(pl.get("snapshot_id") or ""),
            url=(pl.get("external_urls") or {}).get("spotify", ""),
        )

    def items(self, source: Source) -> SourceItems:
        """All tracks of a source, with skipped entries counted by reason."""
        result = SourceItems()
        if source.kind == "liked":
            fetch = lambda offset: self.client.current_user_saved_tracks(limit=PAGE, offset=offset)  # noqa: E731
        else:
            fetch = lambda offset: self.client.playlist_items(source.id, limit=PAGE, offset=offset)  # noqa: E731
        for page in self.pages(fetch, source if source.kind == "playlist" else None):
            for entry in page.get("items") or []:
                track = parse_entry(entry, result.skipped)
                if track is not None:
                    result.tracks.append(track)
        return result


def _liked_snapshot(first_page: dict) -> str:
    """Liked Songs has no snapshot id: total count plus the newest entry stand in for one."""
    items = first_page.get("items") or []
    head = items[0] if items and isinstance(items[0], dict) else {}
    track = head.get("track") or head.get("item") or {}
    return f"{first_page.get('total', 0)}:{head.get('added_at', '')}:{track.get('id', '') if isinstance(track, dict) else ''}"


def _reason(status: int, message: str, source: Source) -> str:
    """Why one playlist cannot be read; stored on it and shown in the picker up to the first colon."""
    if status == 404:
        return "not found (404): deleted, or not visible to this account"
    if not source.readable:  # listed as followed
        return "Spotify refused access (403): " + UNAVAILABLE_FOLLOWED
    return f"Spotify refused access (403): {message or 'no reason given'}"
