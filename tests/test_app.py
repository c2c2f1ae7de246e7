"""The app, driven with Textual's Pilot against the fake Spotify and the tiny model."""

from __future__ import annotations

import gc
import subprocess
import sys
import threading

from covertui.embed.pipeline import embedder
from covertui.search import Searcher
from covertui.sync import SyncChoice, sync
from covertui.ui.app import GC_IDLE
from covertui.ui.screens import AuthScreen, DetailsScreen, HelpScreen, SetupScreen
from covertui.ui.widgets import CoverGrid, CoverTile, SourcePicker, WorkPanel

from conftest import AppUnderTest, until
from fake_spotify import cover_id

SIZE = (150, 48)
make_app = AppUnderTest


async def start_sync(pilot) -> None:
    """Press s in the picker once the sources are in, and wait for the downloads to start."""
    app = pilot.app
    await until(pilot, lambda: len(app.query_one("#sources").selected) == 4)
    app.query_one("#sources").focus()
    await pilot.press("s")
    await until(pilot, lambda: "Downloading" in str(app.query_one("#work-label").render()))


async def search_for(pilot, text: str) -> None:
    """Once the model is ready: type a query, wait for the covers, move to the grid."""
    app = pilot.app
    await until(pilot, lambda: app.model_ready)
    await type_text(pilot, text)
    await until(pilot, lambda: results(app) and results(app)[:len(tiles(app))] == tiles(app))
    await pilot.press("down")


async def type_text(pilot, text: str) -> None:
    await pilot.press(*[{" ": "space"}.get(ch, ch) for ch in text])


def tiles(app) -> list[str]:
    """Covers on display, in order (tiles are pooled: hidden ones hold nothing current)."""
    return [t.hit.cover for t in app.query(CoverTile) if t.display]


def results(app) -> list[str]:
    """Covers of the results shown, on screen or scrolled to."""
    return [hit.cover for hit in app.main.grid.hits]


