"""The cluster bus transport: sockets and timers around the pure ``ClusterState``.

Theory of operation
-------------------
This is the only module of ``cluster/`` that does I/O. It is a thin loop, in the
shape of etcd raft's Ready loop:

1. **read**: bytes from a peer go into that link's sans-IO ``BusDecoder``; each
   complete message goes to ``ClusterState.handle_packet`` (a dropped packet to
   ``handle_dropped``; a framing error closes the link, as Redis does);
2. **tick**: every 100 ms (Redis's clusterCron period) ``ClusterState.tick`` runs;
3. **effects**: whatever the core returns (send, connect, close, save nodes.conf,
   deliver a PUBLISH, log an event...) is carried out here, in order.

Links are identified by the core's small integer ids. Outbound links are opened
when the core asks (``Connect``); until the connect completes, messages for the link
are queued, like Redis's link send buffer. Inbound connections are registered with
``ClusterState.accept_link``. The core never learns whether a write succeeded; a
broken connection is reported with ``link_closed`` and the core reconnects on its
own schedule.

**Time** comes from the bus's ``clock`` (``pyredis_cluster/clock.py``): the wall clock
by default, a scaled one with ``cluster-time-scale`` (the cron timer then fires every
100 ms x scale of wall time), or a frozen one. **Step mode** (``freeze``, PYREDIS.CLOCK
FREEZE): the timer stops and every decoded incoming message is *held* in ``held``
instead of being handed to the core; ``advance(ms)`` moves the frozen time and runs
the ticks that fall due (one per 100 ms of protocol time), ``step()`` hands the oldest
held message to the core, ``resume()`` hands over all of them and lets time run again.
Connections opening and closing are not held: only messages are. A ``connector``
(testing/timecontrol.py) may replace TCP for outbound links: the deterministic harness
carries the same bus bytes over in-memory transports.

nodes.conf is written atomically (temp file, fsync, rename) whenever the core asks.
If it cannot be written the node exits, as Redis does: a node that cannot persist
its epochs and votes must not keep taking part in elections.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from ..clock import ProtocolClock
from .codec import NEED_DATA, BusDecoder, BusFramingError, DroppedPacket, encode
from .constants import CLUSTER_CRON_PERIOD
from .effects import (
    CloseLink,
    Connect,
    DeleteKeysInSlots,
    Effect,
    FlushData,
    LinkId,
    PauseWrites,
    PublishReceived,
    ReplicationChanged,
    ResumeWrites,
    SaveConfig,
    Send,
    ShardChannelsLost,
)
from .events import Event, LogLevel
from .nodes_conf import write_nodes_conf_atomic

if TYPE_CHECKING:
    from .state import ClusterState
    from .trace import BusTracer

log = logging.getLogger("pyredis_cluster")

#: Redis's clusterCron runs 10 times a second (of protocol time: see the clock).
TICK_SECONDS = CLUSTER_CRON_PERIOD / 1000
#: PYREDIS.CLOCK ADVANCE moves time by at most this much at once (an hour: 36,000 ticks).
MAX_ADVANCE_MS = 3_600_000
_LOG_LEVELS = {LogLevel.DEBUG: logging.DEBUG, LogLevel.VERBOSE: 15, LogLevel.NOTICE: logging.INFO,
               LogLevel.WARNING: logging.WARNING}  # fmt: skip


#: What 7.0 logs for a packet dropped by DEBUG DROP-CLUSTER-PACKET-FILTER.
DROP_FILTER_LOG = "Dropping packet that matches debug drop filter"


def now_ms() -> int:
    """Wall time, Unix ms. A running node's core time is ``ClusterBus.now()`` (its clock)."""
    return int(time.time() * 1000)


def _message_type(message: Any) -> int:
    return message.message_type if isinstance(message, DroppedPacket) else int(message.type)


