"""The benchmark's program: a small office app filling the screen, written with Tk.

    python replan_app.py STATE.json [--initial JSON] [--popup-after N]

A menu bar (File, Edit, View) with drop-down menus, a sign-up form (four fields, a plan choice,
a newsletter box, Submit), a text editor with a Save button, two dialogs (Save As, Preferences)
and a status line. With --popup-after N a "Tip of the day" pop-up opens, unasked, on the N-th
mouse press; while a dialog or the pop-up is open the rest of the window ignores the mouse.

Everything is placed at fixed 0..1000 coordinates of the screen (LAYOUT, shared with the
expert planner), and the app writes its state as JSON to STATE.json after every change.
"""

from __future__ import annotations

import argparse
import json
import os
import tkinter as tk
from typing import Any

# name: (centre x, centre y, width, height) in 0..1000 of the screen
LAYOUT: dict[str, tuple[int, int, int, int]] = {
    "menu:File": (40, 25, 70, 40), "menu:Edit": (120, 25, 70, 40), "menu:View": (200, 25, 70, 40),
    "File:New": (95, 75, 170, 40), "File:Save": (95, 120, 170, 40),
    "File:Save As...": (95, 165, 170, 40),
    "Edit:Preferences...": (175, 75, 170, 40), "Edit:Clear form": (175, 120, 170, 40),
    "View:Zoom 100%": (255, 75, 170, 40), "View:Zoom 150%": (255, 120, 170, 40),
    "View:Zoom 200%": (255, 165, 170, 40),
    "field:name": (330, 200, 280, 45), "field:email": (330, 280, 280, 45),
    "field:city": (330, 360, 280, 45), "field:phone": (330, 440, 280, 45),
    "plan:Basic": (250, 530, 140, 50), "plan:Pro": (410, 530, 140, 50),
    "newsletter": (330, 610, 240, 45), "submit": (330, 700, 180, 55),
    "text": (760, 420, 400, 520), "save": (760, 740, 160, 55),
    "dialog": (500, 500, 420, 300),
    "dialog:filename": (500, 480, 300, 45), "dialog:Save": (420, 580, 120, 50),
    "dialog:Cancel": (580, 580, 120, 50),
    "prefs:Light": (410, 440, 140, 45), "prefs:Dark": (590, 440, 140, 45),
    "prefs:autosave": (500, 510, 240, 45), "prefs:OK": (420, 580, 120, 50),
    "prefs:Cancel": (580, 580, 120, 50),
    "popup": (640, 330, 360, 200), "popup:Close": (640, 390, 120, 50),
}
FIELDS = ("name", "email", "city", "phone")
MENUS = {"File": ("New", "Save", "Save As..."), "Edit": ("Preferences...", "Clear form"),
         "View": ("Zoom 100%", "Zoom 150%", "Zoom 200%")}
