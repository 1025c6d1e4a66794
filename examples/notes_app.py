"""A small note-taking window to try macros on: a form, buttons, and text that appears later.

    python examples/notes_app.py [--state FILE] [--geometry 640x420+100+80] [--load-delay 2]

The window "Notes" has a Name field, a Note text box, buttons Save, Clear, Load and Delete, and a
status line ("Saved NAME", "Cleared", "Loaded 3 notes" a moment after Load, "Deleted all notes").
With --state, every change rewrites FILE as JSON: {"name", "note", "saved": [[name, note], ...],
"status", "clicks": [button names], "ready": true} (the tests read it).
"""

from __future__ import annotations

import argparse
import json
import os
import tkinter as tk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state", help="write the window's state here as JSON on every change")
    parser.add_argument("--geometry", default="640x420+100+80", help="WIDTHxHEIGHT+X+Y")
    parser.add_argument("--load-delay", type=float, default=2.0,
                        help="seconds before Load shows its result")
    args = parser.parse_args()
    path, geometry, delay = args.state, args.geometry, args.load_delay
    state: dict = {"name": "", "note": "", "saved": [], "status": "", "clicks": [], "ready": False}

    root = tk.Tk()
    root.title("Notes")
    root.geometry(geometry)
    font = ("DejaVu Sans", 14)

    def write() -> None:
        if not path:
            return
        state["name"] = name.get()
        state["note"] = note.get("1.0", "end-1c")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, path)

    def set_status(text: str) -> None:
        state["status"] = text
        status.config(text=text)
        write()

    def clicked(label: str, action) -> None:  # type: ignore[no-untyped-def]
        state["clicks"].append(label)
        action()

    def save() -> None:
        state["saved"].append([name.get(), note.get("1.0", "end-1c")])
        set_status(f"Saved {name.get()}")

    def clear() -> None:
        name.delete(0, "end")
        note.delete("1.0", "end")
        set_status("Cleared")

    def load() -> None:
        set_status("Loading...")
        root.after(int(delay * 1000), lambda: set_status("Loaded 3 notes"))

    def delete() -> None:
        state["saved"] = []
        set_status("Deleted all notes")

    form = tk.Frame(root, padx=16, pady=12)
    form.pack(fill="both", expand=True)
    tk.Label(form, text="Name", font=font).grid(row=0, column=0, sticky="w")
    name = tk.Entry(form, font=font, width=28)
    name.grid(row=0, column=1, sticky="w", pady=6)
    tk.Label(form, text="Note", font=font).grid(row=1, column=0, sticky="nw")
    note = tk.Text(form, font=font, width=28, height=5)
    note.grid(row=1, column=1, sticky="w", pady=6)
    buttons = tk.Frame(form, pady=8)
    buttons.grid(row=2, column=0, columnspan=2, sticky="w")
    for label, action in (("Save", save), ("Clear", clear), ("Load", load), ("Delete", delete)):
        tk.Button(buttons, text=label, font=font, width=7,
                  command=lambda label=label, action=action: clicked(label, action)).pack(
                      side="left", padx=6)
    status = tk.Label(form, text="", font=font, fg="#004400")
    status.grid(row=3, column=0, columnspan=2, sticky="w", pady=8)
    for widget in (name, note):
        widget.bind("<KeyRelease>", lambda e: write())

    def ready() -> None:
        state["ready"] = True
        write()

    root.after(300, ready)
    name.focus_set()
    root.mainloop()


if __name__ == "__main__":
    main()
