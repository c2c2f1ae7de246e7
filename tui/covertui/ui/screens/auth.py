"""Not logged in: the URL to open, a field for the redirected URL, and the loopback listener."""

from __future__ import annotations

from dataclasses import dataclass

from textual import getters, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker

from ...errors import CovertuiError
from ..failures import worker_changed
from ..plain import plain, plain_lines
from .dialog import DialogBox


class UrlBox(Static, can_focus=True):
    """The login URL; focused first, so that y copies it (in the input, y is just a letter)."""


class AuthScreen(Screen):
    """Dismissed with True once logged in."""

    DEFAULT_CSS = """
    AuthScreen { align: center middle; }
    """
    AUTO_FOCUS = "#auth-url"
    wait_line = getters.query_one("#auth-wait", Static)
    error_line = getters.query_one("#auth-error", Static)
    BINDINGS = [Binding("y", "copy_url", "Copy URL"), ("escape", "dismiss", "Later"), ("q", "app.quit", "Quit")]

    @dataclass
    class CopyRequested(Message):
        url: str

    @dataclass
    class Answered(Message):
        """The loopback listener received the browser's redirect."""

        answer: str

    class Finished(Message):
        pass

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, flow) -> None:
        super().__init__()
        self.flow = flow

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_changed(self.app, event)

    def compose(self) -> ComposeResult:
        with DialogBox():
            yield Label("Log in to Spotify", classes="heading")
            yield Static("1. Open this URL in a browser (y copies it) and allow access:")
            yield UrlBox(plain(self.flow.authorize_url), id="auth-url", classes="url")
            yield Static("", id="auth-wait", classes="hint", markup=False)
            if self.flow.settings.custom_endpoints:  # the login goes where the settings say: say where
                yield Static(plain_lines("Not Spotify's own service; the login is sent to:\n"
                                         + "\n".join(self.flow.settings.custom_endpoints)), classes="error")
            yield Static("2. Tab to the field below, paste the address the browser was sent to (or its code), "
                         "press Enter:")
            yield Input(placeholder="http://127.0.0.1:8888/callback?code=...", id="auth-input")
            yield Static("", id="auth-error", classes="error")
        yield Footer()

    def on_mount(self) -> None:
        # The listener calls back from its own thread: post_message is the thread-safe way in.
        if self.flow.listen(lambda answer: self.post_message(self.Answered(answer))):
            port = self.flow.listening_port
            self.wait_line.update(
                f"Waiting for the redirect on 127.0.0.1:{port}: a browser on this machine, or one behind "
                f"`ssh -L {port}:127.0.0.1:{port}`, completes the login by itself.")

    def on_unmount(self) -> None:
        self.flow.stop()

    def action_copy_url(self) -> None:
        self.post_message(self.CopyRequested(self.flow.authorize_url))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.finish(event.value)

    def on_auth_screen_answered(self, event: Answered) -> None:
        event.stop()
        self.finish(event.answer)

    @work(thread=True, exit_on_error=False, exclusive=True, group="login")
    def finish(self, answer: str) -> None:
        try:
            self.flow.finish(answer)
        except CovertuiError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Finished())

    def on_auth_screen_failed(self, event: Failed) -> None:
        event.stop()
        self.error_line.update(plain_lines(event.message))

    def on_auth_screen_finished(self, event: Finished) -> None:
        event.stop()
        self.dismiss(True)
