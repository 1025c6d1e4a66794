"""The prefix cache across runs: the KV cache of a prompt's instruction part, kept on disk.

Every run of a local model starts by evaluating the same instructions (a system prompt of some
hundreds of tokens: seconds on a CPU). The llama backend keeps what the model made of them in a
file of the cache folder (``cache_dir()/prefix``), named by a hash of everything that makes those
numbers what they are: the model file's identity, the settings that alter them and the exact
tokens; the next run loads the file instead of evaluating the tokens again.

This module only stores and finds the bytes (llama.cpp's sequence state); it knows nothing of
llama.cpp. A file is trusted only whole: a header with the key, the tokens and a SHA-256 of the
state must match what is asked, else the file is ignored and removed (a damaged, foreign or
older file is never handed to llama.cpp). The folder is private (0700, files 0600) and bounded:
after a write the least recently used files go until it fits ``limit`` bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
from array import array
from dataclasses import dataclass
from pathlib import Path

from tracer_cli.private import make_dir, write_bytes

MAGIC = b"TRACERKV"
VERSION = 1
SUFFIX = ".kv"
_HEAD = struct.Struct("<8sII")  # magic, version, header length


def key(identity: str, tokens: list[int]) -> str:
    """The file name of a prefix: a hash of the model's identity and settings, and its tokens."""
    digest = hashlib.sha256(identity.encode("utf-8"))
    digest.update(array("i", tokens).tobytes())
    return digest.hexdigest()


@dataclass
class PrefixStore:
    folder: Path
    limit: int  # bytes the folder may hold

    def path(self, name: str) -> Path:
        return self.folder / f"{name}{SUFFIX}"

    def load(self, name: str, tokens: list[int]) -> bytes | None:
        """The state stored for these tokens, or None (missing; damaged or foreign: removed)."""
        path = self.path(name)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        state = _read(data, name, tokens)
        if state is None:
            self.discard(name)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: the last to go when the folder is trimmed
        return state

    def save(self, name: str, tokens: list[int], state: bytes) -> None:
        """Store the state (a StorageError when it cannot be written), then trim the folder."""
        if len(state) > self.limit:
            return
        header = json.dumps({"key": name, "tokens": len(tokens),
                             "sha256": hashlib.sha256(state).hexdigest()}).encode("utf-8")
        body = array("i", tokens).tobytes()
        make_dir(self.folder)
        write_bytes(self.path(name), _HEAD.pack(MAGIC, VERSION, len(header)) + header + body + state)
        self.trim()

    def discard(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self.path(name).unlink()

    def trim(self) -> None:
        """Remove the least recently used files until the folder holds at most ``limit`` bytes."""
        try:
            files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.glob(f"*{SUFFIX}")]
        except OSError:
            return
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.limit:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size


def _read(data: bytes, name: str, tokens: list[int]) -> bytes | None:
    """The state in a file's bytes when the file is whole and is the one asked for."""
    if len(data) < _HEAD.size:
        return None
    magic, version, length = _HEAD.unpack_from(data)
    if magic != MAGIC or version != VERSION or _HEAD.size + length > len(data):
        return None
    try:
        header = json.loads(data[_HEAD.size:_HEAD.size + length])
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("key") != name or header.get("tokens") != len(tokens):
        return None
    start = _HEAD.size + length
    body = array("i", tokens).tobytes()
    if data[start:start + len(body)] != body:
        return None
    state = data[start + len(body):]
    if not state or hashlib.sha256(state).hexdigest() != header.get("sha256"):
        return None
    return state


def store_or_none(folder: Path, limit_mb: int) -> PrefixStore | None:
    """The store in ``folder`` bounded to ``limit_mb`` MiB (None: 0, the cache is off)."""
    return PrefixStore(folder, limit_mb * 2**20) if limit_mb > 0 else None

