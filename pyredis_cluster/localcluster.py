"""A local cluster in one command: ``python -m pyredis_cluster cluster start|stop|status``.

::

    python -m pyredis_cluster cluster start --nodes 6 --replicas 1 --port 7000
    python -m pyredis_cluster cluster start --detach          # leave it running
    python -m pyredis_cluster cluster status
    python -m pyredis_cluster cluster stop

Theory of operation
-------------------
``start`` runs each node as its own ``python -m pyredis_cluster <dir>/<port>/redis.conf``
process (ports ``--port`` .. ``--port + nodes - 1``, bus ports +10000), each in its
own directory under ``--dir`` holding its generated config, its nodes.conf and its
log (``node.log``: stdout and stderr). Children start in a new session, so a Ctrl-C
in the terminal reaches only this supervisor, which then stops them in order.

It then creates the cluster the way ``redis-cli --cluster create`` does, speaking
RESP to the nodes itself (no redis-cli needed): ADDSLOTSRANGE on the primaries
(redis-cli's even split, see :mod:`pyredis_cluster.layout`), a distinct
``CLUSTER SET-CONFIG-EPOCH`` on every node, MEET of every node from the first one,
then, once gossip has taught each replica its primary, ``CLUSTER REPLICATE``. It
waits until every node reports ``cluster_state:ok`` and all nodes agree on the
same slot map and roles, prints how to connect, and stays in the foreground until
SIGINT/SIGTERM, when it stops every node by PID (SIGTERM, wait, SIGKILL only if a
node ignores it). If a directory already holds every node's nodes.conf (a cluster
stopped earlier), the nodes are restarted from it instead of being created again.

``--detach`` returns once the cluster is ready and leaves the nodes running.
In both modes ``<dir>/cluster.json`` records the node PIDs (and the supervisor's
in the foreground case); ``stop`` and ``status`` read it. ``stop`` signals a PID
only after checking, through /proc, that it is still the node process it started
(a PID may have been reused since). Busy ports are refused before anything starts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .cluster.constants import CLUSTER_PORT_INCR
from .layout import Layout
from .protocol.encoder import ErrorReply
from .resp_client import call_blocking

PID_FILE = "cluster.json"
NODE_CONFIG = "redis.conf"
NODE_LOG = "node.log"
DEFAULT_DIR = "./cluster-data"
#: How long a node gets to exit after SIGTERM before SIGKILL.
STOP_GRACE_SECONDS = 10.0
_POLL_SECONDS = 0.05
#: The directory that holds the ``pyredis_cluster`` package: children import it from
#: there even when it is not installed (run from a checkout).
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class LocalClusterError(Exception):
    """A failure to report to the user (one clear message, exit status 1)."""


def call(host: str, port: int, *args: str | int, timeout: float = 5.0) -> Any:
    """Send one command on a fresh connection; return its value (ErrorReply for errors)."""
    value = call_blocking(host, port, *args, timeout=timeout)
    return value.decode() if isinstance(value, bytes) else value


def call_ok(host: str, port: int, *args: str | int) -> Any:
    reply = call(host, port, *args)
    if isinstance(reply, ErrorReply):
        raise LocalClusterError(f"{host}:{port} refused {' '.join(map(str, args))}: {reply}")
    return reply


def parse_info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_for(condition: Callable[[], Any], deadline: float, what: str) -> Any:
    """Poll ``condition`` (connection errors count as "not yet") until the deadline."""
    while True:
        try:
            result = condition()
        except (OSError, ConnectionError):
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise LocalClusterError(f"timed out waiting for {what}")
        time.sleep(_POLL_SECONDS)


# ----------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------
@dataclass
class NodeProcess:
    port: int
    directory: str
    pid: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> str:
        return os.path.join(self.directory, NODE_CONFIG)

    @property
    def log_path(self) -> str:
        return os.path.join(self.directory, NODE_LOG)

    @property
    def nodes_conf_path(self) -> str:
        return os.path.join(self.directory, "nodes.conf")

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no log)"


def write_node_config(node: NodeProcess, bind: str, node_timeout: int, test_commands: bool = False) -> None:
    os.makedirs(node.directory, exist_ok=True)
    text = (
        "# Generated by `python -m pyredis_cluster cluster start`.\n"
        f"port {node.port}\n"
        f"bind {bind}\n"
        "cluster-enabled yes\n"
        "cluster-config-file nodes.conf\n"
        f"cluster-node-timeout {node_timeout}\n"
        f'dir "{node.directory}"\n'
        # PYREDIS.FAULT (kill, pause, isolate...), for the live view's buttons and workshops.
        + ("enable-test-commands yes\n" if test_commands else "")
    )
    with open(node.config_path, "w", encoding="utf-8") as handle:
        handle.write(text)


def spawn(node: NodeProcess) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    with open(node.log_path, "ab") as log:
        node.process = subprocess.Popen(
            [sys.executable, "-m", "pyredis_cluster", node.config_path],
            cwd=node.directory, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
        )  # fmt: skip
    node.pid = node.process.pid


def pid_state(pid: int) -> str | None:
    """The process state letter from /proc (``Z`` for a zombie), None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)  # no /proc (not Linux): ask the kernel
        except ProcessLookupError:
            return None
        except PermissionError:
            return "?"
        return "?"


