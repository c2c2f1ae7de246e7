"""The query box: an Input whose cursor does not blink (each blink repainted the whole 3-row box,
1.6 KB twice a second over SSH), and where `/` (the footer's "Search") in an empty box only keeps the
focus there instead of typing a `/`."""

from __future__ import annotations

from textual import events
from textual.widgets import Input


class QueryInput(Input):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cursor_blink = False

    def on_key(self, event: events.Key) -> None:
        if event.character == "/" and not self.value:
            event.prevent_default()  # Input's own handler would type it
            event.stop()
