"""The Ray part of `tracer batch --ray` that needs no cluster: a task's "resources", the check
that every task fits on some node before anything is submitted, Ray's token mode for a process
joining a cluster, `tracer node start`'s `ray start` command, and a task folder sent back from
a node unpacked private and inside its place."""

from __future__ import annotations

import io
import json
import socket
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from tracer_cli import __version__
from tracer_cli.batch import cluster, node
from tracer_cli.batch.tasks import BatchTask, load
from tracer_cli.errors import ConfigError

NODES = [{"name": "a", "id": "1", "resources": {"display": 2.0, "CPU": 2.0}},
         {"name": "b", "id": "2", "resources": {"display": 1.0, "bigscreen": 1.0}}]


def test_a_task_says_what_it_needs_of_a_node(tmp_path: Path) -> None:
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"task": "x", "resources": {"bigscreen": 1}}) + "\n"
                    + json.dumps({"task": "y"}) + "\n")
    big, plain = load(path, set())
    assert cluster.needs(big) == {"display": 1.0, "bigscreen": 1.0}
    assert cluster.needs(plain) == {"display": 1.0}
    path.write_text(json.dumps({"task": "x", "resources": {"bigscreen": 0}}) + "\n")
    with pytest.raises(ConfigError, match=r"tasks.jsonl:1: \"resources\" must be an object"):
        load(path, set())


def test_every_task_must_fit_on_one_node_before_anything_is_submitted() -> None:
    cluster.check_placement([BatchTask("a", "x"), BatchTask("b", "y", resources={"bigscreen": 1})],
                            NODES)
    with pytest.raises(ConfigError) as caught:  # both exist, but not on one node
        cluster.check_placement([BatchTask("c", "z", resources={"CPU": 2, "bigscreen": 1})], NODES)
    assert str(caught.value).startswith("task 'c' needs display=1, CPU=2, bigscreen=1 on one node")
    with pytest.raises(ConfigError, match="no node of the Ray cluster has a display slot"):
        cluster.check_placement([BatchTask("a", "x")], [{"name": "h", "id": "0",
                                                         "resources": {"CPU": 8.0}}])


def test_token_mode_is_switched_on_only_where_a_token_is_and_no_mode_chosen(tmp_path: Path) -> None:
    token = tmp_path / "token"
    assert cluster.token_auth({"RAY_AUTH_TOKEN_PATH": str(token)}) == {"RAY_AUTH_TOKEN_PATH": str(token)}
    token.write_text("x" * 32)
    assert cluster.token_auth({"RAY_AUTH_TOKEN_PATH": str(token)})["RAY_AUTH_MODE"] == "token"
    assert cluster.token_auth({"RAY_AUTH_TOKEN": "t", "RAY_AUTH_MODE": "disabled"})[
        "RAY_AUTH_MODE"] == "disabled"


def test_node_start_advertises_display_slots_and_checks_its_resources() -> None:
    argv = node.start_argv(3, None, {"bigscreen": 1.0}, name="n1", port=6380, cpus=1)
    assert argv[1:] == ["start", "--head", "--include-dashboard", "false", "--port", "6380",
                        "--resources", '{"display": 3, "bigscreen": 1.0}', "--disable-usage-stats",
                        "--include-log-monitor", "false", "--num-cpus", "1", "--node-name", "n1"]
    joining = node.start_argv(2, "10.0.0.1:6379", {}, block=True)
    assert joining[1:4] == ["start", "--address", "10.0.0.1:6379"] and joining[-1] == "--block"
    assert node.parse_resources('{"gpu-box": 2}') == {"gpu-box": 2.0}
    for bad, message in (("{", "not JSON"), ('{"a": 0}', "above 0"), ('{"display": 1}', "--displays")):
        with pytest.raises(ConfigError, match=message):
            node.parse_resources(bad)


