"""Downloading a model from the Hugging Face hub into covertui's models folder, with progress (bytes,
speed, time left), cancellation, and resumption from the bytes already here.

huggingface_hub's own `snapshot_download` deletes a partial file when it stops, so a cancelled or
dropped 1.5 GB download would start over; here each file grows in `<name>.part` and a later run asks
for the rest with a Range request. The files of one commit are fetched (the commit is pinned when the
download starts and kept beside the parts, so a resumed download never mixes two commits); the folder
counts as a checkpoint once `.complete` names that commit.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..errors import Cancelled, ModelError
from ..progress import CancelToken, ProgressCallback, RateMeter, Step, no_progress

PATTERNS = ("*.json", "*.txt", "*.safetensors", "*.model")  # configs, tokenizers (SigLIP 1's spiece.model), weights
REPORT_EVERY = 0.25  # s between progress reports
RETRIES = 5  # dropped connections in a row, each resumed where it stopped
TIMEOUT = 10.0  # s without a byte before a connection counts as dropped (and the longest wait for a cancel)
COMPLETE, PLAN = ".complete", ".download.json"
log = logging.getLogger(__name__)


def folder(models_dir: Path, model_id: str) -> Path:
    """Where a hub model lives in covertui's models folder (never outside it, whatever the id holds)."""
    safe = "--".join("".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in part).lstrip(".") or "_"
                     for part in model_id.split("/"))
    return models_dir / safe


def downloaded(models_dir: Path, model_id: str) -> Path | None:
    path = folder(models_dir, model_id)
    return path if (path / COMPLETE).is_file() else None


@dataclass(frozen=True)
class Planned:
    name: str
    size: int


def _endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def _plan(model_id: str, path: Path) -> tuple[str, list[Planned]]:
    """The commit and the files to fetch: those of the download under way, else the hub's latest."""
    try:
        saved = json.loads((path / PLAN).read_text())
        return saved["sha"], [Planned(name, int(size)) for name, size in saved["files"].items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        info = HfApi(endpoint=_endpoint()).model_info(model_id, files_metadata=True, timeout=TIMEOUT)
    except GatedRepoError:
        raise ModelError(f"Model {model_id!r} asks to accept its terms on Hugging Face first (and a token in "
                         "HF_TOKEN). Or pass a local folder with --model /path/to/checkpoint.") from None
    except RepositoryNotFoundError:
        raise ModelError(f"Unknown model {model_id!r} on Hugging Face. Check the id, or pass a local folder with "
                         "--model /path/to/checkpoint.") from None
    except Exception as exc:  # HfHubHTTPError, or the HTTP client's own (httpx's ConnectError is no OSError)
        log.info("model info of %s: %r", model_id, exc)
        raise ModelError(f"Could not reach Hugging Face for {model_id!r} ({type(exc).__name__}): offline? Pass a "
                         "local folder with --model /path/to/checkpoint (or COVERTUI_MODEL).") from None
    files = [Planned(s.rfilename, int(s.size or 0)) for s in info.siblings or []
             if "/" not in s.rfilename and any(fnmatch.fnmatch(s.rfilename, p) for p in PATTERNS)]
    if not info.sha or not any(f.name == "config.json" for f in files):
        raise ModelError(f"{model_id!r} on Hugging Face has no config.json: not a transformers checkpoint.")
    path.mkdir(parents=True, exist_ok=True)
    (path / PLAN).write_text(json.dumps({"sha": info.sha, "files": {f.name: f.size for f in files}}))
    return info.sha, files


def download(models_dir: Path, model_id: str, progress: ProgressCallback = no_progress,
             cancel: CancelToken | None = None) -> Path:
    """The model's folder, fetching what is missing. Cancelled (or a lost network) keeps what came.
    Another covertui fetching the same model (the app and a sync, say) is waited for, its progress shown."""
    cancel = cancel or CancelToken()
    path = folder(models_dir, model_id)
    if (path / COMPLETE).is_file():
        return path
    with _alone(models_dir / f".{path.name}.lock", cancel, lambda: _report_other(path, model_id, progress)):
        if (path / COMPLETE).is_file():  # the other one finished it
            return path
        sha, files = _plan(model_id, path)
        meter = _Meter(model_id, sum(f.size for f in files), progress)
        meter.add(sum(_have(path, f) for f in files))
        for planned in files:
            _fetch(model_id, sha, planned, path, meter, cancel)
        meter.report(force=True)
        (path / COMPLETE).write_text(sha)
    return path


@contextlib.contextmanager
def _alone(lock_path: Path, cancel: CancelToken, waiting: Callable[[], None]):
    """Hold the model's download lock (an advisory file lock, released when the process ends however it
    ends), calling `waiting()` every half second while another process holds it."""
    import fcntl

    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waiting()
                cancel.sleep(0.5)
        yield


def _report_other(path: Path, model_id: str, progress: ProgressCallback) -> None:
    """Another process's download of the model, as far as its files show it."""
    try:
        sizes = json.loads((path / PLAN).read_text())["files"]
        files = [Planned(name, int(size)) for name, size in sizes.items()]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        files = []
    done = sum(_have(path, f) for f in files)
    progress(Step("model", done, sum(f.size for f in files), bytes=done,
                  message=f"{model_id} (another covertui is downloading it)"))


def _have(path: Path, planned: Planned) -> int:
    for name in (planned.name, planned.name + ".part"):
        try:
            return min((path / name).stat().st_size, planned.size)
        except OSError:
            continue
    return 0


class _Meter:
    def __init__(self, model_id: str, total: int, progress: ProgressCallback) -> None:
        self.model_id, self.total, self.progress = model_id, total, progress
        self.done, self._rate, self._last = 0, RateMeter(), 0.0

    def add(self, n: int) -> None:
        self.done += n
        self.report()

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        speed = self._rate.update(self.done)
        if force or now - self._last >= REPORT_EVERY:
            self._last = now
            self.progress(Step("model", self.done, self.total, bytes=self.done, rate=speed, message=self.model_id))


def _fetch(model_id: str, sha: str, planned: Planned, path: Path, meter: _Meter, cancel: CancelToken) -> None:
    """One file into place, resuming its .part; dropped connections are resumed up to RETRIES times."""
    target, part = path / planned.name, path / (planned.name + ".part")
    if target.is_file():
        return
    from huggingface_hub.utils import build_hf_headers, get_session

    url = f"{_endpoint()}/{model_id}/resolve/{sha}/{quote(planned.name)}"
    failures = 0
    while True:
        cancel.check()
        have = part.stat().st_size if part.exists() else 0
        if planned.size and have >= planned.size:
            break
        headers = build_hf_headers()
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with get_session().stream("GET", url, headers=headers, timeout=TIMEOUT, follow_redirects=True) as response:
                if response.status_code == 404:
                    raise ModelError(f"{planned.name} of {model_id!r} is gone from Hugging Face: try again later.")
                if response.status_code >= 400:
                    raise OSError(f"HTTP {response.status_code}")
                if have and response.status_code != 206:  # the server sent it all again: start over
                    meter.add(-have)
                    have = 0
                got = 0
                with part.open("ab" if have else "wb", buffering=0) as out:  # on disk as it comes
                    for chunk in response.iter_bytes():  # as it comes: a drop keeps every byte read
                        cancel.check()
                        out.write(chunk)
                        got += len(chunk)
                        meter.add(len(chunk))
            if not planned.size:
                break
            if not got and have + got < planned.size:
                raise OSError("the connection closed before the file's end")
            failures = 0
        except (Cancelled, ModelError):
            raise
        except Exception as exc:  # a dropped connection, a timeout, a server error: resume, a few times
            failures += 1
            log.info("download of %s/%s stopped (%s); resuming (%d)", model_id, planned.name, exc, failures)
            if failures > RETRIES:
                raise ModelError(f"Could not download {model_id!r} ({type(exc).__name__}): offline? What came is kept; "
                                 "run again to resume, or pass a local folder with --model.") from None
            cancel.sleep(min(0.5 * 2.0 ** (failures - 1), 30.0))
    if planned.size and part.stat().st_size != planned.size:
        part.unlink()
        raise ModelError(f"{planned.name} of {model_id!r} came with the wrong size: run again to fetch it anew.")
    os.replace(part, target)
