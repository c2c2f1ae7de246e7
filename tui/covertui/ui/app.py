"""covertui's full-screen app: query input, source picker, cover grid, background work.

The app composes the screen, binds keys to actions, starts workers and handles what they report
(ui/messages.py). Heavy imports (torch, transformers) happen only in worker threads, after the
first frame.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState

from ..config import ORDERS, Settings
from ..errors import CovertuiError, NothingIndexed, crash_report
from ..progress import CancelToken
from ..text import clean, clean_lines
from .graphics import preparer, thumbnail_pixels
from .idle_gc import IdleCollector
from .messages import (DetailsRequested, IndexLoaded, IndexReloaded, ModelFailed, ModelLoaded, PageSizeChanged,
                       SearchFailed, SearchFinished, SourcesChecked, SourcesLoaded, SourcesRefreshFailed, SyncFinished,
                       SyncProgressed, ThumbnailsDecoded, while_mounted)
from .plain import plain
from .screens import AuthScreen, DetailsScreen, HelpScreen, SetupScreen
from .search_runner import SearchRunner
from .track_actions import TrackActions
from .widgets import CoverGrid, QueryInput, SourcePicker, StatusLine, WorkPanel
from .widgets.cover_tile import ART_HEIGHT, ART_WIDTH

GC_IDLE = 1.0  # s without a key or click before a full garbage collection may run...
GC_EVERY = 5.0  # ...checked this often, so that one costs at most ~2% of a core during a sync
RELOAD_EVERY = 2.0  # s between index reloads while a sync embeds: results grow as covers are embedded
REFRESH_LATEST = 3.0  # s after the start, sources are refreshed from Spotify even if no covers came yet
log = logging.getLogger(__name__)
EMPTY = "Nothing synced yet. Check sources on the left (space), then press s to sync."


class CovertuiApp(TrackActions, App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere (tests) find it too
    TITLE = "covertui"
    BINDINGS = [
        Binding("slash", "focus_search", "Search"),
        Binding("enter", "details", "Details", show=False),
        Binding("y", "copy('url')", "Copy URL"),
        Binding("Y", "copy('album_url')", "Copy album"),
        Binding("m", "more_like_this", "More like this"),
        Binding("ctrl+o", "cycle_order", "Order"),
        Binding("O", "cycle_order", "Order", show=False),
        Binding("o", "open", "Open"),
        Binding("P", "play(False)", "Play", show=False),
        Binding("e", "play(True)", "Queue", show=False),
        Binding("n", "save_playlist", "Save as playlist", show=False),
        Binding("U", "unmark", "Unmark all", show=False),
        Binding("L", "login", "Log in again", show=False),
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
        self.sources: dict = {}
        self.work_cancel: CancelToken | None = None
        self._shown_query: str | None = None
        self.order = "relevance"  # of the results; "relevance" browses (no words) as "recent"
        self._words = False  # whether the query box holds words
        self.has_covers = True  # anything synced: else the grid says how to start
        self.model_ready = False  # the text tower is in: queries with words run
        self._covers_done = self._refresh_wanted = False  # fresh sources: asked once the first covers are in
        self._last_reload = 0.0
        self.searches = SearchRunner(
            thumbnail_pixels(protocol, ART_WIDTH, ART_HEIGHT),
            on_results=lambda result, thumbs: self.post_message(SearchFinished(result, thumbs)),
            on_thumbnails=lambda hits, start, thumbs: self.post_message(ThumbnailsDecoded(hits, start, thumbs)),
            on_failed=lambda error: self.post_message(SearchFailed(str(error), isinstance(error, NothingIndexed))),
            prepare=preparer(protocol, ART_WIDTH, ART_HEIGHT))
        self.collector = IdleCollector(GC_IDLE, busy=lambda: self.searches.busy)

    @property
    def searcher(self):
        return self.searches.searcher

    # layout --------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield QueryInput(placeholder='Search covers: "blue cover with a cat"   (↓ to the covers · F1 help)', id="query")
        with Horizontal(id="body"):
            yield SourcePicker(id="sources")
            self.grid = CoverGrid(self.image_class, id="grid")
            yield self.grid
        yield WorkPanel(id="work")
        yield StatusLine(self.protocol, id="status")
        yield Footer()

    def on_mount(self) -> None:
        if getattr(self.image_class, "under_dialogs", False):  # kitty: a dimmed colour would name another picture
            self.add_class("-clear-dialogs")
        self.query_one(SourcePicker).border_title = "Sources"
        self.query_one("#query").focus()
        self.load_sources(first=True)
        self.load_model()
        self.call_after_refresh(self.check_login)
        self.set_timer(REFRESH_LATEST, self.covers_done)  # a model still downloading delays Spotify no longer
        self.set_interval(GC_EVERY, self.collector.collect_if_idle)

    def on_unmount(self) -> None:
        self.searches.close()
        self.collector.release()

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, (events.Key, events.MouseDown, events.MouseScrollDown, events.MouseScrollUp)):
            self.collector.touched()
        await super().on_event(event)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = False) -> None:
        """Notifications are plain text, whatever asks for one: they quote names (a device, a playlist,
        a file) and Spotify's own words."""
        super().notify(clean_lines(message), title=clean(title), severity=severity, timeout=timeout, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one error path of every worker (they run with exit_on_error=False): an error covertui
        expects is a notification; anything else is logged and ends the app with a traceback that shows
        no local variables (those of the Spotify layer hold tokens)."""
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        if isinstance(error, CovertuiError):
            self.notify(str(error), title="covertui", severity="error", timeout=20)
            return
        log.error("worker %s failed", event.worker.name, exc_info=error)
        self.exit(return_code=1, message=Text(crash_report(error)))

    def check_login(self) -> None:
        """After the first frame (this brings in requests): setup guide, login screen, or fresh sources."""
        from ..spotify.auth import TokenStore, login_warning, setup_guide

        try:
            token = TokenStore(self.settings.paths.token_file).load()
        except CovertuiError as exc:  # a corrupt token file: say so, and offer the login
            self.notify(str(exc), title="Spotify login", severity="error", timeout=30)
            token = None
        for endpoint in self.settings.custom_endpoints:
            self.notify(f"Not Spotify's own endpoint: {endpoint}. The login is sent there.", title="Spotify",
                        severity="warning", timeout=10)
        if not self.settings.has_credentials:
            self.push_screen(SetupScreen(setup_guide(self.settings)))
        elif token is None:
            self.show_login()
        else:
            if warning := login_warning(token):
                self.notify(warning, title="Spotify login", severity="warning", timeout=20)
            self._refresh_wanted = True
            self.refresh_after_covers()

    def refresh_after_covers(self) -> None:
        """Fresh sources from Spotify, once the first covers are drawn (or could not be): the Spotify
        client's imports in a worker would hold the interpreter while the covers are on their way."""
        if self._refresh_wanted and self._covers_done:
            self._refresh_wanted = False
            self.refresh_sources()

    def covers_done(self) -> None:
        self._covers_done = True
        self.refresh_after_covers()

    # sources -------------------------------------------------------------------
    def _read_sources(self, first: bool = False) -> SourcesLoaded:
        from ..catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            return SourcesLoaded(catalog.sources(), set(catalog.selection()), catalog.has_covers() if first else None)

    @work(thread=True, exit_on_error=False, group="catalog")
    def load_sources(self, first: bool = False) -> None:
        """Read the catalog off the UI thread (the first frame does not wait for it)."""
        self.post_message(self._read_sources(first))

    @work(thread=True, exit_on_error=False, exclusive=True, group="sources")
    def refresh_sources(self) -> None:
        """Ask Spotify for the user's playlists, store them, then show them."""
        from ..sync import refresh_sources

        try:
            refresh_sources(self.settings, select_readable=True)
        except CovertuiError as exc:
            self.post_message(SourcesRefreshFailed(str(exc)))
            return
        self.post_message(self._read_sources())

    @while_mounted
    async def on_sources_loaded(self, event: SourcesLoaded) -> None:
        self.sources = event.sources
        picker = self.query_one(SourcePicker)
        picker.fill(event.sources, event.checked)
        if event.has_covers is not None:
            self.has_covers = event.has_covers
            if not event.has_covers:
                self.covers_done()  # nothing to draw: Spotify's sources at once
            await self.grid.show([], [], "Loading the covers…" if event.has_covers else EMPTY)
            query = self.query_one("#query", Input)
            # the query's focus from on_mount may still be on its way (focus() is applied later, in order)
            if not event.has_covers and self.focused in (query, None) and not query.value:
                picker.focus()  # nothing synced yet: start in the picker, where space checks and s syncs
            self.search_now()  # no query yet: browse the checked sources, newest first

    def on_sources_refresh_failed(self, event: SourcesRefreshFailed) -> None:
        self.notify(event.message, title="Spotify", severity="error", timeout=30)

    def on_sources_checked(self, event: SourcesChecked) -> None:
        self.save_selection(event.checked)
        self.search_now()

    @work(thread=True, exit_on_error=False, group="catalog")
    def save_selection(self, checked: list[str]) -> None:
        from ..catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            catalog.save_selection(checked)

    @property
    def checked_sources(self) -> list[str]:
        return list(self.query_one(SourcePicker).selected)

    # model and search ------------------------------------------------------------
    @work(thread=True, exit_on_error=False, exclusive=True, group="model")
    def load_model(self) -> None:
        """The index first (covers browse at once), then the text tower (queries with words): numpy's
        when saved (embed/text_fast.py), then torch's in its place."""
        from ..search import Searcher

        try:
            searcher = Searcher(self.settings, text=False)
            self.post_message(IndexLoaded(searcher))
            searcher.model.load("text")
            self.post_message(ModelLoaded(searcher))
        except CovertuiError as exc:
            self.post_message(ModelFailed(str(exc)))
            return
        if searcher.model.numpy_text:  # it answered first; torch's tower is ~3x faster a query from now on
            try:
                searcher.model.load_torch_text()
            except CovertuiError as exc:
                log.warning("the numpy text tower stays: %s", exc)
                return
            self.post_message(ModelLoaded(searcher))  # its objects too out of full collections

    @while_mounted
    def on_model_failed(self, event: ModelFailed) -> None:
        self.query_one(StatusLine).show(note="model not loaded")
        self.notify(event.message, title="Model", severity="error", timeout=15)
        self.covers_done()

    @while_mounted
    def on_index_loaded(self, event: IndexLoaded) -> None:
        if self.searches.start(event.searcher):  # the covers, or a query typed meanwhile that needs no model
            self.run_worker(self.searches.run, thread=True, group="search", exit_on_error=False)
        self.query_one(StatusLine).show(searcher=event.searcher)

    @while_mounted
    def on_model_loaded(self, event: ModelLoaded) -> None:
        self.collector.hold()  # the model's objects live as long as the app: out of full collections
        self.model_ready = True
        self.query_one(StatusLine).show(note="")
        self.search_now()  # a query with words typed while the model loaded runs now

    @on(Input.Changed, "#query")
    def query_changed(self, event: Input.Changed) -> None:
        if event.value.strip() and not self._words:  # words after browsing: the best matches first
            self.order = "relevance"
        self._words = bool(event.value.strip())
        self.search_now()

    @on(Input.Submitted, "#query")
    def query_submitted(self) -> None:
        self.search_now(again=not self.searches.busy)  # Enter searches again, unless already on it

    def search_now(self, again: bool = False) -> None:
        """Search for the query as it is now, at once, or as soon as the running search ends. Words wait
        for the text tower; the covers are browsed meanwhile."""
        text = self.coming_query()
        if self.searches.want(text, self.checked_sources, again, self.order):
            self.run_worker(self.searches.run, thread=True, group="search", exit_on_error=False)
        if text != self.query_one("#query", Input).value.strip():
            self.query_one(StatusLine).show(note="loading the model… your search runs when it is ready")

    def coming_query(self) -> str:
        """What the grid is to show: the query box's text, or the covers (a browse) while the model that
        its words need loads."""
        from ..search import needs_text

        text = self.query_one("#query", Input).value.strip()
        return text if self.model_ready or not needs_text(text) else ""

    @while_mounted
    async def on_search_finished(self, event: SearchFinished) -> None:
        result = event.result
        if result.query != self.coming_query():
            return  # typed on since it began: the newer query's results are on their way, not this grid
        empty = "No covers in the checked sources." if self.checked_sources else "Check a source on the left."
        again, self._shown_query = result.query == self._shown_query, result.query
        self.query_one(StatusLine).show(last_ms=result.elapsed_ms)  # first: a frame with the covers has it too
        named = f" · {result.matched} first" if result.matched else ""  # a name of the catalog: plain text
        title = plain(f"{'covers' if result.query.strip() else 'all covers'} by {ORDERS[result.order]}{named}")
        if title.markup != self.grid.border_title:  # setting it repaints the whole grid
            self.grid.border_title = title
        await self.grid.show(result.hits, event.thumbnails, empty, keep_selection=again)
        self.covers_done()

    @while_mounted
    def on_thumbnails_decoded(self, event: ThumbnailsDecoded) -> None:
        self.grid.add_thumbnails(event.hits, event.start, event.thumbnails)

    @while_mounted
    async def on_search_failed(self, event: SearchFailed) -> None:
        await self.grid.show([], [], EMPTY if event.nothing_indexed and not self.has_covers else event.message)
        self.covers_done()

    def on_page_size_changed(self, event: PageSizeChanged) -> None:
        self.searches.page_size = event.page_size

    # keys ------------------------------------------------------------------------
    def on_key(self, event) -> None:
        query = self.query_one("#query")
        if event.key == "down" and self.focused is query:
            self.grid.focus()
            event.stop()
        elif event.key == "escape" and self.focused is not query and self.screen is self.screen_stack[0]:
            self.action_focus_search()
            event.stop()

    def action_focus_search(self) -> None:
        self.query_one("#query", Input).focus()

    def action_focus_picker(self) -> None:
        picker = self.query_one(SourcePicker)
        if picker.highlighted is None and picker.option_count:
            picker.highlighted = 0  # space checks a source at once
        picker.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    @property
    def current(self):
        return self.grid.current

    def action_details(self) -> None:
        if self.current is not None:
            self.push_screen(DetailsScreen(self.current, {sid: s.name for sid, s in self.sources.items()}))

    def on_details_requested(self, event: DetailsRequested) -> None:
        self.action_details()

    def action_cycle_order(self) -> None:
        """The next order: best match (with words), recently added, colour, artist."""
        orders = list(ORDERS) if self.query_one("#query", Input).value.strip() else list(ORDERS)[1:]
        shown = "recent" if self.order == "relevance" and orders[0] != "relevance" else self.order
        self.order = orders[(orders.index(shown) + 1) % len(orders)]
        self.search_now()  # the grid's border says the order

    def sort_by(self, order: str) -> None:
        self.order = order
        self.search_now()

    def get_system_commands(self, screen):
        """The command palette (ctrl+p) lists the orders beside Textual's own commands."""
        from functools import partial

        from textual.app import SystemCommand

        yield from super().get_system_commands(screen)
        for order, label in ORDERS.items():
            yield SystemCommand(f"Order: {label}", f"Show the covers by {label} (ctrl+o cycles)",
                                partial(self.sort_by, order))

    def action_more_like_this(self) -> None:
        if self.current is not None:
            self.query_one("#query", Input).value = f"@{self.current.cover}"
            self.search_now()

    # login -----------------------------------------------------------------------
    def action_login(self) -> None:
        self.show_login()

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

        self.work_cancel = CancelToken()
        self.query_one(WorkPanel).display = True
        self.run_sync(Selection.of(checked), self.work_cancel)

    def action_cancel(self) -> None:
        if self.work_cancel is not None:
            self.work_cancel.cancel()
            self.notify("Cancelling: finished work is kept.")

    @work(thread=True, exit_on_error=False, exclusive=True, group="sync")
    def run_sync(self, selection, cancel: CancelToken) -> None:
        from ..embed.pipeline import embedder
        from ..sync import sync

        try:
            summary = sync(self.settings, selection, progress=lambda p: self.post_message(SyncProgressed(p)),
                           cancel=cancel, embed=embedder(self.settings))
            message = (f"{summary.covers} covers: {summary.downloaded} downloaded, {summary.embedded} embedded, "
                       f"{len(summary.failed)} failed.")
            severity = "information"
        except CovertuiError as exc:
            message, severity = str(exc), "warning"
        self.post_message(SyncFinished(message, severity))

    @while_mounted
    def on_sync_progressed(self, event: SyncProgressed) -> None:
        self.query_one(WorkPanel).report(event.progress)
        if event.progress.stage == "embed" and time.monotonic() - self._last_reload > RELOAD_EVERY:
            self._last_reload = time.monotonic()
            self.reload_index()

    @while_mounted
    def on_sync_finished(self, event: SyncFinished) -> None:
        self.work_cancel = None
        self.has_covers = True
        self.query_one(WorkPanel).display = False
        self.notify(event.message, title="Sync", severity=event.severity, timeout=10)
        self.load_sources()
        self.reload_index()

    @work(thread=True, exit_on_error=False, exclusive=True, group="reload")
    def reload_index(self) -> None:
        if self.searcher is not None:
            self.searcher.reload()
            self.post_message(IndexReloaded())

    @while_mounted
    def on_index_reloaded(self, event: IndexReloaded) -> None:
        self.query_one(StatusLine).show()  # covers indexed
        self.search_now(again=True)

    async def action_quit(self) -> None:
        if self.work_cancel is not None:
            self.work_cancel.cancel()  # workers stop between files/batches; finished work is kept
        self.exit()

