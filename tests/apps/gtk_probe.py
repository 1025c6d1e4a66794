"""A GTK 3 test program that logs what it receives: an entry on top, a drawing area below it
that changes colour at each click. Run it with the system Python that has ``gi`` (Debian:
python3-gi, gir1.2-gtk-3.0, python3-gi-cairo), natively on Wayland with GDK_BACKEND=wayland:

    /usr/bin/python3 gtk_probe.py LOG [TITLE [WIDTHxHEIGHT]]

(The size is for X11 without a window manager; sway tiles the window to fill its output;
PROBE_FULLSCREEN=1 makes it fill its output elsewhere.)

LOG gets one JSON object a line, each with "t" (time.monotonic(), the clock every process of the
machine shares):
  {"event": "ready", "w": .., "h": .., "scale": ..}       first drawn (window size in layout units)
  {"event": "press", "x": .., "y": .., "button": ..}      in window coordinates (layout units,
                                                           fractional at scale 2)
  {"event": "scroll", "direction": "up"|"down"|"smooth"}
  {"event": "key", "down": true|false, "name": .., "char": ..}   every key pressed and let go
  {"event": "text", "text": ..}                           the entry's text after each change
The caret does not blink (a blinking caret would keep the screen from settling).
"""

from __future__ import annotations

import json
import os
import sys
import time

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

COLOURS = [(0.2, 0.4, 0.8), (0.8, 0.3, 0.2), (0.2, 0.7, 0.3)]


def main() -> None:
    log = open(sys.argv[1], "a", buffering=1, encoding="utf-8")  # noqa: SIM115

    def emit(event: str, **fields: object) -> None:
        log.write(json.dumps({"event": event, "t": time.monotonic(), **fields}) + "\n")

    Gtk.Settings.get_default().set_property("gtk-cursor-blink", False)
    window = Gtk.Window(title=sys.argv[2] if len(sys.argv) > 2 else "gtk probe")
    size = sys.argv[3] if len(sys.argv) > 3 else "640x400"  # a canvas to draw where not tiled
    window.set_default_size(*(int(v) for v in size.split("x")))
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
    entry = Gtk.Entry()
    area = Gtk.DrawingArea()
    area.set_vexpand(True)
    area.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.SCROLL_MASK)
    box.pack_start(entry, False, False, 0)
    box.pack_start(area, True, True, 0)
    window.add(box)
    state = {"clicks": 0, "ready": False}

    def draw(widget: Gtk.Widget, cr: object) -> bool:
        cr.set_source_rgb(*COLOURS[state["clicks"] % 3])  # type: ignore[attr-defined]
        cr.paint()  # type: ignore[attr-defined]
        if not state["ready"]:
            state["ready"] = True
            size = window.get_allocation()
            GLib.idle_add(lambda: emit("ready", w=size.width, h=size.height,
                                       scale=window.get_scale_factor()) and False)
        return False

    def press(widget: Gtk.Widget, event: Gdk.EventButton) -> bool:
        # translate_coordinates takes whole numbers: add the area's offset to the exact position
        ox, oy = widget.translate_coordinates(window, 0, 0)
        emit("press", x=ox + event.x, y=oy + event.y, button=event.button,
             double=event.type == Gdk.EventType._2BUTTON_PRESS)
        if event.type == Gdk.EventType.BUTTON_PRESS:
            state["clicks"] += 1
            widget.queue_draw()
        return True

    def scroll(widget: Gtk.Widget, event: Gdk.EventScroll) -> bool:
        names = {Gdk.ScrollDirection.UP: "up", Gdk.ScrollDirection.DOWN: "down"}
        emit("scroll", direction=names.get(event.direction, "smooth"))
        return True

    def key(down: bool) -> object:
        def handler(widget: Gtk.Widget, event: Gdk.EventKey) -> bool:
            char = chr(Gdk.keyval_to_unicode(event.keyval) or 0)
            emit("key", down=down, name=Gdk.keyval_name(event.keyval),
                 char=char if char != "\0" else "")
            return False
        return handler

    area.connect("draw", draw)
    area.connect("button-press-event", press)
    area.connect("scroll-event", scroll)
    entry.connect("changed", lambda e: emit("text", text=e.get_text()))
    window.connect("key-press-event", key(True))
    window.connect("key-release-event", key(False))
    window.connect("destroy", Gtk.main_quit)
    if os.environ.get("PROBE_FULLSCREEN") == "1":  # the whole output (KWin places windows)
        window.fullscreen()
    window.show_all()
    entry.grab_focus()
    Gtk.main()


if __name__ == "__main__":
    main()
