"""Benchmark: model calls, success and time per task, --replan always against adaptive.

    python tests/benchmarks/replan.py [--error-rate 0.15] [--popup-rate 0.3] [--latency 1.0]
                                      [--tasks t01,t02] [--modes always,adaptive] [--seed 7]
                                      [--seeds 3] [--toolkit tk,gtk,chromium] [--tree off,on]
                                      [--elements off,on] [--ground off,on] [--jitter PX]

It starts an Xvfb display (1280x800), and for each of 22 multi-step tasks (3-12 steps: a sign-up
form, drop-down menus, dialogs, a text editor; tests/benchmarks/replan_app.py in Tk, or the same
program in GTK 3 or as a page in Chromium with --toolkit) runs the real `tracer do` in each mode
against an expert planner served over the OpenAI API on 127.0.0.1.

With ``--tree on`` the display gets a private accessibility bus (tests/a11y.py) that the program
and tracer share (Chromium with its renderer's tree on), so tracer's identity checks and effects
by state read the tree; ``--tree off`` (the default) gives neither a session bus. ``--elements
on`` adds tracer's ``--elements`` (the active window's elements listed in each request). Each
flag takes a comma-separated list, as does ``--toolkit``: every combination is run and a last
table gives each one's model calls per step and success.

``--ground off,on`` runs tracer at a planner budget under the grounding minimum (``--max-pixels
150000 --zoom``: every click would get a zoom turn) with on-screen grounding off or on
(TRACER_GROUND_ON_SCREEN=0/1, see tracer_cli/agent/seen.py); the expert answers a zoom turn
with no point, so the planner's point stays (as tests/benchmarks/seen.py's expert does).
``--jitter PX`` moves each of the expert's clicks off its target's centre by up to PX screen
pixels per axis (at most a sixth of the widget's side: it stays on the widget), the same move
for the same target of a task in every variant. A last table gives, per variant, the clicks
placed by the tree's element, by the text read there or by a zoom turn, the zoom calls, and
each click's error in pixels from the point the expert meant (the target widget's centre, read
from the run record's clicked point): for the clicks the expert aimed at their widget, and how
many of them landed off it. Forecast mistakes (a click moved 35-80 off) are counted apart.

The expert reads the app's state (which it writes to a file) and knows each task's goal, so it
always knows the correct remaining steps; it forecasts --horizon of them like a good model
would: the first step right, each later step wrong with probability --error-rate (a click
moved off its target, a typo in typed text). The app opens a "Tip of the day" pop-up that no
forecast foresaw on a random mouse press in --popup-rate of the tasks (the same tasks in both
modes). Every model answer costs --latency seconds, standing in for inference. Success is read
back from the app's state, never from tracer's own report.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tests.benchmarks.replan_app import DEFAULT_TEXT, FIELDS, LAYOUT  # noqa: E402
from tests.conftest import Display, start_xvfb  # noqa: E402

APP = Path(__file__).with_name("replan_app.py")
Goal = tuple[Any, ...]


@dataclass
class Task:
    id: str
    prompt: str
    goals: list[Goal]
    initial: dict[str, Any] = field(default_factory=dict)
    popup_after: int = 0  # the app's pop-up opens on this mouse press (0: never)


def form(*goals: Goal, initial: dict[str, Any] | None = None) -> list[Goal]:
    """Form goals, with every field the task does not name kept as it was, then Submit."""
    initial = initial or {}
    named = {g[1] for g in goals if g[0] == "field"}
    keep = [("field", f, initial.get(f, "")) for f in FIELDS if f not in named]
    return [*goals, *keep, ("submit",)]


TEXT = DEFAULT_TEXT
TASKS = [
    Task("t01", "Sign up as Ada Lovelace", form(("field", "name", "Ada Lovelace"))),
    Task("t02", "Sign up with name Alan Turing and email alan@bletchley.uk",
         form(("field", "name", "Alan Turing"), ("field", "email", "alan@bletchley.uk"))),
    Task("t03", "Sign up Grace Hopper, grace@navy.mil, on the Pro plan",
         form(("field", "name", "Grace Hopper"), ("field", "email", "grace@navy.mil"),
              ("plan", "Pro"))),
    Task("t04", "Sign up Linus from Helsinki, phone 555-0100",
         form(("field", "name", "Linus"), ("field", "city", "Helsinki"),
              ("field", "phone", "555-0100"))),
    Task("t05", "Fill in the whole form for Margaret Hamilton (mh@mit.edu, Boston, 555-0199), "
         "Pro plan, with the newsletter, and submit it",
         form(("field", "name", "Margaret Hamilton"), ("field", "email", "mh@mit.edu"),
              ("field", "city", "Boston"), ("field", "phone", "555-0199"), ("plan", "Pro"),
              ("newsletter", True))),
    Task("t06", "Sign up with email ken@bell.com and phone 555-0123 on the Basic plan",
         form(("field", "email", "ken@bell.com"), ("field", "phone", "555-0123"),
              ("plan", "Basic"))),
    Task("t07", "Sign up Barbara Liskov, liskov@mit.edu, from Cambridge, with the newsletter",
         form(("field", "name", "Barbara Liskov"), ("field", "email", "liskov@mit.edu"),
              ("field", "city", "Cambridge"), ("newsletter", True))),
    Task("t08", "Sign up from Zurich on the Pro plan with the newsletter",
         form(("field", "city", "Zurich"), ("plan", "Pro"), ("newsletter", True))),
    Task("t09", "Correct the name to Ada Lovelace and submit",
         form(("field", "name", "Ada Lovelace"), initial={"name": "Ada Lovlace"}),
         initial={"name": "Ada Lovlace"}),
    Task("t10", "Correct the email to dijkstra@tue.nl, add phone 555-0142, submit",
         form(("field", "email", "dijkstra@tue.nl"), ("field", "phone", "555-0142"),
              initial={"name": "Edsger Dijkstra", "email": "edsger@tue"}),
         initial={"name": "Edsger Dijkstra", "email": "edsger@tue"}),
    Task("t11", "Set the zoom to 200% and save the document from the File menu",
         [("menu", "View", "Zoom 200%", "zoom", "200%"), ("menusave",)]),
    Task("t12", "Save the document as report.txt", [("saveas", "report.txt")]),
    Task("t13", "Switch to the dark theme and turn on autosave", [("prefs", "Dark", True)]),
    Task("t14", "Use the dark theme and a zoom of 150%",
         [("prefs", "Dark", False), ("menu", "View", "Zoom 150%", "zoom", "150%")]),
    Task("t15", "Turn on autosave, then save the document as notes.txt",
         [("prefs", "Light", True), ("saveas", "notes.txt")]),
    Task("t16", "Add 'Milk' to the end of the list and save it",
         [("text", TEXT + "\nMilk"), ("save",)]),
    Task("t17", "Replace the document with 'Hello world' and save it",
         [("text", "Hello world"), ("save",)]),
    Task("t18", "Replace the document with 'Draft 2' and save it as draft2.txt",
         [("text", "Draft 2"), ("saveas", "draft2.txt")]),
    Task("t19", "Sign up Donald Knuth (knuth@stanford.edu) and add 'Eggs' to the list, saved",
         [*form(("field", "name", "Donald Knuth"), ("field", "email", "knuth@stanford.edu")),
          ("text", TEXT + "\nEggs"), ("save",)]),
    Task("t20", "Sign up Frances Allen (fa@ibm.com, Peru NY, 555-0177) on Pro, then zoom to 150%",
         [*form(("field", "name", "Frances Allen"), ("field", "email", "fa@ibm.com"),
                ("field", "city", "Peru NY"), ("field", "phone", "555-0177"), ("plan", "Pro")),
          ("menu", "View", "Zoom 150%", "zoom", "150%")]),
    Task("t21", "Dark theme with autosave, then save the document as todo.txt",
         [("prefs", "Dark", True), ("saveas", "todo.txt")]),
    Task("t22", "Add 'Tea' and 'Cake' to the list and save it from the File menu",
         [("text", TEXT + "\nTea\nCake"), ("menusave",)]),
]


# ---------------------------------------------------------------------------- the expert


SCREEN = (1280, 800)  # the display's size in pixels
# each click's target -> the 0..1000 point the expert means and the widget's LAYOUT rectangle
AIMS: dict[str, tuple[float, float, tuple[int, int, int, int]]] = {}


def _click(name: str, target: str) -> dict[str, Any]:
    x, y, _, _ = LAYOUT[name]
    AIMS[target] = (x, y, LAYOUT[name])
    return {"action": "click", "x": x, "y": y, "target": target}


def jitter(step: dict[str, Any], pixels: int, key: str) -> dict[str, Any]:
    """A click moved off its target's centre by up to ``pixels`` screen pixels per axis, never
    more than a sixth of the widget's side (it stays on the widget), as a planner that sees a
    small screenshot points; the same move for the same ``key`` (seed, task, target)."""
    aim = AIMS.get(step.get("target", "")) if step.get("action") == "click" else None
    if not pixels or aim is None:
        return step
    _, _, (_, _, w, h) = aim
    reach_x = min(pixels, int(w * SCREEN[0] / 1000 / 6))
    reach_y = min(pixels, int(h * SCREEN[1] / 1000 / 6))
    rng = random.Random(key)
    dx, dy = rng.randint(-reach_x, reach_x), rng.randint(-reach_y, reach_y)
    return {**step, "x": round(step["x"] + dx * 1000 / SCREEN[0], 2),
            "y": round(step["y"] + dy * 1000 / SCREEN[1], 2)}


def zoom_turn(body: dict[str, Any]) -> bool:
    """Whether a request is tracer's zoom turn (a crop, "answer {"x": X, "y": Y}")."""
    return '{\\"x\\": X, \\"y\\": Y}' in json.dumps(body.get("messages", [])[-1:])


