"""A small form that fills the primary screen, for trying tracer safely.

Its widgets sit at fixed fractions of the screen, so the scripted plan in demo_form.jsonl finds
them at any screen size:  the Name field at (500, 300), the colour buttons at (400, 450) and
(600, 450), Submit at (500, 650), in tracer's 0..1000 coordinates.

    python examples/demo_form.py [--out result.json] [--close-after-submit SECONDS]

On Submit it shows a thank-you line and, with --out, writes what was entered as JSON.
"""

from __future__ import annotations

import argparse
import json
import tkinter as tk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the submitted form here as JSON")
    parser.add_argument("--close-after-submit", type=float, default=None,
                        help="close the window this many seconds after Submit")
    args = parser.parse_args()

    root = tk.Tk()
    root.title("tracer demo form")
    width, height = root.winfo_screenwidth(), root.winfo_screenheight()
    root.geometry(f"{width}x{height}+0+0")
    root.attributes("-fullscreen", True)
    root.configure(bg="#f4f1ea")
    font = ("DejaVu Sans", max(12, height // 45))

    clicks: list[str] = []
    colour = tk.StringVar(value="none")
    tk.Label(root, text="tracer demo form", font=(font[0], font[1] * 2), bg="#f4f1ea").place(
        relx=0.5, rely=0.12, anchor="center")
    tk.Label(root, text="Name", font=font, bg="#f4f1ea").place(relx=0.3, rely=0.3, anchor="e")
    name = tk.Entry(root, font=font, width=24)
    name.place(relx=0.5, rely=0.3, anchor="center")

    def pick(value: str) -> None:
        colour.set(value)
        clicks.append(value)
        chosen.config(text=f"Colour: {value}")

    for label, relx in (("Blue", 0.4), ("Green", 0.6)):
        tk.Button(root, text=label, font=font, width=8, command=lambda v=label: pick(v)).place(
            relx=relx, rely=0.45, anchor="center")
    chosen = tk.Label(root, text="Colour: none", font=font, bg="#f4f1ea")
    chosen.place(relx=0.5, rely=0.54, anchor="center")
    thanks = tk.Label(root, text="", font=font, bg="#f4f1ea", fg="#206020")
    thanks.place(relx=0.5, rely=0.8, anchor="center")

    def submit() -> None:
        clicks.append("Submit")
        result = {"name": name.get(), "colour": colour.get(), "clicks": clicks}
        thanks.config(text=f"Thanks, {result['name'] or 'stranger'}! ({result['colour']})")
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                json.dump(result, fh)
        if args.close_after_submit is not None:
            root.after(int(args.close_after_submit * 1000), root.destroy)

    tk.Button(root, text="Submit", font=font, width=10, command=submit).place(
        relx=0.5, rely=0.65, anchor="center")
    root.mainloop()


if __name__ == "__main__":
    main()
