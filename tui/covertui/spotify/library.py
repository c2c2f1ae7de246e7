"""Reading the user's library: sources (Liked Songs, playlists) and their tracks.

Every call goes through `SpotifyLibrary.call`, which turns spotipy's exceptions
into covertui errors and handles 429s: a Retry-After up to `max_retry_wait`
seconds is waited out (reported through the progress callback), a longer one
raises `RateLimited` so the caller can stop and keep what it has.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from ..config import Settings
from ..errors import (
    AccountRefused,
    AuthError,
    CovertuiError,
    NetworkError,
    PlaybackRefused,
    QuotaExceeded,
    RateLimited,
    ScopeMissing,
    SourceUnavailable,
    WriteUncertain,
)
from ..models import Source, Track
from ..progress import CancelToken, ProgressCallback, Step, no_progress
from ..text import clean
from .auth import TokenManager
from .http import make_session

log = logging.getLogger(__name__)

LIKED = "liked"
PAGE = 50
MAX_PAGES = 10_000  # 500,000 items: more than any library, fewer than an endless answer
NETWORK_RETRIES = 3
MIN_COVER_WIDTH = 224
_ID = re.compile(r"^[A-Za-z0-9]{8,64}$")
ITEM_ID = re.compile(r"^[A-Za-z0-9]{1,64}$")  # Spotify's are 22 base62 characters; they go into URIs and URLs
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


def as_dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value) -> list:
    return value if isinstance(value, list) else []


def as_id(value, pattern: re.Pattern = ITEM_ID) -> str:
    """An id from the API, which goes into URIs and URLs as it is: one of `pattern`'s, else nothing."""
    return value if isinstance(value, str) and pattern.match(value) else ""


def as_text(value) -> str:
    """A name from the API: a string, else nothing (numbers, lists and objects are not names)."""
    return value if isinstance(value, str) else ""


def as_count(value) -> int:
    """A count from the API (`total`): a non-negative int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def spotify_link(links, kind: str, item_id: str) -> str:
    """The open.spotify.com link of an item: the API's when it is one, else built from the id."""
    url = as_dict(links).get("spotify")
    if isinstance(url, str) and url.startswith("https://open.spotify.com/") and url.isprintable() and len(url) < 300:
        return url
    return f"https://open.spotify.com/{kind}/{item_id}" if item_id else ""


def choose_image(images) -> str | None:
    """The smallest image at least 224 px wide (the 300 px one), else the largest. Entries that are not
    images (no string URL) are passed over; a width that is not a number counts as unknown."""
    images = [i for i in as_list(images) if isinstance(i, dict) and isinstance(i.get("url"), str) and i["url"]]
    if not images:
        return None
    sized = [i for i in images if as_count(i.get("width"))]
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
    return "u" + hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:39]


