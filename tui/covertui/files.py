"""Reading local files that covertui did not write, bounded: the token, `.env` files, folder images,
`image:` queries.

Only regular files are read: a FIFO would block the reader (and the sync lock it holds) forever, and
`/dev/zero` would fill the memory. Every read has a size cap, and images a pixel cap, checked from the
header before anything is decoded.
"""

from __future__ import annotations

import io
import os
import stat
import warnings

MAX_IMAGE_BYTES = 64 * 1024 * 1024  # a folder's cover art: a 50 MP PNG fits
MAX_IMAGE_PIXELS = 25_000_000  # decoded RGB: 75 MB; covers are 0.09 MP, print-size scans ~10 MP
MAX_IMAGE_SIDE = 20_000


class NotARegularFile(OSError):
    """A path that is a FIFO, a device, a socket or a folder: skipped, never opened for reading."""


class FileTooLarge(OSError):
    pass


class ImageRejected(ValueError):
    """An image that is not read: too many pixels, or not an image."""


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; NotARegularFile or FileTooLarge otherwise.

    Opened without blocking (a FIFO with no writer would block `open` itself), checked with fstat on
    the open descriptor (no race with a swapped path), read no further than the cap.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = ("a folder" if stat.S_ISDIR(info.st_mode) else "a pipe (FIFO)" if stat.S_ISFIFO(info.st_mode)
                    else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a file")
            raise NotARegularFile(f"{kind}, not a regular file")
        if info.st_size > limit:
            raise FileTooLarge(f"larger than {limit // 1024} KiB" if limit < 2**20 else
                               f"larger than {limit // 2**20} MiB")
        parts, total = [], 0
        while total <= limit:  # os.read: no buffer of `limit` bytes is made up front
            chunk = os.read(fd, max(65536, min(info.st_size, limit) + 1 - total))
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew after fstat
            raise FileTooLarge(f"larger than {limit} bytes")
        return b"".join(parts)
    finally:
        os.close(fd)


def open_image(source: str | os.PathLike | bytes | io.IOBase, max_pixels: int = MAX_IMAGE_PIXELS,
               max_bytes: int = MAX_IMAGE_BYTES):
    """A PIL image of a file (a path, bytes or an open binary file), header read only; OSError for what
    cannot be read, ImageRejected for too many pixels. Close it (or use it in `with`)."""
    from PIL import Image

    if isinstance(source, bytes):
        data = source
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileTooLarge(f"larger than {max_bytes // 2**20} MiB")
    else:
        data = read_regular(source, max_bytes)
    try:
        with warnings.catch_warnings():  # PIL warns of big images: they are refused below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageRejected("too many pixels") from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL's kinds of "not an image"
        raise ImageRejected(f"not an image ({type(exc).__name__})") from None
    width, height = img.size
    if width * height > max_pixels or max(width, height) > MAX_IMAGE_SIDE:
        img.close()
        raise ImageRejected(f"too many pixels ({width}x{height})")
    return img

