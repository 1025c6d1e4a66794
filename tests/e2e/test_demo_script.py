"""The README's main job, examples/demo.sh, run as a user runs it (on its own Xvfb)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.hub_server import HubServer
from tests.test_models import MMPROJ, MODEL, REPO, write_entry
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.models import default_model

pytestmark = pytest.mark.display
DEFAULT = default_model()  # what the demo asks to download on this machine


def demo(*args: str, env: dict[str, str], answer: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    """The demo on its own Xvfb; with ``answer``, run at a terminal where the user types it
    (standard input a pseudo-terminal), else with no terminal to ask at."""
    bin_dir = Path(sys.executable).parent
    env = {**env, "TRACER_BIN": str(bin_dir / "tracer"), "TRACER_PYTHON": sys.executable,
           "TRACER_SETTLE_QUIET": "0.1"}
    env.pop("DISPLAY", None)
    argv = ["bash", str(EXAMPLES / "demo.sh"), "--xvfb", *args]
    if answer is None:
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env,
                              stdin=subprocess.DEVNULL, timeout=180)
    master, slave = os.openpty()
    try:
        os.write(master, answer.encode())
        return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env,
                              stdin=slave, timeout=180)
    finally:
        os.close(master)
        os.close(slave)


def test_scripted_demo_fills_the_form() -> None:
    result = demo("--scripted", env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    received = result.stdout.strip().splitlines()[-1]
    assert received.startswith("the form received: ")
    form = json.loads(received.removeprefix("the form received: "))
    assert form == {"name": "Ada Lovelace", "colour": "Green", "clicks": ["Green", "Submit"]}


@pytest.fixture
def default_on_the_hub(tmp_path: Path) -> Iterator[tuple[HubServer, dict[str, str]]]:
    """The default model's catalogue entry replaced (TRACER_CATALOGUE) by a tiny pair that a
    local stand-in for the Hub serves, and the environment that points the demo at both."""
    answer = {"thought": "Nothing to do.", "trajectory": [{"action": "done", "answer": "seen"}]}
    model, mmproj = make_tiny_vlm(tmp_path / "pair", [json.dumps(answer)], arch="qwen3vl")
    files = {(REPO, MODEL): model.read_bytes(), (REPO, MMPROJ): mmproj.read_bytes()}
    write_entry(tmp_path / "catalogue", DEFAULT, model=files[(REPO, MODEL)],
                mmproj=files[(REPO, MMPROJ)])
    with HubServer.serving(files) as hub:
        yield hub, {**os.environ, "TRACER_CATALOGUE": str(tmp_path / "catalogue"),
                    "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1",
                    "NO_PROXY": "127.0.0.1,localhost"}


def test_default_demo_pulls_the_default_model_and_runs_it(
        default_on_the_hub: tuple[HubServer, dict[str, str]]) -> None:
    """The demo asks, pulls the (tiny stand-in for the) default model on first use and runs
    tracer do with it through llama.cpp."""
    hub, env = default_on_the_hub
    result = demo(env=env, answer="y\n")
    assert len(hub.gets(MODEL)) == 1
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Download {DEFAULT} from {REPO} (" in result.stderr  # asked first, with the size
    assert f"pulling {DEFAULT}" in result.stderr
    assert "seen" in result.stdout  # the tiny model's answer, printed by tracer do
    assert (Path(os.environ["TRACER_HOME"]) / "models" / DEFAULT / MODEL).is_file()


def test_default_demo_falls_back_to_the_script_without_the_hub(tmp_path: Path) -> None:
    """Yes to the download, but the hub cannot be reached: the scripted plan; the next run
    neither asks nor tries the hub again (for a day)."""
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_DISABLE_XET": "1"}
    result = demo(env=env, answer="y\n")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Download {DEFAULT} from " in result.stderr and "cannot find" in result.stderr
    assert "using the scripted plan" in result.stdout
    assert '"name": "Ada Lovelace"' in result.stdout
    again = demo(env=env, answer="y\n")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Download" not in again.stderr and "cannot find" not in again.stderr
    assert "could not be reached" in again.stderr and "using the scripted plan" in again.stdout


def test_a_no_to_the_download_is_not_asked_again(
        default_on_the_hub: tuple[HubServer, dict[str, str]]) -> None:
    """No to the 3.3 GB download: the scripted plan, and the next run does not ask; without a
    terminal the demo does not download either, and remembers nothing."""
    hub, env = default_on_the_hub
    unasked = demo(env=env)
    assert "no terminal to ask at" in unasked.stderr, unasked.stderr
    assert "error" not in unasked.stderr  # an answer, not a failure
    declined = demo(env=env, answer="n\n")
    again = demo(env=env, answer="y\n")
    assert hub.gets() == []
    assert declined.returncode == 0 and again.returncode == 0, declined.stderr + again.stderr
    assert "Download" in declined.stderr and "using the scripted plan" in declined.stdout
    assert "Download" not in again.stderr and "you declined the download" in again.stderr
    assert '"name": "Ada Lovelace"' in again.stdout
