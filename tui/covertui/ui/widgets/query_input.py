"""The query box: an Input whose cursor does not blink (each blink repainted the whole 3-row box,
1.6 KB twice a second over SSH), where `/` (the footer's "Search") in an empty box only keeps the
focus there instead of typing a `/`, and where ↓ leaves for the covers."""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class QueryInput(Input):
    DEFAULT_CSS = """
    QueryInput { dock: top; margin: 0 0; }
    """
    BINDINGS = [Binding("down", "leave", "To the covers", show=False, tooltip="(in the input) go to the covers")]

    class Leave(Message):
        """↓ in the box: the user moves on to the covers."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cursor_blink = False

    def action_leave(self) -> None:
        self.post_message(self.Leave())

    def on_key(self, event: events.Key) -> None:
        if event.character == "/" and not self.value:
            event.prevent_default()  # Input's own handler would type it
            event.stop()
