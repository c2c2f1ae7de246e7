"""Acting on results: saving covers as a private playlist and playing or queueing a track, through the
real spotipy client against the fake, with Spotify's 2026 rules and refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from covertui.actions import play, save_as_playlist, tracks_to_save
from covertui.catalog import Catalog
from covertui.errors import CovertuiError, PlaybackRefused, ScopeMissing
from covertui.search import Searcher
from covertui.spotify.player import SeveralDevices, item_uri
from covertui.sync import SyncChoice, sync

from conftest import login
from fake_spotify import READ_SCOPE, device

ID = "4uLU6hMCjMI75M1A2tKUQC"


def covertui(cli_env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "covertui", *args], env=cli_env, capture_output=True, text=True,
                          timeout=120)


def saved_uris(fake, playlist_id: str) -> list[str]:
    playlist = next(p for p in fake.library.playlists if p.id == playlist_id)
    return [f"spotify:{e['item']['type']}:{e['item']['id']}" for e in playlist.entries]


def test_search_save_makes_a_private_playlist_in_rank_order(fake, synced, cli_env):
    run = covertui(cli_env, "search", "a blue cover", "--top", "5", "--save", "Blue ones", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    playlist = out["playlist"]
    made = next(p for p in fake.library.playlists if p.id == playlist["id"])
    assert made.name == "Blue ones" and made.public is False and made.owner == "me"
    expected = [t["id"] for hit in out["results"] for t in hit["tracks"]]  # cover by cover, in rank order
    assert [u.rsplit(":", 1)[1] for u in saved_uris(fake, made.id)] == list(dict.fromkeys(expected))
    assert playlist["tracks"] == len(made.entries) == 15 and playlist["url"].endswith(made.id)
    assert "Saved 15 tracks" in run.stderr
    assert not [path for path in fake.requests if path.startswith("/v1/users/")]  # refused to dev-mode apps
    listed = json.loads(covertui(cli_env, "sources", "--offline", "--json").stdout)
    assert any(s["id"] == made.id and s["tracks"] == 15 for s in listed)  # a source at once
    summary = sync(synced, SyncChoice(playlists=[made.id]))
    assert summary.unchanged == [made.id] and fake.requests[f"/v1/playlists/{made.id}/items"] == 1  # the add alone


def test_only_tracks_of_the_checked_sources_each_once(fake, synced):
    covers = [h.cover for h in Searcher(synced).search("red", top=40).hits]
    everything, _ = tracks_to_save(synced, covers, None)
    liked, _ = tracks_to_save(synced, covers, ["liked"])
    assert len(everything) == 120 and len({t.uri for t in everything}) == 120
    assert len(liked) == 60 and {t.id for t in liked} == {f"track{n:06d}" for n in range(60)}
    assert [t.cover_id for t in everything][:3] == [covers[0]] * 3  # a cover's tracks together, in rank order


def test_more_than_100_tracks_go_in_chunks_and_lost_answers_are_checked(fake, synced):
    covers = [h.cover for h in Searcher(synced).search("red", top=40).hits]
    tracks, _ = tracks_to_save(synced, covers, None)
    fake.lost_answers["/v1/me/playlists"] = 1  # the playlist is made, its answer lost
    fake.lost_answers["/v1/playlists/"] = 2  # both chunks are added, their answers lost
    saved = save_as_playlist(synced, "Everything red", tracks)
    mine = [p for p in fake.library.playlists if p.name == "Everything red"]
    assert len(mine) == 1 and mine[0].id == saved.id  # made once
    assert saved_uris(fake, saved.id) == [t.uri for t in tracks]  # each once, none missing, in order
    assert saved.tracks == 120 and fake.lost_answers["/v1/playlists/"] == 0  # both lost answers were met


def test_a_login_without_the_new_scopes_asks_for_a_new_login_and_reading_goes_on(fake, synced):
    login(fake, synced)  # as before, then narrowed to the old scopes
    fake_token = fake.issue_token(scope=READ_SCOPE)
    from covertui.spotify.auth import TokenStore, _stamp

    TokenStore(synced.paths.token_file).save(_stamp(synced, fake_token))
    with pytest.raises(ScopeMissing, match="Log in again to allow playing and saving"):
        save_as_playlist(synced, "x", tracks_to_save(synced, [h.cover for h in Searcher(synced).search("x").hits],
                                                     None)[0])
    assert sync(synced, SyncChoice(all=True)).covers == 40  # reading still works
    TokenStore(synced.paths.token_file).save({**_stamp(synced, fake_token), "scope": "claims everything " +
                                              "playlist-modify-private user-modify-playback-state "
                                              "user-read-playback-state"})
    with pytest.raises(ScopeMissing):  # Spotify's own 403 "Insufficient client scope" says the same
        play(synced, f"spotify:track:{ID}")


def test_play_and_queue_choose_the_device_like_spotify_would(fake, settings, logged_in, cli_env):
    run = covertui(cli_env, "play", ID)
    assert run.returncode == 12 and "open Spotify on any device" in run.stderr
    fake.library.devices = [device("Kitchen", "Speaker", volume=30)]
    run = covertui(cli_env, "play", f"https://open.spotify.com/track/{ID}?si=abc")
    assert run.returncode == 0 and "Playing spotify:track:" in run.stdout and "Kitchen" in run.stdout
    assert fake.library.played == [(device("Kitchen")["id"], [f"spotify:track:{ID}"])]
    fake.library.devices = [device("Kitchen", "Speaker"), device("Laptop"), device("Phone", "Smartphone")]
    run = covertui(cli_env, "queue", f"spotify:episode:{ID}")
    assert run.returncode == 12 and all(n in run.stderr for n in ("Kitchen", "Laptop", "Phone", "--device"))
    run = covertui(cli_env, "queue", f"spotify:episode:{ID}", "--device", "laptop")
    assert run.returncode == 0 and fake.library.queued == [(device("Laptop")["id"], f"spotify:episode:{ID}")]
    listed = json.loads(covertui(cli_env, "devices", "--json").stdout)
    assert [(d["name"], d["active"]) for d in listed] == [("Kitchen", False), ("Laptop", True), ("Phone", False)]


def test_playback_refusals_and_a_lost_queue_answer(fake, settings, logged_in):
    fake.library.devices = [device("Laptop", active=True)]
    fake.lost_answers["/v1/me/player/queue"] = 1
    assert play(settings, f"spotify:track:{ID}", queue=True).name == "Laptop"
    assert len(fake.library.queued) == 1  # the queue was read, not added to twice
    fake.library.devices = [device("Laptop"), device("Phone")]
    with pytest.raises(SeveralDevices) as several:
        play(settings, f"spotify:track:{ID}")
    assert [d.name for d in several.value.devices] == ["Laptop", "Phone"]
    fake.library.premium = False
    with pytest.raises(PlaybackRefused, match="needs Spotify Premium"):
        play(settings, f"spotify:track:{ID}", device="Phone")


def test_track_references():
    assert item_uri(ID) == f"spotify:track:{ID}"
    assert item_uri(f"spotify:episode:{ID}") == f"spotify:episode:{ID}"
    assert item_uri(f"https://open.spotify.com/intl-de/track/{ID}?si=x") == f"spotify:track:{ID}"
    assert item_uri(f"https://open.spotify.com/episode/{ID}") == f"spotify:episode:{ID}"
    for bad in ("", "hello", f"https://open.spotify.com/album/{ID}", f"spotify:playlist:{ID}"):
        with pytest.raises(CovertuiError, match="Not a Spotify track"):
            item_uri(bad)


def test_nothing_to_save_says_so(fake, synced, tmp_path):
    with Catalog(synced.paths) as catalog:
        assert catalog.sources()
    with pytest.raises(CovertuiError, match="Nothing to save"):
        save_as_playlist(synced, "Empty", [])
    with pytest.raises(CovertuiError, match="needs a name"):
        save_as_playlist(synced, "  ", tracks_to_save(synced, ["nope"], None)[0])


def test_folder_images_and_covers_of_unchecked_sources_are_left_out_and_counted(fake, synced, tmp_path):
    from PIL import Image

    folder = tmp_path / "art"
    folder.mkdir()
    Image.new("RGB", (300, 300), (200, 30, 30)).save(folder / "red.png")
    sync(synced, SyncChoice(folders=[str(folder)]))
    with Catalog(synced.paths) as catalog:
        image = next(cid for cid, c in catalog.covers().items() if not c.tracks)
    spotify = next(h.cover for h in Searcher(synced).search("red", top=40).hits if h.cover != image)
    tracks, skipped = tracks_to_save(synced, [image, spotify], None)
    assert skipped == {"folder images": 1} and tracks and all(t.cover_id == spotify for t in tracks)
    _, skipped = tracks_to_save(synced, [spotify], ["no-such-source"])
    assert skipped == {"covers outside the checked sources": 1}
