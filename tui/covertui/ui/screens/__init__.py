"""Screens over the main one, one module each."""

from .auth import AuthScreen
from .details import DetailsScreen
from .devices import DevicePicker
from .help import HelpScreen
from .save import SaveScreen
from .setup import SetupScreen

__all__ = ["AuthScreen", "DetailsScreen", "DevicePicker", "HelpScreen", "SaveScreen", "SetupScreen"]
