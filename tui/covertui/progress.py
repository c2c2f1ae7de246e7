"""Progress reports and cancellation shared by the CLI and the TUI workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass

from .errors import Cancelled

STAGE_LABELS = {"sources": "Reading sources", "tracks": "Reading playlists", "download": "Downloading covers",
                "pictures": "Measuring pictures", "embed": "Embedding covers", "wait": "Waiting",
                "model": "Downloading the model"}
BYTE_STAGES = {"model"}  # stages that count bytes, not items


@dataclass(frozen=True)
class Step:
    """One report from a long task. `rate` is items per second."""

    stage: str  # "sources", "tracks", "download", "pictures", "embed", "wait"
    done: int
    total: int
    bytes: int = 0
    rate: float = 0.0
    message: str = ""

    @property
    def label(self) -> str:
        """What the stage is doing, in words (progress bars and the app's work panel)."""
        return STAGE_LABELS.get(self.stage, self.stage)

    @property
    def amounts(self) -> str:
        """How far, in words: "120/340 · 12/s", or for bytes "120 MB of 1.5 GB · 11.2 MB/s"."""
        if self.stage in BYTE_STAGES:
            speed = f" · {megabytes(self.rate)}/s" if self.rate else ""
            return f"{megabytes(self.done)} of {megabytes(self.total)}{speed}" if self.total else ""
        rate = f" · {self.rate:.0f}/s" if self.rate else ""
        return f"{self.done}/{self.total}{rate}" if self.total else rate.lstrip(" ·")


def megabytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


ProgressCallback = Callable[[Step], None]


def no_progress(_: Step) -> None:
    pass


class CancelToken:
    """A flag that services check between units of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (and raising Cancelled) when cancelled."""
        if self._event.wait(max(0.0, seconds)):
            raise Cancelled()


_writers = 0  # syncs and cover downloads under way (work that a quit lets stop between files)
_writers_changed = threading.Condition()


@contextmanager
def writing():
    """Mark a sync or a download under way: quitting gives it a moment to stop between files."""
    global _writers
    with _writers_changed:
        _writers += 1
    try:
        yield
    finally:
        with _writers_changed:
            _writers -= 1
            _writers_changed.notify_all()


def wait_for_writers(timeout: float) -> bool:
    """Wait until no sync or download is under way, at most `timeout` s; whether none is."""
    with _writers_changed:
        return _writers_changed.wait_for(lambda: _writers == 0, timeout)


class RateMeter:
    """Items per second over a sliding window, for progress bars."""

    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._marks: list[tuple[float, int]] = []

    def update(self, done: int) -> float:
        now = time.monotonic()
        self._marks.append((now, done))
        while len(self._marks) > 2 and now - self._marks[0][0] > self.window:
            self._marks.pop(0)
        t0, d0 = self._marks[0]
        return (done - d0) / (now - t0) if now > t0 else 0.0
