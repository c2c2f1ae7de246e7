"""covertui's full-screen app. The App holds the settings, loads the model, logs in, owns the global
keys and the one error path of every worker; the main screen (screens/main.py) holds the rest.
Heavy imports (torch, transformers) happen only in worker threads, after the first frame.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.worker import Worker

from ..config import Settings
from ..errors import CovertuiError
from ..orders import ORDERS
from ..text import clean, clean_lines
from .failures import worker_changed
from .graphics import Graphics
from .idle_gc import IdleCollector
from .links import copy_link, open_link
from .screens import AuthScreen, DetailsScreen, HelpScreen, MainScreen, SetupScreen

GC_IDLE = 1.0  # s without a key or click before a full garbage collection may run...
GC_EVERY = 5.0  # ...checked this often, so that one costs at most ~2% of a core during a sync
REFRESH_LATEST = 3.0  # s after the start, sources are refreshed from Spotify even if no covers came yet
log = logging.getLogger(__name__)


class CovertuiApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses elsewhere (tests) find it too
    DEFAULT_CSS = """
    CovertuiApp.-clear-dialogs ModalScreen, CovertuiApp.-clear-dialogs CommandPalette { background: transparent; }
    """
    TITLE = "covertui"
    BINDINGS = [
        Binding("L", "login", "Log in again", show=False,
                tooltip="log in again (for example to allow playing and saving with a login made before they existed)"),
        Binding("question_mark", "help", "Help", tooltip="help"),
        Binding("f1", "help", "Help", show=False, tooltip="help"),
        Binding("q", "quit", "Quit", tooltip="quit (a running sync stops between files; finished work is kept)"),
    ]

    @dataclass
    class IndexLoaded(Message):
        """The covers and their vectors are in: browsing works; the text tower still loads."""

        searcher: object

    @dataclass
    class ModelLoaded(Message):
        """The text tower is in (again, once torch's replaced numpy's): queries with words run."""

        searcher: object

    @dataclass
    class ModelFailed(Message):
        message: str

    def __init__(self, settings: Settings, graphics: Graphics) -> None:
        super().__init__()
        self.settings = settings
        self.graphics = graphics
        self.main = MainScreen(settings, graphics)
        self.collector = IdleCollector(GC_IDLE, busy=lambda: self.main.searches.busy)

    def get_default_screen(self) -> MainScreen:
        return self.main

    @property
    def searcher(self):
        return self.main.searcher

    @property
    def model_ready(self) -> bool:
        """The text tower is in: queries with words run."""
        return self.main.text_ready

    def on_mount(self) -> None:
        if self.graphics.under_dialogs:  # kitty: a dimmed colour would name another picture
            self.add_class("-clear-dialogs")
        self.load_model()
        self.call_after_refresh(self.check_login)
        self.set_timer(REFRESH_LATEST, self.main.covers_done)  # a model still downloading delays Spotify no longer
        self.set_interval(GC_EVERY, self.collector.collect_if_idle)

    def on_unmount(self) -> None:
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
        worker_changed(self, event)

    def on_resize(self, event: events.Resize) -> None:
        """A resize or a font zoom: the cell size measured again; pictures follow a new one."""
        pixels = event.pixel_size
        if self.graphics.remeasure((pixels.width, pixels.height) if pixels else None,
                                   (event.size.width, event.size.height)):
            self.main.cells_changed()

    def on_app_focus(self) -> None:
        """Back in this tmux pane (tmux `focus-events on`): pictures through passthrough drawn again
        (kitty loses them when tmux redraws a window it switches back to; tmux keeps no inline image)."""
        if self.graphics.passthrough:
            self.main.grid.redraw_pictures()

    # login ------------------------------------------------------------------------------------
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
            self.main.refresh_when_covers_are_in()

    def action_login(self) -> None:
        self.show_login()

    def show_login(self) -> None:
        from ..spotify.auth import LoginFlow

        def done(logged_in: bool | None) -> None:
            if logged_in:
                self.notify("Logged in to Spotify.", title="Spotify")
                self.main.refresh_sources()

        self.push_screen(AuthScreen(LoginFlow(self.settings)), done)

    # the model --------------------------------------------------------------------------------
    @work(thread=True, exit_on_error=False, exclusive=True, group="model")
    def load_model(self) -> None:
        """The index first (covers browse at once), then the text tower (queries with words): numpy's
        when saved (embed/text_fast.py), then, for CLIP, torch's in its place."""
        from ..search import Searcher

        try:  # a model to download shows its bytes in the work panel (c cancels, the next start resumes)
            searcher = Searcher(self.settings, text=False, progress=self.main.report_step, cancel=self.main.model_cancel)
            self.post_message(self.IndexLoaded(searcher))
            if searcher.model.chosen.better:  # covers embedded with an earlier default: what the better one costs
                self.call_from_thread(self.notify, self._upgrade_note(searcher), title="Model", timeout=30)
            searcher.model.load("text")
            self.post_message(self.ModelLoaded(searcher))
        except CovertuiError as exc:
            self.post_message(self.ModelFailed(str(exc)))
            return
        if searcher.model.torch_text_pays:  # numpy's answered first; CLIP's torch tower is ~3x faster a query
            try:
                searcher.model.load_torch_text()
            except CovertuiError as exc:
                log.warning("the numpy text tower stays: %s", exc)
                return
            self.post_message(self.ModelLoaded(searcher))  # its objects too out of full collections

    def _upgrade_note(self, searcher) -> str:
        from ..embed.choice import measured_rate, upgrade_note

        chosen = searcher.model.chosen
        return upgrade_note(chosen, len(searcher.covers), measured_rate(self.settings, chosen.name))

    def on_covertui_app_index_loaded(self, event: IndexLoaded) -> None:
        if self.main.is_live:
            self.main.model_download_ended()
            self.main.use_searcher(event.searcher)

    def on_covertui_app_model_loaded(self, event: ModelLoaded) -> None:
        self.collector.hold()  # the model's objects live as long as the app: out of full collections
        if self.main.is_live:
            self.main.text_tower_ready()

    def on_covertui_app_model_failed(self, event: ModelFailed) -> None:
        self.notify(event.message, title="Model", severity="error", timeout=15)
        if self.main.is_live:
            self.main.model_download_ended()
            self.main.model_failed()

    # global keys and what dialogs ask for -----------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen):
        """The command palette (ctrl+p) lists the orders beside Textual's own commands."""
        yield from super().get_system_commands(screen)
        for order, label in ORDERS.items():
            yield SystemCommand(f"Order: {label}", f"Show the covers by {label} (ctrl+o cycles)",
                                partial(self.main.sort_by, order))
        from ..embed.choice import RECOMMENDED

        for info in RECOMMENDED:  # switching embeds in the background; the model in use searches meanwhile
            yield SystemCommand(f"Model: {info.id}", f"{info.family}, reads {info.languages}; download about "
                                f"{info.download_mb / 1000:.1f} GB{', ' + info.note if info.note else ''}",
                                partial(self.main.switch_model, info.id))

    def on_details_screen_copy_requested(self, event: DetailsScreen.CopyRequested) -> None:
        copy_link(self, event.url, event.what)

    def on_auth_screen_copy_requested(self, event: AuthScreen.CopyRequested) -> None:
        copy_link(self, event.url, "login URL")

    def on_details_screen_open_requested(self, event: DetailsScreen.OpenRequested) -> None:
        open_link(self, event.url)

    def on_details_screen_play_requested(self, event: DetailsScreen.PlayRequested) -> None:
        self.main.play_track(event.track.uri, event.queue)

    async def action_quit(self) -> None:
        self.main.stop_work()  # workers stop between files/batches; finished work is kept
        self.exit()
