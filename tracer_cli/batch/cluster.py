"""A batch's tasks on a Ray cluster (`tracer batch --ray`). Only *where* a task runs changes:
each task is one Ray task that runs the batch's own ``TaskRun`` (sandbox, `tracer do`, check)
on a node advertising display slots, and sends back its result, its folder and its run record;
the batch around it (threads, listener, summary, Ctrl-C) is the local one.

Ray is imported only inside these functions (an optional extra). The rules that make it safe
for automation, which Ray's defaults are not:

- no automatic retry of a task that may have acted (``max_retries=0`` unless ``--retries``);
- a task takes no CPU slot (``num_cpus=0``): parallelism is the display slots;
- a task needing what no node has fails before anything is submitted, instead of waiting;
- no cluster is started by surprise: a local instance only when asked (``--ray local``);
- stopping sets a flag in a small actor that every task polls (a blocking wait on a child would
  not see ``ray.cancel``); the run then ends as after Ctrl-C and its record comes back. A task
  that does not end within ``GRACE`` seconds is cancelled with force, which kills its worker;
  the sandbox and the run die with it (the kernel's parent-death signal, see desktop/sandbox).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import shutil
import socket
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tracer_cli import __version__, paths, private
from tracer_cli.batch.runner import Batch, Listener, TaskResult, TaskRun
from tracer_cli.batch.tasks import BatchTask
from tracer_cli.errors import ConfigError, TracerError

DISPLAY = "display"  # the custom resource: sandbox desktops a node may run at once
INSTALL = "pip install 'tracer-cli[ray]'"
GRACE = 15.0  # seconds a stopped task has to end and send its record back before it is killed
POLL = 0.25
LOST = "stopped: its node lost touch with the batch (the driver or the node's Ray died)"
# The driver's environment a task's run gets (the model server's URL and key, tracer's
# settings): passed as the task's argument, never on a command line or in a log. Paths of the
# driver's machine stay behind.
FORWARD_PREFIXES = ("TRACER_", "OPENAI_")
NODE_LOCAL = {"TRACER_HOME", "TRACER_CONFIG", "TRACER_RUNTIME_DIR"}


def import_ray() -> Any:
    """Ray, or the one line that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("running a batch on a Ray cluster needs Ray, which is not installed",
                          f"install it: {INSTALL}") from None
    return ray


@dataclass
class Cluster:
    """The cluster this driver is connected to."""

    address: str  # as given: "local", "auto" or HOST:PORT
    local: bool  # a local instance this driver started (and stops)
    nodes: list[dict[str, Any]] = field(default_factory=list)  # alive nodes: name, id, resources

    @property
    def displays(self) -> int:
        return int(sum(n["resources"].get(DISPLAY, 0) for n in self.nodes))


def token_auth(env: dict[str, str]) -> dict[str, str]:
    """``env`` with Ray's token authentication on when a token is at hand and no mode is
    chosen: a head started with a token uses it, but a process joining the cluster does not
    look for one unless told."""
    if "RAY_AUTH_MODE" in env:
        return env
    path = env.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    if env.get("RAY_AUTH_TOKEN") or Path(path).is_file():
        return {**env, "RAY_AUTH_MODE": "token"}
    return env


def connect(address: str, displays: int = 1) -> Cluster:
    """Join the cluster at ``address`` ("auto": the one this machine belongs to), or start a
    local instance with ``displays`` display slots when ``address`` is "local" (explicitly:
    Ray would otherwise start one quietly wherever it finds no cluster)."""
    ray = import_ray()
    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
             "configure_logging": True}
    if address == "local":
        cpus = max(1, min(2, os.cpu_count() or 1))  # tasks take none; Ray's own actors, one
        ray.init(address="local", num_cpus=cpus, resources={DISPLAY: displays}, **quiet)
    else:
        reachable(address)
        os.environ.update(token_auth(dict(os.environ)))
        refused = (ConnectionError, RuntimeError, ValueError,
                   ray.exceptions.RayError)  # (a wrong token: AuthenticationError)
        try:
            ray.init(address=address, **quiet)
        except refused as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot join the Ray cluster at {address}: {first}",
                              "start one (tracer node start --displays N), give this machine the "
                              "cluster's token (RAY_AUTH_TOKEN or ~/.ray/auth_token), or run on "
                              "this machine alone with --ray local") from None
    return Cluster(address, address == "local", alive_nodes(ray))


