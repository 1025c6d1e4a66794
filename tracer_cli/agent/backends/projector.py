"""A vision projector for the CPU: its matrices in Q8_0, made once from an F16 projector.

On a CPU the vision encoder is a third of a planning call, and it runs on every screenshot. Its
weight matrices in Q8_0 rather than F16 make it about a tenth faster and the projector half the
size in memory (README: What a step costs on a CPU); llama.cpp's converter writes such files
(``--outtype q8_0``), and ggml-org's GGUF repositories ship them. The catalogue's downloads
keep the F16 projector whose checksum they verify; tracer makes the Q8_0 copy from that file
on this machine, once, in its cache folder, and uses it where the model runs on the CPU.

What is quantised is what the Q8_0 files quantise: every two-dimensional F16 weight matrix,
except the patch embedding (a convolution's kernel) and the position table; norms and biases
stay as they are. The copy is named after what it was made from (path, size, modification
time), so a replaced projector gets a new copy; the old one is removed then. A copy of the
2B's projector takes ~5 s to make on two cores and 0.44 GB of disk."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tracer_cli.paths import cache_dir
from tracer_cli.private import make_dir

F16_FILE = 1  # general.file_type: llama_ftype MOSTLY_F16
Q8_0_FILE = 7  # MOSTLY_Q8_0
BLOCK = 32  # values in a Q8_0 block: a row's length must be a multiple
KEEP = ("v.patch_embd.", "v.position_embd.")  # stay as they are, as in llama.cpp's Q8_0 files
STALE_PART = 3600.0  # seconds: a part file this old was left by a run that was killed


def folder() -> Path:
    return cache_dir() / "projectors"


def is_f16_projector(path: Path) -> bool:
    """Whether ``path`` is a vision projector in F16 (the kind a Q8_0 copy is made of)."""
    from gguf import GGUFReader

    try:
        fields = GGUFReader(str(path)).fields
    except (OSError, ValueError):
        return False
    kind, arch = fields.get("general.file_type"), fields.get("general.architecture")
    return (kind is not None and kind.contents() == F16_FILE
            and arch is not None and arch.contents() == "clip")


def copy_path(source: Path) -> Path:
    """Where the Q8_0 copy of ``source`` is (or goes): named after the file's place, and its
    size and modification time (a new file there gets a new copy)."""
    where = source.resolve()
    stat = where.stat()
    version = f"{stat.st_size}\0{stat.st_mtime_ns}".encode()
    return folder() / (f"{_place(where)}.q8_0-{hashlib.sha256(version).hexdigest()[:12]}.gguf")


def _place(where: Path) -> str:
    """The copies of one file start with this: its name and a hash of its folder (projectors
    of different models often share a name)."""
    return f"{where.stem}.{hashlib.sha256(str(where.parent).encode()).hexdigest()[:8]}"


def remove_copies(source: Path) -> list[Path]:
    """Delete the copies made of ``source`` (its model is being deleted); returns them."""
    removed = []
    for copy in folder().glob(f"{_place(source.resolve())}.q8_0-*.gguf"):
        with contextlib.suppress(FileNotFoundError):
            copy.unlink()
            removed.append(copy)
    return removed


def quantised(name: str, shape: tuple[int, ...], tensor_type: int) -> bool:
    """Whether the tensor ``name`` goes into Q8_0 (``shape`` in GGUF's order: row length
    first)."""
    from gguf import GGMLQuantizationType

    return (tensor_type == GGMLQuantizationType.F16 and len(shape) == 2
            and name.endswith(".weight") and not name.startswith(KEEP)
            and shape[0] % BLOCK == 0)


def cpu_copy(source: Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """The Q8_0 copy of the F16 projector ``source``, made first if there is none
    (``progress(done, total)`` hears of the tensors written). Two runs may make it at once:
    each writes a file of its own and renames it into place. OSError when it cannot be written
    (a full disk: the caller goes on with ``source``), ValueError when ``source`` is not a
    whole GGUF file."""
    target = copy_path(source)
    if target.is_file():
        return target
    make_dir(target.parent)
    _drop_stale_parts(target.parent)
    fd, part = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=".part")
    os.close(fd)
    try:
        _write_copy(source, Path(part), progress)
        os.replace(part, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(part)
        raise
    for old in target.parent.glob(f"{_place(source.resolve())}.q8_0-*.gguf"):  # an earlier file
        if old != target:
            with contextlib.suppress(OSError):
                old.unlink()
    return target


def _drop_stale_parts(where: Path) -> None:
    """Part files a killed run left (a copy takes seconds to write: an hour-old part is no
    other run's)."""
    for part in where.glob(".*.part"):
        with contextlib.suppress(OSError):
            if time.time() - part.stat().st_mtime > STALE_PART:
                part.unlink()


def _write_copy(source: Path, target: Path, progress: Callable[[int, int], None] | None) -> None:
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import quant_shape_to_byte_shape, quantize

    reader = GGUFReader(str(source))
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(str(target), arch)
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue  # the header's own fields, and the one the writer was given
        value, kind = field.contents(), GGUFValueType(field.types[0])
        if name == "general.file_type":
            value = Q8_0_FILE
        sub = GGUFValueType(field.types[-1]) if kind == GGUFValueType.ARRAY else None
        writer.add_key_value(name, value, kind, sub)
    plan = []  # each tensor, and whether it goes into Q8_0 (quantised as it is written)
    for tensor in reader.tensors:
        q8 = quantised(tensor.name, tuple(int(n) for n in tensor.shape), tensor.tensor_type)
        if q8:
            shape = quant_shape_to_byte_shape(tensor.data.shape, GGMLQuantizationType.Q8_0)
            writer.add_tensor_info(tensor.name, shape, np.dtype(np.uint8), int(np.prod(shape)),
                                   GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype,
                                   tensor.data.nbytes, tensor.tensor_type)
        plan.append((tensor, q8))
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for done, (tensor, q8) in enumerate(plan, 1):
            data = tensor.data
            if q8:
                data = quantize(np.asarray(data, dtype=np.float32), GGMLQuantizationType.Q8_0)
            writer.write_tensor_data(data)
            if progress is not None:
                progress(done, len(plan))
    finally:
        writer.close()
