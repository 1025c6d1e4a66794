"""The prefix cache's files (agent/backends/prefix_store.py): found again only whole and for
the same tokens, private, and bounded."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tracer_cli.agent.backends.prefix_store import PrefixStore, key, store_or_none

TOKENS = list(range(100, 400))


def test_a_kept_state_is_found_again_for_the_same_tokens(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path / "prefix", 10_000)
    name = key("model-a", TOKENS)
    store.save(name, TOKENS, b"state" * 10)
    assert store.load(name, TOKENS) == b"state" * 10
    assert stat.S_IMODE((tmp_path / "prefix").stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path(name).stat().st_mode) == 0o600


def test_the_key_changes_with_the_model_and_every_token() -> None:
    assert key("model-a", TOKENS) != key("model-b", TOKENS)
    assert key("model-a", TOKENS) != key("model-a", [*TOKENS[:-1], 7])


def test_a_damaged_or_foreign_file_is_ignored_and_removed(tmp_path: Path) -> None:
    store = PrefixStore(tmp_path, 10_000)
    name = key("m", TOKENS)
    for damage in (lambda d: d[:-1] + bytes([d[-1] ^ 1]),  # the state's bytes
                   lambda d: d[:40],  # cut short
                   lambda d: b"garbage",
                   lambda d: b""):
        store.save(name, TOKENS, b"state" * 10)
        store.path(name).write_bytes(damage(store.path(name).read_bytes()))
        assert store.load(name, TOKENS) is None
        assert not store.path(name).exists()
    other = key("m", TOKENS[:-1])  # another prefix's file under this name
    store.save(other, TOKENS[:-1], b"state")
    os.replace(store.path(other), store.path(name))
    assert store.load(name, TOKENS) is None


def test_the_folder_keeps_to_its_bound_dropping_the_least_recently_used(tmp_path: Path) -> None:
    probe = PrefixStore(tmp_path / "probe", 10**6)
    probe.save("x" * 64, TOKENS, bytes(100))
    size = probe.path("x" * 64).stat().st_size  # one file's size (all names are 64 characters)
    store = PrefixStore(tmp_path / "bounded", 3 * size)
    names = [key(f"m{i}", TOKENS) for i in range(3)]
    for i, name in enumerate(names):
        store.save(name, TOKENS, bytes(100))
        os.utime(store.path(name), (1_000 + i, 1_000 + i))
    assert all(store.path(n).exists() for n in names)
    assert store.load(names[0], TOKENS) is not None  # used again: now the newest
    store.save(key("m3", TOKENS), TOKENS, bytes(100))
    assert not store.path(names[1]).exists()  # the least recently used went
    assert store.path(names[0]).exists() and store.path(names[2]).exists()
    assert sum(p.stat().st_size for p in (tmp_path / "bounded").glob("*.kv")) <= 3 * size


def test_a_bound_of_zero_turns_the_cache_off(tmp_path: Path) -> None:
    assert store_or_none(tmp_path, 0) is None
    assert store_or_none(tmp_path, 1) == PrefixStore(tmp_path, 2**20)