def is_alive(pid: int) -> bool:
    state = pid_state(pid)
    return state is not None and state != "Z"


def is_our_node(pid: int, config_path: str) -> bool:
    """True if ``pid`` is still the node process started with ``config_path`` (not a reused PID)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            argv = handle.read().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:
        return is_alive(pid)  # no /proc: trust the PID file
    return b"pyredis_cluster" in argv and config_path.encode() in argv


def stop_pids(pids: list[int], grace: float = STOP_GRACE_SECONDS) -> list[int]:
    """SIGTERM each PID, wait until they are gone (reaping our own children), SIGKILL stragglers.

    Returns the PIDs that needed SIGKILL.
    """
    for pid in pids:
        try:
            os.kill(pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    remaining = list(pids)
    killed: list[int] = []
    while remaining:
        _reap(remaining)
        remaining = [pid for pid in remaining if is_alive(pid)]
        if not remaining:
            break
        if time.monotonic() > deadline:
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except ProcessLookupError:
                    pass
            deadline = float("inf")
        time.sleep(_POLL_SECONDS)
    return killed


def _reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # not our child: init reaps it


# ----------------------------------------------------------------------------
# The PID file
# ----------------------------------------------------------------------------
def pid_file_path(directory: str) -> str:
    return os.path.join(directory, PID_FILE)


def write_pid_file(directory: str, nodes: list[NodeProcess], bind: str, supervisor: int | None) -> None:
    record = {
        "bind": bind,
        "supervisor_pid": supervisor,
        "nodes": [{"port": n.port, "pid": n.pid, "dir": n.directory, "config": n.config_path} for n in nodes],
    }
    path = pid_file_path(directory)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.replace(path + ".tmp", path)


def read_pid_file(directory: str) -> dict[str, Any] | None:
    try:
        with open(pid_file_path(directory), encoding="utf-8") as handle:
            record: dict[str, Any] = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise LocalClusterError(f"cannot read {pid_file_path(directory)}: {err}") from None
    return record


def running_nodes(record: dict[str, Any]) -> list[dict[str, Any]]:
    return [n for n in record["nodes"] if is_our_node(int(n["pid"]), n["config"])]


def remove_pid_file(directory: str) -> None:
    try:
        os.unlink(pid_file_path(directory))
    except FileNotFoundError:
        pass


# ----------------------------------------------------------------------------
# Ports
# ----------------------------------------------------------------------------
def port_is_free(host: str, port: int) -> bool:
    """Can a listener bind ``host:port``? (SO_REUSEADDR like the node, so TIME_WAIT is no obstacle.)"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def client_address(bind: str) -> str:
    """Where to reach nodes bound to ``bind`` (its first mandatory address; loopback for a wildcard)."""
    addresses = [a for a in bind.split() if not a.startswith("-")] or ["127.0.0.1"]
    first = addresses[0]
    return {"*": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1", "::*": "::1"}.get(first, first)


def check_ports(bind: str, ports: list[int]) -> None:
    """Refuse (LocalClusterError) unless every node's client and bus port is free on every bind address."""
    hosts = [{"*": "0.0.0.0", "::*": "::"}.get(a, a) for a in bind.split() if not a.startswith("-")]
    for port in ports:
        if port < 1 or port + CLUSTER_PORT_INCR > 65535:
            raise LocalClusterError(
                f"port {port} cannot be used: its cluster bus port {port + CLUSTER_PORT_INCR} must be <= 65535"
            )
    busy = [
        f"{port}" + ("" if is_client_port else " (cluster bus port)")
        for node_port in ports
        for port, is_client_port in ((node_port, True), (node_port + CLUSTER_PORT_INCR, False))
        if not all(port_is_free(host, port) for host in hosts or ["127.0.0.1"])
    ]
    if busy:
        raise LocalClusterError(
            f"port(s) already in use on {bind}: {', '.join(busy)}. "
            f"Stop whatever listens there, or pick another base with --port."
        )


# ----------------------------------------------------------------------------
# Creating the cluster over RESP
# ----------------------------------------------------------------------------
def node_views(host: str, ports: list[int]) -> list[list[list[str]]]:
    """CLUSTER NODES of every node, split into fields."""
    return [[line.split() for line in call_ok(host, port, "CLUSTER", "NODES").splitlines()] for port in ports]


def topology_signature(view: list[list[str]]) -> list[tuple[str, ...]]:
    """What every node must agree on: ids, roles, primaries and slots (not myself/times/links)."""
    rows = []
    for fields in view:
        flags = sorted(f for f in fields[2].split(",") if f not in ("myself", "pfail", "fail?"))
        rows.append((fields[0], ",".join(flags), fields[3], *fields[8:]))
    return sorted(rows)


def create_cluster(host: str, ports: list[int], layout: Layout, wait: Callable[[str, Callable[[], Any]], None]) -> None:
    """What ``redis-cli --cluster create`` does, for nodes that are up and empty.

    ``wait(what, condition)`` polls until ``condition()`` is true (or gives up).
    """
    for index, port in enumerate(ports):
        slots = layout.slots_of(index)
        if slots is not None:
            call_ok(host, port, "CLUSTER", "ADDSLOTSRANGE", slots[0], slots[1])
    for index, port in enumerate(ports):
        call_ok(host, port, "CLUSTER", "SET-CONFIG-EPOCH", layout.config_epoch_of(index))
    for port in ports[1:]:
        call_ok(host, ports[0], "CLUSTER", "MEET", host, port)

    def everybody_knows_everybody() -> bool:
        return all(
            len(view) == len(ports) and not any("handshake" in fields[2] for fields in view)
            for view in node_views(host, ports)
        )

    wait("the nodes to learn about each other through gossip", everybody_knows_everybody)
    ids = [call_ok(host, port, "CLUSTER", "MYID") for port in ports]
    for index, port in enumerate(ports):
        primary = layout.primary_of(index)
        if primary is not None:
            call_ok(host, port, "CLUSTER", "REPLICATE", ids[primary])


def describe_roles(host: str, ports: list[int]) -> list[str]:
    """Each node's role as it reports it: ``primary  slots 0-5460`` or ``replica  of 7000``."""
    myselves = [next(f for f in view if "myself" in f[2].split(",")) for view in node_views(host, ports)]
    port_of = {fields[0]: port for fields, port in zip(myselves, ports)}
    return [
        f"primary  slots {' '.join(fields[8:]) or '-'}"
        if "master" in fields[2].split(",")
        else f"replica  of {port_of.get(fields[3], fields[3])}"
        for fields in myselves
    ]


def cluster_is_ready(host: str, ports: list[int]) -> bool:
    """Every node says cluster_state:ok and all of them see the same topology."""
    for port in ports:
        if parse_info(call_ok(host, port, "CLUSTER", "INFO")).get("cluster_state") != "ok":
            return False
    signatures = [topology_signature(view) for view in node_views(host, ports)]
    return all(len(s) == len(ports) and s == signatures[0] for s in signatures)


# ----------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------
def _node_processes(directory: str, base_port: int, count: int) -> list[NodeProcess]:
    return [NodeProcess(port, os.path.join(directory, str(port))) for port in range(base_port, base_port + count)]


def start(args: argparse.Namespace) -> int:
    layout = Layout.for_nodes(args.nodes, args.replicas)
    directory = os.path.abspath(args.dir)
    host = client_address(args.bind)
    record = read_pid_file(directory) if os.path.isdir(directory) else None
    if record is not None and running_nodes(record):
        raise LocalClusterError(
            f"a cluster started from {directory} is still running; "
            f"stop it first: python -m pyredis_cluster cluster stop --dir {args.dir}"
        )
    nodes = _node_processes(directory, args.port, layout.size)
    if args.fresh:
        for node in nodes:
            shutil.rmtree(node.directory, ignore_errors=True)
    existing = [os.path.exists(node.nodes_conf_path) for node in nodes]
    if any(existing) and not all(existing):
        raise LocalClusterError(
            f"{directory} holds nodes.conf files for some of these nodes but not all: "
            "remove the directory or start with --fresh"
        )
    restarting = all(existing)
    check_ports(args.bind, [node.port for node in nodes])

    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_requested.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGHUP: the terminal went away
        signal.signal(sig, on_signal)

    started_at = time.monotonic()
    deadline = started_at + args.timeout
    detached = False
    try:
        for node in nodes:
            write_node_config(node, args.bind, args.node_timeout, args.enable_test_commands)
            spawn(node)
        write_pid_file(directory, nodes, args.bind, None if args.detach else os.getpid())
        ports = [node.port for node in nodes]

        def wait(what: str, condition: Callable[[], Any]) -> None:
            _wait_step(nodes, stop_requested, deadline, what, condition)

        wait("every node to answer PING", lambda: all(call(host, port, "PING") == "PONG" for port in ports))
        if restarting:
            print(f"Restarting the cluster saved in {directory} (use --fresh to create a new one).")
        else:
            create_cluster(host, ports, layout, wait)
        wait("cluster_state:ok on every node, all agreeing", lambda: cluster_is_ready(host, ports))
        if args.time_scale != 1:  # slow motion once the cluster is formed: creating it stays quick
            for port in ports:
                call_ok(host, port, "CONFIG", "SET", "cluster-time-scale", repr(args.time_scale))
        detached = args.detach  # from here on, a detached cluster stays up whatever happens to us
        print_ready(host, nodes, layout, directory, args, time.monotonic() - started_at)
        if detached:
            return 0
        _supervise(nodes, stop_requested)
        print("\nStopping the cluster...", flush=True)
        return 0
    except _Interrupted:
        print("\nInterrupted: stopping the nodes started so far...", file=sys.stderr, flush=True)
        return 130
    finally:
        if not detached:
            killed = stop_pids([node.pid for node in nodes if node.pid])
            remove_pid_file(directory)
            if killed:
                print(f"Node(s) with PID {', '.join(map(str, killed))} ignored SIGTERM and were killed.",
                      file=sys.stderr)  # fmt: skip
            else:
                print("All nodes stopped.", flush=True)


class _Interrupted(Exception):
    pass


def _check_children(nodes: list[NodeProcess]) -> None:
    for node in nodes:
        if node.process is not None and node.process.poll() is not None:
            raise LocalClusterError(
                f"node {node.port} (pid {node.pid}) exited with status {node.process.returncode}; "
                f"the end of {node.log_path}:\n{node.log_tail()}"
            )


def _wait_step(nodes: list[NodeProcess], stop: threading.Event, deadline: float, what: str,
               condition: Callable[[], Any]) -> None:  # fmt: skip
    def ready() -> Any:
        if stop.is_set():
            raise _Interrupted
        _check_children(nodes)
        return condition()

    wait_for(ready, deadline, what)


def _supervise(nodes: list[NodeProcess], stop: threading.Event) -> None:
    """Until SIGINT/SIGTERM: report nodes that die (the others keep running)."""
    reported: set[int] = set()
    while not stop.wait(0.5):
        for node in nodes:
            if node.pid not in reported and node.process is not None and node.process.poll() is not None:
                reported.add(node.pid)
                print(f"Node {node.port} (pid {node.pid}) exited with status {node.process.returncode}; "
                      f"see {node.log_path}", file=sys.stderr, flush=True)  # fmt: skip


def print_ready(host: str, nodes: list[NodeProcess], layout: Layout, directory: str,
                args: argparse.Namespace, elapsed: float) -> None:  # fmt: skip
    first, last = nodes[0].port, nodes[-1].port
    print(f"Cluster ready in {elapsed:.1f} s: {layout.size} nodes ({layout.primaries} primaries, "
          f"{layout.size - layout.primaries} replicas) on {host}:{first}-{last}")  # fmt: skip
    for node, role in zip(nodes, describe_roles(host, [node.port for node in nodes])):
        print(f"  {node.port}  pid {node.pid:<8} {role}")
    print()
    print(f"Connect:   redis-cli -c -p {first}" + ("" if host == "127.0.0.1" else f" -h {host}"))
    print("redis-py:  from redis.cluster import RedisCluster")
    print(f"           r = RedisCluster(host={host!r}, port={first}); r.set('foo', 'bar')")
    print(f"Logs:      {directory}/<port>/{NODE_LOG}   (e.g. tail -f {nodes[0].log_path})")
    print(f"Watch:     python -m pyredis_cluster trace --port {first}   (live view: ... view --port {first})")
    stop_command = "python -m pyredis_cluster cluster stop" + ("" if args.dir == DEFAULT_DIR else f" --dir {args.dir}")
    if args.detach:
        print(f"Running in the background. Stop it with: {stop_command}")
    else:
        print(f"Press Ctrl-C to stop the cluster (or run: {stop_command}).")
    sys.stdout.flush()


def stop(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.dir)
    record = read_pid_file(directory)
    if record is None:
        print(f"No cluster is recorded in {directory} (no {PID_FILE}).")
        return 1
    supervisor = record.get("supervisor_pid")
    nodes = running_nodes(record)
    if supervisor and is_alive(int(supervisor)) and nodes:
        # A foreground `cluster start` is watching: let it stop its nodes in order.
        os.kill(int(supervisor), signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS * 2
        while is_alive(int(supervisor)) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)
        nodes = running_nodes(record)
    killed = stop_pids([int(n["pid"]) for n in nodes])
    remove_pid_file(directory)
    print(f"Stopped {len(record['nodes'])} node(s) of the cluster in {directory}"
          + (f" ({len(killed)} needed SIGKILL)." if killed else "."))  # fmt: skip
    return 0


def status(args: argparse.Namespace) -> int:
    directory = os.path.abspath(args.dir)
    record = read_pid_file(directory)
    if record is None:
        print(f"No cluster is recorded in {directory} (no {PID_FILE}).")
        return 1
    host = client_address(record.get("bind", "127.0.0.1"))
    healthy = True
    print(f"{'port':<6} {'pid':<8} {'process':<8} {'role':<8} {'cluster_state':<14} log")
    for entry in record["nodes"]:
        port, pid = int(entry["port"]), int(entry["pid"])
        running = is_our_node(pid, entry["config"])
        role = state = "-"
        if running:
            try:
                state = parse_info(call_ok(host, port, "CLUSTER", "INFO")).get("cluster_state", "?")
                myself = next(line for line in call_ok(host, port, "CLUSTER", "NODES").splitlines()
                              if "myself" in line.split()[2])  # fmt: skip
                role = "primary" if "master" in myself.split()[2] else "replica"
            except (OSError, ConnectionError, LocalClusterError, StopIteration):
                state = "no answer"
        healthy = healthy and running and state == "ok"
        print(f"{port:<6} {pid:<8} {'running' if running else 'gone':<8} {role:<8} {state:<14} "
              f"{os.path.join(entry['dir'], NODE_LOG)}")  # fmt: skip
    return 0 if healthy else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pyredis_cluster cluster",
                                     description="Run a local Redis Cluster of pyredis_cluster nodes.")  # fmt: skip
    commands = parser.add_subparsers(dest="command", required=True)
    start_parser = commands.add_parser("start", help="start the nodes and create the cluster")
    start_parser.add_argument("--nodes", type=int, default=6, help="number of nodes (default 6)")
    start_parser.add_argument("--replicas", type=int, default=1, help="replicas per primary (default 1)")
    start_parser.add_argument("--port", type=int, default=7000, help="first port (default 7000)")
    start_parser.add_argument("--bind", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    start_parser.add_argument("--node-timeout", type=int, default=5000, help="cluster-node-timeout in ms")
    start_parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the cluster")
    start_parser.add_argument("--enable-test-commands", action="store_true",
                              help="let the nodes accept PYREDIS.FAULT (kill, pause, isolate: workshops, live view)")
    start_parser.add_argument("--time-scale", type=float, default=1.0,
                              help="slow motion: every protocol timer takes this many times longer "
                                   "(set once the cluster is ready; `clock scale` changes it later)")  # fmt: skip
    start_parser.add_argument("--fresh", action="store_true", help="discard node state left by an earlier run")
    mode = start_parser.add_mutually_exclusive_group()
    mode.add_argument("--foreground", action="store_true", help="stay until Ctrl-C (the default)")
    mode.add_argument("--detach", action="store_true", help="leave the nodes running in the background")
    for name, helptext in (("stop", "stop a cluster started with --detach (or in another terminal)"),
                           ("status", "show the nodes of a running cluster")):  # fmt: skip
        commands.add_parser(name, help=helptext)
    for sub in commands.choices.values():
        sub.add_argument("--dir", default=DEFAULT_DIR, help=f"cluster directory (default {DEFAULT_DIR})")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    handler = {"start": start, "stop": stop, "status": status}[args.command]
    try:
        return handler(args)
    except (LocalClusterError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # our output was piped into something that quit (`| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
