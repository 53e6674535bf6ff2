"""A real Redis Cluster inside the test's own event loop, ready in a few milliseconds.

::

    from pyredis_cluster.testing import start_cluster

    async with start_cluster(primaries=3, replicas_per_primary=1) as cluster:
        client = redis.asyncio.RedisCluster(host="127.0.0.1", port=cluster.nodes[0].port)
        await client.set("key", "value")

    # synchronous code (redis-py sync, redis-cli, other threads):
    with cluster_in_thread(primaries=3, replicas_per_primary=1) as cluster:
        client = redis.RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster.startup_nodes])

Theory of operation
-------------------
Every node is a full :class:`~pyredis_cluster.server.node.Node` with
``cluster-enabled yes`` listening on port 0 (client port and bus port both
ephemeral, loopback only), its nodes.conf in a private temporary directory.
Nothing is faked after start-up: the nodes talk Redis 7.0's cluster bus over real
sockets, gossip, detect failures and redirect clients exactly as separate
processes do. (One exception, asked for: with ``manual_clock=True`` the bus bytes go
through an in-memory network so that runs are repeatable; see timecontrol.py.)

What is shortened is *cluster creation*. ``redis-cli --cluster create`` (MEET,
ADDSLOTS, SET-CONFIG-EPOCH, REPLICATE, then waiting for gossip to spread the
slot map) takes seconds, mostly waiting for the once-a-second random PING that
carries each node's slot bitmap. The harness instead starts every node, then
gives each one the configuration its nodes.conf would hold after a successful
create (every node's id, address, role, slots and config epoch, in the
:mod:`~pyredis_cluster.layout` redis-cli would choose) and rebuilds its cluster core
from it, as a node restarting from its nodes.conf does (and saves that nodes.conf). Then it runs one cluster cron tick on
each node at once instead of waiting up to 100 ms for the timer: the tick dials
every peer, each link's first PING is answered by a PONG, and the cluster is
ready when every node
 * says ``cluster_state:ok``,
 * knows all the nodes, none of them PFAIL/FAIL or in handshake, and
 * has an outbound link to each of them on which a PONG has arrived;
and every replica has synced with its primary (its replication link is up, as
CLUSTER REPLICATE would have started it), so it holds the primary's data and may
fail over from the start.

Once it runs, :class:`LocalCluster` (and :class:`ThreadedCluster`, its blocking twin for
synchronous code) is the test's handle on it: faults (``kill``, ``restart``, ``pause``,
``partition``, ``delay``, ``heal``... in faults.py), topology on cue (``failover``,
``move_slots``, ``add_node``, ``remove_node``, ``wait_until_agree``) and observation
(``view``, ``wait_for_event`` over every node's event stream, recorded from start-up) in
topology.py.

One documented test-double liberty: a Redis 7.0 primary keeps ``cluster_state:fail``
for ``CLUSTER_WRITABLE_DELAY`` (2 s) after start-up so that the cluster can
reconfigure it first. The harness creates the configuration itself, so it starts
its cores with ``ClusterSettings.writable_delay = 0`` (pass ``writable_delay=2000``
to keep Redis's behaviour). Nodes started any other way always wait.

Speed (6 nodes: 3 primaries + 1 replica each, from entering ``start_cluster`` to every
node ready; median of 10 runs, first run included, on the 2-CPU development machine):

* lightly loaded (load average ~3): **31-38 ms** wall clock, ~30 ms CPU time in
  this process (same with the plain asyncio loop: 33 ms wall, 33 ms CPU);
* while other engineers' test suites ran (load average 8-10): 76-154 ms wall,
  33-45 ms CPU (the rest is waiting for a CPU).

* since replicas sync with their primary before it returns (load average ~4): 55 ms
  median wall (33-288 ms), 37 ms CPU.

The fixture shape through ``cluster_in_thread`` and failovers on cue are measured by
:func:`print_fixture_and_failover_times` (numbers in the README).

Closing takes ~2 ms. Reproduce with
``python -c 'from pyredis_cluster.testing.harness import print_startup_times as p; p()'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from ..cluster.bus import HeldMessage
from ..cluster.nodes import ClusterNode, NodeFlags
from ..cluster.nodes_conf import NodesConfig
from ..cluster.slots import EMPTY_SLOTS, SlotBitmap
from ..cluster.state import ClusterHealth, ClusterState
from ..layout import Layout
from ..server.node import Node
from .faults import (
    ClusterFaults,
    ScriptedRule,
    clear_scripted_replies,
    faults_of,
    node_id,
    script_reply,
    wait_until,
)
from .threaded import make_config
from .timecontrol import TimeControl
from .topology import (
    EventLog,
    NodeView,
    SlotMove,
    TopologyError,
    call,
    failover,
    move_slots,
    view,
    wait_until_agree,
    wait_until_slot_owner,
)

__all__ = ["ClusterNotReady", "LocalCluster", "ThreadedCluster", "cluster_in_thread", "measure_fixture_and_failover",
           "measure_startup", "print_fixture_and_failover_times", "print_startup_times", "start_cluster"]  # fmt: skip

T = TypeVar("T")

HOST = "127.0.0.1"
#: How often ``wait_until_ok`` re-checks the nodes (the links come up within a few ms).
_POLL_SECONDS = 0.001
# A library stays quiet unless the application configures logging (the nodes log their
# events, e.g. "Cluster state changed: ok", at WARNING; without this Python's last-resort
# handler would print them on stderr). Handlers configured on the root logger still get them.
logging.getLogger("pyredis_cluster").addHandler(logging.NullHandler())

_UNHEALTHY = NodeFlags.PFAIL | NodeFlags.FAIL | NodeFlags.HANDSHAKE | NodeFlags.NOADDR


class ClusterNotReady(TimeoutError):
    """``wait_until_ok`` ran out of time; the message says what was still missing."""


def _core(node: Node) -> ClusterState:
    assert node.cluster is not None and node.cluster.state is not None, "not a started cluster node"
    return node.cluster.state


def not_ready_reason(nodes: list[Node], of: list[Node] | None = None) -> str | None:
    """Why the cluster is not ready yet (see the module docstring), or None if it is.
    ``of``: the cluster's running nodes when only some of them (``nodes``) are checked."""
    members = nodes if of is None else of
    member_ids = {_core(node).myid for node in members}
    for node in nodes:
        state = _core(node)
        if state.state is not ClusterHealth.OK:
            return f"node {node.port} says cluster_state:fail"
        if of is None and len(state.nodes) != len(nodes):
            return f"node {node.port} knows {len(state.nodes)} nodes, not {len(nodes)}"
        for peer in state.nodes.values():
            if peer is state.myself or peer.name not in member_ids:
                continue
            if peer.flags & _UNHEALTHY:
                return f"node {node.port} sees {peer.port} as {peer.flag_words}"
            if not (peer.link_connected and peer.pong_received):
                return f"node {node.port} has no answered link to {peer.port} yet"
    return None


class LocalCluster:
    """Nodes of one cluster, all in the running event loop (see the module docstring)."""

    def __init__(self, nodes: list[Node], layout: Layout, directory: str, options: dict[str, Any] | None = None,
                 writable_delay: int = 0) -> None:  # fmt: skip
        self.nodes = nodes
        self.layout = layout
        self.directory = directory  # the nodes' nodes.conf files, removed by close()
        #: Config options of every node (add_node and restart build nodes with them).
        self.options = options or {}
        self.writable_delay = writable_delay
        self._closed = False
        self._removed: list[Node] = []  # closed by remove_node, no longer in nodes
        #: Faults applied to the nodes (faults.py); also reachable as cluster.kill(node)...
        self.faults = ClusterFaults(nodes)
        #: Every node's cluster events from start-up on (topology.py: wait_for_event).
        self.events = EventLog()
        for node in nodes:
            self.events.attach(node)
        #: The nodes' protocol time (timecontrol.py): scaled, or manual and seeded.
        self.time = TimeControl()

    # -- topology, live (it changes after a failover) -----------------------------------

    @property
    def primaries(self) -> list[Node]:
        return [node for node in self.nodes if _core(node).myself.is_primary]

    @property
    def replicas(self) -> list[Node]:
        return [node for node in self.nodes if _core(node).myself.is_replica]

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        """``(host, port)`` of every node, e.g. for redis-py's ``ClusterNode(host, port)``."""
        return [(HOST, node.port) for node in self.nodes]

    def node_by_id(self, node_id: str) -> Node:
        for node in self.nodes:
            if _core(node).myid == node_id:
                return node
        raise KeyError(f"no node with id {node_id} in this cluster")

    def node_for_slot(self, slot: int) -> Node:
        """The primary serving ``slot``, as the first running node sees it."""
        owner = _core(self.nodes[0]).owner_of(slot)
        if owner is None:
            raise KeyError(f"slot {slot} is not served by any node")
        return self.node_by_id(owner.name)

    def replicas_of(self, primary: Node) -> list[Node]:
        primary_id = _core(primary).myid
        return [node for node in self.replicas if _core(node).myself.primary_id == primary_id]

    # -- faults (testing/faults.py) ------------------------------------------------------------

    async def kill(self, node: Node) -> None:
        """Close ``node`` as if its process died (both ports, every link); it stays dead."""
        await self.faults.kill(node)

    def pause(self, node: Node, ms: int | None = None) -> None:
        """Stop ``node`` answering on both ports (SIGSTOP-like) until :meth:`resume`
        (or for ``ms`` milliseconds)."""
        self.faults.pause(node, None if ms is None else ms / 1000)

    def resume(self, node: Node) -> None:
        self.faults.resume(node)

    def isolate(self, node: Node) -> None:
        """Cut every bus link between ``node`` and the others (clients still reach it)."""
        self.faults.isolate(node)

    def partition(self, *groups: list[Node]) -> None:
        """No bus traffic between groups (nodes in no group are cut from everyone)."""
        self.faults.partition(*groups)

    def drop(self, src: Node, dst: Node) -> None:
        """One-way: ``dst`` ignores ``src``'s bus packets."""
        self.faults.drop(src, dst)

    def delay(self, src: Node, dst: Node, ms: int) -> None:
        """One-way: ``src``'s bus packets reach ``dst`` ``ms`` milliseconds late, in order."""
        self.faults.delay(src, dst, ms / 1000)

    def heal(self) -> None:
        """Undo every isolate/partition/drop/delay (delayed packets are delivered at once)."""
        self.faults.heal()

    def slow(self, node: Node, seconds: float) -> None:
        """Delay every client reply of ``node`` by ``seconds`` (0: back to normal)."""
        self.faults.slow(node, seconds)

    def close_clients(self, node: Node) -> int:
        """Close every client connection of ``node``; returns how many."""
        return self.faults.close_clients(node)

    def script_reply(self, node: Node, error: str, *, key: bytes | str | None = None, slot: int | None = None,
                     command: str | None = None, times: int | None = 1,
                     target: Node | str | None = None) -> ScriptedRule:  # fmt: skip
        """``node`` answers the next ``times`` matching requests (None: until cleared) with
        ``error`` (MOVED/ASK to ``target``, TRYAGAIN, CLUSTERDOWN, LOADING, BUSY, READONLY, DROP)."""
        return script_reply(node, error, key=key, slot=slot, command=command, times=times, target=target)

    def clear_scripted_replies(self, node: Node | None = None) -> int:
        """Remove the scripted rules of ``node`` (default: every node); returns how many."""
        return sum(clear_scripted_replies(n) for n in ([node] if node is not None else self.nodes))

    async def wait_for_fail(self, node: Node, timeout: float = 5.0) -> None:
        """Until every other live node flags ``node`` FAIL (FaultTimeout says who did not)."""
        await self.faults.wait_for_fail(node, timeout=timeout)

    async def wait_for_healthy(self, node: Node, timeout: float = 5.0) -> None:
        """Until no other live node flags ``node`` PFAIL or FAIL."""
        await self.faults.wait_for_healthy(node, timeout=timeout)

    async def wait_until_failed_everywhere(self, node: Node, timeout: float = 5.0) -> None:
        """Until every other live node flags ``node`` FAIL (WaitTimeout says who did not)."""
        await self.faults.wait_for_fail(node, timeout=timeout)

    # -- topology on cue and observation (topology.py) -------------------------------------------

    async def failover(self, primary: Node, mode: str = "auto", *, replica: Node | None = None,
                       timeout: float = 10.0) -> Node:  # fmt: skip
        """A real failover of ``primary``; returns the new primary once every node sees it
        serving the slots (``wait_until_agree`` for the old primary's new role everywhere).

        ``manual``/``force``/``takeover``: CLUSTER FAILOVER [FORCE|TAKEOVER] on ``replica``
        (default: its first replica). ``auto``: the primary is paused until a replica wins
        the election (takes node_timeout plus the election delay), then resumed.
        """
        return await failover(self.nodes, primary, mode, replica=replica, timeout=timeout)

    async def move_slots(self, slots: int | range | list[int], to_node: Node, *, stop_half_way: bool = False,
                         timeout: float = 10.0) -> SlotMove:  # fmt: skip
        """A real migration of ``slots`` (with their keys) to ``to_node``; ``stop_half_way``
        leaves each slot migrating/importing with half its keys moved (``await move.finish()``)."""
        return await move_slots(self.nodes, slots, to_node, stop_half_way=stop_half_way, timeout=timeout)

    async def wait_until_agree(self, timeout: float = 10.0) -> None:
        """Until every live node has the same slot map, config epochs and roles."""
        await wait_until_agree(self.nodes, timeout)

    async def wait_until_slot_owner(self, slot: int, node: Node, timeout: float = 10.0) -> None:
        """Until every live node says ``slot`` belongs to ``node``."""
        await wait_until_slot_owner(self.nodes, slot, node, timeout)

    def view(self, node: Node) -> NodeView:
        """``node``'s slot map, epochs, flags and keys, read directly."""
        return view(node)

    def event_mark(self) -> int:
        """A position in the event stream: ``wait_for_event(..., after=mark)`` ignores older events."""
        return self.events.mark()

    async def wait_for_event(self, name: str, where: Any = None, *, node: Node | None = None, after: int = 0,
                             timeout: float = 5.0) -> Any:  # fmt: skip
        """The first cluster event ``name`` (cluster/events.py) whose fields match ``where``
        (a dict, a Node standing for its id; or a predicate), from ``node`` (default: any),
        since ``after`` (default: start-up). WaitTimeout says what came instead."""
        return await self.events.wait_for(name, where, node=node, after=after, timeout=timeout)

    async def add_node(self, primary: bool = True, replica_of: Node | None = None, timeout: float = 10.0) -> Node:
        """Start a node with the cluster's options, MEET it in, and (``replica_of``) make it
        a replica with CLUSTER REPLICATE; returns it once every node agrees."""
        if replica_of is None and not primary:
            raise ValueError("add_node needs primary=True or replica_of=<a primary>")
        node = self._new_node(f"{self.directory}/nodes-{len(self.nodes) + len(self._removed)}.conf")
        await node.start()
        self._lift_writable_delay(node)
        self.nodes.append(node)
        contact = next(n for n in self.nodes if n is not node and self.faults.is_alive(n))
        assert contact.cluster is not None and contact.cluster.bus is not None
        await call(node, "CLUSTER", "MEET", HOST, contact.port, contact.cluster.bus.port)
        await self.wait_until_agree(timeout)
        if replica_of is not None:
            await call(node, "CLUSTER", "REPLICATE", node_id(replica_of))
            await self.wait_until_agree(timeout)
        return node

    async def remove_node(self, node: Node, timeout: float = 10.0) -> None:
        """CLUSTER FORGET ``node`` on every other node, then stop it (it must own no slot
        and have no replica: move them first, as redis-cli del-node requires)."""
        state = _core(node)
        if any(owner is state.myself for owner in state.slot_owner):
            raise TopologyError(f"node {node.port} still serves slots: move them first")
        if any(_core(n).myself.primary_id == state.myid for n in self.nodes if self.faults.is_alive(n)):
            raise TopologyError(f"node {node.port} still has replicas")
        forgotten = state.myid
        self.nodes.remove(node)
        self._removed.append(node)
        await faults_of(node).kill()
        for other in self.nodes:
            if self.faults.is_alive(other) and not self.faults.is_paused(other):
                await call(other, "CLUSTER", "FORGET", forgotten)
        await self.wait_until_agree(timeout)

    async def restart(self, node: Node, timeout: float = 10.0) -> Node:
        """Start ``node`` again (killed first if it runs) as a new Node from its nodes.conf:
        same node id, same ports when they are still free. Returns the new Node, which
        takes the old one's place in ``nodes``; waits until it has rejoined."""
        if self.faults.is_alive(node):
            await self.kill(node)
        assert node.cluster is not None and node.cluster.bus is not None
        old_port, old_bus_port = node.port, node.cluster.bus.port
        config_file = node.config.cluster_config_file
        fresh = self._new_node(config_file, port=old_port, cluster_port=old_bus_port)
        try:
            await fresh.start()
        except OSError:  # a port was taken meanwhile: ephemeral ones, announced by gossip
            fresh = self._new_node(config_file)
            await fresh.start()
        self._lift_writable_delay(fresh)
        self.nodes[self.nodes.index(node)] = fresh
        await self.faults.wait_for_healthy(fresh, timeout=timeout)
        await wait_until(lambda: not_ready_reason([fresh], of=self._running()) is None,
                         f"node {fresh.port} has rejoined", timeout)  # fmt: skip
        await self.wait_until_agree(timeout)
        return fresh

    def _running(self) -> list[Node]:
        return [n for n in self.nodes if self.faults.is_alive(n) and not self.faults.is_paused(n)]

    def _new_node(self, config_file: str, **overrides: Any) -> Node:
        node = Node(make_config(**{**self.options, **overrides, "cluster_config_file": config_file}))
        self.events.attach(node)
        self.time.adopt(node)
        return node

    def _lift_writable_delay(self, node: Node) -> None:
        """As at start-up (module docstring): no 2 s of cluster_state:fail for a node we add."""
        _core(node).settings.writable_delay = self.writable_delay

    # -- time you control (testing/timecontrol.py) --------------------------------------------
    # start_cluster(..., time_scale=f) or (..., manual_clock=True, seed=n); then these.

    def freeze(self) -> None:
        """Step mode on every node: protocol timers stop, incoming bus messages are held."""
        self.time.freeze()

    async def unfreeze(self) -> None:
        """Hand the held messages over and let protocol time run again (from where it stood)."""
        await self.time.unfreeze()

    async def advance(self, ms: int) -> int:
        """Frozen: move every node's protocol clock ``ms`` forward, tick by tick, delivering and
        handling the messages of each tick before the next; returns the number of steps."""
        return await self.time.advance(ms)

    async def step(self) -> tuple[Node, HeldMessage] | None:
        """Frozen: hand the oldest held bus message (first node holding one) to its node."""
        return await self.time.step()

    async def settle(self) -> int:
        """Frozen: deliver and handle every message in flight, without moving time."""
        return await self.time.settle()

    def held(self) -> list[tuple[Node, HeldMessage]]:
        """The bus messages held by frozen nodes, node by node, oldest first."""
        return self.time.held()

    def set_time_scale(self, factor: float) -> None:
        """Protocol timers of every node run ``factor`` times slower from now on."""
        self.time.set_time_scale(factor)

    def protocol_time_ms(self) -> int:
        """The protocol time (Unix ms) the nodes' cluster cores see."""
        return self.time.now_ms()

    # -- lifecycle --------------------------------------------------------------------------

    async def wait_until_ok(self, timeout: float = 10.0) -> None:
        """Until every node is ready (module docstring); ``ClusterNotReady`` says what is not."""
        deadline = time.monotonic() + timeout
        while (reason := not_ready_reason(self.nodes)) is not None:
            if time.monotonic() > deadline:
                raise ClusterNotReady(f"cluster not ready after {timeout}s: {reason}")
            await asyncio.sleep(_POLL_SECONDS)

    async def close(self) -> None:
        """Stop every node (sockets closed, timers cancelled) and delete their files."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.gather(*(node.close() for node in self.nodes if self.faults.is_alive(node)))
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def __aenter__(self) -> LocalCluster:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def _memory_dir() -> str | None:
    """A RAM-backed directory when there is one: saving nodes.conf fsyncs, and a test
    double's config need not survive a power cut (on a busy disk each fsync costs ms)."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def _range_bitmap(first: int, last: int) -> SlotBitmap:
    return SlotBitmap(((1 << (last + 1)) - 1) ^ ((1 << first) - 1))


def topology_for(nodes: list[Node], layout: Layout, index: int, now: int) -> NodesConfig:
    """What node ``index``'s nodes.conf holds once ``redis-cli --cluster create`` is done.

    Built directly rather than rendered and parsed (parsing 16384 slots six times
    costs more than the rest of start-up), with the loader's rules: a replica's own
    configEpoch is 0, a primary with replicas is flagged MIGRATE_TO, currentEpoch is
    the largest epoch handed out, ping/pong times are 0 (no link yet).
    """
    table: dict[str, ClusterNode] = {}
    cores = [_core(node) for node in nodes]
    for i, (node, core) in enumerate(zip(nodes, cores)):
        primary_index = layout.primary_of(i)
        flags = NodeFlags.PRIMARY if primary_index is None else NodeFlags.REPLICA
        if i == index:
            flags |= NodeFlags.MYSELF
        slots = layout.slots_of(i)
        assert node.cluster is not None and node.cluster.bus is not None
        entry = ClusterNode(
            core.myid,
            flags,
            ip=HOST,
            port=node.port,
            cport=node.cluster.bus.port,
            config_epoch=layout.config_epoch_of(i) if primary_index is None else 0,
            slots=EMPTY_SLOTS if slots is None else _range_bitmap(*slots),
            ctime=now,
        )
        if primary_index is not None:
            primary = table[cores[primary_index].myid]
            entry.primary_id = primary.name
            primary.replica_ids.append(entry.name)
            primary.flags |= NodeFlags.MIGRATE_TO
        table[entry.name] = entry
    return NodesConfig(myself=cores[index].myid, nodes=table, current_epoch=layout.size)


def _seed(nodes: list[Node], layout: Layout, writable_delay: int) -> None:
    """Give every started node its post-create configuration and rebuild its core from it.

    Runs without yielding to the loop, so no node can have talked to a peer yet: each
    core is swapped before any link exists (a fresh node knows nobody).
    """
    assert nodes[0].cluster is not None
    now = nodes[0].cluster.now()  # the protocol clock (timecontrol.py gives all nodes one base)
    for index, node in enumerate(nodes):
        support = node.cluster
        assert support is not None and support.state is not None and support.bus is not None
        old = support.state
        state = ClusterState(
            dataclasses.replace(old.settings, writable_delay=writable_delay),
            now_ms=now,
            rng=old.rng,
            config=topology_for(nodes, layout, index, now),
            keyspace=old.keyspace,
        )
        support.state = support.bus.state = state
        support.bus.save_config()
        primary_index = layout.primary_of(index)
        if primary_index is not None:  # what CLUSTER REPLICATE would start: sync from the primary
            node.start_replication(HOST, nodes[primary_index].port)
    # One cron tick now rather than in up to 100 ms: dial every peer, compute the state.
    for node in nodes:
        assert node.cluster is not None
        node.cluster.run(_core(node).tick(node.cluster.now()))


@asynccontextmanager
async def start_cluster(
    primaries: int = 3,
    replicas_per_primary: int = 0,
    *,
    node_timeout: int = 5000,
    ready_timeout: float = 10.0,
    writable_delay: int = 0,
    time_scale: float | None = None,
    manual_clock: bool = False,
    seed: int | None = None,
    **node_options: Any,
) -> AsyncIterator[LocalCluster]:
    """Start a ready cluster in the running loop; close it on exit (even on error).

    ``node_options`` are config options for every node, with ``_`` for ``-``
    (``cluster_allow_reads_when_down=True``, ``enable_debug_command="yes"``...).
    Time (testing/timecontrol.py): ``time_scale=0.1`` runs the cluster protocol 10x faster
    (10: slow motion); ``manual_clock=True`` freezes it (``advance``, ``step``), with an
    in-memory bus so that one ``seed`` gives the same run every time.
    """
    layout = Layout(primaries, replicas_per_primary)
    cluster = await create_cluster(layout, node_timeout=node_timeout, ready_timeout=ready_timeout,
                                   writable_delay=writable_delay, time_scale=time_scale,
                                   manual_clock=manual_clock, seed=seed, **node_options)  # fmt: skip
    try:
        yield cluster
    finally:
        await cluster.close()


async def create_cluster(
    layout: Layout,
    *,
    node_timeout: int = 5000,
    ready_timeout: float = 10.0,
    writable_delay: int = 0,
    time_scale: float | None = None,
    manual_clock: bool = False,
    seed: int | None = None,
    **node_options: Any,
) -> LocalCluster:
    """``start_cluster`` without the context manager: the caller must ``await cluster.close()``."""
    directory = tempfile.mkdtemp(prefix="pyredis-cluster-", dir=_memory_dir())
    options = {"bind": HOST, **node_options, "cluster_enabled": True, "cluster_node_timeout": node_timeout}
    nodes = [
        Node(make_config(**options, cluster_config_file=f"{directory}/nodes-{index}.conf"))
        for index in range(layout.size)
    ]
    cluster = LocalCluster(nodes, layout, directory, options, writable_delay)
    cluster.time = TimeControl(time_scale=time_scale, manual_clock=manual_clock, seed=seed)
    cluster.time.prepare(nodes)
    try:
        results = await asyncio.gather(*(node.start() for node in nodes), return_exceptions=True)
        failures = [result for result in results if isinstance(result, BaseException)]
        if failures:
            raise failures[0]
        _seed(nodes, layout, writable_delay)
        if not await cluster.time.wait_until_ready(lambda: not_ready_reason(nodes), ready_timeout, ClusterNotReady):
            await cluster.wait_until_ok(ready_timeout)
        await _wait_until_replicas_synced(nodes, ready_timeout)
    except BaseException:
        await cluster.close()
        raise
    return cluster


async def _wait_until_replicas_synced(nodes: list[Node], timeout: float) -> None:
    """Every replica's replication link to its primary is up (the sync runs on the loop,
    over real sockets, whatever the protocol clock does)."""
    deadline = time.monotonic() + timeout
    while unsynced := [n.port for n in nodes if _core(n).myself.is_replica
                       and not (n.replication is not None and n.replication.link_up)]:  # fmt: skip
        if time.monotonic() > deadline:
            raise ClusterNotReady(f"cluster not ready after {timeout}s: replicas {unsynced} have not synced")
        await asyncio.sleep(_POLL_SECONDS)


# ----------------------------------------------------------------------------
# Synchronous use: the cluster's loop runs in a background thread
# ----------------------------------------------------------------------------
class ThreadedCluster:
    """A :class:`LocalCluster` driven from another thread; its methods block."""

    def __init__(self, cluster: LocalCluster, loop: asyncio.AbstractEventLoop) -> None:
        self.cluster = cluster
        self.loop = loop

    def run(self, coroutine: Coroutine[Any, Any, T] | Awaitable[T], timeout: float | None = 30.0) -> T:
        """Run a coroutine on the cluster's loop (where its nodes live) and return its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

    @property
    def nodes(self) -> list[Node]:
        return self.cluster.nodes

    @property
    def primaries(self) -> list[Node]:
        return self.cluster.primaries

    @property
    def replicas(self) -> list[Node]:
        return self.cluster.replicas

    @property
    def startup_nodes(self) -> list[tuple[str, int]]:
        return self.cluster.startup_nodes

    def node_for_slot(self, slot: int) -> Node:
        return self.cluster.node_for_slot(slot)

    def replicas_of(self, primary: Node) -> list[Node]:
        return self.cluster.replicas_of(primary)

    def node_by_id(self, node_id: str) -> Node:
        return self.cluster.node_by_id(node_id)

    def wait_until_ok(self, timeout: float = 10.0) -> None:
        self.run(self.cluster.wait_until_ok(timeout), timeout=timeout + 5)

    # -- faults: LocalCluster's, run on the cluster's loop ------------------------------------

    def _on_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        async def call() -> T:
            return function(*args, **kwargs)

        return self.run(call())

    def kill(self, node: Node) -> None:
        self.run(self.cluster.kill(node))

    def pause(self, node: Node, ms: int | None = None) -> None:
        self._on_loop(self.cluster.pause, node, ms)

    def resume(self, node: Node) -> None:
        self._on_loop(self.cluster.resume, node)

    def isolate(self, node: Node) -> None:
        self._on_loop(self.cluster.isolate, node)

    def partition(self, *groups: list[Node]) -> None:
        self._on_loop(self.cluster.partition, *groups)

    def drop(self, src: Node, dst: Node) -> None:
        self._on_loop(self.cluster.drop, src, dst)

    def delay(self, src: Node, dst: Node, ms: int) -> None:
        self._on_loop(self.cluster.delay, src, dst, ms)

    def heal(self) -> None:
        self._on_loop(self.cluster.heal)

    def slow(self, node: Node, seconds: float) -> None:
        self._on_loop(self.cluster.slow, node, seconds)

    def close_clients(self, node: Node) -> int:
        return self._on_loop(self.cluster.close_clients, node)

    def script_reply(self, node: Node, error: str, **match: Any) -> ScriptedRule:
        return self._on_loop(self.cluster.script_reply, node, error, **match)

    def clear_scripted_replies(self, node: Node | None = None) -> int:
        return self._on_loop(self.cluster.clear_scripted_replies, node)

    def wait_for_fail(self, node: Node, timeout: float = 5.0) -> None:
        self.run(self.cluster.wait_for_fail(node, timeout), timeout=timeout + 5)

    def wait_for_healthy(self, node: Node, timeout: float = 5.0) -> None:
        self.run(self.cluster.wait_for_healthy(node, timeout), timeout=timeout + 5)

    def wait_until_failed_everywhere(self, node: Node, timeout: float = 5.0) -> None:
        self.run(self.cluster.wait_until_failed_everywhere(node, timeout), timeout=timeout + 5)

    # -- topology and observation: LocalCluster's, run on the cluster's loop --------------------

    def failover(self, primary: Node, mode: str = "auto", *, replica: Node | None = None,
                 timeout: float = 10.0) -> Node:  # fmt: skip
        return self.run(self.cluster.failover(primary, mode, replica=replica, timeout=timeout), timeout=timeout * 3)

    def move_slots(self, slots: int | range | list[int], to_node: Node, *, stop_half_way: bool = False,
                   timeout: float = 10.0) -> SlotMove:  # fmt: skip
        return self.run(self.cluster.move_slots(slots, to_node, stop_half_way=stop_half_way, timeout=timeout),
                        timeout=None)  # fmt: skip

    def finish_move(self, move: SlotMove, timeout: float = 10.0) -> None:
        """``await move.finish()`` of a move stopped half way."""
        self.run(move.finish(timeout), timeout=None)

    def wait_until_agree(self, timeout: float = 10.0) -> None:
        self.run(self.cluster.wait_until_agree(timeout), timeout=timeout + 5)

    def wait_until_slot_owner(self, slot: int, node: Node, timeout: float = 10.0) -> None:
        self.run(self.cluster.wait_until_slot_owner(slot, node, timeout), timeout=timeout + 5)

    def view(self, node: Node) -> NodeView:
        return self._on_loop(self.cluster.view, node)

    def event_mark(self) -> int:
        return self._on_loop(self.cluster.event_mark)

    def wait_for_event(self, name: str, where: Any = None, *, node: Node | None = None, after: int = 0,
                       timeout: float = 5.0) -> Any:  # fmt: skip
        return self.run(self.cluster.wait_for_event(name, where, node=node, after=after, timeout=timeout),
                        timeout=timeout + 5)  # fmt: skip

    def add_node(self, primary: bool = True, replica_of: Node | None = None, timeout: float = 10.0) -> Node:
        return self.run(self.cluster.add_node(primary, replica_of, timeout), timeout=timeout * 3)

    def remove_node(self, node: Node, timeout: float = 10.0) -> None:
        self.run(self.cluster.remove_node(node, timeout), timeout=timeout * 3)

    def restart(self, node: Node, timeout: float = 10.0) -> Node:
        return self.run(self.cluster.restart(node, timeout), timeout=timeout * 3)

    # -- time you control: LocalCluster's, run on the cluster's loop ----------------------------

    def freeze(self) -> None:
        self._on_loop(self.cluster.freeze)

    def unfreeze(self) -> None:
        self.run(self.cluster.unfreeze())

    def advance(self, ms: int) -> int:
        return self.run(self.cluster.advance(ms))

    def step(self) -> tuple[Node, HeldMessage] | None:
        return self.run(self.cluster.step())

    def held(self) -> list[tuple[Node, HeldMessage]]:
        return self._on_loop(self.cluster.held)

    def set_time_scale(self, factor: float) -> None:
        self._on_loop(self.cluster.set_time_scale, factor)

    def protocol_time_ms(self) -> int:
        return self._on_loop(self.cluster.protocol_time_ms)

    def close(self) -> None:
        self.run(self.cluster.close())


@contextmanager
def cluster_in_thread(
    primaries: int = 3, replicas_per_primary: int = 0, **options: Any
) -> Iterator[ThreadedCluster]:
    """``start_cluster`` for synchronous code: the nodes run on a loop in a daemon thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="pyredis-cluster", daemon=True)
    thread.start()
    try:
        layout = Layout(primaries, replicas_per_primary)
        future = asyncio.run_coroutine_threadsafe(create_cluster(layout, **options), loop)
        cluster = ThreadedCluster(future.result(), loop)
        try:
            yield cluster
        finally:
            cluster.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if not thread.is_alive():
            loop.close()


# ----------------------------------------------------------------------------
# Measuring
# ----------------------------------------------------------------------------
async def measure_startup(
    runs: int = 10, primaries: int = 3, replicas_per_primary: int = 1
) -> list[tuple[float, float]]:
    """``(wall seconds, CPU seconds of this process)`` from entering ``start_cluster`` to ready.

    :func:`print_startup_times` prints the medians.
    """
    samples = []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        async with start_cluster(primaries, replicas_per_primary):
            samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    return samples


def print_startup_times(runs: int = 10) -> None:
    """Print the medians of :func:`measure_startup` (uvloop when installed, like the server)."""
    import statistics

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    samples = asyncio.run(measure_startup(runs))
    walls = sorted(wall for wall, _ in samples)
    cpus = sorted(cpu for _, cpu in samples)
    print(f"6 nodes ready, {runs} runs: median {statistics.median(walls) * 1000:.1f} ms wall "
          f"(min {walls[0] * 1000:.1f}, max {walls[-1] * 1000:.1f}), median {statistics.median(cpus) * 1000:.1f} ms CPU")  # fmt: skip


def measure_fixture_and_failover(runs: int = 10) -> dict[str, list[float]]:
    """Wall seconds of what the pytest plugin's users wait for, ``runs`` times each:

    * ``fixture``: ``cluster_in_thread(3, 1)`` entered until it yields a ready cluster (what
      the ``redis_cluster`` fixture does, thread start-up included);
    * ``manual_failover``: ``cluster.failover(primary, "manual")`` on such a cluster, from
      the call until every node sees the replica serving the slots;
    * ``auto_failover_300ms``: ``failover(primary, "auto")`` with node_timeout 300 ms (the
      primary stops answering; detection, election and agreement).
    """
    samples: dict[str, list[float]] = {"fixture": [], "manual_failover": [], "auto_failover_300ms": []}
    for _ in range(runs):
        started = time.perf_counter()
        with cluster_in_thread(3, 1) as cluster:
            samples["fixture"].append(time.perf_counter() - started)
            started = time.perf_counter()
            cluster.failover(cluster.primaries[0], "manual")
            samples["manual_failover"].append(time.perf_counter() - started)
        with cluster_in_thread(3, 1, node_timeout=300) as cluster:
            started = time.perf_counter()
            cluster.failover(cluster.primaries[0], "auto")
            samples["auto_failover_300ms"].append(time.perf_counter() - started)
    return samples


def print_fixture_and_failover_times(runs: int = 10) -> None:
    """Print the medians (and extremes) of :func:`measure_fixture_and_failover`."""
    import statistics

    for name, values in measure_fixture_and_failover(runs).items():
        ms = sorted(value * 1000 for value in values)
        print(f"{name}: median {statistics.median(ms):.0f} ms (min {ms[0]:.0f}, max {ms[-1]:.0f}), {runs} runs")
