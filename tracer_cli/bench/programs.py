"""The bench programs: one small Tk task each (forms, menus, dialogs, lists, tabs, scrolling,
text editing, drag). Each knows the step that moves it on (``next``) and when it is done."""

from __future__ import annotations

import argparse
import sys
import tkinter as tk
from tkinter import ttk
from typing import Any

from tracer_cli.bench.app import BenchApp


def _button(parent: tk.Misc, text: str, command: Any, **pack: Any) -> tk.Button:
    widget = tk.Button(parent, text=text, command=command, width=12)
    widget.pack(**({"pady": 6} | pack))
    return widget


class Button(BenchApp):
    name = "button"
    task = "Click the OK button."

    def build(self) -> None:
        self.values["pressed"] = ""
        self.label("Press OK to continue.")
        self.cancel = _button(self.root, "Cancel", lambda: self.press("Cancel"))
        self.ok = _button(self.root, "OK", lambda: self.press("OK"))

    def press(self, which: str) -> None:
        self.values["pressed"] = self.values["pressed"] or which

    def next(self) -> dict[str, Any] | None:
        return self.click(self.ok, "OK button")

    def done(self) -> bool:
        return self.values["pressed"] == "OK"


class Checkbox(BenchApp):
    name = "checkbox"
    task = "Tick the box 'Send me the newsletter' and nothing else."

    def build(self) -> None:
        self.news, self.offers = tk.BooleanVar(), tk.BooleanVar()
        self.b1 = tk.Checkbutton(self.root, text="Share my data with partners", variable=self.offers)
        self.b2 = tk.Checkbutton(self.root, text="Send me the newsletter", variable=self.news)
        for b in (self.b1, self.b2):
            b.pack(pady=10, anchor="w", padx=60)

    def next(self) -> dict[str, Any] | None:
        return self.click(self.b2, "Send me the newsletter")

    def done(self) -> bool:
        self.values = {"newsletter": self.news.get(), "partners": self.offers.get()}
        return self.news.get() and not self.offers.get()


class Radio(BenchApp):
    name = "radio"
    task = "Choose the colour Blue."

    def build(self) -> None:
        self.colour = tk.StringVar(value="Red")
        self.buttons = {}
        self.label("Favourite colour:")
        for c in ("Red", "Green", "Blue", "Yellow"):
            self.buttons[c] = tk.Radiobutton(self.root, text=c, value=c, variable=self.colour)
            self.buttons[c].pack(anchor="w", padx=80, pady=4)

    def next(self) -> dict[str, Any] | None:
        return self.click(self.buttons["Blue"], "Blue")

    def done(self) -> bool:
        self.values = {"colour": self.colour.get()}
        return self.colour.get() == "Blue"


class _Fields(BenchApp):
    """Entries filled in one by one: click the field, type its value; then maybe a button."""

    fields: tuple[tuple[str, str, str], ...] = ()  # (label, start value, wanted value)
    submit = ""

    def build(self) -> None:
        self.entries: dict[str, tk.Entry] = {}
        self.submitted: dict[str, str] | None = None
        for text, start, _ in self.fields:
            tk.Label(self.root, text=text).pack(anchor="w", padx=60, pady=(10, 0))
            entry = tk.Entry(self.root, width=30)
            entry.insert(0, start)
            entry.pack(anchor="w", padx=60)
            entry.bind("<Control-a>", lambda e: (e.widget.select_range(0, "end"),
                                                 e.widget.icursor("end"), "break")[-1])
            self.entries[text] = entry
        if self.submit:
            self.button = _button(self.root, self.submit, self.do_submit, pady=20)

    def do_submit(self) -> None:
        if self.submitted is None:
            self.submitted = self.current()

    def current(self) -> dict[str, str]:
        return {text: self.entries[text].get() for text, _, _ in self.fields}

    def next(self) -> dict[str, Any] | None:
        focus = self.root.focus_get()
        for text, _, wanted in self.fields:
            entry = self.entries[text]
            have = entry.get()
            if have != wanted:
                if focus is not entry:
                    return self.click(entry, f"{text} field")
                if have:
                    return self.hotkey("ctrl", "a") if entry.selection_present() is False \
                        else self.type(wanted)
                return self.type(wanted)
        if self.submit:
            return self.click(self.button, f"{self.submit} button")
        return None

    def done(self) -> bool:
        self.values = {"fields": self.current(), "submitted": self.submitted}
        wanted = {text: value for text, _, value in self.fields}
        return (self.submitted == wanted) if self.submit else self.current() == wanted


