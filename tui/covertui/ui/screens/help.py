"""The keys and the query syntax."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, Static

KEYS = [
    ("/", "focus the search input"), ("arrows, h j k l", "move between covers"),
    ("PgUp PgDn Home End", "a screen up or down, first, last"), ("Down (in the input)", "go to the covers"),
    ("Escape", "back to the input"), ("Enter", "details: every track with this cover"),
    ("y", "copy the track's Spotify URL"), ("Y", "copy the album URL"), ("m", "more like this cover"),
    ("ctrl+o, O", "order: best match, recently added, colour, artist"),
    ("o", "open in the browser / Spotify app"), ("P, e", "play the track now, add it to the queue"),
    ("space (covers)", "mark or unmark a cover"), ("U", "unmark every cover"),
    ("n", "save the marked covers (or all results) as a playlist"), ("L", "log in again"),
    ("space (picker)", "check or uncheck a source"),
    ("p", "focus the source picker"), ("s", "sync the checked sources"), ("c", "cancel the sync"),
    ("?, F1", "this help"), ("q", "quit"),
]
QUERY_HELP = ('Queries: plain text, or terms joined by + and -: "sunset" + 0.5*"cat" - "text"; '
              "@COVER_ID is more like that cover; image:PATH searches with an image file. A name in plain "
              'text puts its covers first ("bjork blue"); artist:, album:, track: narrow (artist:"sigur ros"), '
              "and year:1994 or year:1980-1989. An empty query browses. One tile per picture: ×2 says two "
              "covers show it. ctrl+p lists commands.")


class HelpScreen(ModalScreen):
    BINDINGS = [("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("covertui keys", classes="heading")
            yield Static("\n".join(f"  {key:<22} {what}" for key, what in KEYS))
            yield Static(QUERY_HELP, classes="hint")
            yield Footer()
