"""The main screen and the screens over it, one module each."""

from .auth import AuthScreen
from .details import DetailsScreen
from .devices import DevicePicker
from .help import HelpScreen
from .main import MainScreen
from .save import SaveScreen
from .setup import SetupScreen

__all__ = ["AuthScreen", "DetailsScreen", "DevicePicker", "HelpScreen", "MainScreen", "SaveScreen", "SetupScreen"]
