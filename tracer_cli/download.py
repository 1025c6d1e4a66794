"""Fetching catalogue models from the Hugging Face Hub (or a mirror: HF_ENDPOINT / --endpoint).

huggingface_hub finds the file (URL, size, the LFS sha256, the CDN location) and provides the
HTTP session; the transfer itself is done here so that it survives being stopped: bytes go to
``<file>.part`` next to the target, and the next pull continues from there with an HTTP Range
request (huggingface_hub 2.x starts over in a new process). A disk-space check comes first and a
sha256 check last; a file whose checksum does not match is deleted, never used.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tracer_cli.models import ModelError, ModelFile, ModelSpec, sha256_of

SHA256 = re.compile(r"^[0-9a-f]{64}$")
MARGIN = 64 * 1024 * 1024  # keep this much disk free beyond the download itself
ATTEMPTS = 5  # transfer attempts per file within one pull, each resuming where the last stopped

Progress = Callable[[str, int, int], Callable[[int], None]]  # (label, total, done) -> advance(n)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _network_errors() -> tuple[type[BaseException], ...]:
    import httpx2
    import huggingface_hub.errors as e

    return (e.HfHubHTTPError, e.LocalEntryNotFoundError, e.OfflineModeIsEnabled,
            httpx2.TransportError, httpx2.HTTPStatusError, OSError)


class HubUnreachable(ModelError):
    """The Hub (or the mirror) did not answer for a file's details: nothing was downloaded."""


def _remote(spec: ModelSpec, f: ModelFile, endpoint: str | None) -> tuple[ModelFile, str]:
    """The expected size and sha256 (the catalogue's, else the Hub's), and where to GET it."""
    import huggingface_hub as hub

    url = hub.hf_hub_url(spec.repo, f.file, revision=spec.revision, endpoint=endpoint)
    try:
        meta = hub.get_hf_file_metadata(url, endpoint=endpoint)
    except _network_errors() as exc:
        raise HubUnreachable(f"cannot find {f.file} in {spec.repo} at {url}: {_first_line(exc)}",
                             "check your connection, or set HF_ENDPOINT to a mirror") from None
    etag = (meta.etag or "").strip('"').lower()
    sha = f.sha256 or (etag if SHA256.match(etag) else None)
    return ModelFile(f.file, f.size or meta.size, sha), meta.location or url


def _check_space(directory: Path, files: list[ModelFile]) -> None:
    needed = 0
    for f in files:
        have = max(_size(directory / f.file), _size(directory / (f.file + ".part")))
        needed += max(0, (f.size or 0) - have)
    free = shutil.disk_usage(directory).free
    if needed + MARGIN > free:
        raise ModelError(
            f"not enough disk space in {directory}: need {needed / 1e9:.2f} GB, "
            f"{free / 1e9:.2f} GB free", "free some space, or set TRACER_HOME elsewhere")


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _transfer(url: str, part: Path, total: int | None, advance: Callable[[int], None]) -> None:
    """GET ``url`` into ``part``, continuing from its current size; retries a few times."""
    from huggingface_hub.utils import build_hf_headers, get_session

    session = get_session()
    for attempt in range(ATTEMPTS):
        have = _size(part)
        if total is not None and have >= total:
            return
        headers: dict[str, Any] = {**build_hf_headers(), "Accept-Encoding": "identity"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with session.stream("GET", url, headers=headers, follow_redirects=True,
                                timeout=30) as response:
                if response.status_code == 416:  # nothing left to send
                    return
                response.raise_for_status()
                mode = "ab" if have and response.status_code == 206 else "wb"
                with open(part, mode) as fh:
                    for chunk in response.iter_bytes():  # as it arrives: nothing held back
                        fh.write(chunk)
                        advance(len(chunk))
            if total is None or _size(part) >= total:
                return
        except _network_errors() as exc:
            if attempt == ATTEMPTS - 1:
                raise ModelError(f"download of {part.name[:-5]} failed: {_first_line(exc)}",
                                 "run the same command again: it continues where it stopped"
                                 ) from None
            time.sleep(min(2 ** attempt, 10) * 0.25)


def pull(spec: ModelSpec, endpoint: str | None = None, force: bool = False,
         progress: Progress | None = None) -> list[Path]:
    """Download both files of a catalogue model and verify them. Returns their paths.

    ``progress(label, total, done)`` returns a callback fed with bytes as they arrive (and as
    they are hashed): a progress bar."""
    if not spec.repo:
        raise ModelError(f"model {spec.name} has no repository to download from",
                         "register local files with `tracer models add` instead")
    directory = spec.local_dir()
    directory.mkdir(parents=True, exist_ok=True)
    remote = [_remote(spec, f, endpoint) for f in (spec.model, spec.mmproj)]
    if force:
        for f, _ in remote:
            for stale in (directory / f.file, directory / (f.file + ".part")):
                stale.unlink(missing_ok=True)
    _check_space(directory, [f for f, _ in remote])
    paths = []
    for f, url in remote:
        target = directory / f.file
        if not (target.exists() and (f.size is None or _size(target) == f.size)):
            target.unlink(missing_ok=True)
            part = directory / (f.file + ".part")
            advance = progress(f.file, f.size or 0, _size(part)) if progress else (lambda n: None)
            _transfer(url, part, f.size, advance)
            verify(part, f, progress)
            part.replace(target)
        paths.append(target)
    return paths


def verify(path: Path, f: ModelFile, progress: Progress | None = None) -> None:
    """Size and sha256 against what is expected; a file that fails is deleted."""
    size = path.stat().st_size
    if f.size is not None and size != f.size:
        path.unlink()
        raise ModelError(f"{f.file} has {size} bytes, expected {f.size}: deleted it",
                         "run the pull again")
    if f.sha256:
        advance = progress(f"verifying {f.file}", size, 0) if progress else None
        actual = sha256_of(path, advance)
        if actual != f.sha256.lower():
            path.unlink()
            raise ModelError(f"checksum mismatch for {f.file} (sha256 {actual[:12]}..., "
                             f"expected {f.sha256[:12]}...): deleted it",
                             "run the pull again; if it repeats, the mirror serves a different file")
