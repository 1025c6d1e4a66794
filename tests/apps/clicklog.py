"""A test program: a window filling the screen that logs every mouse press and key to a file.

    python clicklog.py LOGFILE

With CLICKLOG_TEXT set, that text is shown in the window.
Each line of LOGFILE is JSON: {"event": "ready"} once the window is mapped, then
{"event": "press", "x": X, "y": Y, "button": B} (root coordinates) and
{"event": "key", "keysym": K, "char": C}; each with "t", time.monotonic() when it was logged.
"""

from __future__ import annotations

import json
import os
import sys
import time
import tkinter as tk


def main() -> None:
    path = sys.argv[1]
    log = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(record: dict) -> None:
        log.write(json.dumps({**record, "t": time.monotonic()}) + "\n")
        log.flush()

    root = tk.Tk()
    root.title("clicklog")
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.geometry(f"{width}x{height}+0+0")
    canvas = tk.Canvas(root, width=width, height=height, bg="white", highlightthickness=0)
    canvas.pack(fill="both", expand=True)
    canvas.create_text(width // 2, 30, text="clicklog", font=("DejaVu Sans", 16))
    message = os.environ.get("CLICKLOG_TEXT", "")  # e.g. text that tries to instruct an agent
    if message:
        canvas.create_text(width // 2, height // 3, text=message, width=width - 100,
                           font=("DejaVu Sans", 22), fill="#b00000")
    canvas.bind("<ButtonPress>", lambda e: write(
        {"event": "press", "x": e.x_root, "y": e.y_root, "button": e.num}))
    root.bind("<KeyPress>", lambda e: write({"event": "key", "keysym": e.keysym, "char": e.char}))
    canvas.focus_set()
    root.after(300, lambda: write({"event": "ready"}))
    root.mainloop()


if __name__ == "__main__":
    main()
