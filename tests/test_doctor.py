"""`tracer doctor`: the real command on a real Xvfb, without a display, against a real chat
server and a closed port, and with a tiny GGUF model that llama.cpp really loads."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import ChatServer
from tests.conftest import Display, run_tracer
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.cli import doctor
from tracer_cli.models import default_model

MACHINE = ("platform", "display", "screen capture", "input control", "kill hotkey", "pause hotkey",
           "stop and pause", "accessibility tree")


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "300")  # rich tables: no cell is wrapped


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plans.jsonl"
    path.write_text(json.dumps({"thought": "-", "trajectory": [{"action": "done"}]}) + "\n",
                    encoding="utf-8")
    return path


def no_display_env(**extra: str) -> dict[str, str]:
    """No desktop: the display variables set empty (absent, tracer would look for the user's
    session by its sockets)."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_SESSION_TYPE"}
    return {**env, "DISPLAY": "", "WAYLAND_DISPLAY": "", **extra}


def tracer(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = run_tracer(*args, env=env)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def checks(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict[str, dict[str, Any]]]:
    """Run `tracer doctor --json ARGS`: the exit code and the checks by name."""
    proc = tracer("doctor", "--json", *args, env=env)
    data = json.loads(proc.stdout)
    assert data["ok"] is (proc.returncode == 0), proc.stdout
    by_name = {c["name"]: c for c in data["checks"]}
    assert len(by_name) == len(data["checks"])
    return proc.returncode, by_name


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_help_documents_the_exit_codes() -> None:
    proc = tracer("doctor", "--help", env=no_display_env())
    assert proc.returncode == 0
    for text in ("--load", "--json", "--backend", "--monitor", "--display", "--kill-hotkey",
                 "Exit codes"):
        assert text in proc.stdout


# -- the machine ------------------------------------------------------------------------------


@pytest.mark.display
def test_on_xvfb_every_check_passes(display: Display, plan_file: Path) -> None:
    code, found = checks("-b", "script", "--script", str(plan_file))
    assert code == 0, found
    assert list(found) == ["config", *MACHINE, "ocr", "run records", "backend", "model image",
                           "script"]
    tree = found.pop("accessibility tree")  # optional: on where the session runs the bus
    assert tree["status"] in ("ok", "skipped"), tree
    assert all(c["status"] == "ok" and c["ok"] is True for c in found.values()), found
    # the screenshot size the model gets on this very monitor, and what its numbers mean
    assert ("the monitor 1280x800 is sent as 1312x832 (1066 image tokens); sides multiples of 32, "
            "coordinates 0..1000 relative to the image") in found["model image"]["detail"]
    assert found["platform"]["detail"] == f"X11 display {display.name} (from the session)"
    assert f"DISPLAY={display.name}" in found["display"]["detail"]
    assert "1280x800" in found["display"]["detail"]
    assert "monitors: 1: 1280x800+0+0" in found["screen capture"]["detail"]
    assert "XTEST input on 1280x800" in found["input control"]["detail"]
    assert "input scale 1" in found["input control"]["detail"]
    assert "keyboard map" in found["input control"]["detail"]
    assert found["kill hotkey"]["detail"] == "ctrl+alt+shift+k: the kill switch arms (a global hotkey)"
    assert found["pause hotkey"]["detail"] == \
        "ctrl+alt+shift+p: pauses and hands back (a global hotkey)"
    assert "tracer stop and tracer pause reach a running tracer" in found["stop and pause"]["detail"]
    assert "1 answer(s)" in found["script"]["detail"]
    assert "rapidocr with its" in found["ocr"]["detail"] and "not loaded" in found["ocr"]["detail"]


@pytest.mark.display
def test_full_loads_the_ocr_engine_and_reads_a_line(display: Display, plan_file: Path) -> None:
    code, found = checks("--full", "-b", "script", "--script", str(plan_file))
    assert code == 0, found
    assert "rapidocr loaded and read a line of text in" in found["ocr"]["detail"]


def test_ocr_choices_that_are_not_installed_say_how(plan_file: Path, tmp_path: Path) -> None:
    env = no_display_env(PATH=str(tmp_path), TRACER_OCR="tesseract")  # no tesseract on this PATH
    code, found = checks("-b", "script", "--script", str(plan_file), env=env)
    assert found["ocr"]["ok"] is False and "tesseract is not installed" in found["ocr"]["detail"]
    assert "apt-get install tesseract-ocr" in found["ocr"]["fix"]


@pytest.mark.display
def test_the_table(display: Display, plan_file: Path) -> None:
    proc = tracer("doctor", "-b", "script", "--script", str(plan_file))
    assert proc.returncode == 0, proc.stdout
    rows = [line for line in proc.stdout.splitlines() if line.startswith("│")]
    named = [row for row in rows if not row.startswith("│    ")]  # (not a wrapped line)
    assert len(named) == 14
    for name in ("config", *MACHINE, "ocr", "run records", "backend", "model image", "script"):
        if name != "accessibility tree":  # optional: skipped where no accessibility bus runs
            assert any(f"│ {name} " in row and " ✓ " in row for row in rows), (name, proc.stdout)
    for header in ("check", "status", "detail", "how to fix"):
        assert header in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "everything needed works"


def test_the_table_at_80_columns_keeps_paths_and_names_whole() -> None:
    """At 80 columns a fix goes under its detail: four columns left 25 characters for each text,
    so a path or a file name was cut in the middle ("config.to" / "ml", "Q4_" / "K_M.gguf");
    from 120 columns the fix has its own column."""
    from rich.console import Console

    found = [
        doctor.Check("config", True, "/home/ada/.config/tracer/config.toml (not created yet: "
                     "defaults)"),
        doctor.Check("model", False, "model qwen3-vl-4b-instruct is not installed "
                     "(Qwen3VL-4B-Instruct-Q4_K_M.gguf missing)",
                     "run `tracer models pull qwen3-vl-4b-instruct` (3.3 GB)"),
        doctor.Check("model load", None, "not tried"),
    ]

    def render(width: int) -> str:
        console = Console(width=width, record=True, file=io.StringIO())
        console.print(doctor.table(found, width))
        return console.export_text()

    narrow = render(80)
    assert all(len(line) <= 80 for line in narrow.splitlines())
    for whole in ("/home/ada/.config/tracer/config.toml", "(Qwen3VL-4B-Instruct-Q4_K_M.gguf",
                  "fix: run `tracer models pull qwen3-vl-4b-instruct`"):
        assert any(whole in line for line in narrow.splitlines()), (whole, narrow)
    assert "how to fix" in narrow.splitlines()[2]  # the header: "detail, and how to fix"
    wide = render(160)
    header = wide.splitlines()[2]
    assert "│ how to fix" in header or "┃ how to fix" in header
    assert "fix:" not in wide


def test_the_model_image_check_names_the_cap_a_budget_goes_over(plan_file: Path) -> None:
    code, found = checks("-b", "script", "--script", str(plan_file), "--profile", "ui-tars",
                         "--max-pixels", "9000000", env=no_display_env())
    image = found["model image"]
    assert image["ok"] is False
    assert "a 1920x1080 monitor (no display to measure)" in image["detail"]
    assert "absolute pixels of the image" in image["detail"]
    assert "using 3211264" in image["detail"]


def test_without_display_says_how_and_skips_what_needs_one(plan_file: Path) -> None:
    env = no_display_env()
    proc = tracer("doctor", "-b", "script", "--script", str(plan_file), env=env)
    assert proc.returncode == 1
    assert proc.stderr == ""
    display_row = next(line for line in proc.stdout.splitlines() if line.startswith("│ platform "))
    assert " ✗ " in display_row and "--display :N" in display_row
    assert proc.stdout.rstrip().splitlines()[-1] == "1 problem(s): platform"

    code, found = checks("-b", "script", "--script", str(plan_file), env=env)
    assert code == 1
    assert found["platform"]["ok"] is False
    assert "neither DISPLAY nor WAYLAND_DISPLAY is set" in found["platform"]["detail"]
    assert "--display" in found["platform"]["fix"]
    for name in ("display", "screen capture", "input control", "kill hotkey", "pause hotkey"):
        assert found[name]["ok"] is None and found[name]["status"] == "skipped", found[name]
    assert found["script"]["ok"] is True  # what needs no display is still checked


def test_an_unknown_wayland_desktop_without_x_is_explained(plan_file: Path) -> None:
    code, found = checks("-b", "script", "--script", str(plan_file),
                         env=no_display_env(WAYLAND_DISPLAY="wayland-0", XDG_CURRENT_DESKTOP="weston"))
    assert code == 1
    assert "this Wayland desktop (weston) is not one tracer knows" in found["platform"]["detail"]
    assert "--platform gnome|kde|wlroots" in found["platform"]["fix"]


@pytest.mark.display
def test_wayland_with_xwayland_says_what_it_cannot_reach(display: Display, plan_file: Path) -> None:
    code, found = checks("-b", "script", "--script", str(plan_file),
                         env={**os.environ, "WAYLAND_DISPLAY": "wayland-0"})
    assert code == 0
    assert "a Wayland session: tracer sees and controls X (XWayland) windows only" in \
        found["display"]["detail"]
    assert found["platform"]["detail"] == f"X11 display {display.name} (from the session)"


def test_a_display_nobody_serves(plan_file: Path) -> None:
    number = next(n for n in range(917, 999) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    code, found = checks("-b", "script", "--script", str(plan_file), "--display", f":{number}",
                         env=no_display_env())
    assert code == 1
    assert f"cannot connect to X display :{number}" in found["display"]["detail"]
    assert found["screen capture"]["ok"] is None


@pytest.mark.display
def test_a_monitor_that_does_not_exist(display: Display, plan_file: Path) -> None:
    code, found = checks("-b", "script", "--script", str(plan_file), "--monitor", "3")
    assert code == 1
    capture = found["screen capture"]
    assert capture["ok"] is False
    assert "monitor 3 does not exist; monitors: 1: 1280x800+0+0" in capture["detail"]
    assert capture["fix"] == "pass --monitor 1"
    assert found["input control"]["ok"] is True  # input does not depend on the monitor


@pytest.mark.display
def test_a_monitor_from_the_config_file(display: Display, plan_file: Path, tracer_home: Path) -> None:
    tracer_home.mkdir(parents=True)
    (tracer_home / "config.toml").write_text("monitor = 2\n", encoding="utf-8")
    code, found = checks("-b", "script", "--script", str(plan_file))
    assert code == 1
    assert found["config"]["ok"] is True
    assert found["screen capture"]["fix"] == f"set monitor = 1 in {tracer_home / 'config.toml'}"


@pytest.mark.display
def test_kill_hotkey_off_refused_or_another(display: Display, plan_file: Path) -> None:
    args = ("-b", "script", "--script", str(plan_file))
    code, found = checks(*args, env={**os.environ, "TRACER_KILL_HOTKEY": ""})
    assert code == 0
    assert found["kill hotkey"]["status"] == "skipped" and "off" in found["kill hotkey"]["detail"]
    code, found = checks(*args, "--kill-hotkey", "<nonsense>+k")
    assert code == 1
    assert "unknown key '<nonsense>'" in found["kill hotkey"]["detail"]
    assert "--kill-hotkey ''" in found["kill hotkey"]["fix"]
    code, found = checks(*args, "--kill-hotkey", "k")
    assert code == 1
    assert "tracer's own typing could press" in found["kill hotkey"]["detail"]
    code, found = checks(*args, "--kill-hotkey", "<ctrl>+<alt>+j")
    assert code == 0
    assert found["kill hotkey"]["detail"] == "ctrl+alt+j: the kill switch arms (a global hotkey)"


@pytest.mark.display
def test_pause_hotkey_off_or_colliding(display: Display, plan_file: Path) -> None:
    args = ("-b", "script", "--script", str(plan_file))
    code, found = checks(*args, env={**os.environ, "TRACER_PAUSE_HOTKEY": ""})
    assert code == 0
    assert found["pause hotkey"]["status"] == "skipped" and "off" in found["pause hotkey"]["detail"]
    code, found = checks(*args, env={**os.environ, "TRACER_PAUSE_HOTKEY": "<ctrl>+<alt>+<shift>"})
    assert code == 1
    assert "collides with the kill hotkey" in found["pause hotkey"]["detail"]
    assert "--pause-hotkey ''" in found["pause hotkey"]["fix"]


# -- config and run records -------------------------------------------------------------------


def test_a_broken_config_file_fails_and_the_rest_goes_on(tracer_home: Path, plan_file: Path) -> None:
    tracer_home.mkdir(parents=True)
    path = tracer_home / "config.toml"
    path.write_text('backend = "script"\nhorizon = [\n', encoding="utf-8")
    code, found = checks("--script", str(plan_file), env=no_display_env())
    assert code == 1
    assert found["config"]["ok"] is False
    assert f"config file {path} is not valid TOML" in found["config"]["detail"]
    assert found["run records"]["ok"] is True
    assert found["backend"]["detail"] == "llama (the default)"  # the file's backend was lost


def test_a_bad_value_in_the_config_file_drops_only_that_value(tracer_home: Path,
                                                             plan_file: Path) -> None:
    tracer_home.mkdir(parents=True)
    (tracer_home / "config.toml").write_text(
        f'backend = "script"\nscript = "{plan_file}"\nhorizon = 0\n', encoding="utf-8")
    code, found = checks(env=no_display_env())
    assert "horizon=0" in found["config"]["detail"]
    assert found["backend"]["detail"] == "script (from the config file)"
    assert found["script"]["ok"] is True


def test_run_records_that_cannot_be_written(tmp_path: Path, plan_file: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    env = no_display_env(TRACER_HOME=str(blocker / "home"))
    code, found = checks("-b", "script", "--script", str(plan_file), env=env)
    assert code == 1
    runs = found["run records"]
    assert runs["ok"] is False and str(blocker) in runs["detail"]
    assert "TRACER_HOME" in runs["fix"]


def test_run_records_directory_writable(tracer_home: Path, plan_file: Path) -> None:
    (tracer_home / "runs").mkdir(parents=True)
    os.chmod(tracer_home / "runs", 0o700)
    code, found = checks("-b", "script", "--script", str(plan_file), env=no_display_env())
    assert found["run records"] == {
        "name": "run records", "ok": True, "status": "ok", "fix": "",
        "detail": f"{tracer_home / 'runs'} (writable; 0 runs, 0 bytes of the 2000 MB cap)"}
    assert list((tracer_home / "runs").iterdir()) == []  # the probe file is gone

    os.chmod(tracer_home / "runs", 0o755)  # made by an older tracer
    code, found = checks("-b", "script", "--script", str(plan_file),
                         env=no_display_env(TRACER_RUNS_MAX_MB="0"))
    assert found["run records"]["detail"].endswith(
        "(writable; 0 runs, 0 bytes, no size cap; readable by other users until the next run "
        "makes it private (chmod 700))")


# -- backends ---------------------------------------------------------------------------------


@pytest.mark.display
def test_openai_server_that_answers(display: Display, chat_server: ChatServer) -> None:
    code, found = checks("--base-url", chat_server.base_url)
    assert code == 0, found
    assert found["backend"]["detail"] == "openai (because a server URL is set)"
    assert found["server"]["ok"] is True
    assert chat_server.base_url in found["server"]["detail"]
    assert found["model"] == {"name": "model", "ok": True, "status": "ok", "fix": "",
                              "detail": "test-vlm (the server's only model)"}
    assert chat_server.requests == []  # nothing was asked of the model


def test_openai_model_calls_show_their_bounds(chat_server: ChatServer) -> None:
    """What tells a hung server from a slow model, and where a value not the default came from."""
    code, found = checks("--base-url", chat_server.base_url,
                         env=no_display_env(TRACER_STALL_TIMEOUT="12"))
    assert found["model calls"] == {
        "name": "model calls", "ok": True, "status": "ok", "fix": "",
        "detail": "streamed; request_timeout 120 s for the first token, stall_timeout 12 s (from "
                  "env) for any pause after it; request_retries 2 (a refused connection, 429 with "
                  "Retry-After, 5xx; never a timeout); all within the run's timeout 900 s; the kill "
                  "hotkey and Ctrl-C end a call at once"}


def test_openai_model_the_server_does_not_serve(chat_server: ChatServer) -> None:
    code, found = checks("-b", "openai", "--base-url", chat_server.base_url, "--model", "other",
                         env=no_display_env())
    assert code == 1
    assert found["server"]["ok"] is True
    assert found["model"]["ok"] is False
    assert found["model"]["detail"] == "other is not served; the server lists: test-vlm"
    assert found["model"]["fix"] == "pass --model test-vlm"


def test_openai_server_with_several_models_needs_a_choice() -> None:
    server = ChatServer(models=("big-vl", "small-vl")).start()
    try:
        code, found = checks("--base-url", server.base_url, env=no_display_env())
    finally:
        server.stop()
    assert found["model"]["ok"] is False
    assert "serves 2: big-vl, small-vl" in found["model"]["detail"]
    assert found["model"]["fix"] == "pass --model big-vl"


def test_openai_closed_port_fails_fast_with_the_url() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    start = time.monotonic()
    code, found = checks("--base-url", url, env=no_display_env())
    assert time.monotonic() - start < 30
    assert code == 1
    assert found["server"]["ok"] is False
    assert url in found["server"]["detail"]
    assert "--base-url" in found["server"]["fix"]
    assert found["model"]["status"] == "skipped"


@pytest.mark.display
def test_llama_model_not_installed(display: Display) -> None:
    code, found = checks()
    assert code == 1
    assert found["backend"]["detail"] == "llama (the default)"
    model = found["model"]
    assert model["ok"] is False
    default = default_model()  # the 2B on this project's CPU-only machines
    assert f"model {default} is not installed" in model["detail"]
    assert model["fix"].startswith(f"run `tracer models pull {default}`")
    assert found["llama.cpp"]["ok"] is True
    assert found["model load"]["status"] == "skipped"
    assert [name for name, c in found.items() if c["ok"] is False] == ["model"]


def test_a_catalogue_model_on_a_cpu_gets_its_cpu_budget_without_a_warning() -> None:
    code, found = checks(env=no_display_env(TRACER_GPU_LAYERS="0"))
    image = found["model image"]
    assert image["ok"] is True
    assert "a 1920x1080 monitor (no display to measure) 1920x1080 is sent as 960x512 (480 image " \
        "tokens)" in image["detail"]
    assert "the catalogue's budget for this model on a CPU" in image["detail"]
    code, found = checks("--max-pixels", "524288",
                         env=no_display_env(TRACER_GPU_LAYERS="0", TRACER_ZOOM="false"))
    assert "clicks may land less precisely" in found["model image"]["detail"]


def test_llama_unknown_model() -> None:
    code, found = checks("--model", "no-such-model", env=no_display_env())
    assert found["model"]["detail"] == "unknown model 'no-such-model'"
    assert "tracer models list" in found["model"]["fix"]


def test_llama_file_that_is_not_gguf(tmp_path: Path) -> None:
    model, mmproj = tmp_path / "m.gguf", tmp_path / "p.gguf"
    model.write_bytes(b"<html>not a model</html>")
    mmproj.write_bytes(b"GGUF")
    code, found = checks("--model", str(model), "--mmproj", str(mmproj), env=no_display_env())
    assert found["model"]["ok"] is False
    assert f"{model} is not a GGUF file" in found["model"]["detail"]


@pytest.mark.display
def test_llama_registered_tiny_model_passes_and_loads(display: Display, tmp_path: Path) -> None:
    model, mmproj = make_tiny_vlm(tmp_path / "tiny", ["hello"])
    added = tracer("models", "add", "tiny", "--model", str(model), "--mmproj", str(mmproj))
    assert added.returncode == 0, added.stderr
    code, found = checks("--model", "tiny")
    assert code == 0, found
    assert found["model"]["detail"].startswith("tiny, registered, profile tracer1: tiny-vlm.gguf")
    assert "llama-cpp-python" in found["llama.cpp"]["detail"]
    assert found["model load"]["status"] == "skipped"
    assert "--load" in found["model load"]["detail"]

    proc = tracer("doctor", "--model", "tiny", "--load")
    assert proc.returncode == 0, proc.stdout
    assert proc.stderr == ""  # llama.cpp's own log stays out of the terminal
    row = next(line for line in proc.stdout.splitlines() if line.startswith("│ model load "))
    assert " ✓ " in row and "tiny and its projector loaded in" in row


def test_script_file_missing(tmp_path: Path) -> None:
    code, found = checks("-b", "script", "--script", str(tmp_path / "nope.jsonl"),
                         env=no_display_env())
    assert found["script"]["ok"] is False
    assert "does not exist" in found["script"]["detail"]


def test_script_file_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"thought": \n', encoding="utf-8")
    code, found = checks("-b", "script", "--script", str(path), env=no_display_env())
    assert found["script"]["ok"] is False
    assert f"{path}:1: not a JSON line" in found["script"]["detail"]


def test_unknown_backend() -> None:
    code, found = checks("-b", "nope", env=no_display_env())
    assert code == 1
    assert found["backend"]["detail"] == "unknown backend 'nope'"
    assert found["backend"]["fix"] == "pass --backend NAME, one of llama, openai, script"
    assert list(found)[-2:] == ["backend", "model image"]


# -- never a traceback ------------------------------------------------------------------------


def test_an_unforeseen_error_is_a_failed_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: doctor.Context) -> doctor.Check:
        raise RuntimeError("boom")

    monkeypatch.setattr(doctor, "COMMON_CHECKS", [("run records", broken)])
    monkeypatch.setattr(doctor, "BACKEND_CHECKS", {})
    monkeypatch.setattr(doctor, "platform_checks", lambda ctx: [])
    found = doctor.run({})
    assert [c.name for c in found] == ["config", "run records"]
    assert found[1].ok is False and found[1].detail == "unexpected error: RuntimeError: boom"
    assert "--debug" in found[1].fix
    assert not doctor.passed(found)
