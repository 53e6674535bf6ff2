"""Helpers to run real redis-server 7.0 cluster nodes and talk to them on the bus.

Used by the live tests and by ``fixtures/capture.py``. Everything here starts its
own processes with ``subprocess.Popen`` (no shell, so the PID is redis-server's
own), on ports found by binding to port 0, in its own temp directory, and stops
only those PIDs. No fixed sleeps: every wait polls a condition with a deadline.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import redis

from pyredis_cluster.cluster.codec import DroppedPacket, decode_packet, encode
from pyredis_cluster.cluster.messages import Meet, Message, MessageHeader, Ping, PingExt, Pong
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.slots import EMPTY_SLOTS, SlotBitmap

INSTALL_HINT = (
    "redis-server 7.0 is required for this test: install it with "
    "`apt-get install -y redis-server redis-tools` (Debian/Ubuntu ship 7.0.15)."
)

T = TypeVar("T")


def require_redis_server() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    return path


def free_port() -> int:
    """A TCP port that was free a moment ago (bind to port 0 and release)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition: Callable[[], T | None], timeout: float = 10.0, what: str = "condition") -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(delay)  # back-off between polls, not a fixed wait for an effect
        delay = min(delay * 2, 0.1)


@dataclass
class RealNode:
    """One real redis-server started with cluster-enabled yes."""

    port: int
    cport: int
    process: subprocess.Popen[bytes]
    directory: str
    client: redis.Redis

    def cmd(self, *args: object) -> object:
        result = self.client.execute_command(*args)
        return result.decode() if isinstance(result, bytes) else result

    @property
    def node_id(self) -> str:
        return str(self.cmd("CLUSTER", "MYID"))

    def cluster_nodes(self) -> list[list[str]]:
        text = self.cmd("CLUSTER", "NODES")
        if not isinstance(text, str):  # some redis-py versions parse CLUSTER NODES
            raise TypeError(f"expected raw CLUSTER NODES text, got {type(text)}")
        return [line.split() for line in text.splitlines() if line.strip()]

    def read_nodes_conf(self) -> str:
        with open(f"{self.directory}/nodes.conf") as f:
            return f.read()


@contextlib.contextmanager
def real_nodes(
    count: int, *extra_args_per_node: list[str], node_timeout: int = 3000
) -> Iterator[list[RealNode]]:
    """Start ``count`` real cluster nodes; stop them (by PID) and remove their dirs on exit."""
    server = require_redis_server()
    nodes: list[RealNode] = []
    try:
        for i in range(count):
            port, cport = free_port(), free_port()
            directory = tempfile.mkdtemp(prefix=f"pyredis-real-{port}-")
            args = [
                server,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--cluster-enabled", "yes",
                "--cluster-port", str(cport),
                "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(node_timeout),
                "--dir", directory,
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--loglevel", "verbose",
                "--logfile", f"{directory}/redis.log",
            ]  # fmt: skip
            if i < len(extra_args_per_node):
                args += extra_args_per_node[i]
            process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
            node = RealNode(port, cport, process, directory, client)
            nodes.append(node)

        def all_up() -> bool:
            for node in nodes:
                if node.process.poll() is not None:
                    raise RuntimeError(f"redis-server on {node.port} exited: see {node.directory}/redis.log")
                try:
                    node.client.ping()
                except redis.ConnectionError:
                    return False
            return True

        wait_for(all_up, 15, "redis-server to accept connections")
        yield nodes
    finally:
        for node in nodes:
            node.client.close()
            if node.process.poll() is None:
                node.process.terminate()
        for node in nodes:
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
            shutil.rmtree(node.directory, ignore_errors=True)


def read_log(node: RealNode) -> str:
    with open(f"{node.directory}/redis.log", errors="replace") as f:
        return f.read()


# ----------------------------------------------------------------------------
# A fake bus peer: our codec on real sockets
# ----------------------------------------------------------------------------
@dataclass
class Received:
    conn: str  # label of the connection it arrived on
    raw: bytes
    message: Message | DroppedPacket


@dataclass
class _Conn:
    label: str
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)


