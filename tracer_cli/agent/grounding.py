"""Grounding: turning a step's target description into a point on the screenshot.

As in TraceR1, the planner forecasts and a grounder places the step that is about to run. By
default the planner's own model does both (its plan carries coordinates, and a step without them
is located by the same model). With ``--grounder`` a second model, often one trained for
grounding such as UI-TARS-1.5, places every targeted step; the planner's point remains the
fallback when the grounder's answer is unreadable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracer_cli.agent.planner import ask
from tracer_cli.desktop.screen import downscale
from tracer_cli.errors import PlanError

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.backends import Backend
    from tracer_cli.agent.profiles import Profile


@dataclass
class Grounding:
    point: tuple[int, int]  # 0..1000 on the screenshot
    answer: str
    seconds: float


class Grounder:
    def __init__(self, backend: Backend, profile: Profile, retries: int = 1,
                 always: bool = False, max_pixels: int | None = None) -> None:
        self.backend = backend
        self.profile = profile
        self.retries = retries
        self.always = always  # re-place steps that already have a point (a dedicated grounder)
        # A dedicated grounder's own image budget (0: its family's default), applied to the
        # full-resolution screen; None: the planner's image as it is (the planner's own model
        # grounds).
        self.max_pixels = max_pixels

    def locate(self, image: Image.Image, target: str) -> Grounding:
        if self.max_pixels is not None:
            image = downscale(image, self.profile.geometry.size(*image.size, self.max_pixels))
        size = image.size
        point, attempts = ask(self.backend, self.profile,
                              self.profile.ground_messages(image, target),
                              lambda text: self.profile.parse_point(text, size), self.retries)
        if point is None:
            raise PlanError(f"the grounder could not locate {target!r}: {attempts[-1].error}")
        return Grounding(point, attempts[-1].answer, sum(a.seconds for a in attempts))