def test_importing_the_app_and_cli_imports_no_torch():
    code = ("import sys, covertui.cli, covertui.ui.app; "
            "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_browsing_the_index_imports_no_torch(synced, cli_env):
    """The covers come before the model: the index browses without torch (1.4 s to import) on the CPU."""
    code = ("import sys; from covertui.config import load_settings; from covertui.search import Searcher; "
            "hits = Searcher(load_settings(), text=False).search('', top=60).hits; "
            "print(len(hits), sorted(m for m in ('torch', 'transformers') if m in sys.modules))")
    for device in ("cpu", ""):  # named, or the default on a machine without a GPU driver (this one)
        out = subprocess.run([sys.executable, "-c", code], env={**cli_env, "COVERTUI_DEVICE": device},
                             capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "40 []", out.stderr


async def test_a_tile_bound_before_it_is_composed_keeps_its_result():
    """A search that lands while the app closes binds tiles that may never be composed (seen in a
    stressed run: the tile's labels did not exist yet, and the app ended with a traceback)."""
    from PIL import Image
    from textual.app import App

    from covertui.models import Hit, Track
    from covertui.ui.graphics import choose_graphics

    album = ("Feline Blue", "https://open.spotify.com/album/9", "c0", "https://i.scdn.co/image/x")
    hit = Hit("c0", 0.5, "/covers/c0.jpg", album[3],
              tracks=[Track("1", "Blue Cat", ["The Whiskers"], album[0], "https://open.spotify.com/track/1", *album[1:])])
    thumbnail = Image.new("RGB", (44, 44), "blue")
    tile = CoverTile(choose_graphics("halfcell"))
    tile.show(0, hit, thumbnail)

    class OneTile(App):
        def compose(self):
            yield tile

    async with OneTile().run_test() as pilot:
        tile.display = True
        await pilot.pause()
        assert str(tile.name_label.render()) == "Blue Cat" and tile.art.image is thumbnail
        assert "The Whiskers" in str(tile.meta_label.render())


async def test_search_shows_the_expected_covers_and_keys_move(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        await type_text(pilot, "a blue cover")
        expected = [h.cover for h in Searcher(synced).search("a blue cover", top=60).hits]
        await until(pilot, lambda: results(app) == expected)
        grid = app.query_one(CoverGrid)
        assert len(expected) == 40 and grid.page_size < 40
        assert tiles(app) == expected[:grid.page_size]  # tiles for the rows on screen only
        assert len(app.query(CoverTile)) == grid.page_size
        assert "covers indexed" in str(app.query_one("#status").render())
        for tile in app.query(CoverTile):  # pictures square (11 rows of 1:2 cells: 22 columns) and centred
            art, inside = tile.art.region, tile.content_region
            assert art.width == 22 and art.x - inside.x == inside.right - art.right == 1
        await pilot.press("down")
        assert app.focused is grid and grid.selected == 0
        await pilot.press("right", "l")
        assert grid.selected == 2
        await pilot.press("j")
        assert grid.selected == 2 + grid.columns
        await pilot.press("k", "h")
        assert grid.selected == 1
        wide = grid.columns
        await pilot.resize_terminal(90, 48)  # the grid reflows with the width
        await pilot.pause()
        assert grid.columns < wide
        assert app.query_one("#tiles").styles.grid_size_columns == grid.columns
        assert tiles(app) == expected[:grid.page_size]
        await pilot.press("slash")
        assert app.focused is app.query_one("#query")
        await pilot.press("down", "escape")
        assert app.focused is app.query_one("#query")


async def test_scrolling_binds_the_tiles_to_the_next_rows(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "a red cover")
        grid, expected = app.main.grid, results(app)
        await until(pilot, lambda: None not in grid.thumbnails)  # the rows below, decoded after the first
        await pilot.press("end")
        assert grid.selected == 39 and grid.current.cover == expected[39]
        on_screen = tiles(app)
        assert expected[39] in on_screen and on_screen == expected[grid.top * grid.columns:][:len(on_screen)]
        selected = [t for t in app.query(CoverTile) if t.has_class("-selected")]
        assert [t.hit.cover for t in selected] == [expected[39]]
        assert selected[0].query_one(".art").image is grid.thumbnails[39] is not None
        assert "of 40" in str(grid.border_subtitle)
        await pilot.press("pageup")
        assert grid.selected == 39 - grid.rows * grid.columns
        await pilot.press("pagedown")
        chosen, shown = grid.current.cover, grid.hits
        app.main.search_now(again=True)  # as during a sync, when covers were embedded: the same query again
        await until(pilot, lambda: grid.hits is not shown)
        assert grid.current.cover == chosen and grid.top > 0 and chosen in tiles(app)  # still there
        await pilot.press("home")
        assert grid.selected == 0 and grid.top == 0 and tiles(app) == expected[:grid.page_size]
        await pilot.click(CoverTile, offset=(2, 2))  # the first tile
        await pilot.click(app.query(CoverTile)[1], offset=(2, 2))
        assert grid.selected == 1 and app.focused is grid
        await pilot.click(app.query(CoverTile)[1], offset=(2, 2), times=2)
        assert isinstance(app.screen, DetailsScreen) and app.screen.hit.cover == expected[1]


async def test_a_newer_keystroke_replaces_the_running_search(synced):
    shown = []

    class Watched(AppUnderTest):
        def on_main_screen_search_finished(self, event) -> None:  # the main screen's report, bubbled up
            shown.append(event.result.query)

    app = Watched(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: shown == [""])  # at start: the checked sources browsed, newest first
        shown.clear()
        real, asked, gate = app.searcher.search, [], threading.Event()

        def search(text, **kwargs):  # the first search is held until more keys are typed
            asked.append(text)
            if len(asked) == 1:
                gate.wait(10)
            return real(text, **kwargs)

        app.searcher.search = search
        await type_text(pilot, "r")
        await until(pilot, lambda: asked == ["r"])  # searched at once, no debounce
        await type_text(pilot, "ed")
        gate.set()
        expected = [h.cover for h in real("red", top=60).hits]
        await until(pilot, lambda: results(app) == expected)
        assert asked == ["r", "red"] and shown == ["red"]  # "r" dropped unseen, "re" never run
        await pilot.press("space")  # the same query once stripped: nothing to do
        await pilot.pause(0.2)
        assert asked == ["r", "red"]
        await pilot.press("enter")  # Enter searches again
        await until(pilot, lambda: asked == ["r", "red", "red"])


async def test_full_garbage_collections_wait_for_an_idle_moment(synced, monkeypatch):
    before = gc.get_threshold()
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        assert gc.get_threshold()[2] >= 1 << 30  # the interpreter starts none by itself
        collected = []
        monkeypatch.setattr(gc, "collect", lambda *args: collected.append(args))
        monkeypatch.setattr(gc, "get_count", lambda: (0, 0, 10))  # as many as would have started one
        now = [1000.0]
        app.collector.clock = lambda: now[0]  # the collector's time, moved by the test alone
        await pilot.press("a")
        assert not app.collector.collect_if_idle() and collected == []  # a key was just pressed
        now[0] += GC_IDLE / 2
        assert not app.collector.collect_if_idle() and collected == []  # not idle long enough
        now[0] += GC_IDLE
        assert app.collector.collect_if_idle() and collected == [()]
    assert gc.get_threshold() == before  # given back when the app ends


async def test_typing_never_triggers_bindings(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        assert app.focused is app.query_one("#query")  # covers synced: the app starts in the input
        await type_text(pilot, "quiet yoyo? mosaic /s")
        await pilot.pause(0.3)
        assert app.is_running and not isinstance(app.screen, HelpScreen)
        assert app.query_one("#query").value == "quiet yoyo? mosaic /s"
        assert app.clipboard == "" and app.main.work_cancel is None


async def test_y_copies_the_track_url_and_notifies(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        await type_text(pilot, "red")
        await pilot.press("enter")
        await until(pilot, lambda: tiles(app))
        await pilot.press("down", "y")
        hit = app.query_one(CoverGrid).current
        assert app.clipboard == hit.tracks[0].url
        assert any(hit.tracks[0].url in note for note in app.notes)
        await pilot.press("Y")
        assert app.clipboard == hit.tracks[0].album_url


async def test_enter_opens_details_with_every_track(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "green")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        hit = app.screen.hit
        assert len(hit.tracks) == 3
        await pilot.press("down", "y")
        assert app.clipboard == hit.tracks[1].url
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)


async def test_more_like_this(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "cat")
        first = app.query_one(CoverGrid).current.cover
        await pilot.press("m")
        await until(pilot, lambda: results(app) and results(app)[0] != first)
        assert app.query_one("#query").value == f"@{first}" and first not in results(app)


async def test_unavailable_sources_say_why(fake, settings, logged_in):
    from fake_spotify import Playlist, track_obj

    fake.library.playlists.append(Playlist("followed0000000000abcd", "Their mix", "someone", [{"item": track_obj(1, 1)}]))
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.main.sources) == 5)
        picker = app.query_one(SourcePicker)
        option = next(o for o in picker.options if o.value == "followed0000000000abcd")
        assert option.disabled and "unavailable: followed, not owned" in str(option.prompt)


async def test_unchecking_a_source_removes_its_covers(fake, settings, logged_in):
    fake.library.playlists[0].entries = fake.library.playlists[0].entries[:3]  # covers 0, 1, 2
    fake.library.liked = []
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        await type_text(pilot, "blue")
        await until(pilot, lambda: len(results(app)) == 40)
        picker = app.query_one("#sources")
        for sid in ("playlist000000000001abcd", "playlist000000000002abcd"):
            picker.deselect(sid)
        await until(pilot, lambda: set(results(app)) == {cover_id(0), cover_id(1), cover_id(2)})
        assert set(tiles(app)) == set(results(app))


async def test_query_typed_before_the_model_is_ready_runs_when_it_is(synced, monkeypatch):
    import covertui.search as search

    real = search.Searcher.__init__
    release = threading.Event()

    def held_back(self, *args, **kwargs):  # the model loads only when the test says so
        release.wait(30)
        real(self, *args, **kwargs)

    monkeypatch.setattr(search.Searcher, "__init__", held_back)
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await type_text(pilot, "sunset")
        await pilot.pause(0.3)
        assert app.searcher is None and "runs when it is ready" in str(app.query_one("#status").render())
        release.set()
        await until(pilot, lambda: len(results(app)) == 40)


async def test_sync_worker_shows_progress_and_fills_the_grid(fake, settings, logged_in, monkeypatch):
    shown = []
    real_report = WorkPanel.report

    def report(panel, progress):
        real_report(panel, progress)
        shown.append((progress.stage, panel.display, str(panel.query_one("#work-label").render())))

    monkeypatch.setattr(WorkPanel, "report", report)
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.main.sources) == 4)  # sources refreshed from Spotify
        await until(pilot, lambda: len(app.query_one("#sources").selected) == 4)
        # nothing synced yet: the app starts in the picker, once the catalog says so (its first read can come
        # after Spotify's sources on a busy machine)
        await until(pilot, lambda: not app.main.has_covers and app.focused is app.query_one("#sources"))
        await pilot.press("s")
        await until(pilot, lambda: any("40 covers" in note for note in app.notes), 60)
        await pilot.press("slash")
        await type_text(pilot, "blue")
        assert {"download", "embed"} <= {stage for stage, _, _ in shown}
        assert all(display for _, display, _ in shown)
        # progress reports replace the one still waiting before them (can_replace): the counts only grow
        downloads = [int(label.split()[2].split("/")[0]) for stage, _, label in shown if stage == "download"]
        assert downloads and downloads == sorted(downloads) and all(label.endswith("(c cancels)") for *_, label in shown)
        assert not app.query_one(WorkPanel).display
        await until(pilot, lambda: len(results(app)) == 40)


