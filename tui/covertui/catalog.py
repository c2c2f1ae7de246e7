"""What covertui knows, persisted in diskcache: sources, their tracks, the selection.

Each source's tracks are stored as one record, written only once the whole
source has been read, so a killed sync never leaves a half-read source behind.
Which covers exist is decided by the files in the covers folder (see covers.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .config import Paths
from .errors import CatalogError
from .models import Cover, Source, Track
from .text import clean

DATABASE = "cache.db"  # diskcache's file in the catalog folder
OPENING = "opening.lock"  # held while the catalog is opened (see Catalog)
log = logging.getLogger(__name__)


RECORD_VERSION = 2  # 2: tracks carry added_at and release (records of 1 are read again, covers kept)


@dataclass
class SourceRecord:
    snapshot_id: str
    tracks: list[Track]
    skipped: dict[str, int]
    covers: dict[str, str] = field(default_factory=dict)  # folder sources: cover id -> file path
    version: int = RECORD_VERSION


class Catalog:
    def __init__(self, paths: Paths) -> None:
        import diskcache

        self.paths = paths
        database = paths.catalog_dir / DATABASE
        try:
            paths.catalog_dir.mkdir(parents=True, exist_ok=True)
            # One opener at a time: the first one's database is empty until diskcache has made its tables,
            # and an empty database found by anyone else is damage (sqlite would take it for a new one).
            with open(paths.catalog_dir / OPENING, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if database.exists() and database.stat().st_size == 0:
                    raise sqlite3.DatabaseError("its database file is empty")
                self._db = diskcache.Cache(str(paths.catalog_dir), timeout=30)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise CatalogError(
                f"The catalog at {clean(str(paths.catalog_dir))} cannot be opened ({exc}). Move that folder aside "
                "and run `covertui sync` again: downloaded covers are kept and reused."
            ) from None
        try:
            self._get("sources")  # a value that will not unpickle is found here
        except CatalogError:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _get(self, key, default=None):
        try:
            return self._db.get(key, default)
        except Exception as exc:  # sqlite's errors, and whatever unpickling damaged bytes raises
            raise self._damaged(exc) from None

    def _read(self, key, convert, default=None):
        """A stored value through `convert`: one of another shape is damage too."""
        data = self._get(key)
        if data is None:
            return default
        try:
            return convert(data)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> CatalogError:
        log.warning("catalog damaged: %r", exc)
        return CatalogError(f"The catalog at {clean(str(self.paths.catalog_dir))} is damaged ({type(exc).__name__}); "
                            "move it aside and run `covertui sync` again: downloaded covers are kept and reused.")

    # sources -----------------------------------------------------------------
    def sources(self) -> dict[str, Source]:
        return self._read("sources", lambda stored: {sid: Source(**data) for sid, data in stored.items()}, {})

    def save_sources(self, sources: list[Source], replace_kind: str | None = None) -> None:
        """Store source metadata; with replace_kind, sources of that kind not in `sources` are dropped."""
        with self._db.transact():
            current = self._get("sources") or {}
            if replace_kind:
                current = {k: v for k, v in current.items() if v["kind"] != replace_kind}
            for source in sources:
                known = current.get(source.id)
                if known and not known["readable"] and source.readable is False and known["reason"]:
                    source.reason = known["reason"]
                current[source.id] = source.to_dict()
            self._db.set("sources", current)

    def save_listed(self, listed: list[Source]) -> None:
        """Store what Spotify listed just now: Liked Songs, and the playlists (ones no longer listed are dropped)."""
        self.save_sources([s for s in listed if s.kind == "liked"])
        self.save_sources([s for s in listed if s.kind == "playlist"], replace_kind="playlist")

    def mark_unavailable(self, source_id: str, reason: str) -> None:
        with self._db.transact():
            current = self._get("sources") or {}
            if source_id in current:
                current[source_id].update(readable=False, reason=reason)
                self._db.set("sources", current)

    # items -------------------------------------------------------------------
    def record(self, source_id: str) -> SourceRecord | None:
        return self._read(("items", source_id), lambda data: SourceRecord(
            data["snapshot_id"], [Track(**t) for t in data["tracks"]], dict(data["skipped"]),
            dict(data.get("covers") or {}), int(data.get("version") or 1)))

    def save_record(self, source_id: str, record: SourceRecord) -> None:
        self._db.set(("items", source_id), {
            "snapshot_id": record.snapshot_id,
            "tracks": [t.to_dict() for t in record.tracks],
            "skipped": dict(record.skipped),
            "covers": dict(record.covers),
            "version": record.version,
        })

    # pictures ------------------------------------------------------------------
    def pictures(self) -> dict:
        """Cover id -> Picture (perceptual hash and colour), for the covers measured so far."""
        from .pictures import Picture

        return self._read("pictures", lambda stored: {cid: Picture(*facts) for cid, facts in stored.items()}, {})

    def save_pictures(self, pictures: dict) -> None:
        with self._db.transact():
            current = self._get("pictures") or {}
            current.update((cid, tuple(p)) for cid, p in pictures.items())
            self._db.set("pictures", current)

    # selection ---------------------------------------------------------------
    def selection(self) -> list[str]:
        return list(self._get("selection") or [])

    def save_selection(self, source_ids: list[str]) -> None:
        self._db.set("selection", list(source_ids))

    # views -------------------------------------------------------------------
    def covers(self, source_ids: list[str] | None = None, on_disk: dict[str, Path] | None = None) -> dict[str, Cover]:
        """Distinct covers of the given sources (all synced sources by default)."""
        if on_disk is None:
            from .covers import covers_on_disk

            on_disk = covers_on_disk(self.paths)
        ids = source_ids if source_ids is not None else list(self.sources())
        result: dict[str, Cover] = {}
        for sid in ids:
            record = self.record(sid)
            if record is None:
                continue
            for track in record.tracks:
                cover = result.get(track.cover_id)
                if cover is None:
                    cover = result[track.cover_id] = Cover(track.cover_id, track.cover_url, on_disk.get(track.cover_id))
                if all(t.id != track.id for t in cover.tracks):
                    cover.tracks.append(track)
                cover.sources.add(sid)
            for cid, file in record.covers.items():
                cover = result.setdefault(cid, Cover(cid, path=Path(file)))
                cover.sources.add(sid)
        return result

    def model_choice(self) -> str:
        """The model chosen with `covertui models --use` (or the app's palette); "" for the default."""
        choice = self._get("model")
        return choice if isinstance(choice, str) else ""

    def save_model_choice(self, model: str) -> None:
        self._db.set("model", model)

    def rates(self) -> dict[str, float]:
        """Covers embedded per second, measured by the last sync that embedded with each model."""
        rates = self._get("rates")
        return {k: float(v) for k, v in rates.items() if isinstance(v, (int, float))} if isinstance(rates, dict) else {}

    def save_rate(self, model: str, rate: float) -> None:
        with self._db.transact():
            self._db.set("rates", {**self.rates(), model: round(rate, 2)})

    def has_covers(self) -> bool:
        """Whether anything was synced yet: a folder source, or a downloaded cover."""
        covers_dir = self.paths.covers_dir
        return any(s.kind == "folder" for s in self.sources().values()) or (
            covers_dir.is_dir() and next(os.scandir(covers_dir), None) is not None)

    def skipped(self, source_ids: list[str]) -> Counter:
        total: Counter = Counter()
        for sid in source_ids:
            record = self.record(sid)
            if record:
                total.update(record.skipped)
        return total
