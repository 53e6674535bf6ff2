"""Cluster nodes as real processes, for the cluster integration tests.

Theory of operation
-------------------
Each node (ours: ``python -m pyredis_cluster``; real: ``redis-server`` 7.0) runs as
its own process, started with ``subprocess.Popen`` and no shell, so the PID we hold
is the server's own and the only one we ever signal. Every node gets:

* a port from :func:`tests.support.free_cluster_port` (its bus port, port + 10000,
  is free and in range too);
* its own temp directory (nodes.conf and the log live there; removed at the end);
* ``cluster-enabled yes`` and a short ``cluster-node-timeout``, so failure detection
  happens in a few seconds.

:func:`cluster_nodes` is the context manager the tests use: it starts the nodes in
parallel, waits until every one answers PING, yields them, and stops them (SIGCONT
first, in case a test left one stopped; then SIGTERM, then SIGKILL) even when the test
fails. A node's log is printed on failure of the wait helpers to make the cause visible.

The wait helpers poll a condition until a deadline (generous: the test machine is
small and busy); there are no fixed sleeps.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyredis_cluster.protocol.encoder import ErrorReply
from tests.support import RawClient, free_cluster_port, python_module_cmd, require_redis_binaries

#: Short enough that PFAIL/FAIL happen within seconds, long enough for a busy 2-core box.
NODE_TIMEOUT_MS = 3000
#: Deadline for anything the tests wait on (starts, convergence, failure detection).
DEADLINE = 60.0
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class NodeDied(AssertionError):
    pass


@dataclass
class ClusterProc:
    """One cluster node process (ours or a real redis-server)."""

    kind: str  # "ours" or "real"
    port: int
    directory: str
    args: list[str]
    process: subprocess.Popen[bytes] | None = None
    stopped: bool = False  # SIGSTOPped by the test
    _clients: list[RawClient] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, "node.log")

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, env=env
            )

    def wait_ready(self, timeout: float = DEADLINE) -> None:
        def ready() -> bool:
            self.check_alive()
            with RawClient(self.port, timeout=5) as raw:
                return raw.call("PING") == "PONG"

        wait(ready, timeout, f"{self.kind} node on port {self.port} to answer PING", nodes=[self])

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise NodeDied(f"{self.kind} node on port {self.port} exited with {self.process.returncode}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Stop the process by its PID (SIGTERM, then SIGKILL), keep its directory."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        if self.stopped:
            self.sigcont()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop and start again with the same port and directory (so the same nodes.conf)."""
        self.stop()
        self.start()
        self.wait_ready()

    def sigstop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.stopped = False

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- talking to it --------------------------------------------------------------------

    def call(self, *args: bytes | str | int) -> Any:
        """One command on a fresh connection; the decoded reply value."""
        with RawClient(self.port, timeout=20) as raw:
            return raw.call(*args)

    def raw(self, *args: bytes | str | int) -> bytes:
        with RawClient(self.port, timeout=20) as raw:
            return raw.raw(*args)

    def connect(self) -> RawClient:
        """A connection kept open until the node is stopped."""
        client = RawClient(self.port, timeout=20)
        self._clients.append(client)
        return client

    def text(self, *args: bytes | str | int) -> str:
        """A bulk/verbatim text reply (CLUSTER NODES, INFO ...) as str."""
        value = self.call(*args)
        if isinstance(value, ErrorReply):
            raise AssertionError(f"{args} on {self.address}: {value}")
        value = getattr(value, "text", value)
        return value.decode() if isinstance(value, bytes) else str(value)

    def myid(self) -> str:
        return self.text("CLUSTER", "MYID")

    def cluster_info(self) -> dict[str, str]:
        return dict(line.split(":", 1) for line in self.text("CLUSTER", "INFO").split("\r\n") if ":" in line)

    def nodes_lines(self) -> list[list[str]]:
        return [line.split(" ") for line in self.text("CLUSTER", "NODES").splitlines() if line]


def _our_args(port: int, directory: str, node_timeout: int, extra: Sequence[str]) -> list[str]:
    return python_module_cmd(
        "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--cluster-enabled", "yes",
        "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", str(node_timeout),
        "--save", "", "--appendonly", "no", "--enable-debug-command", "yes", *extra,
    )  # fmt: skip