class Entry(_Fields):
    name = "entry"
    task = "Type 'Ada' into the Name field."
    fields = (("Name", "", "Ada"),)


class Form(_Fields):
    name = "form"
    task = "Fill in the form: Name 'Ada Lovelace', Email 'ada@example.org', then press Submit."
    fields = (("Name", "", "Ada Lovelace"), ("Email", "", "ada@example.org"))
    submit = "Submit"


class Replace(_Fields):
    name = "replace"
    task = "Replace 'Bob' with 'Alice' in the Name field (Ctrl+A selects all of it)."
    fields = (("Name", "Bob", "Alice"),)


class Menu(BenchApp):
    name = "menu"
    task = "Open the Edit menu and choose 'Preferences'."

    def build(self) -> None:
        self.chosen = ""
        bar = tk.Frame(self.root, relief="raised", bd=1)
        bar.pack(fill="x")
        self.menus: dict[str, tk.Button] = {}
        for title in ("File", "Edit", "View"):
            self.menus[title] = tk.Button(bar, text=title, relief="flat",
                                          command=lambda t=title: self.open(t))
            self.menus[title].pack(side="left")
        self.drop: tk.Frame | None = None
        self.items: dict[str, tk.Button] = {}
        self.opened = ""

    def open(self, title: str) -> None:
        if self.drop is not None:
            self.drop.destroy()
        self.opened, self.items = title, {}
        self.drop = tk.Frame(self.root, relief="raised", bd=2)
        entries = {"File": ["New", "Open", "Quit"], "Edit": ["Undo", "Copy", "Preferences"],
                   "View": ["Zoom in", "Zoom out"]}[title]
        for item in entries:
            self.items[item] = tk.Button(self.drop, text=item, relief="flat", anchor="w", width=14,
                                         command=lambda i=item: self.choose(i))
            self.items[item].pack(fill="x")
        button = self.menus[title]
        self.drop.place(x=button.winfo_x(), y=button.winfo_y() + button.winfo_height() + 2)

    def choose(self, item: str) -> None:
        self.chosen = self.chosen or f"{self.opened}/{item}"
        if self.drop is not None:
            self.drop.destroy()
            self.drop = None

    def next(self) -> dict[str, Any] | None:
        if self.opened == "Edit" and self.drop is not None and self.drop.winfo_ismapped():
            return self.click(self.items["Preferences"], "Preferences")
        return self.click(self.menus["Edit"], "Edit menu")

    def done(self) -> bool:
        self.values = {"chosen": self.chosen}
        return self.chosen == "Edit/Preferences"


class Dialog(BenchApp):
    name = "dialog"
    task = "Open the settings dialog with 'Settings...' and confirm it with 'Apply'."

    def build(self) -> None:
        self.result = ""
        self.label("Nothing applied yet.")
        self.open = _button(self.root, "Settings...", self.show)
        self.dialog: tk.Toplevel | None = None

    def show(self) -> None:
        if self.dialog is not None:
            return
        self.dialog = tk.Toplevel(self.root)
        self.dialog.transient(self.root)  # kept above the main window, as dialogs are
        self.dialog.title("Settings")
        self.dialog.geometry("320x160+450+300")
        tk.Label(self.dialog, text="Apply the new settings?").pack(pady=10)
        self.apply = tk.Button(self.dialog, text="Apply", width=10, command=lambda: self.close("Apply"))
        self.apply.pack(side="left", padx=20)
        self.cancel = tk.Button(self.dialog, text="Cancel", width=10, command=lambda: self.close("Cancel"))
        self.cancel.pack(side="right", padx=20)

    def close(self, how: str) -> None:
        self.result = self.result or how
        if self.dialog is not None:
            self.dialog.destroy()
            self.dialog = None

    def next(self) -> dict[str, Any] | None:
        if self.dialog is not None and self.dialog.winfo_ismapped():
            return self.click(self.apply, "Apply")
        return self.click(self.open, "Settings...")

    def done(self) -> bool:
        self.values = {"result": self.result}
        return self.result == "Apply"


