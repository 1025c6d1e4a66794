"""A test program: a small ttk form laid out with grid, in another style than the benchmark's
(tests/benchmarks/replan_app.py places classic Tk widgets at fixed coordinates).

    python tk_form.py STATEFILE

It writes STATEFILE (JSON) whenever something changes: the values ("agree", "size", "name"),
the widget with the focus, and "boxes": each widget's rectangle [x, y, width, height] in
screen pixels. The caret does not blink (a test must see only what an action changed).
"""

from __future__ import annotations

import json
import os
import sys
import tkinter as tk
from tkinter import ttk


class Form:
    def __init__(self, root: tk.Tk, path: str) -> None:
        self.root, self.path = root, path
        root.title("tk form")
        root.option_add("*insertOffTime", 0)  # a steady caret
        root.geometry("+0+0")
        frame = ttk.Frame(root, padding=24)
        frame.grid(sticky="nsew")
        self.agree = tk.BooleanVar(value=False)
        self.size = tk.StringVar(value="small")
        self.name = tk.StringVar(value="Grace Hopper")
        ttk.Label(frame, text="Order a T-shirt", font=("DejaVu Sans", 14, "bold")).grid(
            row=0, column=0, columnspan=3, sticky="w", pady=(0, 16))
        ttk.Label(frame, text="Name").grid(row=1, column=0, sticky="w")
        self.widgets: dict[str, tk.Widget] = {}
        self.widgets["name"] = ttk.Entry(frame, textvariable=self.name, width=30)
        self.widgets["name"].grid(row=1, column=1, columnspan=2, sticky="w", pady=6)
        ttk.Label(frame, text="Size").grid(row=2, column=0, sticky="w")
        for column, value in enumerate(("small", "large"), start=1):
            self.widgets[value] = ttk.Radiobutton(frame, text=f"{value.title()} (fits most people)",
                                                  value=value, variable=self.size)
            self.widgets[value].grid(row=2, column=column, sticky="w", padx=(0, 20), pady=6)
        self.widgets["agree"] = ttk.Checkbutton(
            frame, text="Send me the monthly newsletter and product news", variable=self.agree)
        self.widgets["agree"].grid(row=3, column=0, columnspan=3, sticky="w", pady=6)
        self.widgets["order"] = ttk.Button(frame, text="Order")
        self.widgets["order"].grid(row=4, column=0, sticky="w", pady=(16, 0))
        ttk.Label(frame, text="").grid(row=5, column=0, pady=120)  # room to click on nothing
        for var in (self.agree, self.size, self.name):
            var.trace_add("write", lambda *_: self.write())
        root.bind_all("<FocusIn>", lambda _e: self.write())
        root.after(300, self.write)

    def write(self) -> None:
        focus = self.root.focus_get()
        boxes = {name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
                 for name, w in self.widgets.items()}
        state = {"agree": self.agree.get(), "size": self.size.get(), "name": self.name.get(),
                 "focus": next((n for n, w in self.widgets.items() if w is focus), None),
                 "boxes": boxes}
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(state, fh)
        os.replace(tmp, self.path)


def main() -> None:
    root = tk.Tk()
    Form(root, sys.argv[1])
    root.mainloop()


if __name__ == "__main__":
    main()
