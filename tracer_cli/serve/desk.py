"""The desktop the server acts on.

Everything is fixed when the server starts, like a `tracer do` run: the desktop (`--display`,
`--platform`, or the session's, found even when the client passed no environment), the monitor,
the settings and the safety policy. Without a desktop the server starts anyway and each tool
call answers with the line that says what to set. The kill hotkey stays armed for the
server's whole life; pressing it stops whatever tool is acting (typing stops between two keys),
and the next tool call re-arms it. The pause hotkey too: a `do` or `run_macro` pauses until the
person hands back; a primitive returns "paused" at once. Tools act one at a time, each inside
``acting()``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracer_cli.desktop.killswitch import StopRequest
from tracer_cli.errors import TracerError

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.config import Settings
    from tracer_cli.desktop.actuator import LiveActuator
    from tracer_cli.desktop.hands import Switches
    from tracer_cli.desktop.platform import Platform
    from tracer_cli.desktop.screen import Screen


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
    actuator: LiveActuator
    screen: Screen
    platform: Platform


class Desk:
    def __init__(self, settings: Settings, parts: Parts) -> None:
        self.settings = settings
        self.parts = parts
        self.platform: Platform | None = None
        self.user: Platform | None = None
        self.switches: Switches | None = None
        self.unusable: TracerError | None = None  # why no tool can see the desktop
        self._lock = threading.Lock()
        self._current: StopRequest | None = None
        self._models: tuple[Any, Any] | None = None

    @property
    def switch(self) -> Any:
        """The kill switch, where one is armed."""
        return self.switches.kill if self.switches is not None else None

    def open(self) -> None:
        """Find the desktop and arm the kill switch. Without a desktop the server starts
        anyway: each tool call then answers with the one line that says what to set."""
        from tracer_cli.desktop.hands import desktops

        try:
            self.platform, self.user = desktops(self.settings)
            self._arm()
        except TracerError as exc:  # no desktop, or no way to stop tracer on it: no tool acts
            self.platform, self.unusable = None, exc

    def close(self) -> None:
        if self.switches is not None:
            self.switches.close()
            self.switches = None
        if self._models is not None:
            self.parts.close_models(*self._models)
            self._models = None

    def _arm(self) -> None:
        from tracer_cli.desktop.hands import arm

        if self.switches is not None:
            self.switches.close()
        self.switches = arm(self.user, self.settings, StopRequest(), self._killed)

    def _killed(self) -> None:
        """The kill switch fired (on its listener's thread): stop the tool that is acting."""
        current = self._current
        if current is not None and self.switches is not None:
            kill = self.switches.kill
            current.request(getattr(kill, "reason", "") or "stopped by the kill switch")

    def desktop(self) -> Platform:
        """The desktop the tools act on, or the one-line error that says what to set."""
        if self.platform is None:
            raise self.unusable or TracerError("the MCP server has no desktop")
        return self.platform

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    @contextmanager
    def acting(self, stop: StopRequest | None = None) -> Iterator[Hands]:
        """The hands of one tool call (in the thread that uses them: a screen is per thread).
        Waits for a tool still acting; refused, naming the holder, while a `tracer do` or `tracer
        run` holds the desktop; re-arms a kill switch that fired during an earlier call.
        ``stop``: the call's own stop request, made by the caller to stop it from outside (a
        client that cancels the call)."""
        from tracer_cli.desktop import hands

        platform = self.desktop()
        with self._lock:
            kill = self.switches.kill if self.switches is not None else None
            if getattr(kill, "triggered_at", None) is not None:
                self._arm()
            assert self.switches is not None
            stop = stop or StopRequest()
            held = hands.lock(platform, "tracer mcp")
            try:
                live = hands.open_hands(platform, self.settings.monitor, stop, self.switches)
                self._current = stop
                try:
                    yield Hands(stop, live.actuator, live.screen, platform)
                finally:
                    self._current = None
                    live.close()
            finally:
                held.release()

    @contextmanager
    def looking(self, exclusive: bool = False) -> Iterator[Screen]:
        """The screen alone, for tools that only look (screenshot, plan, a macro's dry run);
        ``exclusive`` waits for the tool that is acting (plan shares its model)."""
        platform = self.desktop()
        with self._lock if exclusive else contextlib.nullcontext():
            screen = platform.open_screen(self.settings.monitor)
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
