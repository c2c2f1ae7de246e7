"""Text covertui does not own (names from Spotify, device and file names, `.env` values), made safe to show.

Such text is data: it is shown literally, never as markup, and no character of it may steer the
terminal (C0 and C1 controls start escape sequences; bidi controls reorder what the user reads).
Every place that shows outside text goes through `clean` (one line) or `clean_lines` (a message of
several lines); JSON output goes through `dumps`.
"""

from __future__ import annotations

import json

# The zero-width (non-)joiners are format characters that shape emoji and scripts and move nothing: kept.
_KEEP = frozenset("\u200c\u200d")
REPLACEMENT = "?"


def _safe(ch: str) -> bool:
    return ch.isprintable() or ch in _KEEP


def clean(text: object) -> str:
    """One line of outside text: every control, format (bidi) or separator character but the space
    becomes `?`. `Song [Live at Wembley]` stays exactly that."""
    text = str(text)
    if text.isprintable():  # the common case, at C speed
        return text
    return "".join(ch if _safe(ch) else REPLACEMENT for ch in text)


def clean_lines(text: object) -> str:
    """A message of several lines (an error that quotes a name): as `clean`, keeping line breaks."""
    return "\n".join(clean(line) for line in str(text).split("\n"))


def _escape_unsafe(text: str) -> str:
    out = []
    for ch in text:
        if _safe(ch):
            out.append(ch)
            continue
        code = ord(ch)
        if code > 0xFFFF:  # JSON escapes name UTF-16 units
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


def dumps(obj) -> str:
    """JSON for stdout: readable Unicode, but every control, bidi and other invisible format character
    escaped (json escapes only C0), so a name cannot reach the terminal that shows the output."""
    text = json.dumps(obj, ensure_ascii=False)
    if text.isprintable():
        return text
    # Outside strings JSON holds only ASCII, so every unsafe character sits inside a string.
    return _escape_unsafe(text)
