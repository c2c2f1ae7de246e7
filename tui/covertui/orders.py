"""The orders covers are shown in, besides relevance: per row of the index, the key it sorts on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .models import Cover
    from .pictures import Picture

ORDERS = {"relevance": "best match", "recent": "recently added", "colour": "colour", "artist": "artist"}


def keys(order: str, ids: list[str], covers: dict[str, Cover], pictures: dict[str, Picture]) -> np.ndarray:
    """Per row (cover id `ids[row]`), what `order` sorts on, ascending."""
    if order == "artist":
        return _artist_keys(ids, covers)
    return np.array([_sort_key(order, covers.get(cid), pictures.get(cid)) for cid in ids], dtype=np.float64)


def _sort_key(order: str, cover: Cover | None, picture: Picture | None) -> float:
    if order == "recent":  # newest first; a folder's file by its time
        stamps = [t.added_at for t in cover.tracks if t.added_at] if cover else []
        if stamps:
            from datetime import datetime

            try:
                return -datetime.fromisoformat(max(stamps).replace("Z", "+00:00")).timestamp()
            except ValueError:
                log.debug("an added_at that is no date: %r", max(stamps))
                return 0.0
        try:
            return -cover.path.stat().st_mtime if cover and cover.path else 0.0
        except OSError as exc:
            log.debug("no time for %s: %s", cover.path if cover else None, exc)
            return 0.0
    if picture is None:  # not measured yet: last
        return 1000.0
    from .pictures import GREY

    if picture.hue == GREY:
        return 400.0 - picture.light  # after the rainbow, light to dark
    return (picture.hue + 15.0) % 360  # a rainbow from red: reds just under 360 come first


def _artist_keys(ids: list[str], covers: dict[str, Cover]) -> np.ndarray:
    from .names import normalize

    def name(cid: str) -> tuple:
        cover = covers.get(cid)
        if cover is None or not cover.tracks:  # folder images last, by file name
            return (1, cover.path.name.lower() if cover and cover.path else cid)
        return min((0, normalize(t.artists[0]) if t.artists else "", normalize(t.album), normalize(t.name))
                   for t in cover.tracks)

    ranks = np.empty(len(ids), dtype=np.float64)
    ranks[sorted(range(len(ranks)), key=lambda row: name(ids[row]))] = np.arange(len(ranks))
    return ranks
