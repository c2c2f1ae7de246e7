"""Every track sharing one cover, with its playlists, album and URLs."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.content import Content
from textual.message import Message
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...models import Hit, Track
from ...text import clean
from ..plain import plain
from .dialog import Dialog, DialogBox


class DetailsScreen(Dialog):
    DEFAULT_CSS = """
    DetailsScreen #tracks { height: auto; max-height: 20; }
    """
    BINDINGS = [("escape,q", "dismiss", "Close"), ("y", "copy('url')", "Copy track URL"),
                ("Y", "copy('album_url')", "Copy album URL"), ("o", "open", "Open"),
                ("P", "play(False)", "Play"), ("e", "play(True)", "Queue")]

    @dataclass
    class CopyRequested(Message):
        url: str
        what: str  # "track URL", "album URL"

    @dataclass
    class OpenRequested(Message):
        url: str

    @dataclass
    class PlayRequested(Message):
        """Play a track now, or add it to the queue."""

        track: Track
        queue: bool = False

    def __init__(self, hit: Hit, source_names: dict[str, str]) -> None:
        super().__init__()
        self.hit = hit
        self.source_names = source_names

    def compose(self) -> ComposeResult:
        with DialogBox():
            score = f" · score {self.hit.score:.3f}" if self.hit.score is not None else ""
            yield Label(plain(f"Cover {self.hit.cover}{score}"), classes="heading")
            if self.hit.copies:
                yield Static(plain(f"The same picture as {len(self.hit.copies)} other cover(s): "
                                   f"{', '.join(self.hit.copies)}; their tracks are listed too."), classes="hint")
            names = ", ".join(self.source_names.get(s, s) for s in self.hit.sources)
            if names:
                yield Static(plain(f"In: {names}"), classes="hint")
            if self.hit.path:
                yield Static(plain(f"File: {self.hit.path}"), classes="hint")
            options = [Option(self._describe(t), id=str(i)) for i, t in enumerate(self.hit.tracks)]
            if not options:
                options = [Option("A local image (no Spotify track)", id="none", disabled=True)]
            yield OptionList(*options, id="tracks")
            yield Footer()

    @staticmethod
    def _describe(track):
        lines = (f"{track.name} — {', '.join(track.artists)}", f"  album: {track.album}", f"  {track.url}",
                 f"  {track.album_url}")
        return Content("\n".join(clean(line) for line in lines))  # each line cleaned: a name is one line

    @property
    def track(self) -> Track | None:
        if not self.hit.tracks:
            return None
        return self.hit.tracks[self.query_one(OptionList).highlighted or 0]

    def action_copy(self, field: str) -> None:
        if self.track:
            album = field == "album_url"
            self.post_message(self.CopyRequested(self.track.album_url if album else self.track.url,
                                                 "album URL" if album else "track URL"))

    def action_open(self) -> None:
        if self.track:
            self.post_message(self.OpenRequested(self.track.url))

    def action_play(self, queue: bool) -> None:
        if self.track:
            self.post_message(self.PlayRequested(self.track, queue))
