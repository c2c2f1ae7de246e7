"""Downloading covers: one file per distinct cover id, validated, written atomically."""

from __future__ import annotations

import io
import os
import secrets
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests
import urllib3

from .config import CONCURRENCY, REQUEST_TIMEOUT, Paths
from .errors import Cancelled, StorageError
from .progress import (
    CancelToken,
    ProgressCallback,
    RateMeter,
    Step,
    no_progress,
    writing,
)
from .spotify.http import make_session

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 25_000_000
MAX_SIDE = 10_000
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
ATTEMPTS = 3
DEADLINE_TIMEOUTS = 3  # one cover's attempts together take at most this many request timeouts (30 s)
_TMP_PREFIX = ".part-"


class CoverRejected(Exception):
    """A download that is not a usable image; not worth retrying."""


class TransientFailure(Exception):
    """A download that may work on another attempt."""


@dataclass
class DownloadReport:
    downloaded: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    bytes: int = 0


def covers_on_disk(paths: Paths) -> dict[str, Path]:
    """Cover id -> file, from one listing of the covers folder (the files are the truth)."""
    found: dict[str, Path] = {}
    try:
        entries = os.scandir(paths.covers_dir)
    except FileNotFoundError:
        return found
    with entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            stem, _, ext = name.rpartition(".")
            if stem and ext in FORMATS.values():
                found[stem] = Path(entry.path)
    return found


def remove_partial_files(paths: Paths) -> None:
    """Temporary files left by a process that was killed mid-download."""
    try:
        entries = list(os.scandir(paths.covers_dir))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(_TMP_PREFIX):
            Path(entry.path).unlink(missing_ok=True)


class _PixelBudget:
    """How many pixels all download threads may hold decoded at once: validating a 25 MP cover takes
    ~100 MB, and 16 threads at once would take 1.5 GB. One image of any allowed size always fits."""

    def __init__(self, pixels: int) -> None:
        self.free = pixels
        self._changed = threading.Condition()

    @contextmanager
    def take(self, pixels: int):
        with self._changed:
            self._changed.wait_for(lambda: self.free >= pixels)
            self.free -= pixels
        try:
            yield
        finally:
            with self._changed:
                self.free += pixels
                self._changed.notify_all()


DECODING = _PixelBudget(2 * MAX_PIXELS)


def validate_image(data: bytes) -> str:
    """The file extension for `data` if it is a whole, sane image; CoverRejected otherwise."""
    from PIL import Image

    if not data:
        raise CoverRejected("empty response")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if img.format not in FORMATS:
                raise CoverRejected(f"unsupported image format {img.format}")
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise CoverRejected(f"image too large ({width}x{height})")
            with DECODING.take(width * height):
                img.load()  # decodes everything: truncated files fail here
            return FORMATS[img.format]
    except CoverRejected:
        raise
    except Image.DecompressionBombError:
        raise CoverRejected("image too large (decompression bomb)") from None
    except Exception as exc:  # PIL raises many kinds for garbage input
        text = data[:64].lstrip().lower()
        if text.startswith((b"<!doctype", b"<html", b"<?xml", b"{")):
            raise CoverRejected("not an image (got a web page or JSON)") from None
        raise CoverRejected(f"not a valid image ({type(exc).__name__})") from None


def _fetch(session: requests.Session, url: str, timeout: float, cancel: CancelToken, deadline: float) -> bytes:
    """One cover's bytes. Each read waits at most `timeout`, and the whole transfer ends at `deadline`
    (time.monotonic()): a server that sends a byte a second holds no worker for long."""
    for _hop in range(4):
        if urlparse(url).scheme not in ("http", "https"):
            raise CoverRejected("refused a non-http(s) URL")
        try:
            with session.get(url, timeout=timeout, stream=True, allow_redirects=False) as response:
                if response.is_redirect:
                    url = urljoin(url, response.headers.get("Location", ""))
                    continue
                status = response.status_code
                if status == 429 or status >= 500:
                    raise TransientFailure(f"HTTP {status}")
                if status != 200:
                    raise CoverRejected(f"HTTP {status}")
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > MAX_BYTES:
                    raise CoverRejected(f"file too large ({int(length)} bytes)")
                chunks, size = [], 0
                while chunk := response.raw.read1(64 * 1024, decode_content=True):  # what one read brought
                    size += len(chunk)
                    if size > MAX_BYTES:
                        raise CoverRejected("file too large")
                    if cancel.cancelled:
                        raise TransientFailure("cancelled")
                    if time.monotonic() > deadline:
                        raise TransientFailure("too slow (the download's deadline passed)")
                    chunks.append(chunk)
                data = b"".join(chunks)
                if length and length.isdigit() and len(data) < int(length):
                    raise TransientFailure("connection closed mid-file")
                return data
        except requests.Timeout:
            raise TransientFailure("timed out") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
            raise TransientFailure("connection failed") from None
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise TransientFailure("timed out") from None
        except (urllib3.exceptions.ProtocolError, urllib3.exceptions.DecodeError, OSError):
            raise TransientFailure("connection failed") from None
        except requests.RequestException as exc:
            raise CoverRejected(f"request failed ({type(exc).__name__})") from None
    raise CoverRejected("too many redirects")


