"""The desktop the server acts on.

Everything is fixed when the server starts, like a `tracer do` run: the display (`--display` or
DISPLAY), the monitor, the settings and the safety policy. The kill hotkey stays armed for the
server's whole life; pressing it stops whatever tool is acting (typing stops between two keys),
and the next tool call re-arms it. Tools act one at a time, each inside ``acting()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.killswitch import KillSwitch, StopRequest
from tracer_cli.desktop.screen import check_display

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import PyAutoGUIActuator
    from tracer_cli.desktop.screen import MssScreen


@dataclass
class Parts:
    """What the server borrows from the command line's wiring (passed in, so that this package
    sits below the CLI): the planner and grounder maker, and the preview drawings."""

    make_models: Callable[[Settings], tuple[Any, Any]]
    close_models: Callable[[Any, Any], None]
    annotate: Callable[[Image.Image, Any], Image.Image]  # a screenshot with a plan's markers
    draw_marks: Callable[..., Image.Image]  # a screenshot with a macro dry run's markers


@dataclass
class Hands:
    """One tool call's input: its own stop request, the actuator that obeys it, the screen."""

    stop: StopRequest
    actuator: PyAutoGUIActuator
    screen: MssScreen


class Desk:
    def __init__(self, settings: Settings, parts: Parts) -> None:
        self.settings = settings
        self.parts = parts
        self.switch: KillSwitch | None = None
        self._lock = threading.Lock()
        self._current: StopRequest | None = None
        self._models: tuple[Any, Any] | None = None

    def open(self) -> None:
        """Check the display and arm the kill switch (errors say how to fix them)."""
        check_display()
        self._arm()

    def close(self) -> None:
        if self.switch is not None:
            self.switch.close()
            self.switch = None
        if self._models is not None:
            self.parts.close_models(*self._models)
            self._models = None

    def _arm(self) -> None:
        if not self.settings.kill_hotkey:
            return
        if self.switch is not None:
            self.switch.close()
        self.switch = KillSwitch(self.settings.kill_hotkey, StopRequest(), self._killed)
        self.switch.start()

    def _killed(self) -> None:
        """The kill switch fired (on its listener's thread): stop the tool that is acting."""
        current = self._current
        if current is not None and self.switch is not None:
            current.request(self.switch.reason)

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextmanager
    def acting(self, stop: StopRequest | None = None) -> Iterator[Hands]:
        """The hands of one tool call (in the thread that uses them: mss is per thread). Waits for
        a tool still acting; re-arms a kill switch that fired during an earlier call. ``stop``:
        the call's own stop request, made by the caller to stop it from outside (a client that
        cancels the call)."""
        from tracer_cli.desktop.actuator import PyAutoGUIActuator
        from tracer_cli.desktop.screen import MssScreen

        with self._lock:
            if self.switch is not None and self.switch.triggered_at is not None:
                self._arm()
            stop = stop or StopRequest()
            forbidden = [self.switch.chord] if self.switch is not None else []
            actuator = PyAutoGUIActuator(stop, forbidden=forbidden)
            screen = MssScreen(self.settings.monitor, input_size=actuator.size())
            self._current = stop
            try:
                yield Hands(stop, actuator, screen)
            finally:
                self._current = None
                actuator.release_all()
                screen.close()

    @contextmanager
    def looking(self, exclusive: bool = False) -> Iterator[MssScreen]:
        """The screen alone, for tools that only look (screenshot, plan, a macro's dry run);
        ``exclusive`` waits for the tool that is acting (plan shares its model)."""
        from tracer_cli.desktop.screen import MssScreen

        with self._lock if exclusive else contextlib.nullcontext():
            screen = MssScreen(self.settings.monitor)
            try:
                yield screen
            finally:
                screen.close()

    def models(self) -> tuple[Any, Any]:
        """The planner and the grounder, made at the first call that needs them and kept (a local
        model loads once per server, not once per call)."""
        if self._models is None:
            self._models = self.parts.make_models(self.settings)
        return self._models
