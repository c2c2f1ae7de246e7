"""What a query says: text, covers, image files, weighted and joined; its filters are names.py's.

SYNTAX is the one description of the query language: the help screen, `covertui search --help` and
the README show it (a test holds the README to it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import QueryError

SYNTAX = (
    'Plain text is one query: blue cover with a cat.',
    'Terms join with + and -, each optionally weighted: "sunset" + 0.5*"cat" - "text".',
    '@COVER_ID means more like that cover; image:PATH searches with an image file.',
    'A name in plain text puts its covers first and the other words order them by look: bjork blue.',
    'Filters narrow any query: artist:, album:, track: (artist:"sigur ros"), year:1994, year:1990s, year:1980-1989.',
    'Without words (empty, or filters only), the covers are browsed in an order: recently added, colour, artist.',
)

_TERM = re.compile(
    r"""\s*(?P<sign>[+-])?\s*(?:(?P<weight>\d+(?:\.\d+)?|\.\d+)\s*\*\s*)?"""
    r"""(?:"(?P<text>[^"]*)"|@(?P<cover>[A-Za-z0-9]+)|image:(?:"(?P<qimage>[^"]+)"|(?P<image>\S+)))\s*"""
)


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
    terms: list[Term] = []
    pos = 0
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
