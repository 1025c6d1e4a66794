"""The frame every bench program shares: a window, its state written to a JSON file after every
event, and every mouse press logged with the widget the task needed pressed then and how far the
press landed from its centre (the grounding error).

    python -m tracer_cli.bench.programs NAME --state STATE.json

The state file: {"ready": true, "done": false, "screen": [w, h], "next": {"action": "click",
"target": "OK", "x": 612, "y": 410, ...} or null, "presses": [{"x", "y", "button", "target",
"cx", "cy", "error"}], "values": {...}}. Coordinates are the screen's pixels. ``next`` is the
step that moves the task on from where it stands (what an expert would do); the check reads
``done``.
"""

from __future__ import annotations

import json
import math
import os
import tkinter as tk
from typing import Any

TITLE = "tracer bench"
FONT = ("DejaVu Sans", 13)
PRESS_TAG = "BenchPress"


class BenchApp:
    """A bench program: subclasses build the widgets, say the next step and when it is done."""

    name = ""
    task = ""  # the instruction the agent gets
    geometry = "820x560+150+90"

    def __init__(self, state_path: str) -> None:
        self.state_path = state_path
        self.root = tk.Tk()
        self.root.title(f"{TITLE}: {self.name}")
        self.root.geometry(self.geometry)
        self.root.option_add("*Font", FONT)
        self.presses: list[dict[str, Any]] = []
        self.values: dict[str, Any] = {}
        self.expected: dict[str, Any] | None = None
        self.build()
        # a press is measured before any widget handles it (a tab switches on the press)
        self.root.bind_class(PRESS_TAG, "<ButtonPress>", self._pressed)
        self._tag_widgets()
        self.root.bind_all("<ButtonRelease>", lambda e: self.changed(), add="+")
        self.root.bind_all("<KeyRelease>", lambda e: self.changed(), add="+")
        for event in ("<Map>", "<Unmap>", "<Configure>"):  # windows shown, hidden or moved
            self.root.bind_all(event, lambda e: self.changed(), add="+")
        self.root.after(300, self._tick)

    # ---- for subclasses
    def build(self) -> None:
        raise NotImplementedError

    def next(self) -> dict[str, Any] | None:
        """The step that moves the task on (None when done)."""
        raise NotImplementedError

    def done(self) -> bool:
        raise NotImplementedError

    # ---- helpers for subclasses
    def label(self, text: str, **kw: Any) -> tk.Label:
        widget = tk.Label(self.root, text=text, **kw)
        widget.pack(pady=8)
        return widget

    @staticmethod
    def centre(widget: tk.Misc, dx: int = 0, dy: int = 0, box: tuple[int, int, int, int] | None = None
               ) -> tuple[int, int]:
        """A widget's centre (or of ``box``, x, y, w, h inside it) in screen pixels."""
        x0, y0 = widget.winfo_rootx(), widget.winfo_rooty()
        if box is not None:
            return x0 + box[0] + box[2] // 2 + dx, y0 + box[1] + box[3] // 2 + dy
        return x0 + widget.winfo_width() // 2 + dx, y0 + widget.winfo_height() // 2 + dy

    def click(self, widget: tk.Misc, target: str, action: str = "click",
              box: tuple[int, int, int, int] | None = None) -> dict[str, Any]:
        x, y = self.centre(widget, box=box)
        size = [box[2], box[3]] if box is not None else [widget.winfo_width(), widget.winfo_height()]
        return {"action": action, "target": target, "x": x, "y": y, "size": size}

    @staticmethod
    def type(text: str) -> dict[str, Any]:
        return {"action": "type", "text": text}

    @staticmethod
    def hotkey(*keys: str) -> dict[str, Any]:
        return {"action": "hotkey", "keys": list(keys)}

    def changed(self) -> None:
        self.root.after_idle(self.write)

    # ---- state
    def _pressed(self, event: tk.Event) -> None:
        if event.num not in (1, 2, 3):  # the wheel (4, 5) is not a press at a target
            return
        record: dict[str, Any] = {"x": event.x_root, "y": event.y_root, "button": event.num}
        intended = self.expected
        if intended and "x" in intended:
            record.update(target=intended.get("target", ""), cx=intended["x"], cy=intended["y"],
                          error=round(math.hypot(event.x_root - intended["x"],
                                                 event.y_root - intended["y"]), 1))
        self.presses.append(record)
        self.changed()

    def _tick(self) -> None:
        self.write()
        self.root.after(300, self._tick)

    def _tag_widgets(self) -> None:
        """Put the press-measuring tag first on every widget (new ones too: menus, dialogs)."""
        todo: list[tk.Misc] = [self.root]
        while todo:
            widget = todo.pop()
            tags = widget.bindtags()
            if tags[0] != PRESS_TAG:
                widget.bindtags((PRESS_TAG, *tags))
            todo.extend(widget.winfo_children())

    def write(self) -> None:
        if not self.root.winfo_ismapped():
            return
        self._tag_widgets()
        finished = self.done()
        self.expected = None if finished else self.next()
        state = {"ready": True, "name": self.name, "done": finished, "next": self.expected,
                 "screen": [self.root.winfo_screenwidth(), self.root.winfo_screenheight()],
                 "presses": self.presses, "values": self.values}
        tmp = self.state_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump(state, file)
        os.replace(tmp, self.state_path)

    def run(self) -> None:
        self.root.mainloop()
