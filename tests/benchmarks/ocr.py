"""Benchmark: OCR engines on screenshots of real X programs, at 1280x800 and 1920x1080.

Scenes (each filling an Xvfb screen, with text known in advance): a Tk form with many labels
and buttons, an xterm showing known lines (its 6x13 bitmap font), and a Tk text editor (menu
bar plus a Text widget with known paragraphs). For each engine and size it reports: init time,
full-screen read time (median), accuracy = share of the known strings find_text finds (and
with exact=True), the character error rate of what it found, and the time to find one text
target on a 1920x1080 screen (capture + OCR + find_text) on the full screen and in a region.

    python tests/benchmarks/ocr.py [--runs 3] [--engines rapidocr,tesseract] [--variants]

--variants also measures RapidOCR's library defaults and detector sizes (before/after tuning).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.conftest import start_xvfb  # noqa: E402
from tracer_cli.vision.ocr import (  # noqa: E402
    Box,
    RapidOcrEngine,
    TesseractEngine,
    TextBox,
    find_text,
    read_region,
)

FORM_WORDS = [
    "Username", "Password", "Email address", "Phone number", "Street", "City", "Postcode",
    "Country", "Date of birth", "Company", "Department", "Job title", "Newsletter",
    "Remember me", "Language", "Time zone", "Currency", "Notifications", "Privacy", "Theme",
    "Save", "Save As", "Cancel", "Apply", "Reset", "Help", "Export PDF", "Import CSV",
    "Preferences", "Advanced settings", "Log out", "Delete account",
]
XTERM_LINES = [
    "total 48 drwxr-xr-x 5 user staff", "README.md", "setup.py", "requirements.txt",
    "git status --short", "modified: tracer_cli/ocr.py", "Compiling module 17 of 42",
    "error: expected ';' before 'return'", "Build finished in 12.4 seconds",
    "ssh deploy@server-01.example.org", "Connection refused", "tail -n 20 /var/log/syslog",
    "kernel: usb 1-1: new high-speed USB device", "python3 -m pytest -q", "27 passed in 12.33s",
    "Downloading package lists", "Reading state information... Done",
]
EDITOR_MENUS = ["File", "Edit", "View", "Search", "Tools", "Help"]
EDITOR_LINES = [
    "Meeting notes for Thursday", "Agenda: quarterly budget review",
    "Action items are listed below", "Send the invoice to Margaret",
    "Book the conference room", "Update the onboarding guide", "Deadline is Friday at noon",
    "Contact: support@example.com", "Total cost 1,250.00 EUR", "Ticket number 48213",
]

TK_FORM = """
import tkinter as tk, sys
words = sys.argv[1].split("|")
root = tk.Tk(); root.title("bench-form")
w, h = root.winfo_screenwidth(), root.winfo_screenheight()
root.geometry(f"{w}x{h}+0+0"); root.configure(bg="#ececec")
size = max(10, h // 80)
for i, word in enumerate(words):
    col, row = divmod(i, 8)
    x, y = 0.05 + col * 0.24, 0.08 + row * 0.11
    if i < 20:
        tk.Label(root, text=word, font=("DejaVu Sans", size), bg="#ececec").place(relx=x, rely=y)
        tk.Entry(root, width=14, font=("DejaVu Sans", size)).place(relx=x, rely=y + 0.04)
    else:
        tk.Button(root, text=word, font=("DejaVu Sans", size)).place(relx=x, rely=y)
root.mainloop()
"""
TK_EDITOR = """
import tkinter as tk, sys
menus, lines = sys.argv[1].split("|"), sys.argv[2].split("|")
root = tk.Tk(); root.title("bench-editor")
w, h = root.winfo_screenwidth(), root.winfo_screenheight()
root.geometry(f"{w}x{h}+0+0")
bar = tk.Menu(root)
for name in menus:
    bar.add_cascade(label=name, menu=tk.Menu(bar, tearoff=0))
root.config(menu=bar)
text = tk.Text(root, font=("DejaVu Sans Mono", 11), wrap="word")
text.pack(fill="both", expand=True)
text.insert("1.0", "\\n".join(lines) + "\\n")
root.mainloop()
"""


def scene_programs(scene: str, width: int, height: int, tmp: Path) -> tuple[list[str], list[str]]:
    """The command that shows the scene and the strings known to be on it."""
    if scene == "form":
        return [sys.executable, "-c", TK_FORM, "|".join(FORM_WORDS)], FORM_WORDS
    if scene == "editor":
        return ([sys.executable, "-c", TK_EDITOR, "|".join(EDITOR_MENUS), "|".join(EDITOR_LINES)],
                EDITOR_MENUS + EDITOR_LINES)
    script = tmp / "lines.sh"
    script.write_text("clear; printf '%s\\n' " + " ".join("'" + t.replace("'", "'\\''") + "'"
                                                         for t in XTERM_LINES) + "; sleep 600\n")
    return (["xterm", "-geometry", f"{width // 6 - 2}x{height // 13 - 1}+0+0", "-xrm",
             "*cursorBlink: false", "-e", "sh", str(script)], XTERM_LINES)


def capture_scene(scene: str, width: int, height: int, tmp: Path) -> tuple[object, list[str]]:
    from tracer_cli.desktop.platform import choose
    from tracer_cli.desktop.screen import wait_settled

    argv, known = scene_programs(scene, width, height, tmp)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        screen = choose("auto").open_screen(1)
        wait_settled(screen, quiet=0.4, timeout=5)
        image = screen.capture().image
        screen.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    image.save(tmp / f"{scene}_{width}.png")
    return image, known


def levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def accuracy(lines: list[TextBox], known: list[str]) -> tuple[float, float, float]:
    found = exact = 0
    errors = chars = 0
    for text in known:
        matches = find_text(lines, text)
        if matches:
            found += 1
            errors += levenshtein(matches[0].text, text)
            chars += len(text)
        exact += bool(find_text(lines, text, exact=True))
    return found / len(known), exact / len(known), (errors / chars if chars else float("nan"))


def median_time(fn, runs: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, value = [], None
    for _ in range(runs):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


class StockRapid:
    """RapidOCR exactly as the library configures itself (angle classifier on, no tuning)."""

    name = "rapidocr-stock"

    def __init__(self) -> None:
        import logging

        from rapidocr_onnxruntime import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        self._ocr = RapidOCR()

    def read(self, image):  # type: ignore[no-untyped-def]
        from tracer_cli.vision.ocr import _quad_box

        result, _ = self._ocr(image.convert("RGB"))
        return [TextBox(str(r[1]), _quad_box(r[0]), float(r[2])) for r in result or []]


def engines(names: list[str], variants: bool) -> dict[str, object]:
    makers: dict[str, object] = {}
    if variants and "rapidocr" in names:
        makers["rapidocr-stock"] = StockRapid
    if "rapidocr" in names:
        makers["rapidocr"] = RapidOcrEngine
    if variants and "rapidocr" in names:
        makers["rapidocr-det1280"] = lambda: RapidOcrEngine(det_max_side=1280)
        makers["rapidocr-det960"] = lambda: RapidOcrEngine(det_max_side=960)
    if "tesseract" in names:
        makers["tesseract"] = TesseractEngine
    if variants and "tesseract" in names:
        makers["tesseract-1x"] = lambda: TesseractEngine(scale=1.0)
    return makers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="rapidocr,tesseract")
    parser.add_argument("--sizes", default="1280x800,1920x1080")
    parser.add_argument("--scenes", default="form,xterm,editor")
    parser.add_argument("--variants", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tracer-ocr-bench-"))
    shots: dict[tuple[str, str], tuple[object, list[str]]] = {}
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.split("x"))
        xvfb, os.environ["DISPLAY"] = start_xvfb(width, height)
        try:
            for scene in args.scenes.split(","):
                shots[(size, scene)] = capture_scene(scene, width, height, tmp)
        finally:
            xvfb.terminate()
            xvfb.wait(timeout=10)
    print(f"screenshots in {tmp}; {os.cpu_count()} CPUs; median of {args.runs} runs\n")
    header = (f"{'engine':<18}{'size':<11}{'scene':<8}{'init s':>7}{'read s':>8}"
              f"{'found':>7}{'exact':>7}{'CER':>7}")
    print(header)
    print("-" * len(header))
    for name, make in engines(args.engines.split(","), args.variants).items():
        start = time.perf_counter()
        engine = make()  # type: ignore[operator]
        init = time.perf_counter() - start
        engine.read(shots[next(iter(shots))][0])  # warm up onnxruntime's first run
        for (size, scene), (image, known) in shots.items():
            read, lines = median_time(lambda e=engine, im=image: e.read(im), args.runs)
            found, exact, cer = accuracy(lines, known)  # type: ignore[arg-type]
            print(f"{name:<18}{size:<11}{scene:<8}{init:>7.2f}{read:>8.2f}"
                  f"{found:>7.0%}{exact:>7.0%}{cer:>7.1%}", flush=True)
            init = 0.0
        if ("1920x1080", "form") in shots:
            # Time to find one target on a 1920x1080 screen: capture + OCR + find_text.
            image, _ = shots[("1920x1080", "form")]
            xvfb, os.environ["DISPLAY"] = start_xvfb(1920, 1080)
            argv, _ = scene_programs("form", 1920, 1080, tmp)
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(1.5)
                from tracer_cli.desktop.platform import choose

                screen = choose("auto").open_screen(1)

                def full(e=engine, s=screen):  # type: ignore[no-untyped-def]
                    return find_text(e.read(s.capture().image), "Delete account")

                def region(e=engine, s=screen):  # type: ignore[no-untyped-def]
                    shot = s.capture().image
                    return find_text(read_region(e, shot, Box(960, 540, 1920, 1080)), "Delete account")

                t_full, hits_full = median_time(full, args.runs)
                t_region, hits_region = median_time(region, args.runs)
                screen.close()
            finally:
                proc.terminate()
                proc.wait(timeout=10)
                xvfb.terminate()
                xvfb.wait(timeout=10)
            print(f"{name:<18}find 'Delete account' on 1920x1080: full screen {t_full:.2f} s "
                  f"({len(hits_full)} hit), bottom-right quarter {t_region:.2f} s "  # type: ignore[arg-type]
                  f"({len(hits_region)} hit)", flush=True)  # type: ignore[arg-type]
    print(textwrap.dedent("""
        found: share of the known strings find_text finds (default rules); exact: with
        exact=True; CER: character error rate of the text matched, over the strings found."""))


if __name__ == "__main__":
    main()
