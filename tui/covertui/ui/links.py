"""Links the user takes away: copied to the clipboard, or opened in a browser or the Spotify app."""

from __future__ import annotations

import os
import sys

from textual.app import App


def copy_link(app: App, url: str, what: str) -> None:
    if not url:
        app.notify(f"No {what} for this cover.", severity="warning")
        return
    app.copy_to_clipboard(url)  # OSC 52: reaches the local clipboard over SSH too
    app.notify(f"Copied {what}: {url}", title="Clipboard")


def open_link(app: App, url: str) -> None:
    """Open a track's link where a display can show it; copy it where none can."""
    if not url.startswith("https://open.spotify.com/"):  # a link from a catalog synced before they were checked
        app.notify("covertui opens only open.spotify.com links.", severity="warning")
        return
    if sys.platform != "darwin" and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        copy_link(app, url, "track URL (no display here to open it)")
        return
    app.open_url(url)
