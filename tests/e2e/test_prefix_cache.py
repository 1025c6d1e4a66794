"""The prefix cache across runs with the real llama backend (the tiny GGUF pair of
tests/tinyvlm.py): the first run evaluates the instructions and keeps their KV cache in the
cache folder (private), the next run loads it instead (the run record says how many tokens),
and answers exactly as a run without the cache; a damaged file is ignored and written anew."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import Display, run_tracer
from tests.e2e.conftest import ClickLog, last_run, tracer_env
from tests.e2e.test_llama import CLICK_PLAN, CLICK_POINT, TASK, Pair, llama_args, prefix_tokens
from tests.tinyvlm import make_tiny_vlm

pytestmark = pytest.mark.display


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    return make_tiny_vlm(tmp_path_factory.mktemp("prefix") / "click", [json.dumps(CLICK_PLAN)],
                         arch="qwen3vl")


def plan_once(pair: Pair, env: dict[str, str]) -> tuple[dict, dict]:
    """``tracer plan --json``: the plan printed, and the run's first attempt as recorded."""
    result = run_tracer("plan", TASK, "--json", *llama_args(pair), env=env, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    [attempt] = last_run(env)["steps"][0]["attempts"]
    return json.loads(result.stdout), attempt


def test_the_next_run_loads_the_instructions_from_disk(display: Display, clicklog: ClickLog,
                                                        pair: Pair, tracer_home: Path) -> None:
    env = tracer_env(display)
    cold, first = plan_once(pair, env)
    assert "prefix_from_disk" not in first and first["reused_tokens"] == 0
    folder = tracer_home / "cache" / "prefix"
    [kept] = list(folder.glob("*.kv"))
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    # the real tracer do: the first prompt's instructions come from the file, the click lands
    result = run_tracer("do", TASK, "--yes", "--max-steps", "1", *llama_args(pair), env=env,
                        timeout=90)
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert [(p["x"], p["y"]) for p in clicklog.wait_presses(1)] == [CLICK_POINT]
    attempt = last_run(env)["steps"][0]["attempts"][0]
    # the system message: the prompt's start without its task line
    assert prefix_tokens(pair[0], TASK) > attempt["prefix_from_disk"] > 500
    assert attempt["reused_tokens"] >= attempt["prefix_from_disk"]
    assert json.loads(attempt["answer"]) == cold  # as the first run, which evaluated it all

    # a damaged file is not loaded, nothing breaks, and it is written anew
    data = bytearray(kept.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(b ^ 0xFF for b in data[middle:middle + 64])
    kept.write_bytes(bytes(data))
    damaged, attempt = plan_once(pair, env)
    assert damaged == cold and "prefix_from_disk" not in attempt and attempt["reused_tokens"] == 0
    assert kept.read_bytes() != bytes(data)  # the good state again
