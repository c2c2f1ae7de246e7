"""Settings and paths: the one place that reads the environment and builds file paths.

Settings come from the process environment first, then `.env` in the current
directory, then `.env` in the config directory. `COVERTUI_HOME` puts all state
under one folder; otherwise platformdirs locations are used.

A `.env` in the current directory is whatever folder the user stands in (a cloned repository, a
downloads folder): it may give the client id and the like, but never the endpoints, which decide
where the login's tokens are sent. Those come only from the environment or the config folder's `.env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

APP_NAME = "covertui"
DEFAULT_API_URL = "https://api.spotify.com/v1/"
DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"
# The endpoints and their defaults: never from the current directory's .env (they decide where tokens go)
ENDPOINTS = {"COVERTUI_SPOTIFY_API_URL": DEFAULT_API_URL, "COVERTUI_SPOTIFY_ACCOUNTS_URL": DEFAULT_ACCOUNTS_URL}
# Taken only from the environment or the config folder's .env: a .env in the current directory (anyone's
# checkout) may not choose where the login goes, nor which file the log is written to.
NOT_FROM_HERE = {**ENDPOINTS, "COVERTUI_LOG": ""}
READ_SCOPES = "playlist-read-private playlist-read-collaborative user-library-read"
# Saving results as a private playlist; playing and queueing on a Spotify Connect device.
WRITE_SCOPES = "playlist-modify-private user-modify-playback-state user-read-playback-state"
SCOPES = f"{READ_SCOPES} {WRITE_SCOPES}"
CONCURRENCY = 16  # parallel cover downloads
REQUEST_TIMEOUT = 10.0  # s per HTTP request
MAX_RETRY_WAIT = 30.0  # s: the longest Spotify rate-limit wait sat through
GRAPHICS_CHOICES = ("auto", "kitty", "iterm", "sixel", "halfcell", "unicode")


@dataclass(frozen=True)
class Paths:
    """Every file and folder covertui uses. Nothing else builds paths."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @classmethod
    def from_home(cls, home: str | None) -> Paths:
        if home:
            root = Path(home).expanduser().resolve()
            return cls(root / "config", root / "data", root / "cache")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP_NAME)),
            Path(platformdirs.user_data_dir(APP_NAME)),
            Path(platformdirs.user_cache_dir(APP_NAME)),
        )

    @property
    def env_file(self) -> Path:
        return self.config_dir / ".env"

    @property
    def token_file(self) -> Path:
        return self.config_dir / "token.json"

    @property
    def covers_dir(self) -> Path:
        return self.data_dir / "covers"

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def embeddings_dir(self) -> Path:
        return self.data_dir / "embeddings"

    @property
    def models_dir(self) -> Path:
        """Models covertui downloaded (embed/download.py)."""
        return self.cache_dir / "models"

    @property
    def sync_lock(self) -> Path:
        return self.data_dir / "sync.lock"

    def cover_file(self, cover_id: str, ext: str) -> Path:
        return self.covers_dir / f"{cover_id}.{ext}"


@dataclass(frozen=True)
class Settings:
    paths: Paths
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    redirect_uri: str = DEFAULT_REDIRECT_URI
    api_url: str = DEFAULT_API_URL
    accounts_url: str = DEFAULT_ACCOUNTS_URL
    concurrency: int = CONCURRENCY
    request_timeout: float = REQUEST_TIMEOUT
    max_retry_wait: float = MAX_RETRY_WAIT
    model: str | None = None
    device: str | None = None
    dtype: str | None = None
    batch_size: int | None = None
    graphics: str = "auto"
    log_file: Path | None = None  # COVERTUI_LOG: where covertui's log goes (logs.py); none by default
    env_files: tuple[Path, ...] = ()
    ignored: tuple[str, ...] = ()  # settings a `.env` in the current directory may not give, which it gave

    @property
    def has_credentials(self) -> bool:
        return bool(self.client_id)

    @property
    def custom_endpoints(self) -> list[str]:
        """The Spotify endpoints that are not Spotify's own, as `KEY=URL` (doctor and the app say so)."""
        return [f"{key}={url}" for key, url in zip(ENDPOINTS, (self.api_url, self.accounts_url))
                if url != ENDPOINTS[key]]