def _store(paths: Paths, cover_id: str, data: bytes, ext: str) -> Path:
    final = paths.cover_file(cover_id, ext)
    tmp = paths.covers_dir / f"{_TMP_PREFIX}{cover_id}-{secrets.token_hex(4)}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def download_one(session: requests.Session, paths: Paths, cover_id: str, url: str, timeout: float,
                 cancel: CancelToken, backoff: float = 0.5) -> int:
    """Download, validate and store one cover; returns its size. Raises with the reason. All attempts
    together end after DEADLINE_TIMEOUTS request timeouts. A writer (progress.writing): quitting lets
    it stop at its next chunk and remove its partial file."""
    with writing():
        return _download_one(session, paths, cover_id, url, timeout, cancel, backoff)


def _download_one(session, paths, cover_id, url, timeout, cancel, backoff) -> int:
    last = "failed"
    deadline = time.monotonic() + DEADLINE_TIMEOUTS * timeout
    for attempt in range(ATTEMPTS):
        try:
            if attempt:
                if time.monotonic() + backoff * 2 ** (attempt - 1) > deadline:
                    break
                cancel.sleep(backoff * 2 ** (attempt - 1))
            data = _fetch(session, url, timeout, cancel, deadline)
        except Cancelled:
            raise TransientFailure("cancelled") from None
        except TransientFailure as exc:
            last = str(exc)
            if cancel.cancelled:
                break
            continue
        ext = validate_image(data)  # a truncated or bad body arriving whole is not retried
        _store(paths, cover_id, data, ext)
        return len(data)
    raise TransientFailure(last)


def download_covers(
    wanted: dict[str, str],
    paths: Paths,
    concurrency: int = CONCURRENCY,
    timeout: float = REQUEST_TIMEOUT,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DownloadReport:
    """Download every cover in `wanted` (cover id -> URL) that is not on disk yet."""
    cancel = cancel or CancelToken()
    paths.covers_dir.mkdir(parents=True, exist_ok=True)
    remove_partial_files(paths)
    have = covers_on_disk(paths)
    todo = [(cid, url) for cid, url in wanted.items() if cid not in have]
    report = DownloadReport()
    total = len(todo)
    meter = RateMeter()
    progress(Step("download", 0, total))
    if not todo:
        return report
    session = make_session(pool_size=concurrency, retries=0)
    pending = iter(todo)
    running: dict = {}
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="cover")

    def submit_next() -> bool:
        for cid, url in pending:
            running[pool.submit(download_one, session, paths, cid, url, timeout, cancel)] = cid
            return True
        return False

    try:
        for _ in range(concurrency):
            if not submit_next():
                break
        _collect(running, report, cancel, submit_next, progress, total, meter)
    except BaseException:
        # Ctrl-C or an error: in-flight downloads stop at their next chunk, and nobody waits for
        # one stuck in a hung request (its .part file is removed by the next sync).
        cancel.cancel()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    session.close()
    if cancel.cancelled:
        report.failed = {c: r for c, r in report.failed.items() if r != "cancelled"}
    return report


def _collect(running, report, cancel, submit_next, progress, total, meter) -> None:
    last_report = 0.0
    while running:
        finished, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
        for future in finished:
            cid = running.pop(future)
            try:
                report.bytes += future.result()
                report.downloaded.append(cid)
            except (CoverRejected, TransientFailure) as exc:
                report.failed[cid] = str(exc)
            except OSError as exc:  # disk full, read-only: stop, keep what is stored
                cancel.cancel()
                raise StorageError(f"Could not write covers ({exc.strerror or exc}); covers stored so far are kept.") from None
            if not cancel.cancelled:
                submit_next()
        done = len(report.downloaded) + len(report.failed)
        now = time.monotonic()
        if now - last_report > 0.1 or not running:
            last_report = now
            progress(Step("download", done, total, report.bytes, meter.update(done)))