async def test_sync_can_be_cancelled_and_keeps_finished_work(fake, settings, logged_in):
    fake.image_delay = 1.0  # three waves of downloads: "c" lands well before the last
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await start_sync(pilot)
        await pilot.press("c")
        await until(pilot, lambda: app.main.work_cancel is None, 20)
        assert app.notes[-2:] == ["Cancelling: finished work is kept.", "Cancelled; finished work is kept."]
    kept = list(settings.paths.covers_dir.glob("*.jpg"))
    assert len(kept) < 40 and not list(settings.paths.covers_dir.glob(".*"))


async def test_first_run_without_credentials_shows_the_setup_guide(make_settings):
    app = make_app(make_settings(SPOTIPY_CLIENT_ID=""))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, SetupScreen)
        text = " ".join(str(w.render()) for w in app.screen.query("Static"))
        assert "SPOTIPY_CLIENT_ID" in text and "127.0.0.1:8888/callback" in text


async def test_login_screen_completes_by_paste(fake, settings):
    import requests

    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, AuthScreen))
        screen = app.screen
        await pilot.press("y")
        assert app.clipboard == screen.flow.authorize_url
        location = requests.get(screen.flow.authorize_url, allow_redirects=False, timeout=5).headers["Location"]
        screen.query_one("#auth-input").value = location
        screen.query_one("#auth-input").focus()
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, AuthScreen))
        await until(pilot, lambda: len(app.main.sources) == 4)
        assert "Logged in to Spotify." in app.notes


