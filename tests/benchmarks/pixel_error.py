"""Pixel error of native answers: where a click a model names lands against the pixel it means.

For each profile and screen size, every point of a grid on the image tracer sends is written as
that family writes it (UI-TARS: absolute pixels of the image; Qwen3-VL and tracer1: 0..1000),
read by the profile, mapped to the monitor by tracer's Geometry, and compared with the exact
pixel the answer names (the point's fraction of the image times the screen size, rounded).
No display is needed: this measures the reading and mapping arithmetic; the e2e tests check the
real input events.

    python tests/benchmarks/pixel_error.py [--step 7]
"""

from __future__ import annotations

import argparse
import json

from PIL import Image

from tracer_cli.agent.profiles import PROFILES, PlanRequest
from tracer_cli.desktop.screen import Geometry, Rect

SCREENS = [(1280, 800), (1920, 1080), (1366, 768), (2560, 1440)]


def answer(profile: str, px: int, py: int, size: tuple[int, int]) -> tuple[str, tuple[float, float]]:
    """A native click answer for image pixel (px, py), and the fraction of the image it names."""
    w, h = size
    if profile.startswith("ui-tars"):
        return f"Thought: click it.\nAction: click(point='<point>{px} {py}</point>')", (px / w, py / h)
    x, y = round(px * 1000 / w), round(py * 1000 / h)
    if profile == "qwen3-vl":
        body = json.dumps({"name": "computer_use", "arguments": {"action": "left_click",
                                                                  "coordinate": [x, y]}})
        return f"Action: click it.\n<tool_call>\n{body}\n</tool_call>", (x / 1000, y / 1000)
    plan = {"thought": "t", "trajectory": [{"action": "click", "x": x, "y": y, "target": "it"}]}
    return json.dumps(plan), (x / 1000, y / 1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", type=int, default=7, help="grid step in image pixels")
    args = parser.parse_args()
    print("| profile | screen | image sent | points | max error (px) | mean error (px) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("tracer1", "qwen3-vl", "ui-tars"):
        profile = PROFILES.get(name)()
        for width, height in SCREENS:
            size = profile.geometry.size(width, height)
            request = PlanRequest("t", Image.new("RGB", size), 1)
            geometry = Geometry(Rect(0, 0, width, height))
            errors = []
            for py in range(0, size[1], args.step):
                for px in range(0, size[0], args.step):
                    text, (fx, fy) = answer(name, px, py, size)
                    step = profile.parse(text, request).first
                    got = geometry.to_desktop(*step.points()[0])
                    want = (min(round(fx * width), width - 1), min(round(fy * height), height - 1))
                    errors.append(max(abs(got[0] - want[0]), abs(got[1] - want[1])))
            print(f"| {name} | {width}x{height} | {size[0]}x{size[1]} | {len(errors)} | "
                  f"{max(errors)} | {sum(errors) / len(errors):.3f} |")


if __name__ == "__main__":
    main()