class FakeBusPeer:
    """A pretend cluster node: a listening bus socket plus outbound connections.

    ``pump()`` reads whatever arrived, frames it by ``totlen``, decodes each packet
    with ``decode_packet`` and records it with its raw bytes. With ``auto_pong``
    every PING/MEET is answered with our own PONG on the same connection, which is
    all a real node needs to consider us alive.
    """

    def __init__(self, name: str, port: int, hostname: str = "", auto_pong: bool = True) -> None:
        self.name = name
        self.port = port
        self.hostname = hostname
        self.auto_pong = auto_pong
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.cport = self.listener.getsockname()[1]
        self.conns: dict[str, _Conn] = {}
        self.received: list[Received] = []
        self.current_epoch = 0
        self.config_epoch = 0
        self.myslots = EMPTY_SLOTS
        self._accepted = 0

    def close(self) -> None:
        for conn in self.conns.values():
            conn.sock.close()
        self.listener.close()

    def __enter__(self) -> FakeBusPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def header(self, **overrides: object) -> MessageHeader:
        fields: dict[str, object] = {
            "sender": self.name,
            "port": self.port,
            "cport": self.cport,
            "current_epoch": self.current_epoch,
            "config_epoch": self.config_epoch,
            "myslots": self.myslots,
            "flags": NodeFlags.PRIMARY | NodeFlags.MYSELF,
        }
        fields.update(overrides)
        return MessageHeader(**fields)  # type: ignore[arg-type]

    def extensions(self) -> tuple[PingExt, ...]:
        from pyredis_cluster.cluster.messages import HostnameExt

        return (HostnameExt(self.hostname),) if self.hostname else ()

    def connect(self, label: str, port: int) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conns[label] = _Conn(label, sock)

    def send(self, label: str, message: Message | bytes) -> None:
        data = message if isinstance(message, bytes) else encode(message)
        self.conns[label].sock.sendall(data)

    def send_ping(self, label: str, cls: type[Ping] | type[Meet] = Ping, **header: object) -> None:
        self.send(label, cls(self.header(**header), (), self.extensions()))

    def pump(self, timeout: float = 0.05) -> list[Received]:
        """Accept and read for up to ``timeout`` seconds; return what arrived."""
        new: list[Received] = []
        readable, _, _ = select.select(
            [self.listener] + [c.sock for c in self.conns.values()], [], [], timeout
        )
        for sock in readable:
            if sock is self.listener:
                accepted, _ = self.listener.accept()
                self._accepted += 1
                label = f"in{self._accepted}"
                self.conns[label] = _Conn(label, accepted)
                continue
            conn = next(c for c in self.conns.values() if c.sock is sock)
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                sock.close()
                del self.conns[conn.label]
                continue
            conn.buf += data
            while len(conn.buf) >= 8:
                (totlen,) = struct.unpack_from(">I", conn.buf, 4)
                if len(conn.buf) < totlen:
                    break
                raw = bytes(conn.buf[:totlen])
                del conn.buf[:totlen]
                message = decode_packet(raw)
                item = Received(conn.label, raw, message)
                new.append(item)
                if self.auto_pong and isinstance(message, Ping | Meet):
                    self.send(conn.label, Pong(self.header(), (), self.extensions()))
        self.received.extend(new)
        return new

    def pump_until(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0, what: str = "packet"
    ) -> Received:
        """Pump until a packet matching ``predicate`` arrives (also searching earlier ones)."""
        for item in self.received:
            if predicate(item):
                return item
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.pump(0.05):
                if predicate(item):
                    return item
        raise TimeoutError(f"timed out waiting for {what}")

    def pump_while(
        self, condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
    ) -> None:
        """Keep pumping (answering pings) until ``condition()`` is true."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            self.pump(0.05)


def slots_of(node: RealNode) -> SlotBitmap:
    """The slots ``node`` claims, according to its own CLUSTER NODES line."""
    for fields in node.cluster_nodes():
        if "myself" in fields[2].split(","):
            ranges = []
            for spec in fields[8:]:
                if spec.startswith("["):
                    continue
                a, _, b = spec.partition("-")
                ranges.append((int(a), int(b or a)))
            return SlotBitmap.from_ranges(ranges)
    raise AssertionError("no myself line")
