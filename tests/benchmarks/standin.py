"""A full-size stand-in for Qwen3-VL 2B / 4B Instruct: the exact tensor shapes, vocabulary size
and hyper-parameters, random weights, quantised as users download it.

    python -m tests.benchmarks.standin DIR [--size 2b|4b] [--quant Q4_K_M] [--projector f16|q8_0]

Writes ``DIR/qwen3-vl-<size>-standin-<QUANT>.gguf`` (the language model) and
``DIR/mmproj-qwen3-vl-<size>-standin-<f16|q8_0>.gguf`` (vision tower + merger), then loads the
model with llama.cpp and checks its parameter count. Compute per token does not depend on the
weights' values, so these cost what the real files cost; they answer nonsense. Made only on
demand (never by the test suite) and never committed: the 2B pair takes ~2.3 GB of disk
(~3.4 GB more while the F16 text model is quantised) and a few minutes.

Shapes: the official Hugging Face configs of Qwen/Qwen3-VL-2B-Instruct and
Qwen/Qwen3-VL-4B-Instruct (``config.json``: ``text_config`` and ``vision_config``), as also
listed in transformers' ``models/qwen3_vl/configuration_qwen3_vl.py`` field names:

* 2B text: hidden_size 2048, intermediate_size 6144, num_hidden_layers 28, num_attention_heads 16,
  num_key_value_heads 8, head_dim 128, vocab_size 151936, rope_theta 5e6, mrope_section
  [24, 20, 20], tie_word_embeddings true (1.72 B parameters as llama.cpp counts them).
* 4B text: hidden_size 2560, intermediate_size 9728, num_hidden_layers 36, num_attention_heads 32,
  num_key_value_heads 8, head_dim 128, vocab_size 151936, rope_theta 5e6, tied embeddings.
* Vision (both): depth 24, hidden_size 1024, intermediate_size 4096, num_heads 16, patch_size 16,
  temporal_patch_size 2, spatial_merge_size 2, num_position_embeddings 2304, deepstack_visual_indexes
  [5, 11, 17], out_hidden_size = the text hidden size.

The tokenizer is not Qwen's (which cannot be downloaded here): a byte-level BPE with Qwen's
special tokens at their real ids (151643 ``<|endoftext|>`` ...), merges that make whole tokens
of the words in tracer's README and prompts, and filler tokens up to the vocabulary size. Its
text-to-token ratio is printed; the benchmark reports token counts next to the times.

Tensor names and GGUF keys follow llama.cpp's converter (``convert_hf_to_gguf.py``, classes
Qwen3VLTextModel and Qwen3VLVisionModel) as its loader reads them; ``v.position_embd.weight``
stays F32 (an F16 one aborts mtmd's warm-up). The Q8_0 projector quantises the 2-D matrices as
the official ``mmproj-*-Q8_0.gguf`` files do; norms, biases, the patch embedding and the position
table stay as they were.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

N_VOCAB = 151936
QWEN_SPECIALS = (  # ids 151643.. in Qwen3's tokenizer
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>",
    "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>",
    "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>", "<tool_response>", "</tool_response>", "<think>", "</think>",
)
FIRST_SPECIAL = 151643


@dataclass(frozen=True)
class Shape:
    name: str
    n_embd: int
    n_ff: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int = 128
    rope_theta: float = 5e6
    v_layer: int = 24
    v_embd: int = 1024
    v_ff: int = 4096
    v_head: int = 16
    patch: int = 16
    v_positions: int = 2304
    deepstack: tuple[int, ...] = (5, 11, 17)

    @property
    def text_params(self) -> int:
        """Parameters of the text model as llama.cpp counts them (tied output: not twice)."""
        d, hd = self.n_embd, self.head_dim
        block = (2 * d + 2 * hd + 2 * self.n_head * hd * d + 2 * self.n_head_kv * hd * d
                 + 3 * d * self.n_ff)
        return N_VOCAB * d + d + self.n_layer * block


SHAPES = {
    "2b": Shape("2b", 2048, 6144, 28, 16, 8),   # 1,720,574,976 text parameters
    "4b": Shape("4b", 2560, 9728, 36, 32, 8),
}


def _corpus() -> str:
    """English and JSON text like what tracer sends: the README and the profiles' prompts."""
    parts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    for path in sorted((ROOT / "tracer_cli" / "agent" / "profiles").glob("*.py")):
        parts.append(path.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _segment(word: str, ranks: dict[tuple[str, str], int]) -> list[str]:
    """Byte-level BPE of one pre-token with the merges so far (lowest rank first)."""
    parts = list(word)
    while len(parts) > 1:
        best = min(range(len(parts) - 1), key=lambda i: ranks.get((parts[i], parts[i + 1]), 1 << 30))
        if (parts[best], parts[best + 1]) not in ranks:
            break
        parts[best:best + 2] = [parts[best] + parts[best + 1]]
    return parts


def vocabulary(n_merges: int = 60000) -> tuple[list[str], list[int], list[str]]:
    """Token texts, token types and merges: bytes, whole-word tokens for the pre-tokens of the
    corpus (each word's merges appended after what BPE already makes of it, so that the
    tokenizer really produces the word as one token), filler, Qwen's specials at their ids,
    padding."""
    import gguf

    from tests.tinyvlm import _PRETOKENIZE, _byte_encoder, _token_text

    enc = _byte_encoder()
    tokens = [enc[b] for b in range(256)]
    known = set(tokens)
    ranks: dict[tuple[str, str], int] = {}
    words = Counter(_token_text(p) for p in _PRETOKENIZE.findall(_corpus()))
    for word, _count in words.most_common():
        parts = _segment(word, ranks)
        while len(parts) > 1 and len(ranks) < n_merges:  # join left to right
            pair = (parts[0], parts[1])
            ranks.setdefault(pair, len(ranks))
            parts[:2] = [parts[0] + parts[1]]
            if parts[0] not in known:
                known.add(parts[0])
                tokens.append(parts[0])
    merges = [f"{a} {b}" for (a, b), _rank in sorted(ranks.items(), key=lambda item: item[1])]
    for a, b in ranks:  # every merge's result must be a token
        if a + b not in known:
            known.add(a + b)
            tokens.append(a + b)
    types = [int(gguf.TokenType.NORMAL)] * len(tokens)
    filler = FIRST_SPECIAL - len(tokens)
    tokens += [f"[filler{i}]" for i in range(filler)]
    types += [int(gguf.TokenType.UNUSED)] * filler
    tokens += list(QWEN_SPECIALS)
    types += [int(gguf.TokenType.CONTROL)] * len(QWEN_SPECIALS)
    pad = N_VOCAB - len(tokens)
    tokens += [f"[PAD{i}]" for i in range(pad)]
    types += [int(gguf.TokenType.UNUSED)] * pad
    return tokens, types, merges


class Noise:
    """Random values for weights, cut from one pool (the values do not matter for speed)."""

    def __init__(self, seed: int = 7, size: int = 1 << 26) -> None:
        rng = np.random.default_rng(seed)
        self.pool = rng.standard_normal(size, dtype=np.float32).astype(np.float16)
        self.rng = rng

    def __call__(self, *shape: int, std: float = 0.02, f32: bool = False) -> np.ndarray:
        n = int(np.prod(shape))
        take = min(n, self.pool.size)
        start = int(self.rng.integers(0, self.pool.size - take + 1))
        flat = np.resize(self.pool[start:start + take], n)
        out = (flat * np.float16(std)).reshape(shape)
        return out.astype(np.float32) if f32 else out


def write_text_model(path: Path, shape: Shape, noise: Noise) -> None:
    import gguf

    from tests.tinyvlm import CHAT_TEMPLATE

    tokens, types, merges = vocabulary()
    writer = gguf.GGUFWriter(str(path), "qwen3vl")
    writer.add_name(f"Qwen3-VL {shape.name.upper()} stand-in (random weights)")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(262144)
    writer.add_embedding_length(shape.n_embd)
    writer.add_block_count(shape.n_layer)
    writer.add_feed_forward_length(shape.n_ff)
    writer.add_head_count(shape.n_head)
    writer.add_head_count_kv(shape.n_head_kv)
    writer.add_key_length(shape.head_dim)
    writer.add_value_length(shape.head_dim)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_rope_freq_base(shape.rope_theta)
    writer.add_rope_dimension_sections([24, 20, 20, 0])
    writer.add_num_deepstack_layers(len(shape.deepstack))
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_eos_token_id(FIRST_SPECIAL + 2)
    writer.add_bos_token_id(FIRST_SPECIAL)
    writer.add_pad_token_id(FIRST_SPECIAL)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    d, hd = shape.n_embd, shape.head_dim
    writer.add_tensor("token_embd.weight", noise(N_VOCAB, d))  # tied: also the output layer
    writer.add_tensor("output_norm.weight", np.ones(d, np.float32))
    for i in range(shape.n_layer):
        p = f"blk.{i}"
        writer.add_tensor(f"{p}.attn_norm.weight", np.ones(d, np.float32))
        writer.add_tensor(f"{p}.attn_q.weight", noise(shape.n_head * hd, d))
        writer.add_tensor(f"{p}.attn_k.weight", noise(shape.n_head_kv * hd, d))
        writer.add_tensor(f"{p}.attn_v.weight", noise(shape.n_head_kv * hd, d))
        writer.add_tensor(f"{p}.attn_output.weight", noise(d, shape.n_head * hd))
        writer.add_tensor(f"{p}.attn_q_norm.weight", np.ones(hd, np.float32))
        writer.add_tensor(f"{p}.attn_k_norm.weight", np.ones(hd, np.float32))
        writer.add_tensor(f"{p}.ffn_norm.weight", np.ones(d, np.float32))
        writer.add_tensor(f"{p}.ffn_gate.weight", noise(shape.n_ff, d))
        writer.add_tensor(f"{p}.ffn_up.weight", noise(shape.n_ff, d))
        writer.add_tensor(f"{p}.ffn_down.weight", noise(d, shape.n_ff))
    _finish(writer)


def write_projector(path: Path, shape: Shape, noise: Noise, q8: bool) -> None:
    import gguf
    from gguf.quants import quantize

    v, merged, out = shape.v_embd, shape.v_embd * 4, shape.n_embd
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_name(f"Qwen3-VL {shape.name.upper()} stand-in projector (random weights)")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0 if q8 else gguf.LlamaFileType.MOSTLY_F16)
    writer.add_clip_has_vision_encoder(True)
    writer.add_clip_projector_type("qwen3vl_merger")
    writer.add_vision_projection_dim(out)
    writer.add_vision_embedding_length(v)
    writer.add_vision_feed_forward_length(shape.v_ff)
    writer.add_vision_block_count(shape.v_layer)
    writer.add_vision_head_count(shape.v_head)
    writer.add_vision_attention_layernorm_eps(1e-6)
    writer.add_vision_image_size(768)
    writer.add_vision_patch_size(shape.patch)
    writer.add_vision_image_mean([0.5, 0.5, 0.5])
    writer.add_vision_image_std([0.5, 0.5, 0.5])
    writer.add_vision_spatial_merge_size(2)
    writer.add_vision_use_gelu(True)
    writer.add_vision_is_deepstack_layers([i in shape.deepstack for i in range(shape.v_layer)])

    def matrix(name: str, rows: int, cols: int) -> None:
        w = noise(rows, cols)
        if q8:
            writer.add_tensor(name, quantize(w.astype(np.float32), gguf.GGMLQuantizationType.Q8_0),
                              raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(name, w)

    def f32(name: str, size: int, value: float | None = None) -> None:
        data = np.full(size, value, np.float32) if value is not None else noise(size, f32=True)
        writer.add_tensor(name, data)

    for suffix in ("", ".1"):  # the conv3d patch embedding, as two temporal halves
        writer.add_tensor(f"v.patch_embd.weight{suffix}", noise(v, 3, shape.patch, shape.patch))
    f32("v.patch_embd.bias", v)
    writer.add_tensor("v.position_embd.weight", noise(shape.v_positions, v, f32=True))
    for i in range(shape.v_layer):
        p = f"v.blk.{i}"
        for norm in ("ln1", "ln2"):
            f32(f"{p}.{norm}.weight", v, 1.0)
            f32(f"{p}.{norm}.bias", v, 0.0)
        matrix(f"{p}.attn_qkv.weight", 3 * v, v)
        f32(f"{p}.attn_qkv.bias", 3 * v)
        matrix(f"{p}.attn_out.weight", v, v)
        f32(f"{p}.attn_out.bias", v)
        matrix(f"{p}.ffn_up.weight", shape.v_ff, v)
        f32(f"{p}.ffn_up.bias", shape.v_ff)
        matrix(f"{p}.ffn_down.weight", v, shape.v_ff)
        f32(f"{p}.ffn_down.bias", v)
    for layer in shape.deepstack:
        p = f"v.deepstack.{layer}"
        f32(f"{p}.norm.weight", merged, 1.0)
        f32(f"{p}.norm.bias", merged, 0.0)
        matrix(f"{p}.fc1.weight", merged, merged)
        f32(f"{p}.fc1.bias", merged)
        matrix(f"{p}.fc2.weight", out, merged)
        f32(f"{p}.fc2.bias", out)
    f32("v.post_ln.weight", v, 1.0)
    f32("v.post_ln.bias", v, 0.0)
    matrix("mm.0.weight", merged, merged)
    f32("mm.0.bias", merged)
    matrix("mm.2.weight", out, merged)
    f32("mm.2.bias", out)
    _finish(writer)


def _finish(writer: object) -> None:
    writer.write_header_to_file()  # type: ignore[attr-defined]
    writer.write_kv_data_to_file()  # type: ignore[attr-defined]
    writer.write_tensors_to_file(progress=True)  # type: ignore[attr-defined]
    writer.close()  # type: ignore[attr-defined]


QUANTS = {"Q4_K_M": 15, "Q8_0": 7, "F16": 1}  # llama_ftype values (llama.h)


def quantize_model(source: Path, target: Path, quant: str, threads: int) -> None:
    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = QUANTS[quant]
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(target).encode(), params)
    if status != 0:
        raise SystemExit(f"llama_model_quantize failed ({status})")


