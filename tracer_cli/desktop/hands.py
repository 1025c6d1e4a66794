"""A run's hands, made one way for the command line and the MCP server: the user's switches
(the kill and pause hotkeys on their own desktop, and the control socket of `tracer stop` and
`tracer pause`), the lock that keeps a second run off the desktop acted on, the actuator that
obeys the switches, the screen, and the watch that ends the run when the desktop goes away."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tracer_cli.desktop.killswitch import PauseRequest, StopRequest, check_apart
from tracer_cli.errors import DisplayLost, TracerError

if TYPE_CHECKING:
    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import LiveActuator
    from tracer_cli.desktop.control import ControlSocket
    from tracer_cli.desktop.lock import DesktopLock
    from tracer_cli.desktop.platform import Platform, Switch
    from tracer_cli.desktop.sandbox import Sandbox
    from tracer_cli.desktop.screen import Screen


def desktops(settings: Settings, sandbox: Sandbox | None = None) -> tuple[Platform, Platform | None]:
    """The desktop a run acts on, and the user's own desktop where the kill and pause hotkeys
    are pressed (None: the user has none here). They are one desktop except for a sandbox
    (``--sandbox``, or ``--display`` naming a running sandbox's display)."""
    from tracer_cli.desktop.platform import choose
    from tracer_cli.desktop.sandbox import find

    if sandbox is None and settings.display:
        sandbox = find(settings.display)
    if sandbox is None:
        acting = choose(settings.platform, settings.display)
        return acting, acting
    from tracer_cli.desktop.platforms.x11 import X11Platform

    acting = X11Platform(sandbox.display, sandbox.xauthority)
    if not (settings.kill_hotkey or settings.pause_hotkey):
        return acting, None  # no hotkey to arm: the user's own desktop is not needed
    try:
        user: Platform | None = choose(settings.platform if settings.platform != "x11" else "auto")
    except TracerError:
        user = None
    return acting, user


@dataclass
class Switches:
    """How the user stops and pauses tracer: ``kill`` and ``pause`` (None where off or where
    the user has no desktop of their own to press them on), and the control socket."""

    pause: PauseRequest
    kill: Switch | None = None
    pause_switch: Switch | None = None
    control: ControlSocket | None = None
    notes: list[str] = field(default_factory=list)  # how to stop and pause, for the user
    on_pause: Callable[[bool], None] | None = None  # told of each pause (True) and resume

    def toggled(self, paused: bool) -> None:
        if self.on_pause is not None:
            self.on_pause(paused)

    def forbidden(self) -> dict[frozenset[str], str]:
        """The chords tracer must never press itself."""
        chords = {}
        if self.kill is not None:
            chords[self.kill.chord] = "kill hotkey"
        if self.pause_switch is not None:
            chords[self.pause_switch.chord] = "pause hotkey"
        return chords

    def close(self) -> None:
        for part in (self.control, self.pause_switch, self.kill):
            if part is not None:
                part.close()


def arm(platform: Platform | None, settings: Settings, stop: StopRequest,
        wake: Callable[[], None] | None = None) -> Switches:
    """Arm the kill switch (first: it works while a model loads) and the pause hotkey on the
    user's own desktop ``platform`` (None: they have none here), and open the control socket.
    A switch that cannot be armed is a DisplayError with the fix; nothing stays armed then."""
    pause = PauseRequest()
    switches = Switches(pause)
    try:
        if platform is not None and settings.kill_hotkey:
            switches.kill = platform.kill_switch(settings.kill_hotkey, stop, wake)
        if platform is not None and settings.pause_hotkey:
            switches.pause_switch = platform.pause_switch(settings.pause_hotkey, pause,
                                                          switches.toggled)
        if switches.kill is not None and switches.pause_switch is not None:
            check_apart(switches.kill.chord, switches.pause_switch.chord, settings.pause_hotkey)
        for switch in (switches.kill, switches.pause_switch):
            if switch is not None:
                switch.start()
        switches.control = _control(stop, pause, wake, switches.toggled)
    except BaseException:
        switches.close()
        raise
    return switches


def _control(stop: StopRequest, pause: PauseRequest, wake: Callable[[], None] | None,
             on_pause: Callable[[bool], None]) -> ControlSocket | None:
    from tracer_cli.desktop.control import ControlSocket

    def stopped() -> None:
        stop.request("stopped by tracer stop")
        if wake is not None:
            wake()

    def paused() -> str:
        pause.toggle()
        now = pause.requested.is_set()
        on_pause(now)
        return "paused" if now else "resumed"

    control = ControlSocket(stopped, paused, {})
    try:
        control.start()
    except OSError:
        return None  # no socket folder here: the hotkeys and Ctrl-C still stop the run
    return control


@dataclass
class Hands:
    """What acts: the actuator and the screen of one monitor of ``platform``."""

    platform: Platform
    actuator: LiveActuator
    screen: Screen

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.actuator.release_all()
        try:
            self.screen.close()
        finally:
            self.actuator.close()


def open_hands(platform: Platform, monitor: int, stop: threading.Event,
               switches: Switches) -> Hands:
    """The actuator (obeying ``stop`` and the switches' pause, never pressing their chords)
    and the screen of ``monitor``."""
    from tracer_cli.desktop.actuator import LiveActuator

    actuator = LiveActuator(platform.open_input(), stop, forbidden=switches.forbidden(),
                            pause=switches.pause)
    try:
        screen = platform.open_screen(monitor, input_size=actuator.size())
    except BaseException:
        actuator.close()
        raise
    return Hands(platform, actuator, screen)


def lock(platform: Platform, what: str, wait: bool = False,
         stop: threading.Event | None = None) -> DesktopLock:
    """Take the desktop's lock for ``what`` (refused, naming the holder, unless ``wait``)."""
    from tracer_cli.desktop.lock import DesktopLock

    held = DesktopLock(platform.target(), what)
    held.acquire(wait=wait, stop=stop)
    return held


def watch(platform: Platform, stop: StopRequest, wake: Callable[[], None] | None = None,
          reason: Callable[[str], str] | None = None) -> Callable[[], None]:
    """End the run with an error (not as a user's stop) if the desktop goes away; returns what
    stops watching. ``reason`` words the loss (a sandbox says it ended)."""

    def lost(why: str) -> None:
        text = reason(why) if reason is not None else why
        stop.request(text, DisplayLost(text, "start the desktop again and rerun"))
        if wake is not None:
            wake()

    return platform.watch(lost)
