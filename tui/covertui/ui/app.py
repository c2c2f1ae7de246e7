"""covertui's full-screen app: query input, source picker, cover grid, background work.

Heavy imports (torch, transformers) happen only in worker threads, after the first frame.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from functools import lru_cache, partial

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual._callback import invoke
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import Footer, Input, SelectionList, Static
from textual.widgets.selection_list import Selection as PickerItem

from ..config import Settings
from ..errors import CovertuiError
from ..progress import CancelToken
from .screens import AuthScreen, DetailsScreen, HelpScreen, SetupScreen
from .widgets import CoverGrid, WorkPanel, clean

TOP = 60
GC_IDLE = 1.0  # s without a key or click before a full garbage collection may run...
GC_EVERY = 5.0  # ...checked this often, so that one costs at most ~2% of a core during a sync
EMPTY = "Nothing synced yet. Check sources on the left (space), then press s to sync."


@lru_cache(maxsize=300)  # five searches' worth; up to ~0.2 MB each at graphics-protocol sizes
def thumbnail(path: str | None, size: int):
    """A decoded copy of a cover at the size the terminal will draw (done in a worker, cached)."""
    if not path:
        return None
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))
            img = img.convert("RGB")
            img.thumbnail((size, size))
            return img
    except Exception:
        return None


def thumb_size(protocol: str) -> int:
    """Pixels a tile's image needs: blocks draw 2 pixels per cell, graphics protocols real pixels."""
    if protocol in ("halfcell", "unicode"):
        return 48
    from textual_image._terminal import get_cell_size

    cell = get_cell_size()
    return max(48, min(320, 24 * cell.width, 11 * cell.height))


class CovertuiApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "covertui"
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("enter", "details", "Details", show=False),
        Binding("y", "copy('url')", "Copy URL"),
        Binding("Y", "copy('album_url')", "Copy album"),
        Binding("m", "more_like_this", "More like this"),
        Binding("o", "open", "Open"),
        Binding("s", "sync", "Sync"),
        Binding("c", "cancel", "Cancel"),
        Binding("p", "focus_picker", "Sources"),
        Binding("question_mark", "help", "Help"),
        Binding("f1", "help", "Help", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, settings: Settings, image_class, protocol: str = "") -> None:
        super().__init__()
        self.settings = settings
        self.image_class = image_class
        self.protocol = protocol
        self.searcher = None
        self.pending: str | None = None
        self._wanted: tuple | None = None  # the newest search asked for: (text, sources)
        self._searching = False  # a search worker is running; it takes up _wanted when it ends
        self._shown_query: str | None = None
        self._search_lock = threading.Lock()
        self.work_cancel: CancelToken | None = None
        self.sources: dict = {}
        self.last_ms: float | None = None
        self.status_note = "loading the model…"
        self._filling = False
        self._last_reload = 0.0
        self._last_input = 0.0
        self._gc_threshold: tuple | None = None  # the interpreter's, while the app holds full collections
        self.thumb_size = thumb_size(protocol)

    def ui(self, callback, *args) -> None:
        """From a worker thread: run `callback(*args)` on the UI thread, without waiting for it.

        Dropped once the app is closing, so a worker finishing late neither blocks nor touches
        widgets that are gone.
        """
        loop = self._loop
        if loop is None or self._closing or self._closed:
            return

        async def run() -> None:
            if self._closing or self._closed:
                return
            with self._context():
                try:
                    await invoke(partial(callback, *args))
                except NoMatches:
                    pass

        asyncio.run_coroutine_threadsafe(run(), loop)

    # layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Input(placeholder='Search covers: "blue cover with a cat"   (↓ to the covers · F1 help)', id="query")
        with Horizontal(id="body"):
            yield SelectionList[str](id="sources")
            self.grid = CoverGrid(self.image_class, id="grid")
            yield self.grid
        yield WorkPanel(id="work")
        yield Static("", id="status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#sources").border_title = "Sources"
        self.query_one("#query").focus()
        self.load_sources(first=True)
        self.update_status()
        self.load_model()
        self.call_after_refresh(self.check_login)
        self.set_interval(GC_EVERY, self._collect_when_idle)

    def check_login(self) -> None:
        """After the first frame (this brings in requests): setup guide, login screen, or fresh sources."""
        from ..spotify.auth import TokenStore, setup_guide

        if not self.settings.has_credentials:
            self.push_screen(SetupScreen(setup_guide(self.settings)))
        elif TokenStore(self.settings.paths.token_file).load() is None:
            self.show_login()
        else:
            self.refresh_sources()

    # sources -------------------------------------------------------------------
    @work(thread=True, group="catalog")
    def load_sources(self, first: bool = False) -> None:
        """Read the catalog off the UI thread (the first frame does not wait for it), then fill the picker."""
        from ..catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            sources, checked = catalog.sources(), set(catalog.selection())
        covers_dir = self.settings.paths.covers_dir
        has_covers = any(s.kind == "folder" for s in sources.values()) or (
            covers_dir.is_dir() and next(os.scandir(covers_dir), None) is not None)
        self.ui(self._fill_picker, sources, checked, has_covers if first else None)

    async def _fill_picker(self, sources: dict, checked: set, first_has_covers: bool | None) -> None:
        self.sources = sources
        picker = self.query_one("#sources", SelectionList)
        self._filling = True  # the app's own changes are not the user's: nothing to save or search
        try:
            picker.clear_options()
            for source in sources.values():
                label = f"{clean(source.name)} ({source.tracks})"
                if not source.readable:  # the reason's first clause: "followed, not owned", "... (403)"
                    label += f" — unavailable: {source.reason.split(':')[0]}"
                picker.add_option(PickerItem(label, source.id, source.id in checked, disabled=not source.readable))
        finally:
            self.call_after_refresh(setattr, self, "_filling", False)
        if first_has_covers is not None:
            await self.grid.show([], [], "Type to search." if first_has_covers else EMPTY)
            if not first_has_covers and self.focused is self.query_one("#query") and not self.query_one("#query").value:
                picker.focus()  # nothing synced yet: start in the picker, where space checks and s syncs

    @work(thread=True, exclusive=True, group="sources")
    def refresh_sources(self) -> None:
        from ..spotify.library import SpotifyLibrary

        from ..catalog import Catalog

        try:
            listed = SpotifyLibrary(self.settings).sources()
        except CovertuiError as exc:
            self.ui(self.notify, str(exc), title="Spotify", severity="warning", timeout=10)
            return
        with Catalog(self.settings.paths) as catalog:
            catalog.save_listed(listed)
            if not catalog.selection():
                catalog.save_selection([s.id for s in listed if s.readable])
        self.ui(self.load_sources)

    @on(SelectionList.SelectedChanged, "#sources")
    def sources_changed(self) -> None:
        if self._filling:
            return
        self.save_selection(self.checked_sources)
        self.search_now()

    @work(thread=True, group="catalog")
    def save_selection(self, checked: list[str]) -> None:
        from ..catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            catalog.save_selection(checked)

    @property
    def checked_sources(self) -> list[str]:
        return list(self.query_one("#sources", SelectionList).selected)

    # model and search ------------------------------------------------------------
    @work(thread=True, exclusive=True, group="model")
    def load_model(self) -> None:
        from ..search import Searcher

        try:
            searcher = Searcher(self.settings)
        except CovertuiError as exc:
            self.ui(self._model_failed, str(exc))
            return
        self.ui(self._model_ready, searcher)

    def _model_failed(self, message: str) -> None:
        self.status_note = "model not loaded"
        self.update_status()
        self.notify(message, title="Model", severity="error", timeout=15)

    def _model_ready(self, searcher) -> None:
        # The imports and the model made ~500k objects that live as long as the app: a full garbage
        # collection walking them stalled the UI ~0.3 s every few searches. They are left out of it,
        # and full collections (~0.1 s over Textual's own caches) wait until the user is idle.
        if self._gc_threshold is None:
            self._gc_threshold = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(*self._gc_threshold[:2], 1 << 30)
        self.searcher = searcher
        self.status_note = ""
        self.update_status()
        if self.pending is not None:
            self.search_now()

    def update_status(self) -> None:
        parts = []
        if self.searcher is not None:
            parts.append(self.searcher.model.description)
            parts.append(f"{self.searcher.indexed} covers indexed")
        if self.last_ms is not None:
            parts.append(f"last search {self.last_ms:.1f} ms" if self.last_ms < 10 else f"last search {self.last_ms:.0f} ms")
        if self.status_note:
            parts.append(self.status_note)
        parts.append(f"graphics: {self.protocol}")
        self.query_one("#status", Static).update(" · ".join(parts))

    @on(Input.Changed, "#query")
    def query_changed(self) -> None:
        self.search_now()

    @on(Input.Submitted, "#query")
    def query_submitted(self) -> None:
        self.search_now(again=not self._searching)  # Enter searches again (a retry), unless already on it

    def search_now(self, again: bool = False) -> None:
        """Search for the query as it is now, at once, or as soon as the running search ends.

        One search runs at a time. Keystrokes during it only replace what is wanted next, and the
        running search's results are dropped unseen, so typing never queues up stale searches.
        The same query and sources twice is one search, unless `again` (a retry, new covers indexed).
        """
        if self._closing or self._closed:
            return
        text = self.query_one("#query", Input).value.strip()
        if not text:
            return
        if self.searcher is None:
            self.pending = text
            self.status_note = "loading the model… your search runs when it is ready"
            self.update_status()
            return
        self.pending = None
        wanted = (text, tuple(self.checked_sources))
        with self._search_lock:
            if wanted == self._wanted and not again:
                return
            self._wanted = wanted
            if self._searching:
                return
            self._searching = True
        self.run_search()

    @work(thread=True, group="search")
    def run_search(self) -> None:
        wanted = None
        try:
            while True:
                with self._search_lock:
                    if self._wanted is wanted or self._closing:
                        self._searching = False
                        return
                    wanted = self._wanted
                self._search(*wanted, stale=lambda: self._wanted is not wanted or self._closing)
        except BaseException:
            self._searching = False
            raise

    def _search(self, text: str, sources: tuple, stale) -> None:
        """In the search worker: search, decode the first screenful of thumbnails and show them,
        then decode the rest (ready before they are scrolled to). Stops once `stale()`."""
        try:
            result = self.searcher.search(text, top=TOP, sources=list(sources) or ["-none-"])
        except CovertuiError as exc:
            if not stale():
                self.ui(self._search_failed, str(exc))
            return
        first = self.grid.page_size
        thumbs = []
        for hit in result.hits:
            if stale():
                return
            thumbs.append(thumbnail(hit.path, self.thumb_size))
            if len(thumbs) == first:
                self.ui(self._show_results, result, list(thumbs))
        if len(thumbs) > first:
            self.ui(self.grid.add_thumbnails, result.hits, first, thumbs[first:])
        elif len(thumbs) < first:
            self.ui(self._show_results, result, thumbs)

    async def _search_failed(self, message: str) -> None:
        await self.grid.show([], [], message)

    async def _show_results(self, result, thumbs) -> None:
        self.last_ms = result.elapsed_ms
        empty = "No covers in the checked sources." if self.checked_sources else "Check a source on the left."
        again, self._shown_query = result.query == self._shown_query, result.query
        await self.grid.show(result.hits, thumbs, empty, keep_selection=again)
        self.update_status()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self._last_input = time.monotonic()
        await super().on_event(event)

    def _collect_when_idle(self) -> None:
        """The full garbage collections the interpreter would have run mid-keystroke, run when idle."""
        if gc.get_count()[2] >= 10 and not self._searching and time.monotonic() - self._last_input > GC_IDLE:
            gc.collect()

    def on_unmount(self) -> None:
        if self._gc_threshold is not None:  # the process goes on (tests, an embedding program)
            gc.set_threshold(*self._gc_threshold)
            gc.unfreeze()

    # keys ------------------------------------------------------------------------
    def on_key(self, event) -> None:
        focused = self.focused
        if event.key == "down" and focused is self.query_one("#query"):
            self.grid.focus()
            event.stop()
        elif event.key == "escape" and focused is not self.query_one("#query") and self.screen is self.screen_stack[0]:
            self.action_focus_search()
            event.stop()

    def action_focus_search(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_picker(self) -> None:
        self.query_one("#sources").focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    @property
    def current(self):
        return self.grid.current

    def action_details(self) -> None:
        if self.current is not None:
            self.push_screen(DetailsScreen(self.current, {sid: s.name for sid, s in self.sources.items()}))

    def action_copy(self, field: str) -> None:
        hit = self.current
        if hit is None:
            return
        if not hit.tracks:
            self.copy_url(hit.path or "", "file path")
            return
        self.copy_url(hit.tracks[0].get(field) or "", "album URL" if field == "album_url" else "track URL")

    def copy_url(self, url: str, what: str) -> None:
        if not url:
            self.notify(f"No {what} for this cover.", severity="warning")
            return
        self.copy_to_clipboard(url)  # OSC 52: reaches the local clipboard over SSH too
        self.notify(f"Copied {what}: {url}", title="Clipboard")

    def action_more_like_this(self) -> None:
        if self.current is not None:
            self.query_one("#query", Input).value = f"@{self.current.cover}"
            self.search_now()

    def action_open(self) -> None:
        hit = self.current
        if hit is not None and hit.tracks:
            self.open_link(hit.tracks[0]["url"])

    def open_link(self, url: str) -> None:
        if sys.platform != "darwin" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            self.copy_url(url, "track URL (no display here to open it)")
            return
        self.open_url(url)

    # login -----------------------------------------------------------------------
    def show_login(self) -> None:
        from ..spotify.auth import LoginFlow

        def done(logged_in) -> None:
            if logged_in:
                self.notify("Logged in to Spotify.", title="Spotify")
                self.refresh_sources()

        self.push_screen(AuthScreen(LoginFlow(self.settings)), done)

    # sync --------------------------------------------------------------------------
    def action_sync(self) -> None:
        if self.work_cancel is not None:
            self.notify("A sync is already running (c cancels it).")
            return
        checked = [self.sources[s] for s in self.checked_sources if s in self.sources]
        if not checked:
            self.notify("Check at least one source on the left first.", severity="warning")
            return
        from ..sync import Selection

        selection = Selection(liked=any(s.kind == "liked" for s in checked),
                              playlists=[s.id for s in checked if s.kind == "playlist"],
                              folders=[s.url for s in checked if s.kind == "folder"])
        self.work_cancel = CancelToken()
        self.query_one(WorkPanel).display = True
        self.run_sync(selection, self.work_cancel)

    def action_cancel(self) -> None:
        if self.work_cancel is not None:
            self.work_cancel.cancel()
            self.notify("Cancelling: finished work is kept.")

    @work(thread=True, exclusive=True, group="sync")
    def run_sync(self, selection, cancel: CancelToken) -> None:
        from ..embed.pipeline import embedder
        from ..sync import sync

        def progress(p) -> None:
            self.ui(self.query_one(WorkPanel).report, p)
            if p.stage == "embed" and time.monotonic() - self._last_reload > 2:
                self._last_reload = time.monotonic()
                self.ui(self.reload_index)  # results grow as covers are embedded

        try:
            summary = sync(self.settings, selection, progress=progress, cancel=cancel, embed=embedder(self.settings))
            message = (f"{summary.covers} covers: {summary.downloaded} downloaded, {summary.embedded} embedded, "
                       f"{len(summary.failed)} failed.")
            severity = "information"
        except CovertuiError as exc:
            message, severity = str(exc), "warning"
        self.ui(self._sync_finished, message, severity)

    def _sync_finished(self, message: str, severity: str) -> None:
        self.work_cancel = None
        self.query_one(WorkPanel).display = False
        self.notify(message, title="Sync", severity=severity, timeout=10)
        self.load_sources()
        self.reload_index()

    @work(thread=True, exclusive=True, group="reload")
    def reload_index(self) -> None:
        if self.searcher is None:
            return
        self.searcher.reload()
        self.ui(self.update_status)
        self.ui(self.search_now, True)

    async def action_quit(self) -> None:
        if self.work_cancel is not None:
            self.work_cancel.cancel()  # workers stop between files/batches; finished work is kept
        self.exit()


def run_app(settings: Settings, graphics: str | None = None) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .graphics import image_widget_class, protocol_name

    image_class = image_widget_class(graphics or settings.graphics)
    app = CovertuiApp(settings, image_class, protocol_name(image_class))
    # The app's own loop and worker threads: asyncio.run() would wait for every worker at the end,
    # and a cancelled sync can sit in a hung download for the whole request timeout (or a model
    # load). Idle workers end here; busy ones are left to `cli.run`.
    workers = ThreadPoolExecutor(thread_name_prefix="covertui-worker")
    loop = asyncio.new_event_loop()
    loop.set_default_executor(workers)
    try:
        app.run(loop=loop)
    finally:
        workers.shutdown(wait=False, cancel_futures=True)
        loop.close()
    return app.return_code or 0
