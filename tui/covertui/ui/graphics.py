"""Choosing the terminal image protocol, before the app starts (textual-image queries the
terminal at import time, which is impossible once Textual owns it)."""

from __future__ import annotations

import os
from collections import OrderedDict

NAMES = {"kitty": "TGPImage", "sixel": "SixelImage", "halfcell": "HalfcellImage", "unicode": "UnicodeImage"}


def image_widget_class(choice: str = "auto"):
    """The textual-image widget class for a protocol name, or the detected one for "auto"."""
    import textual_image.renderable as renderables
    import textual_image.widget as widgets

    if choice != "auto":
        return with_line_cache(getattr(widgets, NAMES[choice]))
    detected = renderables.Image
    if os.environ.get("TMUX") and detected is renderables.TGPImage:
        # kitty graphics inside tmux need allow-passthrough and placeholder support; halfcell always works
        return with_line_cache(widgets.HalfcellImage)
    return with_line_cache(widgets.Image)


_LINES: OrderedDict = OrderedDict()
LINE_CACHE_SIZE = 512


def with_line_cache(widget_class):
    """For the text-drawn protocols (halfcell, unicode): keep each cover's rendered lines.

    textual-image turns the image into cells on every frame (~6 ms a tile); a cover at a given size
    always draws the same cells, so they are kept (LRU) and a new search redraws from the cache.
    sixel and kitty output carry terminal state and are left as they are.
    """
    if protocol_name(widget_class) not in ("halfcell", "unicode"):
        return widget_class

    class Cached(widget_class, Renderable=widget_class._Renderable):
        def render_lines(self, crop):
            if self.image is None:
                return super().render_lines(crop)
            key = (widget_class, id(self.image), self.size, crop)
            lines = _LINES.get(key)
            if lines is None:
                lines = _LINES[key] = super().render_lines(crop)
                if len(_LINES) > LINE_CACHE_SIZE:
                    _LINES.popitem(last=False)
            else:
                _LINES.move_to_end(key)
            return lines

    Cached.__name__ = widget_class.__name__
    Cached.__qualname__ = widget_class.__qualname__
    return Cached


def protocol_name(widget_class) -> str:
    """kitty, sixel, halfcell or unicode, from the renderable the widget class uses."""
    module = getattr(getattr(widget_class, "_Renderable", None), "__module__", "") or widget_class.__module__
    last = module.rsplit(".", 1)[-1]
    return {"tgp": "kitty"}.get(last, last)
