"""Sources, items and covers from the fake Spotify, through the real spotipy client."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from covertui.catalog import Catalog
from covertui.covers import covers_on_disk
from covertui.errors import RateLimited, SyncBusy
from covertui.progress import CancelToken
from covertui.spotify.library import LIKED, SpotifyLibrary, choose_image, cover_id_for
from covertui.sync import SyncChoice, sync, sync_lock

from conftest import wait_until, waits
from fake_spotify import Fault, Playlist, cover_id, standard_library, track_obj


def test_sources_list_liked_and_playlists_with_counts(fake, settings, logged_in):
    sources = SpotifyLibrary(settings).sources()
    assert [s.id for s in sources][0] == LIKED and sources[0].tracks == 60
    playlists = [s for s in sources if s.kind == "playlist"]
    assert [p.name for p in playlists] == ["Playlist 0", "Playlist 1", "Playlist 2"]
    assert all(p.readable and p.tracks == 40 for p in playlists)


def test_sources_page_past_50_playlists(fake, settings, logged_in):
    fake.library.playlists += [Playlist(f"extra{i:011d}abcdef", f"Extra {i}", "me", []) for i in range(70)]
    assert len([s for s in SpotifyLibrary(settings).sources() if s.kind == "playlist"]) == 73


def test_followed_playlist_is_unavailable_and_all_skips_it(fake, settings, logged_in):
    fake.library.playlists.append(Playlist("followed0000000000abcd", "Someone's mix", "someone",
                                           [{"item": track_obj(900, 900)}]))
    listed = {s.id: s for s in SpotifyLibrary(settings).sources()}
    assert not listed["followed0000000000abcd"].readable
    assert "own or collaborate" in listed["followed0000000000abcd"].reason
    summary = sync(settings, SyncChoice(all=True))
    assert [u["source"] for u in summary.unavailable] == ["followed0000000000abcd"]
    assert "403" in summary.unavailable[0]["reason"]
    assert summary.covers == 40 and summary.downloaded == 40 and not summary.failed


def test_items_page_past_50_with_both_entry_shapes_and_dedupe(fake, settings, logged_in):
    summary = sync(settings, SyncChoice(all=True))
    # 120 playlist tracks + 60 liked (a subset of the same tracks) over 40 covers
    assert summary.tracks == 120 and summary.covers == 40 and summary.downloaded == 40
    assert fake.requests["/v1/playlists/playlist000000000001abcd/items"] == 1  # "track" shape, 40 items
    assert sum(fake.image_hits.values()) == 40  # one download per distinct cover
    assert set(covers_on_disk(settings.paths)) == {cover_id(n) for n in range(40)}
    with Catalog(settings.paths) as catalog:
        covers = catalog.covers()
        # tracks 0, 40 and 80 share cover 0, one in each playlist; track 0 is liked too
        assert [t.id for t in covers[cover_id(0)].tracks] == ["track000000", "track000040", "track000080"]
        assert covers[cover_id(0)].sources == {LIKED} | {f"playlist00000000000{i}abcd" for i in range(3)}


def test_big_playlist_pages(fake, settings, logged_in):
    fake.library = standard_library(tracks=130, covers=130, playlists=1, liked=0)
    summary = sync(settings, SyncChoice(playlists=["https://open.spotify.com/playlist/playlist000000000000abcd?si=x"]))
    assert summary.tracks == 130
    assert fake.requests["/v1/playlists/playlist000000000000abcd/items"] == 3


def test_odd_items_are_skipped_and_counted(fake, settings, logged_in):
    no_image = track_obj(1, 1)
    no_image["album"]["images"] = []
    episode = {"type": "episode", "id": "episode1", "name": "Ep", "images": [
        {"url": f"IMG/{cover_id(5)}", "width": 300, "height": 300}],
        "show": {"id": "show1", "name": "Show", "publisher": "Pub"}}
    weird_name = track_obj(2, 2, title="../../etc/passwd \x1b[31m 🎵 \u202e")
    fake.library.playlists = [Playlist("odd00000000000000000abcd", "Odd", "me", [
        None, {"item": None}, {"is_local": True, "item": {"id": None, "name": "local.mp3", "is_local": True}},
        {"item": no_image}, {"item": episode}, {"item": weird_name}])]
    summary = sync(settings, SyncChoice(playlists=["odd00000000000000000abcd"]))
    assert summary.skipped == {"null": 2, "local": 1, "no_image": 1}
    assert summary.tracks == 2 and summary.downloaded == 2
    names = {p.name for p in settings.paths.covers_dir.iterdir()}
    assert names == {f"{cover_id(5)}.jpg", f"{cover_id(2)}.jpg"}
    with Catalog(settings.paths) as catalog:
        ep = catalog.covers()[cover_id(5)].tracks[0]
    assert ep.kind == "episode" and ep.url == "https://open.spotify.com/episode/episode1"


def test_unchanged_snapshot_is_not_fetched_again(fake, settings, logged_in):
    sync(settings, SyncChoice(all=True))
    before = dict(fake.requests)
    fake.library.playlists[1].snapshot_id = "snap-2"
    summary = sync(settings, SyncChoice())  # reuses the saved selection
    fetched = {p: fake.requests[p] - before.get(p, 0) for p in fake.requests}
    assert fetched["/v1/playlists/playlist000000000001abcd/items"] == 1
    assert fetched.get("/v1/playlists/playlist000000000000abcd/items", 0) == 0
    assert sorted(summary.unchanged) == sorted([LIKED, "playlist000000000000abcd", "playlist000000000002abcd"])
    assert summary.downloaded == 0 and summary.covers == 40


def test_short_429_is_waited_out_visibly(fake, make_settings, logged_in):
    settings = make_settings(COVERTUI_MAX_RETRY_WAIT="5")
    fake.add_fault(Fault("/v1/playlists/playlist000000000001abcd/items", 429, retry_after=1, times=2))
    seen = []
    with waits() as slept:
        summary = sync(settings, SyncChoice(all=True), progress=seen.append)
    assert slept == [1.0, 1.0]  # each Retry-After waited out
    assert summary.tracks == 120
    assert [p.message for p in seen if p.stage == "wait"] == ["Rate limited by Spotify; waiting 1 s"] * 2


def test_long_429_stops_with_when_to_retry_and_keeps_what_was_read(fake, settings, logged_in):
    fake.add_fault(Fault("/v1/playlists/playlist000000000001abcd/items", 429, retry_after=7200, times=-1))
    with waits() as slept, pytest.raises(RateLimited, match="try again after") as info:
        sync(settings, SyncChoice(all=True))
    assert slept == []  # two hours are not waited for
    partial = info.value.partial
    assert partial.downloaded > 0  # covers of the sources read before the limit
    with Catalog(settings.paths) as catalog:
        assert catalog.record(LIKED) and catalog.record("playlist000000000000abcd")
        assert catalog.record("playlist000000000001abcd") is None
    fake.faults.clear()
    summary = sync(settings, SyncChoice())
    assert summary.covers == 40 and summary.downloaded == 40 - partial.downloaded


def test_5xx_bursts_are_retried(fake, settings, logged_in):
    fake.add_fault(Fault("/v1/me/playlists", 503, times=2))
    fake.add_fault(Fault("/v1/me/tracks", 500, times=1))
    fake.add_fault(Fault(f"/image/{cover_id(3)}", 502, times=2))
    summary = sync(settings, SyncChoice(all=True))
    assert summary.covers == 40 and not summary.failed


def test_bad_covers_are_never_stored_and_are_retried_next_sync(fake, settings, logged_in):
    kinds = ["truncate", "html", "empty", "huge", "reset"]
    for n, kind in enumerate(kinds):
        fake.add_fault(Fault(f"/image/{cover_id(n)}", kind=kind, times=-1))
    fake.add_fault(Fault(f"/image/{cover_id(9)}", 404, times=-1))
    summary = sync(settings, SyncChoice(all=True))
    failed = {f["cover"]: f["reason"] for f in summary.failed}
    assert set(failed) == {cover_id(n) for n in range(5)} | {cover_id(9)}
    assert "not an image" in failed[cover_id(1)] and "too large" in failed[cover_id(3)]
    assert "HTTP 404" in failed[cover_id(9)]
    on_disk = covers_on_disk(settings.paths)
    assert not set(failed) & set(on_disk) and len(on_disk) == 34
    assert not [p for p in settings.paths.covers_dir.iterdir() if p.name.startswith(".")]
    fake.faults.clear()
    again = sync(settings, SyncChoice())
    assert again.downloaded == 6 and not again.failed


def test_hanging_image_host_times_out(fake, make_settings, logged_in):
    settings = make_settings(COVERTUI_TIMEOUT="0.5")
    fake.add_fault(Fault(f"/image/{cover_id(7)}", kind="hang", hang=3, times=-1))
    summary = sync(settings, SyncChoice(liked=True))
    assert [f["reason"] for f in summary.failed] == ["timed out"]


def test_cancel_between_files_keeps_what_is_stored(fake, settings, logged_in):
    fake.image_delay = 0.05
    cancel = CancelToken()

    def progress(p):
        if p.stage == "download" and p.done >= 5:
            cancel.cancel()

    with pytest.raises(Exception, match="Cancelled"):
        sync(settings, SyncChoice(all=True), progress=progress, cancel=cancel)
    kept = len(covers_on_disk(settings.paths))
    assert 5 <= kept < 40
    fake.image_delay = 0
    assert sync(settings, SyncChoice()).downloaded == 40 - kept


def test_second_sync_at_once_is_refused(settings):
    with sync_lock(settings.paths):
        with pytest.raises(SyncBusy, match="pid"):
            with sync_lock(settings.paths):
                pass


def test_cover_choice_and_ids():
    images = [{"url": "https://i.scdn.co/image/a640", "width": 640}, {"url": "https://i/x/b300", "width": 300},
              {"url": "https://i/x/c64", "width": 64}]
    assert choose_image(images) == "https://i/x/b300"
    assert choose_image(images[2:]) == "https://i/x/c64"
    assert choose_image([{"url": "https://a/first", "width": None}]) == "https://a/first"
    assert cover_id_for("https://i.scdn.co/image/ab67616d00001e02deadbeef00") == "ab67616d00001e02deadbeef00"
    weird = cover_id_for("https://x/../../evil name")
    assert weird.isalnum() and len(weird) == 40


def test_cli_sync_json_summary_and_exit_status(fake, settings, logged_in, cli_env):
    fake.add_fault(Fault(f"/image/{cover_id(4)}", kind="html", times=-1))
    run = subprocess.run([sys.executable, "-m", "covertui", "sync", "--all", "--json"], env=cli_env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["tracks"] == 120 and summary["covers"] == 40 and summary["downloaded"] == 39
    assert summary["failed"] == [{"cover": cover_id(4), "reason": "not an image (got a web page or JSON)"}]
    assert summary["skipped"] == {}
    assert "Downloading covers" in run.stderr  # plain progress lines when not a terminal
    listed = subprocess.run([sys.executable, "-m", "covertui", "sources", "--json"], env=cli_env,
                            capture_output=True, text=True, timeout=60)
    assert [s["id"] for s in json.loads(listed.stdout)][:2] == [LIKED, "playlist000000000000abcd"]


def test_cli_long_rate_limit_is_one_line_and_nonzero(fake, settings, logged_in, cli_env):
    fake.add_fault(Fault("/v1/me/playlists", 429, retry_after=3600, times=-1))
    run = subprocess.run([sys.executable, "-m", "covertui", "sync", "--all"], env=cli_env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "rate limit" in run.stderr and "Traceback" not in run.stderr


def test_sync_killed_midway_resumes_without_downloading_twice(fake, settings, logged_in, cli_env):
    fake.image_delay = 0.05
    cli_env["COVERTUI_CONCURRENCY"] = "2"
    proc = subprocess.Popen([sys.executable, "-m", "covertui", "sync", "--all"], env=cli_env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert wait_until(lambda: sum(fake.image_hits.values()) >= 8, 30)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = covers_on_disk(settings.paths)
    assert 0 < len(kept) < 40
    hits_before = dict(fake.image_hits)
    fake.image_delay = 0
    summary = sync(settings, SyncChoice())
    assert summary.covers == 40 and len(covers_on_disk(settings.paths)) == 40
    for cid in kept:  # nothing already stored was downloaded again
        assert fake.image_hits[cid] == hits_before[cid]
    assert not [p for p in settings.paths.covers_dir.iterdir() if p.name.startswith(".")]
