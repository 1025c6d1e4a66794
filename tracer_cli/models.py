"""Models on this machine: the catalogue (files under models/), registered local files, and
downloads from the Hugging Face Hub.

A model is a pair of GGUF files, the language model and its vision projector (mmproj), plus how
to use it: the profile that prompts it and the screenshot budget that suits it.

    catalogue   models/<name>.toml in the package (repository, exact file names, sizes, sha256)
    downloads   <data dir>/models/<name>/<file>
    registered  <data dir>/models/registered/<name>.toml (paths to files the user already has)
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from tracer_cli import paths
from tracer_cli.errors import ConfigError, TracerError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The model a run uses when none is named, chosen by where llama.cpp can run it (README: Which
# model): on a CPU the 2B (a planning call 44 s on two cores at the CPU defaults, against 105 s
# for the 4B); where this build of llama.cpp can offload to a GPU, the 4B.
CPU_DEFAULT = "qwen3-vl-2b-instruct"
GPU_DEFAULT = "qwen3-vl-4b-instruct"
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class ModelError(TracerError):
    """A missing, corrupt or unknown model (a configuration problem: exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class ModelFile:
    file: str
    size: int | None = None
    sha256: str | None = None
    path: Path | None = None  # set for registered files and once downloaded


@dataclass(frozen=True)
class ModelSpec:
    name: str
    model: ModelFile
    mmproj: ModelFile
    profile: str = "tracer1"
    max_pixels: int = 0  # the screenshot budget (0: the profile's default)
    cpu_image_tokens: int = 0  # the screenshot budget in image tokens when it runs on a CPU
    max_tokens: int = 0  # the answer budget (0: the profile's)
    thinking: bool = False  # the model reasons in <think> blocks its template opens
    context: int = 8192
    description: str = ""
    repo: str = ""
    revision: str = "main"
    source: str = "catalogue"  # catalogue | registered | path

    def local_dir(self) -> Path:
        return models_dir() / self.name

    def local_path(self, which: str) -> Path:
        f: ModelFile = getattr(self, which)
        return f.path if f.path else self.local_dir() / f.file

    def installed(self) -> bool:
        return self.local_path("model").is_file() and self.local_path("mmproj").is_file()

    def size(self) -> int | None:
        if self.model.size is None or self.mmproj.size is None:
            return None
        return self.model.size + self.mmproj.size


def models_dir() -> Path:
    return paths.data_dir() / "models"


def _registered_dir() -> Path:
    return models_dir() / "registered"


def _file(data: Any, where: str, key: str) -> ModelFile:
    if not isinstance(data, dict) or not isinstance(data.get("file"), str):
        raise ModelError(f"{where}: [{key}] needs a `file` name")
    path = Path(data["path"]) if data.get("path") else None
    return ModelFile(data["file"], data.get("size"), data.get("sha256"), path)


def _spec(data: dict[str, Any], where: str, source: str) -> ModelSpec:
    try:
        return ModelSpec(
            name=data["name"], model=_file(data.get("model"), where, "model"),
            mmproj=_file(data.get("mmproj"), where, "mmproj"),
            profile=data.get("profile", "tracer1"), max_pixels=int(data.get("max_pixels", 0)),
            cpu_image_tokens=int(data.get("cpu_image_tokens", 0)),
            max_tokens=int(data.get("max_tokens", 0)), thinking=bool(data.get("thinking", False)),
            context=int(data.get("context", 8192)),
            description=data.get("description", ""), repo=data.get("repo", ""),
            revision=data.get("revision", "main"), source=source)
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{where}: not a valid model file ({exc})") from None


def _read(path: Path, source: str) -> ModelSpec:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from None
    return _spec(data, str(path), source)


def catalogue_dir() -> Path:
    """models/ of a checkout, or the copy installed as the package tracer_cli.catalogue."""
    checkout = Path(__file__).resolve().parent.parent / "models"
    if checkout.is_dir():
        return checkout
    from importlib.resources import files

    return Path(str(files("tracer_cli.catalogue")))


def catalogue() -> dict[str, ModelSpec]:
    """The shipped catalogue, plus the entries in the directories listed in $TRACER_CATALOGUE
    (separated like PATH): a team's own models, or a mirror's."""
    dirs = [catalogue_dir()]
    dirs += [Path(d).expanduser() for d in os.environ.get("TRACER_CATALOGUE", "").split(os.pathsep) if d]
    specs = (_read(p, "catalogue") for d in dirs for p in sorted(d.glob("*.toml")))
    return {s.name: s for s in specs}


def registered() -> dict[str, ModelSpec]:
    specs = (_read(p, "registered") for p in sorted(_registered_dir().glob("*.toml")))
    return {s.name: s for s in specs}


def known() -> dict[str, ModelSpec]:
    """Every model tracer knows by name; a registered name shadows a catalogue one."""
    return {**catalogue(), **registered()}


@functools.cache
def default_model() -> str:
    """The catalogue model for a run that names none: GPU_DEFAULT where the installed llama.cpp
    can offload to a GPU, else CPU_DEFAULT (also when llama-cpp-python does not import: the
    error that matters comes when the model is loaded)."""
    try:
        import llama_cpp
    except Exception:  # ImportError, or its shared library does not load
        return CPU_DEFAULT
    return GPU_DEFAULT if llama_cpp.llama_supports_gpu_offload() else CPU_DEFAULT


def resolve(name_or_path: str, mmproj: str = "") -> ModelSpec:
    """A catalogue name, a registered name, or a path to a .gguf (with ``mmproj``)."""
    value = name_or_path or default_model()
    if value.endswith(".gguf") or "/" in value:
        model_path = Path(value).expanduser()
        if not mmproj:
            raise ModelError(f"{value} is a file: its vision projector is needed too",
                             "pass --mmproj PATH/mmproj-....gguf")
        mm_path = Path(mmproj).expanduser()
        return ModelSpec(model_path.stem, ModelFile(model_path.name, path=model_path.resolve()),
                         ModelFile(mm_path.name, path=mm_path.resolve()), source="path")
    specs = known()
    if value not in specs:
        names = ", ".join(sorted(specs)) or "none"
        raise ModelError(f"unknown model {value!r}", f"known models: {names}; see `tracer models list`")
    spec = specs[value]
    if mmproj:
        mm_path = Path(mmproj).expanduser()
        spec = replace(spec, mmproj=ModelFile(mm_path.name, path=mm_path.resolve()))
    return spec


def require_installed(spec: ModelSpec) -> tuple[Path, Path]:
    """The two local paths, or an error that names the command that gets them."""
    for which in ("model", "mmproj"):
        path = spec.local_path(which)
        if not path.is_file():
            if spec.source == "catalogue":
                raise ModelError(f"model {spec.name} is not installed ({path.name} missing)",
                                 f"run `tracer models pull {spec.name}`")
            raise ModelError(f"{which} file {path} does not exist",
                             "fix the path, or re-register with `tracer models add`")
    return spec.local_path("model"), spec.local_path("mmproj")


def add(name: str, model: Path, mmproj: Path, profile: str, max_pixels: int = 0,
        context: int = 0, max_tokens: int = 0) -> ModelSpec:
    """Register files the user already has under a name."""
    if not NAME.match(name):
        raise ConfigError(f"model name {name!r} is not allowed",
                          "use lower-case letters, digits, '.', '-' and '_'")
    for label, path in (("model", model), ("mmproj", mmproj)):
        if not path.is_file():
            raise ConfigError(f"{label} file {path} does not exist")
        check_gguf(path)
    base = catalogue().get(name)
    defaults = ModelSpec(name, ModelFile(""), ModelFile(""), profile=profile)
    spec = ModelSpec(
        name, ModelFile(model.name, model.stat().st_size, path=model.resolve()),
        ModelFile(mmproj.name, mmproj.stat().st_size, path=mmproj.resolve()), profile=profile,
        max_pixels=max_pixels or (base or defaults).max_pixels,
        max_tokens=max_tokens or (base or defaults).max_tokens,
        thinking=(base or defaults).thinking,
        context=context or (base or defaults).context, source="registered")
    _registered_dir().mkdir(parents=True, exist_ok=True)
    (_registered_dir() / f"{name}.toml").write_text(_to_toml(spec), encoding="utf-8")
    return spec


def _to_toml(spec: ModelSpec) -> str:
    import tomli_w

    data: dict[str, Any] = {"name": spec.name, "profile": spec.profile,
                            "max_pixels": spec.max_pixels, "max_tokens": spec.max_tokens,
                            "thinking": spec.thinking, "context": spec.context}
    for key in ("model", "mmproj"):
        f: ModelFile = getattr(spec, key)
        data[key] = {"file": f.file, "path": str(f.path)}
        if f.size is not None:
            data[key]["size"] = f.size
    return tomli_w.dumps(data)


def remove(name: str) -> list[Path]:
    """Forget a registered model, or delete a downloaded one. Returns what was removed."""
    removed = []
    reg = _registered_dir() / f"{name}.toml"
    if reg.exists():
        reg.unlink()
        removed.append(reg)
    spec = catalogue().get(name)
    if spec and spec.local_dir().exists():
        shutil.rmtree(spec.local_dir())
        removed.append(spec.local_dir())
    if not removed:
        raise ConfigError(f"model {name!r} is neither registered nor downloaded",
                          "see `tracer models list`")
    return removed


def check_gguf(path: Path) -> None:
    """A cheap sanity check before handing a file to llama.cpp: the GGUF magic bytes."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc}") from None
    if magic != b"GGUF":
        raise ModelError(f"{path} is not a GGUF file (corrupt or incomplete download?)",
                         "download it again, e.g. `tracer models pull NAME --force`")


def sha256_of(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()
