"""Settings, files and answers covertui does not own: where a token may go, what a corrupt or strange local
file does, the login listener under stray requests, damaged stores, malformed API data, slow covers.
Every case ends in a clear message, in bounded time and memory, with nothing synced lost."""

from __future__ import annotations

import os
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
import requests

from covertui.catalog import Catalog
from covertui.config import DEFAULT_ACCOUNTS_URL, DEFAULT_API_URL, load_settings
from covertui.covers import DECODING, download_one
from covertui.errors import AuthError, CatalogError, QueryError, crash_report
from covertui.files import NotARegularFile, read_regular
from covertui.progress import CancelToken
from covertui.search import Searcher
from covertui.spotify.auth import LoginFlow, TokenCorrupt, TokenManager, TokenStore
from covertui.spotify.http import make_session
from covertui.sync import SyncChoice, scan_folder, sync

from conftest import login, wait_until


def covertui(env, *args, cwd=None, timeout=60) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-m", "covertui", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)
    return done.returncode, done.stdout + done.stderr


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims `width` x `height` pixels in a few bytes: what a decompression bomb looks like."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# settings: where the login goes ------------------------------------------------------------------------
def test_a_env_in_the_current_directory_cannot_move_the_endpoints(tmp_path):
    (tmp_path / ".env").write_text("SPOTIPY_CLIENT_ID=from-cwd\nCOVERTUI_SPOTIFY_API_URL=http://evil.example/v1/\n"
                                   "COVERTUI_SPOTIFY_ACCOUNTS_URL=http://evil.example\n")
    home = tmp_path / "home"
    settings = load_settings(environ={"COVERTUI_HOME": str(home)}, cwd=tmp_path)
    assert settings.client_id == "from-cwd"  # the client id may still come from there, as the README says
    assert (settings.api_url, settings.accounts_url) == (DEFAULT_API_URL, DEFAULT_ACCOUNTS_URL)
    assert settings.ignored == ("COVERTUI_SPOTIFY_API_URL", "COVERTUI_SPOTIFY_ACCOUNTS_URL")
    assert settings.custom_endpoints == []
    # the config folder's .env and the environment may set them, and then covertui says so
    (home / "config").mkdir(parents=True)
    (home / "config" / ".env").write_text("COVERTUI_SPOTIFY_ACCOUNTS_URL=http://127.0.0.1:9/\n")
    settings = load_settings(environ={"COVERTUI_HOME": str(home), "COVERTUI_SPOTIFY_API_URL": "http://127.0.0.1:9/v1"},
                             cwd=tmp_path)
    assert settings.api_url == "http://127.0.0.1:9/v1/" and settings.accounts_url == "http://127.0.0.1:9"
    assert settings.custom_endpoints == ["COVERTUI_SPOTIFY_API_URL=http://127.0.0.1:9/v1/",
                                         "COVERTUI_SPOTIFY_ACCOUNTS_URL=http://127.0.0.1:9"]


def test_doctor_names_ignored_and_foreign_endpoints(fake, tmp_path, cli_env):
    (tmp_path / ".env").write_text("COVERTUI_SPOTIFY_API_URL=http://evil.example/v1/\n")
    code, output = covertui(cli_env, "doctor", cwd=tmp_path)
    assert "ignored setting" in output and "COVERTUI_SPOTIFY_API_URL in ./.env" in output
    assert f"COVERTUI_SPOTIFY_API_URL={fake.api_url}" in output and "Not Spotify's own" in output


def test_a_token_is_sent_only_to_the_service_that_issued_it(fake, make_settings, settings):
    from fake_spotify import FakeSpotify

    token = login(fake, settings)
    other = FakeSpotify().start()  # a second service, as a foreign .env would name
    try:
        moved = make_settings(COVERTUI_SPOTIFY_API_URL=other.api_url, COVERTUI_SPOTIFY_ACCOUNTS_URL=other.url)
        TokenStore(moved.paths.token_file).save({**token, "expires_at": 0})  # expired: a refresh would post it
        with pytest.raises(AuthError, match="another Spotify service"):
            TokenManager(moved).get_access_token()
        assert sum(other.requests.values()) == 0  # neither the access nor the refresh token reached it
    finally:
        other.stop()


@pytest.mark.parametrize("text", ["COVERTUI_TIMEOUT=nan\n", "COVERTUI_CONCURRENCY=100000000\n",
                                  "COVERTUI_SPOTIFY_API_URL=file:///etc/passwd\n"])
def test_unusable_values_in_the_environment_are_refused(tmp_path, text):
    from covertui.errors import ConfigError

    key, value = text.strip().split("=", 1)
    with pytest.raises(ConfigError):
        load_settings(environ={"COVERTUI_HOME": str(tmp_path), key: value}, cwd=tmp_path)


