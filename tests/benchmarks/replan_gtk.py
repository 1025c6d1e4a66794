"""The benchmark's sign-up form in GTK 3 (PyGObject), for the form tasks of replan.py on a
second toolkit. Run by the system Python that has ``gi`` (python3-gi, gir1.2-gtk-3.0):

    /usr/bin/python3 replan_gtk.py STATE.json LAYOUT.json [--initial JSON] [--popup-after N]

The form's widgets sit at the LAYOUT rectangles of replan_app.py (passed as a file: this
program does not import tracer's tests), GTK's own widgets: entries, radio buttons with their
indicator, a check button, a button; a "Tip of the day" pop-up opens on the N-th mouse press
and makes the form insensitive until closed. The state JSON has the keys the expert reads.
"""

from __future__ import annotations

import argparse
import json
import os

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

FIELDS = ("name", "email", "city", "phone")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("layout")
    parser.add_argument("--initial", default="{}")
    parser.add_argument("--popup-after", type=int, default=0)
    args = parser.parse_args()
    layout = json.loads(open(args.layout, encoding="utf-8").read())
    initial = json.loads(args.initial)
    Gtk.Settings.get_default().set_property("gtk-cursor-blink", False)
    screen = Gdk.Screen.get_default()
    geometry = Gdk.Display.get_default().get_monitor(0).get_geometry()
    width, height = geometry.width, geometry.height
    window = Gtk.Window(title="replan bench gtk")
    window.move(0, 0)
    window.set_default_size(width, height)
    fixed = Gtk.Fixed()
    overlay = Gtk.Overlay()
    overlay.add(fixed)
    window.add(overlay)
    font = max(11, height // 55)
    css = Gtk.CssProvider()
    css.load_from_data(f"* {{ font: {font}px 'DejaVu Sans'; }} "
                       ".popup { background: #fff4c2; border: 2px solid black; }".encode())
    Gtk.StyleContext.add_provider_for_screen(screen, css, Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION)

    def place(widget: Gtk.Widget, name: str, into: Gtk.Fixed = fixed, origin: tuple = (0, 0)) -> None:
        x, y, w, h = layout[name]
        pw, ph = round(w * width / 1000), round(h * height / 1000)
        widget.set_size_request(pw, ph)
        into.put(widget, round(x * width / 1000 - pw / 2) - origin[0],
                 round(y * height / 1000 - ph / 2) - origin[1])

    state = {"fields": {f: initial.get(f, "") for f in FIELDS}, "plan": initial.get("plan", "none"),
             "newsletter": False, "submitted": None, "menu": None, "dialog": None, "popup": False,
             "theme": "Light", "autosave": False, "zoom": "100%", "text": "Shopping list\nApples\nBread",
             "saved_text": None, "saved_as": None, "focus": None, "presses": 0, "filename": "",
             "all_selected": False, "at_end": False,
             "prefs_pending": {"theme": "Light", "autosave": False}}
    entries: dict[str, Gtk.Entry] = {}
    for f in FIELDS:
        x, y, w, h = layout[f"field:{f}"]
        label = Gtk.Label(label=f.title(), xalign=1)
        label.set_size_request(round(100 * width / 1000), round(h * height / 1000))
        fixed.put(label, round((x - w / 2 - 115) * width / 1000), round((y - h / 2) * height / 1000))
        entry = Gtk.Entry(text=state["fields"][f])
        place(entry, f"field:{f}")
        entries[f] = entry
    basic = Gtk.RadioButton.new_with_label(None, "Basic")
    pro = Gtk.RadioButton.new_with_label_from_widget(basic, "Pro")
    none = Gtk.RadioButton.new_from_widget(basic)  # no plan chosen yet
    none.set_active(True)
    place(basic, "plan:Basic")
    place(pro, "plan:Pro")
    news = Gtk.CheckButton(label="Newsletter")
    place(news, "newsletter")
    submit = Gtk.Button(label="Submit")
    place(submit, "submit")
    popup = Gtk.Fixed()
    popup.get_style_context().add_class("popup")
    px, py, pw, ph = layout["popup"]
    popup_box = Gtk.EventBox()
    popup_box.get_style_context().add_class("popup")
    popup_box.add(popup)
    popup_box.set_size_request(round(pw * width / 1000), round(ph * height / 1000))
    origin = (round((px - pw / 2) * width / 1000), round((py - ph / 2) * height / 1000))
    popup.put(Gtk.Label(label="Tip of the day: press F1 for help"), 20, 20)
    close = Gtk.Button(label="Close")
    place(close, "popup:Close", popup, origin)
    fixed.put(popup_box, *origin)

    def write() -> bool:
        for f, entry in entries.items():
            state["fields"][f] = entry.get_text()
        state["plan"] = "Basic" if basic.get_active() else "Pro" if pro.get_active() else "none"
        state["newsletter"] = news.get_active()
        focus = window.get_focus()
        state["focus"] = next((f for f, e in entries.items() if e is focus), None)
        state["all_selected"] = state["at_end"] = False
        if isinstance(focus, Gtk.Entry):
            text = focus.get_text()
            bounds = focus.get_selection_bounds()
            state["all_selected"] = bool(text) and bool(bounds) and tuple(sorted(bounds)) == (0, len(text))
            state["at_end"] = focus.get_position() == len(text)
        tmp = args.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh, sort_keys=True)
        os.replace(tmp, args.state)
        return True

    def on_submit(_button: Gtk.Button) -> None:
        write()
        state["submitted"] = {**state["fields"], "plan": state["plan"], "newsletter": state["newsletter"]}
        write()

    def on_close(_button: Gtk.Button) -> None:
        popup_box.hide()
        state["popup"] = False
        for widget in [*entries.values(), basic, pro, news, submit]:
            widget.set_sensitive(True)
        write()

    def on_press(_widget: Gtk.Widget, _event: Gdk.EventButton) -> bool:
        state["presses"] += 1
        if state["presses"] == args.popup_after and not state["popup"]:
            def show() -> bool:
                for widget in [*entries.values(), basic, pro, news, submit]:
                    widget.set_sensitive(False)
                popup_box.show_all()
                state["popup"] = True
                write()
                return False
            GLib.idle_add(show)
        return False

    submit.connect("clicked", on_submit)
    close.connect("clicked", on_close)
    window.connect("button-press-event", on_press)
    window.add_events(Gdk.EventMask.BUTTON_PRESS_MASK)
    for widget in [*entries.values(), basic, pro, news, submit]:
        widget.connect("button-press-event", on_press)
    window.connect("destroy", Gtk.main_quit)
    window.show_all()
    popup_box.hide()
    window.set_focus(None)
    GLib.timeout_add(100, write)
    Gtk.main()


if __name__ == "__main__":
    main()
