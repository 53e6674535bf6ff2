"""``python -m pyredis_cluster cluster start|stop|status``: real processes, real clients.

Each test runs the CLI as a subprocess on a port range found free by probing, and
checks by PID that no node process is left behind.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest
from redis.cluster import ClusterNode, RedisCluster

from pyredis_cluster.localcluster import PID_FILE, pid_state
from tests.support import wait_until

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE = 90.0  # generous: the machine is small and shared


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base_port(count: int) -> int:
    """A base port such that base .. base+count-1 and their bus ports (+10000) are free."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 55000 - count)
        if all(port_free(p) and port_free(p + 10000) for p in range(base, base + count)):
            return base
    raise RuntimeError("no free port range found")


def cli(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    return subprocess.Popen([sys.executable, "-m", "pyredis_cluster", "cluster", *args], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)  # type: ignore[call-overload]  # fmt: skip


def run_cli(*args: str, timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    proc = cli(*args)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"cluster {' '.join(args)} did not finish:\n{out}\n{err}") from None
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def read_until_ready(proc: subprocess.Popen[str]) -> str:
    """The foreground CLI's output up to its "Press Ctrl-C" line (the cluster is ready then)."""
    output: list[str] = []
    assert proc.stdout is not None and proc.stderr is not None
    while not any("Ctrl-C" in line for line in output):
        line = proc.stdout.readline()  # bounded: the CLI gives up after its own --timeout
        if not line:
            raise AssertionError(f"the CLI exited early: {''.join(output)}{proc.stderr.read()}")
        output.append(line)
    return "".join(output)


def node_pids(directory: str) -> list[int]:
    with open(os.path.join(directory, PID_FILE), encoding="utf-8") as handle:
        return [int(node["pid"]) for node in json.load(handle)["nodes"]]


def gone(pid: int) -> bool:
    """No such process (or a zombie nobody reaped yet: it runs nothing and holds no socket)."""
    return pid_state(pid) in (None, "Z")


@pytest.fixture
def cluster_dir() -> Iterator[str]:
    directory = tempfile.mkdtemp(prefix="localcluster-")
    pids: list[int] = []
    try:
        yield directory
    finally:
        # If a test failed half-way, stop what the CLI left running (only those PIDs).
        if os.path.exists(os.path.join(directory, PID_FILE)):
            pids = node_pids(directory)
            run_cli("stop", "--dir", directory)
        shutil.rmtree(directory, ignore_errors=True)
        assert all(gone(pid) for pid in pids)


def test_start_in_foreground_serves_clients_and_ctrl_c_stops_every_node(cluster_dir: str) -> None:
    base = free_base_port(6)
    proc = cli("start", "--nodes", "6", "--replicas", "1", "--port", str(base), "--dir", cluster_dir,
               "--node-timeout", "3000")  # fmt: skip
    try:
        text = read_until_ready(proc)
        assert f"redis-cli -c -p {base}" in text and "RedisCluster(" in text and "node.log" in text
        pids = node_pids(cluster_dir)
        assert len(pids) == 6 and not any(gone(pid) for pid in pids)
        for port in range(base, base + 6):
            assert os.path.exists(os.path.join(cluster_dir, str(port), "node.log"))

        # redis-cli -c follows the redirections; every node answers for every key.
        set_reply = subprocess.run(["redis-cli", "-c", "-p", str(base), "SET", "greeting", "hello"],
                                   capture_output=True, text=True, timeout=30)  # fmt: skip
        assert set_reply.stdout.strip() == "OK"
        for port in (base + 1, base + 2):
            get_reply = subprocess.run(["redis-cli", "-c", "-p", str(port), "GET", "greeting"],
                                       capture_output=True, text=True, timeout=30)  # fmt: skip
            assert get_reply.stdout.strip() == "hello"

        client = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", base)])
        try:
            assert len(client.get_primaries()) == 3
            for i in range(200):
                client.set(f"key:{i}", i)
            assert [int(client.get(f"key:{i}")) for i in range(200)] == list(range(200))
            client.mset_nonatomic({"{tag}a": "1", "{tag}b": "2"})
            assert client.mget("{tag}a", "{tag}b") == [b"1", b"2"]
        finally:
            client.close()

        proc.send_signal(signal.SIGINT)  # what Ctrl-C in the terminal does
        out, err = proc.communicate(timeout=DEADLINE)
        assert proc.returncode == 0, err
        assert "All nodes stopped." in out
        assert all(gone(pid) for pid in pids)
        assert not os.path.exists(os.path.join(cluster_dir, PID_FILE))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_detach_then_status_stop_and_restart_from_nodes_conf(cluster_dir: str) -> None:
    base = free_base_port(3)
    common = ("--nodes", "3", "--replicas", "0", "--port", str(base), "--dir", cluster_dir)
    started = run_cli("start", *common, "--detach")
    assert started.returncode == 0, started.stderr
    assert "cluster stop" in started.stdout
    pids = node_pids(cluster_dir)
    assert len(pids) == 3 and not any(gone(pid) for pid in pids)

    status = run_cli("status", "--dir", cluster_dir)
    assert status.returncode == 0, status.stdout
    rows = [line.split() for line in status.stdout.splitlines()[1:]]
    assert [(row[0], row[2], row[3], row[4]) for row in rows] == [
        (str(port), "running", "primary", "ok") for port in range(base, base + 3)
    ]

    # A second start on the same directory is refused while the first runs.
    again = run_cli("start", *common, "--detach")
    assert again.returncode == 1 and "still running" in again.stderr

    stopped = run_cli("stop", "--dir", cluster_dir)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: all(gone(pid) for pid in pids), timeout=10, what="the nodes to exit")
    assert run_cli("status", "--dir", cluster_dir).returncode == 1  # nothing recorded any more

    # Started again on the same directory (in the foreground this time), the nodes come
    # back from their nodes.conf; `cluster stop` from elsewhere asks the supervisor to stop.
    supervisor = cli("start", *common)
    try:
        banner = read_until_ready(supervisor)
        assert "Restarting" in banner and "slots 0-5460" in banner
        new_pids = node_pids(cluster_dir)
        assert run_cli("stop", "--dir", cluster_dir).returncode == 0
        out, err = supervisor.communicate(timeout=DEADLINE)
        assert supervisor.returncode == 0, err
        assert "All nodes stopped." in out
        assert all(gone(pid) for pid in new_pids)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()


def test_busy_port_is_refused_before_anything_starts(cluster_dir: str) -> None:
    base = free_base_port(3)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", base + 1 + 10000))  # a bus port
        squatter.listen()
        result = run_cli("start", "--nodes", "3", "--replicas", "0", "--port", str(base), "--dir", cluster_dir)
    assert result.returncode == 1
    assert f"{base + 1 + 10000} (cluster bus port)" in result.stderr and "already in use" in result.stderr
    assert not os.path.exists(os.path.join(cluster_dir, PID_FILE))
    assert not os.path.exists(os.path.join(cluster_dir, str(base)))  # no node was started


def test_impossible_layout_is_refused() -> None:
    result = run_cli("start", "--nodes", "4", "--replicas", "1", "--port", "7000", "--dir", "/nonexistent/x")
    assert result.returncode == 1 and "at least 3 primaries" in result.stderr


def test_stop_without_a_cluster_says_so(cluster_dir: str) -> None:
    result = run_cli("stop", "--dir", cluster_dir)
    assert result.returncode == 1 and "No cluster" in result.stdout
