"""Benchmark: the eight bench tasks of tests/e2e/test_batch_bench.py through the real `tracer
batch` on the expert planner: one at a time (`--parallel 1`), then three ways with four
sandboxes at a time: `--parallel 4` on this machine, `--ray` on one Ray node with 4 display
slots, `--ray` on two nodes (2 + 2 slots) both on this machine. Prints each batch's wall time
(the summary's `seconds`: the first task's start to the last one's end) and the command's whole
time (Ray's connection included), per run, and how long the cluster took to start.

On one machine the two nodes share its cores: the figure is what spreading a batch over nodes
costs, not what more machines would gain.

    python tests/benchmarks/batch_ray.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.chat_server import ChatServer  # noqa: E402
from tests.conftest import run_tracer  # noqa: E402
from tests.e2e.test_batch_bench import EIGHT, expert_args, write_batch  # noqa: E402
from tests.e2e.test_batch_bench import batch_env as local_env  # noqa: E402
from tests.e2e.test_batch_ray import (  # noqa: E402
    AUTH,
    NodeExpert,
    RayCluster,
    node_ready,
    start_node,
    stop_node,
)
from tests.expert import Expert  # noqa: E402
from tests.llama_server import free_port  # noqa: E402
from tracer_cli.bench import suite  # noqa: E402


def one_batch(server: ChatServer, root: Path, label: str, args: list[str]) -> tuple[float, float]:
    home = root / f"{label}-home"
    out = root / f"{label}-out"
    tasks = write_batch(root / f"{label}.jsonl", EIGHT)
    if isinstance(server.responder, Expert) and not isinstance(server.responder, NodeExpert):
        server.responder.out = out
    began = time.monotonic()
    result = run_tracer("batch", str(tasks), "--out", str(out), "--json", *args,
                        *expert_args(server), env={**local_env(home), **AUTH}, timeout=900)
    whole = time.monotonic() - began
    if result.returncode != 0:
        raise SystemExit(f"{label}: exit code {result.returncode}\n{result.stderr}")
    summary = json.loads(result.stdout)
    assert summary["succeeded"] == 8, summary
    return summary["seconds"], whole


STARTS: dict[str, float] = {}  # the cluster's start, up to its last node ready, per set-up


def on_cluster(root: Path, nodes_args: list[tuple[str, list[str]]], label: str,
               runs: int) -> list[tuple[float, float]]:
    began = time.monotonic()
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = []
    try:
        for name, args in nodes_args:
            extra = ["--port", str(port)] if name == "head" else ["--address", address]
            nodes.append(start_node(name, [*args, *extra], root))
        for node in nodes:
            node_ready(node)
        STARTS[label] = time.monotonic() - began
        cluster = RayCluster(address, nodes)
        server = ChatServer().start()
        server.responder = NodeExpert(cluster, {t.task: t.id for t in suite.tasks()})
        try:
            return [one_batch(server, root, f"{label}{n}", ["--ray", address]) for n in range(runs)]
        finally:
            server.stop()
    finally:
        for node in nodes:
            stop_node(node)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    runs = parser.parse_args().runs
    os.environ.pop("DISPLAY", None)
    figures: dict[str, list[tuple[float, float]]] = {}
    for label in ("parallel 1", "parallel", "one-node", "two-nodes"):
        root = Path(tempfile.mkdtemp(prefix="trb-"))
        try:
            if label.startswith("parallel"):
                server = ChatServer().start()
                server.responder = Expert(root, {t.task: t.id for t in suite.tasks()})
                slots = "1" if label == "parallel 1" else "4"
                try:
                    figures[label] = [one_batch(server, root, f"p{slots}-{n}", ["--parallel", slots])
                                      for n in range(runs)]
                finally:
                    server.stop()
            elif label == "one-node":
                figures[label] = on_cluster(root, [("head", ["--displays", "4"])], "one", runs)
            else:
                figures[label] = on_cluster(root, [("head", ["--displays", "2"]),
                                                   ("second", ["--displays", "2"])], "two", runs)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"8 bench tasks (4 at a time but for parallel 1), expert planner, {os.cpu_count()} "
          f"cores, {runs} runs each")
    for label, rows in figures.items():
        walls = ", ".join(f"{w:.1f}" for w, _ in rows)
        wholes = ", ".join(f"{c:.1f}" for _, c in rows)
        print(f"{label:10} batch wall time {walls} s; whole command {wholes} s")
    print(f"cluster start (nodes started together): one node {STARTS['one']:.1f} s, two nodes "
          f"{STARTS['two']:.1f} s")


if __name__ == "__main__":
    main()
