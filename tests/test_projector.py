"""The vision projector's Q8_0 copy for the CPU (agent/backends/projector.py), made of the tests'
tiny F16 projectors (tests/tinyvlm.py, written with gguf-py as llama.cpp's converter writes
them; Qwen2-VL and Qwen3-VL layouts) and read back with gguf-py's own reader and dequantiser.
That llama.cpp loads and runs the copy is tests/e2e/test_llama.py's part."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.tinyvlm import make_tiny_vlm
from tracer_cli.agent.backends import projector


def fields(path: Path) -> dict[str, object]:
    from gguf import GGUFReader

    return {name: f.contents() for name, f in GGUFReader(str(path)).fields.items()
            if not name.startswith("GGUF.")}


@pytest.mark.parametrize("arch", ["qwen2vl", "qwen3vl"])
def test_the_copy_has_its_matrices_in_q8_0_and_all_else_as_it_was(tmp_path: Path,
                                                                  arch: str) -> None:
    from gguf import GGMLQuantizationType, GGUFReader
    from gguf.quants import dequantize

    _, source = make_tiny_vlm(tmp_path / "pair", arch=arch)
    assert projector.is_f16_projector(source)
    copy = projector.cpu_copy(source)

    assert copy.parent == projector.folder() and copy.is_file()
    assert not projector.is_f16_projector(copy)  # a copy is never copied again
    before, after = fields(source), fields(copy)
    assert after.pop("general.file_type") == projector.Q8_0_FILE
    assert before.pop("general.file_type") == projector.F16_FILE
    assert after == before  # every other key as it was, values and all

    old, new = GGUFReader(str(source)).tensors, GGUFReader(str(copy)).tensors
    assert [t.name for t in new] == [t.name for t in old]
    kinds = {t.name: t.tensor_type for t in new}
    quantised = [t.name for t in old if kinds[t.name] == GGMLQuantizationType.Q8_0]
    # the ViT blocks' and the merger's matrices; never the patch embedding or position table
    assert any(".attn_" in n for n in quantised) and "mm.0.weight" in quantised
    assert not [n for n in quantised if n.startswith(projector.KEEP)]
    for was, now in zip(old, new, strict=True):
        assert list(now.shape) == list(was.shape)
        original = np.asarray(was.data, dtype=np.float32)
        if now.name not in quantised:
            assert now.tensor_type == was.tensor_type
            assert np.array_equal(np.asarray(now.data), np.asarray(was.data))
            continue
        assert was.tensor_type == GGMLQuantizationType.F16 and len(was.shape) == 2
        back = dequantize(np.asarray(now.data), GGMLQuantizationType.Q8_0).reshape(original.shape)
        blocks = np.abs(original).reshape(-1, projector.BLOCK).max(axis=1, keepdims=True)
        error = np.abs(back - original).reshape(-1, projector.BLOCK)
        # half a step, and a little more: the step itself is stored in F16
        assert (error <= blocks / 127 * 0.6 + 1e-7).all(), now.name
    assert copy.stat().st_size < source.stat().st_size


def test_a_projector_made_again_gets_a_new_copy_and_the_old_one_goes(tmp_path: Path) -> None:
    _, source = make_tiny_vlm(tmp_path / "pair", arch="qwen3vl")
    first = projector.cpu_copy(source)
    assert projector.cpu_copy(source) == first  # made once
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    second = projector.cpu_copy(source)
    assert second != first and second.is_file() and not first.exists()
    # another model's projector of the same name keeps its own copy
    _, other = make_tiny_vlm(tmp_path / "other", arch="qwen2vl")
    assert other.name == source.name
    third = projector.cpu_copy(other)
    assert third != second and third.is_file() and second.is_file()
    assert sorted(p.name for p in projector.folder().iterdir()) == sorted([second.name, third.name])


def test_two_runs_making_the_copy_at_once_both_get_it_whole(tmp_path: Path) -> None:
    _, source = make_tiny_vlm(tmp_path / "pair", arch="qwen3vl")
    script = ("import sys; from pathlib import Path; from tracer_cli.agent.backends import "
              "projector; print(projector.cpu_copy(Path(sys.argv[1])))")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(source)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    made = {Path(out.strip()) for out, _ in outs}
    assert made == {projector.copy_path(source)}
    assert [p.name for p in projector.folder().iterdir()] == [projector.copy_path(source).name]
    assert fields(projector.copy_path(source))["general.file_type"] == projector.Q8_0_FILE


def test_only_an_f16_projector_is_copied(tmp_path: Path) -> None:
    model, source = make_tiny_vlm(tmp_path / "pair", arch="qwen3vl")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + os.urandom(2000))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(source.read_bytes()[:5000])
    assert projector.is_f16_projector(source)
    assert not projector.is_f16_projector(model)  # a language model in F16
    assert not projector.is_f16_projector(projector.cpu_copy(source))
    for broken in (garbage, cut, tmp_path / "missing.gguf"):
        assert not projector.is_f16_projector(broken)


def test_a_copy_that_cannot_be_written_leaves_nothing_behind(tmp_path: Path) -> None:
    _, source = make_tiny_vlm(tmp_path / "pair", arch="qwen3vl")
    projector.folder().parent.mkdir(parents=True)
    projector.folder().write_text("a file where the folder goes")
    with pytest.raises(OSError):
        projector.cpu_copy(source)
    projector.folder().unlink()
    projector.folder().mkdir()

    def interrupted(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        projector.cpu_copy(source, interrupted)
    assert list(projector.folder().iterdir()) == []  # no part file, no half copy

    # a run killed mid-write leaves its part: an old one goes, a fresh one (another run's) stays
    old, fresh = projector.folder() / ".killed.1.part", projector.folder() / ".writing.2.part"
    for part in (old, fresh):
        part.write_bytes(b"half a copy")
    os.utime(old, (0, 0))
    made = projector.cpu_copy(source)
    assert sorted(projector.folder().iterdir()) == sorted([made, fresh])
