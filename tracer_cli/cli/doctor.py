"""`tracer doctor`: checks that everything a run needs is in place, and says what to fix.

Each check is a small function that returns a ``Check``; none raises for a problem with the
machine (an unexpected exception becomes a failed check too). A check that cannot run because
an earlier one failed (no display: no capture) is skipped (``ok`` None), so the one real cause
stands out. The command exits 1 when a needed check fails.

Why one module of this size: one small function per row of one table, in the table's order.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracer_cli import config as cfg
from tracer_cli import paths
from tracer_cli.cli.console import DEBUG, counted
from tracer_cli.errors import ConfigError, TracerError

if TYPE_CHECKING:
    from rich.table import Table

    from tracer_cli.config import Settings

PROBE_TIMEOUT = 3.0  # seconds for the model server to answer /models


@dataclass
class Check:
    name: str
    ok: bool | None  # None: skipped
    detail: str = ""
    fix: str = ""

    @property
    def status(self) -> str:
        return "skipped" if self.ok is None else "ok" if self.ok else "fail"


@dataclass
class Context:
    """What the checks share: the settings, and what earlier checks found out."""

    settings: Settings
    sources: dict[str, str]
    load: bool = False
    full: bool = False  # load and try everything, however slow
    display_ok: bool = False
    platform: Any = None  # the desktop acted on
    user: Any = None  # the user's own desktop (for the hotkeys)
    monitor: tuple[int, int] | None = None  # the chosen monitor's size
    served: list[str] | None = None  # the models the server lists
    results: dict[str, Check] = field(default_factory=dict)


def skipped(name: str, why: str) -> Check:
    return Check(name, None, why)


def _fail(name: str, exc: TracerError) -> Check:
    return Check(name, False, exc.message, exc.hint)


# -- settings -----------------------------------------------------------------------------------


def load_settings(flags: dict[str, Any]) -> tuple[Settings, dict[str, str], Check]:
    """The effective settings (as `tracer do` would build them) and the config check.

    A config file (or variable, or flag) that does not parse fails the check; the other checks
    then go on without the values in error."""
    flags = {k: (str(v) if isinstance(v, Path) else v) for k, v in flags.items() if v is not None}
    path = paths.config_path()
    try:
        settings, sources = cfg.load(flags)
    except ConfigError as exc:
        settings, sources = cfg.load_valid(flags)
        check = Check("config", False, f"{exc.message}; the checks below go on without it",
                      exc.hint or f"fix or move away {path}")
    else:
        state = "exists" if path.exists() else "not created yet: defaults"
        counts = {where: sum(1 for s in sources.values() if s == where) for where in ("file", "env")}
        extra = [f"{counts['file']} from the file"] if counts["file"] else []
        extra += [f"{counts['env']} from TRACER_* variables"] if counts["env"] else []
        check = Check("config", True, f"{path} ({state})" + (f"; settings: {', '.join(extra)}"
                                                             if extra else ""))
    cfg.imply_backend(settings, sources)  # as `tracer do` does
    if sources.get("max_pixels") == "default" and not settings.max_pixels:
        from tracer_cli.agent.defaults import cpu_budget

        try:
            settings.max_pixels = cpu_budget(settings)  # a catalogue model on a CPU
        except TracerError:
            pass  # an unknown model: the model check says so
    return settings, sources, check


def _where(ctx: Context, name: str, example: str) -> str:
    """How the user changes a setting, given where its value came from."""
    source = ctx.sources.get(name, "default")
    if source == "file":
        value = f'"{example}"' if cfg.Settings.model_fields[name].annotation is str else example
        return f"set {name} = {value} in {paths.config_path()}"
    if source == "env":
        return f"set {cfg.ENV_PREFIX}{name.upper()}={example}"
    return f"pass --{name.replace('_', '-')} {example}"


# -- the machine --------------------------------------------------------------------------------


def platform_checks(ctx: Context) -> list[Check]:
    """Which desktop tracer would act on, and the platform's own rows: display, capture,
    input."""
    from tracer_cli.desktop.hands import desktops

    name = "platform"
    source = ctx.sources.get("platform", "default")
    try:
        acting, user = desktops(ctx.settings)
    except TracerError as exc:
        return [_fail(name, exc), skipped("display", "needs a platform"),
                skipped("screen capture", "needs a platform"),
                skipped("input control", "needs a platform")]
    ctx.platform, ctx.user = acting, user
    how = "from the session" if source == "default" else f"--platform {ctx.settings.platform}"
    rows = [Check(name, True, f"{acting.describe()} ({how})")]
    for row in acting.checks(ctx.settings.monitor):
        fix = row.fix
        if row.ok is False and f"monitor {ctx.settings.monitor} does not exist" in row.detail:
            count = len(re.findall(r"\b\d+: \d+x\d+", row.detail))
            fix = _where(ctx, "monitor", "1") if count == 1 else \
                _where(ctx, "monitor", "N") + f" (1 to {count})"
        rows.append(Check(row.name, row.ok, row.detail, fix))
    ctx.display_ok = all(r.ok is not False for r in rows)  # None: a row that does not apply
    if ctx.display_ok:
        try:
            screen = acting.open_screen(ctx.settings.monitor)
        except TracerError:
            pass
        else:
            ctx.monitor = (screen.geometry.monitor.width, screen.geometry.monitor.height)
            screen.close()
    return rows


def _unarmable(ctx: Context, name: str, setting: str) -> Check | None:
    """Why a hotkey check is skipped (turned off, no desktop of the user's), or None."""
    if not getattr(ctx.settings, setting):
        return skipped(name, f"off ({setting} is empty)")
    if ctx.user is None:
        return skipped(name, "needs a desktop of yours" if ctx.platform is not None else
                       "needs a platform")
    return None


def check_hotkey(ctx: Context) -> Check:
    """The kill hotkey can be armed on the user's desktop as `tracer do` arms it (a global
    hotkey on X11, a compositor binding on Wayland), and is disarmed at once."""
    name = "kill hotkey"
    if (cannot := _unarmable(ctx, name, "kill_hotkey")) is not None:
        return cannot
    assert ctx.user is not None
    try:
        switch = ctx.user.kill_switch(ctx.settings.kill_hotkey, threading.Event(), None)
        switch.start()
    except TracerError as exc:  # a hotkey it refuses, no RECORD extension, no permission
        return _fail(name, exc)
    try:
        warning = switch.warning
    finally:
        switch.close()
    return Check(name, True, f"{switch.label}: the kill switch arms ({_mechanism(switch)})"
                 + (f"; {warning}" if warning else ""))


def _mechanism(switch: Any) -> str:
    return getattr(switch, "mechanism", "a global hotkey")


def check_pause_hotkey(ctx: Context) -> Check:
    """The pause hotkey can be armed beside the kill hotkey, as in `tracer do`."""
    name = "pause hotkey"
    if (cannot := _unarmable(ctx, name, "pause_hotkey")) is not None:
        return cannot
    assert ctx.user is not None
    from tracer_cli.desktop.killswitch import PauseRequest, check_apart

    try:
        switch = ctx.user.pause_switch(ctx.settings.pause_hotkey, PauseRequest())
        if ctx.settings.kill_hotkey:
            kill = ctx.user.kill_switch(ctx.settings.kill_hotkey, threading.Event(), None)
            check_apart(kill.chord, switch.chord, ctx.settings.pause_hotkey)
        switch.start()
    except TracerError as exc:  # a hotkey it refuses or that collides, no RECORD, no permission
        return _fail(name, exc)
    switch.close()
    return Check(name, True, f"{switch.label}: pauses and hands back ({_mechanism(switch)})")


def check_control(ctx: Context) -> Check:
    """`tracer stop` and `tracer pause` reach a run through its control socket."""
    name = "stop and pause"
    from tracer_cli.desktop import control

    try:
        sock = control.ControlSocket(lambda: None, lambda: "paused", {"doctor": "yes"})
        sock.start()
    except (OSError, TracerError) as exc:
        return Check(name, False, f"cannot open a control socket: {exc}",
                     "set TRACER_RUNTIME_DIR to a private folder this user can write")
    try:
        answers = dict(control.send("status", pid=os.getpid()))
    finally:
        sock.close()
    if os.getpid() not in answers:
        return Check(name, False, f"the control socket in {control.folder()} did not answer",
                     "check that the folder is on a local disk")
    return Check(name, True, "tracer stop and tracer pause reach a running tracer (bind them to "
                 f"keys in your desktop's settings); sockets in {control.folder()}")


ENABLE_TREES = ("Chromium and Electron apps: start them with --force-renderer-accessibility "
                "and ACCESSIBILITY_ENABLED=1; "
                "Qt apps: QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1; GTK exposes its tree by itself "
                "(unless NO_AT_BRIDGE=1); Tk has none")


def check_elements(ctx: Context) -> Check:
    """Whether the accessibility bus is on, and which running programs expose a tree (names
    only: fast)."""
    name = "accessibility tree"
    if ctx.platform is None:
        return skipped(name, "needs a platform")
    from tracer_cli.desktop.elements import open_elements

    started = time.perf_counter()
    elements = open_elements(ctx.platform)
    try:
        if not elements.available:
            return Check(name, None, f"off (pixels only): {elements.reason}",
                         "optional: element anchors and checks need the accessibility bus; see "
                         "the README's 'The accessibility tree' under Desktops")
        apps = elements.applications()
    finally:
        elements.close()
    ms = (time.perf_counter() - started) * 1000
    placed = f"; {elements.mapping}" if elements.mapping else ""
    if not apps:
        return Check(name, True, f"the accessibility bus is on, but no running program exposes "
                     f"a tree ({ms:.0f} ms){placed}", ENABLE_TREES)
    shown = ", ".join(apps[:8]) + (f" and {len(apps) - 8} more" if len(apps) > 8 else "")
    exposing = counted(len(apps), "program") + (" exposes" if len(apps) == 1 else " expose")
    return Check(name, True, f"the accessibility bus is on; {exposing} a tree: {shown} "
                 f"({ms:.0f} ms){placed}")


def check_ocr(ctx: Context) -> Check:
    """The OCR engine macros find text with is there (its models, or the tesseract program);
    with --full it loads and reads a line of known text (seconds: the engine's first load)."""
    name = "ocr"
    if not ctx.full:
        return _ocr_present(ctx.settings.ocr)
    from PIL import Image, ImageDraw, ImageFont

    from tracer_cli.vision.ocr import find_text, get_engine

    try:
        engine = get_engine(ctx.settings.ocr)
    except TracerError as exc:
        return _fail(name, exc)
    image = Image.new("RGB", (420, 60), "white")
    ImageDraw.Draw(image).text((12, 12), "Save 42 notes", fill="black",
                               font=ImageFont.load_default(size=28))
    started = time.monotonic()
    lines = engine.read(image)
    ms = (time.monotonic() - started) * 1000
    if not find_text(lines, "Save 42 notes"):
        seen = ", ".join(repr(line.text) for line in lines) or "nothing"
        return Check(name, False, f"{engine.name} read {seen} instead of 'Save 42 notes'",
                     "reinstall it (pip install --force-reinstall rapidocr-onnxruntime), or use "
                     "--ocr tesseract")
    return Check(name, True, f"{engine.name} loaded and read a line of text in {ms:.0f} ms")


def _ocr_present(choice: str) -> Check:
    """The engine ``choice`` would use, found without loading it."""
    import shutil

    name = "ocr"
    rapid = importlib.util.find_spec("rapidocr_onnxruntime")
    if choice in ("auto", "rapidocr") and rapid is not None and rapid.origin:
        models = sorted(Path(rapid.origin).parent.glob("models/*.onnx"))
        if models:
            return Check(name, True, f"rapidocr with its {len(models)} models (not loaded: "
                         "`tracer doctor --full` reads a line of text)")
        if choice == "rapidocr":
            return Check(name, False, "rapidocr is installed without its models",
                         "pip install --force-reinstall rapidocr-onnxruntime")
    if choice in ("auto", "tesseract"):
        program = shutil.which("tesseract")
        if program and importlib.util.find_spec("pytesseract") is not None:
            return Check(name, True, f"tesseract at {program} (not run: `tracer doctor --full` "
                         "reads a line of text)")
    if choice == "rapidocr":
        return Check(name, False, "the rapidocr engine is not installed",
                     "pip install rapidocr-onnxruntime (Python < 3.13), or use --ocr tesseract")
    return Check(name, False, "no OCR engine is installed" if choice == "auto" else
                 "tesseract is not installed", "pip install rapidocr-onnxruntime (Python < "
                 "3.13), or apt-get install tesseract-ocr && pip install pytesseract")


def _runs_usage(runs: Path, cap_mb: int) -> str:
    """How many runs, how much of the cap they take, and whether others can read them."""
    from tracer_cli.agent.retention import dir_size, human_size
    from tracer_cli.agent.runlog import list_runs

    count = len(list_runs(runs))
    cap = f" of the {cap_mb} MB cap" if cap_mb else ", no size cap"
    text = f"{count} run{'s' if count != 1 else ''}, {human_size(dir_size(runs))}{cap}"
    if runs.stat().st_mode & 0o077:
        text += "; readable by other users until the next run makes it private (chmod 700)"
    return text


def check_runs(ctx: Context) -> Check:
    """The run-records directory is writable (or can be created)."""
    name = "run records"
    runs = paths.runs_dir()
    fix = f"make {runs} writable, or set TRACER_HOME to a writable directory"
    if runs.is_dir():
        try:
            tempfile.NamedTemporaryFile(dir=runs, prefix=".doctor-").close()  # deleted on close
        except OSError as exc:
            return Check(name, False, f"{runs} is not writable: {exc.strerror or exc}", fix)
        return Check(name, True, f"{runs} (writable; {_runs_usage(runs, ctx.settings.runs_max_mb)})")
    parent = runs
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        return Check(name, False, f"{runs} does not exist and {parent} is not a writable "
                     "directory", fix)
    return Check(name, True, f"{runs} (created at the first run)")


# -- the backend --------------------------------------------------------------------------------


def _mb(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e9:.1f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


def check_model(ctx: Context) -> Check:
    """llama: the configured (or default) model resolves, is installed, and its files are GGUF."""
    from tracer_cli.models import ModelError, check_gguf, default_model, require_installed, resolve

    name = "model"
    settings = ctx.settings
    try:
        spec = resolve(settings.model, settings.mmproj)
    except ModelError as exc:
        return _fail(name, exc)
    try:
        model, mmproj = require_installed(spec)
    except ModelError as exc:
        check = _fail(name, exc)
        if spec.source == "catalogue" and spec.size():
            check.fix += f" ({spec.size() / 1e9:.1f} GB)"  # type: ignore[operator]
        return check
    try:
        for path in (model, mmproj):
            check_gguf(path)
    except ModelError as exc:
        return _fail(name, exc)
    which = spec.name + (" (default)" if not settings.model and spec.name == default_model() else "")
    return Check(name, True, f"{which}, {spec.source}, profile {spec.profile}: {model.name} "
                 f"{_mb(model)} + {mmproj.name} {_mb(mmproj)} in {model.parent}")


def check_llama_cpp(ctx: Context) -> Check:
    """llama-cpp-python imports, has multimodal support; whether it can offload to a GPU."""
    name = "llama.cpp"
    install = "pip install llama-cpp-python (see the README for GPU builds)"
    try:
        import llama_cpp
    except Exception as exc:  # ImportError, or a shared library that does not load (OSError)
        return Check(name, False, f"llama-cpp-python does not import: {exc}", install)
    version = getattr(llama_cpp, "__version__", "?")
    if importlib.util.find_spec("llama_cpp.mtmd_cpp") is None:
        return Check(name, False, f"llama-cpp-python {version} has no multimodal (mtmd) support",
                     "pip install -U 'llama-cpp-python>=0.3.36'")
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    layers = ctx.settings.gpu_layers
    if gpu:
        where = "the CPU" if layers == "0" else f"the GPU (--gpu-layers {layers})"
        return Check(name, True, f"llama-cpp-python {version}, GPU offload available: the model "
                     f"runs on {where}")
    return Check(name, True, f"llama-cpp-python {version}, CPU only: this build cannot offload "
                 "to a GPU", "for a GPU, reinstall it with CMAKE_ARGS (README: GPU builds)")


def check_cpu_kernels(ctx: Context) -> Check:
    """Whether llama.cpp's AMX / repacked-weight CPU buffers work here (a subprocess probe,
    remembered per llama.cpp build and CPU); where they crash, models load without them."""
    name = "cpu kernels"
    if not ctx.results["llama.cpp"].ok:
        return skipped(name, "needs llama.cpp")
    from tracer_cli.agent.backends.cpu_probe import verdict

    result = verdict()
    if result.extra_buffers:
        return Check(name, True, result.describe())
    return Check(name, True, result.describe(),
                 "nothing to do: tracer falls back by itself (TRACER_EXTRA_BUFFERS=1 forces them)")


def check_load(ctx: Context) -> Check:
    """--load: actually load the model and its projector into llama.cpp, then free them."""
    name = "model load"
    if not ctx.load:
        return skipped(name, "not tried: pass --load to load the model (slow for big models)")
    if not all(ctx.results[n].ok for n in ("model", "llama.cpp") if n in ctx.results):
        return skipped(name, "needs the model and llama.cpp")
    from tracer_cli.agent.backends.llama import LlamaBackend

    start = time.perf_counter()
    try:
        backend = LlamaBackend(ctx.settings)
    except TracerError as exc:
        return _fail(name, exc)
    seconds = time.perf_counter() - start
    try:
        n_ctx = backend.llm.n_ctx()
    finally:
        backend.close()
    return Check(name, True, f"{backend.spec.name} and its projector loaded in {seconds:.1f} s "
                 f"(context {n_ctx} tokens)")


def check_server(ctx: Context) -> Check:
    """openai: the server answers /models within a few seconds."""
    name = "server"
    url = ctx.settings.base_url
    try:
        import openai
    except ImportError:
        return Check(name, False, "the openai package is not installed", "pip install openai")
    client = openai.OpenAI(base_url=url, api_key=ctx.settings.api_key or "not-needed",
                           timeout=PROBE_TIMEOUT, max_retries=0)
    start = time.perf_counter()
    try:
        page = client.models.list()
        ids = [m.id for m in page.data]
    except openai.APITimeoutError:
        return Check(name, False, f"{url} did not answer /models within {PROBE_TIMEOUT:.0f} s",
                     "check that the server is up and --base-url is right")
    except openai.APIConnectionError:
        return Check(name, False, f"cannot reach the model server at {url}",
                     "start the server, or pass --base-url with the right address")
    except openai.AuthenticationError:
        return Check(name, False, f"the server at {url} refused the API key "
                     f"({'set' if ctx.settings.api_key else 'none set'})",
                     "set TRACER_API_KEY (or OPENAI_API_KEY) to a valid key")
    except openai.NotFoundError:
        return Check(name, False, f"{url}/models: not found (404)",
                     "check that --base-url ends in /v1")
    except openai.APIStatusError as exc:
        return Check(name, False, f"{url}/models answered {exc.status_code}",
                     "check the server's log")
    except Exception as exc:  # a malformed answer: not an OpenAI-compatible server
        return Check(name, False, f"{url}/models: not an OpenAI-compatible answer ({exc})",
                     "check that --base-url points at the API, e.g. http://HOST:PORT/v1")
    finally:
        client.close()
    ctx.served = ids
    ms = (time.perf_counter() - start) * 1000
    key = "set" if ctx.settings.api_key else "not set"
    return Check(name, True, f"{url} answers /models in {ms:.0f} ms: {len(ids)} model(s); API key "
                 f"{key}")


def check_served_model(ctx: Context) -> Check:
    """openai: the configured model is one the server lists (or the server has only one)."""
    name = "model"
    ids = ctx.served
    if ids is None:
        return skipped(name, "needs the server")
    shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
    wanted = ctx.settings.model
    if not wanted:
        if len(ids) == 1:
            return Check(name, True, f"{ids[0]} (the server's only model)")
        if not ids:
            return Check(name, False, "the server lists no models",
                         "load a model into the server, or pass --model NAME")
        return Check(name, False, f"no model chosen and the server serves {len(ids)}: {shown}",
                     _where(ctx, "model", ids[0]))
    if wanted in ids:
        return Check(name, True, f"{wanted} is served")
    if not ids:
        return Check(name, False, f"{wanted} is not served: the server lists no models",
                     f"load {wanted} into the server")
    return Check(name, False, f"{wanted} is not served; the server lists: {shown}",
                 _where(ctx, "model", ids[0]))


def _bound(ctx: Context, name: str, unit: str = " s") -> str:
    """A setting as ``name value``, with where it comes from unless it is the default."""
    value = getattr(ctx.settings, name)
    source = ctx.sources.get(name, "default")
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{name} {shown}{unit}" + ("" if source == "default" else f" (from {source})")


def check_call_bounds(ctx: Context) -> Check:
    """How long a model call may take, and what is retried: the bounds that tell a dead or hung
    server from a slow model."""
    name = "model calls"
    run = (f"all within the run's {_bound(ctx, 'timeout')}; the kill hotkey and Ctrl-C end a "
           "call at once")
    if ctx.settings.backend == "llama":
        return Check(name, True, f"streamed token by token, {run} (between two tokens: the "
                     "vision encoder and each 512-token prompt batch run to their end)")
    return Check(name, True, f"streamed; {_bound(ctx, 'request_timeout')} for the first token, "
                 f"{_bound(ctx, 'stall_timeout')} for any pause after it; "
                 f"{_bound(ctx, 'request_retries', '')} (a refused connection, 429 with "
                 f"Retry-After, 5xx; never a timeout); {run}")


def check_script(ctx: Context) -> Check:
    """script: the plan file exists and every line parses."""
    from tracer_cli.agent.backends.script import ScriptBackend

    name = "script"
    if not ctx.settings.script:
        return Check(name, False, "the script backend needs a plan file",
                     "pass --script FILE.jsonl")
    path = Path(ctx.settings.script).expanduser()
    try:
        backend = ScriptBackend(path)
    except TracerError as exc:
        return _fail(name, exc)
    return Check(name, True, f"{path}: {len(backend._answers)} answer(s)")


def check_backend(ctx: Context) -> Check:
    """Which backend the checks below are for; it must exist."""
    from tracer_cli.agent.backends import BACKENDS

    name = "backend"
    backend, source = ctx.settings.backend, ctx.sources["backend"]
    why = {"default": "the default", "file": "from the config file", "env": "from TRACER_BACKEND",
           "flag": "from --backend"}[source]
    if source == "default" and backend == "openai":
        why = "because a server URL is set"
    try:
        BACKENDS.get(backend)
    except ConfigError as exc:
        return Check(name, False, exc.message,
                     exc.hint.replace("choose one of:", _where(ctx, "backend", "NAME") + ", one of"))
    if backend not in BACKEND_CHECKS:
        return Check(name, True, f"{backend} ({why}): a plug-in, no further checks for it")
    return Check(name, True, f"{backend} ({why})")


def check_image(ctx: Context) -> Check:
    """The screenshot size the model gets, and what the numbers in its answers mean."""
    from tracer_cli.agent.defaults import zooms_on_cpu_budget
    from tracer_cli.agent.profiles import PROFILES

    name = "model image"
    try:
        profile = PROFILES.get(ctx.settings.profile)
    except ConfigError as exc:
        return _fail(name, exc)
    geometry, budget = profile.geometry, ctx.settings.max_pixels
    width, height = ctx.monitor or (1920, 1080)
    w, h = geometry.size(width, height, budget)
    which = "the monitor" if ctx.monitor else "a 1920x1080 monitor (no display to measure)"
    detail = (f"profile {profile.name} ({geometry.family}): {which} {width}x{height} is sent as "
              f"{w}x{h} ({geometry.tokens(w, h)} image tokens); {geometry.describe()}")
    warning = geometry.budget_warning(budget, ctx.settings.zoom)
    if warning and zooms_on_cpu_budget(ctx.settings):
        return Check(name, True, f"{detail}; the catalogue's budget for this model on a CPU: each "
                     "click is placed again on a full-resolution crop (zoom)")
    if warning:
        return Check(name, False if budget > geometry.max_budget else True, f"{detail}; {warning}",
                     _where(ctx, "max_pixels", "0") + " (the family's default)")
    return Check(name, True, detail)


BACKEND_CHECKS: dict[str, list[tuple[str, Callable[[Context], Check]]]] = {
    "llama": [("model", check_model), ("llama.cpp", check_llama_cpp), ("cpu kernels", check_cpu_kernels),
              ("model load", check_load), ("model calls", check_call_bounds)],
    "openai": [("server", check_server), ("model", check_served_model),
               ("model calls", check_call_bounds)],
    "script": [("script", check_script)],
}

COMMON_CHECKS: list[tuple[str, Callable[[Context], Check]]] = [
    ("kill hotkey", check_hotkey), ("pause hotkey", check_pause_hotkey),
    ("stop and pause", check_control), ("accessibility tree", check_elements),
    ("ocr", check_ocr), ("run records", check_runs),
    ("backend", check_backend), ("model image", check_image)]


# -- running and showing them -------------------------------------------------------------------


def _safe(name: str, fn: Callable[[Context], Check], ctx: Context) -> Check:
    """Run one check; an exception nobody foresaw is a failed check, not a traceback."""
    try:
        return fn(ctx)
    except Exception as exc:
        if DEBUG["on"]:
            raise
        return Check(name, False, f"unexpected error: {type(exc).__name__}: {exc}",
                     "run `tracer --debug doctor` for the traceback")


def run(flags: dict[str, Any], load: bool = False, full: bool = False) -> list[Check]:
    """Every check, in order, for the settings the flags (plus environment and config) give;
    ``full``: load the OCR engine and the model too."""
    settings, sources, config_check = load_settings(flags)
    ctx = Context(settings, sources, load or full, full)
    checks = [config_check]
    try:
        rows = platform_checks(ctx)
    except Exception as exc:
        if DEBUG["on"]:
            raise
        rows = [Check("platform", False, f"unexpected error: {type(exc).__name__}: {exc}",
                      "run `tracer --debug doctor` for the traceback")]
    for row in rows:
        ctx.results[row.name] = row
        checks.append(row)
    for name, fn in [*COMMON_CHECKS, *BACKEND_CHECKS.get(settings.backend, [])]:
        check = _safe(name, fn, ctx)
        ctx.results[name] = check
        checks.append(check)
    return checks


def passed(checks: list[Check]) -> bool:
    """Whether everything needed passed: no check failed (a skipped one follows a failure, or
    was not asked for)."""
    return not any(c.ok is False for c in checks)


WIDE = 120  # columns from which the fix has a column of its own


def table(checks: list[Check], width: int = WIDE) -> Table:
    """The checks as a table for a terminal ``width`` columns wide. Below WIDE a fix is written
    under its detail (``fix: ...``) instead of in a fourth column: at 80 columns two text
    columns of 25 characters cut paths and file names in the middle (``config.to`` / ``ml``),
    with the fix column empty on most rows."""
    from rich.markup import escape
    from rich.table import Table

    marks = {"ok": "[green]✓[/]", "fail": "[bold red]✗[/]", "skipped": "[dim]–[/]"}
    apart = width >= WIDE
    result = Table(title="tracer doctor", title_justify="left")
    result.add_column("check", no_wrap=True)
    result.add_column("status", justify="center")
    # overflow fold: a path longer than the column wraps instead of losing its end
    result.add_column("detail" if apart else "detail, and how to fix", overflow="fold")
    if apart:
        result.add_column("how to fix", overflow="fold")
    for c in checks:
        if apart:
            result.add_row(c.name, marks[c.status], escape(c.detail), escape(c.fix))
        else:
            fix = f"\n[bold]fix:[/] {escape(c.fix)}" if c.fix else ""
            result.add_row(c.name, marks[c.status], escape(c.detail) + fix)
    return result


def summary(checks: list[Check]) -> str:
    failed = [c.name for c in checks if c.ok is False]
    if not failed:
        return "everything needed works"
    return f"{len(failed)} problem(s): {', '.join(failed)}"


def to_json(checks: list[Check]) -> str:
    return json.dumps({"ok": passed(checks),
                       "checks": [{**asdict(c), "status": c.status} for c in checks]})
