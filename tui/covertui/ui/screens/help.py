"""The keys and the query syntax, both from where they are defined: the bindings' tooltips and
query.SYNTAX. The README's key table is the same rows (`markdown_table`; a test compares them)."""

from __future__ import annotations

import textwrap

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Label, Static

from ...query import SYNTAX
from .dialog import Dialog, ScrollingDialogBox

LANGUAGES = ("Languages: SigLIP 2 models (the default) read queries in many languages and scripts; CLIP and SigLIP "
             "1 read English only. `covertui models` lists them.")
NAMES = {"slash": "/", "question_mark": "?", "escape": "Escape", "enter": "Enter", "f1": "F1", "space": "space",
         "pageup": "PgUp", "pagedown": "PgDn", "home": "Home", "end": "End", "left": "←", "right": "→", "up": "↑",
         "down": "↓"}


def key_rows() -> list[tuple[str, str]]:
    """(keys, what they do) for every key of the app, one row per tooltip, in the order bound: the
    input's, the main screen's, the grid's, the picker's, the app's."""
    from ..app import CovertuiApp
    from ..widgets import CoverGrid, QueryInput, SourcePicker
    from .main import MainScreen

    rows: dict[str, list[str]] = {}
    for owner in (QueryInput, MainScreen, CoverGrid, SourcePicker, CovertuiApp):
        for binding in owner.BINDINGS:
            if isinstance(binding, Binding) and binding.tooltip:
                keys = rows.setdefault(binding.tooltip, [])
                keys += [NAMES.get(key, key) for key in binding.key.split(",") if NAMES.get(key, key) not in keys]
    return [(" ".join(keys), what) for what, keys in rows.items()]


def markdown_table() -> str:
    lines = ["| key | does |", "| --- | --- |"]
    lines += [f"| {' '.join(f'`{k}`' for k in keys.split())} | {what} |" for keys, what in key_rows()]
    return "\n".join(lines)


class HelpScreen(Dialog):
    DEFAULT_CSS = """
    HelpScreen ScrollingDialogBox { max-height: 70%; }
    """  # it scrolls: the covers around it stay in sight
    BINDINGS = [("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with ScrollingDialogBox():  # longer than a small terminal: it scrolls
            yield Label("covertui keys", classes="heading")
            yield Static("\n".join(textwrap.fill(what, width=100, initial_indent=f"  {keys:<22} ",
                                                  subsequent_indent=" " * 25) for keys, what in key_rows()), markup=False)
            yield Static("Queries. " + " ".join(SYNTAX) + " One tile per picture: ×2 says two covers show it. "
                         "ctrl+p lists commands.", classes="hint", markup=False)
            yield Static(LANGUAGES, classes="hint", markup=False)
            yield Footer()
