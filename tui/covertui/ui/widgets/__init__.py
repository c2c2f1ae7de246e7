"""The app's widgets, one module each."""

from .cover_grid import CoverGrid
from .cover_tile import CoverTile
from .query_input import QueryInput
from .source_picker import SourcePicker
from .status_line import StatusLine
from .work_panel import WorkPanel

__all__ = ["CoverGrid", "CoverTile", "QueryInput", "SourcePicker", "StatusLine", "WorkPanel"]
