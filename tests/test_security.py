"""Secrets never reach output, logs, doctor or JSON; the token file is private."""

from __future__ import annotations

import logging
import subprocess
import sys

from covertui.embed.pipeline import embedder
from covertui.spotify.auth import LoginFlow, TokenStore
from covertui.sync import SyncChoice, sync


def run(cli_env, *args):
    done = subprocess.run([sys.executable, "-m", "covertui", *args], env=cli_env, capture_output=True, text=True,
                          timeout=120)
    return done.stdout + done.stderr


def test_no_secret_in_any_output(fake, make_settings, cli_env):
    import requests

    fake.client_secret = "very-secret-value"
    settings = make_settings(SPOTIPY_CLIENT_SECRET="very-secret-value")
    flow = LoginFlow(settings)
    location = requests.get(flow.authorize_url, allow_redirects=False, timeout=5).headers["Location"]
    code = location.split("code=")[1].split("&")[0]
    flow.finish(location)
    token = TokenStore(settings.paths.token_file).load()
    cli_env["SPOTIPY_CLIENT_SECRET"] = "very-secret-value"
    outputs = [run(cli_env, *args) for args in (
        ["sources"], ["sources", "--json"], ["sync", "--all", "--json"], ["search", "cat", "--json"],
        ["doctor"], ["doctor", "--json"])]
    fake.revoke_all()
    TokenStore(settings.paths.token_file).save({**token, "expires_at": 0})
    outputs.append(run(cli_env, "sync", "--all"))  # the failed refresh is reported without the token
    assert "covertui auth" in outputs[-1]
    everything = "\n".join(outputs)
    for secret in ("very-secret-value", token["access_token"], token["refresh_token"], code):
        assert secret not in everything


def test_logs_hold_no_token_even_at_debug(fake, settings, logged_in, caplog):
    caplog.set_level(logging.DEBUG)
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    assert caplog.records is not None
    assert logged_in["access_token"] not in caplog.text and "Bearer" not in caplog.text
