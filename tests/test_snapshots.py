"""Snapshots of the app's screens (unicode renderer forced, so they are stable).

Update after an intended change of the look: pytest tests/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from covertui.config import load_settings
from covertui.models import Hit, Track
from covertui.ui.screens import DetailsScreen, HelpScreen
from covertui.ui.widgets import StatusLine

from conftest import AppUnderTest, until

SIZE = (130, 40)
FIXED_HOME = "/tmp/covertui-snapshot-home"  # shown in the setup guide: must not vary between runs


@pytest.fixture
def synced_app(synced):
    return AppUnderTest(synced)


async def settle(pilot) -> None:
    """Until the model is in (the status line says so), no worker runs (the first browse included) and
    what they posted is drawn: nothing changes the screen after this but the search time, set here."""
    await until(pilot, lambda: pilot.app.model_ready)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    pilot.app.query_one(StatusLine).show(last_ms=12.0)  # the one value that changes from run to run
    pilot.app.clear_notifications()  # "not Spotify's own endpoint": the fake's, with a port of the run's
    await pilot.pause()


def test_main_screen_with_results(snap_compare, synced_app):
    async def search(pilot):
        app = pilot.app
        await until(pilot, lambda: app.model_ready and len(app.main.sources) == 4)
        app.query_one("#query").cursor_blink = False  # a blinking cursor is drawn or not depending on the moment
        app.query_one("#query").value = "a blue cover with a cat"
        await until(pilot, lambda: len(app.main.grid.hits) == 40 and None not in app.main.grid.thumbnails)
        await settle(pilot)
        app.query_one(StatusLine).show(last_ms=12.0)  # the one value that changes from run to run
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=search)


def test_details_screen(snap_compare, synced_app):
    cover = "ab67616d00001e02deadbeefdeadbeefdeadbeef"
    album = ("Feline Blue", "https://open.spotify.com/album/9", cover, "https://i.scdn.co/image/x")
    hit = Hit(cover, 0.3141, "/covers/x.jpg", "https://i.scdn.co/image/x",
              tracks=[Track("1", "Blue Cat", ["The Whiskers"], album[0], "https://open.spotify.com/track/1", *album[1:]),
                      Track("2", "Blue Cat (live)", ["The Whiskers", "Guest"], album[0],
                            "https://open.spotify.com/track/2", *album[1:])],
              sources=["liked", "playlist000000000000abcd"])

    async def open_details(pilot):
        await settle(pilot)  # first: the screen under a modal is not drawn again while the modal is up
        await until(pilot, lambda: len(pilot.app.main.sources) == 4)
        await pilot.app.push_screen(DetailsScreen(hit, {sid: s.name for sid, s in pilot.app.main.sources.items()}))
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=open_details)


def test_help_screen(snap_compare, synced_app):
    async def open_help(pilot):
        await settle(pilot)
        await pilot.app.push_screen(HelpScreen())
        await pilot.pause()

    assert snap_compare(synced_app, terminal_size=SIZE, run_before=open_help)


def test_first_run_setup_screen(snap_compare, tmp_path, tiny_model):
    settings = load_settings(environ={"COVERTUI_HOME": FIXED_HOME, "COVERTUI_MODEL": str(tiny_model),
                                      "COVERTUI_DEVICE": "cpu", "COVERTUI_DTYPE": "float32"}, cwd=tmp_path)
    app = AppUnderTest(settings)

    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
