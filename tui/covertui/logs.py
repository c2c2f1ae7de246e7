"""covertui's log: off by default (the app owns the terminal, so nothing is printed); with
COVERTUI_LOG=PATH or `--log PATH`, every module's logger writes to that file. Lines are cleaned of
control characters (they quote names from Spotify and file names), and no token is ever logged."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .errors import ConfigError
from .text import clean_lines

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


class _CleanFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return clean_lines(super().format(record))


def start(path: Path) -> None:
    """Append covertui's log records, from DEBUG on, to `path` (made readable by its owner only)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"Cannot write the log file {path}: {exc.strerror}.") from None
    handler = logging.StreamHandler(os.fdopen(fd, "a", encoding="utf-8", errors="replace"))
    handler.setFormatter(_CleanFormatter(FORMAT))
    logger = logging.getLogger("covertui")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