def reachable(address: str, timeout: float = 5.0) -> None:
    """A head given as HOST:PORT must answer on that port: Ray itself would retry an address
    where nothing listens for minutes, logging a line every few seconds."""
    if address.startswith("ray://"):  # Ray Client: a driver outside the cluster, tunnelled
        raise ConfigError(f"--ray {address!r} is a Ray Client address, which tracer does not use",
                          "run the batch on a machine of the cluster with --ray HOST:PORT (the "
                          "head's port, 6379 unless changed) or --ray auto")
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        if address == "auto":
            return
        raise ConfigError(f"--ray {address!r} is not an address",
                          "give local, auto or the head's HOST:PORT, like 10.0.0.1:6379")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address}: nothing answers there "
                          f"({exc.strerror or exc})",
                          "start its head (tracer node start --displays N), or check the "
                          "address") from None


def alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [{"name": n.get("NodeName", ""), "id": n["NodeID"], "resources": dict(n["Resources"])}
            for n in ray.nodes() if n.get("Alive")]


def disconnect(cluster: Cluster) -> None:
    """Leave the cluster (and stop the local instance, when this driver started one)."""
    ray = import_ray()
    with contextlib.suppress(Exception):
        ray.shutdown()


def needs(task: BatchTask) -> dict[str, float]:
    return {DISPLAY: 1.0, **task.resources}


def check_placement(tasks: Sequence[BatchTask], nodes: Sequence[dict[str, Any]]) -> None:
    """Every task must fit on some node as it is now; Ray would leave one that fits nowhere
    waiting for ever."""
    if not any(n["resources"].get(DISPLAY, 0) >= 1 for n in nodes):
        raise ConfigError("no node of the Ray cluster has a display slot",
                          f"start a node that runs sandboxes: tracer node start --displays N "
                          f"(it advertises the {DISPLAY!r} resource)")
    for task in tasks:
        need = needs(task)
        if not any(all(n["resources"].get(k, 0) >= v for k, v in need.items()) for n in nodes):
            wanted = ", ".join(f"{k}={v:g}" for k, v in need.items())
            raise ConfigError(f"task {task.id!r} needs {wanted} on one node, and no node of the "
                              "Ray cluster has that",
                              "start a node with it: tracer node start --displays N --resources "
                              "'{\"NAME\": AMOUNT}', or change the task's \"resources\"")


class Hub:
    """The batch's meeting point (a Ray actor beside the driver): the stop flag the tasks poll
    and the progress lines they send for the live table."""

    def __init__(self) -> None:
        self._stopped = False
        self._notes: list[tuple[str, str]] = []

    def stop(self) -> None:
        self._stopped = True

    def stopped(self) -> bool:
        return self._stopped

    def note(self, task_id: str, text: str) -> None:
        self._notes.append((task_id, text))

    def drain(self) -> list[tuple[str, str]]:
        notes, self._notes = self._notes, []
        return notes


