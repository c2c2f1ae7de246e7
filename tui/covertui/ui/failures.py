"""The one error path of every worker (they run with exit_on_error=False): an error covertui expects is
a notification; anything else is logged and ends the app with a traceback that shows no local
variables (those of the Spotify layer hold tokens). Textual tells only the node that started a worker,
so the app and each screen with workers hand their workers' state changes here."""

from __future__ import annotations

import logging

from rich.text import Text
from textual.app import App
from textual.worker import Worker, WorkerState

from ..errors import CovertuiError, crash_report

log = logging.getLogger(__name__)


def worker_changed(app: App, event: Worker.StateChanged) -> None:
    error = event.worker.error
    if event.state != WorkerState.ERROR or error is None:
        return
    if isinstance(error, CovertuiError):
        log.info("worker %s: %s", event.worker.name, error)
        app.notify(str(error), title="covertui", severity="error", timeout=20)
        return
    log.error("worker %s failed", event.worker.name, exc_info=error)
    app.exit(return_code=1, message=Text(crash_report(error)))
