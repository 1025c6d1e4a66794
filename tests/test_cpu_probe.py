"""The CPU probe: whether llama.cpp's extra CPU buffer types (AMX, repacked weights) work here,
found by really running a tiny quantised model in a subprocess, and remembered."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tracer_cli.agent.backends import cpu_probe


def probe_exit(tmp_path: Path) -> int:
    """What the probe subprocess does on this machine, run by the test itself."""
    model = cpu_probe.write_probe_model(tmp_path / "probe.gguf")
    done = subprocess.run([sys.executable, "-m", "tracer_cli.agent.backends.cpu_probe", str(model)],
                          capture_output=True, timeout=120)
    return done.returncode


def test_the_probe_model_is_small_and_quantised(tmp_path: Path) -> None:
    import gguf

    model = cpu_probe.write_probe_model(tmp_path / "probe.gguf")
    assert model.stat().st_size < 1_000_000
    reader = gguf.GGUFReader(str(model))
    kinds = {t.name: t.tensor_type for t in reader.tensors}
    assert kinds["blk.0.ffn_up.weight"] == gguf.GGMLQuantizationType.Q8_0
    assert kinds["blk.0.attn_q.weight"] == gguf.GGMLQuantizationType.Q8_0


def test_the_verdict_is_what_the_subprocess_really_does(tracer_home: Path, tmp_path: Path) -> None:
    exit_code = probe_exit(tmp_path)
    result = cpu_probe.verdict(refresh=True)

    assert result.extra_buffers == (exit_code == 0)
    if exit_code < 0:  # died by a signal (SIGILL where AMX is reported but not usable)
        assert signal.Signals(-exit_code).name in result.detail
        assert "without them" in result.describe()
    assert (tracer_home / "cache" / "cpu-probe.json").is_file()


def test_the_verdict_is_remembered_per_build_and_cpu(tracer_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = cpu_probe.verdict()

    def no_second_probe() -> cpu_probe.Verdict:
        raise AssertionError("probed again")

    monkeypatch.setattr(cpu_probe, "run_probe", no_second_probe)
    assert cpu_probe.verdict() == first
    monkeypatch.setattr(cpu_probe, "_cpu_signature", lambda: "another cpu")
    with pytest.raises(AssertionError, match="probed again"):
        cpu_probe.verdict()


def test_an_environment_variable_overrides_the_probe(tracer_home: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cpu_probe, "run_probe", lambda: pytest.fail("probed"))
    monkeypatch.setenv("TRACER_EXTRA_BUFFERS", "0")
    assert cpu_probe.verdict() == cpu_probe.Verdict(False, "set by TRACER_EXTRA_BUFFERS")
    monkeypatch.setenv("TRACER_EXTRA_BUFFERS", "1")
    assert cpu_probe.verdict().extra_buffers


def test_runs_starting_at_once_probe_without_tripping_over_each_other(tracer_home: Path,
                                                                      tmp_path: Path) -> None:
    """Six `tracer do` processes starting together on a fresh cache (a batch, `--parallel 6`)
    each write the probe model and the record: each gets a verdict, the cache holds one whole
    probe model and a readable record, and no temporary file is left behind."""
    go = tmp_path / "go"
    script = ("import json, os, sys, time\n"
              "import gguf, gguf.quants, numpy, llama_cpp  # loaded before the start, as in a run\n"
              "from tracer_cli.agent.backends import cpu_probe\n"
              f"while not os.path.exists({str(go)!r}): time.sleep(0.001)\n"
              "v = cpu_probe.verdict()\n"
              "print(json.dumps([v.extra_buffers, v.detail]))\n")
    procs = [subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(6)]
    go.touch()
    outcomes = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, [err for _, err in outcomes]
    exit_code = probe_exit(tmp_path)
    assert {json.loads(out)[0] for out, _ in outcomes} == {exit_code == 0}
    cache = tracer_home / "cache"
    assert sorted(p.name for p in cache.iterdir()) == ["cpu-probe.gguf", "cpu-probe.json"]
    assert json.loads((cache / "cpu-probe.json").read_text())
    assert cpu_probe.verdict().extra_buffers == (exit_code == 0)  # as remembered
