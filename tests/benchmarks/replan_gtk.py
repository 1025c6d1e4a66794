"""The benchmark's program in GTK 3 (PyGObject): the whole of replan_app.py on a second toolkit,
for all tasks of replan.py. Run by the system Python that has ``gi`` (python3-gi, gir1.2-gtk-3.0):

    /usr/bin/python3 replan_gtk.py STATE.json LAYOUT.json [--initial JSON] [--popup-after N]

Every widget sits at its LAYOUT rectangle of replan_app.py (passed as a file: this program does
not import tracer's tests; the menus and their items are read from LAYOUT's names), and each is
GTK's own: a menu bar whose drop-down menus are real GTK menus (their items moved onto LAYOUT),
entries, radio and check buttons, a text view, buttons, and the dialogs and the "Tip of the day"
pop-up as panels over the window with a header bar. A dialog or the pop-up takes a GTK grab
while open, so the rest of the window ignores the mouse (as Tk's grab does in the Tk app). The
state JSON has the keys, and the meaning of each, of the Tk app's: the expert planner reads it.

Where GTK's own behaviour differs from Tk's, GTK's is kept: an open menu holds the pointer, so
a click outside it only closes it (and the pop-up opening closes an open menu); Ctrl+A in the
editor leaves the cursor at the start of the text; the editor shows no focus ring.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

FIELDS = ("name", "email", "city", "phone")
DEFAULT_TEXT = "Shopping list\nApples\nBread"
CSS = """
* {{ font: {font}px 'DejaVu Sans'; }}
.replan-dialog {{ background-color: @theme_bg_color; border: 1px solid @borders; }}
.replan-popup {{ background-color: #fff4c2; border: 2px solid black; }}
"""


class App:
    """The window, its widgets at LAYOUT and the state file written after every change."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.layout: dict[str, list[float]] = json.loads(open(args.layout, encoding="utf-8").read())
        initial = json.loads(args.initial)
        # the menus and their items in LAYOUT's order: "menu:File", then "File:New", ...
        titles = [name.split(":", 1)[1] for name in self.layout if name.startswith("menu:")]
        self.menus = {t: [n.split(":", 1)[1] for n in self.layout if n.startswith(t + ":")] for t in titles}
        settings = Gtk.Settings.get_default()
        settings.set_property("gtk-cursor-blink", False)
        geometry = Gdk.Display.get_default().get_monitor(0).get_geometry()
        self.width, self.height = geometry.width, geometry.height
        css = Gtk.CssProvider()
        css.load_from_data(CSS.format(font=max(11, self.height // 55)).encode())
        Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), css,
                                                 Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION)
        self.state: dict[str, Any] = {
            "fields": {f: initial.get(f, "") for f in FIELDS}, "plan": initial.get("plan", "none"),
            "newsletter": False, "submitted": None, "menu": None, "dialog": None, "popup": False,
            "theme": "Light", "autosave": False, "zoom": "100%", "text": "", "saved_text": None,
            "saved_as": None, "focus": None, "presses": 0}
        self.written = ""
        self.window = Gtk.Window(title="replan bench gtk")
        self.window.move(0, 0)
        self.window.set_default_size(self.width, self.height)
        self.fixed = Gtk.Fixed()
        self.overlay = Gtk.Overlay()
        self.overlay.add(self.fixed)
        self.window.add(self.overlay)
        self.entries: dict[str, Gtk.Entry] = {}
        self.build_menus()
        self.build_form()
        self.build_editor(initial.get("text", DEFAULT_TEXT))
        self.status = Gtk.Label(label="")
        self.put(self.status, (500, 900, 600, 40))
        self.dialogs = {"saveas": self.build_saveas(), "prefs": self.build_prefs()}
        self.popup = self.build_popup()
        self.window.connect("key-press-event", self.on_key)
        self.window.connect("destroy", Gtk.main_quit)
        Gdk.event_handler_set(self.on_event)
        self.window.show_all()
        for panel in [*self.dialogs.values(), self.popup]:
            panel.hide()
        self.window.set_focus(None)
        self.show_status()
        GLib.timeout_add(100, self.poll)

    # ------------------------------------------------------------------ placing widgets

    def rect(self, name: str | tuple) -> tuple[int, int, int, int]:
        """The LAYOUT rectangle ``name`` (or a rectangle in 0..1000) in pixels: left, top, w, h."""
        x, y, w, h = self.layout[name] if isinstance(name, str) else name
        pw, ph = round(w * self.width / 1000), round(h * self.height / 1000)
        return round(x * self.width / 1000 - pw / 2), round(y * self.height / 1000 - ph / 2), pw, ph

    def put(self, widget: Gtk.Widget, name: str | tuple, into: Gtk.Fixed | None = None,
            panel: str | None = None) -> Gtk.Widget:
        """Put ``widget`` at its rectangle, into the window or into the panel at LAYOUT ``panel``."""
        left, top, w, h = self.rect(name)
        if panel is not None:
            px, py, _, _ = self.rect(panel)
            left, top = left - px, top - py
        widget.set_size_request(w, h)
        (into or self.fixed).put(widget, left, top)
        if isinstance(widget, Gtk.Button):  # as in Tk, a click on a button leaves the focus be
            widget.set_focus_on_click(False)
        return widget

    def panel(self, name: str, style: str) -> tuple[Gtk.EventBox, Gtk.Fixed]:
        """A panel over the window at LAYOUT ``name`` (a dialog, the pop-up), hidden until shown."""
        left, top, w, h = self.rect(name)
        box = Gtk.EventBox(halign=Gtk.Align.START, valign=Gtk.Align.START, margin_start=left,
                           margin_top=top)
        box.get_style_context().add_class(style)
        box.set_size_request(w, h)
        inside = Gtk.Fixed()
        box.add(inside)
        self.overlay.add_overlay(box)
        return box, inside

    # ------------------------------------------------------------------ the parts

    def build_menus(self) -> None:
        """A menu bar across the top whose titles sit at their LAYOUT rectangles; each drop-down
        is a GTK menu dropped so that its items land on theirs (GTK lays a menu's items from the
        corner of its window, its border drawn under them): one item's height apart, so each
        item's centre is its LAYOUT centre and the gaps between them are filled."""
        self.bar = Gtk.MenuBar()
        self.bar.set_size_request(self.width, -1)
        right = 0
        for title, items in self.menus.items():
            left, top, w, h = self.rect(f"menu:{title}")
            item = Gtk.MenuItem(label=title, margin_start=left - right, margin_top=top)
            item.get_child().set_xalign(0.5)
            item.set_size_request(w, h)
            right = left + w
            first, last = self.layout[f"{title}:{items[0]}"], self.layout[f"{title}:{items[-1]}"]
            step = (last[1] - first[1]) / (len(items) - 1) if len(items) > 1 else first[3]
            row = round(step * self.height / 1000)
            x, y, _, _ = self.rect((first[0], first[1], first[2], step))
            menu = Gtk.Menu(reserve_toggle_size=False, rect_anchor_dx=x - left,
                            rect_anchor_dy=y - (top + h))
            for name in items:
                entry = Gtk.MenuItem(label=name)
                entry.set_size_request(self.rect(f"{title}:{name}")[2], row)
                entry.connect("activate", self.on_item, name)
                menu.append(entry)
            menu.connect("show", self.on_menu_shown, title)
            menu.connect("hide", self.on_menu_hidden, title)
            item.set_submenu(menu)
            self.bar.append(item)
        self.fixed.put(self.bar, 0, 0)

    def build_form(self) -> None:
        for f in FIELDS:
            x, y, w, h = self.layout[f"field:{f}"]
            label = Gtk.Label(label=f.title(), xalign=1)
            self.put(label, (x - w / 2 - 65, y, 100, h))
            entry = Gtk.Entry(text=self.state["fields"][f])
            self.put(entry, f"field:{f}")
            self.entries[f] = entry
        self.basic = self.put(Gtk.RadioButton.new_with_label(None, "Basic"), "plan:Basic")
        self.pro = self.put(Gtk.RadioButton.new_with_label_from_widget(self.basic, "Pro"), "plan:Pro")
        none = Gtk.RadioButton.new_from_widget(self.basic)  # no plan chosen yet: never shown
        {"Basic": self.basic, "Pro": self.pro}.get(self.state["plan"], none).set_active(True)
        self.news = self.put(Gtk.CheckButton(label="Newsletter"), "newsletter")
        self.put(Gtk.Button(label="Submit"), "submit").connect("clicked", self.on_submit)

    def build_editor(self, text: str) -> None:
        self.text = Gtk.TextView(wrap_mode=Gtk.WrapMode.WORD, left_margin=4, top_margin=2)
        self.text.get_buffer().set_text(text)
        scroll = Gtk.ScrolledWindow(shadow_type=Gtk.ShadowType.IN)
        scroll.set_policy(Gtk.PolicyType.NEVER, Gtk.PolicyType.AUTOMATIC)
        scroll.set_overlay_scrolling(False)  # no scroll bar fading in and out under the pointer
        scroll.add(self.text)
        self.put(scroll, "text")
        self.put(Gtk.Button(label="Save"), "save").connect("clicked", self.on_save)

    def build_saveas(self) -> Gtk.EventBox:
        box, inside = self.panel("dialog", "replan-dialog")
        header = Gtk.HeaderBar(title="Save As: file name")
        header.set_size_request(self.rect("dialog")[2] - 2, -1)
        inside.put(header, 0, 0)
        self.filename = self.put(Gtk.Entry(), "dialog:filename", inside, "dialog")
        self.entries["filename"] = self.filename
        self.put(Gtk.Button(label="Save"), "dialog:Save", inside, "dialog").connect(
            "clicked", self.on_save_as)
        self.put(Gtk.Button(label="Cancel"), "dialog:Cancel", inside, "dialog").connect(
            "clicked", lambda _b: self.close_dialog())
        return box

    def build_prefs(self) -> Gtk.EventBox:
        box, inside = self.panel("dialog", "replan-dialog")
        header = Gtk.HeaderBar(title="Preferences")
        header.set_size_request(self.rect("dialog")[2] - 2, -1)
        inside.put(header, 0, 0)
        self.light = Gtk.RadioButton.new_with_label(None, "Light")
        self.dark = Gtk.RadioButton.new_with_label_from_widget(self.light, "Dark")
        for button, name in ((self.light, "prefs:Light"), (self.dark, "prefs:Dark")):
            button.set_mode(False)  # a toggle button, as Tk's radio buttons without indicator
            self.put(button, name, inside, "dialog")
        self.auto = self.put(Gtk.CheckButton(label="Autosave"), "prefs:autosave", inside, "dialog")
        self.put(Gtk.Button(label="OK"), "prefs:OK", inside, "dialog").connect("clicked", self.on_prefs_ok)
        self.put(Gtk.Button(label="Cancel"), "prefs:Cancel", inside, "dialog").connect(
            "clicked", self.on_prefs_cancel)
        return box

    def build_popup(self) -> Gtk.EventBox:
        box, inside = self.panel("popup", "replan-popup")
        _, _, w, h = self.rect("popup")
        tip = Gtk.Label(label="Tip of the day: press F1 for help")
        tip.set_size_request(w - 4, round(0.2 * h))
        inside.put(tip, 0, round(0.2 * h))
        self.put(Gtk.Button(label="Close"), "popup:Close", inside, "popup").connect(
            "clicked", self.on_close_popup)
        return box

    # ------------------------------------------------------------------ behaviour

    def modal(self) -> bool:
        return bool(self.state["dialog"] or self.state["popup"])

    def show_status(self) -> None:
        self.status.set_text(f"zoom {self.state['zoom']} · theme {self.state['theme']}")

    def on_menu_shown(self, _menu: Gtk.Menu, title: str) -> None:
        self.state["menu"] = title
        self.changed()

    def on_menu_hidden(self, _menu: Gtk.Menu, title: str) -> None:
        if self.state["menu"] == title:
            self.state["menu"] = None
        self.changed()

    def on_item(self, _item: Gtk.MenuItem, name: str) -> None:
        buffer = self.text.get_buffer()
        if name.startswith("Zoom"):
            self.state["zoom"] = name.split()[1]
        elif name == "Save":
            self.state["saved_text"] = buffer.get_text(*buffer.get_bounds(), True)
        elif name == "New":
            buffer.set_text("")
        elif name == "Clear form":
            for f in FIELDS:
                self.entries[f].set_text("")
        elif name == "Save As...":
            self.open_dialog("saveas")
        elif name == "Preferences...":
            self.open_dialog("prefs")
        self.show_status()
        self.changed()

    def open_dialog(self, name: str) -> None:
        box = self.dialogs[name]
        box.show()
        box.grab_add()
        self.state["dialog"] = name
        if name == "saveas":
            self.filename.set_text("")
        self.changed()

    def close_dialog(self) -> None:
        name = self.state["dialog"]
        if name:
            self.dialogs[name].grab_remove()
            self.dialogs[name].hide()
        self.state["dialog"] = None
        self.window.set_focus(None)
        self.changed()

    def on_save(self, _button: Gtk.Button) -> None:
        buffer = self.text.get_buffer()
        self.state["saved_text"] = buffer.get_text(*buffer.get_bounds(), True)
        self.changed()

    def on_save_as(self, _button: Gtk.Button) -> None:
        name = self.filename.get_text()
        if name:
            buffer = self.text.get_buffer()
            self.state["saved_as"] = name
            self.state["saved_text"] = buffer.get_text(*buffer.get_bounds(), True)
            self.close_dialog()

    def on_prefs_ok(self, _button: Gtk.Button) -> None:
        self.state["theme"] = "Dark" if self.dark.get_active() else "Light"
        self.state["autosave"] = self.auto.get_active()
        self.close_dialog()
        self.show_status()

    def on_prefs_cancel(self, _button: Gtk.Button) -> None:
        (self.dark if self.state["theme"] == "Dark" else self.light).set_active(True)
        self.auto.set_active(self.state["autosave"])
        self.close_dialog()

    def on_submit(self, _button: Gtk.Button) -> None:
        self.write()
        self.state["submitted"] = {**self.state["fields"], "plan": self.state["plan"],
                                   "newsletter": self.state["newsletter"]}
        self.changed()

    def show_popup(self) -> bool:
        self.bar.deactivate()  # an open menu holds the pointer: the pop-up could never be closed
        self.popup.show()
        self.popup.grab_add()
        self.window.set_focus(None)
        self.state["popup"] = True
        self.changed()
        return False

    def on_close_popup(self, _button: Gtk.Button) -> None:
        self.popup.grab_remove()
        self.popup.hide()
        self.state["popup"] = False
        self.window.set_focus(None)
        self.changed()

    def on_key(self, _window: Gtk.Window, event: Gdk.EventKey) -> bool:
        if event.keyval == Gdk.KEY_Escape:
            self.bar.deactivate()
        self.changed()
        return False

    def on_event(self, event: Gdk.Event) -> None:
        """Every event of the program: GTK's handling, then the mouse presses counted (and the
        pop-up opened on the N-th) as Tk's binding on all widgets does."""
        Gtk.main_do_event(event)
        kind = event.get_event_type()
        if kind == Gdk.EventType.BUTTON_PRESS:
            self.state["presses"] += 1
            if self.state["presses"] == self.args.popup_after and not self.state["popup"]:
                GLib.idle_add(self.show_popup)
        if kind in (Gdk.EventType.BUTTON_PRESS, Gdk.EventType.BUTTON_RELEASE,
                    Gdk.EventType.KEY_RELEASE):
            self.changed()

    # ------------------------------------------------------------------ the state file

    def changed(self) -> None:
        GLib.idle_add(self.write)

    def poll(self) -> bool:
        self.write()
        return True

    def write(self) -> bool:
        state = self.state
        for f in FIELDS:
            state["fields"][f] = self.entries[f].get_text()
        state["plan"] = "Basic" if self.basic.get_active() else "Pro" if self.pro.get_active() else "none"
        state["newsletter"] = self.news.get_active()
        buffer = self.text.get_buffer()
        content = buffer.get_text(*buffer.get_bounds(), True)
        state["text"] = content
        state["filename"] = self.filename.get_text()
        state["prefs_pending"] = {"theme": "Dark" if self.dark.get_active() else "Light",
                                  "autosave": self.auto.get_active()}
        focus = self.window.get_focus()
        names = {**{widget: name for name, widget in self.entries.items()}, self.text: "text"}
        state["focus"] = names.get(focus)
        # whether the focused widget's whole content is selected, and its cursor at the end
        state["all_selected"], state["at_end"] = False, False
        if focus is self.text:
            bounds = buffer.get_selection_bounds()
            length = buffer.get_char_count()
            state["all_selected"] = bool(content) and bool(bounds) and \
                (bounds[0].get_offset(), bounds[1].get_offset()) == (0, length)
            state["at_end"] = buffer.get_iter_at_mark(buffer.get_insert()).get_offset() == length
        elif isinstance(focus, Gtk.Entry):
            content = focus.get_text()
            bounds = focus.get_selection_bounds()
            state["all_selected"] = bool(content) and bool(bounds) and \
                tuple(sorted(bounds)) == (0, len(content))
            state["at_end"] = focus.get_position() == len(content)
        data = json.dumps(state, sort_keys=True)
        if data != self.written:
            tmp = self.args.state + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, self.args.state)
            self.written = data
        return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state")
    parser.add_argument("layout")
    parser.add_argument("--initial", default="{}")
    parser.add_argument("--popup-after", type=int, default=0)
    App(parser.parse_args())
    Gtk.main()


if __name__ == "__main__":
    main()