# the token file ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("content,why", [
    ('{"access_token": "abc", "expires_at": "soon"}', "expires_at is str"),
    ('{"access_token": 5, "expires_at": 1}', "access_token is int"),
    ('["a list"]', "not a JSON object"),
    ("{not json", "not JSON"),
    ('{"access_token": "abc", "expires_at": 1, "logged_in_at": 1e300}', "logged_in_at is not a time"),
])
def test_a_corrupt_token_file_is_called_corrupt(fake, settings, cli_env, content, why):
    settings.paths.token_file.parent.mkdir(parents=True, exist_ok=True)
    settings.paths.token_file.write_text(content)
    with pytest.raises(TokenCorrupt, match=why):
        TokenStore(settings.paths.token_file).load()
    code, output = covertui(cli_env, "sources")
    assert code == 3 and "is corrupt" in output and "covertui auth" in output and "Traceback" not in output


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "folder"])
def test_a_token_path_that_is_no_file_neither_hangs_nor_crashes(fake, settings, cli_env, kind):
    path = settings.paths.token_file
    path.parent.mkdir(parents=True, exist_ok=True)
    {"fifo": lambda: os.mkfifo(path), "dev-zero": lambda: path.symlink_to("/dev/zero"), "folder": path.mkdir}[kind]()
    code, output = covertui(cli_env, "sources", timeout=60)  # a FIFO or /dev/zero used to hang here
    assert code == 3 and "is corrupt" in output and "Traceback" not in output
    code, output = covertui(cli_env, "auth", "--logout")
    if kind == "folder":
        assert code == 3 and "is a folder" in output and path.is_dir()  # not covertui's to remove
    else:
        assert code == 0 and not path.exists() and not path.is_symlink() and Path("/dev/zero").exists()


def test_a_crash_report_shows_no_local_variables():
    def refresh(access_token: str) -> None:
        refresh_token = access_token.replace("access", "refresh")  # noqa: F841 (locals, as in the Spotify layer)
        raise TypeError("unsupported operand")

    try:
        refresh("very-" + "secret-access")  # the source line is in the report: the secret must not be
    except TypeError as exc:
        report = crash_report(exc)
    assert "in refresh" in report and "TypeError: unsupported operand" in report
    assert "very-secret" not in report


async def test_an_unexpected_worker_error_ends_the_app_without_locals(fake, settings, logged_in, monkeypatch):
    import covertui.sync

    from conftest import AppUnderTest

    def broken(settings, select_readable=False):
        access_token = logged_in["access_token"]  # noqa: F841
        raise TypeError("a bug")

    monkeypatch.setattr(covertui.sync, "refresh_sources", broken)
    app = AppUnderTest(settings)
    async with app.run_test() as pilot:
        await pilot.pause()
        for _ in range(200):
            if app.return_code is not None:
                break
            await pilot.pause(0.05)
    assert app.return_code == 1  # ended as it should, its report made by crash_report (above)


# local files: folders and image queries -----------------------------------------------------------------
def test_read_regular_refuses_fifos_devices_and_big_files(tmp_path):
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    with pytest.raises(NotARegularFile, match="FIFO"):
        read_regular(fifo, 1000)  # at once: no writer is waited for
    with pytest.raises(NotARegularFile, match="device"):
        read_regular("/dev/zero", 1000)
    (tmp_path / "big").write_bytes(b"x" * 2000)
    with pytest.raises(OSError, match="larger than"):
        read_regular(tmp_path / "big", 1000)


def test_a_folder_with_a_fifo_a_device_link_and_a_bomb_syncs_and_releases_the_lock(make_settings, tmp_path):
    from fake_spotify import make_jpeg

    folder = tmp_path / "art"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(make_jpeg(1))
    os.mkfifo(folder / "x.jpg")
    (folder / "zero.jpg").symlink_to("/dev/zero")
    (folder / "huge.png").write_bytes(png_header(12_000, 12_000))  # 144 MP
    record, unreadable = scan_folder(folder)
    assert list(record.covers.values()) == [str(folder / "good.jpg")]
    reasons = dict(unreadable)
    assert "FIFO" in reasons["x.jpg"] and "device" in reasons["zero.jpg"] and "too many pixels" in reasons["huge.png"]
    settings = make_settings(SPOTIPY_CLIENT_ID="")
    summary = sync(settings, SyncChoice(folders=[str(folder)]))
    assert summary.covers == 1 and len(summary.failed) == 3
    sync(settings, SyncChoice(folders=[str(folder)]))  # the lock was released: a second sync runs


