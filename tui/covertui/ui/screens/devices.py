"""Choosing where to play when no Spotify device is playing and several could."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from ..plain import plain
from .dialog import Dialog, DialogBox


class DevicePicker(Dialog):
    """Dismissed with the chosen device's id, or None."""

    BINDINGS = [("escape", "dismiss", "Cancel")]

    def __init__(self, devices: list) -> None:
        super().__init__()
        self.devices = devices

    def compose(self) -> ComposeResult:
        with DialogBox():
            yield Label("Play on which device?", classes="heading")
            yield OptionList(*[Option(plain(d.label), id=d.id) for d in self.devices], id="devices")
            yield Footer()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
