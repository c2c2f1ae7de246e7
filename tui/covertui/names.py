"""Names in the query: track titles, artists and album names of the synced covers, matched the way
people half-remember them: any case, without accents, with small typos ("bjork" → Björk, "sigur ros"
→ Sigur Rós, "radiohed" → Radiohead).

`NameIndex.find()` looks for the longest run of the query's words that is, as a whole, one name
("bjork blue" → the artist Björk; the rest, "blue", orders her covers by look). A word that merely
appears in a longer name ("blue" in "Blue Hour") is not a name match, so a visual description stays
visual. `NameIndex.filter()` reads `artist:`, `album:`, `track:` and `year:` filters, which narrow.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import QueryError

FIELDS = ("artist", "album", "track")
MATCH = 88  # fuzz.ratio of a run of query words against a whole name
FILTER = 90  # fuzz.partial_ratio of a filter's value against a name: "album:blue" finds "Blue Hour"
LONGEST_RUN = 4  # words
_FILTER = re.compile(r'(?<!\S)(artist|album|track|year):(?:"([^"]*)"|(\S+))', re.IGNORECASE)
_YEARS = re.compile(r"^(\d{4})(?:(s)|\s*-\s*(\d{4})?)?$")  # 1994, 1990s, 1980-1989, 2020-
_NOT_WORD = re.compile(r"[^\w]+")
_LETTERS = str.maketrans({"æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ð": "d", "þ": "th", "ł": "l", "ı": "i"})  # no accents to drop


@lru_cache(maxsize=1 << 17)  # the index is rebuilt at each reload during a sync, from the same names
def normalize(text: str) -> str:
    """Lower case, accents off, punctuation to spaces: "Sigur Rós!" -> "sigur ros"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", plain).replace("_", " ").split())


def words_besides(text: str, span: tuple[int, int]) -> str:
    """`text` without the words that normalize to words `span[0]:span[1]` of normalize(text), as the
    user typed them (accents, case and scripts kept: the model reads them, not normalize's form)."""
    kept, position = [], 0
    for word in text.split():
        count = len(normalize(word).split())
        if count == 0 or position + count <= span[0] or position >= span[1]:
            kept.append(word)
        position += count
    return " ".join(kept)


def split_filters(query: str) -> tuple[str, list[tuple[str, str]]]:
    """The query without its filters, and the filters as (field, value)."""
    filters = [(m.group(1).lower(), m.group(2) if m.group(2) is not None else m.group(3))
               for m in _FILTER.finditer(query)]
    return " ".join(_FILTER.sub(" ", query).split()), filters


@dataclass(frozen=True)
class NameMatch:
    field: str
    name: str  # as normalized
    words: tuple[int, int]  # the run of query words it took: [start, end)
    rows: np.ndarray  # index rows of the covers carrying that name


class _Field:
    """One field's distinct names, sorted by length (a whole-name match has a similar length)."""

    def __init__(self, names: dict[str, set[int]]) -> None:
        ordered = sorted(names, key=len)
        self.names = ordered
        self.lengths = [len(n) for n in ordered]
        self.rows = [np.fromiter(names[n], dtype=np.int64) for n in ordered]
        self.by_name = {n: i for i, n in enumerate(ordered)}

    def best(self, text: str) -> tuple[int, float] | None:
        """The name most like `text` as a whole, at least MATCH."""
        from rapidfuzz import fuzz, process

        if text in self.by_name:
            return self.by_name[text], 100.0
        # ratio >= 88 needs lengths within ~27% of each other: only those are compared
        low, high = bisect_left(self.lengths, int(len(text) * 0.78)), bisect_right(self.lengths, int(len(text) * 1.3) + 1)
        found = process.extractOne(text, self.names[low:high], scorer=fuzz.ratio, score_cutoff=MATCH)
        return (low + found[2], found[1]) if found else None


def year_range(value: str) -> tuple[int, int]:
    """`year:` values: 1994, 1990s, 1980-1989, 2020- (from 2020 on)."""
    match = _YEARS.match(value.strip())
    if not match:
        raise QueryError(f"year:{value} is not a year: write year:1994, year:1990s or year:1980-1989.")
    first = int(match.group(1))
    if match.group(2):
        return first, first + 9
    if match.group(3):
        return first, int(match.group(3))
    return (first, 9999) if "-" in value else (first, first)


class NameIndex:
    def __init__(self, covers: dict, rows: dict[str, int]) -> None:
        """`covers`: cover id -> Cover (its tracks); `rows`: cover id -> row in the search index."""
        names: dict[str, dict[str, set[int]]] = {f: {} for f in FIELDS}
        self.first_year = np.full(len(rows), 9999, dtype=np.int16)  # of a cover's tracks' releases
        self.last_year = np.zeros(len(rows), dtype=np.int16)
        for cover_id, cover in covers.items():
            row = rows.get(cover_id)
            if row is None:
                continue
            for track in cover.tracks:
                if track.release[:4].isdigit():
                    year = int(track.release[:4])
                    self.first_year[row] = min(self.first_year[row], year)
                    self.last_year[row] = max(self.last_year[row], year)
                for field, values in (("artist", track.artists), ("album", [track.album]), ("track", [track.name])):
                    for value in values:
                        key = normalize(value)
                        if key:
                            names[field].setdefault(key, set()).add(row)
        self.size = len(rows)
        self.fields = {field: _Field(values) for field, values in names.items()}
        self._best = lru_cache(maxsize=4096)(self._best_uncached)  # typing repeats the earlier words' runs

    def _best_uncached(self, field: str, text: str):
        return self.fields[field].best(text)

    def find(self, query: str) -> NameMatch | None:
        """The longest run of the query's words that is one whole name (ties: the closest)."""
        words = normalize(query).split()
        for length in range(min(LONGEST_RUN, len(words)), 0, -1):
            found = []
            for start in range(len(words) - length + 1):
                text = " ".join(words[start:start + length])
                if len(text) < 3:  # "a", "of": too short to be told from a description
                    continue
                for field in FIELDS:
                    best = self._best(field, text)
                    if best is not None:
                        found.append((best[1], field, best[0], start))
            if found:
                score, field, index, start = max(found)
                column = self.fields[field]
                return NameMatch(field, column.names[index], (start, start + length), column.rows[index])
        return None

    def filter(self, filters: list[tuple[str, str]]) -> np.ndarray:
        """Rows of the covers that pass every filter (a name in that field like the value)."""
        from rapidfuzz import fuzz, process

        mask = np.ones(self.size, dtype=bool)
        for field, value in filters:
            if field == "year":  # a cover released in the range (one of its tracks, for a compilation's)
                first, last = year_range(value)
                mask &= (self.first_year <= last) & (self.last_year >= first)
                continue
            wanted = normalize(value)
            column = self.fields[field]
            keep = np.zeros(self.size, dtype=bool)
            if wanted:  # names shorter than the value would match inside it ("ros" in "sigur ros"): left out
                low = bisect_left(column.lengths, int(len(wanted) * 0.9))
                for _, _, index in process.extract(wanted, column.names[low:], scorer=fuzz.partial_ratio,
                                                    score_cutoff=FILTER, limit=None):
                    keep[column.rows[low + index]] = True
            mask &= keep
        return mask
