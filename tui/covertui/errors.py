"""Errors a user can act on. Their message is shown as is: one line, no traceback."""


class CovertuiError(Exception):
    """Base of expected failures; `str(err)` is the user-facing message."""

    exit_code = 1


class ConfigError(CovertuiError):
    exit_code = 2


class MissingCredentials(ConfigError):
    pass


class AuthError(CovertuiError):
    """Not logged in, or the saved login no longer works."""

    exit_code = 3


class NetworkError(CovertuiError):
    exit_code = 4


class RateLimited(CovertuiError):
    exit_code = 5

    def __init__(self, retry_after: float):
        import time

        self.retry_after = retry_after
        when = time.strftime("%H:%M", time.localtime(time.time() + retry_after))
        minutes = max(1, round(retry_after / 60))
        super().__init__(
            f"Spotify rate limit: asked to wait {retry_after:.0f} s. "
            f"Everything fetched so far is kept; try again after {when} (in ~{minutes} min)."
        )


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


class StorageError(CovertuiError):
    """The data directory cannot be written (read-only, full)."""

    exit_code = 10
