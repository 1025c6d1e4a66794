"""Grounding: turning a step's target description into a point on the screenshot.

As in TraceR1, the planner forecasts and a grounder places the step that is about to run. By
default the planner's own model does both (its plan carries coordinates, and a step without them
is located by the same model). With ``--grounder`` a second model, often one trained for
grounding such as UI-TARS-1.5, places every targeted step; the planner's point remains the
fallback when the grounder's answer is unreadable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tracer_cli.errors import PlanError
from tracer_cli.screen import downscale

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.backends import Backend
    from tracer_cli.profiles import Profile


@dataclass
class Grounding:
    point: tuple[int, int]  # 0..1000 on the screenshot
    answer: str
    seconds: float


class Grounder:
    def __init__(self, backend: Backend, profile: Profile, retries: int = 1,
                 always: bool = False, max_pixels: int = 0, image_factor: int = 0) -> None:
        self.backend = backend
        self.profile = profile
        self.retries = retries
        self.always = always  # re-place steps that already have a point (a dedicated grounder)
        self.max_pixels = max_pixels  # the grounder's own image budget (0: the planner's image)
        self.image_factor = image_factor

    def locate(self, image: Image.Image, target: str) -> Grounding:
        if self.max_pixels and self.image_factor:
            image = downscale(image, self.max_pixels, self.image_factor)
        messages = self.profile.ground_messages(image, target)
        started = time.monotonic()
        error = ""
        for _ in range(self.retries + 1):
            text = self.backend.complete(messages).text
            try:
                point = self.profile.parse_point(text, image.size)
                return Grounding(point, text, time.monotonic() - started)
            except PlanError as exc:
                error = exc.message
            messages = [*messages, {"role": "assistant", "content": text},
                        self.profile.retry_message(error)]
        raise PlanError(f"the grounder could not locate {target!r}: {error}")
