"""Errors a user can act on. Their message is shown as is: one line, no traceback. Each kind has its
own exit code."""

from typing import Any


class CovertuiError(Exception):
    """Base of expected failures; `str(err)` is the user-facing message."""

    exit_code = 1
    partial: Any = None  # what was done before it stopped (a sync's summary), where that counts


class ConfigError(CovertuiError):
    exit_code = 2


class MissingCredentials(ConfigError):
    pass


class AuthError(CovertuiError):
    """Not logged in, or the saved login no longer works."""

    exit_code = 3


class NetworkError(CovertuiError):
    exit_code = 4


def _local_time_after(seconds: float) -> str:
    """When `seconds` from now is, in local time: "14:05", or "Tue 14:05" from tomorrow on."""
    import time

    then = time.time() + seconds
    same_day = time.localtime(then)[:3] == time.localtime()[:3]
    return time.strftime("%H:%M" if same_day else "%a %H:%M", time.localtime(then))


def _in_about(seconds: float) -> str:
    return f"~{max(1, round(seconds / 60))} min" if seconds < 5400 else f"~{seconds / 3600:.0f} h"


class RateLimited(CovertuiError):
    """Spotify asked to wait longer than covertui waits (COVERTUI_MAX_RETRY_WAIT)."""

    exit_code = 5

    def __init__(self, retry_after: float, message: str = ""):
        self.retry_after = retry_after
        super().__init__(message or (
            f"Spotify rate limit: asked to wait {retry_after:.0f} s. "
            f"Everything fetched so far is kept; try again after {_local_time_after(retry_after)} "
            f"(in {_in_about(retry_after)})."))


class QuotaExceeded(RateLimited):
    """The daily request quota that Spotify gives each developer's apps (since July 2026) is spent."""

    def __init__(self, retry_after: float | None):
        when = (f"try again after {_local_time_after(retry_after)} (in {_in_about(retry_after)})"
                if retry_after is not None else "try again tomorrow")
        super().__init__(retry_after or 0.0, (
            "Spotify's daily request quota is used up. It is shared by all apps of the Spotify developer "
            f"account that owns this client id, so other apps may have spent it. Everything fetched so far is "
            f"kept; {when}."))


class ScopeMissing(AuthError):
    """The saved login was made before covertui asked for what this needs (playing, saving)."""

    def __init__(self, what: str = "play and save playlists"):
        super().__init__(f"The saved Spotify login does not allow covertui to {what}: it was made before covertui "
                         "asked for that. Log in again to allow playing and saving: `covertui auth` (in the app: L). "
                         "Searching and syncing keep working meanwhile.")


class PlaybackRefused(CovertuiError):
    """Spotify would not play: no Premium for the user, no device to play on."""

    exit_code = 12


class WriteUncertain(NetworkError):
    """A write's answer was lost (5xx, dropped connection, time-out): it may have been applied.
    The code that writes checks what happened instead of sending it again."""


class AccountRefused(CovertuiError):
    """Spotify refuses the app or the account as a whole, not one playlist (403 on the user's own data)."""

    exit_code = 11


class SyncBusy(CovertuiError):
    exit_code = 6


class Cancelled(CovertuiError):
    exit_code = 130

    def __init__(self, message: str = "Cancelled; finished work is kept."):
        super().__init__(message)


class ModelError(CovertuiError):
    exit_code = 7


class NothingIndexed(CovertuiError):
    exit_code = 8


class CatalogError(CovertuiError):
    """The catalog (sources, tracks, selection) cannot be read or written."""

    exit_code = 9


class StorageError(CovertuiError):
    """The data directory cannot be written (read-only, full)."""

    exit_code = 10


class QueryError(CovertuiError):
    """A query covertui cannot read, or that names what is not there."""

    exit_code = 13


class StoreError(CovertuiError):
    """The embedding cache cannot be read or written."""

    exit_code = 14


class SourceUnavailable(CovertuiError):
    """One source cannot be read (403/404); the sync goes on with the others."""

    exit_code = 15


def crash_report(error: BaseException) -> str:
    """An unexpected error as the user sees it on the way out: the traceback with no local variables
    (the Spotify layer's hold tokens; rich's tracebacks, Textual's default, print them)."""
    import traceback

    from .text import clean_lines

    return clean_lines("".join(traceback.format_exception(error))) + "covertui: unexpected error (above); please report it."
