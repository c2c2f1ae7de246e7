"""What workers, screens and widgets tell the app. Workers post these with `post_message`, which is
thread-safe; handlers on the UI thread apply them. Named for what happened."""

from __future__ import annotations

import functools
import inspect

from textual.message import Message


def while_mounted(handler):
    """For handlers of what workers report: a report that arrives while the app closes (its widgets
    are gone already) is dropped."""

    @functools.wraps(handler)
    async def handle(app, event) -> None:
        if app.grid.is_attached:
            result = handler(app, event)
            if inspect.isawaitable(result):
                await result

    return handle


class IndexLoaded(Message):
    """The covers and their vectors are in: browsing works; the text tower still loads (ModelLoaded)."""

    def __init__(self, searcher) -> None:
        super().__init__()
        self.searcher = searcher


class ModelLoaded(Message):
    def __init__(self, searcher) -> None:
        super().__init__()
        self.searcher = searcher


class ModelFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class SourcesLoaded(Message):
    """The catalog's sources and the saved selection; `has_covers` only on the app's first read."""

    def __init__(self, sources: dict, checked: set[str], has_covers: bool | None = None) -> None:
        super().__init__()
        self.sources = sources
        self.checked = checked
        self.has_covers = has_covers


class SourcesRefreshFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class SourcesChecked(Message):
    """The user checked or unchecked a source in the picker."""

    def __init__(self, checked: list[str]) -> None:
        super().__init__()
        self.checked = checked


class SearchFinished(Message):
    """Results, with the thumbnails of the first screenful."""

    def __init__(self, result, thumbnails: list) -> None:
        super().__init__()
        self.result = result
        self.thumbnails = thumbnails


class ThumbnailsDecoded(Message):
    """Thumbnails of the results past the first screenful, from `start` on."""

    def __init__(self, hits: list, start: int, thumbnails: list) -> None:
        super().__init__()
        self.hits = hits
        self.start = start
        self.thumbnails = thumbnails


class SearchFailed(Message):
    def __init__(self, message: str, nothing_indexed: bool = False) -> None:
        super().__init__()
        self.message = message
        self.nothing_indexed = nothing_indexed


class PageSizeChanged(Message):
    """The grid now shows this many tiles: the results that need a thumbnail first."""

    def __init__(self, page_size: int) -> None:
        super().__init__()
        self.page_size = page_size


class SyncProgressed(Message):
    def __init__(self, progress) -> None:
        super().__init__()
        self.progress = progress


class SyncFinished(Message):
    def __init__(self, message: str, severity: str) -> None:
        super().__init__()
        self.message = message
        self.severity = severity


class IndexReloaded(Message):
    """The searcher picked up covers embedded since it was built."""


class DetailsRequested(Message):
    """Show every track of the selected cover (a double click on a tile)."""


class CopyRequested(Message):
    def __init__(self, text: str, what: str) -> None:
        super().__init__()
        self.text = text
        self.what = what

    @classmethod
    def link(cls, track, field: str) -> "CopyRequested":
        """A track's Spotify URL (`field` "url") or its album's ("album_url")."""
        return cls(getattr(track, field) or "", "album URL" if field == "album_url" else "track URL")


class OpenRequested(Message):
    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url


class LoginAnswered(Message):
    """The loopback listener received the browser's redirect."""

    def __init__(self, answer: str) -> None:
        super().__init__()
        self.answer = answer


class LoginFinished(Message):
    pass


class LoginFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class MarksChanged(Message):
    """Covers were marked or unmarked in the grid; `count` are marked now."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count


class PlayRequested(Message):
    """Play a track now, or add it to the queue (from the details of a cover)."""

    def __init__(self, track, queue: bool = False) -> None:
        super().__init__()
        self.track = track
        self.queue = queue


class DevicesOffered(Message):
    """No device is playing and several could: the user picks one for `uri`."""

    def __init__(self, devices: list, uri: str, queue: bool) -> None:
        super().__init__()
        self.devices = devices
        self.uri = uri
        self.queue = queue


class PlaybackFinished(Message):
    def __init__(self, message: str, severity: str = "information") -> None:
        super().__init__()
        self.message = message
        self.severity = severity


class PlaylistPlanned(Message):
    """What a new playlist will hold: `tracks`, and what is left out, counted."""

    def __init__(self, tracks: list, skipped: dict) -> None:
        super().__init__()
        self.tracks = tracks
        self.skipped = skipped


class PlaylistSaved(Message):
    def __init__(self, saved) -> None:
        super().__init__()
        self.saved = saved


class SaveFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message
