"""Settings precedence, COVERTUI_HOME, bad .env files."""

from __future__ import annotations

import pytest

from covertui.cli import main
from covertui.config import DEFAULT_API_URL, load_settings
from covertui.errors import ConfigError


def test_environment_beats_cwd_env_beats_config_env(tmp_path):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / ".env").write_text("SPOTIPY_CLIENT_ID=from-config\nCOVERTUI_CONCURRENCY=3\nCOVERTUI_MODEL=m-config\n")
    (tmp_path / ".env").write_text(f"COVERTUI_HOME={home}\nSPOTIPY_CLIENT_ID=from-cwd\nCOVERTUI_MODEL=m-cwd\n")
    s = load_settings(environ={"COVERTUI_MODEL": "m-env"}, cwd=tmp_path)
    assert (s.client_id, s.concurrency, s.model) == ("from-cwd", 3, "m-env")
    assert s.paths.token_file == home / "config" / "token.json"
    assert s.paths.covers_dir == home / "data" / "covers"
    assert s.api_url == DEFAULT_API_URL and s.redirect_uri == "http://127.0.0.1:8888/callback"


def test_platformdirs_without_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    s = load_settings(environ={}, cwd=tmp_path)
    assert s.paths.config_dir == tmp_path / "xdg" / "covertui"


@pytest.mark.parametrize("text,match", [
    ("SPOTIPY_CLIENT_ID abc\n", r"line 1: expected KEY=value"),
    ("# fine\nCOVERTUI_CONCURRENCY=lots\n", "not a number"),
    ("COVERTUI_GRAPHICS=hologram\n", "choose one of"),
])
def test_malformed_env_is_a_clear_error(tmp_path, text, match):
    (tmp_path / ".env").write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_settings(environ={"COVERTUI_HOME": str(tmp_path / "h")}, cwd=tmp_path)


def test_cli_reports_malformed_env_in_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / ".env").write_text("this is not an env file\n")
    monkeypatch.chdir(tmp_path)
    assert main(["sources"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".env, line 1" in err
