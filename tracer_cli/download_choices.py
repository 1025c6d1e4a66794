"""What the user said about downloading a model, remembered so a script that offers it (the
demo, `tracer models pull NAME --ask`, `tracer do` at a terminal) does not ask again on every
run: a "no" stands until the user pulls the model by hand, and a Hub that could not be reached
is not tried again for a day. Kept in the cache folder (``downloads.json``, private)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

from tracer_cli import private
from tracer_cli.errors import StorageError
from tracer_cli.paths import cache_dir

RETRY_UNREACHABLE = 24 * 3600  # seconds before an --ask tries a Hub again that was unreachable
SPEED = 50e6 / 8  # bytes per second the download time is estimated at (a 50 Mbit/s line)
DECLINED, UNREACHABLE = "declined", "unreachable"


def _path() -> Path:
    return cache_dir() / "downloads.json"


def _read() -> dict[str, dict[str, float | str]]:
    try:
        data = json.loads(_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, dict[str, float | str]]) -> None:
    try:
        private.make_dir(_path().parent)
        private.write_text(_path(), json.dumps(data, indent=1))
    except (OSError, StorageError):
        pass  # not remembered: asked again next time


def remember(name: str, what: str) -> None:
    """The user declined the download of ``name``, or the Hub could not be reached."""
    data = _read()
    data[name] = {"what": what, "at": time.time()}
    _write(data)


def forget(name: str) -> None:
    """The model was downloaded, or the user asked for it by hand: nothing stands in the way."""
    data = _read()
    if data.pop(name, None) is not None:
        _write(data)


def standing(name: str, now: float | None = None) -> str:
    """Why an offer to download ``name`` should neither ask nor try now (empty: it may), with
    the command that gets it anyway."""
    entry = _read().get(name)
    if not isinstance(entry, dict):
        return ""
    at = entry.get("at")
    if not isinstance(at, int | float):
        return ""
    when = datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M")
    if entry.get("what") == DECLINED:
        return f"you declined the download of {name} on {when} (tracer models pull {name} gets it)"
    if entry.get("what") == UNREACHABLE and (now or time.time()) - at < RETRY_UNREACHABLE:
        return (f"the model hub could not be reached for {name} at {when}; not trying again "
                f"for a day (tracer models pull {name} tries now)")
    return ""


def estimate(size: int | None) -> str:
    """The size of a download and the time it takes at a typical speed: "3.3 GB, about 9 min
    at 50 Mbit/s"."""
    if not size:
        return "several GB"
    amount = f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"
    minutes = round(size / SPEED / 60)
    return f"{amount}, " + (f"about {minutes} min" if minutes else "under a minute") + \
        " at 50 Mbit/s"