class ClusterBatch(Batch):
    """A batch whose tasks run on the nodes of a Ray cluster, as many at once as it has
    display slots (Ray places them; the batch only waits)."""

    def __init__(self, tasks: Sequence[BatchTask], out: Path, cluster: Cluster,
                 common: Sequence[str] = (), listener: Listener | None = None,
                 env: dict[str, str] | None = None, retries: int = 0) -> None:
        super().__init__(tasks, out, max(1, min(len(tasks), cluster.displays, 256)), common,
                         listener, env)
        self.cluster = cluster
        self.retries = retries
        self.forward = {k: v for k, v in self.env.items()
                        if k.startswith(FORWARD_PREFIXES) and k not in NODE_LOCAL}
        self._hub: Any = None
        self._remote: Any = None
        self._started: set[str] = set()  # tasks a node has taken (they sent a line)

    def run(self) -> list[TaskResult]:
        ray = import_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = ray.get_runtime_context().get_node_id()
        self._hub = ray.remote(Hub).options(
            num_cpus=0, max_restarts=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=True)).remote()
        self._remote = ray.remote(run_on_node)
        pump_done = threading.Event()
        pump = threading.Thread(target=self._pump, args=(pump_done,), name="batch-progress",
                                daemon=True)
        pump.start()
        try:
            return super().run()
        finally:
            pump_done.set()
            pump.join(timeout=2)

    def stop(self) -> None:
        super().stop()
        if self._hub is not None:
            with contextlib.suppress(Exception):
                self._hub.stop.remote()

    def summary(self) -> dict[str, Any]:
        nodes = [{"name": n["name"], "id": n["id"], DISPLAY: n["resources"].get(DISPLAY, 0)}
                 for n in self.cluster.nodes]
        return {**super().summary(), "ray": {"address": self.cluster.address, "nodes": nodes,
                                             "retries": self.retries}}

    def _pump(self, done: threading.Event) -> None:
        """Pass the tasks' progress lines on to the listener."""
        ray = import_ray()
        by_id = {t.id: t for t in self.tasks}
        while not done.wait(POLL):
            try:
                notes = ray.get(self._hub.drain.remote(), timeout=10)
            except Exception:
                continue
            for ident, text in notes:
                if ident in by_id:
                    self._started.add(ident)
                    self._progress(by_id[ident], text)

    def _execute(self, task: BatchTask, result: TaskResult) -> None:
        ray = import_ray()
        from ray import exceptions

        self._progress(task, "waiting for a display slot")
        ref = self._remote.options(num_cpus=0, resources=needs(task), max_retries=self.retries,
                                   retry_exceptions=False, name=f"tracer-{task.id}").remote(
            asdict(task), self.common, self.forward, __version__, self._hub)
        stopped_at: float | None = None
        while not ray.wait([ref], timeout=POLL)[0]:
            if self._stop.is_set():
                stopped_at = stopped_at or time.monotonic()
                # one still waiting for a slot is cancelled at once (after a moment for its
                # first line, should it have just started)
                limit = GRACE if task.id in self._started else 4 * POLL
                if time.monotonic() >= stopped_at + limit:
                    ray.cancel(ref, force=True)
                    break
        try:
            sent = ray.get(ref, timeout=GRACE)
        except (exceptions.TaskCancelledError, exceptions.GetTimeoutError):
            if task.id not in self._started:
                result.status = "skipped"
                return
            result.status, result.exit_code = "stopped", 130
            result.reason = f"stopped: it did not end within {GRACE:.0f}s, its worker was killed"
            return
        except exceptions.RayTaskError as exc:  # our own code failed on the node
            cause = exc.cause if exc.cause is not None else exc
            raise TracerError(f"on the cluster: {type(cause).__name__}: {cause}") from None
        except exceptions.RayError as exc:  # the worker or its node died
            raise TracerError(died(exc)) from None
        self._receive(task, result, sent)

    def _receive(self, task: BatchTask, result: TaskResult, sent: dict[str, Any]) -> None:
        """Fill ``result`` from what the node sent, and unpack the task's folder and run record
        here: the folder into the batch's output, the record into this machine's runs."""
        folder = Path(result.folder)
        keep = {"id", "task", "folder", "seconds", "extra"}
        for key, value in sent["result"].items():
            if key not in keep:
                setattr(result, key, value)
        record_name = Path(result.run_record).name if result.run_record else ""
        with tarfile.open(fileobj=io.BytesIO(sent["files"]), mode="r:gz") as archive:
            members = archive.getmembers()
            _unpack(archive, [m for m in members if m.name.split("/")[0] == "task"], "task", folder)
            if record_name:
                target = _free(paths.runs_dir() / record_name)
                _unpack(archive, [m for m in members if m.name.split("/")[0] == "record"],
                        "record", target)
                result.run_record = str(target)
        if sent.get("error"):
            raise TracerError(sent["error"])


def died(exc: Exception) -> str:
    """The one line for a task whose worker or node died under it."""
    from ray import exceptions

    if isinstance(exc, exceptions.NodeDiedError):
        what = "the node running it died"
    elif isinstance(exc, exceptions.WorkerCrashedError):
        what = "the worker running it died"
    elif isinstance(exc, exceptions.OutOfMemoryError):
        what = "its worker was killed for lack of memory"
    else:
        what = f"Ray lost it ({type(exc).__name__})"
    return f"{what}; not run again (give --retries N to allow that)"


