"""A GTK 3 calculator for the accessibility-tree tests: a grid of short buttons where both ``+``
and ``M+`` exist (so a near match by text would be a wrong click), and an entry that shows what
was pressed. Run it with the system Python that has ``gi``:

    /usr/bin/python3 gtk_calc.py LOG [TITLE [X,Y]]

LOG gets one JSON object a line, each with "t" (time.monotonic()):
  {"event": "ready"}                       first drawn
  {"event": "button", "label": ..}         a button was clicked
  {"event": "text", "text": ..}            the entry's text after each change
With X,Y the window is placed there (X11 without a window manager places it as asked).
With CALC_HEADERBAR=1 its title is a GTK header bar: GTK draws the window's decorations itself
(client-side, with shadows around the window), on any compositor.
GTK exposes its tree to AT-SPI by itself when an accessibility bus is there.

"C" clears the entry and turns the row "1 2 3 +" around ("+ 3 2 1": a target that moved);
"Quiet" does nothing visible: styled flat, with no hover, press or focus look, a click only
gives it the keyboard focus (an effect only the tree sees). "MR" hands the keyboard focus to
"=" (a program moving the focus away from what was clicked). The entry's accessible name is
"Display".
"""

from __future__ import annotations

import json
import os
import sys
import time

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402

ROWS = [["M+", "MR", "C", "/"],
        ["7", "8", "9", "*"],
        ["4", "5", "6", "-"],
        ["1", "2", "3", "+"],
        ["0", ".", "=", "M-"]]


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(event: str, **fields: object) -> None:
        log.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")

    Gtk.Settings.get_default().set_property("gtk-cursor-blink", False)
    window = Gtk.Window(title=sys.argv[2] if len(sys.argv) > 2 else "gtk calc")
    window.set_default_size(320, 300)
    if len(sys.argv) > 3:
        window.move(*(int(v) for v in sys.argv[3].split(",")))
    if os.environ.get("CALC_HEADERBAR") == "1":
        window.set_titlebar(Gtk.HeaderBar(title=window.get_title(), show_close_button=True))
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
    entry = Gtk.Entry()
    entry.set_name("display")
    entry.get_accessible().set_name("Display")
    entry.connect("changed", lambda e: emit("text", text=e.get_text()))
    box.pack_start(entry, False, False, 0)
    grid = Gtk.Grid(row_spacing=4, column_spacing=4, column_homogeneous=True,
                    row_homogeneous=True)
    grid.set_vexpand(True)

    buttons: dict[tuple[int, int], Gtk.Button] = {}

    def pressed(button: Gtk.Button) -> None:
        label = button.get_label()
        emit("button", label=label)
        if label == "C":
            entry.set_text("")
            row = [buttons[(3, c)].get_label() for c in range(4)]
            for c, text in enumerate(reversed(row)):
                buttons[(3, c)].set_label(text)
        elif label == "MR":
            GLib.idle_add(lambda: buttons[(4, 2)].grab_focus() and False)
        elif label != "Quiet":
            entry.set_text(entry.get_text() + label)

    for r, row in enumerate(ROWS):
        for c, label in enumerate(row):
            button = Gtk.Button(label=label)
            button.connect("clicked", pressed)
            grid.attach(button, c, r, 1, 1)
            buttons[(r, c)] = button
    box.pack_start(grid, True, True, 0)
    quiet = Gtk.Button(label="Quiet")
    quiet.set_name("quiet")
    quiet.connect("clicked", pressed)
    css = Gtk.CssProvider()
    css.load_from_data(b"""
        #quiet, #quiet:hover, #quiet:active, #quiet:focus, #quiet:hover:active {
            background-image: none; background-color: #dddddd; color: #000000;
            border: 1px solid #999999; box-shadow: none; text-shadow: none;
            outline-style: none; transition: none; -gtk-icon-shadow: none; }
    """)
    quiet.get_style_context().add_provider(css, Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION)
    box.pack_start(quiet, False, False, 0)
    window.add(box)
    window.connect("destroy", Gtk.main_quit)
    ready = {"done": False}

    def drawn(*_: object) -> bool:
        if not ready["done"]:
            ready["done"] = True
            GLib.idle_add(lambda: emit("ready") and False)
        return False

    window.connect_after("draw", drawn)
    window.show_all()
    window.set_focus(None)  # no caret: the first click's focus shows nowhere
    Gtk.main()


if __name__ == "__main__":
    main()