async def test_empty_state_says_what_to_do(fake, settings, logged_in):
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "press s to sync" in str(app.query_one("#empty").render())


async def test_quit_during_sync_is_prompt(fake, settings, logged_in):
    """q cancels the sync and the app ends without waiting for the downloads under way (each hangs
    for ten minutes here, past the test time-out)."""
    fake.image_delay = 600
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await start_sync(pilot)
        cancel = app.main.work_cancel
        await pilot.press("q")
    assert cancel is not None and cancel.cancelled
    assert sum(n for path, n in fake.requests.items() if path.startswith("/image/")) < 40  # the rest never asked


async def test_spotify_refusals_and_a_login_near_its_end_are_shown(fake, settings, logged_in):
    import time

    from covertui.spotify.auth import TokenStore

    from fake_spotify import USER_NOT_REGISTERED, account_refused

    TokenStore(settings.paths.token_file).save({**logged_in, "logged_in_at": time.time() - 175 * 86400})
    fake.add_fault(account_refused(USER_NOT_REGISTERED))
    app = make_app(settings)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("User Management" in note for note in app.notes))
        assert any("login ends on" in note for note in app.notes)
        assert app.is_running and not app.main.sources  # nothing stored as a playlist's reason


async def test_marked_covers_are_saved_as_a_playlist_that_becomes_a_source(fake, synced):
    from covertui.ui.screens import SaveScreen
    from covertui.ui.widgets import StatusLine

    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "a blue cover")
        first, second = results(app)[:2]
        await pilot.press("space", "right", "space")
        assert list(app.main.grid.marked) == [first, second]
        assert [t.has_class("-marked") for t in app.query(CoverTile)][:3] == [True, True, False]
        assert "2 marked" in str(app.query_one(StatusLine).render())
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SaveScreen) and app.screen.tracks is not None)
        assert "6 tracks from 2 covers" in str(app.screen.query_one("#save-plan").render())
        assert app.screen.query_one("#save-name").value == "a blue cover"
        await pilot.press("enter")
        await until(pilot, lambda: any("Saved 6 tracks" in note for note in app.notes))
        made = next(p for p in fake.library.playlists if p.name == "a blue cover")
        assert len(made.entries) == 6 and not made.public
        await until(pilot, lambda: made.id in app.main.sources)  # in the picker at once
        await pilot.press("U")
        assert not app.main.grid.marked and "marked" not in str(app.query_one(StatusLine).render())


