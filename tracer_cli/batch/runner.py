"""Run a batch: each task in its own temporary sandbox, N at a time, as a `tracer do`
subprocess (a crash or a hung model in one run cannot take the others down, and each gets the
same code path a user's run has). A listener hears each task start, progress and end;
``stop()`` (Ctrl-C) interrupts the runs going, skips those not started and keeps what finished.
One task from sandbox to check is a ``TaskRun``, the same wherever it runs: on this machine
(``Batch``) or on a cluster node (batch/cluster.py, which replaces only ``Batch._execute``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tracer_cli.batch.tasks import BatchTask, option_args
from tracer_cli.desktop import sandbox as sandboxes
from tracer_cli.errors import TracerError

RECORD_LINE = re.compile(r"^run record: (.+)$", re.M)
STEP_LINE = re.compile(r"step (\d+)/(\d+): (.*)")
CHECK_TIMEOUT = 120.0


@dataclass
class TaskResult:
    id: str
    task: str
    status: str = "pending"  # pending, running, done (the run ended), error, skipped
    success: bool = False
    exit_code: int | None = None
    run_status: str = ""  # the run record's: done, failed, stopped, ...
    reason: str = ""
    steps: int = 0
    model_calls: int = 0
    forecast_steps: int = 0
    seconds: float = 0.0  # the whole task: sandbox, run and check
    run_seconds: float = 0.0  # the run alone (its record's)
    run_record: str = ""
    check_exit_code: int | None = None
    folder: str = ""
    node: str = ""  # the cluster node it ran on (tracer batch --ray); empty on this machine
    extra: dict[str, Any] = field(default_factory=dict)  # what a caller adds (bench: grounding)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Listener(Protocol):
    def started(self, task: BatchTask) -> None: ...
    def progress(self, task: BatchTask, text: str) -> None: ...
    def ended(self, task: BatchTask, result: TaskResult) -> None: ...


class Batch:
    def __init__(self, tasks: Sequence[BatchTask], out: Path, parallel: int = 1,
                 common: Sequence[str] = (), listener: Listener | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.tasks = list(tasks)
        self.out = out
        self.parallel = max(1, parallel)
        self.common = list(common)  # `tracer do` options for every task (before the task's own)
        self.listener = listener
        self.env = dict(os.environ if env is None else env)
        self.results = {t.id: TaskResult(t.id, t.task, folder=str(out / t.id)) for t in self.tasks}
        self._stop = threading.Event()
        self._runs: dict[str, TaskRun] = {}
        self._lock = threading.Lock()
        self.seconds = 0.0

    # ---- control
    def run(self) -> list[TaskResult]:
        self.out.mkdir(parents=True, exist_ok=True)
        start = time.monotonic()
        with _interruptible(), ThreadPoolExecutor(self.parallel, thread_name_prefix="batch") as pool:
            futures = [pool.submit(self._one, task) for task in self.tasks]
            try:
                for future in futures:
                    while not future.done():  # wake for Ctrl-C now and then
                        with contextlib.suppress(TimeoutError):
                            future.result(timeout=0.2)
            except KeyboardInterrupt:
                self.stop()  # the pool then waits for the runs going, which end at once
        self.seconds = time.monotonic() - start
        return [self.results[t.id] for t in self.tasks]

    def stop(self) -> None:
        """Interrupt the runs going (SIGINT: they end and write their records), skip the rest."""
        self._stop.set()
        with self._lock:
            runs = list(self._runs.values())
        for run in runs:
            run.stop()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # ---- one task (on a worker thread, which owns its sandbox from start to end)
    def _one(self, task: BatchTask) -> None:
        result = self.results[task.id]
        if self._stop.is_set():
            result.status = "skipped"
            return
        result.status = "running"
        self._tell("started", task)
        begin = time.monotonic()
        try:
            self._execute(task, result)
        except TracerError as exc:
            result.status, result.reason = "error", str(exc)
        except Exception as exc:  # a bug or an OS failure in this task: the others go on
            result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"
        result.seconds = round(time.monotonic() - begin, 3)
        self._tell("ended", task, result)

    def _execute(self, task: BatchTask, result: TaskResult) -> None:
        """Run the task here, in a sandbox of this machine (a cluster's batch runs it elsewhere)."""
        run = TaskRun(task, Path(result.folder), self.common, self.env,
                      lambda text: self._progress(task, text))
        with self._lock:
            self._runs[task.id] = run
        if self._stop.is_set():  # Ctrl-C came while it was handed out
            run.stop()
        try:
            run.run(result)
        finally:
            with self._lock:
                self._runs.pop(task.id, None)

    # ---- telling
    def _tell(self, what: str, task: BatchTask, *args: Any) -> None:
        if self.listener is not None:
            getattr(self.listener, what)(task, *args)

    def _progress(self, task: BatchTask, text: str) -> None:
        if self.listener is not None:
            self.listener.progress(task, text)

    def summary(self) -> dict[str, Any]:
        results = [self.results[t.id] for t in self.tasks]
        ran = [r for r in results if r.status in ("done", "stopped", "error")]
        return {"tasks": [r.to_dict() for r in results], "parallel": self.parallel,
                "folder": str(self.out),
                "seconds": round(self.seconds, 3), "total": len(results),
                "succeeded": sum(r.success for r in results), "ran": len(ran),
                "interrupted": self.stopped}


class TaskRun:
    """One task from its sandbox's start to its check, on this machine: a batch's worker thread
    runs it, and so does a cluster node's worker (the same code wherever the task lands).
    ``stop()`` (from another thread) interrupts the run as Ctrl-C would: it ends and writes its
    record. The thread calling ``run()`` becomes the parent of the sandbox and of the run, which
    die with it (the kernel's parent-death signal), so it must outlive them."""

    def __init__(self, task: BatchTask, folder: Path, common: Sequence[str], env: dict[str, str],
                 progress: Callable[[str], None], code_path: str | None = None) -> None:
        self.task = task
        self.folder = folder
        self.common = list(common)
        self.env = env
        self.progress = progress
        self.code_path = code_path  # where the run imports tracer from, when not the default
        self._stop = threading.Event()
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self._proc
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self, result: TaskResult) -> None:
        """Sandbox, `tracer do`, check; fills ``result`` (status done or stopped). Raises
        TracerError when the sandbox cannot start."""
        task, folder = self.task, self.folder
        folder.mkdir(parents=True, exist_ok=True)
        self.progress("starting a sandbox")
        apps = [_fill(a, folder) for a in task.apps]
        box = sandboxes.start(size=task.size, apps=apps, temporary=True)
        try:
            self._drive(box, result)
            if task.check and not self.stopped:
                self.progress("checking")
                result.check_exit_code = self._check(box)
                result.success = result.check_exit_code == 0
            elif not task.check:
                result.success = result.exit_code == 0
        finally:
            box.stop()
        result.status = "done" if result.exit_code not in (None, 130) else "stopped"

    def _drive(self, box: sandboxes.Sandbox, result: TaskResult) -> None:
        task, folder = self.task, self.folder
        argv = [sys.executable, "-m", "tracer_cli", "do", task.task, "--display", box.display,
                "--yes", "--kill-hotkey", "", "--pause-hotkey", "", *self.common,
                *option_args(task.options)]
        if task.max_steps:
            argv += ["--max-steps", str(task.max_steps)]
        if task.timeout:
            argv += ["--timeout", str(task.timeout)]
        env = dict(self.env)  # --display names the sandbox; tracer finds its X cookie itself
        if self.code_path:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (self.code_path, env.get("PYTHONPATH", "")) if p)
        self.progress("starting tracer")
        with open(folder / "stdout.txt", "w", encoding="utf-8") as out_file:
            proc = subprocess.Popen(argv, env=env, stdout=out_file, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, text=True, process_group=0,
                                    preexec_fn=_run_child)
            with self._lock:
                self._proc = proc
            if self.stopped:  # stopped while it started
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
            stderr = []
            assert proc.stderr is not None
            with open(folder / "stderr.txt", "w", encoding="utf-8") as err_file:
                for line in proc.stderr:
                    err_file.write(line)
                    stderr.append(line)
                    found = STEP_LINE.search(line)
                    if found:
                        self.progress(line.strip().removeprefix("tracer: "))
            code = proc.wait()
            result.exit_code = 128 - code if code < 0 else code  # killed by a signal: as a shell says
            with self._lock:
                self._proc = None
        text = "".join(stderr)
        found = RECORD_LINE.findall(text)
        if found:
            result.run_record = found[-1].strip()
            _read_record(Path(result.run_record), result)
        else:  # no run record: the one-line error says why
            lines = [ln for ln in text.splitlines() if ln.strip()]
            result.reason = lines[-1].removeprefix("tracer: ") if lines else f"exit code {result.exit_code}"

    def _check(self, box: sandboxes.Sandbox) -> int:
        task, folder = self.task, self.folder
        assert task.check is not None
        argv = [_fill(part, folder, quote=False) for part in shlex.split(task.check)]
        try:
            done = subprocess.run(argv, env={**self.env, **box.env({})}, capture_output=True,
                                  text=True, timeout=CHECK_TIMEOUT, cwd=folder)
        except FileNotFoundError:
            (folder / "check.txt").write_text(f"program {argv[0]!r} not found\n")
            return 127
        except subprocess.TimeoutExpired:
            (folder / "check.txt").write_text(f"timed out after {CHECK_TIMEOUT:.0f}s\n")
            return 124
        (folder / "check.txt").write_text(done.stdout + done.stderr)
        return done.returncode


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C (SIGINT) stops the batch while it runs, also where it was started with SIGINT
    ignored (`nohup`, a script's `cmd &`), as it stops a `tracer do`: a signal sent to stop the
    batch must not leave its runs going."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_child() -> None:
    """In the `tracer do` child before exec: die with its parent, and take SIGINT, the signal
    that stops it with its record written, even where the parent blocks it (a Ray worker
    starts with SIGINT blocked, and a blocked mask is inherited through exec)."""
    sandboxes.die_with_parent()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _fill(text: str, folder: Path, quote: bool = True) -> str:
    python = shlex.quote(sys.executable) if quote else sys.executable
    place = shlex.quote(str(folder)) if quote else str(folder)
    return text.replace("{python}", python).replace("{dir}", place)


def _read_record(path: Path, result: TaskResult) -> None:
    try:
        meta = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    result.run_status = str(meta.get("status", ""))
    result.reason = str(meta.get("reason", "") or result.reason)
    for key in ("steps", "model_calls", "forecast_steps"):
        result.__setattr__(key, int(meta.get(key) or 0))
    result.run_seconds = float(meta.get("seconds") or 0.0)


def write_summary(batch: Batch, path: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    summary = {**batch.summary(), **(extra or {})}
    path.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary

