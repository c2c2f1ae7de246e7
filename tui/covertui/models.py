"""What covertui works with, whoever fetched or found it: sources, their tracks, the covers those
show, and the results of a search. Plain data: no I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Source:
    id: str
    kind: str  # "liked", "playlist" or "folder"
    name: str
    owner: str = ""
    tracks: int = 0
    readable: bool = True
    reason: str = ""
    snapshot_id: str = ""
    url: str = ""

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Track:
    id: str
    name: str
    artists: list[str]
    album: str
    url: str
    album_url: str
    cover_id: str
    cover_url: str
    kind: str = "track"
    added_at: str = ""  # when it was added to the source it was read from (ISO 8601)
    release: str = ""  # the album's (an episode's) release date: "1994", "1994-06" or "1994-06-13"

    @property
    def uri(self) -> str:
        return f"spotify:{self.kind}:{self.id}"

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Cover:
    """One distinct image: its tracks (one album cover is shared by many) and its file."""

    id: str
    url: str = ""
    path: Path | None = None
    tracks: list[Track] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)


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
                "tracks": [t.to_dict() for t in self.tracks], "sources": self.sources, "copies": self.copies}


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    elapsed_ms: float
    matched: str = ""  # the name the query named, e.g. "artist: bjork"
    order: str = "relevance"  # one of ORDERS
    note: str = ""  # what the user should know about this result: a model that cannot read the query


