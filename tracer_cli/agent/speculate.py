"""Adaptive re-planning: may the next forecast step run without asking the model again?

After a step ran, the next step of the forecast runs straight away only when cheap checks on the
model-size screenshots say it still holds (milliseconds, against seconds for a model call):

- the last step went as forecast: it ran without error, the screen settled and changed;
- nothing unexpected appeared: since the screen tracer last vouched for (the one the model
  looked at, or the one a check passed on since), the screen changed only around the points
  tracer acted on (a dialog, a menu or a page opening elsewhere fails this);
- a click, scroll or drag: the image around its point on the screenshot the model planned on is
  still there, at or within a few pixels of the point (a template match that leaves out focus
  and hover outlines that came or went); a point on nothing recognisable (a flat patch) cannot
  be checked by its image;
- or a click whose target appeared only after the step before (a menu item, a dialog's button):
  its label, read by OCR in a strip around its point (``labels``), is the target's;
- typing or keys: they follow a click (typing into the field just clicked) or other keys;
- where the desktop has an accessibility tree (``by_identity``): a click's point is still on the
  element it was forecast on, or on one whose name is its target; another element there sends
  the step back to the model with its name ("the point is now on menu item 'Quit'");
  typing or keys go to the element that has the keyboard focus only when it is the one the
  plan expects (``by_focus``): the element the click before acted on, or one the step's target
  names; another element with the focus sends the step back naming both.

Anything else (done, fail, wait, a click the model left to a grounder, too many forecast steps in
a row) goes back to the model. A *failed* check goes back with the old forecast and the reason,
so the model can revise its plan; a step no check can vouch for just asks anew.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from tracer_cli.plan import COORD_MAX, BaseStep, Hotkey, PointStep, Type

if TYPE_CHECKING:
    from PIL import Image

    from tracer_cli.agent.outcome import Outcome
    from tracer_cli.desktop.elements import Element
from tracer_cli.agent.effects import Effect

# Reads the target's text near a point of an image: the text read when it names the target.
Reader = Callable[["Image.Image", tuple[int, int], str], "str | None"]

ANCHOR = 0.015  # half side of the patch around a point, as a fraction of the image's width
SEARCH = 0.01  # how far the patch may have moved, as a fraction of the image's width
MATCH = 0.9  # normalised correlation the patch must reach at its new place
FLAT = 8.0  # a patch whose grey levels vary less than this holds nothing to recognise
ELSEWHERE = 0.005  # fraction of the screen changed away from the acted-on points: unexpected
AROUND = 0.08  # half the side of the box around an acted-on point (as effects.NEAR)
CAUSED = 0.15  # a changed region touching an acted-on point, at most this much of the screen,
#                counts as the action's doing before a click (never before keys: see check())
TINT_SLOPE = 0.2  # a tint keeps what it covers visible: it dims to a fifth at most
SIBLING = 0.25  # how much a sibling's size may differ from the acted-on element's (a fraction)
NEIGHBOURS = 4  # how far a sibling may stand, in the element's widths (on a row) or heights
RUN = 10  # pixels: a straight run of change this long is decoration (a focus ring, an outline)
STRAY = 0.02  # fraction of a patch that may change other than by decoration


@dataclass(frozen=True)
class Verdict:
    """Whether a forecast step may run without a model call, and why (one line)."""

    status: Literal["ok", "failed", "unchecked"]
    reason: str
    step: BaseStep | None = None  # the step to run (its point moved along with its target)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Previous:
    """The step run just before, as the checks need it."""

    step: BaseStep
    outcome: Outcome
    effect: Effect | None


def unexpected_change(planned: Image.Image, current: Image.Image, acted: list[tuple[int, int]],
                      connected: bool = False) -> Any:
    """Where the screen changed since ``planned`` (the screen last vouched for: the model's, or
    the one the last passed check saw) away from where tracer acted, as a boolean
    array at a quarter of the image's size: outside the box around each acted-on point
    (0..1000) and outside the element under it. ``connected``: a changed region that reaches
    into such a box and covers at most CAUSED of the screen counts as the action's own doing
    too (the pop-up whose Close button was clicked, disappearing; a menu dropping from the
    title clicked), and so does an element's sibling: a region of the acted-on element's size
    on its row or column, a few elements away (the radio button or tab that was selected
    before, now not)."""
    import cv2
    import numpy as np

    from tracer_cli.desktop.pixels import changed as differ
    from tracer_cli.desktop.pixels import grey, memo
    from tracer_cli.vision.elements import element_box_in

    size = (max(1, planned.width // 4), max(1, planned.height // 4))
    # (the screenshot planned on is compared again before every step of its forecast)
    small0, small1 = memo(planned, "quarter", _quarter), memo(current, "quarter", _quarter)
    changed = differ(small0, small1, 16)  # 16/255 in any channel: not noise
    if changed.mean() > CAUSED:  # much changed: maybe a backdrop that dimmed or lifted
        changed &= ~_tinted(small0, small1, changed)
    near = np.zeros(changed.shape, dtype=bool)  # True: the action's own doing
    pixels = np.array(memo(planned, "grey", grey))  # writable, as floodFill wants
    rx, ry = max(2, AROUND * size[0]), max(2, AROUND * size[1])
    boxes = []  # the acted-on elements, at the quarter size
    for x, y in acted:
        cx, cy = x * size[0] / COORD_MAX, y * size[1] / COORD_MAX
        near[max(0, int(cy - ry)):max(0, int(cy + ry) + 1),
             max(0, int(cx - rx)):max(0, int(cx + rx) + 1)] = True
        box = element_box_in(pixels, (x, y))
        if box is not None:
            near[max(0, box[1] // 4 - 1):box[3] // 4 + 2, max(0, box[0] // 4 - 1):box[2] // 4 + 2] = True
            boxes.append((box[0] / 4, box[1] / 4, (box[2] - box[0]) / 4, (box[3] - box[1]) / 4))
    keep = changed & ~near
    if connected and keep.any():
        count, labels, stats, _ = cv2.connectedComponentsWithStats(changed.astype(np.uint8),
                                                                   connectivity=8)
        caused = set(np.unique(labels[near & changed]).tolist())
        for label in range(1, count):
            left, top, width, height, area = stats[label]
            if area <= CAUSED * changed.size and (
                    label in caused or any(_sibling((left, top, width, height), b) for b in boxes)):
                keep &= labels != label
    return keep


def _sibling(region: tuple[float, float, float, float], element: tuple[float, float, float, float]) -> bool:
    """Whether ``region`` (left, top, width, height) has the size of ``element`` within
    SIBLING and stands on its row or in its column, at most NEIGHBOURS of its widths or heights
    from it."""
    left, top, width, height = region
    eleft, etop, ewidth, eheight = element
    if ewidth < 2 or eheight < 2:
        return False
    if abs(width - ewidth) > SIBLING * ewidth + 1 or abs(height - eheight) > SIBLING * eheight + 1:
        return False
    dx = abs(left + width / 2 - eleft - ewidth / 2)
    dy = abs(top + height / 2 - etop - eheight / 2)
    return ((dy <= eheight / 2 and dx <= NEIGHBOURS * ewidth)
            or (dx <= ewidth / 2 and dy <= NEIGHBOURS * eheight))


def _tinted(before: Any, after: Any, changed: Any) -> Any:
    """Where ``after`` is ``before`` only tinted: the changed pixels that one dimming or
    brightening explains within noise, as a modal dialog's backdrop does to a web page (what it
    covers is still there). A backdrop is black or white laid over the page, so each channel is
    scaled towards 0 or towards 255 by one factor, the median over the changed pixels (robust
    to the dialog's own pixels, which are not a tint). Nothing when it explains under half of
    them, or when the factor would all but hide the page (TINT_SLOPE)."""
    import numpy as np

    x = before[changed].astype(np.float32)  # changed pixels x 3 channels
    y = after[changed].astype(np.float32)
    best = None
    for origin in (0.0, 255.0):  # a black backdrop, or a white one
        dx, dy = x - origin, y - origin
        usable = np.abs(dx) >= 16
        if usable.sum() < 16:
            continue
        factor = float(np.median(dy[usable] / dx[usable]))
        if not TINT_SLOPE <= factor <= 1 / TINT_SLOPE:
            continue
        fits = np.abs(dy - factor * dx).max(axis=1) < 16
        if best is None or fits.sum() > best.sum():
            best = fits
    tinted = np.zeros(changed.shape, dtype=bool)
    if best is not None and best.mean() >= 0.5:
        tinted[changed] = best
    return tinted


def _quarter(image: Image.Image) -> Any:
    """The image's colours at a quarter of its size (area averages: a one-pixel change is not
    a change there)."""
    import cv2

    from tracer_cli.desktop.pixels import colour

    size = (max(1, image.width // 4), max(1, image.height // 4))
    return cv2.resize(colour(image), size, interpolation=cv2.INTER_AREA)


def changed_elsewhere(planned: Image.Image, current: Image.Image,
                      acted: list[tuple[int, int]], connected: bool = False) -> float:
    """The fraction of the screen that changed since ``planned`` away from where tracer acted
    (``unexpected_change``)."""
    if planned.size != current.size:
        return 1.0
    keep = unexpected_change(planned, current, acted, connected)
    return float(keep.sum()) / keep.size


def _covers(keep: Any, point: tuple[int, int]) -> bool:
    """Whether ``point`` (0..1000) lies inside the bounds of the unexpected change ``keep``:
    what appeared is where the forecast step's target is."""
    import numpy as np

    ys, xs = np.nonzero(keep)
    if not len(xs):
        return False
    height, width = keep.shape
    x, y = point[0] * width / COORD_MAX, point[1] * height / COORD_MAX
    return bool(xs.min() - 1 <= x <= xs.max() + 1 and ys.min() - 1 <= y <= ys.max() + 1)


