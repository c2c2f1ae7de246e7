"""Screens over the main one, one module each."""

from .auth import AuthScreen
from .details import DetailsScreen
from .help import HelpScreen
from .setup import SetupScreen

__all__ = ["AuthScreen", "DetailsScreen", "HelpScreen", "SetupScreen"]