def check(model: Path, shape: Shape) -> int:
    """Load the model (weights not read into memory) and return llama.cpp's parameter count."""
    import llama_cpp

    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.use_mmap = True
    handle = llama_cpp.llama_model_load_from_file(str(model).encode(), params)
    if not handle:
        raise SystemExit(f"llama.cpp could not load {model}")
    try:
        n = llama_cpp.llama_model_n_params(handle)
        if llama_cpp.llama_model_n_embd(handle) != shape.n_embd:
            raise SystemExit("n_embd differs from the config")
        return int(n)
    finally:
        llama_cpp.llama_model_free(handle)


def paths(directory: Path, size: str, quant: str, projector: str) -> tuple[Path, Path]:
    return (directory / f"qwen3-vl-{size}-standin-{quant}.gguf",
            directory / f"mmproj-qwen3-vl-{size}-standin-{projector}.gguf")


def build(directory: Path, size: str = "2b", quant: str = "Q4_K_M", projector: str = "f16",
          threads: int = 2) -> tuple[Path, Path]:
    """Write the pair unless it exists; return (model, projector)."""
    shape = SHAPES[size]
    directory.mkdir(parents=True, exist_ok=True)
    model, mmproj = paths(directory, size, quant, projector)
    noise = Noise()
    if not mmproj.exists():
        start = time.perf_counter()
        part = mmproj.with_suffix(".part")
        write_projector(part, shape, noise, q8=projector == "q8_0")
        part.rename(mmproj)
        print(f"{mmproj.name}: {mmproj.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - start:.0f} s")
    if not model.exists():
        start = time.perf_counter()
        f16 = directory / f"qwen3-vl-{size}-standin-F16.gguf"
        if not f16.exists():
            part = f16.with_suffix(".part")
            write_text_model(part, shape, noise)
            part.rename(f16)
        print(f"{f16.name}: {f16.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - start:.0f} s")
        if quant != "F16":
            start = time.perf_counter()
            part = model.with_suffix(".part")
            quantize_model(f16, part, quant, threads)
            part.rename(model)
            f16.unlink()
            print(f"{model.name}: {model.stat().st_size / 2**30:.2f} GiB, quantised in "
                  f"{time.perf_counter() - start:.0f} s")
    return model, mmproj


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--size", choices=sorted(SHAPES), default="2b")
    parser.add_argument("--quant", choices=sorted(QUANTS), default="Q4_K_M")
    parser.add_argument("--projector", choices=("f16", "q8_0"), default="f16")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    shape = SHAPES[args.size]
    model, mmproj = build(args.directory, args.size, args.quant, args.projector, args.threads)
    n = check(model, shape)
    verdict = "as expected" if n == shape.text_params else f"expected {shape.text_params:,}"
    print(f"llama.cpp loads {model.name}: {n:,} parameters ({verdict})")
    tokens, _types, _merges = vocabulary()
    sample = re.sub(r"\s+", " ", _corpus()[:20000])
    print(f"vocabulary {len(tokens):,} tokens, {len(_merges):,} merges; "
          f"sample text: {len(sample):,} characters")
    return 0 if n == shape.text_params else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
