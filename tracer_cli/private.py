"""Files only their owner may read: run records hold screenshots of the desktop and what was typed.
Directories are made 0700 and files 0600 whatever the umask (the mode is set explicitly after
creation, since the umask only ever takes bits away)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path, exist_ok: bool = True) -> None:
    """Create ``path`` (and missing parents) private; an existing directory made by tracer is
    made private too, so records from before this rule stop being readable by others."""
    path.mkdir(parents=True, exist_ok=exist_ok, mode=DIR_MODE)
    os.chmod(path, DIR_MODE)


def open_file(path: Path, mode: str = "w") -> IO[Any]:
    """``open()`` for writing (``w``, ``a``, ``wb``, ``ab``), the file created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    fd = os.open(path, flags, FILE_MODE)
    if hasattr(os, "fchmod"):  # not on Windows, where the mode bits mean little anyway
        try:
            os.fchmod(fd, FILE_MODE)
        except BaseException:
            os.close(fd)
            raise
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding="utf-8")


def write_text(path: Path, text: str) -> None:
    with open_file(path, "w") as f:
        f.write(text)


def write_bytes(path: Path, data: bytes) -> None:
    with open_file(path, "wb") as f:
        f.write(data)


def save_image(image: Image.Image, path: Path, **params: Any) -> None:
    """``image.save(path, ...)`` into a file created 0600 (the format from the suffix unless
    ``format=`` says)."""
    params.setdefault("format", {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG"))
    with open_file(path, "wb") as f:
        image.save(f, **params)


def copy_file(source: Path, target: Path) -> None:
    """A copy the user asked for elsewhere (--out): private as well."""
    write_bytes(target, source.read_bytes())
