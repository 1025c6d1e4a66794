"""`tracer batch --ray` on a real two-node Ray cluster on this machine, started once for the
module with the real `tracer node start --block` (a head with two display slots, a second node
with two more and a resource only it has), each node with its own tracer data folder and
temporary folder, as two machines would have; stopped by the process groups of the two
commands. It starts in the background as the module begins, while the tests that need no
cluster (or only its head) run. Through the real `tracer batch --ray ADDRESS`: the bench
programs on the expert planner, placement, Ctrl-C with a task run again after its worker was
killed (--retries 1), a killed worker and a killed node without retries, then the kill hotkey,
a task no node can run; and `--ray` without Ray installed. Tests that start the same kind of
batch share one: each batch costs a driver, Ray workers, sandboxes and runs on a machine whose
two cores they keep busy."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pytest

from tests.chat_server import ChatServer
from tests.conftest import ROOT, Display, run_tracer
from tests.e2e.conftest import group_members, sandbox_records, stderr_until, wait_until, xdotool
from tests.e2e.test_batch_bench import EIGHT, expert_args, write_batch
from tests.e2e.test_batch_bench import batch_env as local_env
from tests.expert import Expert
from tests.llama_server import free_port
from tracer_cli.batch.runner import TaskResult
from tracer_cli.bench import suite

pytestmark = pytest.mark.display

READY = "will now block forever"
# The cluster's own token (Ray 2.60 authenticates every connection): the nodes and the drivers
# get it, as every machine of a real cluster would.
KEY = "sk-test-ray-3f9c1e7d"  # the model server's key, given only to the driver
AUTH = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "0123456789abcdef" * 4}


@dataclass
class Node:
    name: str
    home: Path  # its TRACER_HOME: sandbox records, run records before they are sent back
    tmp: Path  # its TMPDIR: Ray's session and the tasks' folders
    proc: subprocess.Popen[str]
    reader: threading.Thread | None = None


@dataclass
class RayCluster:
    address: str
    nodes: list[Node]

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def ready(self, *names: str) -> RayCluster:
        """Wait for the nodes named (all by default) to be up; the cluster starts in the
        background while the module's first tests run."""
        for node in self.nodes:
            if node.reader is None and (not names or node.name in names):
                node_ready(node)
        return self

    def sandboxes(self) -> list[dict[str, Any]]:
        return [r for n in self.nodes for r in sandbox_records(n.home)]

    def runs(self) -> list[Path]:
        """The run records on the nodes (a run's record stays there until it is sent back)."""
        return [p.parent for n in self.nodes for p in (n.home / "runs").glob("*/run.json")]


def start_node(name: str, args: list[str], root: Path) -> Node:
    """`tracer node start --block` in a process group of its own; not waited for (see
    node_ready). It offers Ray no CPU: a task that asked for one would never start."""
    home, tmp = root / f"{name}-home", root / f"{name}-tmp"
    home.mkdir()
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY" and not k.startswith("RAY_")}
    env.update(TRACER_HOME=str(home), TMPDIR=str(tmp), TRACER_RUNTIME_DIR=str(tmp / "run"), **AUTH)
    proc = subprocess.Popen([sys.executable, "-m", "tracer_cli", "node", "start", "--block",
                             "--name", name, "--cpus", "0", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, process_group=0)
    return Node(name, home, tmp, proc)


def node_ready(node: Node, timeout: float = 120) -> None:
    """Wait for the line `ray start --block` prints once the node is up; then keep reading its
    output on a thread, so that a full pipe never blocks it."""
    stream = node.proc.stdout
    assert stream is not None
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            if not found.is_set():
                seen.append(line)
                if READY in line:
                    found.set()

    node.reader = threading.Thread(target=read, name=f"ray-{node.name}", daemon=True)
    node.reader.start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.1):
        if node.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"the Ray node {node.name} did not start:\n" + "".join(seen[-30:]))


