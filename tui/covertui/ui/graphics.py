"""Choosing the terminal image protocol, before the app starts (textual-image queries the
terminal at import time, which is impossible once Textual owns it)."""

from __future__ import annotations

import os

NAMES = {"kitty": "TGPImage", "sixel": "SixelImage", "halfcell": "HalfcellImage", "unicode": "UnicodeImage"}


def image_widget_class(choice: str = "auto"):
    """The textual-image widget class for a protocol name, or the detected one for "auto"."""
    import textual_image.renderable as renderables
    import textual_image.widget as widgets

    if choice != "auto":
        return getattr(widgets, NAMES[choice])
    detected = renderables.Image
    if os.environ.get("TMUX") and detected is renderables.TGPImage:
        # kitty graphics inside tmux need allow-passthrough and placeholder support; halfcell always works
        return widgets.HalfcellImage
    return widgets.Image


def protocol_name(widget_class) -> str:
    """kitty, sixel, halfcell or unicode, from the renderable the widget class uses."""
    module = getattr(getattr(widget_class, "_Renderable", None), "__module__", "") or widget_class.__module__
    last = module.rsplit(".", 1)[-1]
    return {"tgp": "kitty"}.get(last, last)
