"""Saving covers as a new private playlist: its name, and how many tracks it will hold."""

from __future__ import annotations

from dataclasses import dataclass

from textual import getters, work
from textual.app import ComposeResult
from textual.message import Message
from textual.widgets import Footer, Input, Label, Static
from textual.worker import Worker

from ...errors import CovertuiError
from ..failures import worker_changed
from ..plain import plain_lines
from .dialog import Dialog, DialogBox


class SaveScreen(Dialog):
    """Dismissed with the SavedPlaylist, or None. What Spotify refuses is shown here (a login without
    the scope to save says to log in again)."""

    BINDINGS = [("escape", "dismiss", "Cancel")]
    plan_line = getters.query_one("#save-plan", Static)
    error_line = getters.query_one("#save-error", Static)

    @dataclass
    class Planned(Message):
        """What the new playlist will hold: `tracks`, and what is left out, counted."""

        tracks: list
        skipped: dict

    @dataclass
    class Saved(Message):
        saved: object  # actions.SavedPlaylist

    @dataclass
    class Failed(Message):
        message: str

    def __init__(self, settings, cover_ids: list[str], sources: list[str], name: str, marked: bool) -> None:
        super().__init__()
        self.settings = settings
        self.cover_ids = cover_ids
        self.sources = sources
        self.default_name = name
        self.marked = marked
        self.tracks: list | None = None

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker_changed(self.app, event)

    def compose(self) -> ComposeResult:
        with DialogBox():
            what = "the marked covers" if self.marked else "the results"
            yield Label(f"Save {what} as a new private playlist", classes="heading")
            yield Input(self.default_name, placeholder="Playlist name", id="save-name")
            yield Static("Counting tracks…", id="save-plan", classes="hint", markup=False)
            yield Static("", id="save-error", classes="error")
            yield Footer()

    def on_mount(self) -> None:
        self.plan()

    @work(thread=True, exit_on_error=False, group="save")
    def plan(self) -> None:
        from ...actions import tracks_to_save

        try:
            tracks, skipped = tracks_to_save(self.settings, self.cover_ids, self.sources)
        except CovertuiError as exc:
            self.post_message(self.Failed(str(exc)))
            return
        self.post_message(self.Planned(tracks, dict(skipped)))

    def on_save_screen_planned(self, event: Planned) -> None:
        event.stop()
        self.tracks = event.tracks
        left_out = "".join(f", {n} {what} left out" for what, n in event.skipped.items())
        self.plan_line.update(
            f"{len(event.tracks)} tracks from {len(self.cover_ids)} covers, in rank order{left_out}. "
            "Enter saves, Escape cancels.")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.tracks is not None:
            self.plan_line.update("Saving…")
            self.save(event.value)

    @work(thread=True, exit_on_error=False, exclusive=True, group="save")
    def save(self, name: str) -> None:
        from ...actions import save_as_playlist

        assert self.tracks is not None  # planned before Enter saves

        try:
            self.post_message(self.Saved(save_as_playlist(self.settings, name, self.tracks,
                                                             description=f"covers like: {self.default_name}")))
        except CovertuiError as exc:
            self.post_message(self.Failed(str(exc)))

    def on_save_screen_saved(self, event: Saved) -> None:
        event.stop()
        self.dismiss(event.saved)

    def on_save_screen_failed(self, event: Failed) -> None:
        event.stop()
        self.plan_line.update("Not saved.")
        self.error_line.update(plain_lines(event.message))
