"""First use of a catalogue model: `tracer do` at a terminal offers to download it, pulls it
from the (local stand-in for the) Hub, and goes on with the run through real llama.cpp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, Display
from tests.e2e.conftest import done, plan, tracer_env
from tests.hub_server import HubServer
from tests.test_models import MMPROJ, MODEL, REPO, write_entry
from tests.tinyvlm import make_tiny_vlm

pytestmark = pytest.mark.display


@pytest.fixture
def tiny_on_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    model, mmproj = make_tiny_vlm(tmp_path / "pair", [json.dumps(plan(done("pressed OK")))],
                                  arch="qwen3vl")
    files = {(REPO, MODEL): model.read_bytes(), (REPO, MMPROJ): mmproj.read_bytes()}
    write_entry(tmp_path / "catalogue", model=files[(REPO, MODEL)], mmproj=files[(REPO, MMPROJ)])
    monkeypatch.setenv("TRACER_CATALOGUE", str(tmp_path / "catalogue"))
    with HubServer.serving(files) as hub:
        yield hub


def at_a_terminal(args: list[str], answer: str, env: dict[str, str]) -> tuple[int, str]:
    """Run tracer with its standard input on a pseudo-terminal and type ``answer`` into it."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", *args], stdin=slave,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env=env, cwd=ROOT)
        os.write(master, answer.encode())
        output, _ = proc.communicate(timeout=90)
        return proc.returncode, output
    finally:
        os.close(master)
        os.close(slave)


def hub_env(display: Display, hub: HubServer) -> dict[str, str]:
    return tracer_env(display, HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET="1",
                      HF_HUB_DISABLE_TELEMETRY="1", NO_PROXY="127.0.0.1,localhost")


def test_yes_downloads_the_model_and_the_run_goes_on(display: Display,
                                                     tiny_on_the_hub: HubServer) -> None:
    code, output = at_a_terminal(["do", "press OK", "--yes", "--model", "tiny"], "y\n",
                                 hub_env(display, tiny_on_the_hub))
    assert "model tiny is not installed." in output and "Download tiny from" in output
    assert "MB, under a minute at 50 Mbit/s)?" in output  # the size and the time it takes
    assert code == 0, output
    assert "pressed OK" in output
    assert len(tiny_on_the_hub.gets(MODEL)) == 1 and len(tiny_on_the_hub.gets(MMPROJ)) == 1
    assert (Path(os.environ["TRACER_HOME"]) / "models" / "tiny" / MODEL).is_file()


def test_no_leaves_the_command_that_gets_it(display: Display, tiny_on_the_hub: HubServer) -> None:
    code, output = at_a_terminal(["do", "press OK", "--yes", "--model", "tiny"], "n\n",
                                 hub_env(display, tiny_on_the_hub))
    assert code == 2, output
    assert "run `tracer models pull tiny`" in output
    assert tiny_on_the_hub.gets() == []
