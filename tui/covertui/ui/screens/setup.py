"""First run without a client id: what to put where."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

from ..plain import plain_lines
from .dialog import ScrollingDialogBox


class SetupScreen(Screen):
    DEFAULT_CSS = """
    SetupScreen { align: center middle; }
    """
    BINDINGS = [("escape", "dismiss", "Continue without Spotify"), ("q", "app.quit", "Quit")]

    def __init__(self, guide: str) -> None:
        super().__init__()
        self.guide = guide

    def compose(self) -> ComposeResult:
        with ScrollingDialogBox():
            yield Label("Set up Spotify access", classes="heading")
            yield Static(plain_lines(self.guide))  # it quotes paths and the redirect URI: settings
            yield Static("Then restart covertui. Escape continues without Spotify (folder sources only).",
                         classes="hint")
        yield Footer()
