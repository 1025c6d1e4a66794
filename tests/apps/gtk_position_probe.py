"""GTK 3 test window for the GNOME tests (run with Debian's /usr/bin/python3 + python3-gi).

    GDK_BACKEND=wayland /usr/bin/python3 gtk_probe.py [--fullscreen-monitor N] [--title T]

A text entry on top, a drawing area below whose every *device* pixel encodes its own position
in the drawing area: R = x & 255, G = y & 255, B = (x >> 8) << 4 | (y >> 8). So a screenshot
tells, for any desktop pixel, which pixel of the area it is, without knowing where the window
is (Wayland clients do not know their position). Prints one JSON line per event on stdout:
  {"ev": "ready", "scale": s, "w": .., "h": ..}      first frame drawn
  {"ev": "press", "x": .., "y": .., "button": n, "scale": s}   area coordinates (logical)
  {"ev": "scroll", "dir": "up"|"down"|..., "dx":.., "dy":..}
  {"ev": "text", "text": "..."}                      entry text after each change
  {"ev": "key", "keyval": .., "name": "..", "state": ..}       a key pressed (state: modifiers)
  {"ev": "release", "keyval": .., "name": "..", "state": ..}   a key let go
  {"ev": "focus", "in": true|false}
"""

import argparse
import json
import sys

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
import cairo  # noqa: E402
from gi.repository import Gdk, GLib, Gtk  # noqa: E402


def out(**kw):
    sys.stdout.write(json.dumps(kw, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def pattern(w: int, h: int) -> cairo.ImageSurface:
    data = bytearray(w * h * 4)
    templates = {}
    for y in range(h):
        yh = (y >> 8) & 15
        if yh not in templates:
            t = bytearray(w * 4)
            t[0::4] = bytes((((x >> 8) & 15) << 4) | yh for x in range(w))  # B
            t[2::4] = bytes(x & 255 for x in range(w))                       # R
            t[3::4] = b"\xff" * w
            templates[yh] = t
        row = bytearray(templates[yh])
        row[1::4] = bytes([y & 255]) * w                                     # G
        data[y * w * 4:(y + 1) * w * 4] = row
    return cairo.ImageSurface.create_for_data(data, cairo.FORMAT_RGB24, w, h, w * 4)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fullscreen-monitor", type=int, default=-1)
    ap.add_argument("--title", default="tracer probe")
    ap.add_argument("--size", default="600x400")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))

    win = Gtk.Window(title=a.title)
    win.set_default_size(w, h)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
    entry = Gtk.Entry()
    area = Gtk.DrawingArea()
    area.set_hexpand(True)
    area.set_vexpand(True)
    area.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.SCROLL_MASK)
    box.pack_start(entry, False, False, 0)
    box.pack_start(area, True, True, 0)
    win.add(box)
    cache = {}
    state = {"ready": False}

    def draw(widget, cr):
        scale = widget.get_scale_factor()
        aw, ah = widget.get_allocated_width(), widget.get_allocated_height()
        key = (aw, ah, scale)
        if key not in cache:
            cache.clear()
            surf = pattern(aw * scale, ah * scale)
            surf.set_device_scale(scale, scale)
            cache[key] = surf
        cr.set_source_surface(cache[key], 0, 0)
        cr.get_source().set_filter(cairo.FILTER_NEAREST)
        cr.paint()
        if state.get("flash"):  # toggled by each press: a frame that shows the click landed
            cr.set_source_rgb(0, 0, 0)
            cr.rectangle(0, 0, 6, 6)
            cr.fill()
        if not state["ready"]:
            state["ready"] = True
            GLib.idle_add(lambda: out(ev="ready", scale=scale, w=aw, h=ah) and False)
        return False

    def press(widget, event):
        if event.type != Gdk.EventType.BUTTON_PRESS:
            return True  # GDK_2BUTTON_PRESS / 3BUTTON_PRESS repeat a press already reported
        out(ev="press", x=event.x, y=event.y, button=event.button,
            scale=widget.get_scale_factor())
        state["flash"] = not state.get("flash")
        widget.queue_draw_area(0, 0, 6, 6)
        return True

    def scroll(widget, event):
        names = {Gdk.ScrollDirection.UP: "up", Gdk.ScrollDirection.DOWN: "down",
                 Gdk.ScrollDirection.LEFT: "left", Gdk.ScrollDirection.RIGHT: "right",
                 Gdk.ScrollDirection.SMOOTH: "smooth"}
        ok, dx, dy = event.get_scroll_deltas()
        out(ev="scroll", dir=names.get(event.direction, "?"), dx=dx, dy=dy)
        return True

    def key(widget, event):
        out(ev="key", keyval=event.keyval, name=Gdk.keyval_name(event.keyval),
            state=int(event.state))
        return False

    area.connect("draw", draw)
    area.connect("button-press-event", press)
    area.connect("scroll-event", scroll)
    entry.connect("changed", lambda e: out(ev="text", text=e.get_text()))
    win.connect("key-press-event", key)
    win.connect("key-release-event", lambda w, e: out(
        ev="release", keyval=e.keyval, name=Gdk.keyval_name(e.keyval), state=int(e.state)) and False)
    win.connect("focus-in-event", lambda *_: out(ev="focus", **{"in": True}) and False)
    win.connect("focus-out-event", lambda *_: out(ev="focus", **{"in": False}) and False)
    win.connect("destroy", Gtk.main_quit)
    win.show_all()
    entry.grab_focus()
    if a.fullscreen_monitor >= 0:
        win.fullscreen_on_monitor(win.get_screen(), a.fullscreen_monitor)
    Gtk.main()


if __name__ == "__main__":
    main()
