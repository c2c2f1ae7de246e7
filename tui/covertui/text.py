"""Text from Spotify and file names, made safe to show."""


def clean(text: str) -> str:
    """Names can hold anything: keep control characters off the screen and out of the output."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)
