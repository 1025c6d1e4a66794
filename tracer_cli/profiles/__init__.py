"""Model profiles: how to prompt a model family and how to read its answer into our Plan.

A profile registers itself with ``@PROFILES.register("name")`` in a module of this package or
through the ``tracer.profiles`` entry-point group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.registry import Registry

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.plan import Plan
    from tracer_cli.profiles.geometry import ImageGeometry


@dataclass(frozen=True)
class HistoryEntry:
    """One executed step as the model is told about it."""

    number: int
    description: str
    outcome: str


@dataclass(frozen=True)
class Revision:
    """The rest of the last forecast and why tracer stopped following it: given to the model
    so that it repairs the plan rather than starting over."""

    steps: list[str]  # descriptions of the forecast steps that did not run, the failed one first
    reason: str  # what diverged

    def text(self) -> str:
        lines = "\n".join(f"- {s}" for s in self.steps)
        return (f"Your previous forecast went on with:\n{lines}\nIt was stopped before its "
                f"first step above because {self.reason}. Revise the plan for the current screen: "
                "keep what still holds, change what does not.")


@dataclass
class PlanRequest:
    task: str
    image: Image.Image  # the screenshot as the model sees it (already downscaled)
    horizon: int
    history: list[HistoryEntry] = field(default_factory=list)
    image_format: str = "png"
    revision: Revision | None = None  # set when the last forecast stopped holding

    def history_text(self) -> str:
        """The steps done so far with their outcomes, then the revision note if there is one
        (the plain-text history the tracer1 and qwen3-vl prompts share)."""
        if not self.history:
            text = "No steps executed yet."
        else:
            lines = [f"{h.number}. {h.description} -> {h.outcome}" for h in self.history]
            text = "Steps executed so far (oldest first):\n" + "\n".join(lines)
        return text + (f"\n\n{self.revision.text()}" if self.revision else "")


class Profile(Protocol):
    name: str
    geometry: ImageGeometry  # the image sizes the family's processor keeps, its coordinate space
    max_tokens: int  # the answer budget this prompt needs (a catalogue entry may raise it)

    def messages(self, request: PlanRequest) -> list[dict[str, Any]]: ...

    def parse(self, text: str, request: PlanRequest) -> Plan: ...

    def retry_message(self, error: str) -> dict[str, Any]: ...

    def ground_messages(self, image: Image.Image, target: str) -> list[dict[str, Any]]:
        """Ask for the single point of the element described by ``target``."""

    def parse_point(self, text: str, image_size: tuple[int, int]) -> tuple[int, int]:
        """Read that point, in 0..1000 coordinates; PlanError if there is none."""

    def schema(self, horizon: int) -> dict[str, Any] | None:
        """The JSON schema of a valid answer, for grammar-constrained decoding (None: none)."""


PROFILES: Registry[Profile] = Registry("profile", __name__, "tracer.profiles")
