"""One HTTP session setup for every request covertui makes."""

from __future__ import annotations

import logging

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .. import __version__

RETRY_STATUSES = frozenset({500, 502, 503, 504})

# spotipy logs request headers (the bearer token) at DEBUG and HTTP errors at ERROR, which
# Python's last-resort handler would print. covertui reports errors itself.
# urllib3 logs each retry as a warning. covertui reports errors itself.
for _name in ("spotipy", "urllib3"):
    logging.getLogger(_name).addHandler(logging.NullHandler())
    logging.getLogger(_name).propagate = False


def make_session(pool_size: int = 16, retries: int = 4, backoff: float = 0.5) -> requests.Session:
    """A session that retries reads (GET) on 5xx and dropped connections with backoff, but never 429.

    429s come back to the caller with their Retry-After header, so a long one can be
    reported instead of slept through (urllib3 would otherwise honour it silently).
    Writes (POST, PUT, DELETE) are retried only when the connection could not be made: one
    whose answer was lost may have been applied, and sending it again could make a second
    playlist or add tracks twice. The code that writes checks what happened instead.
    """
    if retries == 0:  # the caller retries on its own and wants the original errors
        retry = Retry(0, read=False, redirect=False)
    else:
        retry = _retries(retries, backoff)
    adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = f"covertui/{__version__}"
    return session


def _retries(retries: int, backoff: float) -> Retry:
    return Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        allowed_methods=frozenset({"GET", "HEAD"}),  # read errors and 5xx; failed connects for any method
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_max=8,
        respect_retry_after_header=False,
        raise_on_status=False,
        raise_on_redirect=False,
    )