def test_image_queries_on_a_fifo_or_a_bomb_are_clear_errors(synced, tmp_path):
    searcher = Searcher(synced)
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_header(30_000, 30_000))
    with pytest.raises(QueryError, match="FIFO"):
        searcher.search(f"image:{fifo}")
    with pytest.raises(QueryError, match="too many pixels"):
        searcher.search(f"image:{bomb}")


# the login listener ---------------------------------------------------------------------------------------
@pytest.fixture
def listening(make_settings, fake):
    flow = LoginFlow(make_settings(SPOTIPY_REDIRECT_URI="http://127.0.0.1:0/callback"))
    answers = []
    assert flow.listen(answers.append)
    yield flow, answers, f"http://127.0.0.1:{flow.listening_port}"
    flow.stop()


def test_the_listener_waits_for_its_own_state(listening):
    flow, answers, base = listening
    for stray in ("/callback", "/callback?code=x&state=wrong", "/callback?state=" + flow.state, "/other"):
        page = requests.get(base + stray, timeout=5)
        assert page.status_code in (400, 404)
    assert answers == []  # still listening
    page = requests.get(f"{base}/callback?code=real&state={flow.state}", timeout=5)
    assert page.status_code == 200 and "logged in" in page.text
    assert answers == [f"/callback?code=real&state={flow.state}"]


