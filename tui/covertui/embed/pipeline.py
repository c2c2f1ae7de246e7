"""The embedding pipeline: preprocessing threads feed batches to the model; each finished
batch is stored at once. The same function serves `covertui sync` and the app's worker.

The next batches decode while the current one runs: on a GPU into pinned memory that is copied
to the device without blocking, with a decoder on every core but one. On a CPU a decoder takes
~5% of a model's core time and fills the moments the model leaves a core idle: measured beside
decoding between batches on all cores, it was 101-105% against 92-97% of model-only throughput
(benchmarks/embed_throughput.py, 2-core Zen 4). The first batch decodes while the model loads.
"""

from __future__ import annotations

import os
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import ImageRejected
from ..progress import CancelToken, ProgressCallback, RateMeter, Step, no_progress
from .model import ClipModel
from .preprocess import load_pixels
from .store import EmbeddingStore

MEASURED_AFTER = 32  # covers embedded in one sync before its rate is kept as this machine's


@dataclass
class EmbedReport:
    embedded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    batch_size: int = 0

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def default_batch_size(device: str) -> int:
    return 256 if device.startswith("cuda") else 64 if device == "mps" else 32


def decode_workers(device: str, cores: int | None = None) -> int:
    """Preprocessing threads: on a CPU beside the model, up to 8; on a GPU every core but the one
    that feeds the device (a GPU box has many, and ViT-L/14 on a big GPU wants hundreds a second)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
    return max(2, min(8, cores)) if device == "cpu" else max(2, min(32, cores - 1))


def _is_oom(exc: BaseException) -> bool:
    return "out of memory" in str(exc).lower() or type(exc).__name__ == "OutOfMemoryError"


def embed_covers(
    model: ClipModel,
    store: EmbeddingStore,
    covers: dict[str, Path],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    batch_size: int | None = None,
    workers: int | None = None,
) -> EmbedReport:
    """Embed every cover in `covers` (id -> image file) that has no vector in `store` yet."""
    cancel = cancel or CancelToken()
    todo = [(cid, path) for cid, path in covers.items() if cid not in store and path is not None]
    batch = batch_size or default_batch_size(model.device)
    report = EmbedReport(batch_size=batch)
    total = len(todo)
    if not todo:
        return report
    meter = RateMeter()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers or decode_workers(model.device),
                            thread_name_prefix="preprocess") as pool:
        ahead: deque[tuple[str, Future]] = deque()
        feed = iter(todo)

        def fill(limit: int) -> None:
            while len(ahead) < limit:
                nxt = next(feed, None)
                if nxt is None:
                    return
                ahead.append((nxt[0], pool.submit(load_pixels, nxt[1], model.spec)))

        try:
            fill(2 * batch)  # decoding starts while the model loads
            progress(Step("embed", 0, total, message="" if model.vision else f"Loading {model.description}"))
            model.load("vision")
            pinned = _Pinned(model.device)
            while ahead:
                cancel.check()
                ids: list[str] = []
                arrays: list[np.ndarray] = []
                while ahead and len(ids) < batch:
                    cid, future = ahead.popleft()
                    try:
                        arrays.append(future.result())
                        ids.append(cid)
                    except ImageRejected as exc:  # not an image, too many pixels: report it, go on
                        report.failed[cid] = f"unreadable image: {exc}"
                    except Exception as exc:  # an unreadable file (a FIFO, a truncated JPEG...): the same
                        report.failed[cid] = f"unreadable image ({type(exc).__name__})"
                fill(2 * batch)  # the next batches decode while the model runs this one
                if not ids:
                    continue
                vectors = _encode(model, pinned.stack(arrays), report)
                store.add(ids, vectors)
                report.embedded += len(ids)
                done = report.embedded + len(report.failed)
                progress(Step("embed", done, total, rate=meter.update(done)))
        except BaseException:
            for _, future in ahead:
                future.cancel()
            raise
        finally:
            report.seconds = time.perf_counter() - started
    store.compact()
    return report


class _Pinned:
    """Batches of pixels as tensors; for CUDA in page-locked memory, so that the copy to the device
    runs without blocking. One buffer serves every batch: encode_pixels waits for its results
    (`.cpu()`), so the copy is done before the next batch is stacked into it."""

    def __init__(self, device: str) -> None:
        self.cuda = device.startswith("cuda")
        self.buffer: Any = None

    def stack(self, arrays: list[np.ndarray]):
        import torch

        if not self.cuda:
            return torch.from_numpy(np.stack(arrays))
        shape = (len(arrays), *arrays[0].shape)
        if self.buffer is None or self.buffer.shape[0] < shape[0]:
            self.buffer = torch.empty(shape, dtype=torch.uint8).pin_memory()
        out = self.buffer[:shape[0]]
        np.stack(arrays, out=out.numpy())
        return out


def _encode(model: ClipModel, pixels, report: EmbedReport) -> np.ndarray:
    """Encode, halving the batch on out-of-memory until it fits (the run goes on)."""
    import torch

    try:
        size = report.batch_size
        parts = []
        for start in range(0, len(pixels), size):
            parts.append(model.encode_pixels(pixels[start:start + size]))
        return np.concatenate(parts)
    except (RuntimeError, MemoryError) as exc:
        if not _is_oom(exc) or report.batch_size == 1:
            raise
        if model.device.startswith("cuda"):
            torch.cuda.empty_cache()
        report.batch_size = max(1, report.batch_size // 2)
        return _encode(model, pixels, report)


def embedder(settings):
    """The embed step of a sync: loads the vision tower only when there is work for it."""

    def run(covers: dict[str, Path], progress: ProgressCallback, cancel: CancelToken) -> EmbedReport:
        from .preprocess import PREPROCESS_VERSION

        model = ClipModel(settings, towers=(), progress=progress, cancel=cancel)  # a download shows its bytes
        store = EmbeddingStore(settings.paths, model.identity, PREPROCESS_VERSION)
        try:
            report = embed_covers(model, store, covers, progress, cancel, settings.batch_size)
        finally:
            store.close()
        if report.embedded >= MEASURED_AFTER:  # this machine's speed with this model: `covertui models` says it
            from ..catalog import Catalog

            with Catalog(settings.paths) as catalog:
                catalog.save_rate(model.short_name, report.rate)
        return report

    return run


def embed_library(settings, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> EmbedReport:
    """Embed every synced cover on disk that the settings' model has no vector for (a model switch), under
    the sync lock: nothing is asked of Spotify."""
    from ..catalog import Catalog
    from ..progress import writing
    from ..sync import sync_lock

    cancel = cancel or CancelToken()
    with writing(), sync_lock(settings.paths):
        with Catalog(settings.paths) as catalog:
            on_disk = {cid: cover.path for cid, cover in catalog.covers().items() if cover.path is not None}
        return embedder(settings)(on_disk, progress, cancel)
