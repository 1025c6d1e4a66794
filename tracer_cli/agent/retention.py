"""Keeping run records bounded: remove the oldest runs past a count, an age or a total size.
A run still going (its process alive) is never removed, nor the runs named in ``spare``."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tracer_cli.agent.runlog import RunSummary, list_runs
from tracer_cli.errors import ConfigError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m`` or ``45s`` as a time span."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text.lower())
    if not match:
        raise ConfigError(f"cannot read the age {text!r}",
                          "give a number and a unit: 30d, 12h, 2w, 90m or 45s")
    return timedelta(seconds=float(match.group(1)) * UNITS[match.group(2)])


def human_size(size: int) -> str:
    for unit, step in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} bytes"


def dir_size(path: Path) -> int:
    total = 0
    for file in path.rglob("*"):
        try:
            if file.is_file() and not file.is_symlink():
                total += file.stat().st_size
        except OSError:
            continue  # removed meanwhile, or unreadable: it does not count
    return total


def started(run: RunSummary) -> datetime:
    """When the run started (its record, else its directory's time)."""
    try:
        return datetime.fromisoformat(str(run.meta["started"]))
    except (KeyError, ValueError):
        return datetime.fromtimestamp(run.path.stat().st_mtime, timezone.utc)


@dataclass
class Pruned:
    removed: list[tuple[str, int]] = field(default_factory=list)  # run id, bytes
    kept: int = 0
    kept_bytes: int = 0

    @property
    def freed(self) -> int:
        return sum(size for _, size in self.removed)

    def __str__(self) -> str:
        runs = "run" if len(self.removed) == 1 else "runs"
        return (f"removed {len(self.removed)} {runs}, freed {human_size(self.freed)}; "
                f"{self.kept} kept ({human_size(self.kept_bytes)})")


def prune(root: Path, keep: int | None = None, older_than: timedelta | None = None,
          max_bytes: int | None = None, spare: frozenset[Path] = frozenset(),
          now: datetime | None = None) -> Pruned:
    """Remove, oldest first, the runs beyond the ``keep`` newest, those started longer than
    ``older_than`` ago, and then as many more as bring the total under ``max_bytes``."""
    now = now or datetime.now(timezone.utc)
    runs = list_runs(root)  # oldest first: the ids start with the time
    sizes = {r.id: dir_size(r.path) for r in runs}
    protected = {r.id for r in runs if r.status == "running" or r.path in spare}
    doomed: list[RunSummary] = []
    for index, run in enumerate(runs):
        if run.id in protected:
            continue
        too_many = keep is not None and index < len(runs) - keep
        too_old = older_than is not None and now - _aware(started(run)) > older_than
        if too_many or too_old:
            doomed.append(run)
    if max_bytes is not None:
        total = sum(sizes.values()) - sum(sizes[r.id] for r in doomed)
        for run in runs:
            if total <= max_bytes:
                break
            if run.id in protected or any(d.id == run.id for d in doomed):
                continue
            doomed.append(run)
            total -= sizes[run.id]
    result = Pruned()
    for run in doomed:
        shutil.rmtree(run.path, ignore_errors=True)
        if not run.path.exists():
            result.removed.append((run.id, sizes[run.id]))
    gone = {rid for rid, _ in result.removed}
    result.kept = sum(1 for r in runs if r.id not in gone)
    result.kept_bytes = sum(size for rid, size in sizes.items() if rid not in gone)
    return result


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
