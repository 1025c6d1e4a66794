"""Elements: what the desktop's accessibility tree says is at a point (a push button named "+",
a checked check box, an entry and its text), as a second sense beside the pixels.

One small interface (``Elements``) with one reader per kind of desktop: AT-SPI on X11 and, its
boxes placed through the compositor's word on where windows lie (placement.py), on sway and KDE
Plasma (platforms/atspi.py); ``NoElements`` wherever there is no tree (no accessibility bus, a
toolkit that exposes nothing such as Tk, GNOME on Wayland where window positions are unknown). Every
answer may be None: the pixels stay the default path, the tree only makes some of their
guesses sure. Boxes are in desktop pixels: (left, top, right, bottom), right and bottom
excluded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

# The AT-SPI state enum (at-spi2-core's AtspiStateType), by bit: GetState answers two 32-bit
# words, bit n of the pair is state n.
STATES = (
    "invalid", "active", "armed", "busy", "checked", "collapsed", "defunct", "editable",
    "enabled", "expandable", "expanded", "focusable", "focused", "has-tooltip", "horizontal",
    "iconified", "modal", "multi-line", "multiselectable", "opaque", "pressed", "resizable",
    "selectable", "selected", "sensitive", "showing", "single-line", "stale", "transient",
    "vertical", "visible", "manages-descendants", "indeterminate", "required", "truncated",
    "animated", "invalid-entry", "supports-autocompletion", "selectable-text", "is-default",
    "visited", "checkable", "has-popup", "read-only",
)

# Roles a user acts on: the element a click means, rather than a label or a panel inside it.
INTERACTIVE_ROLES = frozenset({
    "push button", "toggle button", "check box", "radio button", "menu item", "check menu item",
    "radio menu item", "menu", "link", "entry", "password text", "text", "combo box", "list item",
    "page tab", "slider", "spin button", "table cell", "tree item", "icon", "switch",
    "button", "editbar", "terminal"})

# States that say something about what an action did (effects) or whether it may be done.
MEANINGFUL_STATES = ("checked", "expanded", "selected", "focused", "pressed", "sensitive",
                     "indeterminate", "editable")


def decode_states(words: list[int] | tuple[int, ...]) -> frozenset[str]:
    """The names of the states set in an AT-SPI state set (its 32-bit words, low word first);
    bits past the known states are named ``state-N``."""
    names = set()
    for index, word in enumerate(words):
        for bit in range(32):
            if word >> bit & 1:
                n = index * 32 + bit
                names.add(STATES[n] if n < len(STATES) else f"state-{n}")
    return frozenset(names)


@dataclass(frozen=True)
class Element:
    """One node of an application's accessibility tree."""

    role: str  # AT-SPI's role name: "push button", "menu item", "entry", ...
    name: str
    box: tuple[int, int, int, int]  # left, top, right, bottom in desktop pixels
    states: frozenset[str] = frozenset()
    text: str | None = None  # the text of a text element (an entry's content)
    app: str = ""
    window: str = ""  # the name (title) of its top-level window
    path: tuple[str, ...] = ()  # the roles from the window down to it
    ref: tuple[str, str] | None = field(default=None, compare=False, repr=False)  # bus, object

    @property
    def center(self) -> tuple[int, int]:
        left, top, right, bottom = self.box
        return (left + right) // 2, (top + bottom) // 2

    def contains(self, x: int, y: int) -> bool:
        left, top, right, bottom = self.box
        return left <= x < right and top <= y < bottom

    @property
    def anchorable(self) -> bool:
        """Whether a macro can name it again: an element a user acts on, with a name."""
        return bool(self.name.strip()) and self.role in INTERACTIVE_ROLES and len(self.name) <= 300

    def describe(self) -> str:
        """``push button '+'``, ``entry`` (what a person calls it)."""
        return f"{self.role} {self.name!r}" if self.name else self.role

    def same(self, other: Element | None) -> bool:
        """Whether ``other`` is this element (read again): the same object of the same
        program where both were read from a tree, else the same role, name and box."""
        if other is None:
            return False
        if self.ref is not None and other.ref is not None:
            return self.ref == other.ref
        return (self.role, self.name, self.box) == (other.role, other.name, other.box)

    def anchor(self) -> dict[str, str]:
        """The element as a recorded macro names it: role and name. Not its window's title,
        which many programs change as they go (a browser's page, an editor's file); the
        recorded point picks among elements of the same role and name."""
        return {"role": self.role, "name": self.name}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "name": self.name, "box": list(self.box)}
        shown = sorted(s for s in self.states if s in MEANINGFUL_STATES)
        if shown:
            out["states"] = shown
        if self.text is not None:
            out["text"] = self.text
        if self.window:
            out["window"] = self.window
        if self.app:
            out["app"] = self.app
        return out


def label(data: Any) -> str:
    """An element as the run record keeps it (``to_dict``, with ``by``: "focus" for where keys
    go), as a person reads it: ``push button '+'``, ``text 'Name' (keyboard focus)``; "" for
    anything else."""
    if not isinstance(data, dict) or not isinstance(data.get("role"), str):
        return ""
    name = data.get("name")
    said = f"{data['role']} {name!r}" if isinstance(name, str) and name else data["role"]
    return f"{said} (keyboard focus)" if data.get("by") == "focus" else said


def state_change(before: Element, after: Element | None) -> str:
    """What changed about an element that an action may have done (checked, expanded,
    focused, its text, its name), in a few words; "" for nothing (or the element gone)."""
    if after is None:
        return ""
    parts = []
    for state in MEANINGFUL_STATES:
        if state in after.states and state not in before.states:
            parts.append(state)
        elif state in before.states and state not in after.states:
            parts.append(f"no longer {state}")
    if after.text is not None and before.text != after.text:
        parts.append("its text changed")
    if before.name != after.name:
        parts.append(f"now named {after.name!r}")
    return f"{after.describe()}: {', '.join(parts)}" if parts else ""


class Elements(Protocol):
    """The accessibility tree of one desktop, read cheaply: each call is bounded in time and
    answers None (or nothing) rather than wait on a slow application."""

    available: bool  # a tree can be read at all
    reason: str  # why not, when it cannot
    mapping: str  # how boxes become desktop pixels where programs answer per window (Wayland)

    def at(self, x: int, y: int) -> Element | None:
        """The element at a desktop pixel: the deepest interactive one the tree has there."""

    def active_window(self) -> list[Element]:
        """The showing elements of the active window (of the topmost one, where none is
        active) that no other window covers, the window itself first."""

    def find(self, role: str, name: str, window: str | None = None,
             near: tuple[int, int] | None = None) -> list[Element]:
        """The showing elements whose role and name are exactly these, in the windows named
        ``window`` (any window where None), none hidden under another window; the window at
        the desktop pixel ``near`` is searched first, then the active one."""

    def focused(self) -> Element | None:
        """The element that has the keyboard focus (where typed keys go), with its text: in
        the active window (where no window says it is active, the first one that has a focused
        element); None where none has it."""

    def reread(self, element: Element) -> Element | None:
        """The element as it is now (states, text, box); None when it is gone."""

    def applications(self) -> list[str]:
        """The names of the running applications that expose a tree."""

    def forget(self) -> None:
        """Drop what was cached: the screen changed."""

    def close(self) -> None: ...


class NoElements:
    """No tree here: every answer is empty, at no cost."""

    available = False
    mapping = ""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def at(self, x: int, y: int) -> Element | None:
        return None

    def active_window(self) -> list[Element]:
        return []

    def find(self, role: str, name: str, window: str | None = None,
             near: tuple[int, int] | None = None) -> list[Element]:
        return []

    def focused(self) -> Element | None:
        return None

    def reread(self, element: Element) -> Element | None:
        return None

    def applications(self) -> list[str]:
        return []

    def forget(self) -> None:
        pass

    def close(self) -> None:
        pass


WAYLAND = ("gnome", "kde", "wlroots")  # the platforms on Wayland


def open_elements(platform: Any) -> Elements:
    """The elements of a platform's desktop: its ``elements()`` where it has one (X11: AT-SPI,
    where an accessibility bus runs), else ``NoElements`` saying why."""
    opener = getattr(platform, "elements", None)
    if opener is None:
        where = platform.describe() if hasattr(platform, "describe") else "this desktop"
        if getattr(platform, "name", "") in WAYLAND:
            return NoElements(f"not mapped on {where}: Wayland clients report element boxes "
                              "relative to their windows, whose positions tracer does not know")
        return NoElements(f"tracer reads no accessibility tree on {where}")
    return opener()  # type: ignore[no-any-return]
