"""Files only their owner may read: run records hold screenshots of the desktop and what was typed.
Directories are made 0700 and files 0600 whatever the umask (the mode is set explicitly after
creation, since the umask only ever takes bits away).

Whole files are written beside their place and renamed into it, so a reader never sees half a
file, and a disk that fills up or goes away leaves the last good version. Any failure to write
is a ``StorageError``: one line that says which file and why."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tracer_cli.errors import StorageError

if TYPE_CHECKING:
    from PIL import Image


def storage_error(path: Path, exc: OSError) -> StorageError:
    """The one line for a file that could not be written, with the fix for its cause."""
    why = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        fix = ("free some space (tracer logs prune --max-mb N), or set TRACER_HOME to a folder "
               "on another disk")
    elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
        fix = "the folder is gone: check that its disk is still mounted"
    else:
        fix = "check the folder's permissions and its disk, or set TRACER_HOME elsewhere"
    return StorageError(f"cannot write {path}: {why}", fix)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into a StorageError."""
    try:
        yield
    except OSError as exc:
        raise storage_error(path, exc) from None


def _replace(path: Path, write: Callable[[IO[Any]], None]) -> None:
    """Write ``path`` whole: into a hidden temporary file beside it (0600, a name of its own, so
    two processes writing the same file at once each rename a whole one), then renamed over it."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise storage_error(path, exc) from None

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
    write_bytes(path, text.encode("utf-8"))


def write_bytes(path: Path, data: bytes) -> None:
    _replace(path, lambda f: f.write(data))


def save_image(image: Image.Image, path: Path, **params: Any) -> None:
    """``image.save(path, ...)`` into a file created 0600 (the format from the suffix unless
    ``format=`` says)."""
    params.setdefault("format", {".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower(), "PNG"))
    _replace(path, lambda f: image.save(f, **params))


def copy_file(source: Path, target: Path) -> None:
    """A copy the user asked for elsewhere (--out): private as well."""
    write_bytes(target, source.read_bytes())


def append_line(fd: int, path: Path, line: bytes, sync: bool = True) -> None:
    """Append one whole line to the open file ``fd`` (``path`` for the message), forced to disk
    with ``sync``: a line the disk had no room for is taken back, so the file ends with whole
    lines."""
    size = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(line)
        while view:
            view = view[os.write(fd, view):]
        if sync:
            os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, size)
        raise storage_error(path, exc) from None
