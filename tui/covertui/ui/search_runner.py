"""The app's searches, without Textual: one at a time, the newest query wins, thumbnails decoded.

The app calls `want()` on the UI thread at every keystroke and runs `run()` in a worker thread
when told to. Results reach the app through the callbacks, called from that thread.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ..errors import CovertuiError

TOP = 60
log = logging.getLogger(__name__)


@lru_cache(maxsize=300)  # five searches' worth; up to ~0.2 MB each at graphics-protocol sizes
def thumbnail(path: str | None, size: int):
    """A decoded copy of a cover at the size the terminal will draw, square (a picture that is not
    sits in the middle of black bars), done in a worker and cached."""
    if not path:
        return None
    from PIL import Image

    from ..files import open_image

    try:
        with open_image(path) as img:
            img.draft("RGB", (size, size))
            img = img.convert("RGB")
            img.thumbnail((size, size))
            if img.width != img.height:
                side = max(img.size)
                square = Image.new("RGB", (side, side))
                square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
                img = square
            return img
    except Exception as exc:  # a file gone or damaged since the sync: the tile shows no picture
        log.info("no thumbnail for %r: %s", path, exc)
        return None


class SearchRunner:
    """Runs searches one at a time. Keystrokes during a search only replace what is wanted next, and
    the running search's results are dropped unseen, so typing never queues up stale searches.

    Callbacks (from the worker thread): `on_results(result, thumbnails)` once the first screenful
    (`page_size` results) is decoded, `on_thumbnails(hits, start, thumbnails)` for the rest,
    `on_failed(error)`.
    """

    def __init__(self, thumbnail_size: int, on_results: Callable, on_thumbnails: Callable, on_failed: Callable,
                 top: int = TOP, prepare: Callable | None = None) -> None:
        self.thumbnail_size = thumbnail_size
        self.prepare = prepare  # (thumbnail) -> None: what drawing it will need, done here (sixel, kitty PNG)
        self.on_results = on_results
        self.on_thumbnails = on_thumbnails
        self.on_failed = on_failed
        self.top = top
        self.page_size = 12  # set by the app from the grid's layout
        self.searcher: Any = None  # search.Searcher, once the index is in
        self._wanted: tuple | None = None  # the newest search asked for: (text, sources, order)
        self._running = False
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._running

    def want(self, text: str, sources: list[str], again: bool = False, order: str = "relevance") -> bool:
        """Ask for a search of `text` in `sources` (empty: browse), results in `order`; True when the
        caller must start `run()` in a thread.

        The same query and sources twice is one search, unless `again` (a retry, new covers indexed).
        Before the searcher is ready, the newest query waits for `start()`.
        """
        wanted = (text, tuple(sorted(sources)), order)
        with self._lock:
            if self._stopped or (wanted == self._wanted and not again):
                return False
            self._wanted = wanted  # a new object: a running search sees it is stale
            if self._running or self.searcher is None:
                return False
            self._running = True
            return True

    def start(self, searcher) -> bool:
        """The searcher is ready; True when a query typed before must now run (start `run()`)."""
        with self._lock:
            self.searcher = searcher
            if self._wanted is None or self._running or self._stopped:
                return False
            self._running = True
            return True

    def close(self) -> None:
        """No more searches; one under way stops at its next step."""
        with self._lock:
            self._stopped = True

    def run(self) -> None:
        """In a worker thread: search for what is wanted until nothing newer is."""
        wanted: tuple | None = None
        try:
            while True:
                with self._lock:
                    asked = self._wanted
                    if asked is None or asked is wanted or self._stopped:
                        self._running = False
                        return
                    wanted = asked
                text, sources, order = asked
                self._search(text, sources, order, stale=functools.partial(self._stale, asked))
        except BaseException:
            self._running = False
            raise

    def _stale(self, asked: tuple) -> bool:
        """Whether a newer search was asked for since `asked`, or none will run any more."""
        return self._wanted is not asked or self._stopped

    def _search(self, text: str, sources: tuple, order: str, stale: Callable[[], bool]) -> None:
        """Search, decode the first screenful of thumbnails and report them, then decode the rest
        (ready before they are scrolled to). Stops once `stale()`."""
        try:
            result = self.searcher.search(text, top=self.top, sources=list(sources), order=order)
        except CovertuiError as exc:
            if not stale():
                self.on_failed(exc)
            return
        first = self.page_size
        thumbnails = []
        for hit in result.hits:
            if stale():
                return
            thumbnails.append(thumbnail(hit.path, self.thumbnail_size))
            if self.prepare is not None:
                self.prepare(thumbnails[-1])
            if len(thumbnails) == first:
                self.on_results(result, list(thumbnails))
        if len(thumbnails) > first:
            self.on_thumbnails(result.hits, first, thumbnails[first:])
        elif len(thumbnails) < first:
            self.on_results(result, thumbnails)
