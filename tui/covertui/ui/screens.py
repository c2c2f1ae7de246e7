"""Screens over the main one: details of a cover, help, first-run setup and login."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from .widgets import clean

KEYS = [
    ("/", "focus the search input"), ("arrows, h j k l", "move between covers"),
    ("PgUp PgDn Home End", "a screen up or down, first, last"), ("Down (in the input)", "go to the covers"),
    ("Escape", "back to the input"), ("Enter", "details: every track with this cover"),
    ("y", "copy the track's Spotify URL"), ("Y", "copy the album URL"), ("m", "more like this cover"),
    ("o", "open in the browser / Spotify app"), ("space (picker)", "check or uncheck a source"),
    ("p", "focus the source picker"), ("s", "sync the checked sources"), ("c", "cancel the sync"),
    ("?, F1", "this help"), ("q", "quit"),
]
QUERY_HELP = ('Queries: plain text, or terms joined by + and -: "sunset" + 0.5*"cat" - "text"; '
              "@COVER_ID is more like that cover; image:PATH searches with an image file.")


class HelpScreen(ModalScreen):
    BINDINGS = [("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("covertui keys", classes="heading")
            yield Static("\n".join(f"  {key:<22} {what}" for key, what in KEYS))
            yield Static(QUERY_HELP, classes="hint")
            yield Footer()


class DetailsScreen(ModalScreen):
    """Every track sharing one cover, with its playlists, album and URLs."""

    BINDINGS = [("escape,q", "dismiss", "Close"), ("y", "copy('url')", "Copy track URL"),
                ("Y", "copy('album_url')", "Copy album URL"), ("o", "open", "Open")]

    def __init__(self, hit, source_names: dict[str, str]) -> None:
        super().__init__()
        self.hit = hit
        self.source_names = source_names

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Cover {self.hit.cover} · score {self.hit.score:.3f}", classes="heading")
            names = ", ".join(self.source_names.get(s, s) for s in self.hit.sources)
            if names:
                yield Static(f"In: {clean(names)}", classes="hint")
            if self.hit.path:
                yield Static(f"File: {clean(self.hit.path)}", classes="hint")
            options = [Option(self._describe(t), id=str(i)) for i, t in enumerate(self.hit.tracks)]
            if not options:
                options = [Option("A local image (no Spotify track)", id="none", disabled=True)]
            yield OptionList(*options, id="tracks")
            yield Footer()

    def _describe(self, track: dict) -> str:
        return (f"{clean(track['name'])} — {clean(', '.join(track['artists']))}\n"
                f"  album: {clean(track['album'])}\n  {track['url']}\n  {track.get('album_url', '')}")

    @property
    def track(self) -> dict | None:
        index = self.query_one(OptionList).highlighted
        if not self.hit.tracks:
            return None
        return self.hit.tracks[index or 0]

    def action_copy(self, field: str) -> None:
        if self.track:
            self.app.copy_url(self.track.get(field) or "", "album URL" if field == "album_url" else "track URL")

    def action_open(self) -> None:
        if self.track:
            self.app.open_link(self.track["url"])


class SetupScreen(Screen):
    """No client id: what to put where."""

    BINDINGS = [("escape", "dismiss", "Continue without Spotify"), ("q", "app.quit", "Quit")]

    def __init__(self, guide: str) -> None:
        super().__init__()
        self.guide = guide

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("Set up Spotify access", classes="heading")
            yield Static(self.guide)
            yield Static("Then restart covertui. Escape continues without Spotify (folder sources only).",
                         classes="hint")
        yield Footer()


class UrlBox(Static, can_focus=True):
    """The login URL; focused first, so that y copies it (in the input, y is just a letter)."""


class AuthScreen(Screen):
    """Not logged in: the URL to open, a field for the redirected URL, and the loopback listener."""

    AUTO_FOCUS = "#auth-url"
    BINDINGS = [Binding("y", "copy_url", "Copy URL"), ("escape", "dismiss", "Later"), ("q", "app.quit", "Quit")]

    def __init__(self, flow) -> None:
        super().__init__()
        self.flow = flow

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Log in to Spotify", classes="heading")
            yield Static("1. Open this URL in a browser (y copies it) and allow access:")
            yield UrlBox(self.flow.authorize_url, id="auth-url", classes="url")
            yield Static("", id="auth-wait", classes="hint")
            yield Static("2. Tab to the field below, paste the address the browser was sent to (or its code), "
                         "press Enter:")
            yield Input(placeholder="http://127.0.0.1:8888/callback?code=...", id="auth-input")
            yield Static("", id="auth-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        listening = self.flow.listen(lambda answer: self.app.ui(self.finish, answer))
        if listening:
            port = self.flow.listening_port
            self.query_one("#auth-wait", Static).update(
                f"Waiting for the redirect on 127.0.0.1:{port}: a browser on this machine, or one behind "
                f"`ssh -L {port}:127.0.0.1:{port}`, completes the login by itself.")

    def on_unmount(self) -> None:
        self.flow.stop()

    def action_copy_url(self) -> None:
        self.app.copy_url(self.flow.authorize_url, "login URL")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.finish(event.value)

    @work(thread=True, exclusive=True, group="login")
    def finish(self, answer: str) -> None:
        from ..errors import CovertuiError

        try:
            self.flow.finish(answer)
        except CovertuiError as exc:
            self.app.ui(self.query_one("#auth-error", Static).update, str(exc))
            return
        self.app.ui(self.dismiss, True)