def find_anchor(planned: Image.Image, current: Image.Image,
                point: tuple[int, int]) -> tuple[str, float, tuple[int, int]]:
    """Look for the patch around ``point`` of ``planned`` at or near the same place on
    ``current``. Returns ("flat" | "found" | "lost" | "unavailable", score, shift in 0..1000).
    A patch that changed in place only by straight lines (a focus ring or a hover outline that
    came or went) is still found there (``decorated_score``)."""
    try:
        import cv2
        import numpy as np
    except ImportError:  # pragma: no cover - opencv is a dependency
        return "unavailable", 0.0, (0, 0)
    from tracer_cli.desktop.pixels import grey

    if planned.size != current.size:
        return "lost", 0.0, (0, 0)
    width, height = planned.size
    half = max(6, round(ANCHOR * width))
    reach = max(3, round(SEARCH * width))
    px, py = round(point[0] * width / COORD_MAX), round(point[1] * height / COORD_MAX)
    # The patch, cut to the image near its edges; the window around it, as far as it reaches.
    x0, y0 = max(0, px - half), max(0, py - half)
    x1, y1 = min(width, px + half + 1), min(height, py + half + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return "flat", 0.0, (0, 0)
    g0, g1 = grey(planned), grey(current)
    patch = g0[y0:y1, x0:x1].astype(np.float32)
    if float(patch.std()) < FLAT:
        return "flat", 0.0, (0, 0)
    wx0, wy0 = max(0, x0 - reach), max(0, y0 - reach)
    wx1, wy1 = min(width, x1 + reach), min(height, y1 + reach)
    window = g1[wy0:wy1, wx0:wx1].astype(np.float32)
    scores = cv2.matchTemplate(window, patch, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    here = float(scores[y0 - wy0, x0 - wx0])
    if here < MATCH and best < MATCH:
        here = max(here, decorated_score(patch, g1[y0:y1, x0:x1].astype(np.float32)))
    if here >= MATCH and here >= best - 0.02:  # still in place (a plain field matches anywhere
        best, bx, by = here, x0 - wx0, y0 - wy0  # along itself: do not call that a move)
    dx, dy = wx0 + bx - x0, wy0 + by - y0
    shift = (round(dx * COORD_MAX / width), round(dy * COORD_MAX / height))
    return ("found" if best >= MATCH else "lost"), float(best), shift


def decorated_score(patch: Any, here: Any) -> float:
    """The correlation of ``patch`` with ``here`` (the same place on the new screen) leaving
    out decoration: pixels that changed along straight horizontal runs of at least RUN pixels
    or upright ones of RUN (3 x RUN without a horizontal one), gaps of a dotted line bridged,
    and no thicker than a line. 0 when anything else
    changed (more than STRAY of the patch: a letter, an icon, a new element), when decoration
    covers over half the patch, or when what is left is flat."""
    import cv2
    import numpy as np

    changed = (np.abs(patch - here) >= 16).astype(np.uint8)
    if not changed.any():
        return 1.0
    bridged_h = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((1, 3), np.uint8))
    bridged_v = cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((3, 1), np.uint8))
    across = cv2.morphologyEx(bridged_h, cv2.MORPH_OPEN, np.ones((1, RUN), np.uint8))
    # Upright runs as long as a letter's stem are decoration only beside a ring's top or
    # bottom; alone (a ring's side) they must be longer than any stem of the text around.
    upright = 3 * RUN if not across.any() else RUN
    lines = across | cv2.morphologyEx(bridged_v, cv2.MORPH_OPEN, np.ones((upright, 1), np.uint8))
    # ... and thin: not part of a solid blob of change (text, an icon), 5 x 5 once gaps are closed
    solid = cv2.morphologyEx(cv2.morphologyEx(changed, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)),
                             cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    decoration = lines.astype(bool) & ~cv2.dilate(solid, np.ones((3, 3), np.uint8)).astype(bool)
    stray = changed.astype(bool) & ~decoration
    if stray.sum() > STRAY * changed.size or decoration.mean() > 0.5:
        return 0.0
    a, b = patch[~decoration], here[~decoration]
    if float(a.std()) < FLAT or float(b.std()) < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def check(step: BaseStep, planned: Image.Image | None, current: Image.Image | None,
          previous: Previous | None, acted: list[tuple[int, int]], run_so_far: int,
          limit: int, read: Reader | None = None, since: Image.Image | None = None) -> Verdict:
    """May ``step``, the next one of the forecast made on ``planned``, run now on ``current``
    without a model call? ``since`` is the screen tracer last vouched for (``planned``, or the
    screen the last check passed on: what was expected up to then, a dialog whose button was
    read there, a pop-up gone whose Close was clicked, is not news again), ``acted`` the points
    acted on since then (and the two before), ``previous`` the step just run and ``run_so_far``
    the forecast steps already run without the model. Targets are found by their image on
    ``planned``, the only screen the model saw. ``read`` (OCR) verifies a click whose target
    appeared only after the last step by its text."""
    if step.is_terminal:
        return Verdict("unchecked", f"{step.describe()} is the model's to decide")
    if run_so_far >= limit:
        return Verdict("unchecked", f"{run_so_far} forecast steps in a row: time to look again")
    if previous is None:
        return Verdict("unchecked", "no step ran before this one")
    outcome = previous.outcome
    keys = isinstance(step, Type | Hotkey)
    # A click into a field that had the focus already shows next to nothing: keys may follow it.
    focused_field = (keys and outcome.ok and outcome.visible is False
                     and isinstance(previous.step, PointStep) and bool(previous.step.points())
                     and planned is not None
                     and find_anchor(planned, planned, previous.step.points()[0])[0] == "found")
    if not outcome.as_forecast and not focused_field:
        return Verdict("failed", f"the last step ({previous.step.describe()}) did not go as "
                       f"forecast: {outcome.text() or 'not run'}")
    if planned is None or current is None:
        return Verdict("unchecked", "no screenshot of the screen after the last step")
    # Before a click, a change that grows out of the element just acted on is that action's
    # doing (the target check below still has to find the click's own target in place);
    # before keys, which have no target to check, only changes inside the acted-on boxes are.
    since = planned if since is None or since.size != planned.size else since
    if planned.size != current.size:
        return Verdict("failed", "the screen changed size since the model looked")
    keep = unexpected_change(since, current, acted, connected=not keys)
    elsewhere = float(keep.sum()) / keep.size
    if elsewhere > ELSEWHERE:
        # A dialog opened by the last step, with the forecast's next target on it: its text.
        points = step.points()
        if not keys and len(points) == 1 and _covers(keep, points[0]):
            verdict = _read_target(step, current, points[0], read, "it appeared after the last step")
            if verdict is not None:
                return verdict
        return Verdict("failed", f"the screen changed away from where tracer acted "
                       f"({elsewhere:.1%} of it): something appeared that the forecast did not show")
    if keys:
        if isinstance(previous.step, PointStep | Type | Hotkey):
            return Verdict("ok", f"keys follow {previous.step.describe()}, the screen changed "
                           "only there", step)
        return Verdict("unchecked", f"{step.describe()} does not follow a click or keys")
    points = step.points()
    if not points:
        return Verdict("unchecked", f"{step.describe()} has no point to check")
    shifts = []
    for point in points:
        found, score, shift = find_anchor(planned, current, point)
        if found == "unavailable":
            return Verdict("unchecked", "no image matcher (opencv) to check the target with")
        if found in ("flat", "lost") and len(points) == 1:
            verdict = _read_target(step, current, point, read, "the image there changed")
            if verdict is not None:
                return verdict
        if found == "flat":
            return Verdict("unchecked", f"nothing recognisable at ({point[0]},{point[1]}) to "
                           "check the target by")
        if found == "lost":
            return Verdict("failed", f"the target of {step.describe()} is no longer where it "
                           f"was forecast (best match {score:.2f})")
        shifts.append(shift)
    if isinstance(step, PointStep) and shifts[0] != (0, 0):
        x, y = points[0]
        moved = step.at(min(COORD_MAX, max(0, x + shifts[0][0])),
                        min(COORD_MAX, max(0, y + shifts[0][1])))
        return Verdict("ok", f"target found moved by {shifts[0]}", moved)
    return Verdict("ok", "target still at its point", step)


