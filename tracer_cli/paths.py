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
