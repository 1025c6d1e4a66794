"""Whether llama.cpp's extra CPU buffer types work on this machine.

At load, llama.cpp moves quantised weights into "extra" buffer types: AMX tiles on CPUs that
report AMX, repacked blocks for its AVX2 / AVX-512 / NEON kernels. On some machines that report
AMX (virtual machines among them) the first evaluation of a quantised model dies with SIGILL:
the whole process, no exception to catch. Whether it does is a fact of the CPU, the OS and the
llama.cpp build, so tracer finds it out once, in a subprocess, with a tiny quantised model it
writes itself, and keeps the answer (per llama.cpp build and CPU) in its cache folder. Where the
probe dies, models load with ``use_extra_bufts`` off: slower prompt processing, but a run.

``python -m tracer_cli.agent.backends.cpu_probe MODEL`` is the subprocess: it loads MODEL with
llama.cpp's default model parameters and evaluates a few tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tracer_cli import private
from tracer_cli.errors import StorageError
from tracer_cli.paths import cache_dir

PROBE_TIMEOUT = 120.0  # seconds; loading the probe model takes well under one


@dataclass(frozen=True)
class Verdict:
    extra_buffers: bool  # load with llama.cpp's extra buffer types (its default)
    detail: str  # what the probe saw, for doctor and --debug

    def describe(self) -> str:
        if self.extra_buffers:
            return f"llama.cpp's extra CPU buffer types (AMX / repacked weights) work ({self.detail})"
        return (f"llama.cpp's extra CPU buffer types (AMX / repacked weights) {self.detail} on this "
                "CPU: models load without them (slower prompt processing)")


def _cpu_signature() -> str:
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(("flags", "Features", "model name")):
                flags += line
    except OSError:
        pass
    return flags or platform.processor() or platform.machine()


def _build_signature() -> str:
    """The llama.cpp build tracer runs: llama-cpp-python's version and its shared library."""
    import llama_cpp

    parts = [getattr(llama_cpp, "__version__", "?")]
    lib = Path(llama_cpp.__file__).parent / "lib"
    for path in sorted(lib.glob("*.so*")) + sorted(lib.glob("*.dylib")) + sorted(lib.glob("*.dll")):
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}")
    return "|".join(parts)


def _key() -> str:
    return hashlib.sha256(f"{_build_signature()}\n{_cpu_signature()}".encode()).hexdigest()[:16]


def _record() -> Path:
    return cache_dir() / "cpu-probe.json"


def write_probe_model(path: Path) -> Path:
    """A one-block Llama with Q8_0 weights (every extra buffer type takes Q8_0), under 1 MB."""
    import gguf
    import numpy as np
    from gguf.quants import quantize

    n_embd, n_ff, n_head = 256, 512, 4
    rng = np.random.default_rng(1)
    tokens = [chr(0x100 + b) if b < 33 or b > 126 else chr(b) for b in range(256)] + ["<|end|>"]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tracer cpu probe")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    writer.add_context_length(256)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(1)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head)
    writer.add_rope_dimension_count(n_embd // n_head)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([int(gguf.TokenType.NORMAL)] * 256 + [int(gguf.TokenType.CONTROL)])
    writer.add_token_merges(["a b"])
    writer.add_eos_token_id(256)
    writer.add_bos_token_id(256)

    def q8(name: str, rows: int, cols: int) -> None:
        data = rng.normal(0, 0.02, (rows, cols)).astype(np.float32)
        writer.add_tensor(name, quantize(data, gguf.GGMLQuantizationType.Q8_0),
                          raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    q8("token_embd.weight", len(tokens), n_embd)
    q8("output.weight", len(tokens), n_embd)
    writer.add_tensor("output_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(n_embd, np.float32))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(n_embd, np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        q8(f"blk.0.{name}.weight", n_embd, n_embd)
    q8("blk.0.ffn_gate.weight", n_ff, n_embd)
    q8("blk.0.ffn_up.weight", n_ff, n_embd)
    q8("blk.0.ffn_down.weight", n_embd, n_ff)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def run_probe() -> Verdict:
    """Load the probe model with default parameters in a subprocess and evaluate a few tokens."""
    folder = cache_dir()
    model = folder / "cpu-probe.gguf"
    if not model.exists():  # written whole under a name of its own: two runs may start at once
        part: str | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, part = tempfile.mkstemp(dir=folder, prefix=".cpu-probe.", suffix=".part")
            os.close(fd)
            os.replace(write_probe_model(Path(part)), model)
        except OSError as exc:
            if part is not None:
                with contextlib.suppress(OSError):
                    os.unlink(part)
            return Verdict(False, f"not probed: cannot write the probe model: {exc.strerror or exc}")
    try:
        done = subprocess.run([sys.executable, "-m", "tracer_cli.agent.backends.cpu_probe", str(model)],
                              capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return Verdict(False, f"did not finish a probe in {PROBE_TIMEOUT:.0f} s")
    if done.returncode == 0:
        return Verdict(True, "probed")
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return Verdict(False, f"crash with {name}")
    last = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return Verdict(False, f"fail (probe exit {done.returncode}: {last[:200]})")


def verdict(refresh: bool = False) -> Verdict:
    """The remembered verdict for this build and CPU, probing first if there is none.
    ``TRACER_EXTRA_BUFFERS=0/1`` overrides it (for a machine where the probe cannot run)."""
    forced = os.environ.get("TRACER_EXTRA_BUFFERS", "").strip()
    if forced in ("0", "1"):
        return Verdict(forced == "1", "set by TRACER_EXTRA_BUFFERS")
    key, record = _key(), _record()
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if not refresh and isinstance(known.get(key), dict):
        entry = known[key]
        return Verdict(bool(entry.get("extra_buffers")), str(entry.get("detail", "")))
    result = run_probe()
    known[key] = {"extra_buffers": result.extra_buffers, "detail": result.detail}
    if result.detail.startswith("not probed"):
        return result  # nothing learnt: probed again next time
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        private.write_text(record, json.dumps(known, indent=1))
    except (OSError, StorageError):
        pass  # not remembered: probed again next time
    return result


def main(argv: list[str]) -> int:
    from llama_cpp import Llama

    llm = Llama(model_path=argv[0], n_ctx=64, n_threads=2, n_gpu_layers=0, verbose=False)
    llm.eval([1, 2, 3, 4, 5, 6, 7, 8])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
