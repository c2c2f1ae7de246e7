"""Login over SSH: paste or loopback redirect, PKCE and secret flows, refresh, revocation, token file."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from covertui.cli import main
from covertui.errors import AuthError, MissingCredentials
from covertui.spotify.auth import LoginFlow, TokenManager, TokenStore
from covertui.spotify.library import SpotifyLibrary

from conftest import login, wait_until


def browser(flow: LoginFlow) -> str:
    """What a browser does: open the authorize URL, return where Spotify redirects it."""
    response = requests.get(flow.authorize_url, allow_redirects=False, timeout=5)
    assert response.status_code == 302
    return response.headers["Location"]


def test_pkce_login_by_paste_saves_a_working_token(fake, settings):
    flow = LoginFlow(settings)
    query = parse_qs(urlparse(flow.authorize_url).query)
    assert query["code_challenge_method"] == ["S256"] and query["state"] == [flow.state]
    assert "client_secret" not in flow.authorize_url
    token = flow.finish(browser(flow))
    assert token["refresh_token"] and TokenStore(settings.paths.token_file).load() == token
    assert SpotifyLibrary(settings).me()["id"] == "me"


def test_secret_flow_uses_basic_auth_and_no_challenge(make_settings, fake):
    fake.client_secret = "s3cret"
    settings = make_settings(SPOTIPY_CLIENT_SECRET="s3cret")
    flow = LoginFlow(settings)
    assert "code_challenge" not in flow.authorize_url
    flow.finish(browser(flow))
    assert SpotifyLibrary(settings).me()["id"] == "me"


def test_bare_code_is_accepted(fake, settings):
    flow = LoginFlow(settings)
    code = parse_qs(urlparse(browser(flow)).query)["code"][0]
    flow.finish(code)
    assert TokenStore(settings.paths.token_file).load()


def test_state_mismatch_is_refused(fake, settings):
    flow = LoginFlow(settings)
    redirected = browser(flow).replace(f"state={flow.state}", "state=forged")
    with pytest.raises(AuthError, match="state mismatch"):
        flow.finish(redirected)
    assert TokenStore(settings.paths.token_file).load() is None


def test_denied_authorization_is_reported(fake, settings):
    flow = LoginFlow(settings)
    with pytest.raises(AuthError, match="access_denied"):
        flow.finish(f"http://127.0.0.1:8888/callback?error=access_denied&state={flow.state}")


def test_loopback_redirect_completes_login_without_paste(make_settings, fake):
    settings = make_settings(SPOTIPY_REDIRECT_URI="http://127.0.0.1:0/callback")
    flow = LoginFlow(settings)
    result = {}

    def run():
        result["token"] = flow.run_interactive(threading.Event().wait, lambda line: None, timeout=10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert wait_until(lambda: flow.listening_port)
    # The listener bound the redirect port on 127.0.0.1; the browser lands there.
    location = browser(flow).replace("127.0.0.1:0", f"127.0.0.1:{flow.listening_port}")
    page = requests.get(location, timeout=5)
    assert page.status_code == 200 and "logged in" in page.text
    thread.join(10)
    assert result["token"]["access_token"]
    with pytest.raises(requests.ConnectionError):  # answered once, then stopped
        requests.get(location, timeout=2)


def test_listener_binds_loopback_only(make_settings, fake):
    flow = LoginFlow(make_settings(SPOTIPY_REDIRECT_URI="http://127.0.0.1:0/callback"))
    assert flow.listen(lambda answer: None)
    try:
        assert flow._server.server_address[0] == "127.0.0.1"
    finally:
        flow.stop()


def test_cli_auth_reads_the_pasted_url_from_a_pipe(fake, settings, cli_env):
    with socket.socket() as busy:  # the redirect port is taken: paste is the only way
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        env = {**cli_env, "SPOTIPY_REDIRECT_URI": f"http://127.0.0.1:{busy.getsockname()[1]}/callback"}
        proc = subprocess.Popen([sys.executable, "-m", "covertui", "auth"], env=env, text=True,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        url = ""
        while not url.startswith("http"):
            url = proc.stdout.readline().strip()
        location = requests.get(url, allow_redirects=False, timeout=5).headers["Location"]
        out, err = proc.communicate(location + "\n", timeout=30)
    assert proc.returncode == 0, err
    assert "Logged in" in out and "paste" in out
    token = TokenStore(settings.paths.token_file).load()
    assert token and token["access_token"] not in out + err and token["refresh_token"] not in out + err


def test_token_file_is_0600_and_holds_no_world_readable_moment(fake, settings, monkeypatch):
    modes = []
    real_open = os.open

    def spying_open(path, flags, mode=0o777, *a, **k):
        fd = real_open(path, flags, mode, *a, **k)
        if str(path).endswith(".tmp"):
            modes.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return fd

    monkeypatch.setattr(os, "open", spying_open)
    login(fake, settings)
    assert modes and all(m == 0o600 for m in modes)
    assert stat.S_IMODE(settings.paths.token_file.stat().st_mode) == 0o600
    assert not [p for p in settings.paths.config_dir.iterdir() if p.name.endswith(".tmp")]


def test_expired_token_is_refreshed_and_saved(fake, settings):
    old = login(fake, settings, lifetime=0)
    assert SpotifyLibrary(settings).me()["id"] == "me"
    new = TokenStore(settings.paths.token_file).load()
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] == old["refresh_token"]  # kept when Spotify omits it


def test_revoked_refresh_token_says_run_auth(fake, settings):
    login(fake, settings, lifetime=0)
    fake.revoke_all()
    with pytest.raises(AuthError, match="covertui auth"):
        SpotifyLibrary(settings).me()


def test_rejected_access_token_says_run_auth(fake, settings, logged_in):
    fake.access.clear()
    with pytest.raises(AuthError, match="covertui auth"):
        SpotifyLibrary(settings).me()


def test_no_token_never_prompts(fake, settings, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda *a: pytest.fail("prompted"))
    monkeypatch.setattr("webbrowser.open", lambda *a, **k: pytest.fail("opened a browser"))
    with pytest.raises(AuthError, match="Not logged in"):
        SpotifyLibrary(settings).me()


def test_missing_client_id_gives_the_setup_guide(make_settings):
    settings = make_settings(SPOTIPY_CLIENT_ID="")
    with pytest.raises(MissingCredentials) as info:
        TokenManager(settings)
    text = str(info.value)
    assert "developer.spotify.com" in text and settings.redirect_uri in text
    assert str(settings.paths.env_file) in text and "Premium" in text and "5" in text


def test_cli_without_credentials_exits_nonzero_with_guide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COVERTUI_HOME", str(tmp_path / "h"))
    monkeypatch.delenv("SPOTIPY_CLIENT_ID", raising=False)
    assert main(["sources"]) != 0
    err = capsys.readouterr().err
    assert "SPOTIPY_CLIENT_ID" in err and "Traceback" not in err
