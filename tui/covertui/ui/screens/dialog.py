"""What the dialogs share: a centred screen and a bordered box with headings, hints and errors."""

from __future__ import annotations

from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen

_BOX = """
{box} {{
    width: 90%; max-width: 110; height: auto; max-height: 90%;
    padding: 1 2; border: round $accent; background: $surface;
}}
{box} .heading {{ text-style: bold; margin-bottom: 1; }}
{box} .hint {{ color: $text-muted; margin: 1 0; }}
{box} .url {{ color: $accent; margin: 1 0; }}
{box} .error {{ color: $error; }}
"""


class DialogBox(Vertical):
    DEFAULT_CSS = _BOX.format(box="DialogBox")


class ScrollingDialogBox(VerticalScroll):
    """A dialog whose text may be longer than the screen."""

    DEFAULT_CSS = _BOX.format(box="ScrollingDialogBox")


class Dialog(ModalScreen):
    DEFAULT_CSS = """
    Dialog { align: center middle; }
    """
