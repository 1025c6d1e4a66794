"""Dry-run pictures: the screenshot with a marker at each forecast point (a ring kept off the text
there, the number beside it, so the word under a click stays readable; see vision/marks.py),
arrows between them, typed text and keys beside the step they follow, and a legend of every
step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracer_cli.plan import COORD_MAX, Plan, step_dict

if TYPE_CHECKING:
    from PIL import Image


def annotate(image: Image.Image, plan: Plan) -> Image.Image:
    """A forecast drawn on the screenshot the model saw (points 0..1000 of it)."""
    from tracer_cli.vision.marks import keys_label

    def at(x: float, y: float) -> tuple[float, float]:
        return x * image.width / COORD_MAX, y * image.height / COORD_MAX

    steps = [[at(x, y) for x, y in step.points()] for step in plan.trajectory]
    keys = [keys_label(step_dict(step)) for step in plan.trajectory]
    legend = [f"{n}. {s.describe()}" for n, s in enumerate(plan.trajectory, 1)]
    if plan.thought:
        legend.insert(0, plan.thought[:120])
    return draw_marks(image, steps, legend, keys)


def draw_marks(image: Image.Image, steps: list[list[tuple[float, float]]], legend: list[str],
               keys: list[str] | None = None,
               boxes: list[tuple[int, int, int, int] | None] | None = None) -> Image.Image:
    """Markers at each step's pixel points (a second point: a drag's end), kept off the text
    there, white arrows from one step to the next, ``keys`` of keyboard steps beside the step
    before, and the legend box in the emptiest corner. ``boxes``: where each step's target was
    found, when known."""
    from tracer_cli.vision import marks

    keys = keys or [""] * len(steps)
    boxes = boxes or [None] * len(steps)
    layout = marks.layout(image.size, [marks.Step(tuple(map(tuple, p)), k, b)  # type: ignore[arg-type]
                                       for p, k, b in zip(steps, keys, boxes, strict=True)],
                          image=image)
    return marks.draw(image, layout, legend)