def stop_node(node: Node) -> None:
    """The node's processes (ray start, GCS, raylet, its agents) share the group of the
    command: killed together (no task runs by then; Ray's graceful stop takes seconds). Its
    workers, each in a group of its own, end when their raylet does."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.proc.pid, signal.SIGKILL)
    wait_until(lambda: group_members(node.proc.pid) == [], 30, f"the Ray node {node.name} to end")
    with contextlib.suppress(subprocess.TimeoutExpired):
        node.proc.wait(timeout=5)
    if node.reader is not None:
        node.reader.join(timeout=5)
    if node.proc.stdout is not None:
        node.proc.stdout.close()


@pytest.fixture(scope="module", autouse=True)
def ray_nodes() -> Iterator[RayCluster]:
    """Starts the cluster as the module begins and does not wait for it: the first tests need
    no cluster, or only its head (see RayCluster.ready)."""
    root = Path(tempfile.mkdtemp(prefix="trray-"))  # short: Ray's socket paths live under it
    port = free_port()
    nodes: list[Node] = []
    address = f"127.0.0.1:{port}"
    try:  # both at once: the second node waits for the head's GCS by itself
        nodes.append(start_node("head", ["--displays", "2", "--port", str(port), "--resources",
                                          '{"front": 2}'], root))
        nodes.append(start_node("second", ["--displays", "2", "--resources", '{"bigscreen": 1}',
                                            "--address", address], root))
        yield RayCluster(address, nodes)
    finally:
        for node in reversed(nodes):
            stop_node(node)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def ray_cluster(ray_nodes: RayCluster) -> RayCluster:
    return ray_nodes.ready()


class NodeExpert(Expert):
    """The expert, reading each program's state where the node running it keeps it."""

    def __init__(self, cluster: RayCluster, tasks: dict[str, str]) -> None:
        super().__init__(Path("/nonexistent"), tasks)
        self.cluster = cluster

    def folder(self, ident: str) -> Path:
        for node in self.cluster.nodes:
            for found in node.tmp.glob(f"tracer-{ident}-*/{ident}"):
                return found
        return Path("/nonexistent")


@pytest.fixture
def node_expert(ray_cluster: RayCluster) -> Iterator[ChatServer]:
    server = ChatServer().start()
    server.responder = NodeExpert(ray_cluster, {t.task: t.id for t in suite.tasks()})
    try:
        yield server
    finally:
        server.stop()


def batch_env(tracer_home: Path) -> dict[str, str]:
    """A driver's environment: no DISPLAY, its own tracer data folder, the cluster's token."""
    return {**local_env(tracer_home), **AUTH}


def waits_script(path: Path, seconds: float = 1, count: int = 200) -> Path:
    wait = json.dumps({"thought": "", "trajectory": [{"action": "wait", "seconds": seconds}]})
    path.write_text((wait + "\n") * count)
    return path


def slow_task(ident: str, script: Path, **extra: Any) -> str:
    return json.dumps({"id": ident, "task": "wait for ever", "apps": ["xterm"], "max_steps": 100,
                       "options": {"backend": "script", "script": str(script)}, **extra})


def start_batch(tasks: Path, out: Path, address: str, env: dict[str, str],
                *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tracer_cli", "batch", str(tasks), "--ray",
                             address, "--out", str(out), *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_without_ray_installed_the_ray_commands_say_what_to_install(tmp_path: Path,
                                                             tracer_home: Path) -> None:
    """(First in the module: it runs while the cluster starts.)"""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "ray.py").write_text("raise ImportError('no ray here')\n")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task": "x"}) + "\n")
    env = {**batch_env(tracer_home), "PYTHONPATH": str(shadow)}
    for command in (["batch", str(tasks)], ["bench", "--tasks", "button"]):
        result = run_tracer(*command, "--ray", "local", "--out", str(tmp_path / command[0]),
                            env=env, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == ("tracer: error: running a batch on a Ray cluster needs "
                                         "Ray, which is not installed (install it: pip install "
                                         "'tracer-cli[ray]')")
    result = run_tracer("node", "start", "--displays", "2", env=env, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith("(install it: pip install 'tracer-cli[ray]')")



def test_a_task_no_node_can_run_fails_at_once_with_one_line(
        ray_nodes: RayCluster, tmp_path: Path, tracer_home: Path) -> None:
    ray_cluster = ray_nodes.ready("head")  # what no node has, the head alone does not have
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"id": "gpu", "task": "x", "resources": {"gpu-box": 1}}) + "\n")
    result = run_tracer("batch", str(tasks), "--ray", ray_cluster.address, "--out",
                        str(tmp_path / "out"), env=batch_env(tracer_home), timeout=120)
    assert result.returncode == 2, result.stderr
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert errors == ["tracer: error: task 'gpu' needs display=1, gpu-box=1 on one node, and no "
                      "node of the Ray cluster has that (start a node with it: tracer node "
                      "start --displays N --resources '{\"NAME\": AMOUNT}', or change the "
                      "task's \"resources\")"], result.stderr
    assert "Traceback" not in result.stderr



