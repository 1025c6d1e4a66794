"""Writing the report page: the run record read (model.py), poured into template.html with its
stylesheet and script inline, written private (it shows the desktop and what was typed)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from tracer_cli import private
from tracer_cli.agent.runlog import RunSummary
from tracer_cli.report.model import Report, build
from tracer_cli.vision.marks import Mark, arrow_head, ring_arcs, stroke, trim

HERE = Path(__file__).resolve().parent


def _seconds(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    if value >= 60:
        minutes, seconds = divmod(value, 60)
        return f"{int(minutes)} min {seconds:.0f} s"
    return f"{value:.2f} s" if value < 10 else f"{value:.1f} s"


def _number(value: float) -> str:
    """A coordinate or score as written: 120 rather than 120.0, 0.973 as it is."""
    return f"{value:g}"


def _points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _arcs(mark: Mark, scale: float) -> list[str]:
    """The ring's arcs (vision/marks.ring_arcs: all of it off text, an arc above and one below
    the text at the point) as SVG path data."""
    x, y = mark.point
    r = mark.radius
    paths = []
    for start, end in ring_arcs(mark, stroke(scale) + 2):
        a, b = math.radians(start), math.radians(end)
        large = 1 if end - start > 180 else 0
        paths.append(f"M {x + r * math.cos(a):.1f} {y + r * math.sin(a):.1f} "
                     f"A {r:.1f} {r:.1f} 0 {large} 1 {x + r * math.cos(b):.1f} {y + r * math.sin(b):.1f}")
    return paths


def render(report: Report) -> str:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(HERE), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters["seconds"] = _seconds
    env.filters["points"] = _points
    env.filters["number"] = _number
    env.globals.update(trim=trim, arrow_head=arrow_head, arcs=_arcs)
    return env.get_template("template.html").render(report=report)


def write_report(summary: RunSummary, out: Path) -> Report:
    """The report of ``summary`` written to ``out`` (0600)."""
    report = build(summary)
    private.write_text(out, render(report))
    return report
