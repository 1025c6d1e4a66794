"""KWin's authorisation of tracer, the KDE way: a desktop entry (`.desktop` file) naming the
Python executable tracer runs on and the two restricted interfaces it uses, written by
`tracer setup kde` and removed by `tracer setup kde --undo`. Never written silently.

How KWin decides (KWin 5.27, src/utils/serviceutils.h; unchanged in 6): it takes the caller's
``/proc/PID/exe`` (the kernel resolves symlinks: a virtual environment's ``bin/python`` is the
interpreter it links to), asks KSycoca for every application entry whose ``Exec`` (its first
word) has that same canonical path, and reads ``X-KDE-DBUS-Restricted-Interfaces`` (ScreenShot2)
or ``X-KDE-Wayland-Interfaces`` (fake input) of the *first* one. Which entry comes first is not
defined: Debian's ``python3.11.desktop`` names /usr/bin/python3.11, and an entry of tracer's for
that same interpreter was seen to lose to it under one file name and win under another. So
``setup`` also shadows every other entry naming the interpreter: a file of the same desktop id in
the user's applications folder hides the system one (XDG), and tracer's copy of it carries the
two keys. ``--undo`` removes exactly the files tracer wrote (they name themselves).

KWin notices a new entry by itself (~1-1.5 s), but reads a Wayland client's interfaces once, when
it connects: a tracer already running keeps what it had.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

SCREENSHOT = "org.kde.KWin.ScreenShot2"
FAKE_INPUT = "org_kde_kwin_fake_input"
DBUS_KEY = "X-KDE-DBUS-Restricted-Interfaces"
WAYLAND_KEY = "X-KDE-Wayland-Interfaces"
MARK = "X-Tracer-Authorises"  # in every file tracer writes: the executable it is for
COMMAND = "tracer setup kde"


def executable() -> str:
    """The executable KWin sees for this process: the interpreter, symlinks resolved."""
    return os.path.realpath(sys.executable)


def application_dirs(env: dict[str, str] | None = None) -> list[Path]:
    """The applications folders KSycoca reads, the user's first (it wins over the others)."""
    env = dict(os.environ) if env is None else env
    home = env.get("XDG_DATA_HOME") or os.path.join(env.get("HOME", "~"), ".local/share")
    dirs = [home, *(env.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share").split(":")]
    return [Path(os.path.expanduser(d)) / "applications" for d in dirs if d]


@dataclass
class Entry:
    """One application entry: its desktop id, file and the keys of its [Desktop Entry]."""

    id: str
    path: Path
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        return MARK in self.keys

    def grants(self) -> bool:
        def listed(key: str) -> list[str]:
            return [v.strip() for v in self.keys.get(key, "").split(";") if v.strip()]

        return SCREENSHOT in listed(DBUS_KEY) and FAKE_INPUT in listed(WAYLAND_KEY)

    def program(self) -> str:
        """The canonical path of the program its Exec names ("" if none)."""
        try:
            words = shlex.split(self.keys.get("Exec", ""))
        except ValueError:
            return ""
        if not words or not os.path.isabs(words[0]):
            return ""
        return os.path.realpath(words[0]) if os.path.exists(words[0]) else ""


def read_entry(desktop_id: str, path: Path) -> Entry:
    keys: dict[str, str] = {}
    section = ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return Entry(desktop_id, path)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif section == "Desktop Entry" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            keys.setdefault(key.strip(), value.strip())
    return Entry(desktop_id, path, keys)


def entries(env: dict[str, str] | None = None) -> dict[str, Entry]:
    """Every application entry KSycoca would see, by desktop id (``a/b.desktop`` is
    ``a-b.desktop``): for an id in several folders, the user's one (the first folder's)."""
    found: dict[str, Entry] = {}
    for folder in application_dirs(env):
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.desktop")):
            desktop_id = str(path.relative_to(folder)).replace(os.sep, "-")
            if desktop_id not in found:
                found[desktop_id] = read_entry(desktop_id, path)
    return found


def naming(program: str, env: dict[str, str] | None = None) -> list[Entry]:
    """The visible entries whose Exec names ``program`` (canonical path): KWin takes one of
    them, in no defined order. Hidden entries do not count."""
    return [e for e in entries(env).values()
            if e.keys.get("Hidden", "").lower() != "true" and e.program() == program]


@dataclass
class Status:
    program: str
    entries: list[Entry]

    @property
    def granted(self) -> bool:
        """Whichever entry KWin takes grants both interfaces."""
        return bool(self.entries) and all(e.grants() for e in self.entries)

    def describe(self) -> str:
        if self.granted:
            files = ", ".join(str(e.path) for e in self.entries)
            return f"{self.program} may take screenshots and send input ({files})"
        if not self.entries:
            return (f"no desktop entry authorises {self.program}: KWin refuses its screenshots "
                    "and input")
        lacking = ", ".join(str(e.path) for e in self.entries if not e.grants())
        return (f"KWin may take {lacking} for {self.program}, which does not list "
                f"{SCREENSHOT} and {FAKE_INPUT}")


def status(program: str | None = None, env: dict[str, str] | None = None) -> Status:
    program = program or executable()
    return Status(program, naming(program, env))


def _user_dir(env: dict[str, str] | None) -> Path:
    return application_dirs(env)[0]


def our_id(program: str) -> str:
    return f"tracer-{hashlib.sha256(program.encode()).hexdigest()[:8]}.desktop"


def _content(program: str, original: Entry | None = None) -> str:
    quoted = shlex.quote(program)
    lines = ["[Desktop Entry]"]
    if original is None:
        lines += ["Type=Application", f"Name=tracer's Python ({program})", "NoDisplay=true"]
    else:  # the shadowed entry, unchanged but for the two keys (and the mark)
        lines += [f"{k}={v}" for k, v in original.keys.items()
                  if k not in (DBUS_KEY, WAYLAND_KEY, MARK, "Hidden")]
    lines += [f"Comment=Written by `{COMMAND}`: lets {program} (and every script it runs) take "
              "screenshots and send input on KDE Plasma; `tracer setup kde --undo` removes it"
              if original is None else
              f"# written by `{COMMAND}` over {original.path}; `tracer setup kde --undo` removes it"]
    if original is None:
        lines.append(f"Exec={quoted}")
    lines += [f"{DBUS_KEY}={SCREENSHOT}", f"{WAYLAND_KEY}={FAKE_INPUT}", f"{MARK}={program}", ""]
    return "\n".join(lines)


@dataclass
class Change:
    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    shadowed: list[Path] = field(default_factory=list)  # the other entries tracer's copies hide


def setup(program: str | None = None, env: dict[str, str] | None = None) -> Change:
    """Write tracer's entry for ``program`` (default: this interpreter) and a granting copy over
    every other entry naming it. A user's own entry naming it is left alone: a ConfigError
    says which lines to add to it."""
    from tracer_cli.errors import ConfigError

    program = program or executable()
    folder = _user_dir(env)
    change = Change()
    others = [e for e in naming(program, env) if not e.ours]
    mine = [e for e in others if e.path.parent == folder or folder in e.path.parents]
    if mine and not all(e.grants() for e in mine):
        raise ConfigError(f"your own desktop entry {mine[0].path} names {program}, and KWin may "
                          "read it instead of tracer's",
                          f"add the lines {DBUS_KEY}={SCREENSHOT} and {WAYLAND_KEY}={FAKE_INPUT} "
                          "to it, or remove it, then run tracer setup kde again")
    folder.mkdir(parents=True, exist_ok=True)
    planned = [(folder / our_id(program), _content(program))]
    for entry in others:
        if entry not in mine:
            planned.append((folder / entry.id, _content(program, entry)))
            change.shadowed.append(entry.path)
    for path, text in planned:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        change.written.append(path)
    return change


def undo(program: str | None = None, env: dict[str, str] | None = None) -> Change:
    """Remove every file tracer wrote for ``program`` from the user's applications folder."""
    program = program or executable()
    folder = _user_dir(env)
    change = Change()
    if folder.is_dir():
        for path in sorted(folder.rglob("*.desktop")):
            entry = read_entry(path.name, path)
            if entry.keys.get(MARK) == program:
                path.unlink()
                change.removed.append(path)
    return change


def wait_taken(env: dict[str, str] | None = None, timeout: float = 10.0) -> float | None:
    """Seconds until KWin (of this session) lets this program take a screenshot, once it
    noticed the entry; None where no KWin answers on the session bus, or it still refuses after
    ``timeout`` seconds."""
    import time

    from tracer_cli.desktop.platforms.dbus_client import Bus
    from tracer_cli.desktop.platforms.kde_screen import grab
    from tracer_cli.errors import TracerError

    env = dict(os.environ) if env is None else env
    started = time.monotonic()
    try:
        bus = Bus(env.get("DBUS_SESSION_BUS_ADDRESS") or "SESSION", timeout=5)
    except Exception:  # no session bus: nothing to wait for
        return None
    try:
        if not bus.has_owner("org.kde.KWin"):
            return None
        while True:
            try:
                grab(bus, "CaptureArea", "iiuua{sv}h", (0, 0, 1, 1, {}))
                return time.monotonic() - started
            except TracerError:
                if time.monotonic() - started > timeout:
                    return None
                time.sleep(0.1)
    finally:
        bus.close()