DEFAULT_TEXT = "Shopping list\nApples\nBread"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("state")
    parser.add_argument("--initial", default="{}", help="JSON: field values, text")
    parser.add_argument("--popup-after", type=int, default=0)
    args = parser.parse_args()
    initial = json.loads(args.initial)

    root = tk.Tk()
    root.title("replan bench")
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.geometry(f"{width}x{height}+0+0")
    root.attributes("-fullscreen", True)
    root.configure(bg="white")
    font = ("DejaVu Sans", max(11, height // 55))
    state: dict[str, Any] = {
        "fields": {f: initial.get(f, "") for f in FIELDS}, "plan": initial.get("plan", "none"),
        "newsletter": False, "submitted": None, "menu": None, "dialog": None, "popup": False,
        "theme": "Light", "autosave": False, "zoom": "100%", "text": "",
        "saved_text": None, "saved_as": None, "focus": None, "presses": 0,
    }
    written = {"last": ""}

    def place(widget: tk.Widget, name: str) -> None:
        x, y, w, h = LAYOUT[name]
        widget.place(relx=x / 1000, rely=y / 1000, relwidth=w / 1000, relheight=h / 1000,
                     anchor="center")

    entries: dict[str, tk.Entry] = {}

    def select_all(widget: tk.Widget) -> str:
        if isinstance(widget, tk.Text):
            widget.tag_add("sel", "1.0", "end-1c")
        else:
            widget.selection_range(0, "end")  # type: ignore[attr-defined]
            widget.icursor("end")  # type: ignore[attr-defined]
        return "break"

    def write() -> None:
        for name, entry in entries.items():
            if name in FIELDS:
                state["fields"][name] = entry.get()
        state["filename"] = entries["filename"].get()
        state["text"] = text.get("1.0", "end-1c")
        state["prefs_pending"] = {"theme": theme_var.get(), "autosave": bool(auto_var.get())}
        focus = root.focus_get()
        names = {**{w: n for n, w in entries.items()}, text: "text"}
        state["focus"] = names.get(focus)  # type: ignore[call-overload]
        # whether the focused widget's whole content is selected, and its cursor at the end
        state["all_selected"], state["at_end"] = False, False
        if focus is text:
            content = text.get("1.0", "end-1c")
            ranges = text.tag_ranges("sel")
            state["all_selected"] = bool(content) and bool(ranges) and \
                text.compare(ranges[0], "==", "1.0") and text.compare(ranges[-1], "==", "end-1c")
            state["at_end"] = text.compare("insert", "==", "end-1c")
        elif isinstance(focus, tk.Entry):
            content = focus.get()
            state["all_selected"] = bool(content) and focus.selection_present() and \
                focus.index("sel.first") == 0 and focus.index("sel.last") == len(content)
            state["at_end"] = focus.index("insert") == len(content)
        data = json.dumps(state, sort_keys=True)
        if data != written["last"]:
            tmp = args.state + ".tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(data)
            os.replace(tmp, args.state)
            written["last"] = data

    def changed() -> None:
        root.after_idle(write)

    status = tk.Label(root, text="", font=font, bg="white", fg="#333333")
    status.place(relx=0.5, rely=0.9, anchor="center")

    def show_status() -> None:
        status.config(text=f"zoom {state['zoom']} · theme {state['theme']}")

    # menus
    drops: dict[str, tk.Frame] = {}

    def close_menus() -> None:
        for frame in drops.values():
            frame.place_forget()
        state["menu"] = None
        changed()

    def open_menu(name: str) -> None:
        if modal():
            return
        was = state["menu"]
        close_menus()
        if was != name:
            drops[name].place(relx=0, rely=0, x=0, y=0)  # placed properly just below
            items = MENUS[name]
            x, y, w, h = LAYOUT[f"{name}:{items[0]}"]
            last = LAYOUT[f"{name}:{items[-1]}"]
            top, bottom = y - h / 2, last[1] + last[3] / 2
            drops[name].place(relx=(x - w / 2) / 1000, rely=top / 1000, relwidth=w / 1000,
                              relheight=(bottom - top) / 1000, anchor="nw")
            drops[name].lift()
            state["menu"] = name
        changed()

    def menu_item(menu: str, item: str) -> None:
        close_menus()
        if item.startswith("Zoom"):
            state["zoom"] = item.split()[1]
        elif item == "Save":
            state["saved_text"] = text.get("1.0", "end-1c")
        elif item == "New":
            text.delete("1.0", "end")
        elif item == "Clear form":
            for f in FIELDS:
                entries[f].delete(0, "end")
        elif item == "Save As...":
            open_dialog("saveas")
        elif item == "Preferences...":
            open_dialog("prefs")
        show_status()
        changed()

    for name, items in MENUS.items():
        button = tk.Button(root, text=name, font=font, relief="flat", bg="#e8e8e8",
                           command=lambda n=name: open_menu(n))
        place(button, f"menu:{name}")
        frame = tk.Frame(root, bg="#f0f0f0", bd=1, relief="solid")
        drops[name] = frame
        n = len(items)
        for i, item in enumerate(items):
            tk.Button(frame, text=item, font=font, relief="flat", anchor="w", bg="#f0f0f0",
                      command=lambda m=name, it=item: menu_item(m, it)).place(
                relx=0, rely=i / n, relwidth=1, relheight=1 / n)

    # the form
    labels = {"name": "Name", "email": "Email", "city": "City", "phone": "Phone"}
    for f in FIELDS:
        x, y, w, h = LAYOUT[f"field:{f}"]
        tk.Label(root, text=labels[f], font=font, bg="white").place(
            relx=(x - w / 2 - 15) / 1000, rely=y / 1000, anchor="e")
        entry = tk.Entry(root, font=font)
        entry.insert(0, state["fields"][f])
        entry.bind("<Control-a>", lambda e: select_all(e.widget))
        place(entry, f"field:{f}")
        entries[f] = entry
    plan_var = tk.StringVar(value=state["plan"])

    def pick(value: str) -> None:
        state["plan"] = value
        plan_var.set(value)
        changed()

    for value in ("Basic", "Pro"):
        place(tk.Radiobutton(root, text=value, font=font, variable=plan_var, value=value,
                             indicatoron=False, selectcolor="#b8d8ff",
                             command=lambda v=value: pick(v)), f"plan:{value}")
    news_var = tk.BooleanVar(value=False)

    def toggle_news() -> None:
        state["newsletter"] = bool(news_var.get())
        changed()

    news = tk.Checkbutton(root, text="Newsletter", font=font, variable=news_var, bg="white",
                          command=toggle_news)
    place(news, "newsletter")

    def submit() -> None:
        write()
        state["submitted"] = {**state["fields"], "plan": state["plan"],
                              "newsletter": state["newsletter"]}
        changed()

    place(tk.Button(root, text="Submit", font=font, command=submit), "submit")

    # the editor
    text = tk.Text(root, font=font, wrap="word", undo=False)
    text.insert("1.0", initial.get("text", DEFAULT_TEXT))
    text.bind("<Control-a>", lambda e: select_all(e.widget))
    place(text, "text")

    def save_text() -> None:
        state["saved_text"] = text.get("1.0", "end-1c")
        changed()

    place(tk.Button(root, text="Save", font=font, command=save_text), "save")

    # dialogs and the pop-up: frames over the window that take the mouse while open
    dialogs: dict[str, tk.Frame] = {}
    saveas = tk.Frame(root, bg="#dcdcdc", bd=2, relief="raised")
    tk.Label(saveas, text="Save As: file name", font=font, bg="#dcdcdc").place(
        relx=0.5, rely=0.15, anchor="center")
    dialogs["saveas"] = saveas
    prefs = tk.Frame(root, bg="#dcdcdc", bd=2, relief="raised")
    tk.Label(prefs, text="Preferences", font=font, bg="#dcdcdc").place(
        relx=0.5, rely=0.15, anchor="center")
    dialogs["prefs"] = prefs
    popup = tk.Frame(root, bg="#fff4c2", bd=2, relief="raised")
    tk.Label(popup, text="Tip of the day: press F1 for help", font=font, bg="#fff4c2").place(
        relx=0.5, rely=0.3, anchor="center")

    def inside(frame: tk.Frame, parent_name: str, name: str, widget: tk.Widget) -> None:
        px, py, pw, ph = LAYOUT[parent_name]
        x, y, w, h = LAYOUT[name]
        widget.place(relx=0.5 + (x - px) / pw, rely=0.5 + (y - py) / ph, relwidth=w / pw,
                     relheight=h / ph, anchor="center")

    filename = tk.Entry(saveas, font=font)
    filename.bind("<Control-a>", lambda e: select_all(e.widget))
    inside(saveas, "dialog", "dialog:filename", filename)
    entries["filename"] = filename

    def modal() -> bool:
        return bool(state["dialog"] or state["popup"])

    def open_dialog(name: str) -> None:
        place(dialogs[name], "dialog")
        dialogs[name].lift()
        dialogs[name].grab_set()
        state["dialog"] = name
        if name == "saveas":
            filename.delete(0, "end")
        changed()

    def close_dialog() -> None:
        name = state["dialog"]
        if name:
            dialogs[name].grab_release()
            dialogs[name].place_forget()
        state["dialog"] = None
        root.focus_set()
        changed()

    def do_save_as() -> None:
        name = filename.get()
        if name:
            state["saved_as"] = name
            state["saved_text"] = text.get("1.0", "end-1c")
            close_dialog()

    inside(saveas, "dialog", "dialog:Save", tk.Button(saveas, text="Save", font=font,
                                                      command=do_save_as))
    inside(saveas, "dialog", "dialog:Cancel", tk.Button(saveas, text="Cancel", font=font,
                                                        command=close_dialog))
    theme_var = tk.StringVar(value="Light")
    auto_var = tk.BooleanVar(value=False)

    for value in ("Light", "Dark"):
        inside(prefs, "dialog", f"prefs:{value}", tk.Radiobutton(
            prefs, text=value, font=font, variable=theme_var, value=value, indicatoron=False,
            selectcolor="#b8d8ff", command=changed))
    inside(prefs, "dialog", "prefs:autosave", tk.Checkbutton(
        prefs, text="Autosave", font=font, variable=auto_var, bg="#dcdcdc",
        command=changed))

    def prefs_ok() -> None:
        state["theme"] = theme_var.get()
        state["autosave"] = bool(auto_var.get())
        close_dialog()
        show_status()

    def prefs_cancel() -> None:
        theme_var.set(state["theme"])
        auto_var.set(state["autosave"])
        close_dialog()

    inside(prefs, "dialog", "prefs:OK", tk.Button(prefs, text="OK", font=font, command=prefs_ok))
    inside(prefs, "dialog", "prefs:Cancel", tk.Button(prefs, text="Cancel", font=font,
                                                      command=prefs_cancel))

    def close_popup() -> None:
        popup.grab_release()
        popup.place_forget()
        state["popup"] = False
        if state["dialog"]:
            dialogs[state["dialog"]].grab_set()
        root.focus_set()
        changed()

    inside(popup, "popup", "popup:Close", tk.Button(popup, text="Close", font=font,
                                                    command=close_popup))

    def pressed(event: tk.Event) -> None:
        state["presses"] += 1
        if state["presses"] == args.popup_after and not state["popup"]:
            def show() -> None:
                place(popup, "popup")
                popup.lift()
                popup.grab_set()
                popup.focus_set()
                state["popup"] = True
                changed()
            root.after_idle(show)
        changed()

    root.bind_all("<ButtonPress>", pressed, add="+")
    root.bind_all("<ButtonRelease>", lambda e: changed(), add="+")
    root.bind_all("<KeyRelease>", lambda e: changed(), add="+")
    root.bind("<Escape>", lambda e: close_menus())
    show_status()

    def poll() -> None:
        write()
        root.after(100, poll)

    root.after(200, poll)
    root.mainloop()


if __name__ == "__main__":
    main()
