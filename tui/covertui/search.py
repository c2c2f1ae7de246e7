"""Ranking covers: a CoverIndex of normalised vectors, queries of text, covers and images.

Query syntax: plain text ("blue cover with a cat") is one text query. Terms can be combined
with + and -, each optionally weighted: `"sunset" + 0.5*"cat" - "text"`. `@COVER_ID` means
"more like this cover", `image:PATH` an image file as the query. In plain text, a name of the
catalog (artist, album, track) ranks its covers first and the other words order them by look
("bjork blue"). `artist:`, `album:`, `track:` (quoted values allowed) and `year:` filters narrow any
query. Without words, a search browses: the covers in an order (recently added, colour, artist).
Covers showing the same picture (pictures.py) are folded into one result that lists its copies.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import ORDERS
from .errors import CovertuiError, NothingIndexed
from .spotify.library import Track

_TERM = re.compile(
    r"""\s*(?P<sign>[+-])?\s*(?:(?P<weight>\d+(?:\.\d+)?|\.\d+)\s*\*\s*)?"""
    r"""(?:"(?P<text>[^"]*)"|@(?P<cover>[A-Za-z0-9]+)|image:(?:"(?P<qimage>[^"]+)"|(?P<image>\S+)))\s*"""
)


FIRST = 4.0  # added to the order of name matches: ahead of every cosine


class QueryError(CovertuiError):
    exit_code = 2


@dataclass(frozen=True)
class Term:
    kind: str  # "text", "cover" or "image"
    value: str
    weight: float = 1.0


def needs_text(query: str) -> bool:
    """Whether a query has words for the text tower (browsing, filters, @COVER and image: need none)."""
    from .names import split_filters

    text, _ = split_filters(query)
    try:
        return any(term.kind == "text" for term in parse_query(text)) if text.strip() else False
    except QueryError:
        return False  # the search says what is wrong with it, model or not


def parse_query(query: str) -> list[Term]:
    query = query.strip()
    if not query:
        raise QueryError("Empty query.")
    if not any(mark in query for mark in ('"', "@", "image:")):
        return [Term("text", query)]
    terms, pos = [], 0
    while pos < len(query):
        match = _TERM.match(query, pos)
        if not match or match.end() == pos:
            raise QueryError(f"Cannot read the query at {query[pos:pos + 20]!r}: use \"text\", @COVER_ID or "
                             "image:PATH, joined by + or -.")
        if terms and not match.group("sign"):
            raise QueryError("Join query terms with + or -.")
        weight = float(match.group("weight") or 1.0) * (-1.0 if match.group("sign") == "-" else 1.0)
        if match.group("text") is not None:
            if not match.group("text").strip():
                raise QueryError("Empty text term \"\".")
            terms.append(Term("text", match.group("text"), weight))
        elif match.group("cover"):
            terms.append(Term("cover", match.group("cover"), weight))
        else:
            terms.append(Term("image", match.group("qimage") or match.group("image"), weight))
        pos = match.end()
    return terms


def _float32(vectors) -> np.ndarray:
    """A float32 copy. The store keeps float16; numpy converts those slowly, torch (loaded with the
    model anyway) with vector instructions: 0.31 s -> 0.03 s for 100,000 x 512."""
    vectors = np.asarray(vectors)
    if vectors.dtype == np.float16 and "torch" in sys.modules and len(vectors):
        import warnings

        import torch

        with warnings.catch_warnings():  # the store's buffer is read-only; .float() only reads it
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            return torch.from_numpy(np.ascontiguousarray(vectors)).float().numpy()
    return np.array(vectors, dtype=np.float32, order="C")


class CoverIndex:
    """Normalised vectors of the indexed covers; ranks by cosine similarity with a partial sort.

    numpy on the CPU; on a GPU the matrix lives on the device and torch ranks it there.
    """

    def __init__(self, ids: list[str], vectors: np.ndarray, device: str = "cpu") -> None:
        self.ids = list(ids)
        self.row = {cid: i for i, cid in enumerate(self.ids)}
        matrix = _float32(vectors)
        if len(matrix):  # in place; einsum avoids linalg.norm's temporaries (0.46 s -> 0.03 s at 100,000)
            matrix /= np.maximum(np.sqrt(np.einsum("ij,ij->i", matrix, matrix)), 1e-12)[:, None]
        self.matrix = matrix
        self.device = device
        self._on_device = None
        if device != "cpu" and len(matrix):
            import torch

            self._on_device = torch.from_numpy(matrix).to(device=device, dtype=torch.float16)

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, cover_id: str) -> np.ndarray | None:
        row = self.row.get(cover_id)
        return None if row is None else self.matrix[row]

    def mask(self, allowed: set[str] | None) -> np.ndarray | None:
        if allowed is None:
            return None
        mask = np.zeros(len(self.ids), dtype=bool)
        rows = [self.row[c] for c in allowed if c in self.row]
        mask[rows] = True
        return mask

    def rank(self, query: np.ndarray, top: int = 50, mask: np.ndarray | None = None,
             exclude: str | None = None, first: np.ndarray | None = None,
             group: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The `top` rows most like `query` among `mask`, as (cover id, cosine); the rows in `first`
        (a name match) come before the others, each group in order of the cosine. `group` (row ->
        its picture's first row): one row per picture, the best."""
        if not len(self.ids):
            return []
        if self._on_device is not None:
            return self._rank_on_device(query, top, mask, exclude, first, group)
        scores = self.matrix @ np.asarray(query, dtype=np.float32)
        order = scores
        if first is not None and len(first):
            order = scores.copy()
            order[first] += FIRST  # cosines lie in [-1, 1]
        if mask is not None:
            order = np.where(mask, order, -np.inf)
        if exclude is not None and exclude in self.row:
            order[self.row[exclude]] = -np.inf

        def best(k: int) -> list[int]:
            rows = np.argpartition(-order, k - 1)[:k]
            return [int(i) for i in rows[np.argsort(-order[rows], kind="stable")] if np.isfinite(order[i])]

        return [(self.ids[i], float(scores[i])) for i in _best_folded(best, top, len(order), group)]

    def _rank_on_device(self, query, top, mask, exclude, first, group) -> list[tuple[str, float]]:
        import torch

        q = torch.as_tensor(np.asarray(query, dtype=np.float32), device=self.device, dtype=torch.float16)
        scores = (self._on_device @ q).float()
        order = scores.clone()
        if first is not None and len(first):
            order[torch.as_tensor(first, device=self.device)] += FIRST
        if mask is not None:
            order.masked_fill_(~torch.as_tensor(mask, device=self.device), float("-inf"))
        if exclude is not None and exclude in self.row:
            order[self.row[exclude]] = float("-inf")

        def best(k: int) -> list[int]:
            values, rows = torch.topk(order, k)
            return [i for v, i in zip(values.tolist(), rows.tolist()) if v != float("-inf")]

        rows = _best_folded(best, top, len(self.ids), group)
        return list(zip((self.ids[i] for i in rows), scores[rows].tolist() if rows else []))