async def test_play_queue_and_the_device_picker(fake, synced):
    from textual.widgets import OptionList

    from covertui.ui.screens import DevicePicker

    from fake_spotify import device

    fake.library.devices = [device("Laptop"), device("Phone", "Smartphone")]
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "red")
        hit = app.main.grid.current
        await pilot.press("P")  # no device is playing, two could: the user picks
        await until(pilot, lambda: isinstance(app.screen, DevicePicker))
        app.screen.query_one(OptionList).highlighted = 1
        await pilot.press("enter")
        await until(pilot, lambda: any("Playing on Phone" in note for note in app.notes))
        assert fake.library.played == [(device("Phone")["id"], [hit.tracks[0].uri])]
        await pilot.press("enter")  # details: the chosen track is queued on the device now playing
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("down", "e")
        await until(pilot, lambda: fake.library.queued)
        assert fake.library.queued == [(device("Phone")["id"], hit.tracks[1].uri)]


async def test_a_login_without_the_playing_scope_offers_a_new_login(fake, synced):
    from covertui.spotify.auth import TokenStore, _stamp

    from fake_spotify import READ_SCOPE

    TokenStore(synced.paths.token_file).save(_stamp(synced, fake.issue_token(scope=READ_SCOPE)))
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "red")
        await pilot.press("P")
        await until(pilot, lambda: any("Log in again to allow playing and saving" in note for note in app.notes))
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, AuthScreen))


async def test_reports_that_arrive_while_the_app_closes_are_dropped(synced):
    """Textual stops the app, then removes the main screen's widgets, each in its own task, and the
    screen last: reports handled in between find the screen attached and some of its widgets gone."""
    import asyncio

    from textual.widget import Widget

    from covertui.ui.app import CovertuiApp
    from covertui.ui.screens import MainScreen

    seen, errors = [], []

    class Probe(Widget):
        """Holds the screen up while it closes until the status line is gone, then reports."""

        async def on_unmount(self) -> None:
            while status.is_attached:  # its own task removes it: wait for that, not for a time
                await asyncio.sleep(0)
            seen.append((app.is_running, app.main.is_attached))
            try:
                app.on_covertui_app_index_loaded(CovertuiApp.IndexLoaded(app.main.searches.searcher))
                app.on_covertui_app_model_loaded(CovertuiApp.ModelLoaded(None))
                app.on_covertui_app_model_failed(CovertuiApp.ModelFailed("the model went"))
                await app.main.on_main_screen_sources_loaded(MainScreen.SourcesLoaded({}, set(), True))
                await app.main.on_main_screen_search_failed(MainScreen.SearchFailed("late"))
                await app.main.on_main_screen_sync_finished(MainScreen.SyncFinished("late", "warning"))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        status = app.main.status
        await app.main.mount(Probe())
    assert seen == [(False, True)]  # the window this test is about: the app stopped, the screen still there
    assert errors == [] and "late" not in app.notes


