"""Full garbage collections moved out of the way of typing (no Textual here)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

FULL_AFTER = 10  # second-generation collections the interpreter would have started by now


class IdleCollector:
    """torch and transformers leave ~500k objects that live as long as the app: a full collection
    walking them stalled the UI ~0.3 s every few searches. `hold()` leaves them out of collections
    and stops the interpreter from starting full ones; `collect_if_idle()`, called now and then,
    runs one once the user has not typed or clicked for `idle` seconds and nothing is `busy()`.
    """

    def __init__(self, idle: float = 1.0, busy: Callable[[], bool] = lambda: False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle = idle
        self.busy = busy
        self.clock = clock
        self.last_input = 0.0
        self._threshold: tuple | None = None  # the interpreter's, while held

    def hold(self) -> None:
        """Keep what exists now out of full collections (again, for objects made since the last hold)."""
        if self._threshold is None:
            self._threshold = gc.get_threshold()
            gc.set_threshold(*self._threshold[:2], 1 << 30)
        gc.freeze()

    def touched(self) -> None:
        """A key or click: the user is not idle."""
        self.last_input = self.clock()

    def collect_if_idle(self) -> bool:
        if gc.get_count()[2] >= FULL_AFTER and not self.busy() and self.clock() - self.last_input > self.idle:
            gc.collect()
            return True
        return False

    def release(self) -> None:
        """The interpreter's own settings back (the process goes on: tests, an embedding program)."""
        if self._threshold is not None:
            gc.set_threshold(*self._threshold)
            gc.unfreeze()
            self._threshold = None
