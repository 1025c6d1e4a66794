"""The README's main job, examples/demo.sh, run as a user runs it (on its own Xvfb)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT
from tests.hub_server import HubServer
from tests.test_models import MMPROJ, MODEL, REPO, write_entry
from tests.tinyvlm import make_tiny_vlm

pytestmark = pytest.mark.display
DEFAULT = "qwen3-vl-4b-instruct"


def demo(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = {**env, "TRACER_BIN": str(bin_dir / "tracer"), "TRACER_PYTHON": sys.executable,
           "TRACER_SETTLE_QUIET": "0.1"}
    env.pop("DISPLAY", None)
    return subprocess.run(["bash", str(EXAMPLES / "demo.sh"), "--xvfb", *args], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=180)


def test_scripted_demo_fills_the_form() -> None:
    result = demo("--scripted", env=dict(os.environ))
    assert result.returncode == 0, result.stdout + result.stderr
    received = result.stdout.strip().splitlines()[-1]
    assert received.startswith("the form received: ")
    form = json.loads(received.removeprefix("the form received: "))
    assert form == {"name": "Ada Lovelace", "colour": "Green", "clicks": ["Green", "Submit"]}


def test_default_demo_pulls_the_default_model_and_runs_it(tmp_path: Path) -> None:
    """The default model's catalogue entry is replaced (TRACER_CATALOGUE) by a tiny pair that a
    local stand-in for the Hub serves: the demo pulls it on first use and runs tracer do with it
    through llama.cpp."""
    answer = {"thought": "Nothing to do.", "trajectory": [{"action": "done", "answer": "seen"}]}
    model, mmproj = make_tiny_vlm(tmp_path / "pair", [json.dumps(answer)], arch="qwen3vl")
    files = {(REPO, MODEL): model.read_bytes(), (REPO, MMPROJ): mmproj.read_bytes()}
    write_entry(tmp_path / "catalogue", DEFAULT, model=files[(REPO, MODEL)],
                mmproj=files[(REPO, MMPROJ)])
    with HubServer.serving(files) as hub:
        env = {**os.environ, "TRACER_CATALOGUE": str(tmp_path / "catalogue"),
               "HF_ENDPOINT": hub.endpoint, "HF_HUB_DISABLE_XET": "1",
               "NO_PROXY": "127.0.0.1,localhost"}
        result = demo(env=env)
        assert len(hub.gets(MODEL)) == 1
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"pulling {DEFAULT}" in result.stderr
    assert "seen" in result.stdout  # the tiny model's answer, printed by tracer do
    assert (Path(os.environ["TRACER_HOME"]) / "models" / DEFAULT / MODEL).is_file()


def test_default_demo_falls_back_to_the_script_without_the_hub(tmp_path: Path) -> None:
    env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_DISABLE_XET": "1"}
    result = demo(env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "using the scripted plan" in result.stdout
    assert '"name": "Ada Lovelace"' in result.stdout
