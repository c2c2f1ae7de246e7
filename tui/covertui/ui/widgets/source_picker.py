"""Liked Songs, playlists and folders to search and sync, each with a checkbox."""

from __future__ import annotations

from textual.widgets import SelectionList
from textual.widgets.selection_list import Selection

from ..messages import SourcesChecked
from ..plain import plain


class SourcePicker(SelectionList[str]):
    """Says why a source is unavailable. Posts SourcesChecked when the user checks or unchecks a
    source; filling it from the catalog posts nothing."""

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
        self.post_message(SourcesChecked(list(self.selected)))