class _List(BenchApp):
    items: tuple[str, ...] = ()
    wanted = ""
    height = 10
    action = "click"

    def build(self) -> None:
        self.opened = ""
        self.label(self.task)
        self.list = tk.Listbox(self.root, height=self.height, width=24, exportselection=False)
        self.list.insert("end", *self.items)
        self.list.pack()
        self.list.bind("<Double-Button-1>", self.open)

    def open(self, event: tk.Event) -> None:
        picked = self.list.curselection()
        if picked and not self.opened:
            self.opened = self.items[picked[0]]

    def selected(self) -> str:
        picked = self.list.curselection()
        return self.items[picked[0]] if picked else ""

    def next(self) -> dict[str, Any] | None:
        index = self.items.index(self.wanted)
        first, last = self.list.nearest(0), self.list.nearest(self.list.winfo_height() - 1)
        box = self.list.bbox(index)
        if not box or not first < index < last:  # off the list, or cut at its edge
            x, y = self.centre(self.list)  # one wheel click scrolls five rows
            return {"action": "scroll", "x": x, "y": y, "dy": -1 if index >= last else 1}
        row = (0, box[1], self.list.winfo_width(), box[3])
        return self.click(self.list, self.wanted, self.action, box=row)

    def done(self) -> bool:
        self.values = {"selected": self.selected(), "opened": self.opened}
        return (self.opened if self.action == "double_click" else self.selected()) == self.wanted


class ListPick(_List):
    name = "list"
    task = "Select 'Cherry' in the fruit list."
    items = ("Apple", "Banana", "Grape", "Cherry", "Lemon", "Mango", "Orange", "Pear")
    wanted = "Cherry"


class ScrollList(_List):
    name = "scroll_list"
    task = "Select 'Item 45' in the long list (scroll down to find it)."
    items = tuple(f"Item {n}" for n in range(1, 61))
    wanted = "Item 45"
    height = 8


class DoubleClick(_List):
    name = "double_click"
    task = "Open 'report.txt' by double-clicking it."
    items = ("notes.md", "photo.png", "report.txt", "todo.txt", "music.mp3")
    wanted = "report.txt"
    action = "double_click"


class Tabs(BenchApp):
    name = "tabs"
    task = "Open the 'Advanced' tab and tick 'Enable logging'."

    def build(self) -> None:
        self.book = ttk.Notebook(self.root, width=600, height=320)
        self.logging = tk.BooleanVar()
        for title in ("General", "Display", "Advanced"):
            page = tk.Frame(self.book)
            self.book.add(page, text=title)
            if title == "Advanced":
                self.box = tk.Checkbutton(page, text="Enable logging", variable=self.logging)
                self.box.pack(pady=40)
            else:
                tk.Label(page, text=f"{title} settings").pack(pady=40)
        self.book.pack(pady=20)

    def tab_centre(self, index: int) -> tuple[int, int]:
        xs = [x for x in range(0, self.book.winfo_width(), 2)
              if self._tab_at(x) == index]
        y = 12
        return self.book.winfo_rootx() + (xs[0] + xs[-1]) // 2, self.book.winfo_rooty() + y

    def _tab_at(self, x: int) -> int | None:
        try:
            return int(self.book.index(f"@{x},12"))
        except tk.TclError:
            return None

    def next(self) -> dict[str, Any] | None:
        if self.book.index("current") != 2:
            x, y = self.tab_centre(2)
            return {"action": "click", "target": "Advanced tab", "x": x, "y": y}
        return self.click(self.box, "Enable logging")

    def done(self) -> bool:
        self.values = {"tab": self.book.index("current"), "logging": self.logging.get()}
        return self.logging.get()


class TextAppend(BenchApp):
    name = "text"
    task = "Add a new last line 'Bye' to the note."

    def build(self) -> None:
        self.text = tk.Text(self.root, width=40, height=8)
        self.text.insert("1.0", "Hello")
        self.text.pack(pady=30)

    def content(self) -> str:
        return self.text.get("1.0", "end-1c")

    def next(self) -> dict[str, Any] | None:
        if self.root.focus_get() is not self.text or self.text.index("insert") != self.text.index("end-1c"):
            return self.click(self.text, "the note, below its text")
        return self.type("\nBye")

    def done(self) -> bool:
        self.values = {"text": self.content()}
        return self.content().rstrip("\n") == "Hello\nBye"