def parse_entry(entry: Any, skipped: Counter) -> Track | None:
    """A Track from a playlist or saved-tracks entry; None (counted in `skipped` by reason) otherwise.

    The API's answer is data: a field of the wrong type is treated as missing, and an entry that is
    not usable is skipped and counted, never fatal to the sync.
    """
    if not isinstance(entry, dict):
        skipped["null"] += 1
        return None
    item = entry.get("item") if entry.get("item") is not None else entry.get("track")
    if not isinstance(item, dict):
        skipped["null"] += 1
        return None
    if entry.get("is_local") is True or item.get("is_local") is True:
        skipped["local"] += 1
        return None
    item_id = item.get("id")
    if not item_id:
        skipped["null"] += 1
        return None
    if not as_id(item_id):
        skipped["malformed"] += 1
        return None
    if item.get("type") == "episode":
        show = as_dict(item.get("show"))
        images = item.get("images") or show.get("images")
        artists = [as_text(show.get("publisher")) or as_text(show.get("name"))]
        album, album_links, kind = as_text(show.get("name")), show.get("external_urls"), "episode"
        release = item.get("release_date")
        album_id, album_kind = show.get("id"), "show"
    else:
        album_obj = as_dict(item.get("album"))
        images = album_obj.get("images")
        artists = [as_text(a.get("name")) for a in as_list(item.get("artists")) if isinstance(a, dict)]
        album, album_links, kind = as_text(album_obj.get("name")), album_obj.get("external_urls"), "track"
        release = album_obj.get("release_date")
        album_id, album_kind = album_obj.get("id"), "album"
    cover_url = choose_image(images)
    if cover_url is None:
        skipped["no_image"] += 1
        return None
    if not cover_url.startswith(("https://", "http://")) or not cover_url.isprintable() or len(cover_url) > 2000:
        skipped["bad_image_url"] += 1
        return None
    album_id = as_id(album_id)
    return Track(
        id=item_id,
        name=as_text(item.get("name")),
        artists=artists,
        album=album,
        url=spotify_link(item.get("external_urls"), kind, item_id),
        album_url=spotify_link(album_links, album_kind, album_id) if album_id or album_links else "",
        cover_id=cover_id_for(cover_url),
        cover_url=cover_url,
        kind=kind,
        added_at=as_text(entry.get("added_at")),
        release=as_text(release),
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
    return ("" if message == "None" else clean(message[:300])), clean(str(getattr(exc, "reason", "") or ""))[:100]


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
    if status == 403 and (refusal := account_refusal(message)) is not None:
        return refusal
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
                    self.progress(Step("wait", 0, 0, message=f"Rate limited by Spotify; waiting {delay:.0f} s"))
                    self.cancel.sleep(delay)
                    continue
                raise refusal(status, message, reason, source, write) from None
            except requests.RequestException as exc:
                raise NetworkError(f"Could not talk to Spotify ({type(exc).__name__}).") from None

    def me(self) -> dict:
        if self._me is None:
            self._me = as_dict(self.call(self.client.me))
        return self._me

    def pages(self, fetch: Callable[[int], dict | None], source: Source | None = None) -> Iterator[dict]:
        """Pages of PAGE items until `total` is reached; where the answer gives no usable total, until a
        page comes back short. At most MAX_PAGES, whatever the answers say."""
        offset = 0
        for _ in range(MAX_PAGES):
            page = as_dict(self.call(fetch, offset, source=source))
            items = as_list(page.get("items"))
            yield {**page, "items": items}
            offset += len(items)
            total = page.get("total")
            if isinstance(total, int) and not isinstance(total, bool):
                if not items or offset >= total:
                    return
            elif len(items) < PAGE:
                return

    def sources(self) -> list[Source]:
        """Liked Songs first, then every playlist of the user (owned, collaborative, followed). Playlists
        the answer does not describe well enough (no string id) are left out."""
        me = self.me()
        my_id = as_text(me.get("id"))
        liked = as_dict(self.call(self.client.current_user_saved_tracks, limit=1))
        result = [
            Source(LIKED, "liked", "Liked Songs", as_text(me.get("display_name")) or my_id, as_count(liked.get("total")),
                   snapshot_id=_liked_snapshot(liked), url="https://open.spotify.com/collection/tracks")
        ]
        for page in self.pages(lambda offset: self.client.current_user_playlists(limit=PAGE, offset=offset)):
            for pl in page["items"]:
                if not isinstance(pl, dict) or not as_id(pl.get("id")):
                    continue
                owner = as_dict(pl.get("owner"))
                counts = as_dict(pl.get("items")) or as_dict(pl.get("tracks"))
                mine = (bool(my_id) and owner.get("id") == my_id) or pl.get("collaborative") is True
                result.append(
                    Source(
                        id=pl["id"],
                        kind="playlist",
                        name=as_text(pl.get("name")),
                        owner=as_text(owner.get("display_name")) or as_text(owner.get("id")),
                        tracks=as_count(counts.get("total")),
                        readable=mine,
                        reason="" if mine else UNAVAILABLE_FOLLOWED,
                        snapshot_id=as_text(pl.get("snapshot_id")),
                        url=spotify_link(pl.get("external_urls"), "playlist", pl["id"]),
                    )
                )
        return result

    def playlist(self, playlist_id: str) -> Source:
        """One playlist's details, for a playlist named on the command line."""
        pl = as_dict(self.call(self.client.playlist, playlist_id,
                             fields="id,name,owner,snapshot_id,external_urls,collaborative",
                             source=Source(playlist_id, "playlist", playlist_id, readable=False)))
        owner = as_dict(pl.get("owner"))
        return Source(
            id=playlist_id, kind="playlist", name=as_text(pl.get("name")),
            owner=as_text(owner.get("display_name")) or as_text(owner.get("id")), snapshot_id=as_text(pl.get("snapshot_id")),
            url=spotify_link(pl.get("external_urls"), "playlist", playlist_id),
        )

    def items(self, source: Source) -> SourceItems:
        """All tracks of a source, with skipped entries counted by reason."""
        result = SourceItems()
        if source.kind == "liked":
            fetch = lambda offset: self.client.current_user_saved_tracks(limit=PAGE, offset=offset)  # noqa: E731
        else:
            fetch = lambda offset: self.client.playlist_items(source.id, limit=PAGE, offset=offset)  # noqa: E731
        for page in self.pages(fetch, source if source.kind == "playlist" else None):
            for entry in page["items"]:
                track = parse_entry(entry, result.skipped)
                if track is not None:
                    result.tracks.append(track)
        return result


def _liked_snapshot(first_page: dict) -> str:
    """Liked Songs has no snapshot id: total count plus the newest entry stand in for one."""
    items = as_list(first_page.get("items"))
    head = as_dict(items[0]) if items else {}
    track = as_dict(head.get("track") or head.get("item"))
    return f"{as_count(first_page.get('total'))}:{as_text(head.get('added_at'))}:{as_text(track.get('id'))}"


def _reason(status: int, message: str, source: Source) -> str:
    """Why one playlist cannot be read; stored on it and shown in the picker up to the first colon."""
    if status == 404:
        return "not found (404): deleted, or not visible to this account"
    if not source.readable:  # listed as followed
        return "Spotify refused access (403): " + UNAVAILABLE_FOLLOWED
    return f"Spotify refused access (403): {message or 'no reason given'}"
