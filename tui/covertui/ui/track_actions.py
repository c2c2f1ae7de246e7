"""What the app does with the chosen cover or track: copy or open its link, play or queue it on a
Spotify Connect device, save marked covers (or all results) as a playlist. A mixin of CovertuiApp."""

from __future__ import annotations

import os
import sys

from textual import work

from ..errors import CovertuiError
from .messages import (CopyRequested, DevicesOffered, MarksChanged, OpenRequested, PlaybackFinished, PlayRequested,
                       while_mounted)
from .screens import DevicePicker, SaveScreen
from .widgets import StatusLine


class TrackActions:
    # copy and open -------------------------------------------------------------------
    def action_copy(self, field: str) -> None:
        hit = self.current
        if hit is None:
            return
        request = CopyRequested.link(hit.tracks[0], field) if hit.tracks else CopyRequested(hit.path or "", "file path")
        self.copy_url(request.text, request.what)

    def on_copy_requested(self, event: CopyRequested) -> None:
        self.copy_url(event.text, event.what)

    def copy_url(self, url: str, what: str) -> None:
        if not url:
            self.notify(f"No {what} for this cover.", severity="warning")
            return
        self.copy_to_clipboard(url)  # OSC 52: reaches the local clipboard over SSH too
        self.notify(f"Copied {what}: {url}", title="Clipboard")

    def action_open(self) -> None:
        hit = self.current
        if hit is not None and hit.tracks:
            self.open_link(hit.tracks[0].url)

    def on_open_requested(self, event: OpenRequested) -> None:
        self.open_link(event.url)

    def open_link(self, url: str) -> None:
        if not url.startswith("https://open.spotify.com/"):  # a link from a catalog synced before they were checked
            self.notify("covertui opens only open.spotify.com links.", severity="warning")
            return
        if sys.platform != "darwin" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            self.copy_url(url, "track URL (no display here to open it)")
            return
        self.open_url(url)

    # play and queue --------------------------------------------------------------------
    def action_play(self, queue: bool) -> None:
        hit = self.current
        if hit is None or not hit.tracks:
            self.notify("This cover has no Spotify track to play.", severity="warning")
            return
        self.play_track(hit.tracks[0].uri, queue)

    def on_play_requested(self, event: PlayRequested) -> None:
        self.play_track(event.track.uri, event.queue)

    @work(thread=True, exit_on_error=False, group="play")
    def play_track(self, uri: str, queue: bool, device: str | None = None) -> None:
        from ..actions import play
        from ..spotify.player import SeveralDevices

        try:
            target = play(self.settings, uri, device, queue=queue)
        except SeveralDevices as exc:
            self.post_message(DevicesOffered(exc.devices, uri, queue))
            return
        except CovertuiError as exc:
            self.post_message(PlaybackFinished(str(exc), "error"))
            return
        self.post_message(PlaybackFinished(f"{'Added to the queue' if queue else 'Playing'} on {target.name}."))

    @while_mounted
    def on_devices_offered(self, event: DevicesOffered) -> None:
        def chosen(device_id: str | None) -> None:
            if device_id:
                self.play_track(event.uri, event.queue, device_id)

        self.push_screen(DevicePicker(event.devices), chosen)

    def on_playback_finished(self, event: PlaybackFinished) -> None:
        self.notify(event.message, title="Spotify", severity=event.severity, timeout=15 if event.severity == "error" else 5)

    # marks and saving --------------------------------------------------------------------
    def action_unmark(self) -> None:
        self.grid.unmark_all()

    @while_mounted
    def on_marks_changed(self, event: MarksChanged) -> None:
        self.query_one(StatusLine).show(marked=event.count)

    def action_save_playlist(self) -> None:
        marked = self.grid.marked_in_rank_order()
        covers = marked or [c for h in self.grid.hits for c in (h.cover, *h.copies)]
        if not covers:
            self.notify("Nothing to save: search first, or mark covers with space.", severity="warning")
            return
        name = self.query_one("#query").value.strip() or "covertui"

        def done(saved) -> None:
            if saved is not None:
                self.notify(f"Saved {saved.tracks} tracks as the private playlist {saved.name}: {saved.url}",
                            title="Spotify", timeout=10)
                self.load_sources()  # it is a source now: its covers are already here

        self.push_screen(SaveScreen(self.settings, covers, self.checked_sources, name, bool(marked)), done)
