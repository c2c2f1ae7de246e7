"""Every track sharing one cover, with its playlists, album and URLs."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from ...text import clean
from ..messages import CopyRequested, OpenRequested, PlayRequested
from ..plain import plain


class DetailsScreen(ModalScreen):
    BINDINGS = [("escape,q", "dismiss", "Close"), ("y", "copy('url')", "Copy track URL"),
                ("Y", "copy('album_url')", "Copy album URL"), ("o", "open", "Open"),
                ("P", "play(False)", "Play"), ("e", "play(True)", "Queue")]

    def __init__(self, hit, source_names: dict[str, str]) -> None:
        super().__init__()
        self.hit = hit
        self.source_names = source_names

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
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
    def track(self):
        if not self.hit.tracks:
            return None
        return self.hit.tracks[self.query_one(OptionList).highlighted or 0]

    def action_copy(self, field: str) -> None:
        if self.track:
            self.post_message(CopyRequested.link(self.track, field))

    def action_open(self) -> None:
        if self.track:
            self.post_message(OpenRequested(self.track.url))

    def action_play(self, queue: bool) -> None:
        if self.track:
            self.post_message(PlayRequested(self.track, queue))