def _real_args(port: int, directory: str, node_timeout: int, extra: Sequence[str]) -> list[str]:
    return [
        require_redis_binaries(), "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
        "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-node-timeout", str(node_timeout), "--save", "", "--appendonly", "no",
        "--enable-debug-command", "yes", *extra,
    ]  # fmt: skip


def new_node(kind: str, node_timeout: int = NODE_TIMEOUT_MS, extra: Sequence[str] = ()) -> ClusterProc:
    port = free_cluster_port()
    directory = tempfile.mkdtemp(prefix=f"cluster-{kind}-{port}-")
    build = _our_args if kind == "ours" else _real_args
    return ClusterProc(kind, port, directory, build(port, directory, node_timeout, extra))


@contextmanager
def cluster_nodes(
    ours: int = 0, real: int = 0, node_timeout: int = NODE_TIMEOUT_MS, extra: Sequence[str] = ()
) -> Iterator[list[ClusterProc]]:
    """Start ``ours`` nodes of ours then ``real`` redis-servers; stop them all afterwards."""
    nodes = [new_node("ours", node_timeout, extra) for _ in range(ours)]
    nodes += [new_node("real", node_timeout, extra) for _ in range(real)]
    with ExitStack() as cleanup:
        for node in nodes:
            cleanup.callback(shutil.rmtree, node.directory, ignore_errors=True)
            cleanup.callback(node.stop)
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        yield nodes


# -- waiting --------------------------------------------------------------------------------


def wait(
    condition: Callable[[], Any], timeout: float = DEADLINE, what: str = "a condition",
    nodes: Sequence[ClusterProc] = (),
) -> Any:  # fmt: skip
    """Poll ``condition`` until truthy; on timeout fail with ``what`` and the nodes' logs."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    last_error: BaseException | None = None
    while True:
        try:
            result = condition()
        except NodeDied:
            raise
        except (OSError, ConnectionError, AssertionError, ValueError) as err:
            result, last_error = None, err
        if result:
            return result
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {n.kind} {n.address} ---\n{n.log_tail()}" for n in nodes)
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})\n{logs}")
        time.sleep(delay)  # back-off between polls, not a wait for an effect
        delay = min(delay * 1.5, 0.25)


def slot_signature(node: ClusterProc) -> str:
    """redis-cli's config signature (client-contract.md §1.1.5) of one node's CLUSTER NODES."""
    entries = []
    for fields in node.nodes_lines():
        if len(fields) > 8:
            tokens = sorted(t for t in fields[8:] if not t.startswith("["))
            entries.append(f"{fields[0]}:{','.join(tokens)}")
    return "|".join(sorted(entries))


def wait_cluster_ok(nodes: Sequence[ClusterProc], timeout: float = DEADLINE) -> None:
    """Every node reports cluster_state:ok and knows every other node (none in handshake)."""

    def ok() -> bool:
        for node in nodes:
            node.check_alive()
            if node.cluster_info().get("cluster_state") != "ok":
                return False
            lines = node.nodes_lines()
            if len(lines) != len(nodes) or any("handshake" in f[2] or "fail" in f[2] for f in lines):
                return False
        return True

    wait(ok, timeout, "cluster_state:ok on every node", nodes)


def wait_converged(nodes: Sequence[ClusterProc], timeout: float = DEADLINE) -> str:
    """Every node prints the same slot signature (what redis-cli checks); returns it."""

    def same() -> str | None:
        signatures = {slot_signature(node) for node in nodes}
        return signatures.pop() if len(signatures) == 1 else None

    return wait(same, timeout, "every node to agree about the slots", nodes)


def node_flags(observer: ClusterProc, node_id: str) -> set[str]:
    """The flags ``observer`` shows for ``node_id`` in its CLUSTER NODES."""
    for fields in observer.nodes_lines():
        if fields[0] == node_id:
            return set(fields[2].split(","))
    return set()


def redis_cli(*args: str, timeout: float = DEADLINE, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run redis-cli with a deadline; the completed process (stdout and stderr merged)."""
    return subprocess.run(
        ["redis-cli", *args], input=stdin, capture_output=True, text=True, timeout=timeout, check=False
    )


def create_cluster(nodes: Sequence[ClusterProc], replicas: int = 0) -> subprocess.CompletedProcess[str]:
    """``redis-cli --cluster create`` of the nodes, as an operator would run it."""
    return redis_cli(
        "--cluster", "create", *[n.address for n in nodes], "--cluster-replicas", str(replicas), "--cluster-yes",
        timeout=DEADLINE * 2,
    )
