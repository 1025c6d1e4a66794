"""Zoom grounding: a click placed again on a full-resolution crop around the planner's point.

On a CPU the vision encoder is most of a planning call and grows faster than the image tokens,
so a smaller planner screenshot (a lower ``--max-pixels``) is much cheaper; but under the
family's grounding minimum its clicks are less exact. Then every click, forecast steps
included, is placed on a crop of the full-resolution screen centred on the planner's point:

- with the planner's own model, as a follow-up turn of the conversation that made the plan (the
  planning messages, the model's reply, then the crop and the target). A local model finds all
  of that conversation in its KV cache and evaluates only the crop and a few words; the next
  click of the same forecast appends another turn;
- with a dedicated grounder, as its standalone grounding prompt on the crop (instead of a
  second whole screenshot).

The crop's sides are multiples of the answering family's factor (no processor resizes it), and
its point maps back to the screen pixel it names exactly. An unreadable answer, or one outside
the crop, leaves the planner's point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tracer_cli.agent.planner import ask
from tracer_cli.plan import COORD_MAX

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.backends import Backend
    from tracer_cli.agent.planner import Attempt
    from tracer_cli.agent.profiles import Profile
    from tracer_cli.agent.profiles.geometry import ImageGeometry

CROP_TILES = 14  # tiles (patch x merge) per side of a crop: 448 px for Qwen3-VL, 392 for Qwen2.5-VL


def needed(geometry: ImageGeometry, screen_size: tuple[int, int], image_size: tuple[int, int]) -> bool:
    """Whether the planner's image of this screen has fewer pixels than the family's grounding
    minimum would give it (the default budget never zooms; a lowered --max-pixels does)."""
    w, h = geometry.size(*screen_size, geometry.grounding_pixels)
    return image_size[0] * image_size[1] < w * h


def pixel(value: float, side: int) -> int:
    """The pixel a 0..1000 coordinate names on a side of ``side`` pixels (as the actuator's
    mapping does: rounded, kept inside)."""
    return min(max(round(value * side / COORD_MAX), 0), side - 1)


@dataclass(frozen=True)
class Box:
    """A crop of the screen, in pixels of the full-resolution capture."""

    left: int
    top: int
    width: int
    height: int

    def to_screen(self, point: tuple[float, float], screen: tuple[int, int]) -> tuple[float, float]:
        """A 0..1000 point of the crop -> the 0..1000 point of the screen that names the same
        pixel (a fraction kept, as the coordinate code keeps it)."""
        x = self.left + pixel(point[0], self.width)
        y = self.top + pixel(point[1], self.height)
        return round(x * COORD_MAX / screen[0], 3), round(y * COORD_MAX / screen[1], 3)

    def as_list(self) -> list[int]:
        return [self.left, self.top, self.width, self.height]


def crop_box(point: tuple[float, float], screen: tuple[int, int], geometry: ImageGeometry,
             tiles: int = CROP_TILES) -> Box | None:
    """A crop of ``tiles`` x ``tiles`` of the family's tiles centred on the screen pixel the
    0..1000 ``point`` names, moved inside the screen; None when the screen is too small for a
    crop that the family's processor keeps as it is."""
    factor = geometry.factor
    width = min(factor * tiles, screen[0] // factor * factor)
    height = min(factor * tiles, screen[1] // factor * factor)
    if width * height < geometry.min_pixels:
        return None
    x, y = pixel(point[0], screen[0]), pixel(point[1], screen[1])
    left = min(max(x - width // 2, 0), screen[0] - width)
    top = min(max(y - height // 2, 0), screen[1] - height)
    return Box(left, top, width, height)


@dataclass
class ZoomResult:
    box: Box
    point: tuple[float, float] | None  # on the screen, 0..1000; None: keep the planner's point
    attempts: list[Attempt] = field(default_factory=list)
    error: str = ""
    crop_point: tuple[float, float] | None = None  # the answer's point, 0..1000 of the crop

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)

    def to_dict(self) -> dict[str, Any]:
        """What the run record keeps of it."""
        out: dict[str, Any] = {"box": self.box.as_list(), "seconds": round(self.seconds, 3),
                               "calls": len(self.attempts)}
        if self.attempts:
            last = self.attempts[-1]
            out.update(answer=last.answer, prompt_tokens=last.prompt_tokens,
                       reused_tokens=last.reused_tokens, evaluated_tokens=last.evaluated_tokens)
        if self.crop_point is not None:
            out["crop_point"] = list(self.crop_point)
        if self.error:
            out["error"] = self.error
        return out


class Zoomer:
    """Asks a model where the target is on a crop. ``follow_up``: the crop is a turn of the
    conversation that made the plan (the planner's own model), else a standalone prompt (a
    dedicated grounder)."""

    def __init__(self, backend: Backend, profile: Profile, follow_up: bool) -> None:
        self.backend = backend
        self.profile = profile
        self.follow_up = follow_up
        self.conversation: list[dict[str, Any]] = []  # the plan's conversation, with every zoom turn

    def start(self, conversation: list[dict[str, Any]]) -> None:
        """A new plan: its messages and the model's reply (the zoom turns follow them)."""
        self.conversation = list(conversation)

    def place(self, screen: Image.Image, point: tuple[float, float], target: str) -> ZoomResult | None:
        """Where ``target`` is, asked on a crop of the full-resolution ``screen`` around the
        planner's ``point``; None when the screen is too small to crop."""
        box = crop_box(point, screen.size, self.profile.geometry)
        if box is None:
            return None
        crop = screen.crop((box.left, box.top, box.left + box.width, box.top + box.height))
        turn = self.profile.zoom_messages(crop, target) if self.follow_up \
            else self.profile.ground_messages(crop, target)
        messages = [*self.conversation, *turn] if self.follow_up else turn
        found, attempts = ask(self.backend, self.profile, messages,
                              lambda text: self.profile.parse_point(text, crop.size), retries=0)
        if self.follow_up and attempts:  # the next click of this forecast continues from here
            self.conversation = [*messages, {"role": "assistant", "content": attempts[-1].answer}]
        result = ZoomResult(box, None, attempts)
        if found is None:
            result.error = attempts[-1].error if attempts else "no answer"
        else:
            result.crop_point = found
            result.point = box.to_screen(found, screen.size)
        return result