def _read_target(step: BaseStep, current: Image.Image, point: tuple[int, int], read: Reader | None,
                 why: str) -> Verdict | None:
    """The verdict of reading the target's text at ``point`` (None: not read there)."""
    target = getattr(step, "target", "")
    if read is None or not target:
        return None
    text = read(current, point, target)
    if not text:
        return None
    return Verdict("ok", f"'{text}' read at ({point[0]},{point[1]}), where the forecast put "
                   f"{step.describe()} ({why})", step)


# The pixel checks' failures that the element now under the point explains better.
TARGET_GONE = ("the target of", "the screen changed away")


def names_target(target: str, name: str) -> bool:
    """Whether an element's name is what a step's target text names: the whole name as a
    word of the target ("+" in "the + button", never in "M+"), case and mnemonics aside."""
    import re

    def norm(text: str) -> str:
        return " ".join(text.replace("_", "").rstrip(".…").casefold().split())

    name, target = norm(name), norm(target)
    if not name or not target:
        return False
    return name == target or re.search(rf"(?<![\w+\-]){re.escape(name)}(?![\w+\-])", target) is not None


def by_identity(step: BaseStep, verdict: Verdict, planned: Element | None,
                now: Element | None) -> Verdict:
    """The pixel checks' verdict on a forecast click, weighed with the accessibility tree:
    the element under its point now (``now``) against the one there when the forecast was made
    (``planned``) and the step's target text. Another element there sends the step back to the
    model naming it; the same element vouches for a point the pixels could not check. Without
    an element now (no tree, a program without one) the pixels decide alone."""
    if not isinstance(step, PointStep) or len(step.points()) != 1 or now is None:
        return verdict
    same = planned is not None and (planned.role, planned.name) == (now.role, now.name)
    if same or names_target(step.target, now.name):
        why = (f"the element there is still {now.describe()}" if same
               else f"the element there is {now.describe()}, the target")
        if verdict.ok:
            return Verdict("ok", f"{verdict.reason}; {why}", verdict.step)
        if verdict.status == "unchecked" and verdict.reason.startswith("nothing recognisable"):
            return Verdict("ok", why, step)
        return verdict
    if planned is None or not (planned.anchorable or now.anchorable):
        return verdict  # (two unnamed containers tell nothing)
    if verdict.status == "failed" and not verdict.reason.startswith(TARGET_GONE):
        return verdict  # (the last step itself went wrong: that is what the model must hear)
    return Verdict("failed", f"the point of {step.describe()} is now on {now.describe()} "
                   f"(it was on {planned.describe()} when forecast)")


