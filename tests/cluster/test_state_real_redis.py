"""The pure cluster core against real redis-server 7.0.15 nodes, over real sockets.

``CoreRunner`` is a deliberately small, test-only transport (selectors in a thread):
it runs a ``ClusterState``'s effects on real TCP connections and ticks it every
100 ms with the wall clock. It is *not* bus.py; it only lets the oracle judge the
core's protocol behaviour: joining in both directions, slot claims and epochs,
failure detection agreed with real nodes.
"""

from __future__ import annotations

import contextlib
import errno
import random
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pyredis_cluster.cluster.codec import NEED_DATA, BusDecoder, BusFramingError, DroppedPacket, encode
from pyredis_cluster.cluster.effects import CloseLink, Connect, Effect, Send
from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.state import ClusterHealth, ClusterSettings, ClusterState
from tests.cluster.cluster_real_redis import RealNode, free_port, read_log, real_nodes, wait_for

T = TypeVar("T")
NT = 1000


def now_ms() -> int:
    return int(time.time() * 1000)


class CoreRunner:
    """Runs one ClusterState on real sockets (test-only)."""

    def __init__(self, seed: int, **settings: Any) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.setblocking(False)
        cport = self.listener.getsockname()[1]
        self.state = ClusterState(
            ClusterSettings(port=free_port(), cport=cport, node_timeout=NT, **settings),
            now_ms=now_ms(), rng=random.Random(seed),
        )
        self.events: list[Event] = []
        self.lock = threading.RLock()
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, ("listen", None))
        self.socks: dict[int, socket.socket] = {}
        self.decoders: dict[int, BusDecoder] = {}
        self.outbuf: dict[int, bytearray] = {}
        self.connecting: set[int] = set()
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)

    @property
    def port(self) -> int:
        return self.state.settings.port

    @property
    def cport(self) -> int:
        return self.state.settings.cport

    def call(self, fn: Callable[[ClusterState], T]) -> T:
        with self.lock:
            return fn(self.state)

    def admin(self, op: str, *args: Any) -> Any:
        with self.lock:
            result = getattr(self.state, op)(*args, now_ms())
            effects = result[1] if isinstance(result, tuple) else result
            self._run(effects)
            return result

    # -- effects ------------------------------------------------------------------
    def _run(self, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, Event):
                self.events.append(e)
            elif isinstance(e, Send):
                if e.link_id in self.outbuf:
                    self.outbuf[e.link_id] += encode(e.message)
                    self._want_write(e.link_id)
            elif isinstance(e, Connect):
                sock = socket.socket()
                sock.setblocking(False)
                rc = sock.connect_ex((e.ip, e.cport))
                self._add(e.link_id, sock)
                if rc in (0, errno.EINPROGRESS):
                    self.connecting.add(e.link_id)
                    self._want_write(e.link_id)
                else:
                    self._drop(e.link_id)
                    self._run(self.state.link_closed(e.link_id, now_ms(), connect_failed=True))
            elif isinstance(e, CloseLink):
                self._drop(e.link_id)

    def _add(self, link_id: int, sock: socket.socket) -> None:
        self.socks[link_id] = sock
        self.decoders[link_id] = BusDecoder()
        self.outbuf[link_id] = bytearray()
        self.sel.register(sock, selectors.EVENT_READ, ("link", link_id))

    def _want_write(self, link_id: int) -> None:
        events = selectors.EVENT_READ
        if self.outbuf[link_id] or link_id in self.connecting:
            events |= selectors.EVENT_WRITE
        self.sel.modify(self.socks[link_id], events, ("link", link_id))

    def _drop(self, link_id: int) -> None:
        sock = self.socks.pop(link_id, None)
        self.decoders.pop(link_id, None)
        self.outbuf.pop(link_id, None)
        self.connecting.discard(link_id)
        if sock is not None:
            self.sel.unregister(sock)
            sock.close()

    def _lost(self, link_id: int, connect_failed: bool = False) -> None:
        self._drop(link_id)
        self._run(self.state.link_closed(link_id, now_ms(), connect_failed=connect_failed))

    # -- loop -----------------------------------------------------------------------
    def _loop(self) -> None:
        next_tick = time.monotonic()
        while not self.stop:
            ready = self.sel.select(timeout=max(0.0, next_tick - time.monotonic()))
            with self.lock:
                for key, mask in ready:
                    kind, link_id = key.data
                    if kind == "listen":
                        conn, (peer_ip, _port) = self.listener.accept()
                        conn.setblocking(False)
                        new_id = self.state.accept_link(peer_ip, conn.getsockname()[0], now_ms())
                        self._add(new_id, conn)
                        continue
                    if link_id not in self.socks:
                        continue
                    sock = self.socks[link_id]
                    if mask & selectors.EVENT_WRITE:
                        if link_id in self.connecting:
                            if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                                self._lost(link_id, connect_failed=True)
                                continue
                            self.connecting.discard(link_id)
                            self._run(self.state.link_connected(link_id, now_ms()))
                        if link_id in self.outbuf and self.outbuf[link_id]:
                            try:
                                sent = sock.send(self.outbuf[link_id])
                                del self.outbuf[link_id][:sent]
                            except OSError:
                                self._lost(link_id)
                                continue
                        if link_id in self.socks:
                            self._want_write(link_id)
                    if mask & selectors.EVENT_READ and link_id in self.socks:
                        try:
                            data = sock.recv(65536)
                        except OSError:
                            data = b""
                        if not data:
                            self._lost(link_id, connect_failed=link_id in self.connecting)
                            continue
                        decoder = self.decoders[link_id]
                        decoder.feed(data)
                        while link_id in self.decoders:
                            try:
                                item = decoder.next_message()
                            except BusFramingError:
                                self._lost(link_id)
                                break
                            if item is NEED_DATA:
                                break
                            if isinstance(item, DroppedPacket):
                                self._run(self.state.handle_dropped(link_id, item.message_type, item.log, now_ms()))
                            else:
                                self._run(self.state.handle_packet(link_id, item, now_ms()))
                if time.monotonic() >= next_tick:
                    next_tick += 0.1
                    self._run(self.state.tick(now_ms()))

    def __enter__(self) -> CoreRunner:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop = True
        self.thread.join(5)
        for link_id in list(self.socks):
            self._drop(link_id)
        self.listener.close()


@contextlib.contextmanager
def real_cluster(count: int) -> Iterator[list[RealNode]]:
    """Real primaries with epochs 1..count, the slots split between them, all met."""
    with real_nodes(count, node_timeout=NT) as nodes:
        per = 16384 // count
        for i, node in enumerate(nodes):
            node.cmd("CLUSTER", "SET-CONFIG-EPOCH", i + 1)
            end = 16383 if i == count - 1 else (i + 1) * per - 1
            node.cmd("CLUSTER", "ADDSLOTSRANGE", i * per, end)
        for node in nodes[1:]:
            nodes[0].cmd("CLUSTER", "MEET", "127.0.0.1", node.port, node.cport)
        wait_for(lambda: all(n.cmd("CLUSTER", "INFO").startswith("cluster_state:ok") for n in nodes), 20,
                 "the real cluster to be ok")
        yield nodes


def real_view_of(node: RealNode, node_id: str) -> list[str] | None:
    for line in node.cluster_nodes():
        if line[0] == node_id:
            return line
    return None


def test_core_joins_a_real_cluster_and_is_met_by_one() -> None:
    with real_cluster(3) as reals, CoreRunner(1, announce_hostname="core-a.test") as a, CoreRunner(2) as b:
        a.admin("meet", "127.0.0.1", reals[0].port, reals[0].cport)
        # real node 1 MEETs b: b must answer, add a handshake node, dial back and rename it
        reals[1].cmd("CLUSTER", "MEET", "127.0.0.1", b.port, b.cport)
        ids = [r.node_id for r in reals]

        def everybody_knows_everybody() -> bool:
            for core in (a, b):
                known = core.call(lambda s: {n.name for n in s.nodes.values() if not n.in_handshake})
                if not {a.state.myid, b.state.myid, *ids} <= known:
                    return False
            for real in reals:
                for core in (a, b):
                    line = real_view_of(real, core.state.myid)
                    if line is None or line[2] != "master" or line[7] != "connected":
                        return False
            return True

        wait_for(everybody_knows_everybody, 20, "the cores and the real nodes to know each other")
        # the real nodes' slots and epochs, as our cores see them
        # (a node learned from gossip gets its epoch and slots with its own first header)
        for core in (a, b):
            wait_for(lambda c=core: c.call(lambda s: all(
                s.nodes[rid].config_epoch == i + 1 and len(s.nodes[rid].slots) in (5461, 5462)
                for i, rid in enumerate(ids))), 10, "the real nodes' epochs and slots on the core")
            wait_for(lambda c=core: c.call(lambda s: s.state == ClusterHealth.OK), 10, "cluster ok on the core")
        # a's hostname extension is understood by real nodes; the cores learned our IP from the MEET
        assert real_view_of(reals[2], a.state.myid)[1].endswith(",core-a.test")  # type: ignore[index]
        assert a.call(lambda s: s.myself.ip) == "127.0.0.1"
        assert b.events and any(e.name == EventName.HANDSHAKE_COMPLETED for e in b.events)
        assert_no_complaints(reals)


COMPLAINTS = ("Received invalid", "unknown", "Bad message", "without proper padding", "exceeds total")


def assert_no_complaints(reals: list[RealNode]) -> None:
    """The real nodes logged nothing wrong about our packets."""
    for real in reals:
        bad = [line for line in read_log(real).splitlines() if any(c in line for c in COMPLAINTS)]
        assert not bad, bad


def test_core_claims_slots_and_resolves_an_epoch_collision() -> None:
    with real_cluster(3) as reals, CoreRunner(3) as a:
        # make room: real node 2 gives up its slots, the core takes them with epoch 1 (colliding)
        slots = reals[2].cluster_nodes()
        owned = next(line for line in slots if "myself" in line[2])[8]
        start, end = (int(x) for x in owned.split("-"))
        for real in reals:
            real.cmd("CLUSTER", "DELSLOTSRANGE", start, end)
        a.admin("set_config_epoch", 1)
        a.admin("addslotsrange", [(start, end)])
        a.admin("meet", "127.0.0.1", reals[0].port, reals[0].cport)

        def epochs_unique_and_slots_agreed() -> bool:
            epochs = {}
            for real in reals:
                for line in real.cluster_nodes():
                    if "master" in line[2]:
                        epochs.setdefault(line[0], set()).add(int(line[6]))
                line = real_view_of(real, a.state.myid)
                if line is None or line[8:9] != [f"{start}-{end}"]:
                    return False
            mine = a.call(lambda s: s.myself.config_epoch)
            views = [e for e in epochs.values()]
            return all(len(v) == 1 for v in views) and len({next(iter(v)) for v in views}) == len(views) and \
                epochs.get(a.state.myid) == {mine}

        wait_for(epochs_unique_and_slots_agreed, 20, "unique epochs and our slots known everywhere")
        assert all(r.cmd("CLUSTER", "INFO").startswith("cluster_state:ok") for r in reals)
        assert_no_complaints(reals)


def test_failure_detection_agrees_with_real_nodes() -> None:
    with real_cluster(3) as reals, CoreRunner(4) as a:
        a.admin("meet", "127.0.0.1", reals[0].port, reals[0].cport)
        victim = reals[2].node_id
        wait_for(lambda: all(real_view_of(r, a.state.myid) for r in reals[:2])
                 and a.call(lambda s: victim in s.nodes and not s.nodes[victim].in_handshake), 20, "join")
        reals[2].process.kill()
        reals[2].process.wait()
        wait_for(lambda: a.call(lambda s: NodeFlags.FAIL in s.nodes[victim].flags), 20, "FAIL on the core")
        wait_for(lambda: all("fail" in (real_view_of(r, victim) or ["", "", ""])[2].split(",") for r in reals[:2]),
                 20, "FAIL on the real nodes")
        assert any(e.name == EventName.PFAIL for e in a.events)


def test_fresh_node_views_match_real_redis_byte_for_byte() -> None:
    from pyredis_cluster.cluster.views import cluster_info, cluster_nodes_text, render_cluster_info

    with real_nodes(1) as (real,):
        ours = ClusterState(ClusterSettings(port=real.port, cport=real.cport), now_ms=now_ms(),
                            rng=random.Random(5))
        info = real.client.execute_command("CLUSTER", "INFO")
        nodes = real.client.execute_command("CLUSTER", "NODES")
        assert render_cluster_info(cluster_info(ours)).encode() == info
        assert cluster_nodes_text(ours).replace(ours.myid, real.node_id).encode() == nodes
