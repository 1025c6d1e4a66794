"""Where things live: ``$TRACER_HOME`` (config.toml, runs/ and models/ inside it) when set,
otherwise the platform's user config and data directories. ``TRACER_CONFIG`` names another
config file. (No pydantic here: `tracer --help` and `tracer logs` stay quick.)"""

from __future__ import annotations

import os
from pathlib import Path

APP = "tracer"


def home() -> Path | None:
    value = os.environ.get("TRACER_HOME")
    return Path(value).expanduser() if value else None


def config_path() -> Path:
    if os.environ.get("TRACER_CONFIG"):
        return Path(os.environ["TRACER_CONFIG"]).expanduser()
    if home():
        return home() / "config.toml"  # type: ignore[operator]
    from platformdirs import user_config_path

    return user_config_path(APP) / "config.toml"


def data_dir() -> Path:
    if home():
        return home()  # type: ignore[return-value]
    from platformdirs import user_data_path

    return user_data_path(APP)


def runs_dir() -> Path:
    return data_dir() / "runs"


def cache_dir() -> Path:
    """What tracer can make again (e.g. the CPU probe's model and verdict)."""
    if home():
        return home() / "cache"  # type: ignore[operator]
    from platformdirs import user_cache_path

    return user_cache_path(APP)


def runtime_dir() -> Path:
    """Where the live state of runs goes (the desktop locks, the control sockets): private to
    the user and shared by every tracer process of theirs, whatever TRACER_HOME says.
    ``$TRACER_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/tracer``, else a folder of the user's own
    in the temporary directory."""
    if os.environ.get("TRACER_RUNTIME_DIR"):
        return Path(os.environ["TRACER_RUNTIME_DIR"]).expanduser()
    xdg = os.environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isdir(xdg) and os.access(xdg, os.W_OK):
        return Path(xdg) / APP
    import tempfile

    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"{APP}-{uid}"