def test_eight_tasks_on_two_nodes_all_succeed_as_with_parallel_and_land_where_they_fit(
        ray_cluster: RayCluster, node_expert: ChatServer, tmp_path: Path,
        tracer_home: Path) -> None:
    tasks = write_batch(tmp_path / "tasks.jsonl", EIGHT)
    lines = tasks.read_text().splitlines()  # the last needs what only the second node has
    lines[-1] = json.dumps({**json.loads(lines[-1]), "resources": {"bigscreen": 1}})
    tasks.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    node_expert.api_key = KEY  # the nodes do not have it: only the driver's environment does
    result = run_tracer("batch", str(tasks), "--ray", ray_cluster.address, "--out", str(out),
                        "--json", *expert_args(node_expert), timeout=600,
                        env={**batch_env(tracer_home), "OPENAI_API_KEY": KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary == json.loads((out / "summary.json").read_text())
    rows = summary["tasks"]
    # the same rows as a batch on this machine (test_batch_bench's --parallel test asks the same)
    assert [r["id"] for r in rows] == EIGHT
    assert all(set(r) == {f.name for f in fields(TaskResult)} for r in rows)
    assert all(r["success"] and r["exit_code"] == 0 and r["check_exit_code"] == 0 for r in rows), rows
    for r in rows:
        assert r["steps"] >= 1 and r["model_calls"] == r["steps"]  # --replan always
        record = Path(r["run_record"])
        assert record.parent == tracer_home / "runs"  # sent back to the driver's data folder
        meta = json.loads((record / "run.json").read_text())
        assert meta["status"] == "done" and meta["task"] == r["task"]
        assert oct(record.stat().st_mode & 0o777) == "0o700"
        assert oct((record / "run.json").stat().st_mode & 0o777) == "0o600"
        assert r["folder"] == str(out / r["id"]) and (out / r["id"] / "state.json").is_file()
    nodes = {r["node"].split()[0] for r in rows}
    assert nodes == {"head", "second"}, [r["node"] for r in rows]  # both nodes worked
    assert rows[-1]["node"].startswith("second (")  # it needed the second node's resource
    assert summary["ray"]["address"] == ray_cluster.address
    assert sorted(n["name"] for n in summary["ray"]["nodes"]) == ["head", "second"]
    assert "xauthority" not in (result.stdout + result.stderr).lower()
    assert KEY not in result.stdout + result.stderr  # the key reached every run, and no log:
    for place in (out, tracer_home, *(n.tmp for n in ray_cluster.nodes),  # Ray's logs there
                  *(n.home for n in ray_cluster.nodes)):
        assert [f for f in place.rglob("*") if f.is_file() and KEY.encode() in f.read_bytes()] == []
    assert ray_cluster.sandboxes() == []
    for node in ray_cluster.nodes:  # the nodes keep no run record: the driver has them
        assert not list((node.home / "runs").glob("*")) if (node.home / "runs").is_dir() else True
    print(f"\nbatch of 8 bench tasks on two Ray nodes (4 display slots): {summary['seconds']:.1f}s")



def test_bench_on_the_cluster_scores_from_what_the_nodes_sent_back(
        ray_cluster: RayCluster, node_expert: ChatServer, tmp_path: Path,
        tracer_home: Path) -> None:
    out = tmp_path / "out"
    result = run_tracer("bench", "--tasks", "button", "--ray", ray_cluster.address, "--out",
                        str(out), "--json", *expert_args(node_expert), env=batch_env(tracer_home),
                        timeout=300)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    bench = summary["bench"]  # read from the programs' state files, sent back by the node
    assert bench["tasks_run"] == 1 and bench["success_rate"] == 1.0, bench
    assert bench["grounding_error"]["presses"] >= 1 and bench["grounding_error"]["max"] <= 2.0
    assert summary["tasks"][0]["node"] and summary["ray"]["address"] == ray_cluster.address



def worker_and_run(box: dict[str, Any]) -> tuple[int, int]:
    """The Ray worker running a sandbox's task (the parent of its Xvfb), and the task's
    `tracer do` (a child of the same worker)."""
    worker = int(Path(f"/proc/{box['pgid']}/stat").read_text().rsplit(")", 1)[1].split()[1])
    run = [p for p in children(worker) if b"tracer_cli\x00do" in
           Path(f"/proc/{p}/cmdline").read_bytes()]
    assert len(run) == 1, run
    return worker, run[0]


def running_on(node: Node) -> list[dict[str, Any]]:
    """The node's sandboxes with their apps, once a run has begun there (its record is written)."""
    if not list((node.home / "runs").glob("*/run.json")):
        return []
    return sorted((r for r in sandbox_records(node.home) if r.get("apps")),
                  key=lambda r: r["pgid"])


def kill_node(node: Node) -> None:
    """Kill every process of the node at once, as when its machine dies: its group (ray,
    raylet, agents) and then, before they notice, its workers (the raylet's children, each in
    a group of its own)."""
    raylet = next(p for p in group_members(node.proc.pid)
                  if b"raylet/raylet" in Path(f"/proc/{p}/cmdline").read_bytes())
    workers = children(raylet)
    os.killpg(node.proc.pid, signal.SIGKILL)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def forget_leftovers(cluster: RayCluster) -> None:
    """What a killed worker could not send back or clean stays on its node: the run record
    and the sandbox's record (its processes are gone); removed for the next tests."""
    for run in cluster.runs():
        shutil.rmtree(run)
    for node in cluster.nodes:
        for record in (node.home / "sandboxes").glob("*.json"):
            record.unlink()


def test_ctrl_c_stops_every_task_on_every_node_and_retries_run_again_a_task_whose_worker_died(
        ray_cluster: RayCluster, tmp_path: Path, tracer_home: Path) -> None:
    """--retries 1: a task whose worker is killed runs again; then Ctrl-C stops the runs on
    both nodes, keeps their records and leaves no process."""
    script = waits_script(tmp_path / "waits.jsonl")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(slow_task("front", script, resources={"front": 1}) + "\n"
                     + slow_task("big", script, resources={"bigscreen": 1}) + "\n")
    head = ray_cluster.node("head")
    proc = start_batch(tasks, tmp_path / "out", ray_cluster.address, batch_env(tracer_home),
                       "--retries", "1")
    try:
        wait_until(lambda: all(running_on(n) for n in ray_cluster.nodes), 120, "a run on each node")
        first = running_on(head)[0]
        worker, killed_run = worker_and_run(first)
        os.kill(worker, signal.SIGKILL)
        wait_until(lambda: len(ray_cluster.runs()) == 3 and [
            r for r in running_on(head) if r["pgid"] != first["pgid"]], 120, "front to run again")
        assert group_members(first["pgid"]) == [] and not alive(killed_run)  # died with the worker
        boxes = [r for r in ray_cluster.sandboxes() if r["pgid"] != first["pgid"]]
        assert len(boxes) == 2
        runs = [worker_and_run(box)[1] for box in boxes]
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
        took = time.monotonic() - began
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert took < 20, f"Ctrl-C took {took:.1f}s"
    assert "--retries 1" in stderr and "Traceback" not in stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["interrupted"] is True and summary["ray"]["retries"] == 1
    for row in summary["tasks"]:  # front's second run; big's only one
        assert row["status"] == "stopped" and row["exit_code"] == 130, row
        assert row["run_status"] == "interrupted"  # each run ended as after Ctrl-C, record kept
        assert Path(row["run_record"], "run.json").is_file()
    for box in boxes:  # Xvfb, openbox and xterm of each sandbox
        assert group_members(box["pgid"]) == []
    assert not any(alive(pid) for pid in runs)  # the `tracer do` runs
    assert len(ray_cluster.runs()) == 1  # front's first run could not send its record back
    print(f"\nCtrl-C to the driver's exit, two tasks on two nodes: {took:.1f}s")
    forget_leftovers(ray_cluster)


def test_a_killed_worker_or_node_fails_its_task_with_the_reason_and_the_kill_hotkey_stops_the_rest(
        ray_cluster: RayCluster, display: Display, tmp_path: Path, tracer_home: Path) -> None:
    """No --retries: a task whose worker is killed and one whose whole node is killed fail with
    the reason, leave no process and do not run again; then the kill hotkey on the driver's
    display stops the task still running. Last in the module: the second node dies in it.
    (Killed on this machine, the node's connections are refused at once and Ray knows it dead
    without waiting for its health checks, as it would not for a machine gone from the
    network: see the README.)"""
    script = waits_script(tmp_path / "waits.jsonl")
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("\n".join(slow_task(ident, script, task=f"wait: {ident}", resources={res: 1})
                               for ident, res in (("worker", "front"), ("node", "bigscreen"),
                                                  ("hotkey", "front"))) + "\n")
    head, second = ray_cluster.node("head"), ray_cluster.node("second")
    env = {**batch_env(tracer_home), "DISPLAY": display.name}  # the user's desktop: its hotkey
    proc = start_batch(tasks, tmp_path / "out", ray_cluster.address, env)
    try:
        wait_until(lambda: len(running_on(head)) == 2 and running_on(second)
                   and len(ray_cluster.runs()) == 3, 120, "the three runs")
        by_task = {}
        for box in ray_cluster.sandboxes():
            worker, run = worker_and_run(box)
            ident = Path(f"/proc/{run}/cmdline").read_bytes().split(b"\0")[4].decode()[6:]
            by_task[ident] = (box["pgid"], worker, run)
        assert sorted(by_task) == ["hotkey", "node", "worker"]
        os.kill(by_task["worker"][1], signal.SIGKILL)
        kill_node(second)
        began = time.monotonic()
        seen = stderr_until(proc, "[2/3]")  # both failed: the batch goes on with the third
        took = time.monotonic() - began
        assert proc.poll() is None
        xdotool(display, "key", "ctrl+alt+shift+k")
        _, rest = proc.communicate(timeout=60)
        stderr = "".join(seen) + rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert "kill switch armed: press ctrl+alt+shift+k to stop the batch" in stderr
    assert "Traceback" not in stderr
    rows = {r["id"]: r for r in json.loads((tmp_path / "out" / "summary.json").read_text())["tasks"]}
    assert rows["worker"]["status"] == "error" and not rows["worker"]["success"]
    assert rows["worker"]["reason"] == ("the worker running it died; not run again (give "
                                        "--retries N to allow that)")
    assert rows["node"]["status"] == "error" and not rows["node"]["success"]
    assert rows["node"]["reason"] == ("the node running it died; not run again (give "
                                      "--retries N to allow that)")
    hotkey = rows["hotkey"]  # stopped as by Ctrl-C, its record sent back
    assert hotkey["status"] == "stopped" and hotkey["exit_code"] == 130, hotkey
    assert hotkey["run_status"] == "interrupted" and Path(hotkey["run_record"], "run.json").is_file()
    assert took < 20, f"the failures took {took:.1f}s to be known"
    wait_until(lambda: all(group_members(pgid) == [] and not alive(run)
                           for pgid, _, run in by_task.values()), 30,
               "the sandboxes and the runs to end with their worker or node")
    assert len(ray_cluster.runs()) == 2  # the killed tasks ran once: no silent re-run
    print(f"\na worker and a node killed: both tasks failed {took:.1f}s later")