def test_an_idle_connection_does_not_block_the_redirect_and_early_hangups_print_nothing(listening, capfd):
    flow, answers, base = listening
    idle = socket.create_connection(("127.0.0.1", flow.listening_port))  # says nothing, keeps its connection
    rude = socket.create_connection(("127.0.0.1", flow.listening_port))
    rude.sendall(b"GET /callback?code=x&state=wrong HTTP/1.1\r\nHost: x\r\n\r\n")
    rude.close()  # gone before the answer: a BrokenPipe on the listener's side
    try:
        page = requests.get(f"{base}/callback?code=real&state={flow.state}", timeout=5)
        assert page.status_code == 200 and answers
    finally:
        idle.close()
    assert wait_until(lambda: flow._server is None)
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_cli_auth_is_not_ended_by_a_stray_request(fake, settings, cli_env):
    cli_env["SPOTIPY_REDIRECT_URI"] = "http://127.0.0.1:0/callback"
    process = subprocess.Popen([sys.executable, "-m", "covertui", "auth"], env=cli_env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        while "Waiting for the redirect" not in "".join(lines):
            lines.append(process.stdout.readline())
        url = next(line.strip() for line in lines if line.startswith("http"))
        port = int("".join(lines).split("Waiting for the redirect on 127.0.0.1:")[1].split()[0])
        requests.get(f"http://127.0.0.1:{port}/callback?code=x&state=wrong", timeout=5)
        requests.get(f"http://127.0.0.1:{port}/callback", timeout=5)
        location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
        page = requests.get(location.replace("127.0.0.1:0", f"127.0.0.1:{port}"), timeout=5)
        assert page.status_code == 200
        assert process.wait(30) == 0
    finally:
        process.kill()
    assert TokenStore(settings.paths.token_file).load() is not None


# damaged stores -------------------------------------------------------------------------------------------
def test_an_empty_catalog_file_is_damage_not_an_empty_catalog(synced, cli_env):
    covers = sorted(p.name for p in synced.paths.covers_dir.iterdir())
    (synced.paths.catalog_dir / "cache.db").write_bytes(b"")
    with pytest.raises(CatalogError, match="cannot be opened"):
        Catalog(synced.paths)
    code, output = covertui(cli_env, "search", "red")
    assert code == 9 and "Move that folder aside" in output and "Traceback" not in output
    assert sorted(p.name for p in synced.paths.covers_dir.iterdir()) == covers  # nothing downloaded lost


def test_catalogs_opened_at_once_for_the_first_time_are_not_called_damaged(tmp_path):
    """The app reads the catalog, refreshes Spotify's sources and loads the index at once: the first
    opener's database is empty for a moment, which the others must not take for damage."""
    import threading

    from covertui.config import Paths

    def open_one(paths: Paths, barrier: threading.Barrier, errors: list[str]) -> None:
        barrier.wait()
        try:
            with Catalog(paths) as catalog:
                catalog.sources()
        except CatalogError as exc:
            errors.append(str(exc))

    for attempt in range(10):
        paths, barrier, errors = Paths.from_home(str(tmp_path / f"home{attempt}")), threading.Barrier(6), []
        threads = [threading.Thread(target=open_one, args=(paths, barrier, errors)) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []


def test_a_value_that_will_not_unpickle_is_damage(synced, cli_env):
    with sqlite3.connect(synced.paths.catalog_dir / "cache.db") as db:
        db.execute("UPDATE Cache SET value = ? WHERE mode = 4", (b"\x80\x05garbage",))  # diskcache.MODE_PICKLE
    with pytest.raises(CatalogError, match="damaged"):
        Catalog(synced.paths)
    code, output = covertui(cli_env, "sources", "--offline")
    assert code == 9 and "damaged" in output and "Traceback" not in output


async def test_the_app_says_the_catalog_is_damaged(synced):
    from conftest import AppUnderTest, until

    (synced.paths.catalog_dir / "cache.db").write_bytes(b"")
    app = AppUnderTest(synced)
    async with app.run_test() as pilot:
        await until(pilot, lambda: any("cannot be opened" in note for note in app.notes))
    assert app.return_code in (None, 0)  # a notification, not a crash


# API data of the wrong types --------------------------------------------------------------------------------
def test_malformed_api_fields_are_skipped_and_counted(fake, settings, logged_in):
    from fake_spotify import Playlist, track_obj

    lib = fake.library
    odd = [track_obj(900 + k, k) for k in range(6)]
    odd[0]["album"]["images"] = [{"url": odd[0]["album"]["images"][1]["url"], "width": "300"}]  # width as text
    odd[1]["album"]["images"] = [{"url": 5, "width": 300}]  # not a URL: no image
    odd[2]["external_urls"] = "https://open.spotify.com/track/x"  # a string, not an object
    odd[3]["artists"] = "Someone"
    odd[4]["id"] = "../../etc"  # goes into URIs and URLs
    odd[5]["name"] = {"not": "a name"}
    lib.playlists.append(Playlist("oddities000000000abcd", "Odd", "me", [{"item": t} for t in odd] + [7, "x", None],
                                  collaborative=True,
                                  extra={"owner": "me-as-a-string", "external_urls": "nope", "snapshot_id": 9}))
    lib.total = "lots"  # every page's total
    summary = sync(settings, SyncChoice(all=True))
    assert summary.skipped == {"no_image": 1, "malformed": 1, "null": 3}
    with Catalog(settings.paths) as catalog:
        tracks = {t.id: t for t in catalog.record("oddities000000000abcd").tracks}
        assert catalog.sources()["oddities000000000abcd"].url == "https://open.spotify.com/playlist/oddities000000000abcd"
    assert tracks["track000900"].cover_id and tracks["track000902"].url == "https://open.spotify.com/track/track000902"
    assert tracks["track000903"].artists == [] and tracks["track000905"].name == ""
    assert summary.tracks == 120 + 4  # every page was read without a total (Liked Songs: two pages)


# downloads --------------------------------------------------------------------------------------------
def test_a_cover_sent_a_byte_at_a_time_ends_at_its_deadline(fake, settings):
    from fake_spotify import Fault, cover_id

    fake.add_fault(Fault("/image/" + cover_id(1), kind="trickle", hang=0.05, times=-1))  # ~15 KB: minutes
    session = make_session(retries=0)
    with pytest.raises(Exception, match="deadline"):
        download_one(session, settings.paths, cover_id(1), f"{fake.url}/image/{cover_id(1)}", 0.5, CancelToken(),
                     backoff=0.01)


def test_decoding_covers_takes_turns_beyond_the_pixel_budget():
    from covertui.covers import MAX_PIXELS

    inside, release, done = threading.Event(), threading.Event(), []

    def hold():
        with DECODING.take(MAX_PIXELS):
            inside.set()
            release.wait(10)

    holders = [threading.Thread(target=hold) for _ in range(2)]
    for thread in holders:
        thread.start()
    assert wait_until(lambda: DECODING.free == 0)  # two 25 MP covers decode at once...
    def third():
        with DECODING.take(MAX_PIXELS):
            done.append(1)

    waiting = threading.Thread(target=third)
    waiting.start()
    time.sleep(0.1)
    assert done == []  # ...a third waits for one of them
    release.set()
    assert wait_until(lambda: done == [1])
    for thread in [*holders, waiting]:
        thread.join(5)
    assert DECODING.free == 2 * MAX_PIXELS


async def test_the_login_screen_says_where_a_foreign_endpoint_sends_the_login(fake, settings):
    from covertui.ui.screens import AuthScreen

    from conftest import AppUnderTest, until

    app = AppUnderTest(settings)  # not logged in: the login screen; the fake is not Spotify's own service
    async with app.run_test() as pilot:
        def shown() -> str:
            return "\n".join(str(w.render()) for w in app.screen.query("Static"))

        # the screen is pushed before its widgets are composed: a busy machine shows them later
        await until(pilot, lambda: isinstance(app.screen, AuthScreen) and "Not Spotify's own service" in shown())
        assert f"COVERTUI_SPOTIFY_ACCOUNTS_URL={fake.url}" in shown()
        assert any("Not Spotify's own endpoint" in note for note in app.notes)
