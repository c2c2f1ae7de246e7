"""Playing and queueing a track on one of the user's Spotify Connect devices (Premium only)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import CovertuiError, PlaybackRefused, WriteUncertain
from ..text import clean
from .library import SpotifyLibrary, as_dict, as_id, as_list, as_text, item_uri_of

_DEVICE_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # it goes into the request's URL as it is
_ITEM = re.compile(r"(?:spotify:|open\.spotify\.com/(?:intl-[a-z]+/)?)?(?:(track|episode)[:/])?([A-Za-z0-9]{22})\b")


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    type: str
    volume: int | None
    active: bool

    @property
    def label(self) -> str:
        volume = f", volume {self.volume}%" if self.volume is not None else ""
        return f"{self.name} ({self.type}{volume}){' · playing' if self.active else ''}"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


class SeveralDevices(PlaybackRefused):
    """None is active and several could play: the user picks one."""

    def __init__(self, devices: list[Device]):
        self.devices = devices
        names = "; ".join(clean(d.label) for d in devices)
        super().__init__(f"No Spotify device is playing and {len(devices)} are available: {names}. "
                         "Choose one with --device NAME.")


def item_uri(ref: str) -> str:
    """A spotify: URI from a track id, a spotify:track: or spotify:episode: URI, or an open.spotify.com URL."""
    match = _ITEM.search(ref.strip())
    if not match or (match.group(1) is None and ref.strip() != match.group(2)):
        raise CovertuiError(f"Not a Spotify track: {ref!r} (give an id, a spotify:track: URI or an open.spotify.com "
                            "link).")
    return f"spotify:{match.group(1) or 'track'}:{match.group(2)}"


class Player:
    def __init__(self, library: SpotifyLibrary) -> None:
        self.library = library

    def devices(self) -> list[Device]:
        listed = as_list(as_dict(self.library.call(self.library.client.devices)).get("devices"))
        return [Device(d["id"], as_text(d.get("name")) or "?", as_text(d.get("type")) or "device",
                       d["volume_percent"] if isinstance(d.get("volume_percent"), int) else None,
                       d.get("is_active") is True)
                for d in listed if isinstance(d, dict) and as_id(d.get("id"), _DEVICE_ID) and not d.get("is_restricted")]

    def device(self, wanted: str | None = None) -> Device:
        """The device named (id or name, any case), else the active one, else the only one."""
        devices = self.devices()
        if wanted:
            found = [d for d in devices if d.id == wanted or d.name.lower() == wanted.lower()]
            if not found:
                names = ", ".join(clean(d.name) for d in devices) or "none"
                raise PlaybackRefused(f"No Spotify device called {clean(wanted)!r}; available: {names}.")
            return found[0]
        active = [d for d in devices if d.active]
        if active:
            return active[0]
        if len(devices) == 1:
            return devices[0]
        if not devices:
            raise PlaybackRefused("No Spotify device is available: open Spotify on any device (phone, computer, "
                                  "web player), then try again.")
        raise SeveralDevices(devices)

    def play(self, uri: str, device: Device) -> None:
        """Start `uri` now. Playing the same track again is harmless, so a lost answer is retried once."""
        for attempt in range(2):
            try:
                self.library.call(self.library.client.start_playback, device_id=device.id, uris=[uri], write=True)
                return
            except WriteUncertain:
                if attempt:
                    raise

    def queue(self, uri: str, device: Device) -> None:
        """Add `uri` to the queue; after a lost answer the queue is read, and it is added only if missing."""
        try:
            self.library.call(self.library.client.add_to_queue, uri, device_id=device.id, write=True)
        except WriteUncertain:
            queued = as_list(as_dict(self.library.call(self.library.client.queue)).get("queue"))
            if uri not in [item_uri_of(i) for i in queued if isinstance(i, dict)]:
                self.library.call(self.library.client.add_to_queue, uri, device_id=device.id, write=True)