FOCUS_MOVES = ("tab",)  # keys that move the keyboard focus on purpose (where to, the plan cannot say)


def by_focus(step: BaseStep, verdict: Verdict, expected: Element | None,
             focus: Element | None) -> Verdict:
    """The pixel checks' verdict on forecast typing or keys, weighed with the element that has
    the keyboard focus now (``focus``): the one the plan expects is ``expected`` (the focusable
    element the click before acted on, or a part of it) or one the step's target names (an editable one, for
    typing). Another element with the focus sends the step back to the model naming both;
    without a focused element (no tree, a program without one) or an expectation, the pixels
    decide alone."""
    if not isinstance(step, Type | Hotkey) or focus is None:
        return verdict
    target = str(step.notes.get("target", "")).strip()
    named = bool(target) and names_target(target, focus.name) and (
        isinstance(step, Hotkey) or "editable" in focus.states)
    if named or (expected is not None and (expected.same(focus) or _part_of(focus, expected))):
        why = f"the keyboard focus is on {focus.describe()}" + (", the target" if named else "")
        if verdict.ok:
            return Verdict("ok", f"{verdict.reason}; {why}", verdict.step)
        if named and verdict.status == "unchecked":
            return Verdict("ok", why, step)
        return verdict
    if expected is None and not target:
        return verdict
    if verdict.status == "failed" and not verdict.reason.startswith(TARGET_GONE):
        return verdict  # (the last step itself went wrong: that is what the model must hear)
    wanted = expected.describe() if expected is not None else repr(target)
    return Verdict("failed", f"the keyboard focus is on {focus.describe()}, not on {wanted}: "
                   f"{step.describe()} would go there")


def _part_of(inner: Element, outer: Element) -> bool:
    """Whether ``inner`` is a part of ``outer`` (a combo box's button, a spin button's entry):
    the same program's window, its box within the other's."""
    left, top, right, bottom = inner.box
    return (inner.app, inner.window) == (outer.app, outer.window) and right > left and \
        outer.contains(left, top) and outer.contains(right - 1, bottom - 1)


def expected_focus(step: BaseStep, acted: Element | None, before: Element | None) -> Element | None:
    """Where the plan expects keys to go after ``step`` ran: the element a click acted on, when
    it takes the focus; after keys (``acted``: the element they went to), the same place as
    before, unless they moved the focus on purpose (Tab)."""
    if isinstance(step, Hotkey) and any(k in FOCUS_MOVES for k in step.keys):
        return None
    if isinstance(step, Type | Hotkey):
        return before or acted
    if acted is not None and ({"focusable", "editable"} & acted.states):
        return acted
    return None
