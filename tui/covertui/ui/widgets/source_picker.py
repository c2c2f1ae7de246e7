"""Liked Songs, playlists and folders to search and sync, each with a checkbox."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from ..plain import plain


class SourcePicker(SelectionList[str]):
    """Says why a source is unavailable. Posts Checked when the user checks or unchecks a source;
    filling it from the catalog posts nothing."""

    DEFAULT_CSS = """
    SourcePicker, SourcePicker:focus { border: round $primary-darken-2; }
    """

    BINDINGS = [Binding("space", "select", "Check", show=False, tooltip="(in the picker) check or uncheck a source")]

    @dataclass
    class Checked(Message):
        """The user checked or unchecked a source: these are checked now."""

        checked: list[str]

    def fill(self, sources: dict, checked: set[str]) -> None:
        with self.prevent(SelectionList.SelectedChanged):
            self.clear_options()
            for source in sources.values():
                label = f"{source.name} ({source.tracks})"
                if not source.readable:  # the reason's first clause: "followed, not owned", "... (403)"
                    label += f" — unavailable: {source.reason.split(':')[0]}"
                self.add_option(Selection(plain(label), source.id, source.id in checked, disabled=not source.readable))

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        self.post_message(self.Checked(list(self.selected)))