def _best_folded(best, top: int, size: int, group: np.ndarray | None) -> list[int]:
    """The first `top` rows of `best(k)` (the k best, in order), one per picture: k grows until
    enough distinct pictures are found."""
    k = min(top, size)
    while True:
        rows = best(k)
        if group is None:
            return rows
        kept = _one_per_picture(rows, group, top)
        if len(kept) >= top or len(rows) < k or k >= size:
            return kept
        k = min(size, k * 4)


def _one_per_picture(rows, group: np.ndarray | None, top: int) -> list[int]:
    if group is None:
        return list(rows[:top])
    seen, kept = set(), []
    for row in rows:
        picture = group[row]
        if picture not in seen:
            seen.add(picture)
            kept.append(int(row))
            if len(kept) == top:
                break
    return kept


@dataclass
class Hit:
    cover: str
    score: float | None  # the cosine with the query; None when browsing
    path: str | None
    url: str
    tracks: list[Track] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)  # other covers showing the same picture, folded into this one

    @property
    def title(self) -> str:
        """The first track's name, or the file's name for a cover without tracks."""
        return self.tracks[0].name if self.tracks else (self.path or self.cover).rsplit("/", 1)[-1]

    @property
    def artists(self) -> str:
        return ", ".join(self.tracks[0].artists) if self.tracks else "local file"

    def to_dict(self) -> dict:
        return {"score": None if self.score is None else round(self.score, 6), "cover": self.cover, "path": self.path, "url": self.url,
                "tracks": [t.to_dict() for t in self.tracks], "sources": self.sources, "duplicates": self.copies}


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    elapsed_ms: float
    matched: str = ""  # the name the query named, e.g. "artist: bjork"
    order: str = "relevance"  # one of ORDERS


