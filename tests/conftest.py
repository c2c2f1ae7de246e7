from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # no model hub here: tests use checkpoints they build

from covertui.config import load_settings  # noqa: E402
from covertui.embed.pipeline import embedder  # noqa: E402
from covertui.spotify.auth import TokenStore, _stamp  # noqa: E402
from covertui.sync import SyncChoice, sync  # noqa: E402
from covertui.ui.app import CovertuiApp  # noqa: E402
from covertui.ui.graphics import choose_graphics  # noqa: E402

from fake_spotify import FakeSpotify, standard_library  # noqa: E402


@pytest.fixture
def fake():
    server = FakeSpotify(standard_library()).start()
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path) -> Path:
    return tmp_path / "home"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from tiny_clip import make_clip

    return make_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def other_model(tmp_path_factory) -> Path:
    from tiny_clip import make_clip

    return make_clip(tmp_path_factory.mktemp("models") / "other-clip", seed=1)


@pytest.fixture(scope="session")
def tiny_siglip(tmp_path_factory) -> Path:
    from tiny_siglip import make_siglip

    return make_siglip(tmp_path_factory.mktemp("models") / "tiny-siglip")


@pytest.fixture
def make_settings(fake, home, tmp_path, tiny_model):
    def make(**extra):
        env = {**fake.env(), "COVERTUI_HOME": str(home), "COVERTUI_TIMEOUT": "2", "COVERTUI_MODEL": str(tiny_model),
               "COVERTUI_DEVICE": "cpu", "COVERTUI_DTYPE": "float32", **extra}
        return load_settings(environ=env, cwd=tmp_path)

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def cli_env(fake, home, tmp_path, tiny_model):
    """The environment of a `covertui` process run against the fake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPOTIPY_", "COVERTUI_"))}
    return {**env, **fake.env(), "COVERTUI_HOME": str(home), "COVERTUI_TIMEOUT": "2", "PYTHONUNBUFFERED": "1",
            "COVERTUI_MODEL": str(tiny_model), "COVERTUI_DEVICE": "cpu", "COVERTUI_DTYPE": "float32"}


def login(fake, settings, lifetime: int | None = None) -> dict:
    """Save a token from the fake as `covertui auth` would (for tests not about login)."""
    token = _stamp(settings, fake.issue_token(lifetime))
    TokenStore(settings.paths.token_file).save(token)
    return token


@pytest.fixture
def logged_in(fake, settings):
    return login(fake, settings)


@pytest.fixture
def synced(fake, settings, logged_in):
    """Settings of a library synced and embedded from the fake's standard library (40 covers)."""
    sync(settings, SyncChoice(all=True), embed=embedder(settings))
    return settings


class AppUnderTest(CovertuiApp):
    """The app with the unicode renderer (the same on every machine), keeping what it notified."""

    def __init__(self, settings) -> None:
        super().__init__(settings, choose_graphics("unicode"))
        self.notes: list[str] = []

    def notify(self, message: str, **kwargs) -> None:
        self.notes.append(message)
        super().notify(message, **kwargs)


@contextlib.contextmanager
def waits():
    """The waits asked of cancel tokens (rate limits, back-offs), in seconds, recorded as they run."""
    from covertui.progress import CancelToken

    slept: list[float] = []
    real = CancelToken.sleep

    def sleep(self, seconds: float) -> None:
        slept.append(seconds)
        real(self, seconds)

    CancelToken.sleep = sleep
    try:
        yield slept
    finally:
        CancelToken.sleep = real


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


async def until(pilot, predicate, timeout: float = 30.0) -> None:
    """Let the app run until `predicate()` holds (Pilot tests)."""
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition not met in time")