def _type(text: str) -> dict[str, Any]:
    return {"action": "type", "text": text}


def _keys(*keys: str) -> dict[str, Any]:
    return {"action": "hotkey", "keys": list(keys)}


def _values(s: dict[str, Any]) -> dict[str, Any]:
    return {**s["fields"], "plan": s["plan"], "newsletter": s["newsletter"]}


def _satisfied(goal: Goal, s: dict[str, Any]) -> bool:
    kind = goal[0]
    if kind == "field":
        return s["fields"][goal[1]] == goal[2]
    if kind == "plan":
        return s["plan"] == goal[1]
    if kind == "newsletter":
        return s["newsletter"] == goal[1]
    if kind == "submit":
        return s["submitted"] == _values(s)
    if kind == "menu":
        return s[goal[3]] == goal[4]
    if kind in ("save", "menusave"):
        return s["saved_text"] == s["text"]
    if kind == "prefs":
        return (s["theme"], s["autosave"]) == (goal[1], goal[2])
    if kind == "saveas":
        return s["saved_as"] == goal[1] and s["saved_text"] == s["text"]
    if kind == "text":
        return s["text"] == goal[1]
    raise ValueError(kind)


def _menu(s: dict[str, Any], steps: list[dict[str, Any]], menu: str, item: str) -> None:
    if s["menu"] != menu:
        steps.append(_click(f"menu:{menu}", f"{menu} menu"))
    steps.append(_click(f"{menu}:{item}", f"{item} in the {menu} menu"))
    s["menu"] = None


