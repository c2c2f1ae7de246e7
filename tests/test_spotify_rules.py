"""Spotify's 2026 refusals, each read for what it is: an app owner without Premium, an account not on
the app's user list, the daily quota, logins that end after six months, and writes that are never
sent twice by the HTTP layer. Through the real spotipy client against the fake."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from covertui.catalog import Catalog
from covertui.covers import covers_on_disk
from covertui.errors import AccountRefused, AuthError, QuotaExceeded
from covertui.spotify.auth import (
    TokenManager,
    TokenStore,
    login_expires_at,
    login_warning,
)
from covertui.spotify.http import make_session
from covertui.spotify.library import LIKED, SpotifyLibrary
from covertui.sync import SyncChoice, sync

from conftest import login, waits
from fake_spotify import (
    OWNER_WITHOUT_PREMIUM,
    USER_NOT_REGISTERED,
    Fault,
    Playlist,
    account_refused,
    cover_id,
    quota_exceeded,
    track_obj,
)

DAY = 86400


def covertui(cli_env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "covertui", *args], env=cli_env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("refusal, advice", [
    (account_refused(OWNER_WITHOUT_PREMIUM), "has no Premium"),
    (account_refused(USER_NOT_REGISTERED), "User Management"),
    # the same refusal with a body that is plain text, not JSON
    (Fault("/v1/", 403, times=-1, kind="body", body=USER_NOT_REGISTERED.encode()), "User Management"),
])
def test_account_refusals_say_what_to_do_and_exit_at_once(fake, settings, logged_in, cli_env, refusal, advice):
    fake.add_fault(refusal)
    for command in (["sources"], ["sync", "--all"]):
        run = covertui(cli_env, *command)
        assert run.returncode == 11, run.stderr
        assert advice in run.stderr and "developer.spotify.com/dashboard" in run.stderr
        assert "followed" not in run.stderr and "Traceback" not in run.stderr
    assert fake.requests["/v1/me/"] == 2  # one call each, never repeated


def test_doctor_checks_the_account_with_one_call(fake, settings, logged_in, cli_env):
    run = covertui(cli_env, "doctor", "--json")
    account = next(c for c in json.loads(run.stdout) if c["name"] == "account")
    assert account["status"] == "ok" and "Test User (me)" == account["value"]
    fake.add_fault(account_refused(OWNER_WITHOUT_PREMIUM))
    run = covertui(cli_env, "doctor")
    assert run.returncode == 1 and "refused by Spotify" in run.stdout and "Premium" in run.stdout
    assert fake.requests["/v1/me/"] == 2


def test_a_refusal_mid_sync_keeps_what_was_read_and_marks_no_playlist(fake, settings, logged_in):
    # Liked Songs is read first; then the app's owner loses Premium
    fake.add_fault(account_refused(OWNER_WITHOUT_PREMIUM, path="/v1/playlists/"))
    with pytest.raises(AccountRefused, match="Premium") as info:
        sync(settings, SyncChoice(all=True))
    assert info.value.partial.covers == 40  # Liked Songs' covers were downloaded all the same
    assert len(covers_on_disk(settings.paths)) == 40
    with Catalog(settings.paths) as catalog:
        assert catalog.record(LIKED) is not None
        assert all(s.readable and not s.reason for s in catalog.sources().values())


def test_only_a_playlist_that_refused_is_marked_unavailable(fake, settings, logged_in):
    fake.add_fault(Fault("/v1/playlists/playlist000000000001abcd/items", 403, times=-1, message="Forbidden"))
    summary = sync(settings, SyncChoice(all=True))
    assert [u["source"] for u in summary.unavailable] == ["playlist000000000001abcd"]
    assert summary.unavailable[0]["reason"] == "Spotify refused access (403): Forbidden"  # owned: no "followed"
    with Catalog(settings.paths) as catalog:
        sources = catalog.sources()
    assert [sid for sid, s in sources.items() if not s.readable] == ["playlist000000000001abcd"]
    fake.faults.clear()
    fake.add_fault(Fault("/v1/me/playlists", 403, times=-1, message="Forbidden"))
    with pytest.raises(AccountRefused, match="HTTP 403: Forbidden"):  # the user's own list: not one playlist
        SpotifyLibrary(settings).sources()


@pytest.mark.parametrize("retry_after, when", [(48925, "try again after"), (None, "try again tomorrow")])
def test_a_spent_daily_quota_stops_at_once_and_keeps_what_was_fetched(fake, settings, logged_in, retry_after, when):
    fake.add_fault(quota_exceeded(retry_after, path="/v1/playlists/"))
    with waits() as slept, pytest.raises(QuotaExceeded, match="daily request quota") as info:
        sync(settings, SyncChoice(all=True))
    assert slept == []  # not a second waited for the quota
    assert when in str(info.value) and "rate limit" not in str(info.value)
    assert fake.requests["/v1/playlists/playlist000000000000abcd/items"] == 1  # never retried
    assert info.value.partial.downloaded == 40  # Liked Songs, read before the quota ran out


def test_the_cli_says_quota_not_rate_limit(fake, settings, logged_in, cli_env):
    fake.add_fault(quota_exceeded())
    run = covertui(cli_env, "sync", "--all")
    assert run.returncode == 5 and "daily request quota" in run.stderr and "shared by all apps" in run.stderr
    assert fake.requests["/v1/me/"] == 1


def test_the_login_date_is_kept_through_refreshes_and_its_end_is_announced(fake, settings):
    token = login(fake, settings, lifetime=0)  # the access token needs a refresh at once
    assert abs(token["logged_in_at"] - time.time()) < 60
    ends = login_expires_at(token)
    assert 181 * DAY <= ends - token["logged_in_at"] <= 184 * DAY  # six calendar months
    TokenManager(settings).get_access_token()
    refreshed = TokenStore(settings.paths.token_file).load()
    assert refreshed["access_token"] != token["access_token"] and refreshed["logged_in_at"] == token["logged_in_at"]
    assert login_warning(refreshed) is None
    assert "in 10 days" in login_warning(refreshed, now=ends - 10 * DAY)
    assert "ended on" in login_warning(refreshed, now=ends + 1) and "covertui auth" in login_warning(refreshed, now=ends + 1)
    assert login_expires_at({"access_token": "x"}) is None  # saved before covertui kept the date


def test_an_ended_login_says_so_and_sync_warns_before(fake, settings, cli_env):
    token = login(fake, settings, lifetime=0)
    TokenStore(settings.paths.token_file).save({**token, "logged_in_at": time.time() - 200 * DAY})
    fake.revoke_all()  # Spotify no longer accepts the refresh token
    with pytest.raises(AuthError, match="login ended on .* `covertui auth`"):
        TokenManager(settings).get_access_token()
    login(fake, settings)
    saved = TokenStore(settings.paths.token_file).load()
    TokenStore(settings.paths.token_file).save({**saved, "logged_in_at": time.time() - 175 * DAY})
    run = covertui(cli_env, "sync", "--liked", "--no-embed")
    assert run.returncode == 0 and "login ends on" in run.stderr and "covertui auth" in run.stderr
    doctor = json.loads(covertui(cli_env, "doctor", "--json").stdout)
    assert next(c for c in doctor if c["name"] == "login ends")["status"] == "warn"


def test_writes_are_not_repeated_by_the_http_layer(fake):
    session = make_session()
    fake.add_fault(Fault("/api/token", 502, times=1))
    answer = session.post(f"{fake.url}/api/token", data={"grant_type": "nothing"}, timeout=5)
    assert answer.status_code == 502 and fake.requests["/api/token"] == 1  # the write's answer, not a retry
    fake.add_fault(Fault("/v1/me", 502, times=1))
    session.get(f"{fake.url}/v1/me", timeout=5)
    assert fake.requests["/v1/me"] == 2  # reads are retried
    with pytest.raises(requests.ConnectionError):  # nothing listens: not sent, so retried, then reported
        make_session(retries=1, backoff=0).post("http://127.0.0.1:9/api/token", timeout=2)


def test_a_refresh_whose_answer_was_lost_is_asked_again(fake, settings):
    login(fake, settings, lifetime=0)
    fake.add_fault(Fault("/api/token", 502, times=1))
    assert TokenManager(settings).get_access_token()  # refresh tokens are not rotated: asking again is safe
    assert fake.requests["/api/token"] == 2


def test_an_episode_of_a_show_without_publisher(fake, settings, logged_in):
    episode = {"type": "episode", "id": "episode2", "name": "Ep 2", "external_urls": {},
               "images": [{"url": f"IMG/{cover_id(5)}", "width": 300, "height": 300}],
               "show": {"id": "show2", "name": "A Show", "images": []}}
    fake.library.playlists = [Playlist("podcasts000000000abcd", "Pods", "me", [{"item": episode},
                                                                              {"item": track_obj(1, 1)}])]
    sync(settings, SyncChoice(playlists=["podcasts000000000abcd"]))
    with Catalog(settings.paths) as catalog:
        tracks = {t.id: t for c in catalog.covers().values() for t in c.tracks}
    ep = tracks["episode2"]
    assert ep.kind == "episode" and ep.artists == ["A Show"] and ep.album == "A Show"
    assert ep.cover_id == cover_id(5) and ep.album_url == "https://open.spotify.com/show/show2"
