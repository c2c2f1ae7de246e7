"""Snapshots of the app's screens (unicode renderer forced, so they are stable).

Update after an intended change of the look: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual_image.widget import UnicodeImage

from conftest import until

from covertui.config import load_settings
from covertui.embed.pipeline import embedder
from covertui.search import Hit
from covertui.sync import Selection, sync
from covertui.ui.app import CovertuiApp
from covertui.ui.screens import DetailsScreen, HelpScreen
from covertui.ui.widgets import CoverTile

SIZE = (130, 40)
FIXED_HOME = "/tmp/covertui-snapshot-home"  # shown in the setup guide: must not vary between runs


@pytest.fixture
def synced_app(fake, settings, logged_in):
    sync(settings, Selection(all=True), embed=embedder(settings))
    return CovertuiApp(settings, UnicodeImage, "unicode")


def test_main_screen_with_results(snap_compare, synced_app):
    async def search(pilot):
        app = pilot.app
        await until(pilot, lambda: app.searcher is not None and len(app.sources) == 4)
        app.query_one("#query").value = "a blue cover with a cat"  # searches after the debounce
        await until(pilot, lambda: len(app.grid.hits) == 40 and any(t.display for t in app.query(CoverTile)))
        await pilot.pause(0.5)
        app.last_ms = 12.0  # the one value that changes from run to run
        app.update_status()
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=search)


def test_details_screen(snap_compare, synced_app):
    hit = Hit("ab67616d00001e02deadbeefdeadbeefdeadbeef", 0.3141, "/covers/x.jpg", "https://i.scdn.co/image/x",
              tracks=[{"name": "Blue Cat", "artists": ["The Whiskers"], "album": "Feline Blue",
                       "url": "https://open.spotify.com/track/1", "album_url": "https://open.spotify.com/album/9"},
                      {"name": "Blue Cat (live)", "artists": ["The Whiskers", "Guest"], "album": "Feline Blue",
                       "url": "https://open.spotify.com/track/2", "album_url": "https://open.spotify.com/album/9"}],
              sources=["liked", "playlist000000000000abcd"])

    async def open_details(pilot):
        await until(pilot, lambda: len(pilot.app.sources) == 4)
        await pilot.app.push_screen(DetailsScreen(hit, {sid: s.name for sid, s in pilot.app.sources.items()}))
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=open_details)


def test_help_screen(snap_compare, synced_app):
    async def open_help(pilot):
        await pilot.app.push_screen(HelpScreen())
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=open_help)


def test_first_run_setup_screen(snap_compare, tmp_path, tiny_model):
    settings = load_settings(environ={"COVERTUI_HOME": FIXED_HOME, "COVERTUI_MODEL": str(tiny_model),
                                      "COVERTUI_DEVICE": "cpu", "COVERTUI_DTYPE": "float32"}, cwd=tmp_path)
    app = CovertuiApp(settings, UnicodeImage, "unicode")

    async def settle(pilot):
        await until(pilot, lambda: pilot.app.searcher is not None or "model" in str(pilot.app.status_note))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
