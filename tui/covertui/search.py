"""The search service: a query (query.py) against the index of one model's vectors (index.py), among
the covers of the checked sources, narrowed by names and filters (names.py), in an order
(orders.py). Covers showing the same picture (pictures.py) are folded into one result that lists
its copies.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import orders
from .errors import NothingIndexed, QueryError
from .index import CoverIndex, one_per_picture
from .models import Hit, SearchResult, Track
from .orders import ORDERS
from .progress import CancelToken, ProgressCallback, no_progress
from .query import Term, parse_query


@dataclass
class _View:
    """What a search reads: replaced whole by Searcher.reload(), which runs beside searches."""

    index: CoverIndex
    covers: dict
    pictures: dict = field(default_factory=dict)
    group: Any = None  # np.ndarray: row -> the first row showing the same picture; built when None
    masks: dict[tuple[str, ...], np.ndarray] = field(default_factory=dict)
    keys: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .names import NameIndex
        from .pictures import copies

        self.names = NameIndex(self.covers, self.index.row)
        if self.group is None:
            self.group = copies(self.index.ids, self.pictures)
        self.members: dict[int, list[int]] = {}
        for row in np.flatnonzero(self.group != np.arange(len(self.group))):
            self.members.setdefault(int(self.group[row]), [int(self.group[row])]).append(int(row))

    def mask(self, sources: list[str] | None) -> np.ndarray:
        key = tuple(sorted(sources)) if sources is not None else ("*",)
        if key not in self.masks:
            wanted = set(sources or ())
            self.masks[key] = self.index.rows_of(
                {cid for cid, c in self.covers.items() if sources is None or c.sources & wanted})
        return self.masks[key]

    def key(self, order: str) -> np.ndarray:
        """Per row, what `order` sorts on, ascending (built at the first search in that order)."""
        if order not in self.keys:
            self.keys[order] = orders.keys(order, self.index.ids, self.covers, self.pictures)
        return self.keys[order]


def not_latin(text: str) -> bool:
    """Whether `text` has letters of a script other than Latin (CLIP's tokenizer knows only English)."""
    import unicodedata

    return any(ch.isalpha() and not unicodedata.name(ch, "").startswith("LATIN") for ch in text)


def _carries(track: Track, field: str, name: str) -> bool:
    """Whether `track` carries the (normalized) name in `field` (artist, album, track)."""
    from .names import normalize

    values = track.artists if field == "artist" else [track.album if field == "album" else track.name]
    return any(normalize(value) == name for value in values)


class Searcher:
    """The search service: a model (text tower first), the index, and the catalog's covers."""

    def __init__(self, settings, model=None, allow_download: bool = True, text: bool = True,
                 progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> None:
        """`text`: load the text tower now; without it the index browses at once, and the first search
        with words loads it (ClipModel.load). `progress` and `cancel`: a model download's."""
        from .catalog import Catalog
        from .embed.model import ClipModel
        from .embed.preprocess import PREPROCESS_VERSION
        from .embed.store import EmbeddingStore

        self.settings = settings
        self.model = model or ClipModel(settings, towers=("text",) if text else (), allow_download=allow_download,
                                        progress=progress, cancel=cancel)
        self.store = EmbeddingStore(settings.paths, self.model.identity, PREPROCESS_VERSION)
        self._reloading = threading.Lock()
        with Catalog(settings.paths) as catalog:
            self._view = _View(CoverIndex(*self.store.matrix(), device=self.model.device), catalog.covers(),
                               catalog.pictures())

    @property
    def index(self) -> CoverIndex:
        return self._view.index

    @property
    def covers(self) -> dict:
        return self._view.covers

    @property
    def indexed(self) -> int:
        """Synced covers that have a vector."""
        view = self._view
        return int(view.mask(None).sum()) if len(view.index) else 0

    def reload(self) -> int:
        """Pick up covers embedded since the index was built (by a sync here or elsewhere)."""
        from .catalog import Catalog

        with self._reloading:  # the app may ask again before the last one ends
            added = self.store.refresh()
            with Catalog(self.settings.paths) as catalog:
                covers, pictures = catalog.covers(), catalog.pictures()
            old = self._view
            index = CoverIndex(*self.store.matrix(), device=self.model.device) if added else old.index
            same = index is old.index and pictures == old.pictures  # the copies found before still hold
            # one assignment: a search under way keeps the view it began with
            self._view = _View(index, covers, pictures, old.group if same else None)
            return added

    def query_vector(self, terms: list[Term], index: CoverIndex | None = None) -> np.ndarray:
        index = self.index if index is None else index
        total = np.zeros(self.model.dim, dtype=np.float32)
        texts = [t for t in terms if t.kind == "text"]
        if texts:
            vectors = self.model.encode_text([t.value for t in texts])
            for term, vec in zip(texts, vectors):
                total += term.weight * vec
        for term in terms:
            if term.kind == "cover":
                vec = index.vector(term.value)
                if vec is None:
                    raise QueryError(f"Cover {term.value} is not indexed for this model.")
                total += term.weight * vec
            elif term.kind == "image":
                total += term.weight * self._image_vector(Path(term.value).expanduser())
        norm = np.linalg.norm(total)
        if norm < 1e-9:
            raise QueryError("The query terms cancel out.")
        return total / norm

    def _image_vector(self, path: Path) -> np.ndarray:
        import torch

        from .embed.preprocess import load_pixels

        try:
            pixels = load_pixels(path, self.model.spec)
        except (OSError, ValueError) as exc:
            raise QueryError(f"Cannot read image {path}: {exc}") from None
        return self.model.encode_pixels(torch.from_numpy(np.ascontiguousarray(pixels[None])))[0]

    def search(self, query: str, top: int = 50, sources: list[str] | None = None, order: str = "relevance",
               fold: bool = True) -> SearchResult:
        """The `top` covers most like the query among the covers of `sources` (None: every synced source;
        an empty list: none), one per picture unless not `fold`. `order`: a key of ORDERS; the results
        of a query are the most relevant ones, in that order. A query without words (empty, or only
        filters) browses the covers in `order` (relevance: recently added)."""
        view = self._view
        if not (len(view.index) and view.mask(None).any()):
            raise NothingIndexed(
                f"No covers are embedded for {self.model.short_name} yet: run `covertui sync` first."
                if not view.covers else
                f"None of the {len(view.covers)} synced covers has a vector for {self.model.short_name}: "
                "run `covertui sync`."
            )
        if order not in ORDERS:
            raise QueryError(f"Unknown order {order!r}: use one of {', '.join(ORDERS)}.")
        from .names import split_filters, words_besides

        started = time.perf_counter()
        text, filters = split_filters(query)
        sources_mask = view.mask(sources)
        mask = sources_mask & view.names.filter(filters) if filters else sources_mask
        group = view.group if fold else None
        matched, scores, named = "", {}, None  # no scores when browsing
        rows: list[int]
        if not text:  # browse
            order = "recent" if order == "relevance" else order
            among = np.flatnonzero(mask)
            rows = one_per_picture(among[np.argsort(view.key(order)[among], kind="stable")], group, top)
        else:
            terms = parse_query(text)
            first = None
            if len(terms) == 1 and terms[0].kind == "text" and (name := view.names.find(text)) is not None:
                first, matched, named = name.rows, f"{name.field}: {name.name}", name
                rest = words_besides(text, name.words)
                if rest:  # the other words, as typed, order the named covers by look
                    terms = [Term("text", rest)]
            vector = self.query_vector(terms, view.index)
            single_cover = terms[0].value if len(terms) == 1 and terms[0].kind == "cover" else None
            scores = dict(view.index.rank(vector, top, mask, exclude=single_cover, first=first, group=group))
            rows = [view.index.row[cid] for cid in scores]
            if order != "relevance":
                key = view.key(order)
                rows.sort(key=lambda row: key[row])
        elapsed = (time.perf_counter() - started) * 1000
        note = ""
        if text and self.model.family == "clip" and not_latin(text):
            note = f"{self.model.short_name} reads English only: a multilingual model (`covertui models`) reads this query."
        return SearchResult(query, [self._hit(view, row, scores, sources_mask, group is not None, named)
                                    for row in rows], elapsed, matched, order, note)

    @staticmethod
    def _hit(view: _View, row: int, scores: dict, mask: np.ndarray, fold: bool, named=None) -> Hit:
        cid = view.index.ids[row]
        cover = view.covers.get(cid)
        copies = [view.index.ids[r] for r in view.members.get(int(view.group[row]), ()) if r != row and mask[r]] \
            if fold else []
        tracks, sources = list(cover.tracks) if cover else [], set(cover.sources) if cover else set()
        for other in filter(None, map(view.covers.get, copies)):  # every track of every copy
            tracks += [t for t in other.tracks if all(t.id != mine.id for mine in tracks)]
            sources |= other.sources
        if named is not None:  # the tracks carrying the name the query named first: the tile's caption
            tracks.sort(key=lambda track: not _carries(track, named.field, named.name))
        return Hit(cid, scores.get(cid), str(cover.path) if cover and cover.path else None,
                   cover.url if cover else "", tracks, sorted(sources), copies)