class Drag(BenchApp):
    name = "drag"
    task = "Drag the red square into the grey box."

    def build(self) -> None:
        self.canvas = tk.Canvas(self.root, width=700, height=400, bg="white")
        self.canvas.pack(pady=20)
        self.goal = self.canvas.create_rectangle(480, 140, 620, 280, fill="#bbbbbb", outline="")
        self.square = self.canvas.create_rectangle(80, 170, 140, 230, fill="#d01010", outline="")
        self.grab: tuple[int, int] | None = None
        self.canvas.bind("<ButtonPress-1>", self.press)
        self.canvas.bind("<B1-Motion>", self.move)
        self.canvas.bind("<ButtonRelease-1>", self.move)

    def press(self, event: tk.Event) -> None:
        x0, y0, x1, y1 = self.canvas.coords(self.square)
        self.grab = (event.x, event.y) if x0 <= event.x <= x1 and y0 <= event.y <= y1 else None

    def move(self, event: tk.Event) -> None:
        if self.grab is not None:
            self.canvas.move(self.square, event.x - self.grab[0], event.y - self.grab[1])
            self.grab = (event.x, event.y)

    def _centre(self, item: int) -> tuple[int, int]:
        x0, y0, x1, y1 = self.canvas.coords(item)
        return (self.canvas.winfo_rootx() + int(x0 + x1) // 2,
                self.canvas.winfo_rooty() + int(y0 + y1) // 2)

    def next(self) -> dict[str, Any] | None:
        (x, y), (x2, y2) = self._centre(self.square), self._centre(self.goal)
        return {"action": "drag", "target": "red square", "x": x, "y": y, "x2": x2, "y2": y2}

    def done(self) -> bool:
        x0, y0, x1, y1 = self.canvas.coords(self.square)
        g0, h0, g1, h1 = self.canvas.coords(self.goal)
        self.values = {"square": [x0, y0, x1, y1]}
        return g0 <= x0 and x1 <= g1 and h0 <= y0 and y1 <= h1


class Slider(BenchApp):
    name = "slider"
    task = "Set the volume slider all the way up, to 100."

    def build(self) -> None:
        self.label("Volume")
        self.scale = tk.Scale(self.root, from_=0, to=100, orient="horizontal", length=500)
        self.scale.set(20)
        self.scale.pack()

    def next(self) -> dict[str, Any] | None:
        x, y = self.scale.coords(self.scale.get())
        x0, y0 = self.scale.winfo_rootx(), self.scale.winfo_rooty()
        end_x, _ = self.scale.coords(100)
        return {"action": "drag", "target": "volume slider handle", "x": x0 + int(x), "y": y0 + int(y),
                "x2": x0 + int(end_x) + 30, "y2": y0 + int(y)}

    def done(self) -> bool:
        self.values = {"volume": self.scale.get()}
        return self.scale.get() == 100


class RightClick(BenchApp):
    name = "right_click"
    task = "Right-click the picture and choose 'Delete' from its menu."

    def build(self) -> None:
        self.action = ""
        self.picture = tk.Canvas(self.root, width=300, height=200, bg="#4060c0")
        self.picture.pack(pady=60)
        self.picture.bind("<ButtonPress-3>", self.popup)
        self.menu: tk.Frame | None = None
        self.items: dict[str, tk.Button] = {}

    def popup(self, event: tk.Event) -> None:
        if self.menu is not None:
            self.menu.destroy()
        self.menu = tk.Frame(self.root, relief="raised", bd=2)
        self.items = {}
        for item in ("Copy", "Rename", "Delete"):
            self.items[item] = tk.Button(self.menu, text=item, relief="flat", width=10,
                                         command=lambda i=item: self.choose(i))
            self.items[item].pack(fill="x")
        self.menu.place(x=event.x_root - self.root.winfo_rootx(), y=event.y_root - self.root.winfo_rooty())

    def choose(self, item: str) -> None:
        self.action = self.action or item
        if self.menu is not None:
            self.menu.destroy()
            self.menu = None

    def next(self) -> dict[str, Any] | None:
        if self.menu is not None and self.menu.winfo_ismapped():
            return self.click(self.items["Delete"], "Delete")
        return self.click(self.picture, "the picture", "right_click")

    def done(self) -> bool:
        self.values = {"action": self.action}
        return self.action == "Delete"


class Hotkey(BenchApp):
    name = "hotkey"
    task = "Save the document with the keyboard shortcut Ctrl+S."

    def build(self) -> None:
        self.saved = False
        self.label("An unsaved document. Press Ctrl+S to save.")
        self.root.bind_all("<Control-s>", lambda e: setattr(self, "saved", True))

    def next(self) -> dict[str, Any] | None:
        return self.hotkey("ctrl", "s")

    def done(self) -> bool:
        self.values = {"saved": self.saved}
        return self.saved


class Sequence(BenchApp):
    name = "sequence"
    task = "Press the buttons 1, 2 and 3, in that order."

    def build(self) -> None:
        self.pressed: list[int] = []
        row = tk.Frame(self.root)
        row.pack(pady=80)
        self.buttons = {}
        for n in (3, 1, 2):
            self.buttons[n] = tk.Button(row, text=str(n), width=6, command=lambda n=n: self.pressed.append(n))
            self.buttons[n].pack(side="left", padx=30)

    def next(self) -> dict[str, Any] | None:
        n = len(self.pressed) + 1
        return self.click(self.buttons[min(n, 3)], f"button {min(n, 3)}")

    def done(self) -> bool:
        self.values = {"pressed": self.pressed}
        return self.pressed == [1, 2, 3]


class Counter(BenchApp):
    name = "counter"
    task = "Make the counter show 3 using the '+' button."

    def build(self) -> None:
        self.count = 0
        self.shown = self.label("0", font=("DejaVu Sans", 28))
        row = tk.Frame(self.root)
        row.pack()
        self.minus = tk.Button(row, text="-", width=4, command=lambda: self.add(-1))
        self.plus = tk.Button(row, text="+", width=4, command=lambda: self.add(1))
        self.minus.pack(side="left", padx=20)
        self.plus.pack(side="left", padx=20)

    def add(self, n: int) -> None:
        self.count += n
        self.shown.config(text=str(self.count))

    def next(self) -> dict[str, Any] | None:
        return self.click(self.plus if self.count < 3 else self.minus, "+" if self.count < 3 else "-")

    def done(self) -> bool:
        self.values = {"count": self.count}
        return self.count == 3


class Search(_Fields):
    name = "search"
    task = "Search for 'lisbon' and open the first result."
    fields = (("Search", "", "lisbon"),)

    def build(self) -> None:
        super().build()
        self.go = _button(self.root, "Search", self.search)
        self.results: list[tk.Button] = []
        self.opened = ""

    def search(self) -> None:
        for b in self.results:
            b.destroy()
        query = self.entries["Search"].get().strip().lower()
        places = ("Lisbon, Portugal", "Lisbon, Ohio", "Berlin, Germany")
        found = [c for c in places if query and query in c.lower()]
        self.results = [tk.Button(self.root, text=c, relief="flat", fg="blue",
                                  command=lambda c=c: self.open(c)) for c in found]
        for b in self.results:
            b.pack(anchor="w", padx=60)

    def open(self, place: str) -> None:
        self.opened = self.opened or place

    def next(self) -> dict[str, Any] | None:
        if self.results and self.results[0].winfo_ismapped():
            return self.click(self.results[0], "first result")
        step = super().next()
        return step if step is not None else self.click(self.go, "Search button")

    def done(self) -> bool:
        self.values = {"query": self.entries["Search"].get(), "opened": self.opened}
        return self.opened == "Lisbon, Portugal"


class Popup(BenchApp):
    name = "popup"
    task = "Dismiss the cookie pop-up, then press Continue."

    def build(self) -> None:
        self.continued = False
        self.label("Welcome!")
        self.go = _button(self.root, "Continue", self.press)
        self.cover = tk.Frame(self.root, bg="#333333")
        self.cover.place(relx=0, rely=0, relwidth=1, relheight=1)
        box = tk.Frame(self.cover, bd=2, relief="raised")
        box.place(relx=0.5, rely=0.5, anchor="center")
        tk.Label(box, text="We use cookies.").pack(padx=30, pady=10)
        self.accept = tk.Button(box, text="Accept", width=10, command=self.cover.place_forget)
        self.accept.pack(pady=10)

    def press(self) -> None:
        self.continued = True

    def next(self) -> dict[str, Any] | None:
        if self.cover.winfo_ismapped():
            return self.click(self.accept, "Accept")
        return self.click(self.go, "Continue")

    def done(self) -> bool:
        self.values = {"continued": self.continued, "popup": bool(self.cover.winfo_ismapped())}
        return self.continued


class ScrollPage(BenchApp):
    name = "scroll_page"
    task = "Press the 'Finish' button at the bottom of the page (scroll down to it)."

    def build(self) -> None:
        self.finished = False
        self.canvas = tk.Canvas(self.root, width=600, height=420)
        self.canvas.pack(pady=20)
        inner = tk.Frame(self.canvas)
        for n in range(1, 31):
            tk.Label(inner, text=f"Paragraph {n} of the terms.").pack(anchor="w", pady=6)
        self.finish = tk.Button(inner, text="Finish", width=10,
                                command=lambda: setattr(self, "finished", True))
        self.finish.pack(pady=20)
        self.canvas.create_window(0, 0, window=inner, anchor="nw")
        inner.update_idletasks()
        self.canvas.configure(scrollregion=self.canvas.bbox("all"), yscrollincrement=20)
        for seq, n in (("<Button-4>", -3), ("<Button-5>", 3)):
            self.root.bind_all(seq, lambda e, n=n: self.canvas.yview_scroll(n, "units"), add="+")

    def next(self) -> dict[str, Any] | None:
        top, bottom = self.canvas.winfo_rooty(), self.canvas.winfo_rooty() + self.canvas.winfo_height()
        x, y = self.centre(self.finish)
        if top + 10 <= y <= bottom - 10:
            return self.click(self.finish, "Finish")
        cx, cy = self.centre(self.canvas)
        return {"action": "scroll", "x": cx, "y": cy, "dy": -5}

    def done(self) -> bool:
        self.values = {"finished": self.finished}
        return self.finished


class Toggle(BenchApp):
    name = "toggle"
    task = "Turn Wi-Fi on and Bluetooth off."

    def build(self) -> None:
        self.state = {"Wi-Fi": False, "Bluetooth": True}
        self.switches: dict[str, tk.Button] = {}
        for name in self.state:
            row = tk.Frame(self.root)
            row.pack(pady=20)
            tk.Label(row, text=name, width=12, anchor="w").pack(side="left")
            self.switches[name] = tk.Button(row, width=6, command=lambda n=name: self.flip(n))
            self.switches[name].pack(side="left")
            self.show(name)

    def flip(self, name: str) -> None:
        self.state[name] = not self.state[name]
        self.show(name)

    def show(self, name: str) -> None:
        self.switches[name].config(text="ON" if self.state[name] else "OFF",
                                   bg="#40a040" if self.state[name] else "#a0a0a0")

    def next(self) -> dict[str, Any] | None:
        if not self.state["Wi-Fi"]:
            return self.click(self.switches["Wi-Fi"], "Wi-Fi switch")
        return self.click(self.switches["Bluetooth"], "Bluetooth switch")

    def done(self) -> bool:
        self.values = dict(self.state)
        return self.state == {"Wi-Fi": True, "Bluetooth": False}


class Spin(BenchApp):
    name = "spinbox"
    task = "Raise the number of copies to 4 with the up arrow of the spin box."

    def build(self) -> None:
        self.label("Copies")
        self.spin = tk.Spinbox(self.root, from_=1, to=10, width=5, font=("DejaVu Sans", 20))
        self.spin.pack()

    def next(self) -> dict[str, Any] | None:
        # the up arrow: the top half of the button column at the right edge
        x0, y0 = self.spin.winfo_rootx(), self.spin.winfo_rooty()
        w, h = self.spin.winfo_width(), self.spin.winfo_height()
        return {"action": "click", "target": "spin box up arrow", "x": x0 + w - 9, "y": y0 + h // 4 + 1}

    def done(self) -> bool:
        self.values = {"copies": self.spin.get()}
        return self.spin.get() == "4"


PROGRAMS: dict[str, type[BenchApp]] = {p.name: p for p in (
    Button, Checkbox, Radio, Entry, Form, Replace, Menu, Dialog, ListPick, ScrollList, DoubleClick,
    Tabs, TextAppend, Drag, Slider, RightClick, Hotkey, Sequence, Counter, Search, Popup,
    ScrollPage, Toggle, Spin)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one bench program.")
    parser.add_argument("name", choices=sorted(PROGRAMS))
    parser.add_argument("--state", required=True, help="Where to write its state (JSON).")
    args = parser.parse_args(argv)
    PROGRAMS[args.name](args.state).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