async def test_browsing_and_ordering_the_covers(synced):
    searcher = Searcher(synced)
    app = AppUnderTest(synced)
    async with app.run_test(size=SIZE) as pilot:
        newest = [h.cover for h in searcher.search("", top=60).hits]
        await until(pilot, lambda: results(app) == newest)  # no query: the checked sources, newest first
        assert app.main.grid.border_title == "all covers by recently added"
        await pilot.press("ctrl+o")
        by_colour = [h.cover for h in searcher.search("", top=60, order="colour").hits]
        await until(pilot, lambda: results(app) == by_colour)
        assert app.main.grid.border_title == "all covers by colour" and by_colour != newest
        await type_text(pilot, "Artist 7")  # words after browsing: the best matches first, the name named
        await until(pilot, lambda: app.main.grid.border_title == "covers by best match · artist: artist 7 first")
        assert results(app) == [h.cover for h in searcher.search("Artist 7", top=60).hits]
        await pilot.press("ctrl+o", "ctrl+o")  # recently added, then colour: the same covers, reordered
        by_colour = [h.cover for h in searcher.search("Artist 7", top=60, order="colour").hits]
        await until(pilot, lambda: results(app) == by_colour)
        assert app.main.grid.border_title.startswith("covers by colour")


async def test_p_then_space_unchecks_the_first_source(synced):
    app = AppUnderTest(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.query_one(SourcePicker).selected) == 4)
        await pilot.press("down", "p")  # from the covers: p focuses the picker on its first source
        picker = app.query_one(SourcePicker)
        assert app.focused is picker and picker.highlighted == 0
        await pilot.press("space")
        await until(pilot, lambda: len(picker.selected) == 3)


async def test_slash_in_the_empty_query_keeps_the_focus_and_types_nothing(synced):
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.model_ready)
        query = app.query_one("#query")
        assert app.focused is query and not query.cursor_blink  # no blinking: no repaint twice a second
        await pilot.press("slash")
        assert query.value == "" and app.focused is query
        await pilot.press("a", "slash", "b")  # inside words a / is a character
        assert query.value == "a/b"


async def test_results_of_a_query_typed_over_are_not_drawn(synced):
    """A search's results that arrive after the user typed on are stale: the newer query's come next."""
    from covertui.models import SearchResult

    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await search_for(pilot, "red")
        drawn, show = [], app.main.grid.show

        async def recording_show(hits, *args, **kwargs):
            drawn.append(hits)
            await show(hits, *args, **kwargs)

        app.main.grid.show = recording_show
        shown = list(app.main.grid.hits)
        app.query_one("#query").value = "red cover with a cat"  # typed on; its own search is on its way
        stale = SearchResult("red", list(reversed(shown)), 1.0)
        app.main.post_message(app.main.SearchFinished(stale, []))
        await until(pilot, lambda: app.main.grid.border_subtitle and drawn)  # the newer query's results
        assert all(hits is not stale.hits for hits in drawn)


async def test_covers_show_while_the_text_tower_loads_and_words_wait_for_it(synced, monkeypatch):
    """Browsing needs no model: the covers are on screen while the text tower is held back; a query with
    words typed meanwhile says it waits, keeps the covers, and is answered once the tower is in."""
    from covertui.embed.model import ClipModel

    real, release, asked = ClipModel.load, threading.Event(), threading.Event()

    def held_back(self, tower):
        if tower == "text" and self.text is None:
            asked.set()
            release.wait(60)
        real(self, tower)

    monkeypatch.setattr(ClipModel, "load", held_back)
    app = make_app(synced)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(results(app)) == 40 and tiles(app))  # browsed, newest first
        assert asked.is_set() and not app.model_ready
        browsed = list(results(app))
        await type_text(pilot, "a blue cover")
        await pilot.pause(0.3)
        assert results(app) == browsed  # still the covers, not an empty grid
        assert "runs when it is ready" in str(app.query_one("#status").render())
        release.set()
        await until(pilot, lambda: app.model_ready and app.main.grid.border_title.startswith("covers by best match"))
        expected = [h.cover for h in Searcher(synced).search("a blue cover", top=60).hits]
        await until(pilot, lambda: results(app) == expected)
        assert "runs when it is ready" not in str(app.query_one("#status").render())
