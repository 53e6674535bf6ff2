"""Cluster mode for a node: the cluster core, its bus, and the routing gate.

Theory of operation
-------------------
With ``cluster-enabled yes`` the node gets a :class:`ClusterSupport`. At start-up it
loads nodes.conf (or starts fresh with a new id and saves it), builds the pure
``ClusterState`` with the ports actually bound, starts the ``ClusterBus`` on the bus
port (port + 10000, or ``cluster-port``), and plugs :meth:`ClusterSupport.route` into
the dispatch pipeline as its routing gate.

Everything the cluster core decides reaches the server through the bus's effects:
a PUBLISH from a peer is delivered to local subscribers, lost slots have their keys
deleted, a reset replica flushes its data. Every core event is also kept here, in a
bounded log that tests, the harness and the trace read.

Failover (cluster/election.py, cluster/manual_failover.py) needs three more things
from the server, all here:

* **Replication progress.** Every cron tick the core gets our replication offset and
  the last interaction with our primary (``ClusterState.set_replication_info``): the
  offset ranks sibling replicas and ends a manual failover's catch-up, the last
  interaction decides whether a replica's data is too old to fail over. The one place
  that reads them is :func:`replication_progress`; without a replication engine the
  offset is 0 and the age unknown (the data-age rule is then skipped).
* **The failover write pause.** ``PauseWrites`` pauses write commands exactly as
  CLIENT PAUSE WRITE does (commands wait, blocked, until the pause ends), then reports
  the offset at which writes stopped (``writes_paused``); ``ResumeWrites`` ends it. It
  is a pause of its own purpose (``PausePurpose.FAILOVER``): CLIENT UNPAUSE does not
  end it, and while it lasts no key expires or is evicted, so the offset stays exact.
* **Role changes.** ``ReplicationChanged``: replicate from the new primary, or (after a
  promotion) stop replicating and keep the data; through ``Node.start_replication`` /
  ``Node.stop_replication`` when the node has them. A replica whose replication is off
  (restarted from nodes.conf) starts it from the cron, as 7.0's clusterCron does.

**Time.** The core runs on ``self.clock`` (pyredis_cluster/clock.py: wall time, scaled by
``cluster-time-scale``, or frozen in step mode); the server lives on wall time. The two
places where a time crosses over convert it: the manual failover's write pause "until
core time T" ends at the wall time the clock will read T (never on its own while frozen:
the core's ``ResumeWrites`` ends it), and the replication link's last interaction, a
wall time, is given to the core in core time. The test harness may replace ``clock``,
``rng`` (node id, random picks, election delays) and ``bus_connector`` before ``start``.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..clock import ProtocolClock, ScaledClock
from ..cluster.bus import ClusterBus
from ..cluster.effects import Connect, ReplicationChanged
from ..cluster.events import Event
from ..cluster.nodes_conf import NodesConfError, load_nodes_conf
from ..cluster.slots import key_hash_slot
from ..cluster.state import ClusterHealth, ClusterSettings, ClusterState
from ..cluster.views import preferred_endpoint
from ..config import ConfigError
from ..protocol.encoder import ErrorReply
from . import errors
from .cluster_routing import Route, SlotView, route

if TYPE_CHECKING:
    from .client import Client
    from .command_table import CommandSpec
    from .node import Node
    from .trace import NodeTrace

log = logging.getLogger("pyredis_cluster")

CLUSTER_PORT_INCR = 10000
#: A manual failover's write pause while the protocol clock is frozen has no wall-time end
#: of its own (the core's ResumeWrites ends it); this bounds it all the same.
FROZEN_PAUSE_SECONDS = 24 * 3600


class ClusterConfigError(Exception):
    """nodes.conf cannot be used: start-up stops with this message, as Redis does."""


class _SlotKeys:
    """The keyspace as the cluster core sees it (db 0 only in cluster mode)."""

    def __init__(self, node: Node) -> None:
        self.node = node

    def count_keys_in_slot(self, slot: int) -> int:
        return self.node.keyspace[0].count_keys_in_slot(slot)

    def key_count(self) -> int:
        return len(self.node.keyspace[0])


class ClusterSupport:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.state: ClusterState | None = None
        self.bus: ClusterBus | None = None
        self.events: deque[Event] = deque(maxlen=10_000)
        self.listeners: list[Callable[[Event], None]] = []
        #: The CLIENT PAUSE object a manual failover's PauseWrites started (ResumeWrites ends it).
        self._failover_pause: Any = None
        self._trace: NodeTrace | None = None  # the teaching trace, created on first use (tracing())
        #: The protocol's time, and the core's randomness (a test harness may seed it).
        self.clock = ProtocolClock(ScaledClock(float(node.config.cluster_time_scale)))
        self.rng = random.Random()
        #: Replaces TCP for outbound bus links when set (testing/timecontrol.py).
        self.bus_connector: Callable[[ClusterBus, Connect], None] | None = None
        self.config_path = os.path.abspath(node.config.cluster_config_file)
        try:
            self._loaded = load_nodes_conf(self.config_path, self.now())
        except NodesConfError as err:
            raise ClusterConfigError(str(err)) from None
        except OSError as err:
            raise ClusterConfigError(f"Can't open {self.config_path}: {err.strerror}") from None

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self, hosts: list[str | None]) -> None:
        node, config = self.node, self.node.config
        bus_port = config.cluster_port or (node.port + CLUSTER_PORT_INCR if config.port else 0)
        if bus_port > 65535:
            # Redis fails the same way: it cannot listen on port + 10000.
            raise OSError(22, f"the cluster bus port {bus_port} (port + 10000) is out of range: set cluster-port")
        # The core is built with the configured bus port; an ephemeral one is told to it
        # once the bus has bound it (below).
        self.bus = bus = ClusterBus(
            None,  # type: ignore[arg-type]  # set just below, once the ports are known
            config_path=self.config_path,
            deliver_publish=self._deliver_publish,
            delete_keys_in_slots=self._delete_keys_in_slots,
            flush_data=self._flush_data,
            on_event=self._on_event,
            on_replication_changed=self._replication_changed,
            on_tick=self._cron,
            drop_shard_channels=self._drop_shard_channels,
            pause_writes=self._pause_writes,
            resume_writes=self._resume_writes,
            clock=self.clock,
        )
        bus.connector = self.bus_connector
        bus.state = self.state = ClusterState(
            self.settings(bus_port or 0),
            now_ms=self.now(),
            rng=self.rng,
            config=self._loaded,
            keyspace=_SlotKeys(node),
        )
        await bus.start(hosts, bus_port)
        if not bus_port:  # ephemeral: tell the core which port we got
            self.state.settings.cport = bus.port
            self.state.myself.cport = config.cluster_announce_bus_port or bus.port
        node.cluster_router = self.route
        log.info("Cluster bus listening on port %d, node id %s", bus.port, self.state.myid)
        if config.cluster_trace_file or config.cluster_trace_channel:
            try:
                self.tracing().apply_config()
            except ConfigError as err:  # a trace must never keep a node from starting
                log.warning("Teaching trace not started: %s", err)

    def settings(self, bus_port: int) -> ClusterSettings:
        config = self.node.config
        return ClusterSettings(
            port=config.cluster_announce_port or self.node.port,
            cport=config.cluster_announce_bus_port or bus_port or 1,
            node_timeout=config.cluster_node_timeout,
            require_full_coverage=config.cluster_require_full_coverage,
            allow_replica_migration=config.cluster_allow_replica_migration,
            replica_no_failover=config.cluster_replica_no_failover,
            announce_ip=config.cluster_announce_ip,
            announce_hostname=config.cluster_announce_hostname,
            replica_validity_factor=config.cluster_replica_validity_factor,
            repl_ping_replica_period=config.repl_ping_replica_period,
            migration_barrier=config.cluster_migration_barrier,
        )

    def apply_config(self) -> None:
        """CONFIG SET of a cluster-* option: the core re-reads its settings (ports stay bound)."""
        if self.state is None or self.bus is None:
            return
        fresh = self.settings(self.bus.port)
        fresh.writable_delay = self.state.settings.writable_delay
        self.state.settings = fresh
        scale = float(self.node.config.cluster_time_scale)
        if scale != self.clock.scale:
            self.bus.set_time_scale(scale)  # re-based: the protocol time stays continuous
        self.run(self.state.apply_settings(self.now()))
        if self._trace is not None or self.node.config.cluster_trace_file or self.node.config.cluster_trace_channel:
            self.tracing().apply_config()  # cluster-trace-*: raises ConfigError, CONFIG SET then fails

    def tracing(self) -> NodeTrace:
        """The teaching trace's switch and targets (server/trace.py), created on first use."""
        if self._trace is None:
            from .trace import NodeTrace

            self._trace = NodeTrace(self)
        return self._trace

    def now(self) -> int:
        """The protocol time (Unix ms) every call into the core gets."""
        return self.clock.now_ms()

    async def close(self) -> None:
        if self._trace is not None:
            self._trace.close()
        if self.bus is not None:
            await self.bus.close()

    # -- effects from the core ---------------------------------------------------------------

    def run(self, effects: list[Any]) -> None:
        assert self.bus is not None
        self.bus.run(effects)

    def _deliver_publish(self, channel: bytes, message: bytes, sharded: bool) -> None:
        pubsub = self.node.pubsub
        if sharded:
            pubsub.publish_shard(channel, message)
        else:
            pubsub.publish(channel, message)

    def _delete_keys_in_slots(self, slots: tuple[int, ...]) -> None:
        db = self.node.keyspace[0]
        for slot in slots:
            for key in db.keys_in_slot(slot):
                db.delete(key)
                db.touch(key)

    def _drop_shard_channels(self, slots: tuple[int, ...]) -> None:
        """removeChannelsInSlot: every sharded subscriber of a channel in a lost slot is
        unsubscribed from it and told so (a ``sunsubscribe`` message with its count)."""
        pubsub = self.node.pubsub
        lost = set(slots)
        for channel in [ch for ch in pubsub.shard_channels if key_hash_slot(ch) in lost]:
            for client in list(pubsub.shard_channels.get(channel, ())):
                pubsub.sunsubscribe(client, [channel])

    def _flush_data(self) -> None:
        for db in self.node.keyspace.databases:
            db.flush()

    def _cron(self) -> None:
        """The server's part of each cluster cron tick, after the core's own tick."""
        self.feed_replication_info()
        self.replicate_if_off()
        self.redirect_blocked_clients()

    def replicate_if_off(self) -> None:
        """clusterCron's rule: a replica whose replication is off (one restarted from its
        nodes.conf as a replica) starts it once its primary's address is known."""
        assert self.state is not None
        me = self.state.myself
        primary = self.state.primary_of(me) if me.is_replica else None
        if primary is None or not primary.has_addr:
            return
        replication = self.node.replication
        if replication is None or replication.master_host is None:
            self._replication_changed(ReplicationChanged(primary.name, primary.ip, primary.port))

    def feed_replication_info(self) -> None:
        """Tell the core our replication offset and our primary's last sign of life."""
        assert self.state is not None
        offset, last_io_ms = replication_progress(self.node)
        if last_io_ms:  # a wall time (0: never synced, None: unknown, both kept as they are)
            last_io_ms = self.clock.core_ms_at(last_io_ms)
        self.run(self.state.set_replication_info(offset, last_io_ms, self.now()))

    def _pause_writes(self, until_ms: int) -> None:
        """Manual failover, primary side: hold write commands like CLIENT PAUSE WRITE, then
        tell the core the offset reached (writes are held from now on, so it is exact)."""
        from .commands.connection import ClientPause, PausePurpose

        node = self.node
        if node.client_pause is None:
            node.client_pause = ClientPause(node)
        wall_until_ms = self.clock.wall_ms_at(until_ms)  # until_ms is protocol time
        until = time.time() + FROZEN_PAUSE_SECONDS if wall_until_ms is None else wall_until_ms / 1000
        node.client_pause.pause(until, False, PausePurpose.FAILOVER)  # CLIENT UNPAUSE leaves it on
        self._failover_pause = node.client_pause
        assert self.state is not None
        offset, _ = replication_progress(node)
        self.run(self.state.writes_paused(offset, self.now()))

    def _resume_writes(self) -> None:
        """The manual failover ended: lift the pause it started (if it still runs)."""
        pause, self._failover_pause = self._failover_pause, None
        if pause is not None and self.node.client_pause is pause:
            from .commands.connection import PausePurpose

            pause.end(PausePurpose.FAILOVER)  # a CLIENT PAUSE of its own goes on

    def _replication_changed(self, change: ReplicationChanged) -> None:
        """Our role changed: follow the new primary, or stop replicating (promoted: the
        data stays, it is now the shard's data)."""
        node: Any = self.node
        if change.primary is None:
            stop = getattr(node, "stop_replication", None)
            if stop is not None:
                stop()
            else:
                log.info("Promoted to primary: no replication engine to stop, keeping the data")
            return
        start = getattr(node, "start_replication", None)
        if start is not None:
            start(change.ip, change.port)
        else:
            log.info("Now a replica of %s (%s:%d); no replication engine to start", change.primary,
                     change.ip, change.port)  # fmt: skip

    def _on_event(self, event: Event) -> None:
        self.events.append(event)
        for listener in list(self.listeners):
            listener(event)

    def broadcast_publish(self, channel: bytes, message: bytes, sharded: bool = False) -> None:
        """Send a PUBLISH (or sharded PUBLISH) to the other nodes over the bus."""
        assert self.state is not None
        self.run(self.state.build_publish(channel, message, self.now(), sharded=sharded))

    # -- the routing gate --------------------------------------------------------------------

    def route(self, c: Client, spec: CommandSpec, args: list[bytes]) -> ErrorReply | None:
        """The dispatch pipeline's cluster gate: None to serve here, else the redirection."""
        name = spec.name
        if name == "exec":
            if not c.in_multi:
                return None
            commands = c.multi_queue
        elif not spec.key_specs and spec.getkeys is None:
            return None
        else:
            commands = [(spec, args)]
            if self._served_here_for_sure(spec, args):
                return None
        state = self.state
        assert state is not None
        view = SlotView(
            owner_of=state.owner_of,
            myself=state.myself,
            migrating_to=state.migrating_slots_to.get,
            importing_from=state.importing_slots_from.get,
            cluster_ok=state.state is ClusterHealth.OK,
            allow_reads_when_down=self.node.config.cluster_allow_reads_when_down,
            allow_pubsubshard_when_down=self.node.config.cluster_allow_pubsubshard_when_down,
        )
        data = self.node.keyspace[0].data
        decision = route(commands, view, data.__contains__, asking=c.asking, readonly=c.readonly)
        if decision.route is Route.LOCAL:
            return None
        if name == "exec":
            c.reset_multi()  # Redis discards the transaction when EXEC is redirected
        return ErrorReply(self.redirect_text(decision.route, decision.slot, decision.node))

    def _served_here_for_sure(self, spec: CommandSpec, args: list[bytes]) -> bool:
        """The hot path: a healthy cluster, no open slot, every key in one slot we own.

        That is exactly when the full decision can only be LOCAL, so skip building it.
        """
        state = self.state
        assert state is not None
        if state.state is not ClusterHealth.OK or state.migrating_slots_to or state.importing_slots_from:
            return False
        first = spec.first_key
        if first and spec.getkeys is None and "movablekeys" not in spec.flags:
            # Redis routes these on the legacy (first, last, step) range: slice it.
            last = spec.last_key
            if last == first:
                return state.slot_owner[key_hash_slot(args[first])] is state.myself
            keys = args[first : (last if last >= 0 else len(args) + last) + 1 : spec.key_step]
        else:
            keys = spec.keys(args)
        if not keys:
            return True
        slot = key_hash_slot(keys[0])
        if state.slot_owner[slot] is not state.myself:
            return False
        return all(key_hash_slot(key) == slot for key in keys)

    def redirect_text(self, kind: Route, slot: int, target: Any) -> str:
        if kind is Route.MOVED or kind is Route.ASK:
            endpoint = _endpoint(target, self.node.config.cluster_preferred_endpoint_type)
            template = errors.MOVED if kind is Route.MOVED else errors.ASK
            return template.format(slot, f"{endpoint}:{target.port}")
        return {
            Route.CROSSSLOT: errors.CROSSSLOT,
            Route.TRYAGAIN: errors.TRYAGAIN,
            Route.DOWN_STATE: errors.CLUSTERDOWN_STATE,
            Route.DOWN_RO_STATE: errors.CLUSTERDOWN_RO_STATE,
            Route.DOWN_UNBOUND: errors.CLUSTERDOWN_UNBOUND,
        }[kind]

    def redirect_blocked_clients(self) -> None:
        """Redis's clusterRedirectBlockedClientIfNeeded, from the cron: a client blocked on
        a key (BLPOP, BZPOPMIN...) whose slot this node no longer serves is unblocked with
        MOVED (or CLUSTERDOWN when the slot has no owner, or the cluster is down), since
        the write that would wake it can never come here."""
        node, state = self.node, self.state
        if not node.blocking.blocked_clients or state is None:
            return
        myself = state.myself
        for c in list(node.clients.values()):
            blocked = c.blocked
            if blocked is None or not blocked.keys:  # not waiting on keys (WAIT, a pause...)
                continue
            if state.state is not ClusterHealth.OK:
                text = errors.CLUSTERDOWN_STATE
            else:
                slot = key_hash_slot(blocked.keys[0])  # all keys are in one slot
                owner = state.owner_of(slot)
                spec = c.blocked_spec
                if (
                    owner is not None
                    and c.readonly
                    and spec is not None
                    and not spec.is_write
                    and myself.is_replica
                    and myself.primary_id == owner.name
                ):
                    owner = myself
                if owner is myself or state.importing_slots_from.get(slot) is not None:
                    continue
                if owner is None:
                    text = errors.CLUSTERDOWN_UNBOUND
                else:
                    text = self.redirect_text(Route.MOVED, slot, owner)
            node.blocking.unblock_with_reply(c, ErrorReply(text))


def replication_progress(node: Node) -> tuple[int, int | None]:
    """The ONE place the cluster reads replication state: ``(offset, last_io_ms)``.

    ``offset``: a primary's master_repl_offset, a replica's processed offset.
    ``last_io_ms``: on a replica, the Unix ms of the last interaction with its primary
    while the link is up, else when the link went down (0: never synced); None when
    unknown (the core then skips the data-age rule). Read from ``node.replication``
    (server/replication.py), which exists once the node has replicated or been replicated.
    """
    replication = node.replication
    if replication is None:
        return 0, None
    return replication.offset, replication.last_io_ms


def _endpoint(node: Any, endpoint_type: str) -> str:
    return preferred_endpoint(node, endpoint_type) or ""