class HeldMessage(NamedTuple):
    """An incoming message held by step mode, not yet handed to the core."""

    seq: int  # arrival order on this node, from 1
    link_id: LinkId
    message: Any
    #: wall-clock arrival (Unix ms): lets a tool order held messages across nodes
    arrived_ms: float = 0.0

    def describe(self) -> str:
        """``#3 PING from <sender id> (link 5)``; a packet the codec dropped says so."""
        if isinstance(self.message, DroppedPacket):
            return f"#{self.seq} undecodable packet of type {self.message.message_type} (link {self.link_id})"
        return f"#{self.seq} {self.message.type.name} from {self.message.header.sender} (link {self.link_id})"


class BusLink(asyncio.Protocol):
    """One bus connection (either direction): bytes in to the decoder, bytes out."""

    def __init__(self, bus: ClusterBus, link_id: LinkId | None) -> None:
        self.bus = bus
        self.link_id = link_id  # None for an inbound connection until accept_link
        self.transport: asyncio.Transport | None = None
        self.decoder = BusDecoder()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.link_id is None:  # inbound
            peer = transport.get_extra_info("peername") or ("", 0)
            local = transport.get_extra_info("sockname") or ("", 0)
            self.link_id = self.bus.state.accept_link(str(peer[0]), str(local[0]), self.bus.now())
            self.bus.links[self.link_id] = self

    def data_received(self, data: bytes) -> None:
        bus, link_id = self.bus, self.link_id
        assert link_id is not None
        self.decoder.feed(data)
        while not self.closed:
            try:
                message = self.decoder.next_message()
            except BusFramingError as err:
                log.warning("%s", getattr(err, "log", None) or f"Bad cluster bus packet: {err}")
                bus.drop_link(link_id, report=True)
                return
            if message is NEED_DATA:
                return
            if bus.receive_hook is not None and bus.receive_hook(link_id, message):
                continue  # the test double took it (dropped, or handed back later with receive)
            bus.receive(link_id, message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            if self.link_id is not None:
                self.bus.link_lost(self.link_id)

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class ClusterBus:
    """Runs one node's cluster core on real sockets."""

    def __init__(
        self,
        state: ClusterState,
        *,
        config_path: str,
        deliver_publish: Callable[[bytes, bytes, bool], None],
        delete_keys_in_slots: Callable[[tuple[int, ...]], None],
        flush_data: Callable[[], None],
        on_event: Callable[[Event], None] | None = None,
        on_replication_changed: Callable[[ReplicationChanged], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        drop_shard_channels: Callable[[tuple[int, ...]], None] | None = None,
        pause_writes: Callable[[int], None] | None = None,
        resume_writes: Callable[[], None] | None = None,
        clock: ProtocolClock | None = None,
    ) -> None:
        self.state = state
        #: The protocol's time (clock.py): every core call gets ``clock.now_ms()``.
        self.clock = clock if clock is not None else ProtocolClock()
        #: Step mode: messages that arrived while the clock is frozen, oldest first.
        self.held: deque[HeldMessage] = deque()
        self._held_seq = 0
        self._last_tick_ms = self.clock.now_ms()  # core time of the last cron tick
        self._running = asyncio.Event()  # set while the clock runs: the cron timer waits on it
        if not self.clock.frozen:
            self._running.set()
        #: Opens outbound links instead of TCP (testing/timecontrol.py's in-memory network):
        #: called with (bus, Connect); it later calls ``connected`` or ``connect_failed``.
        self.connector: Callable[[ClusterBus, Connect], None] | None = None
        self.closed = False
        self.config_path = config_path
        self.deliver_publish = deliver_publish
        self.delete_keys_in_slots = delete_keys_in_slots
        self.flush_data = flush_data
        self.on_event = on_event
        self.on_replication_changed = on_replication_changed
        #: Server-side work of the same cron (redirecting blocked clients), after the core's tick.
        self.on_tick = on_tick
        self.drop_shard_channels = drop_shard_channels
        #: Manual failover, primary side: pause writes until a Unix ms time, then report the
        #: offset reached with ``state.writes_paused`` (without it no failover can complete).
        self.pause_writes = pause_writes
        self.resume_writes = resume_writes
        self.links: dict[LinkId, BusLink] = {}
        self._pending: dict[LinkId, list[bytes]] = {}  # sends queued while connecting
        self._connecting: set[asyncio.Task[None]] = set()  # connects in flight, cancelled by close()
        self._servers: list[asyncio.base_events.Server] = []
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port = 0
        #: DEBUG DROP-CLUSTER-PACKET-FILTER: incoming messages for which this returns True are ignored.
        self.packet_filter: Callable[[Any], bool] | None = None
        self.paused = False  # DEBUG PAUSE-CRON
        #: The teaching trace (cluster/trace.py, server/trace.py): told of every message
        #: sent and received while tracing is on; None (one test per message) when off.
        self.tracer: BusTracer | None = None
        #: Network faults of the test double (testing/faults.py), None in production: each
        #: sees a decoded incoming message / an encoded outgoing packet and returns True
        #: when it took it (dropped it, or hands it back later with receive / write_now).
        self.receive_hook: Callable[[LinkId, Any], bool] | None = None
        self.send_hook: Callable[[LinkId, bytes], bool] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self, hosts: list[str | None], port: int) -> None:
        """Listen for peers on ``port`` (0: ephemeral) on each host, then start ticking."""
        self._loop = asyncio.get_running_loop()
        for host in hosts:
            server = await self._loop.create_server(lambda: BusLink(self, None), host=host, port=port,
                                                    reuse_address=True)  # fmt: skip
            self._servers.append(server)
            if port == 0:
                port = server.sockets[0].getsockname()[1]
        self.port = port
        if self.state.fresh:
            self.run([SaveConfig(fsync=True)])
        self._ticker = self._loop.create_task(self._tick_forever())

    async def close(self) -> None:
        self.closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            try:
                await self._ticker
            except asyncio.CancelledError:
                pass
        # A connect still in flight must not register a link on a closed bus.
        self._pending.clear()
        connecting = list(self._connecting)
        for task in connecting:
            task.cancel()
        await asyncio.gather(*connecting, return_exceptions=True)
        for link in list(self.links.values()):
            link.close()
        self.links.clear()
        for server in self._servers:
            server.close()
        for server in self._servers:
            await server.wait_closed()
        self._servers = []

    async def _tick_forever(self) -> None:
        while True:
            await self._running.wait()  # step mode: no timer until the clock runs again
            await asyncio.sleep(self.clock.tick_seconds)  # 100 ms of protocol time
            if self.paused or self.clock.frozen:
                continue
            self.tick()

    def tick(self) -> None:
        """One cluster cron tick at the clock's time: the core's, then the server's part."""
        self._last_tick_ms = now = self.now()
        try:
            self.run(self.state.tick(now))
            if self.on_tick is not None:
                self.on_tick()
        except Exception:  # the bus must survive a bug in one tick
            log.exception("error in cluster cron")

    # -- time and step mode (clock.py) ---------------------------------------------------

    def now(self) -> int:
        """The protocol time, Unix ms, as every call into the core gets it."""
        return self.clock.now_ms()

    def set_time_scale(self, factor: float) -> None:
        """cluster-time-scale: protocol timers run ``factor`` times slower from now on."""
        self.clock.set_scale(factor)

    def freeze(self) -> None:
        """Step mode: time stops, incoming messages are held (see the module docstring)."""
        self.clock.freeze()
        self._running.clear()

    def resume(self) -> int:
        """Leave step mode: hand every held message to the core, in order, then let time
        run (scaled) from the frozen reading. Returns how many messages were handed over."""
        delivered = 0
        while self.held:
            self.step()
            delivered += 1
        self.clock.resume()
        self._running.set()
        return delivered

    def advance(self, ms: int) -> int:
        """Step mode: move the frozen time ``ms`` forward, running each cron tick that falls
        due (100 ms of protocol time after the previous one); returns how many ran. A node
        whose cron is paused (DEBUG PAUSE-CRON, a paused test node) sees time pass, no tick."""
        if not self.clock.frozen:
            raise ValueError("the clock is running: freeze it first")
        if not 0 <= ms <= MAX_ADVANCE_MS:
            raise ValueError(f"time advances by 0 to {MAX_ADVANCE_MS} ms at once")
        target = self.now() + ms
        ticks = 0
        while (due := self._last_tick_ms + CLUSTER_CRON_PERIOD) <= target:
            self.clock.advance(max(0, due - self.now()))
            if self.paused:
                self._last_tick_ms = due
            else:
                self.tick()
                ticks += 1
        self.clock.advance(target - self.now())
        return ticks

    def step(self) -> HeldMessage | None:
        """Step mode: hand the oldest held message to the core (None if nothing is held).
        A message whose link has closed meanwhile is ignored by the core, as it would be."""
        if not self.held:
            return None
        held = self.held.popleft()
        self.deliver(held.link_id, held.message)
        return held

    # -- effects ---------------------------------------------------------------------------

    def run(self, effects: list[Effect]) -> None:
        """Carry out the core's effects, in order."""
        for effect in effects:
            if isinstance(effect, Send):
                if self.tracer is not None:
                    self.tracer.sent(effect)
                self._send(effect.link_id, encode(effect.message))
            elif isinstance(effect, Event):
                self._log_event(effect)
            elif isinstance(effect, Connect):
                self._connect(effect)
            elif isinstance(effect, CloseLink):
                self.drop_link(effect.link_id, report=False)
            elif isinstance(effect, SaveConfig):
                self.save_config(effect.fsync)
            elif isinstance(effect, PublishReceived):
                self.deliver_publish(effect.channel, effect.message, effect.sharded)
            elif isinstance(effect, DeleteKeysInSlots):
                self.delete_keys_in_slots(effect.slots)
            elif isinstance(effect, FlushData):
                self.flush_data()
            elif isinstance(effect, ShardChannelsLost):
                if self.drop_shard_channels is not None:
                    self.drop_shard_channels(effect.slots)
            elif isinstance(effect, ReplicationChanged) and self.on_replication_changed is not None:
                self.on_replication_changed(effect)
            elif isinstance(effect, PauseWrites) and self.pause_writes is not None:
                self.pause_writes(effect.until_ms)
            elif isinstance(effect, ResumeWrites) and self.resume_writes is not None:
                self.resume_writes()

    def save_config(self, fsync: bool = True) -> None:
        try:
            write_nodes_conf_atomic(self.config_path, self.state.nodes_conf_text(), fsync=fsync)
        except OSError as err:
            # Redis exits here: without its config a node could vote twice in an epoch.
            log.warning("Could not save the cluster configuration to %s: %s. Exiting.", self.config_path, err)
            os._exit(1)

    def _log_event(self, event: Event) -> None:
        log.log(_LOG_LEVELS.get(event.level, logging.INFO), "%s", event.describe())
        if self.on_event is not None:
            self.on_event(event)

    def receive(self, link_id: LinkId, message: Any) -> None:
        """A decoded message from a link: held in step mode, else handed to the core."""
        if self.clock.frozen:
            self._held_seq += 1
            self.held.append(HeldMessage(self._held_seq, link_id, message, time.time() * 1000))
        else:
            self.deliver(link_id, message)

    def deliver(self, link_id: LinkId, message: Any) -> None:
        """Hand a decoded message to the core (or drop it, counted)."""
        if self.packet_filter is not None and self.packet_filter(message):
            # Redis counts the packet as received, logs, and drops it before it
            # updates anything about the sender (not even its liveness).
            self.run(self.state.handle_dropped(link_id, _message_type(message), DROP_FILTER_LOG, self.now()))
        elif isinstance(message, DroppedPacket):
            if message.log:
                log.warning("%s", message.log)
            self.run(self.state.handle_dropped(link_id, message.message_type, message.log, self.now()))
        else:
            now = self.now()
            if self.tracer is not None:  # the teaching trace: recorded before the core reacts
                self.tracer.received(link_id, message, now)
            self.run(self.state.handle_packet(link_id, message, now))

    def _send(self, link_id: LinkId, data: bytes) -> None:
        if self.send_hook is not None and self.send_hook(link_id, data):
            return  # the test double took it (dropped, or written later with write_now)
        self.write_now(link_id, data)

    def write_now(self, link_id: LinkId, data: bytes) -> None:
        """Write an encoded packet on a link (queued while the link connects)."""
        link = self.links.get(link_id)
        if link is not None and link.transport is not None:
            link.write(data)
        elif link_id in self._pending:
            self._pending[link_id].append(data)

    def _connect(self, effect: Connect) -> None:
        assert self._loop is not None
        self._pending[effect.link_id] = []
        if self.connector is not None:
            self.connector(self, effect)
            return
        task = self._loop.create_task(self._open(effect))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _open(self, effect: Connect) -> None:
        link_id = effect.link_id
        try:
            _, protocol = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(lambda: BusLink(self, link_id), effect.ip, effect.cport),
                timeout=max(1.0, self.state.node_timeout / 1000),
            )
        except (TimeoutError, OSError):
            self.connect_failed(link_id)
            return
        self.connected(link_id, protocol)  # type: ignore[arg-type]

    def connect_failed(self, link_id: LinkId) -> None:
        """An outbound connect failed (refused, timed out)."""
        if self._pending.pop(link_id, None) is not None:
            self.run(self.state.link_closed(link_id, self.now(), connect_failed=True))

    def connected(self, link_id: LinkId, protocol: BusLink) -> None:
        """An outbound connect completed: register the link, tell the core, send what waited."""
        if link_id not in self._pending:  # the core closed the link while we were connecting
            protocol.close()
            return
        self.links[link_id] = protocol
        queued = self._pending.pop(link_id)
        self.run(self.state.link_connected(link_id, self.now()))
        for data in queued:
            protocol.write(data)

    def drop_link(self, link_id: LinkId, *, report: bool) -> None:
        """Close a link; ``report`` tells the core (when the bus, not the core, decided)."""
        self._pending.pop(link_id, None)
        link = self.links.pop(link_id, None)
        if link is not None:
            link.close()
        if report:
            self.run(self.state.link_closed(link_id, self.now()))

    def link_lost(self, link_id: LinkId) -> None:
        """The peer closed the connection (or it broke)."""
        if self.links.pop(link_id, None) is not None:
            self.run(self.state.link_closed(link_id, self.now()))

    def pending_bytes(self, link_id: LinkId) -> int | None:
        """Bytes waiting to be written on a link (CLUSTER LINKS); None while it connects."""
        link = self.links.get(link_id)
        if link is None or link.transport is None:
            queued = self._pending.get(link_id)
            return None if queued is not None else 0
        return link.transport.get_write_buffer_size()

    def set_drop_filter(self, message_type: int) -> None:
        """DEBUG DROP-CLUSTER-PACKET-FILTER: drop incoming packets of one type (-1: none)."""
        if message_type < 0:
            self.packet_filter = None
        else:
            self.packet_filter = lambda message: _message_type(message) == message_type

    def kill_links(self, node_id: str, direction: str) -> int:
        """DEBUG CLUSTERLINK KILL: close our links to/from a node; the core reconnects later."""
        killed = 0
        for view in self.state.links():
            if view.node == node_id and direction in ("all", view.direction):
                self.drop_link(view.link_id, report=True)
                killed += 1
        return killed
