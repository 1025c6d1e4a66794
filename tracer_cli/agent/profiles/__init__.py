"""Model profiles: how to prompt a model family and how to read its answer into our Plan.

A profile registers itself with ``@PROFILES.register("name")`` in a module of this package or
through the ``tracer.profiles`` entry-point group.

A profile may also have ``first_step(text, request) -> BaseStep | None``: the first step of an
answer still being written, once no more text can change it (None before). tracer then runs that
step while the model writes the rest (``agent/early.py``). A profile whose format cannot say
that before the answer ends has none, and its answers are read whole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tracer_cli.errors import PlanError
from tracer_cli.registry import Registry

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.profiles.geometry import ImageGeometry
    from tracer_cli.agent.profiles.hints import Hint
    from tracer_cli.plan import Plan, Subgoal


@dataclass(frozen=True)
class HistoryEntry:
    """One executed step as the model is told about it."""

    number: int
    description: str
    outcome: str
    summary: str = ""  # the model's own words for the step (Qwen3-VL's "Action: ..." line)
    answer: str = ""  # the model's reply that forecast this step (first step of a call only)
    image: Image.Image | None = None  # the screenshot that reply was made on

    def said(self) -> str:
        return self.summary or self.description


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
    history_images: int = 0  # earlier screenshots to send, each with the reply made on it
    subgoals: list[Subgoal] | None = None  # None: not asked for; else the checklist so far
    elements: list[Hint] | None = None  # --elements: the active window's, listed after the screenshot

    def history_text(self) -> str:
        """The steps done so far with their outcomes, then the revision note if there is one
        (the plain-text history the tracer1 and qwen3-vl prompts share)."""
        if not self.history:
            text = "No steps executed yet."
        else:
            lines = [f"{h.number}. {h.description} -> {h.outcome}" for h in self.history]
            text = "Steps executed so far (oldest first):\n" + "\n".join(lines)
        if self.subgoals:
            marks = "\n".join(f"[{'x' if g.done else ' '}] {g.goal}" for g in self.subgoals)
            text += f"\n\nYour sub-goals so far ([x]: done):\n{marks}"
        return text + (f"\n\n{self.revision.text()}" if self.revision else "")


class Profile(Protocol):
    name: str
    geometry: ImageGeometry  # the image sizes the family's processor keeps, its coordinate space
    max_tokens: int  # the answer budget this prompt needs (a catalogue entry may raise it)
    history_images: int  # earlier screenshots sent by default (with the replies made on them)

    def messages(self, request: PlanRequest) -> list[dict[str, Any]]: ...

    def parse(self, text: str, request: PlanRequest) -> Plan: ...

    def retry_message(self, error: str) -> dict[str, Any]: ...

    def ground_messages(self, image: Image.Image, target: str) -> list[dict[str, Any]]:
        """Ask for the single point of the element described by ``target``."""

    def parse_point(self, text: str, image_size: tuple[int, int]) -> tuple[int, int]:
        """Read that point, in 0..1000 coordinates; PlanError if there is none."""

    def zoom_messages(self, crop: Image.Image, target: str) -> list[dict[str, Any]]:
        """The turn(s) to append to the conversation that made a plan (after the model's reply)
        asking where ``target`` is on ``crop``, a full-resolution part of the screen around the
        point the model chose; the answer is read by ``parse_point`` with the crop's size."""

    def schema(self, horizon: int) -> dict[str, Any] | None:
        """The JSON schema of a valid answer, for grammar-constrained decoding (None: none)."""


def window_start(count: int, size: int) -> int:
    """Where a window of at most ``size`` of the latest of ``count`` items starts. It moves by
    half its size at a time, not one item at a time: between moves a prompt only grows at its
    end, so a local model keeps reusing its cached start."""
    excess = count - size
    if excess <= 0:
        return 0
    stride = max(1, size // 2)
    return -(-excess // stride) * stride  # excess rounded up to a multiple of the stride


def past_turns(request: PlanRequest) -> list[dict[str, Any]]:
    """Earlier steps as the multi-turn agents of UI-TARS and Qwen3-VL send them: the model's own
    replies as assistant turns, the latest of them (at most ``history_images``) each after the
    screenshot it was made on (as a user turn). Replies before that window stay as text only.

    The window moves as ``window_start`` says, so a local model finds every earlier screenshot
    in its cache and encodes just the new one (tests/benchmarks/history_cache.py measures it)."""
    from tracer_cli.desktop.screen import data_url

    replies = [h for h in request.history if h.answer]
    keep = request.history_images
    first_image = len(replies) if keep <= 0 else window_start(len(replies), keep)
    turns: list[dict[str, Any]] = []
    for index, entry in enumerate(replies):
        if index >= first_image and entry.image is not None:
            turns.append({"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": data_url(entry.image, request.image_format)}}]})
        turns.append({"role": "assistant", "content": entry.answer})
    return turns


def outcome_note(request: PlanRequest) -> str:
    """What tracer saw happen that a reply cannot know: steps that failed or changed nothing,
    and why the last forecast stopped holding."""
    notes = [f"Step {h.number} ({h.said()}) -> {h.outcome}" for h in request.history[-3:]
             if h.outcome != "ok"]
    text = "\n".join(notes)
    if request.revision:
        text += ("\n\n" if text else "") + request.revision.text()
    return text


class FollowUp(PlanError):
    """An answer that is only the first half of one of our steps: a hover before a scroll at the
    pointer, a move before a drag from the cursor. Tracer cannot hover on its own, so the
    planner sends ``turn`` (where the pointer now is) and reads the next answer with ``read``,
    which knows that point: the two answers make one step. A reader that knows nothing of
    follow-ups sees a PlanError, and the answer is refused as before."""

    def __init__(self, message: str, turn: dict[str, Any], read: Callable[[str], Plan]) -> None:
        super().__init__(message)
        self.turn = turn
        self.read = read


PROFILES: Registry[Profile] = Registry("profile", __name__, "tracer.profiles")
