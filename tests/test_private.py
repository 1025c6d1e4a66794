"""Files tracer writes whole and private (tracer_cli/private.py): 0600, never half written,
and two writers of one file at once (two runs, two threads) each leave a whole file."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from tracer_cli import private
from tracer_cli.errors import StorageError


def test_a_file_is_written_private_and_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")
    path.chmod(0o644)
    private.write_text(path, "new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_writers_of_one_file_at_once_each_leave_a_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "record.json"
    texts = [f"writer {n} " * 20_000 for n in range(8)]  # long enough to overlap
    failures: list[BaseException] = []
    start = threading.Barrier(len(texts))

    def write(text: str) -> None:
        start.wait()
        try:
            for _ in range(20):
                private.write_text(path, text)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert path.read_text() in texts
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_folder_that_is_gone_is_a_storage_error_that_says_so(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="the folder is gone"):
        private.write_text(tmp_path / "gone" / "x.json", "{}")