def _fill(s: dict[str, Any], steps: list[dict[str, Any]], name: str, layout: str, label: str,
          value: str, current: str) -> None:
    if s["focus"] != name:
        steps.append(_click(layout, label))
        s["focus"], s["all_selected"] = name, False
    if current and not s.get("all_selected"):
        steps.append(_keys("ctrl", "a"))
    steps.append(_type(value) if value else _keys("backspace"))
    s["all_selected"] = False


def expert_plan(state: dict[str, Any], task: Task) -> list[dict[str, Any]]:
    """Every correct step from this state to the goal, as an expert would take them."""
    s = copy.deepcopy(state)
    steps: list[dict[str, Any]] = []
    if s["popup"]:
        steps.append(_click("popup:Close", "Close button of the tip pop-up"))
        s["popup"], s["focus"] = False, None
    todo = [g for g in task.goals if not _satisfied(g, s)]
    first = todo[0] if todo else None
    menu = None
    if first and not s["dialog"]:
        menu = first[1] if first[0] == "menu" else {"menusave": "File", "saveas": "File",
                                                     "prefs": "Edit"}.get(first[0])
    if s["menu"] and s["menu"] != menu:
        steps.append(_keys("escape"))
        s["menu"] = None
    wants = {"prefs": "prefs", "saveas": "saveas"}.get(first[0]) if first else None
    if s["dialog"] and s["dialog"] != wants:
        prefix = "prefs" if s["dialog"] == "prefs" else "dialog"
        steps.append(_click(f"{prefix}:Cancel", "Cancel"))
        s["dialog"], s["focus"] = None, None
    for goal in task.goals:
        if _satisfied(goal, s):
            continue
        kind = goal[0]
        if kind == "field":
            _fill(s, steps, goal[1], f"field:{goal[1]}", f"{goal[1].title()} field", goal[2],
                  s["fields"][goal[1]])
            s["fields"][goal[1]] = goal[2]
        elif kind == "plan":
            steps.append(_click(f"plan:{goal[1]}", f"{goal[1]} plan"))
            s["plan"] = goal[1]
        elif kind == "newsletter":
            steps.append(_click("newsletter", "Newsletter checkbox"))
            s["newsletter"] = goal[1]
        elif kind == "submit":
            steps.append(_click("submit", "Submit button"))
            s["submitted"] = _values(s)
        elif kind == "menu":
            _menu(s, steps, goal[1], goal[2])
            s[goal[3]] = goal[4]
        elif kind == "menusave":
            _menu(s, steps, "File", "Save")
            s["saved_text"] = s["text"]
        elif kind == "save":
            steps.append(_click("save", "Save button of the editor"))
            s["saved_text"] = s["text"]
        elif kind == "prefs":
            if s["dialog"] != "prefs":
                _menu(s, steps, "Edit", "Preferences...")
                s["dialog"], s["prefs_pending"] = "prefs", {"theme": s["theme"],
                                                            "autosave": s["autosave"]}
            if s["prefs_pending"]["theme"] != goal[1]:
                steps.append(_click(f"prefs:{goal[1]}", f"{goal[1]} theme"))
            if s["prefs_pending"]["autosave"] != goal[2]:
                steps.append(_click("prefs:autosave", "Autosave checkbox"))
            steps.append(_click("prefs:OK", "OK"))
            s["theme"], s["autosave"], s["dialog"] = goal[1], goal[2], None
        elif kind == "saveas":
            if s["dialog"] != "saveas":
                _menu(s, steps, "File", "Save As...")
                s["dialog"], s["filename"], s["focus"] = "saveas", "", None
            if s["filename"] != goal[1]:
                _fill(s, steps, "filename", "dialog:filename", "File name field", goal[1],
                      s["filename"])
            steps.append(_click("dialog:Save", "Save"))
            s["saved_as"], s["saved_text"], s["dialog"] = goal[1], s["text"], None
        elif kind == "text":
            if goal[1].startswith(s["text"]) and not s.get("all_selected"):
                if s["focus"] != "text":
                    x, y, w, h = LAYOUT["text"]
                    target = "the editor, below the last line"
                    AIMS[target] = (x, y + h // 2 - 40, LAYOUT["text"])
                    steps.append({"action": "click", "x": x, "y": y + h // 2 - 40,
                                  "target": target})
                    s["focus"], s["at_end"] = "text", True
                if not s.get("at_end"):
                    steps.append(_keys("ctrl", "end"))
                steps.append(_type(goal[1][len(s["text"]):]))
            else:
                if s["focus"] != "text":
                    steps.append(_click("text", "the editor"))
                    s["focus"], s["all_selected"] = "text", False
                if not s.get("all_selected"):
                    steps.append(_keys("ctrl", "a"))
                steps.append(_type(goal[1]))
            s["text"], s["all_selected"], s["at_end"] = goal[1], False, True
    return steps


def corrupt(step: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A realistic mistake in a later forecast step: a click off its target, a typo."""
    step = dict(step)
    if "x" in step:
        dx, dy = rng.choice([-1, 1]) * rng.randint(35, 80), rng.choice([-1, 1]) * rng.randint(0, 40)
        step["x"] = min(995, max(5, step["x"] + dx))
        step["y"] = min(995, max(5, step["y"] + dy))
    elif step["action"] == "type" and len(step["text"]) > 1:
        text = step["text"]
        i = rng.randrange(len(text))
        step["text"] = text[:i] + rng.choice("qxzjk") + text[i + 1:]
    return step


class Expert:
    """The expert planner behind an OpenAI-compatible HTTP server on 127.0.0.1."""

    def __init__(self, horizon: int, error_rate: float, latency: float, seed: int,
                 jitter: int = 0) -> None:
        self.horizon, self.error_rate, self.latency, self.seed = horizon, error_rate, latency, seed
        self.jitter = jitter  # pixels per axis each click is moved off its target's centre
        self.zooms = 0  # zoom turns answered (not planning calls)
        self.rng = random.Random(seed)
        self.task: Task | None = None
        self.state_file: Path | None = None
        self.calls = 0
        self.revisions = 0  # requests that carried a revision of an old forecast
        self.lock = threading.Lock()  # the page's state arrives on several connections
        self.token = ""  # the current page's name for its state
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        assert self.task is not None and self.state_file is not None
        if zoom_turn(body):  # answered with no point: the planner's point stays
            self.zooms += 1
            time.sleep(self.latency)
            return {"thought": "", "trajectory": [{"action": "wait", "seconds": 0.1}]}
        self.calls += 1
        text = json.dumps(body.get("messages", []))
        if "previous forecast went on with" in text:
            self.revisions += 1
        time.sleep(self.latency)
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        steps = [jitter(s, self.jitter, f"{self.seed}-{self.task.id}-{s.get('target')}")
                 for s in expert_plan(state, self.task)]
        forecast = [steps[0]] if steps else []
        for step in steps[1:self.horizon]:
            wrong = self.rng.random() < self.error_rate
            forecast.append(corrupt(step, self.rng) if wrong else step)
        if len(forecast) < self.horizon and len(steps) < self.horizon:
            forecast.append({"action": "done"})
        return {"thought": "expert forecast", "trajectory": forecast}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        expert = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                self._send({"object": "list", "data": [{"id": "expert", "object": "model"}]})

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/state/"):  # the web page's state (it cannot write files)
                    with expert.lock:  # only the current page's: an old one may still be closing
                        if expert.state_file is not None and self.path == f"/state/{expert.token}":
                            tmp = expert.state_file.with_suffix(".tmp")
                            tmp.write_bytes(raw)
                            os.replace(tmp, expert.state_file)
                    self._send({})
                    return
                body = json.loads(raw)
                text = json.dumps(expert.answer(body))
                self._send({"id": "x", "object": "chat.completion", "created": 0,
                            "model": "expert", "choices": [{"index": 0, "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 0, "completion_tokens": 0,
                                      "total_tokens": 0}})

        return Handler


# ---------------------------------------------------------------------------- the runs


@dataclass
class Outcome:
    task: str
    mode: str
    success: bool
    status: str
    calls: int
    steps: int
    forecast_steps: int
    revisions: int
    seconds: float
    seed: int = 0
    toolkit: str = "tk"
    tree: str = "off"  # an accessibility bus on the display
    elements: str = "off"  # tracer's --elements
    ground: str = ""  # --ground: on-screen grounding at --max-pixels 150000 --zoom ("": not run so)
    by_element: int = 0  # clicks placed on the tree's element at the planner's point
    by_text: int = 0  # clicks placed on the text read there
    by_zoom: int = 0  # clicks placed by a zoom turn
    zoom_calls: int = 0
    errors: list[float] = field(default_factory=list)  # px from the meant point, aimed clicks
    off_widget: int = 0  # aimed clicks that landed off their widget
    mistakes: int = 0  # clicks the forecast moved off their widget (the error rate's)


def start_app(toolkit: str, task: Task, state_file: Path, env: dict[str, str], work: Path,
              expert: Expert) -> subprocess.Popen[bytes]:
    """The benchmark's program in ``toolkit``: the Tk app, the same program in GTK 3
    (replan_gtk.py, by the system Python) or as a page in Chromium (replan_page.html)."""
    if toolkit == "tk":
        argv = [sys.executable, str(APP), str(state_file), "--initial", json.dumps(task.initial),
                "--popup-after", str(task.popup_after)]
    elif toolkit == "gtk":
        layout = work / "layout.json"
        layout.write_text(json.dumps(LAYOUT), encoding="utf-8")
        argv = ["/usr/bin/python3", str(APP.with_name("replan_gtk.py")), str(state_file), str(layout),
                "--initial", json.dumps(task.initial), "--popup-after", str(task.popup_after)]
    else:
        expert.token = f"{state_file.stem}-{expert.seed}-{time.monotonic_ns()}"
        settings = {"layout": LAYOUT, "initial": task.initial, "popupAfter": task.popup_after,
                    "post": expert.base_url.replace("/v1", f"/state/{expert.token}")}
        page = APP.with_name("replan_page.html").as_uri() + "#" + quote(json.dumps(settings))
        argv = [shutil.which("chromium") or "chromium", "--no-sandbox", "--no-first-run",
                *(["--force-renderer-accessibility"] if "DBUS_SESSION_BUS_ADDRESS" in env else []),
                f"--user-data-dir={work / ('chromium-' + expert.token)}", "--no-default-browser-check",
                "--disable-gpu", "--disable-extensions", "--password-store=basic",
                "--force-device-scale-factor=1", "--window-position=0,0", "--window-size=1280,800",
                "--kiosk", page]
    return subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def run_task(task: Task, mode: str, expert: Expert, env: dict[str, str], work: Path,
             horizon: int, toolkit: str = "tk", elements: str = "off",
             ground: str = "") -> Outcome:
    state_file = work / f"{task.id}-{mode}.json"
    state_file.unlink(missing_ok=True)
    expert.task, expert.state_file = task, state_file
    app = start_app(toolkit, task, state_file, env, work, expert)
    try:
        deadline = time.monotonic() + 40
        while not state_file.exists():
            if time.monotonic() > deadline or app.poll() is not None:
                raise RuntimeError(f"the app did not start for {task.id}")
            time.sleep(0.05)
        time.sleep(0.4 if toolkit == "tk" else 1.5)  # the first frame reaches the screen
        subprocess.run(["xdotool", "mousemove", "640", "790"], env=env, check=False)
        expert.calls = expert.revisions = expert.zooms = 0
        grounding = ([] if not ground else ["--max-pixels", "150000", "--zoom"])
        run_env = env if not ground else {**env, "TRACER_GROUND_ON_SCREEN": "1" if ground == "on"
                                          else "0"}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "tracer_cli", "do", task.prompt, "--backend", "openai",
             "--base-url", expert.base_url, "--model", "expert", "--replan", mode, "--yes",
             "--horizon", str(horizon), "--max-steps", "40", "--timeout", "300",
             "--kill-hotkey", "", *(["--elements"] if elements == "on" else []), *grounding],
            env=run_env, capture_output=True, text=True, timeout=400,
            cwd=env.get("REPLAN_TRACER_ROOT", ROOT))
        seconds = time.monotonic() - started
        time.sleep(0.3)
        state = json.loads(state_file.read_text(encoding="utf-8"))
    finally:
        app.terminate()
        app.wait(timeout=10)
    remaining = expert_plan(state, task)
    said = [line for line in done.stderr.splitlines() if line.startswith("tracer: ")]
    status = "done" if done.returncode == 0 else (said or ["?"])[-1]
    runs = sorted((Path(env["TRACER_HOME"]) / "runs").iterdir())
    meta = json.loads((runs[-1] / "run.json").read_text(encoding="utf-8"))
    if env.get("REPLAN_DEBUG") == "2" or (env.get("REPLAN_DEBUG") and (remaining or done.returncode)):
        for line in (runs[-1] / "steps.jsonl").read_text(encoding="utf-8").splitlines():
            step = json.loads(line)
            print("   ", step["step"], "F" if step.get("from_forecast") else "M",
                  step.get("action"), step.get("outcome"), step.get("check", {}).get("reason", ""))
        print("    state:", {k: v for k, v in state.items() if k != "text"}, "remaining:", remaining)
    outcome = Outcome(task.id, mode, done.returncode == 0 and not remaining and not state["popup"],
                      status, expert.calls, meta.get("steps", 0), meta.get("forecast_steps", 0),
                      expert.revisions, seconds, expert.seed, toolkit,
                      "on" if "DBUS_SESSION_BUS_ADDRESS" in env else "off", elements)
    if ground:
        outcome.ground, outcome.zoom_calls = ground, meta.get("zoom_calls", 0)
        clicks(outcome, (runs[-1] / "steps.jsonl").read_text(encoding="utf-8"), expert.jitter)
    return outcome


def clicks(outcome: Outcome, steps_jsonl: str, jitter: int = 0) -> None:
    """How each click of a run record was placed (its ``grounding``) and how far from the point
    the expert meant it landed (its ``points``: screen pixels). A click is aimed at its widget
    when the planner's point is within the expert's --jitter of the meant point; else it is a
    forecast mistake (moved 35-80 off by ``corrupt``), counted apart."""
    for line in steps_jsonl.splitlines():
        step = json.loads(line)
        action, grounding = step.get("action") or {}, step.get("grounding") or {}
        if grounding.get("by") == "element":
            outcome.by_element += 1
        elif grounding.get("by") == "text":
            outcome.by_text += 1
        elif "zoom" in grounding:
            outcome.by_zoom += 1
        aim = AIMS.get(action.get("target", "")) if action.get("action") == "click" else None
        if aim is None or not step.get("points"):
            continue
        planned = grounding.get("planner_point") or [action["x"], action["y"]]
        mx, my, (cx, cy, w, h) = aim
        sx, sy = SCREEN[0] / 1000, SCREEN[1] / 1000
        reach_x, reach_y = min(jitter, int(w * sx / 6)) + 1, min(jitter, int(h * sy / 6)) + 1
        if abs(planned[0] - mx) * sx > reach_x or abs(planned[1] - my) * sy > reach_y:
            outcome.mistakes += 1  # a forecast step moved off its target
            continue
        px, py = step["points"][0]
        outcome.errors.append(round(((px - mx * sx) ** 2 + (py - my * sy) ** 2) ** 0.5, 1))
        if abs(px - cx * sx) > w * sx / 2 or abs(py - cy * sy) > h * sy / 2:
            outcome.off_widget += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--error-rate", type=float, default=0.15)
    parser.add_argument("--popup-rate", type=float, default=0.3)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model answer")
    parser.add_argument("--horizon", type=int, default=5)
    parser.add_argument("--tasks", default="", help="comma-separated task ids (default: all)")
    parser.add_argument("--modes", default="always,adaptive")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--toolkit", default="tk",
                        help="the program, written with Tk, GTK 3 or as a page in Chromium (each "
                        "toolkit's own widgets at the same places): tk, gtk, chromium or a "
                        "comma-separated list of them")
    parser.add_argument("--tree", default="off", help="off, on or off,on: an accessibility bus "
                        "on the display, read by tracer's checks")
    parser.add_argument("--elements", default="off", help="off, on or off,on: tracer's "
                        "--elements (the active window's elements in each request)")
    parser.add_argument("--ground", default="", help="off, on or off,on: run at --max-pixels "
                        "150000 --zoom (every click would get a zoom turn, answered with no point) "
                        "with on-screen grounding off or on (TRACER_GROUND_ON_SCREEN)")
    parser.add_argument("--jitter", type=int, default=0, help="move each of the expert's clicks "
                        "up to this many pixels per axis off its target's centre (on the widget)")
    parser.add_argument("--seeds", type=int, default=1, help="run this many seeds from --seed on "
                        "(pop-ups and forecast mistakes differ) and report the median of each figure")
    parser.add_argument("--settle-quiet", default="0.15")
    parser.add_argument("--json", help="also write every outcome to this JSON file")
    parser.add_argument("--keep", action="store_true",
                        help="keep the run records (tracer logs format) to see each check")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--tracer-root", help="run `python -m tracer_cli` from this checkout")
    parser.add_argument("--project", type=float, default=20.0, help="also show the time per "
                        "task with this many seconds per model answer (a laptop CPU's)")
    parser.add_argument("--report", help="only print the table of outcomes saved with --json")
    args = parser.parse_args()
    if args.report:
        saved = [Outcome(**o) for o in json.loads(Path(args.report).read_text())]
        modes = list(dict.fromkeys(o.mode for o in saved))
        ids = {o.task for o in saved}
        report_variants(saved, modes, [t for t in TASKS if t.id in ids], args)
        return
    toolkits, trees, hints = (_choices(args.toolkit, ("tk", "gtk", "chromium"), "--toolkit"),
                              _choices(args.tree, ("off", "on"), "--tree"),
                              _choices(args.elements, ("off", "on"), "--elements"))
    grounds = _choices(args.ground, ("off", "on"), "--ground") if args.ground else [""]
    if args.jitter < 0:
        sys.exit("--jitter: pixels, 0 or more")
    if not shutil.which("Xvfb"):
        sys.exit("Xvfb is not installed")
    tasks = [t for t in TASKS if not args.tasks or t.id in args.tasks.split(",")]
    modes = args.modes.split(",")
    seeds = range(args.seed, args.seed + max(1, args.seeds))
    xvfb, display = start_xvfb(1280, 800)
    work = Path(tempfile.mkdtemp(prefix="tracer-replan-"))
    base = {**os.environ, "DISPLAY": display, "TRACER_HOME": str(work / "home"),
            "TRACER_SETTLE_QUIET": args.settle_quiet, "TRACER_SETTLE_TIMEOUT": "2"}
    for name in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS"):  # no tree unless --tree on
        base.pop(name, None)
    if args.tracer_root:
        base["REPLAN_TRACER_ROOT"] = args.tracer_root
    outcomes: list[Outcome] = []
    bus = None
    try:
        if "on" in trees:
            from tests.a11y import start_a11y_bus

            bus = start_a11y_bus(Display(display, 1280, 800, xvfb.pid))
        for toolkit in toolkits:
            for tree in trees:
                env = ({**base, "NO_AT_BRIDGE": "1"} if tree == "off" or bus is None else
                       {**{k: v for k, v in base.items() if k != "NO_AT_BRIDGE"},
                        "DBUS_SESSION_BUS_ADDRESS": bus.session, "ACCESSIBILITY_ENABLED": "1"})
                for elements in hints:
                    for ground in grounds:
                        for seed in seeds:
                            assign_popups(args, seed)
                            for mode in modes:
                                expert = Expert(args.horizon, args.error_rate, args.latency, seed,
                                                args.jitter)
                                try:
                                    for task in tasks:
                                        outcome = run_task(task, mode, expert, env, work,
                                                           args.horizon, toolkit, elements, ground)
                                        outcomes.append(outcome)
                                        if args.verbose:
                                            print(outcome, flush=True)
                                finally:
                                    expert.stop()
    finally:
        if bus is not None:
            bus.stop()
        xvfb.terminate()
        xvfb.wait()
        if args.keep:
            print(f"run records kept in {work / 'home' / 'runs'}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report_variants(outcomes, modes, tasks, args)
    if args.json:
        Path(args.json).write_text(json.dumps([o.__dict__ for o in outcomes], indent=1))


def _choices(value: str, known: tuple[str, ...], flag: str) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    wrong = [v for v in chosen if v not in known]
    if wrong or not chosen:
        sys.exit(f"{flag} {value!r}: choose from {', '.join(known)} (comma-separated)")
    return list(dict.fromkeys(chosen))


def report_variants(outcomes: list[Outcome], modes: list[str], tasks: list[Task],
                    args: argparse.Namespace) -> None:
    """The tables of each toolkit with the tree and the element hints on or off, then (with
    more than one of them) one line each: model calls per step, the adaptive/always ratio of
    calls per task, success."""
    if any(o.ground for o in outcomes):
        return report_ground(outcomes, modes, tasks, args)
    variants = list(dict.fromkeys((o.toolkit, o.tree, o.elements) for o in outcomes))
    for toolkit, tree, elements in variants:
        args.toolkit = f"{toolkit} (tree {tree}, --elements {elements})"
        report_seeds([o for o in outcomes if (o.toolkit, o.tree, o.elements) ==
                      (toolkit, tree, elements)], modes, tasks, args)
    if len(variants) < 2:
        return
    print(f"\n{'toolkit':<10}{'tree':>6}{'elements':>10}{'mode':>10}{'calls/step':>12}"
          f"{'calls/task':>12}{'success':>9}{'adaptive/always':>17}")
    for toolkit, tree, elements in variants:
        rows = [o for o in outcomes if (o.toolkit, o.tree, o.elements) == (toolkit, tree, elements)]
        calls = {m: sum(o.calls for o in rows if o.mode == m) for m in modes}
        for mode in modes:
            mine = [o for o in rows if o.mode == mode]
            if not mine:
                continue
            steps = sum(o.steps for o in mine)
            ratio = (f"{calls['adaptive'] / calls['always']:.2f}" if mode == "adaptive"
                     and calls.get("always") else "")
            print(f"{toolkit:<10}{tree:>6}{elements:>10}{mode:>10}"
                  f"{(sum(o.calls for o in mine) / steps if steps else 0):>12.2f}"
                  f"{statistics.mean(o.calls for o in mine):>12.2f}"
                  f"{sum(o.success for o in mine) / len(mine):>9.0%}{ratio:>17}")


def report_ground(outcomes: list[Outcome], modes: list[str], tasks: list[Task],
                  args: argparse.Namespace) -> None:
    """--ground: each variant's tables as without it, then one line per variant and mode: how
    its clicks were placed, the zoom and planning calls, and the clicks' pixel errors."""
    key = lambda o: (o.toolkit, o.tree, o.elements, o.ground)  # noqa: E731
    variants = list(dict.fromkeys(key(o) for o in outcomes))
    for toolkit, tree, elements, ground in variants:
        args.toolkit = f"{toolkit} (tree {tree}, --elements {elements}, --ground {ground})"
        report_seeds([o for o in outcomes if key(o) == (toolkit, tree, elements, ground)],
                     modes, tasks, args)
    print(f"\n--max-pixels 150000 --zoom, zoom turns answered with no point, clicks moved up to "
          f"{args.jitter} px off centre; error: px from the point the expert meant (the widget's "
          f"centre), for the clicks aimed at their widget (forecast mistakes apart)")
    print("| toolkit | tree | ground | mode | success | model calls / step | zoom calls / step | "
          "clicks by element / text / zoom | error mean / p90 / max px | off the widget | "
          "forecast mistakes |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for variant in variants:
        for mode in modes:
            rows = [o for o in outcomes if key(o) == variant and o.mode == mode]
            if not rows:
                continue
            steps = sum(o.steps for o in rows) or 1
            errors = sorted(e for o in rows for e in o.errors)
            spread = (f"{statistics.mean(errors):.1f} / "
                      f"{errors[min(len(errors) - 1, int(0.9 * len(errors)))]:.1f} / "
                      f"{errors[-1]:.1f}" if errors else "-")
            print(f"| {variant[0]} | {variant[1]} | {variant[3]} | {mode} "
                  f"| {sum(o.success for o in rows)}/{len(rows)} "
                  f"| {sum(o.calls for o in rows) / steps:.3f} "
                  f"| {sum(o.zoom_calls for o in rows) / steps:.3f} "
                  f"| {sum(o.by_element for o in rows)} / {sum(o.by_text for o in rows)} / "
                  f"{sum(o.by_zoom for o in rows)} | {spread} "
                  f"| {sum(o.off_widget for o in rows)} of {len(errors)} "
                  f"| {sum(o.mistakes for o in rows)} |")


def assign_popups(args: argparse.Namespace, seed: int) -> None:
    """The same pop-ups in every mode: on which mouse press of which task."""
    rng = random.Random(seed)
    for task in TASKS:
        steps = len(expert_plan(initial_state(task), task))
        task.popup_after = rng.randint(2, max(2, steps)) if rng.random() < args.popup_rate else 0


def initial_state(task: Task) -> dict[str, Any]:
    return {"fields": {f: task.initial.get(f, "") for f in FIELDS}, "plan": "none",
            "newsletter": False, "submitted": None, "menu": None, "dialog": None,
            "popup": False, "theme": "Light", "autosave": False, "zoom": "100%",
            "text": task.initial.get("text", DEFAULT_TEXT), "saved_text": None, "saved_as": None,
            "focus": None, "filename": "", "prefs_pending": {"theme": "Light", "autosave": False}}


def report_seeds(outcomes: list[Outcome], modes: list[str], tasks: list[Task],
                 args: argparse.Namespace) -> None:
    """The table of each seed, then (with several) the median of every figure over the seeds."""
    per_seed: dict[int, dict[str, dict[str, float]]] = {}
    for seed in sorted({o.seed for o in outcomes}):
        assign_popups(args, seed)
        print(f"\nseed {seed}:", end="")
        per_seed[seed] = report([o for o in outcomes if o.seed == seed], modes, tasks, args)
    if len(per_seed) < 2:
        return
    print(f"\nmedian of {len(per_seed)} seeds ({', '.join(map(str, per_seed))}):")
    print(f"{'mode':<10}{'success':>9}{'calls/task':>12}{'steps/task':>12}{'from forecast':>15}"
          f"{'revisions':>11}{'s/task':>9}")
    for mode in modes:
        rows = [m[mode] for m in per_seed.values() if mode in m]
        if rows:
            med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(f"{mode:<10}{med['success']:>9.0%}{med['calls']:>12.2f}{med['steps']:>12.2f}"
                  f"{med['forecast']:>15.2f}{med['revisions']:>11.2f}{med['seconds']:>9.2f}")
    ratios = [m["adaptive"]["calls"] / m["always"]["calls"] for m in per_seed.values()
              if "always" in m and "adaptive" in m]
    if ratios:
        print(f"adaptive/always model calls: median {statistics.median(ratios):.2f} "
              f"(per seed: {', '.join(f'{r:.2f}' for r in ratios)})")


def report(outcomes: list[Outcome], modes: list[str], tasks: list[Task],
           args: argparse.Namespace) -> dict[str, dict[str, float]]:
    lengths = [len(expert_plan(initial_state(t), t)) for t in tasks]
    popups = sum(1 for t in tasks if t.popup_after)
    print(f"\n{args.toolkit}: {len(tasks)} tasks of {min(lengths)}-{max(lengths)} steps (mean "
          f"{statistics.mean(lengths):.1f}), horizon {args.horizon}, error rate "
          f"{args.error_rate:.0%} on later forecast steps, pop-ups in {popups} tasks, "
          f"{args.latency:g} s per model answer")
    print(f"{'mode':<10}{'success':>9}{'calls/task':>12}{'steps/task':>12}"
          f"{'from forecast':>15}{'revisions':>11}{'s/task':>9}{f's/task @{args.project:g}s':>14}")
    means: dict[str, dict[str, float]] = {}
    for mode in modes:
        rows = [o for o in outcomes if o.mode == mode]
        if not rows:
            continue
        m = {"success": sum(o.success for o in rows) / len(rows),
             "calls": statistics.mean(o.calls for o in rows),
             "steps": statistics.mean(o.steps for o in rows),
             "forecast": statistics.mean(o.forecast_steps for o in rows),
             "revisions": statistics.mean(o.revisions for o in rows),
             "seconds": statistics.mean(o.seconds for o in rows)}
        # the same run with slower answers: every model call costs the difference more
        m["projected"] = m["seconds"] + m["calls"] * (args.project - args.latency)
        means[mode] = m
        print(f"{mode:<10}{m['success']:>9.0%}{m['calls']:>12.2f}{m['steps']:>12.2f}"
              f"{m['forecast']:>15.2f}{m['revisions']:>11.2f}{m['seconds']:>9.2f}"
              f"{m['projected']:>14.1f}")
        for o in rows:
            if not o.success:
                print(f"  failed: {o.task} ({o.status})")
    if "always" in means and "adaptive" in means:
        a, b = means["always"], means["adaptive"]
        print(f"adaptive/always: model calls {b['calls'] / a['calls']:.2f} "
              f"({1 - b['calls'] / a['calls']:.0%} fewer), wall time "
              f"{b['seconds'] / a['seconds']:.2f} (at {args.project:g} s per answer "
              f"{b['projected'] / a['projected']:.2f}), success {b['success']:.0%} vs "
              f"{a['success']:.0%}")
    return means


if __name__ == "__main__":
    main()
