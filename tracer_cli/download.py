"""Fetching catalogue models from the Hugging Face Hub (or a mirror: HF_ENDPOINT / --endpoint).

huggingface_hub does the transfer: progress bars, resuming an interrupted download from where
it stopped. tracer adds a disk-space check first and a sha256 check last; a file whose checksum
does not match is deleted, never used.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from tracer_cli.models import ModelError, ModelFile, ModelSpec, sha256_of

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MARGIN = 64 * 1024 * 1024  # keep this much disk free beyond the download itself


def _hub_errors() -> tuple[type[Exception], ...]:
    import huggingface_hub.errors as e

    return (e.HfHubHTTPError, e.LocalEntryNotFoundError, e.OfflineModeIsEnabled)


def _expected(spec: ModelSpec, f: ModelFile, endpoint: str | None) -> ModelFile:
    """Fill in size and sha256 from the Hub's metadata where the catalogue has none."""
    import huggingface_hub as hub

    url = hub.hf_hub_url(spec.repo, f.file, revision=spec.revision, endpoint=endpoint)
    try:
        meta = hub.get_hf_file_metadata(url, endpoint=endpoint)
    except _hub_errors() as exc:
        raise ModelError(f"cannot find {f.file} in {spec.repo}: {str(exc).splitlines()[0]}",
                         "check your connection, or set HF_ENDPOINT to a mirror") from None
    except OSError as exc:
        raise ModelError(f"cannot reach the model hub for {spec.repo}: {exc}",
                         "check your connection, or set HF_ENDPOINT to a mirror") from None
    etag = (meta.etag or "").strip('"').lower()
    sha = f.sha256 or (etag if SHA256.match(etag) else None)
    return ModelFile(f.file, f.size or meta.size, sha)


def _check_space(directory: Path, files: list[ModelFile]) -> None:
    needed = 0
    for f in files:
        target = directory / f.file
        have = target.stat().st_size if target.exists() else 0
        needed += max(0, (f.size or 0) - have)
    free = shutil.disk_usage(directory).free
    if needed + MARGIN > free:
        raise ModelError(
            f"not enough disk space in {directory}: need {needed / 1e9:.2f} GB, "
            f"{free / 1e9:.2f} GB free", "free some space, or set TRACER_HOME elsewhere")


def pull(spec: ModelSpec, endpoint: str | None = None, force: bool = False,
         on_verify: Callable[[str, int], Callable[[int], None]] | None = None) -> list[Path]:
    """Download both files of a catalogue model and verify them. Returns their paths.

    ``on_verify(file, size)`` returns a callback fed with the bytes hashed so far (a progress bar).
    """
    import huggingface_hub as hub

    if not spec.repo:
        raise ModelError(f"model {spec.name} has no repository to download from",
                         "register local files with `tracer models add` instead")
    directory = spec.local_dir()
    directory.mkdir(parents=True, exist_ok=True)
    files = [_expected(spec, f, endpoint) for f in (spec.model, spec.mmproj)]
    _check_space(directory, files)
    paths = []
    for f in files:
        try:
            path = Path(hub.hf_hub_download(spec.repo, f.file, revision=spec.revision,
                                            local_dir=directory, endpoint=endpoint,
                                            force_download=force))
        except _hub_errors() as exc:
            raise ModelError(f"download of {f.file} failed: {str(exc).splitlines()[0]}",
                             "run the same command again: it resumes where it stopped") from None
        except OSError as exc:
            raise ModelError(f"download of {f.file} failed: {exc}",
                             "run the same command again: it resumes where it stopped") from None
        verify(path, f, on_verify)
        paths.append(path)
    return paths


def verify(path: Path, f: ModelFile,
           on_verify: Callable[[str, int], Callable[[int], None]] | None = None) -> None:
    size = path.stat().st_size
    if f.size is not None and size != f.size:
        path.unlink()
        raise ModelError(f"{f.file} has {size} bytes, expected {f.size}: deleted it",
                         "run the pull again")
    if f.sha256:
        progress = on_verify(f.file, size) if on_verify else None
        actual = sha256_of(path, progress)
        if actual != f.sha256.lower():
            path.unlink()
            raise ModelError(f"checksum mismatch for {f.file} (sha256 {actual[:12]}..., "
                             f"expected {f.sha256[:12]}...): deleted it",
                             "run the pull again; if it repeats, the mirror serves a different file")
