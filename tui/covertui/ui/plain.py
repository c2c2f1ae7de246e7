"""Outside text in the app: names, device names, file names, Spotify's and covertui's messages quoting
them. They reach widgets as literal content, never parsed as Textual markup (a playlist named
`[@click=app.quit]x` must read exactly so, and do nothing when clicked), and cleaned of control
characters (text.py)."""

from __future__ import annotations

from textual.content import Content

from ..text import clean, clean_lines


def plain(text: object) -> Content:
    """One line of outside text, shown literally."""
    return Content(clean(text))


def plain_lines(text: object) -> Content:
    """A message of several lines (an error quoting a name), shown literally."""
    return Content(clean_lines(text))