@dataclass
class _View:
    """What a search reads: replaced whole by Searcher.reload(), which runs beside searches."""

    index: CoverIndex
    covers: dict
    pictures: dict = field(default_factory=dict)
    group: np.ndarray | None = None  # row -> the first row showing the same picture; built when None
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
            self.masks[key] = self.index.mask(
                {cid for cid, c in self.covers.items() if sources is None or c.sources & wanted})
        return self.masks[key]

    def key(self, order: str) -> np.ndarray:
        """Per row, what `order` sorts on, ascending (built at the first search in that order)."""
        if order == "artist" and order not in self.keys:
            self.keys[order] = _artist_keys(self)
        elif order not in self.keys:
            self.keys[order] = np.array([_sort_key(order, self.covers.get(cid), self.pictures.get(cid))
                                         for cid in self.index.ids], dtype=np.float64)
        return self.keys[order]


def _carries(track: Track, field: str, name: str) -> bool:
    """Whether `track` carries the (normalized) name in `field` (artist, album, track)."""
    from .names import normalize

    values = track.artists if field == "artist" else [track.album if field == "album" else track.name]
    return any(normalize(value) == name for value in values)


def _sort_key(order: str, cover, picture) -> float:
    if order == "recent":  # newest first; a folder's file by its time
        stamps = [t.added_at for t in cover.tracks if t.added_at] if cover else []
        if stamps:
            from datetime import datetime

            try:
                return -datetime.fromisoformat(max(stamps).replace("Z", "+00:00")).timestamp()
            except ValueError:
                return 0.0
        try:
            return -cover.path.stat().st_mtime if cover and cover.path else 0.0
        except OSError:
            return 0.0
    if picture is None:  # not measured yet: last
        return 1000.0
    from .pictures import GREY

    if picture.hue == GREY:
        return 400.0 - picture.light  # after the rainbow, light to dark
    return (picture.hue + 15.0) % 360  # a rainbow from red: reds just under 360 come first


def _artist_keys(view: "_View") -> np.ndarray:
    from .names import normalize

    def name(cid: str) -> tuple:
        cover = view.covers.get(cid)
        if cover is None or not cover.tracks:  # folder images last, by file name
            return (1, cover.path.name.lower() if cover and cover.path else cid)
        return min((0, normalize(t.artists[0]) if t.artists else "", normalize(t.album), normalize(t.name))
                   for t in cover.tracks)

    ranks = np.empty(len(view.index.ids), dtype=np.float64)
    ranks[sorted(range(len(ranks)), key=lambda row: name(view.index.ids[row]))] = np.arange(len(ranks))
    return ranks


class Searcher:
    """The search service: a model (text tower first), the index, and the catalog's covers."""

    def __init__(self, settings, model=None, allow_download: bool = True, text: bool = True) -> None:
        """`text`: load the text tower now; without it the index browses at once, and the first search
        with words loads it (ClipModel.load)."""
        from .catalog import Catalog
        from .embed.model import ClipModel
        from .embed.preprocess import PREPROCESS_VERSION
        from .embed.store import EmbeddingStore

        self.settings = settings
        self.model = model or ClipModel(settings, towers=("text",) if text else (), allow_download=allow_download)
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
        from .names import normalize, split_filters

        started = time.perf_counter()
        text, filters = split_filters(query)
        sources_mask = view.mask(sources)
        mask = sources_mask & view.names.filter(filters) if filters else sources_mask
        group = view.group if fold else None
        matched, scores, named = "", {}, None  # no scores when browsing
        if not text:  # browse
            order = "recent" if order == "relevance" else order
            rows = np.flatnonzero(mask)
            rows = _one_per_picture(rows[np.argsort(view.key(order)[rows], kind="stable")], group, top)
        else:
            terms = parse_query(text)
            first = None
            if len(terms) == 1 and terms[0].kind == "text" and (name := view.names.find(text)) is not None:
                first, matched, named = name.rows, f"{name.field}: {name.name}", name
                words = normalize(text).split()
                rest = words[:name.words[0]] + words[name.words[1]:]
                if rest:  # the other words order the named covers by look
                    terms = [Term("text", " ".join(rest))]
            vector = self.query_vector(terms, view.index)
            single_cover = terms[0].value if len(terms) == 1 and terms[0].kind == "cover" else None
            scores = dict(view.index.rank(vector, top, mask, exclude=single_cover, first=first, group=group))
            rows = [view.index.row[cid] for cid in scores]
            if order != "relevance":
                key = view.key(order)
                rows.sort(key=lambda row: key[row])
        elapsed = (time.perf_counter() - started) * 1000
        return SearchResult(query, [self._hit(view, row, scores, sources_mask, group is not None, named)
                                    for row in rows], elapsed, matched, order)

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