def test_what_a_node_sends_back_is_unpacked_private_and_inside_its_place(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (("task/state.json", b"{}"), ("task/sub/log.txt", b"hi"),
                           ("task/../../escape.txt", b"no")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    target = tmp_path / "out" / "t1"
    with tarfile.open(fileobj=buffer, mode="r:gz") as archive:
        cluster._unpack(archive, archive.getmembers(), "task", target)
    assert (target / "state.json").read_bytes() == b"{}"
    assert (target / "sub" / "log.txt").read_bytes() == b"hi"
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "out" / "escape.txt").exists()
    assert oct(target.stat().st_mode & 0o777) == "0o700"
    assert oct((target / "sub" / "log.txt").stat().st_mode & 0o777) == "0o600"


class FakeRay:
    """Stands in for the ray module where only the calls tracer makes matter: what ray.init was
    given, the nodes, the node a task runs on."""

    class exceptions:  # noqa: N801  (as ray.exceptions)
        class RayError(Exception):
            pass

    def __init__(self, fail: Exception | None = None) -> None:
        self.inits: list[dict[str, object]] = []
        self.fail = fail

    def init(self, **kwargs: object) -> None:
        self.inits.append(kwargs)
        if self.fail is not None:
            raise self.fail

    def nodes(self) -> list[dict[str, object]]:
        return [{"NodeID": "ab" * 28, "NodeName": "n1", "Alive": True,
                 "Resources": {"display": 4.0, "CPU": 2.0}},
                {"NodeID": "cd" * 28, "NodeName": "gone", "Alive": False, "Resources": {}}]

    def get_runtime_context(self) -> FakeRay:
        return self

    def get_node_id(self) -> str:
        return "ab" * 28


def test_a_local_instance_is_started_only_when_asked_and_never_with_a_dashboard(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRay()
    monkeypatch.setitem(sys.modules, "ray", fake)
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # (connect sets it where a token is)
    local = cluster.connect("local", displays=3)
    kwargs = fake.inits[-1]
    assert kwargs["address"] == "local"  # not None: that would join RAY_ADDRESS's cluster
    assert kwargs["resources"] == {"display": 3} and 1 <= kwargs["num_cpus"] <= 2  # type: ignore[operator]
    assert kwargs["include_dashboard"] is False and kwargs["log_to_driver"] is False
    assert local.local and [n["name"] for n in local.nodes] == ["n1"] and local.displays == 4
    joined = cluster.connect("auto")
    assert fake.inits[-1]["address"] == "auto" and "resources" not in fake.inits[-1]
    assert not joined.local


def test_a_cluster_that_cannot_be_reached_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", FakeRay(ConnectionError("Could not find any running "
                                                                    "Ray instance.\nmore")))
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(ConfigError) as caught:
        cluster.connect("auto")
    assert str(caught.value) == ("cannot join the Ray cluster at auto: Could not find any running "
                                 "Ray instance. (start one (tracer node start --displays N), give "
                                 "this machine the cluster's token (RAY_AUTH_TOKEN or "
                                 "~/.ray/auth_token), or run on this machine alone with --ray "
                                 "local)")


def test_a_node_with_another_tracer_version_fails_the_task_with_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", FakeRay())
    sent = cluster.run_on_node({"id": "t1", "task": "x"}, [], {}, "9.9.9", hub=None)
    assert sent["result"]["node"] == f"n1 ({'ab' * 4})"
    assert sent["error"] == (f"the node n1 ({'ab' * 4}) runs tracer {__version__}, the batch "
                             "9.9.9 (install the same tracer on every node)")


def test_a_head_where_nothing_listens_is_one_line_at_once_not_minutes_of_retries() -> None:
    with socket.socket() as sock:  # a port of ours that accepts no connection
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"cannot join the Ray cluster at 127.0.0.1:{port}: "
                                              r"nothing answers there"):
            cluster.reachable(f"127.0.0.1:{port}", timeout=2)
    with pytest.raises(ConfigError, match="'nonsense' is not an address"):
        cluster.reachable("nonsense")
    cluster.reachable("auto")  # Ray finds that one itself, and says at once when there is none


def test_a_ray_client_address_is_refused_with_what_to_give_instead() -> None:
    with pytest.raises(ConfigError) as caught:
        cluster.reachable("ray://10.0.0.1:10001")
    assert caught.value.args[0] == ("--ray 'ray://10.0.0.1:10001' is a Ray Client address, which "
                                    "tracer does not use")
    assert "--ray HOST:PORT" in str(caught.value) and "--ray auto" in str(caught.value)


def test_a_run_whose_node_cannot_ask_the_batch_any_more_stops_and_says_why(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", FakeRay())
    class Broken:  # the hub, as a worker sees it once its raylet or the driver is gone
        class stopped:  # noqa: N801
            @staticmethod
            def remote() -> None:
                raise ConnectionError("raylet gone")

    class Run:
        stops = 0

        def stop(self) -> None:
            self.stops += 1

    run, done, lost = Run(), threading.Event(), threading.Event()
    watcher = threading.Thread(target=cluster._watch_stop, args=(Broken, run, done, lost))
    watcher.start()
    watcher.join(timeout=5)
    assert not watcher.is_alive() and run.stops == 1 and lost.is_set()
