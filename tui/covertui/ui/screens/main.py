"""The main screen: the query, the source picker, the cover grid, the sync's work panel and the status
line; the searches, the sources, the sync and what is done with the chosen cover.

Workers post the messages nested here (`post_message` is thread-safe); handlers on the UI thread
apply them. A report that arrives while the app closes (the widgets are gone) is dropped.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import logging
import time
from dataclasses import dataclass

from textual import getters, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.notifications import SeverityLevel
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.worker import Worker

from ...config import Settings
from ...errors import CovertuiError, NothingIndexed
from ...models import Hit, SearchResult
from ...orders import ORDERS
from ...progress import CancelToken, Step
from ..failures import worker_changed
from ..graphics import Graphics, preparer, thumbnail_pixels
from ..links import copy_link, open_link
from ..plain import plain
from ..search_runner import SearchRunner
from ..widgets import CoverGrid, QueryInput, SourcePicker, StatusLine, WorkPanel
from ..widgets.cover_tile import ART_HEIGHT, ART_WIDTH
from .details import DetailsScreen
from .devices import DevicePicker
from .save import SaveScreen

RELOAD_EVERY = 2.0  # s between index reloads while a sync embeds: results grow as covers are embedded
ORDER_TIP = "the next order: best match (with words), recently added, colour (a rainbow, greys last), artist; ctrl+p lists them too"
PLAY_TIP = "play the track now / add it to the queue, on your Spotify Connect device (in details: the highlighted track)"
COPY_TIP = "copy the track's / album's Spotify URL (OSC 52: works over SSH)"
SYNC_TIP = "sync the checked sources / cancel the sync (finished work is kept)"
EMPTY = "Nothing synced yet. Check sources on the left (space), then press s to sync."
log = logging.getLogger(__name__)


def while_mounted(handler):
    """For handlers of what workers report: a report that arrives while the app closes is dropped."""

    @functools.wraps(handler)
    async def handle(screen: MainScreen, event) -> None:
        if screen.is_live:
            result = handler(screen, event)
            if inspect.isawaitable(result):
                await result

    return handle


class MainScreen(Screen):
    AUTO_FOCUS = "#query"  # as the screen is shown, unless the sources moved the focus to the picker first
    BINDINGS = [
        Binding("slash", "focus_search", "Search", tooltip="focus the search input"),
        Binding("enter", "details", "Details", show=False,
                tooltip="details: every track sharing this cover, its playlists, album, links"),
        Binding("y", "copy('url')", "Copy URL", tooltip=COPY_TIP),
        Binding("Y", "copy('album_url')", "Copy album", tooltip=COPY_TIP),
        Binding("m", "more_like_this", "More like this", tooltip="more like this cover"),
        Binding("ctrl+o", "cycle_order", "Order", tooltip=ORDER_TIP),
        Binding("O", "cycle_order", "Order", show=False, tooltip=ORDER_TIP),
        Binding("o", "open", "Open", tooltip="open in the browser or Spotify app (when a display is available)"),
        Binding("P", "play(False)", "Play", show=False, tooltip=PLAY_TIP),
        Binding("e", "play(True)", "Queue", show=False, tooltip=PLAY_TIP),
        Binding("n", "save_playlist", "Save as playlist", show=False,
                tooltip="save the marked covers, or all results when none are marked, as a new private playlist"),
        Binding("U", "unmark", "Unmark all", show=False, tooltip="unmark every cover"),
        Binding("s", "sync", "Sync", tooltip=SYNC_TIP),
        Binding("c", "cancel", "Cancel", tooltip=SYNC_TIP),
        Binding("p", "focus_picker", "Sources", tooltip="focus the source picker"),
        Binding("escape", "focus_search", "Back", show=False, tooltip="back to the input"),
    ]

    query_input = getters.query_one("#query", QueryInput)
    picker = getters.query_one(SourcePicker)
    work_panel = getters.query_one(WorkPanel)
    status = getters.query_one(StatusLine)

    @property
    def is_live(self) -> bool:
        """False once the app closes. Textual stops the app first, then removes this screen's widgets,
        each in its own task and in no set order, and the screen last: a report handled in between
        finds the screen attached and some of its widgets gone."""
        return self.app.is_running and self.is_attached

    # what the workers report -------------------------------------------------------------------
    @dataclass
    class SourcesLoaded(Message):
        """The catalog's sources and the saved selection; `has_covers` only on the first read."""

        sources: dict
        checked: set[str]
        has_covers: bool | None = None

    @dataclass
    class SourcesRefreshFailed(Message):
        message: str

    @dataclass
    class SearchFinished(Message):
        """Results, with the thumbnails of the first screenful."""

        result: SearchResult
        thumbnails: list

    @dataclass
    class ThumbnailsDecoded(Message):
        """Thumbnails of the results past the first screenful, from `start` on."""

        hits: list[Hit]
        start: int
        thumbnails: list

    @dataclass
    class SearchFailed(Message):
        message: str
        nothing_indexed: bool = False

    @dataclass
    class SyncProgressed(Message):
        step: Step

        def can_replace(self, message: Message) -> bool:
            """A newer step makes the one still waiting before it moot."""
            return isinstance(message, MainScreen.SyncProgressed)

    @dataclass
    class SyncFinished(Message):
        message: str
        severity: SeverityLevel
        title: str = "Sync"

    class IndexReloaded(Message):
        """The searcher picked up covers embedded since it was built."""

    @dataclass
    class ModelSwitched(Message):
        """The new model has vectors for the covers and its text tower is in: it searches from now on."""

        searcher: object
        settings: Settings
        message: str

    @dataclass
    class DevicesOffered(Message):
        """No device is playing and several could: the user picks one for `uri`."""

        devices: list
        uri: str
        queue: bool

    @dataclass
    class PlaybackFinished(Message):
        message: str
        severity: SeverityLevel = "information"

    def __init__(self, settings: Settings, graphics: Graphics) -> None:
        super().__init__()
        self.settings = settings
        self.graphics = graphics
        self.text_ready = False  # the model's text tower is in: queries with words run
        self.sources: dict = {}
        self.work_cancel: CancelToken | None = None  # a sync or a model switch under way
        self.work = ""  # which, in words
        self.model_cancel = CancelToken()  # the app's model download, when it downloads one
        self.order = "relevance"  # of the results; "relevance" browses (no words) as "recent"
        self.has_covers = True  # anything synced: else the grid says how to start
        self._synced = False  # a sync finished in this app
        self._shown_query: str | None = None
        self._words = False  # whether the query box holds words
        self._covers_done = self._refresh_wanted = False  # fresh sources: asked once the first covers are in
        self._last_reload = 0.0
        self.grid = CoverGrid(graphics, id="grid")
        self.searches = SearchRunner(
            thumbnail_pixels(graphics.protocol, ART_WIDTH, ART_HEIGHT),
            on_results=lambda result, thumbs: self.post_message(self.SearchFinished(result, thumbs)),
            on_thumbnails=lambda hits, start, thumbs: self.post_message(self.ThumbnailsDecoded(hits, start, thumbs)),
            on_failed=lambda error: self.post_message(self.SearchFailed(str(error), isinstance(error, NothingIndexed))),
            prepare=preparer(graphics.protocol, ART_WIDTH, ART_HEIGHT))

    @property
    def searcher(self):
        return self.searches.searcher

    def compose(self) -> ComposeResult:
        yield QueryInput(placeholder='Search covers: "blue cover with a cat"   (↓ to the covers · F1 help)', id="query")
        with Horizontal(id="body"):
            yield SourcePicker(id="sources")
            yield self.grid
        yield WorkPanel(id="work")
        yield StatusLine(self.graphics.protocol, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.picker.border_title = "Sources"
        self.load_sources(first=True)

    def on_unmount(self) -> None:
        self.searches.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_changed(self.app, event)

    # sources ----------------------------------------------------------------------------------
    def _read_sources(self, first: bool = False) -> SourcesLoaded:
        from ...catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            return self.SourcesLoaded(catalog.sources(), set(catalog.selection()),
                                      catalog.has_covers() if first else None)

    @work(thread=True, exit_on_error=False, group="catalog")
    def load_sources(self, first: bool = False) -> None:
        """Read the catalog off the UI thread (the first frame does not wait for it)."""
        self.post_message(self._read_sources(first))

    def refresh_when_covers_are_in(self) -> None:
        """Fresh sources from Spotify, once the first covers are drawn (or could not be): the Spotify
        client's imports in a worker would hold the interpreter while the covers are on their way."""
        self._refresh_wanted = True
        self._refresh_if_due()

    def covers_done(self) -> None:
        self._covers_done = True
        self._refresh_if_due()

    def _refresh_if_due(self) -> None:
        if self._refresh_wanted and self._covers_done:
            self._refresh_wanted = False
            self.refresh_sources()

    @work(thread=True, exit_on_error=False, exclusive=True, group="sources")
    def refresh_sources(self) -> None:
        """Ask Spotify for the user's playlists, store them, then show them."""
        from ...sync import refresh_sources

        try:
            refresh_sources(self.settings, select_readable=True)
        except CovertuiError as exc:
            self.post_message(self.SourcesRefreshFailed(str(exc)))
            return
        self.post_message(self._read_sources())

    @while_mounted
    async def on_main_screen_sources_loaded(self, event: SourcesLoaded) -> None:
        self.sources = event.sources
        self.picker.fill(event.sources, event.checked)
        if event.has_covers is not None:  # the first read, which a busy machine can deliver late
            self.has_covers = event.has_covers or self._synced
            query = self.query_input
            if not self.has_covers and self.focused in (query, None) and not query.value:
                self.set_focus(self.picker)  # nothing synced yet: start in the picker, where space checks and s syncs
            if not self.has_covers:
                self.covers_done()  # nothing to draw: Spotify's sources at once
            if not self.grid.hits:  # results that came meanwhile stay
                await self.grid.show([], [], "Loading the covers…" if self.has_covers else EMPTY)
            self.search_now()  # no query yet: browse the checked sources, newest first

    def on_main_screen_sources_refresh_failed(self, event: SourcesRefreshFailed) -> None:
        self.notify(event.message, title="Spotify", severity="error", timeout=30)

    def on_source_picker_checked(self, event: SourcePicker.Checked) -> None:
        self.save_selection(event.checked)
        self.search_now()

    @work(thread=True, exit_on_error=False, group="catalog")
    def save_selection(self, checked: list[str]) -> None:
        from ...catalog import Catalog

        with Catalog(self.settings.paths) as catalog:
            catalog.save_selection(checked)

    @property
    def checked_sources(self) -> list[str]:
        return list(self.picker.selected)

    # searching --------------------------------------------------------------------------------
    def use_searcher(self, searcher) -> None:
        """The index is in: browse at once, or run a query typed meanwhile that needs no model."""
        if self.searches.start(searcher):
            self.run_worker(self.searches.run, thread=True, group="search", exit_on_error=False)
        self.status.show(searcher=searcher)

    def text_tower_ready(self) -> None:
        self.text_ready = True
        self.status.show(note="")
        self.search_now()  # a query with words typed while the model loaded runs now

    def model_failed(self) -> None:
        self.status.show(note="model not loaded")
        self.covers_done()

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
        if text != self.query_input.value.strip():
            self.status.show(note="loading the model… your search runs when it is ready")

    def coming_query(self) -> str:
        """What the grid is to show: the query box's text, or the covers (a browse) while the model that
        its words need loads."""
        from ...query import needs_text

        text = self.query_input.value.strip()
        return text if self.text_ready or not needs_text(text) else ""

    @while_mounted
    async def on_main_screen_search_finished(self, event: SearchFinished) -> None:
        result = event.result
        if result.query != self.coming_query():
            return  # typed on since it began: the newer query's results are on their way, not this grid
        empty = "No covers in the checked sources." if self.checked_sources else "Check a source on the left."
        again, self._shown_query = result.query == self._shown_query, result.query
        self.status.show(last_ms=result.elapsed_ms, **({"note": result.note} if self.text_ready else {}))
        named = f" · {result.matched} first" if result.matched else ""  # a name of the catalog: plain text
        title = plain(f"{'covers' if result.query.strip() else 'all covers'} by {ORDERS[result.order]}{named}")
        if title.markup != self.grid.border_title:  # setting it repaints the whole grid
            self.grid.border_title = title
        await self.grid.show(result.hits, event.thumbnails, empty, keep_selection=again)
        self.covers_done()

    @while_mounted
    def on_main_screen_thumbnails_decoded(self, event: ThumbnailsDecoded) -> None:
        self.grid.add_thumbnails(event.hits, event.start, event.thumbnails)

    @while_mounted
    async def on_main_screen_search_failed(self, event: SearchFailed) -> None:
        await self.grid.show([], [], EMPTY if event.nothing_indexed and not self.has_covers else event.message)
        self.covers_done()

    def cells_changed(self) -> None:
        """The terminal's cell size changed (a font zoom): pictures prepared for the new size, the tiles
        square again, and the results decoded again at that size (drawn meanwhile from the old ones)."""
        graphics = self.graphics
        self.searches.thumbnail_size = thumbnail_pixels(graphics.protocol, ART_WIDTH, ART_HEIGHT)
        self.searches.prepare = preparer(graphics.protocol, ART_WIDTH, ART_HEIGHT)
        self.grid.refit()
        self.search_now(again=True)

    def on_cover_grid_page_size_changed(self, event: CoverGrid.PageSizeChanged) -> None:
        self.searches.page_size = event.page_size

    # keys -------------------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_input.focus()

    def action_focus_picker(self) -> None:
        picker = self.picker
        if picker.highlighted is None and picker.option_count:
            picker.highlighted = 0  # space checks a source at once
        picker.focus()

    def on_query_input_leave(self, event: QueryInput.Leave) -> None:
        self.grid.focus()

    @property
    def current(self) -> Hit | None:
        return self.grid.current

    def action_details(self) -> None:
        if self.current is not None:
            self.app.push_screen(DetailsScreen(self.current, {sid: s.name for sid, s in self.sources.items()}))

    def on_cover_grid_details_requested(self, event: CoverGrid.DetailsRequested) -> None:
        self.action_details()

    def action_cycle_order(self) -> None:
        """The next order: best match (with words), recently added, colour, artist."""
        orders = list(ORDERS) if self.query_input.value.strip() else list(ORDERS)[1:]
        shown = "recent" if self.order == "relevance" and orders[0] != "relevance" else self.order
        self.order = orders[(orders.index(shown) + 1) % len(orders)]
        self.search_now()  # the grid's border says the order

    def sort_by(self, order: str) -> None:
        self.order = order
        self.search_now()

    def action_more_like_this(self) -> None:
        if self.current is not None:
            self.query_input.value = f"@{self.current.cover}"
            self.search_now()

    # sync -------------------------------------------------------------------------------------
    def _begin_work(self, what: str) -> CancelToken | None:
        if self.work_cancel is not None:
            self.notify(f"{self.work} is under way (c cancels it).")
            return None
        self.work, self.work_cancel = what, CancelToken()
        self.work_panel.display = True
        return self.work_cancel

    def action_sync(self) -> None:
        checked = [self.sources[s] for s in self.checked_sources if s in self.sources]
        if not checked and self.work_cancel is None:
            self.notify("Check at least one source on the left first.", severity="warning")
            return
        from ...sync import SyncChoice

        if cancel := self._begin_work("A sync"):
            self.run_sync(SyncChoice.of(checked), cancel)

    def action_cancel(self) -> None:
        for token in (self.work_cancel, self.model_cancel if self.work_panel.display else None):
            if token is not None and not token.cancelled:
                token.cancel()
                self.notify("Cancelling: finished work is kept.")
                return

    @work(thread=True, exit_on_error=False, exclusive=True, group="sync")
    def run_sync(self, selection, cancel: CancelToken) -> None:
        from ...embed.pipeline import embedder
        from ...sync import sync

        settings = self.settings
        severity: SeverityLevel
        try:
            summary = sync(settings, selection, progress=self.report_step,
                           cancel=cancel, embed=embedder(settings))
            message, severity = summary.sentence(), "information"
        except CovertuiError as exc:
            message, severity = str(exc), "warning"
        self.post_message(self.SyncFinished(message, severity))

    def report_step(self, step: Step) -> None:
        """A step of background work (any thread): the work panel shows it."""
        self.post_message(self.SyncProgressed(step))

    @while_mounted
    def on_main_screen_sync_progressed(self, event: SyncProgressed) -> None:
        self.work_panel.display = True  # the app's model download shows here too
        self.work_panel.report(event.step)
        if event.step.stage == "embed" and time.monotonic() - self._last_reload > RELOAD_EVERY:
            self._last_reload = time.monotonic()
            self.reload_index()

    @while_mounted
    def on_main_screen_sync_finished(self, event: SyncFinished) -> None:
        self.has_covers = self._synced = True
        self._end_work()
        self.notify(event.message, title=event.title, severity=event.severity, timeout=10)
        self.load_sources()
        self.reload_index()

    def _end_work(self) -> None:
        self.work_cancel, self.work = None, ""
        self.work_panel.display = False

    def model_download_ended(self) -> None:
        """The app's model is in (or failed): its download's progress goes, unless other work shows."""
        if self.work_cancel is None:
            self.work_panel.display = False

    def stop_work(self) -> None:
        """The app quits: a running sync, switch or download stops between files and batches; finished
        work is kept."""
        self.model_cancel.cancel()
        if self.work_cancel is not None:
            self.work_cancel.cancel()

    # switching models (the command palette) ---------------------------------------------------
    def switch_model(self, model: str) -> None:
        """Fetch `model`, embed the covers it has no vectors for, then search with it. The model in use
        answers until then; cancelling keeps it, and what the new one embedded."""
        if self.searcher is not None and self.searcher.model.name == model:
            self.notify(f"{model} is the model in use.")
            return
        if cancel := self._begin_work(f"Switching to {model}"):
            self.notify(f"Switching to {model}: the covers are embedded in the background; the model in use "
                        "searches until then (c cancels).", title="Model")
            self.run_switch(model, cancel)

    @work(thread=True, exit_on_error=False, exclusive=True, group="sync")
    def run_switch(self, model: str, cancel: CancelToken) -> None:
        from ...embed.choice import use
        from ...embed.pipeline import embed_library
        from ...search import Searcher

        settings = dataclasses.replace(self.settings, model=model)
        try:
            report = embed_library(settings, progress=self.report_step, cancel=cancel)
            searcher = Searcher(settings, progress=self.report_step, cancel=cancel)
            use(settings, model)
        except CovertuiError as exc:
            self.post_message(self.SyncFinished(f"The model in use stays: {exc}", "warning", "Model"))
            return
        failed = f"; {len(report.failed)} could not be read" if report.failed else ""
        self.post_message(self.ModelSwitched(searcher, settings, f"Now searching with {searcher.model.description}: "
                                             f"{searcher.indexed} covers ({report.embedded} embedded now{failed})."))

    @while_mounted
    def on_main_screen_model_switched(self, event: ModelSwitched) -> None:
        self._end_work()
        self.settings = event.settings  # a sync from now on embeds with the new model
        self.notify(event.message, title="Model", timeout=10)
        self.use_searcher(event.searcher)
        self.text_tower_ready()

    @work(thread=True, exit_on_error=False, exclusive=True, group="reload")
    def reload_index(self) -> None:
        if self.searcher is not None:
            self.searcher.reload()
            self.post_message(self.IndexReloaded())

    @while_mounted
    def on_main_screen_index_reloaded(self, event: IndexReloaded) -> None:
        self.status.show()  # covers indexed
        self.search_now(again=True)

    # the chosen cover: copy, open, play, save ---------------------------------------------------
    def action_copy(self, field: str) -> None:
        hit = self.current
        if hit is None:
            return
        if hit.tracks:
            track = hit.tracks[0]
            copy_link(self.app, track.album_url if field == "album_url" else track.url,
                      "album URL" if field == "album_url" else "track URL")
        else:
            copy_link(self.app, hit.path or "", "file path")

    def action_open(self) -> None:
        hit = self.current
        if hit is not None and hit.tracks:
            open_link(self.app, hit.tracks[0].url)

    def action_play(self, queue: bool) -> None:
        hit = self.current
        if hit is None or not hit.tracks:
            self.notify("This cover has no Spotify track to play.", severity="warning")
            return
        self.play_track(hit.tracks[0].uri, queue)

    @work(thread=True, exit_on_error=False, group="play")
    def play_track(self, uri: str, queue: bool, device: str | None = None) -> None:
        from ...actions import play
        from ...spotify.player import SeveralDevices

        try:
            target = play(self.settings, uri, device, queue=queue)
        except SeveralDevices as exc:
            self.post_message(self.DevicesOffered(exc.devices, uri, queue))
            return
        except CovertuiError as exc:
            self.post_message(self.PlaybackFinished(str(exc), "error"))
            return
        self.post_message(self.PlaybackFinished(f"{'Added to the queue' if queue else 'Playing'} on {target.name}."))

    @while_mounted
    def on_main_screen_devices_offered(self, event: DevicesOffered) -> None:
        def chosen(device_id: str | None) -> None:
            if device_id:
                self.play_track(event.uri, event.queue, device_id)

        self.app.push_screen(DevicePicker(event.devices), chosen)

    def on_main_screen_playback_finished(self, event: PlaybackFinished) -> None:
        self.notify(event.message, title="Spotify", severity=event.severity,
                    timeout=15 if event.severity == "error" else 5)

    def action_unmark(self) -> None:
        self.grid.unmark_all()

    @while_mounted
    def on_cover_grid_marks_changed(self, event: CoverGrid.MarksChanged) -> None:
        self.status.show(marked=event.count)

    def action_save_playlist(self) -> None:
        marked = self.grid.marked_in_rank_order()
        covers = marked or [c for h in self.grid.hits for c in (h.cover, *h.copies)]
        if not covers:
            self.notify("Nothing to save: search first, or mark covers with space.", severity="warning")
            return
        name = self.query_input.value.strip() or "covertui"

        def done(saved) -> None:
            if saved is not None:
                self.notify(f"Saved {saved.tracks} tracks as the private playlist {saved.name}: {saved.url}",
                            title="Spotify", timeout=10)
                self.load_sources()  # it is a source now: its covers are already here

        self.app.push_screen(SaveScreen(self.settings, covers, self.checked_sources, name, bool(marked)), done)