_ENV_KEYS = (
    "COVERTUI_HOME",
    "SPOTIPY_CLIENT_ID",
    "SPOTIPY_CLIENT_SECRET",
    "SPOTIPY_REDIRECT_URI",
    "COVERTUI_SPOTIFY_API_URL",
    "COVERTUI_SPOTIFY_ACCOUNTS_URL",
    "COVERTUI_CONCURRENCY",
    "COVERTUI_TIMEOUT",
    "COVERTUI_MAX_RETRY_WAIT",
    "COVERTUI_MODEL",
    "COVERTUI_DEVICE",
    "COVERTUI_DTYPE",
    "COVERTUI_BATCH_SIZE",
    "COVERTUI_GRAPHICS",
    "COVERTUI_LOG",
)
MAX_ENV_BYTES = 64 * 1024
_LINE = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*\s*=")


def _read_env_file(path: Path) -> dict[str, str]:
    """Read a .env file; a line that is not KEY=VALUE is an error naming file and line."""
    import io

    from dotenv import dotenv_values

    from .files import NotARegularFile, read_regular

    try:
        text = read_regular(path, MAX_ENV_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text; fix or remove it.") from None
    except NotARegularFile as exc:
        raise ConfigError(f"{path}: {exc}; remove it or make it a plain KEY=value file.") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _LINE.match(line):
            raise ConfigError(
                f"{path}, line {number}: expected KEY=value (see .env.example)."
            )
    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    for key, value in values.items():
        if key in _ENV_KEYS and not value.isprintable():
            raise ConfigError(f"{path}: the value of {key} holds a control character; fix or remove it.")
    return values


def _number(values: Mapping[str, str], key: str, kind, default, minimum, maximum):
    raw = values.get(key)
    if raw in (None, ""):
        return default
    try:
        value = kind(raw)
    except (ValueError, OverflowError):
        raise ConfigError(f"{key}={raw!r} is not a number.") from None
    if not minimum <= value <= maximum:  # also NaN
        raise ConfigError(f"{key} must be between {minimum} and {maximum}.")
    return value


def load_settings(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    values: dict[str, str] = {}
    used: list[Path] = []
    local_env = cwd / ".env"
    local = _read_env_file(local_env) if local_env.exists() else {}
    if local:
        used.append(local_env)
    ignored = tuple(key for key, default in NOT_FROM_HERE.items()
                    if local.pop(key, "") not in ("", default))
    home = environ.get("COVERTUI_HOME") or local.get("COVERTUI_HOME")
    paths = Paths.from_home(home)
    config = {}
    if paths.env_file.exists() and paths.env_file.resolve() != local_env.resolve():
        config = _read_env_file(paths.env_file)
        used.append(paths.env_file)
    for source in (config, local, environ):  # later wins
        values.update({k: v for k, v in source.items() if k in _ENV_KEYS})

    graphics = (values.get("COVERTUI_GRAPHICS") or "auto").lower()
    if graphics not in GRAPHICS_CHOICES:
        raise ConfigError(
            f"COVERTUI_GRAPHICS={graphics!r}: choose one of {', '.join(GRAPHICS_CHOICES)}."
        )
    api_url = _endpoint(values, "COVERTUI_SPOTIFY_API_URL")
    return Settings(
        paths=paths,
        client_id=values.get("SPOTIPY_CLIENT_ID") or None,
        client_secret=values.get("SPOTIPY_CLIENT_SECRET") or None,
        redirect_uri=values.get("SPOTIPY_REDIRECT_URI") or DEFAULT_REDIRECT_URI,
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        accounts_url=_endpoint(values, "COVERTUI_SPOTIFY_ACCOUNTS_URL").rstrip("/"),
        concurrency=_number(values, "COVERTUI_CONCURRENCY", int, CONCURRENCY, 1, 256),
        request_timeout=_number(values, "COVERTUI_TIMEOUT", float, REQUEST_TIMEOUT, 0.1, 600),
        max_retry_wait=_number(values, "COVERTUI_MAX_RETRY_WAIT", float, MAX_RETRY_WAIT, 0, 86400),
        model=values.get("COVERTUI_MODEL") or None,
        device=(values.get("COVERTUI_DEVICE") or None),
        dtype=(values.get("COVERTUI_DTYPE") or None),
        batch_size=_number(values, "COVERTUI_BATCH_SIZE", int, None, 1, 65536),
        graphics=graphics,
        log_file=Path(values["COVERTUI_LOG"]).expanduser() if values.get("COVERTUI_LOG") else None,
        env_files=tuple(used),
        ignored=ignored,
    )


def _endpoint(values: Mapping[str, str], key: str) -> str:
    from urllib.parse import urlparse

    url = values.get(key) or ENDPOINTS[key]
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not url.isprintable():
        raise ConfigError(f"{key} must be an http(s) URL.")
    return url