# ---- on the node -------------------------------------------------------------------------------

def run_on_node(fields: dict[str, Any], common: list[str], forward: dict[str, str],
                version: str, hub: Any) -> dict[str, Any]:
    """One task on the node this Ray worker runs on (the worker's main thread, which owns the
    sandbox and the run: they die with it). Returns the result's fields and a gzipped tar of
    the task's folder ("task/") and its run record ("record/"), then removes both here."""
    import ray

    task = BatchTask(**fields)
    node = node_label(ray)
    result = TaskResult(task.id, task.task, status="running", node=node)
    if version != __version__:
        return {"result": result.to_dict(), "files": _pack(None, None),
                "error": f"the node {node} runs tracer {__version__}, the batch {version} (install "
                         "the same tracer on every node)"}
    if ray.get(hub.stopped.remote()):
        result.status = "skipped"
        return {"result": result.to_dict(), "files": _pack(None, None)}
    hub.note.remote(task.id, f"on {node}")
    work = Path(tempfile.mkdtemp(prefix=f"tracer-{task.id}-"))  # 0700
    folder = work / task.id
    run = TaskRun(task, folder, common, {**os.environ, **forward},
                  lambda text: hub.note.remote(task.id, text), code_path=_code_path())
    done, lost = threading.Event(), threading.Event()
    threading.Thread(target=_watch_stop, args=(hub, run, done, lost), name="stop-watch",
                     daemon=True).start()
    error = ""
    try:
        run.run(result)
    except TracerError as exc:
        result.status, error = "error", str(exc)
    finally:
        done.set()
    if lost.is_set() and result.status == "stopped":  # nobody stopped it: say so
        result.reason = LOST
    try:
        record = Path(result.run_record) if result.run_record else None
        files = _pack(folder, record)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if record is not None and record.parent == paths.runs_dir():
        shutil.rmtree(record, ignore_errors=True)  # the driver keeps it now
    return {"result": result.to_dict(), "files": files, "error": error}


def node_label(ray: Any) -> str:
    """The node as the summary names it: its Ray node name (`ray start --node-name`, else its
    address) and the start of its id."""
    node_id = ray.get_runtime_context().get_node_id()
    name = next((n.get("NodeName", "") for n in ray.nodes() if n["NodeID"] == node_id), "")
    return f"{name or socket.gethostname()} ({node_id[:8]})"


def _watch_stop(hub: Any, run: TaskRun, done: threading.Event, lost: threading.Event) -> None:
    """Stop the run when the batch stops, or when the hub cannot be asked (``lost``): the
    driver is gone (its hub with it), or this node's Ray is (a raylet that died leaves its
    workers running a moment)."""
    import ray

    while not done.wait(POLL):
        try:
            stopped = ray.get(hub.stopped.remote(), timeout=10)
        except Exception:
            lost.set()
            stopped = True
        if stopped:
            run.stop()
            return


def _code_path() -> str | None:
    """Where this worker imported tracer from, for the run to import the same tracer (a
    checkout the driver runs from, put on the worker's path by Ray)."""
    root = str(Path(sys.modules["tracer_cli"].__file__ or "").resolve().parent.parent)
    return root if root not in ("", "/") else None


def _pack(folder: Path | None, record: Path | None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        if folder is not None and folder.is_dir():
            archive.add(folder, arcname="task")
        if record is not None and record.is_dir():
            archive.add(record, arcname="record")
    return buffer.getvalue()


def _unpack(archive: tarfile.TarFile, members: list[tarfile.TarInfo], prefix: str,
            target: Path) -> None:
    """Write the members under ``prefix/`` into ``target``, private (0700 folders, 0600
    files), refusing anything but plain files and folders inside it."""
    private.make_dir(target)
    root = target.resolve()
    for member in members:
        relative = member.name[len(prefix):].lstrip("/")
        if not relative:
            continue
        path = (target / relative).resolve()
        if root not in path.parents:
            continue
        if member.isdir():
            private.make_dir(path)
        elif member.isfile():
            private.make_dir(path.parent)
            source = archive.extractfile(member)
            if source is not None:
                private.write_bytes(path, source.read())


def _free(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... when a run record of that name is here already
    (runs of two nodes can start in the same second)."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate
