"""A deterministic simulation of a whole cluster: N cluster cores, one manual clock, one network.

Theory of operation
-------------------
``Simulation(n)`` builds ``n`` ``ClusterState`` cores (cluster/state.py), each with
its own seeded ``random.Random`` derived from the simulation's seed, and plays the
parts of the clock, the event loop and the network:

* **Clock.** Simulated Unix milliseconds (``sim.now``), starting at ``start_ms``.
  Nothing waits: the scheduler jumps from one scheduled action to the next. Each
  node's cron (``tick``) runs every 100 ms at its own random phase.
* **Network.** A bus connection is a pair of in-memory byte queues. Every message a
  core sends is **encoded with the real codec** (codec.encode) and **decoded by a
  BusDecoder** on the other side, so the simulation exercises the exact wire
  format a real Redis 7.0 node would see. Delivery keeps TCP's per-direction FIFO
  order after ``latency_ms`` (+ up to ``jitter_ms``).
* **Effects.** ``Connect`` reaches the node listening on that ip:cport (refused
  if it is dead, hanging while a partition separates them), ``CloseLink`` closes
  both ends (the peer learns it one latency later), ``SaveConfig`` stores the
  nodes.conf text (``revive`` restarts a node from it), events go to
  ``sim.events``, the rest to ``sim_node.effects``.
* **Replication** (a model, not data). Each node has a replication offset
  (``SimNode.repl_offset``). ``write(i)`` adds to a primary's offset, unless its
  cluster state is FAIL or a manual failover paused its writes. Before each tick,
  a replica whose primary (``myself.primary_id``) is alive, running and reachable
  copies the primary's offset (less ``set_replication_lag``), and its core learns
  it through ``set_replication_info`` with the time of that interaction;
  ``cut_replication`` stops the copying (the data age then grows). ``PauseWrites``
  is honoured at once and acknowledged with ``writes_paused``; ``ResumeWrites``
  lifts it.
* **Keys** (names only, no values). Each node has a ``SimKeyspace`` that its core
  reads (CLUSTER SETSLOT NODE refuses a slot with keys; a primary losing a slot
  with keys deletes them). ``set_keys`` writes names on a node, ``migrate_keys``
  moves names as MIGRATE does (the target gets them, the source deletes them), and
  a replica's names follow its primary's whenever its replication flows. With
  ``route_query`` this shows which node answers what while a slot is half-migrated
  (the scenario helpers at the end of this module). Killed nodes keep their keys,
  as with persistence.
* **Faults.** ``kill`` (crash: connections reset, connects refused), ``revive``
  (restart from the last saved nodes.conf), ``pause``/``resume`` (SIGSTOP-like:
  nothing is processed, bytes queue up), ``partition`` (groups that cannot talk),
  ``one_way_loss`` (a->b dropped, b->a fine), ``drop_rate`` (random loss) and
  ``heal``.
* **Trace.** With ``trace=True`` every message a core sends or is handed, and every
  event, is also recorded in ``sim.trace`` as a teaching-trace record
  (cluster/trace.py), exactly as a running node writes them: same seed, same trace.

Determinism: one heap ordered by (time, sequence number), dicts and lists only
(no iteration over sets, whose order depends on PYTHONHASHSEED), and every random
choice drawn from seeded generators. The same seed gives the same event sequence,
byte for byte; ``sim.event_signature()`` summarizes it for comparison.

Typical use::

    sim = Simulation(6, seed=1, node_timeout=2000)
    sim.create_cluster()                 # epochs, slots, MEET, wait for agreement
    sim.kill(2)
    assert sim.run_until(lambda: sim.all_see_flag(sim.id(2), NodeFlags.FAIL), 20_000)

Deliberately weak
-----------------
A partition *drops* bytes (a real TCP stream would stall and retransmit); random
loss drops whole messages (TCP never does: it models a lossy middlebox and tests
robustness). Connects across a partition hang until the core gives up on the link
or ``heal()`` completes them. A paused node's kernel still accepts connections.
Writes to a connection the peer already closed reset it (RST), as on Linux.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..cluster.codec import NEED_DATA, BusDecoder, BusFramingError, DroppedPacket, encode
from ..cluster.constants import CLUSTER_CRON_PERIOD, CLUSTER_SLOTS
from ..cluster.effects import (
    CloseLink,
    Connect,
    DeleteKeysInSlots,
    Effect,
    FlushData,
    LinkId,
    PauseWrites,
    PublishReceived,
    ResumeWrites,
    SaveConfig,
    Send,
)
from ..cluster.events import Event, EventName
from ..cluster.messages import Message, message_type_log_name
from ..cluster.nodes import NodeFlags
from ..cluster.nodes_conf import parse_nodes_conf
from ..cluster.slots import key_hash_slot
from ..cluster.state import ClusterSettings, ClusterState
from ..cluster.trace import Record, TraceRecorder

DEFAULT_START_MS = 1_700_000_000_000  # a plausible Unix time: gossip carries pong times in seconds


class SimKeyspace:
    """The key names a simulated node holds: what its core asks (SlotKeys) and little else."""

    def __init__(self) -> None:
        self._slots: dict[int, dict[bytes, None]] = {}  # slot -> key names (insertion-ordered)

    def count_keys_in_slot(self, slot: int) -> int:
        return len(self._slots.get(slot, ()))

    def key_count(self) -> int:
        return sum(len(keys) for keys in self._slots.values())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, bytes) and key in self._slots.get(key_hash_slot(key), ())

    def keys_in_slot(self, slot: int) -> list[bytes]:
        return list(self._slots.get(slot, ()))

    def add(self, key: bytes) -> None:
        self._slots.setdefault(key_hash_slot(key), {})[key] = None

    def remove(self, key: bytes) -> bool:
        """Delete ``key``; True if it was there."""
        keys = self._slots.get(key_hash_slot(key), {})
        if key not in keys:
            return False
        del keys[key]
        return True

    def delete_slots(self, slots: Iterable[int]) -> None:
        for slot in slots:
            self._slots.pop(slot, None)

    def flush(self) -> None:
        self._slots.clear()

    def mirror(self, primary: SimKeyspace) -> None:
        """Hold exactly the primary's key names (what a replica in sync has)."""
        self._slots = {slot: dict(keys) for slot, keys in primary._slots.items() if keys}


@dataclass
class SimNode:
    """One simulated process: its core, address, liveness and what it did."""

    index: int
    state: ClusterState
    ip: str
    port: int
    cport: int
    alive: bool = True
    paused: bool = False
    nodes_conf: str | None = None  # last SaveConfig
    saves: int = 0
    fsyncs: int = 0
    published: list[PublishReceived] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)  # replication / key effects, for tests
    backlog: list[Callable[[], None]] = field(default_factory=list)  # work queued while paused
    incarnation: int = 0  # bumped by revive: stale scheduled work for an old process is dropped
    repl_offset: int = 0  # master_repl_offset (primary) or processed offset (replica)
    repl_last_io: int | None = None  # replica: last interaction with its primary
    writes_paused_until: int = 0  # PauseWrites (manual failover, primary side)
    keyspace: SimKeyspace = field(default_factory=SimKeyspace)

    @property
    def name(self) -> str:
        return self.state.myid


@dataclass
class _Side:
    node: int
    link: LinkId | None  # the core's link id on this side (None until accepted)
    open: bool = True
    decoder: BusDecoder = field(default_factory=BusDecoder)
    last_delivery: int = 0  # FIFO: nothing overtakes what was sent earlier


@dataclass
class _Conn:
    id: int
    dialer: _Side
    acceptor: _Side
    established: bool = False
    pending: list[bytes] = field(default_factory=list)  # written before the connect completed

    def side(self, node: int, link: LinkId) -> tuple[_Side, _Side]:
        if self.dialer.node == node and self.dialer.link == link:
            return self.dialer, self.acceptor
        return self.acceptor, self.dialer


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One message on the simulated wire (recorded when ``trace_messages`` is on)."""

    time_ms: int
    src: int
    dst: int
    type: str
    size: int
    dropped: bool = False


class Simulation:
    """N cluster cores on a manual clock with a seeded, fault-injectable network."""

    def __init__(
        self,
        n_nodes: int,
        *,
        seed: int = 0,
        node_timeout: int = 2000,
        start_ms: int = DEFAULT_START_MS,
        latency_ms: int = 1,
        jitter_ms: int = 0,
        ip: str = "127.0.0.1",
        base_port: int = 30001,
        require_full_coverage: bool = True,
        hostnames: bool = False,
        trace_messages: bool = False,
        replication: bool = True,
        trace: bool = False,
    ) -> None:
        self.seed = seed
        self.now = start_ms
        self.rng = random.Random(seed)
        self.latency_ms = latency_ms
        self.jitter_ms = jitter_ms
        self.drop_rate = 0.0
        self.events: list[Event] = []
        self.trace_messages = trace_messages
        self.messages: list[SimMessage] = []
        #: The teaching trace (cluster/trace.py records) of every node, when ``trace`` is on.
        self.trace: list[Record] = []
        self._tracers: list[TraceRecorder] | None = None  # one per node, made by the loop below
        self._heap: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = 0
        self._conns: dict[int, _Conn] = {}
        self._by_link: dict[tuple[int, LinkId], _Conn] = {}
        self._next_conn = 1
        self._groups: dict[int, int] | None = None  # node -> partition group
        self._one_way: list[tuple[int, int]] = []  # (src, dst) pairs whose bytes are lost
        self.replication = replication  # feed the cores the replication model (see module doc)
        self._repl_lag: dict[int, int] = {}  # replica -> bytes behind its primary
        self._repl_cut: list[int] = []  # replicas whose replication link is down
        self.nodes: list[SimNode] = []
        for i in range(n_nodes):
            port = base_port + i
            settings = ClusterSettings(
                port=port,
                node_timeout=node_timeout,
                require_full_coverage=require_full_coverage,
                announce_hostname=f"node{i}.sim" if hostnames else "",
            )
            keyspace = SimKeyspace()
            state = ClusterState(settings, now_ms=self.now, rng=random.Random(self.rng.getrandbits(64)),
                                 keyspace=keyspace)
            node = SimNode(i, state, ip, port, settings.cport, keyspace=keyspace)
            node.nodes_conf = state.nodes_conf_text()  # a fresh node saves at once
            self.nodes.append(node)
            self._schedule_tick(node, first=True)
        if trace:
            self._tracers = [TraceRecorder(self._core_of(i), self.trace.append) for i in range(n_nodes)]

    # ------------------------------------------------------------------------
    # Accessors and predicates
    # ------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def state(self, i: int) -> ClusterState:
        return self.nodes[i].state

    @property
    def states(self) -> list[ClusterState]:
        return [n.state for n in self.nodes]

    def id(self, i: int) -> str:
        """Node ``i``'s node id."""
        return self.nodes[i].state.myid

    def alive(self) -> list[SimNode]:
        return [n for n in self.nodes if n.alive]

    def index_of(self, node_id: str) -> int:
        for node in self.nodes:
            if node.state.myid == node_id:
                return node.index
        raise KeyError(node_id)

    def all_know_each_other(self, among: Iterable[int] | None = None) -> bool:
        """Every (alive) node knows every other one by its real id, none in handshake."""
        members = [self.nodes[i] for i in among] if among is not None else self.alive()
        ids = [m.state.myid for m in members]
        for m in members:
            for node_id in ids:
                node = m.state.nodes.get(node_id)
                if node is None or node.in_handshake:
                    return False
            if any(n.in_handshake for n in m.state.nodes.values()):
                return False
        return True

    def slot_map(self, i: int) -> dict[str, int]:
        """Node ``i``'s view of slot ownership: owner id -> slot mask."""
        return {n.name: n.slots.mask for n in self.state(i).nodes.values() if n.slots}

    def slot_maps_agree(self, among: Iterable[int] | None = None) -> bool:
        members = list(among) if among is not None else [n.index for n in self.alive()]
        first = self.slot_map(members[0])
        return all(self.slot_map(i) == first for i in members[1:])

    def cluster_ok(self, among: Iterable[int] | None = None) -> bool:
        members = list(among) if among is not None else [n.index for n in self.alive()]
        return all(self.state(i).state == 0 for i in members)

    def converged(self, among: Iterable[int] | None = None) -> bool:
        members = list(among) if among is not None else None
        return self.all_know_each_other(members) and self.slot_maps_agree(members)

    def all_see_flag(self, node_id: str, flag: NodeFlags, among: Iterable[int] | None = None) -> bool:
        """Every (alive) node other than ``node_id`` has ``flag`` set on it."""
        members = [self.nodes[i] for i in among] if among is not None else self.alive()
        for m in members:
            if m.state.myid == node_id:
                continue
            node = m.state.nodes.get(node_id)
            if node is None or flag not in node.flags:
                return False
        return True

    def none_see_flag(self, node_id: str, flag: NodeFlags, among: Iterable[int] | None = None) -> bool:
        """No (alive) node has any bit of ``flag`` set on ``node_id``."""
        members = [self.nodes[i] for i in among] if among is not None else self.alive()
        for m in members:
            node = m.state.nodes.get(node_id)
            if node is not None and node.flags & flag:  # any of the bits
                return False
        return True

    def events_named(self, name: EventName | str, *, source: str | None = None) -> list[Event]:
        return [e for e in self.events if e.name == name and (source is None or e.source == source)]

    def event_signature(self) -> list[tuple[int, str, str, tuple[tuple[str, str], ...]]]:
        """The event log as plain tuples (time, source, name, sorted fields): compare runs."""
        return [
            (e.time_ms, e.source, str(e.name), tuple(sorted((k, repr(v)) for k, v in e.fields.items())))
            for e in self.events
        ]

    def event_log(self) -> str:
        """The merged event stream, one line per event (the teaching trace)."""
        return "\n".join(str(e) for e in self.events)

    # ------------------------------------------------------------------------
    # Driving the clock
    # ------------------------------------------------------------------------
    def _schedule(self, when: int, action: Callable[[], None]) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action))

    def _step(self) -> None:
        when, _seq, action = heapq.heappop(self._heap)
        self.now = max(self.now, when)
        action()

    def run_for(self, ms: int) -> None:
        """Advance the clock by ``ms``, running everything scheduled meanwhile."""
        end = self.now + ms
        while self._heap and self._heap[0][0] <= end:
            self._step()
        self.now = end

    def run_until(self, predicate: Callable[[], bool], max_ms: int, *, check_every_ms: int = 10) -> bool:
        """Run until ``predicate()`` holds (checked every ``check_every_ms``); False on timeout."""
        end = self.now + max_ms
        while True:
            if predicate():
                return True
            if self.now >= end:
                return False
            self.run_for(min(check_every_ms, end - self.now))

    # ------------------------------------------------------------------------
    # Running effects
    # ------------------------------------------------------------------------
    def _run(self, i: int, effects: list[Effect]) -> None:
        node = self.nodes[i]
        paused = False
        tracer = self._tracer(i)
        for effect in effects:
            if isinstance(effect, Event):
                self.events.append(effect)
                if tracer is not None:
                    tracer.event(effect)
            elif isinstance(effect, Send):
                if tracer is not None:
                    tracer.sent(effect)
                self._send(i, effect.link_id, effect.message)
            elif isinstance(effect, Connect):
                self._connect(i, effect)
            elif isinstance(effect, CloseLink):
                self._close(i, effect.link_id, notify_self=False)
            elif isinstance(effect, SaveConfig):
                node.nodes_conf = node.state.nodes_conf_text()
                node.saves += 1
                node.fsyncs += effect.fsync
            elif isinstance(effect, PublishReceived):
                node.published.append(effect)
            else:
                if isinstance(effect, PauseWrites):
                    node.writes_paused_until = effect.until_ms
                    paused = True
                elif isinstance(effect, ResumeWrites):
                    node.writes_paused_until = 0
                elif isinstance(effect, DeleteKeysInSlots):
                    node.keyspace.delete_slots(effect.slots)
                elif isinstance(effect, FlushData):
                    node.keyspace.flush()
                node.effects.append(effect)
        if paused and node.writes_paused_until > self.now:
            # The "server" paused at once: acknowledge with the offset writes stopped at.
            self._run(i, node.state.writes_paused(node.repl_offset, self.now))

    def _core_of(self, i: int) -> Callable[[], ClusterState]:
        return lambda: self.nodes[i].state  # revive replaces the core

    def _tracer(self, i: int) -> TraceRecorder | None:
        return self._tracers[i] if self._tracers is not None else None

    def _call(self, i: int, fn: Callable[[], list[Effect]]) -> None:
        """Run ``fn`` on node i now, or queue it while the node is paused."""
        node = self.nodes[i]
        if not node.alive:
            return
        if node.paused:
            node.backlog.append(lambda: self._run(i, fn()))
            return
        self._run(i, fn())

    def _schedule_tick(self, node: SimNode, first: bool = False) -> None:
        incarnation = node.incarnation
        delay = self.rng.randrange(CLUSTER_CRON_PERIOD) + 1 if first else CLUSTER_CRON_PERIOD

        def tick() -> None:
            if not node.alive or node.incarnation != incarnation:
                return
            if not node.paused:
                if self.replication:
                    self._feed_replication(node)
                self._run(node.index, node.state.tick(self.now))
            self._schedule_tick(node)

        self._schedule(self.now + delay, tick)

    # ------------------------------------------------------------------------
    # Replication model
    # ------------------------------------------------------------------------
    def _feed_replication(self, node: SimNode) -> None:
        me = node.state.myself
        if me.is_replica:
            primary_id = me.primary_id
            source = next((n for n in self.nodes if n.state.myid == primary_id), None)
            if (
                source is not None
                and source.alive
                and not source.paused
                and node.index not in self._repl_cut
                and not self._blocked(source.index, node.index)
                and not self._blocked(node.index, source.index)
            ):
                node.repl_offset = max(0, source.repl_offset - self._repl_lag.get(node.index, 0))
                node.repl_last_io = self.now
                node.keyspace.mirror(source.keyspace)
            self._run(node.index, node.state.set_replication_info(node.repl_offset, node.repl_last_io, self.now))
        else:
            self._run(node.index, node.state.set_replication_info(node.repl_offset, None, self.now))

    def write(self, i: int, nbytes: int = 1) -> bool:
        """A client write on node ``i``: True if acknowledged (a primary, cluster ok, not paused)."""
        node = self.nodes[i]
        state = node.state
        if (
            not node.alive
            or node.paused
            or not state.myself.is_primary
            or state.state != 0
            or self.now < node.writes_paused_until
        ):
            return False
        node.repl_offset += nbytes
        return True

    def set_replication_lag(self, i: int, nbytes: int) -> None:
        """Replica ``i`` stays ``nbytes`` behind its primary (0: in sync)."""
        self._repl_lag[i] = nbytes

    def cut_replication(self, i: int, cut: bool = True) -> None:
        """Replica ``i``'s replication link goes down (or back up with ``cut=False``)."""
        if cut and i not in self._repl_cut:
            self._repl_cut.append(i)
        elif not cut and i in self._repl_cut:
            self._repl_cut.remove(i)

    def admin(self, i: int, op: str, *args: Any) -> Any:
        """Call an admin operation on node ``i`` now and run its effects: ``sim.admin(0,
        "addslotsrange", [(0, 100)])``. Returns the operation's non-effect result, if any."""
        fn = getattr(self.nodes[i].state, op)
        result = fn(*args, self.now)
        if isinstance(result, tuple):
            value, effects = result
            self._run(i, effects)
            return value
        if isinstance(result, list):
            self._run(i, result)
            return None
        return result

    # ------------------------------------------------------------------------
    # Network
    # ------------------------------------------------------------------------
    def _blocked(self, src: int, dst: int) -> bool:
        if (src, dst) in self._one_way:
            return True
        return self._groups is not None and self._groups.get(src, -1) != self._groups.get(dst, -1)

    def _endpoint(self, ip: str, cport: int) -> SimNode | None:
        for node in self.nodes:
            if node.ip == ip and node.cport == cport:
                return node
        return None

    def _connect(self, i: int, effect: Connect) -> None:
        conn = _Conn(self._next_conn, _Side(i, effect.link_id), _Side(-1, None))
        self._next_conn += 1
        self._conns[conn.id] = conn
        self._by_link[(i, effect.link_id)] = conn
        target = self._endpoint(effect.ip, effect.cport)
        incarnation = self.nodes[i].incarnation
        if target is None or not target.alive:
            def refused() -> None:
                if self.nodes[i].incarnation == incarnation and conn.dialer.open:
                    conn.dialer.open = False
                    self._call(i, lambda: self.nodes[i].state.link_closed(effect.link_id, self.now,
                                                                           connect_failed=True))
            self._schedule(self.now + self._delay(), refused)
            return
        conn.acceptor.node = target.index
        if self._blocked(i, target.index) or self._blocked(target.index, i):
            return  # SYN lost: the connect hangs (heal() completes it)
        self._schedule(self.now + self._delay(), lambda: self._accept(conn))

    def _accept(self, conn: _Conn) -> None:
        if conn.established or not conn.dialer.open:
            return
        target = self.nodes[conn.acceptor.node]
        dialer = self.nodes[conn.dialer.node]
        if not target.alive:
            conn.dialer.open = False
            self._call(dialer.index, lambda: dialer.state.link_closed(conn.dialer.link or 0, self.now,
                                                                       connect_failed=True))
            return
        conn.acceptor.link = target.state.accept_link(dialer.ip, target.ip, self.now)
        self._by_link[(target.index, conn.acceptor.link)] = conn
        conn.established = True
        link_id = conn.dialer.link
        assert link_id is not None

        def connected() -> None:
            if not conn.dialer.open:
                return
            self._call(dialer.index, lambda: dialer.state.link_connected(link_id, self.now))
            # Bytes queued before the connect completed go out now, in order. (link_connected
            # queued its PING/MEET behind them, as Redis's send buffer would.)
            pending, conn.pending = conn.pending, []
            for data in pending:
                self._transmit(conn, conn.dialer, conn.acceptor, data)

        self._schedule(self.now + self._delay(), connected)

    def _delay(self) -> int:
        return self.latency_ms + (self.rng.randrange(self.jitter_ms + 1) if self.jitter_ms else 0)

    def _send(self, i: int, link_id: LinkId, message: Message) -> None:
        conn = self._by_link.get((i, link_id))
        if conn is None:
            return
        src, dst = conn.side(i, link_id)
        if not src.open:
            return
        data = encode(message)
        if not conn.established:
            conn.pending.append(data)
            return
        self._transmit(conn, src, dst, data, message)

    def _transmit(self, conn: _Conn, src: _Side, dst: _Side, data: bytes, message: Message | None = None) -> None:
        lost = self._blocked(src.node, dst.node) or (self.drop_rate > 0 and self.rng.random() < self.drop_rate)
        if self.trace_messages:
            mtype = message.type if message is not None else int.from_bytes(data[12:14], "big")
            self.messages.append(SimMessage(self.now, src.node, dst.node, message_type_log_name(mtype),
                                            len(data), lost))
        if lost:
            return
        when = max(self.now + self._delay(), src.last_delivery)
        src.last_delivery = when
        incarnation = self.nodes[dst.node].incarnation
        self._schedule(when, lambda: self._deliver(conn, src, dst, data, incarnation))

    def _deliver(self, conn: _Conn, src: _Side, dst: _Side, data: bytes, incarnation: int) -> None:
        node = self.nodes[dst.node]
        if not node.alive or node.incarnation != incarnation:
            return
        if not dst.open or dst.link is None:
            # Writing to a socket the peer closed: it answers with a reset.
            if src.open:
                self._reset(src)
            return
        if node.paused:
            node.backlog.append(lambda: self._deliver(conn, src, dst, data, incarnation))
            return
        dst.decoder.feed(data)
        link = dst.link
        while True:
            try:
                item = dst.decoder.next_message()
            except BusFramingError:
                self._close(dst.node, link, notify_self=True)
                return
            if item is NEED_DATA:
                return
            if isinstance(item, DroppedPacket):
                self._run(dst.node, node.state.handle_dropped(link, item.message_type, item.log, self.now))
            else:
                tracer = self._tracer(dst.node)
                if tracer is not None:
                    tracer.received(link, item, self.now)
                self._run(dst.node, node.state.handle_packet(link, item, self.now))
            if not dst.open:
                return

    def _reset(self, side: _Side) -> None:
        side.open = False
        node = self.nodes[side.node]
        if side.link is not None:
            link = side.link
            self._call(side.node, lambda: node.state.link_closed(link, self.now))

    def _close(self, i: int, link_id: LinkId, *, notify_self: bool) -> None:
        """Node ``i`` closes its end; the peer notices one latency (and the in-flight data) later."""
        conn = self._by_link.get((i, link_id))
        if conn is None:
            return
        mine, peer = conn.side(i, link_id)
        if not mine.open:
            return
        mine.open = False
        if notify_self:
            self._call(i, lambda: self.nodes[i].state.link_closed(link_id, self.now))
        if not conn.established or peer.link is None:
            return
        if self._blocked(i, peer.node):
            return  # the FIN is lost; the peer finds out when it writes (reset) or times out
        self._schedule(max(self.now + self._delay(), mine.last_delivery), self._reset_later(peer))

    # ------------------------------------------------------------------------
    # Faults
    # ------------------------------------------------------------------------
    def kill(self, i: int) -> None:
        """Crash node ``i``: its connections are reset, connects to it are refused."""
        node = self.nodes[i]
        node.alive = False
        node.paused = False
        node.backlog.clear()
        for conn in list(self._conns.values()):
            for mine, peer in ((conn.dialer, conn.acceptor), (conn.acceptor, conn.dialer)):
                if mine.node == i and mine.open:
                    mine.open = False
                    if conn.established and peer.open and peer.link is not None:
                        self._schedule(self.now + self._delay(), self._reset_later(peer))

    def _reset_later(self, side: _Side) -> Callable[[], None]:
        """A reset that reaches ``side`` later, unless that process was restarted meanwhile."""
        incarnation = self.nodes[side.node].incarnation

        def reset() -> None:
            if side.open and self.nodes[side.node].incarnation == incarnation:
                self._reset(side)

        return reset

    def revive(self, i: int) -> None:
        """Restart node ``i`` from its last saved nodes.conf (same id, epochs, slots)."""
        node = self.nodes[i]
        assert not node.alive, "revive a killed node"
        old = node.state
        config = parse_nodes_conf(node.nodes_conf or "", self.now)
        node.state = ClusterState(old.settings, now_ms=self.now, rng=random.Random(self.rng.getrandbits(64)),
                                  config=config, keyspace=node.keyspace)
        node.alive = True
        node.incarnation += 1
        node.writes_paused_until = 0
        self._schedule_tick(node, first=True)

    def pause(self, i: int) -> None:
        """Stop node ``i`` (SIGSTOP): no ticks, no processing; bytes queue up."""
        self.nodes[i].paused = True

    def resume(self, i: int) -> None:
        """SIGCONT: process everything queued, in order."""
        node = self.nodes[i]
        node.paused = False
        backlog, node.backlog = node.backlog, []
        for work in backlog:
            if node.paused or not node.alive:
                break
            work()

    def partition(self, *groups: Sequence[int]) -> None:
        """Nodes in different groups cannot talk; unlisted nodes form one more group."""
        self._groups = {}
        for g, members in enumerate(groups):
            for i in members:
                self._groups[i] = g
        for node in self.nodes:
            self._groups.setdefault(node.index, len(groups))

    def isolate(self, i: int) -> None:
        """Partition node ``i`` from everybody else."""
        self.partition([i])

    def one_way_loss(self, src: int, dst: int) -> None:
        """Lose every byte from ``src`` to ``dst`` (the other direction still works)."""
        if (src, dst) not in self._one_way:
            self._one_way.append((src, dst))

    def heal(self) -> None:
        """Remove partitions and one-way losses; hanging connects complete."""
        self._groups = None
        self._one_way.clear()
        self.drop_rate = 0.0
        for conn in list(self._conns.values()):
            if not conn.established and conn.dialer.open and conn.acceptor.node >= 0:
                self._schedule(self.now + self._delay(), self._accept_later(conn))

    def _accept_later(self, conn: _Conn) -> Callable[[], None]:
        return lambda: self._accept(conn)

    # ------------------------------------------------------------------------
    # Cluster set-up helpers (what redis-cli --cluster create does)
    # ------------------------------------------------------------------------
    def meet_all(self, via: int = 0) -> None:
        """Node ``via`` MEETs every other node (then gossip does the rest)."""
        for node in self.nodes:
            if node.index != via and node.alive:
                self.admin(via, "meet", node.ip, node.port, node.cport)

    def set_config_epochs(self) -> None:
        """CLUSTER SET-CONFIG-EPOCH i+1 on every node (before MEET, as redis-cli does)."""
        for node in self.nodes:
            self.admin(node.index, "set_config_epoch", node.index + 1)

    def assign_slots(self, primaries: Sequence[int] | None = None) -> None:
        """Split the 16384 slots evenly among ``primaries`` (default: all nodes)."""
        members = list(primaries) if primaries is not None else [n.index for n in self.nodes]
        per = CLUSTER_SLOTS / len(members)
        for k, i in enumerate(members):
            start, end = round(k * per), round((k + 1) * per) - 1
            self.admin(i, "addslotsrange", [(start, end)])

    def create_cluster(
        self, *, primaries: Sequence[int] | None = None, replicas: dict[int, int] | None = None,
        epochs: bool = True, max_ms: int = 30_000,
    ) -> None:
        """Set epochs, assign slots, MEET, wait until everybody agrees and the state is ok.

        ``replicas``: {replica index: primary index}, applied once the replica knows its
        primary (CLUSTER REPLICATE; role only, no data).
        """
        replicas = replicas or {}
        if primaries is None:
            primaries = [n.index for n in self.nodes if n.index not in replicas]
        if epochs:
            self.set_config_epochs()
        self.assign_slots(primaries)
        self.meet_all()
        if not self.run_until(self.all_know_each_other, max_ms):
            raise TimeoutError("nodes did not learn each other")
        for replica, primary in replicas.items():
            self.admin(replica, "replicate", self.id(primary))
        if not self.run_until(lambda: self.converged() and self.cluster_ok() and self._roles_agree(replicas),
                              max_ms):
            raise TimeoutError("cluster did not converge")

    def _roles_agree(self, replicas: dict[int, int]) -> bool:
        for m in self.alive():
            for replica, primary in replicas.items():
                node = m.state.nodes.get(self.id(replica))
                if node is None or node.primary_id != self.id(primary):
                    return False
        return True

    # ------------------------------------------------------------------------
    # Slot migration scenario helpers (what redis-cli --cluster reshard does, step by step)
    # ------------------------------------------------------------------------
    def set_keys(self, i: int, keys: Iterable[bytes]) -> None:
        """Client writes of ``keys`` acknowledged by node ``i`` (names only)."""
        for key in keys:
            self.nodes[i].keyspace.add(key)

    def open_slot(self, slot: int, source: int, target: int) -> None:
        """CLUSTER SETSLOT IMPORTING on the target, then MIGRATING on the source (redis-cli's order)."""
        self.admin(target, "setslot", slot, "importing", self.id(source))
        self.admin(source, "setslot", slot, "migrating", self.id(target))

    def migrate_keys(self, source: int, target: int, keys: Iterable[bytes]) -> list[bytes]:
        """MIGRATE ... KEYS: the keys ``source`` holds go to ``target`` and are deleted on
        the source (its replicas follow, as they get MIGRATE's DELs). Returns those moved."""
        src, dst = self.nodes[source], self.nodes[target]
        if not (src.alive and dst.alive) or self._blocked(source, target) or self._blocked(target, source):
            raise ConnectionError(f"MIGRATE from node {source} cannot reach node {target}")
        moved = [key for key in keys if src.keyspace.remove(key)]
        for key in moved:
            dst.keyspace.add(key)
        return moved

    def route_query(self, i: int, key: bytes, *, write: bool = False, asking: bool = False,
                    readonly: bool = False) -> Any:
        """Where node ``i`` would serve a GET (or a SET with ``write``) of ``key``: the
        server's own routing decision (server/cluster_routing.py, a pure function) over
        this node's slot view and key names. Imported on use: the simulation itself
        stays free of the server package."""
        from ..cluster.state import ClusterHealth
        from ..server import commands as _registers_the_table  # noqa: F401
        from ..server.cluster_routing import SlotView, route
        from ..server.command_table import lookup

        state = self.state(i)
        spec = lookup(b"set" if write else b"get")
        assert spec is not None
        args = [b"SET", key, b"v"] if write else [b"GET", key]
        view = SlotView(owner_of=state.owner_of, myself=state.myself, migrating_to=state.migrating_slots_to.get,
                        importing_from=state.importing_slots_from.get, cluster_ok=state.state is ClusterHealth.OK)
        return route([(spec, args)], view, self.nodes[i].keyspace.__contains__, asking=asking, readonly=readonly)
