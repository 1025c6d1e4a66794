"""A test program in GTK 3 (PyGObject): the same small form as tk_form.py, in another toolkit.
Run it with the system Python that has the ``gi`` bindings (Debian: python3-gi and
gir1.2-gtk-3.0), not tracer's virtual environment.

    /usr/bin/python3 gtk_form.py STATEFILE [--fullscreen]

``--fullscreen`` (for Wayland, where a window cannot place itself and does not know where it
is): the window covers its monitor, so its coordinates are the monitor's (logical pixels).

It writes STATEFILE (JSON) whenever something changes: "agree", "size", "name", the widget
with the focus, and "boxes": each widget's rectangle [x, y, width, height] in screen pixels.
The caret does not blink.
"""

from __future__ import annotations

import json
import os
import sys

import gi

gi.require_version("Gtk", "3.0")
from gi.repository import GLib, Gtk  # noqa: E402


class Form(Gtk.Window):
    def __init__(self, path: str) -> None:
        super().__init__(title="gtk form")
        self.path = path
        Gtk.Settings.get_default().set_property("gtk-cursor-blink", False)
        self.move(0, 0)
        grid = Gtk.Grid(row_spacing=10, column_spacing=16, margin=24)
        self.add(grid)
        title = Gtk.Label(xalign=0)
        title.set_markup("<b>Order a T-shirt</b>")
        grid.attach(title, 0, 0, 3, 1)
        self.widgets: dict[str, Gtk.Widget] = {}
        grid.attach(Gtk.Label(label="Name", xalign=0), 0, 1, 1, 1)
        entry = Gtk.Entry(text="Grace Hopper", width_chars=30)
        self.widgets["name"] = entry
        grid.attach(entry, 1, 1, 2, 1)
        grid.attach(Gtk.Label(label="Size", xalign=0), 0, 2, 1, 1)
        small = Gtk.RadioButton.new_with_label(None, "Small (fits most people)")
        large = Gtk.RadioButton.new_with_label_from_widget(small, "Large (fits most people)")
        self.widgets["small"], self.widgets["large"] = small, large
        grid.attach(small, 1, 2, 1, 1)
        grid.attach(large, 2, 2, 1, 1)
        agree = Gtk.CheckButton(label="Send me the monthly newsletter and product news")
        self.widgets["agree"] = agree
        grid.attach(agree, 0, 3, 3, 1)
        order = Gtk.Button(label="Order", halign=Gtk.Align.START)
        self.widgets["order"] = order
        grid.attach(order, 0, 4, 1, 1)
        grid.attach(Gtk.Label(label="", height_request=240), 0, 5, 1, 1)  # room to click on nothing
        for widget in (small, large, agree):
            widget.connect("toggled", lambda *_: self.write())
        entry.connect("changed", lambda *_: self.write())
        self.connect("set-focus", lambda *_: GLib.idle_add(self.write))
        self.connect("destroy", Gtk.main_quit)
        GLib.timeout_add(400, self.write)

    def write(self) -> bool:
        origin = self.get_window().get_origin() if self.get_window() else (0, 0, 0)
        ox, oy = origin[-2], origin[-1]
        boxes = {}
        for name, widget in self.widgets.items():
            x, y = widget.translate_coordinates(self, 0, 0) or (0, 0)
            alloc = widget.get_allocation()
            boxes[name] = [ox + x, oy + y, alloc.width, alloc.height]
        focus = self.get_focus()
        state = {"agree": self.widgets["agree"].get_active(),
                 "size": "large" if self.widgets["large"].get_active() else "small",
                 "name": self.widgets["name"].get_text(),
                 "focus": next((n for n, w in self.widgets.items() if w is focus), None),
                 "boxes": boxes}
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
        os.replace(tmp, self.path)
        return False


def main() -> None:
    form = Form(sys.argv[1])
    form.show_all()
    if "--fullscreen" in sys.argv[2:]:
        form.fullscreen()
    Gtk.main()


if __name__ == "__main__":
    main()
