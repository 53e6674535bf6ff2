"""The cluster core: one node's view of the Redis Cluster, as a pure state machine.

Theory of operation
-------------------
``ClusterState`` is what Redis 7.0 keeps in ``server.cluster`` (cluster.c) plus the
logic that changes it. It holds the node table (``myself`` and every peer, as
``ClusterNode`` records), ``current_epoch`` and ``last_vote_epoch``, the owner of
each of the 16384 slots, the migrating/importing maps, the FORGET blacklist, the
cluster state (ok/fail) and the message counters of CLUSTER INFO.

It is driven from outside, and only from outside (design.md §3, pattern 6):

* ``handle_packet(link_id, message, now_ms)``: a decoded bus message arrived on a
  link (Redis's clusterProcessPacket);
* ``tick(now_ms)``: every 100 ms (clusterCron): reconnect links, ping, time out
  handshakes, flag PFAIL, recompute the cluster state;
* ``accept_link`` / ``link_connected`` / ``link_closed``: the transport's news about
  connections;
* admin operations, one per mutating CLUSTER subcommand (``meet``, ``addslots``,
  ``setslot``, ``forget``, ``reset``...), and read-only views (``views.py``).

Each of them returns a list of effects (``effects.py``) that the caller runs in
order: sends, connects, closes, config saves, events. The core never reads a
clock (``now_ms``, Unix milliseconds, is an argument: gossip carries pong times in
Unix seconds, so real peers need real time), never touches a socket or a file,
and never uses the global random generator: ``rng`` and the node-id source are
injected. The same inputs therefore give the same outputs, which is what the
deterministic simulation (``testing/simulation.py``) and the teaching trace rely on.

The protocol, from each side (bus.md §2-§4; the code cites Redis's function names):

* **Joining.** ``meet()`` adds a HANDSHAKE|MEET node under a random name. The next
  ``tick`` dials it (``Connect``); once connected we send MEET. The receiver adds
  *its own* handshake node for us, answers PONG on the same connection, and later
  dials us and PINGs. A PONG on our outbound link to a handshake node reveals the
  real name: the node is renamed and leaves HANDSHAKE. Everybody else learns the
  new node from gossip (gossip.py) and just PINGs it.
* **Heartbeats.** Every header carries the sender's epochs, role and claimed slots,
  so configuration spreads on every packet. We PING a random stale node about once a
  second and every node whose PONG is older than node_timeout/2. Only PONGs on our
  own outbound link count as liveness.
* **Failure detection** (failure.py): PFAIL after node_timeout without a PONG,
  failure reports gossiped by primaries, FAIL on a majority, FAIL broadcast,
  FAIL cleared when the node is back.
* **Configuration** (epochs.py): a slot goes to whoever claims it with the greater
  configEpoch; stale claimants get an UPDATE; equal epochs between primaries are
  resolved by node-id order.

Calls are atomic: each input runs to completion, then the core performs what Redis
does in ``clusterBeforeSleep`` (recompute the state if asked, save the config if
asked). The deferred ``SaveConfig`` is placed *before* the first ``Send`` of the
call, because Redis saves before its event loop writes the queued packets
(persist, then tell).

Deliberately weak / different from 7.0
--------------------------------------
* Replica elections and voting live in election.py, manual failover in
  manual_failover.py, replica migration in replica_migration.py; this class calls
  them from its hooks (``_on_failover_auth_request``, ``_on_failover_auth_ack``,
  ``_on_mfstart``, ``_failover_cron``, ``_finish``). They need two inputs from
  the server: ``set_replication_info`` (our replication offset and the last
  interaction with our primary) and ``writes_paused`` (the acknowledgement of a
  ``PauseWrites`` effect, with the offset at which writes stopped).
* Node order is insertion order (Redis: hash-table order). Random picks use
  ``rng.choice`` over that order.
* Gossip about unknown nodes whose name is not a valid node id is ignored (7.0 adds
  it and then asserts on the duplicate at the next gossip).
* A failed outbound connect is reported asynchronously (``link_closed(...,
  connect_failed=True)``) and applies 7.0's *synchronous* connect-failure rule:
  ``ping_sent`` is set to now if no ping was pending, so an unreachable node still
  reaches PFAIL.
* Pub/Sub channel cleanup on slot loss is the ``ShardChannelsLost`` effect (the core
  knows when clusterDelSlot would run it); the key/slot consistency check at startup
  (verifyClusterConfigWithData) belongs to the server.
"""

from __future__ import annotations

import enum
import ipaddress
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from . import election, epochs, failure, gossip, manual_failover, replica_migration
from .constants import (
    CLUSTER_BLACKLIST_TTL,
    CLUSTER_CRON_PERIOD,
    CLUSTER_DEFAULT_MIGRATION_BARRIER,
    CLUSTER_DEFAULT_REPL_PING_REPLICA_PERIOD,
    CLUSTER_DEFAULT_SLAVE_VALIDITY,
    CLUSTER_HANDSHAKE_TIMEOUT_MIN,
    CLUSTER_PORT_INCR,
    CLUSTER_RANDOM_PING_PERIOD,
    CLUSTER_RANDOM_PING_SAMPLE,
    CLUSTER_SLOTS,
    CLUSTER_WRITABLE_DELAY,
    NET_IP_STR_LEN,
)
from .effects import (
    CloseLink,
    Connect,
    Effect,
    FlushData,
    LinkId,
    PublishReceived,
    ReplicationChanged,
    SaveConfig,
    Send,
    ShardChannelsLost,
)
from .election import ElectionState
from .events import Event, EventName
from .manual_failover import ManualFailoverMode, ManualFailoverState
from .messages import (
    CLUSTERMSG_TYPE_COUNT,
    BusClusterState,
    Fail,
    FailoverAuthAck,
    FailoverAuthRequest,
    Meet,
    Message,
    MessageHeader,
    MFStart,
    Module,
    Ping,
    Pong,
    Publish,
    PublishShard,
    UnknownMessage,
    Update,
)
from .nodes import (
    ClusterNode,
    NodeFlags,
    clear_flags,
    format_flags,
    is_valid_node_id,
    random_node_id,
)
from .nodes_conf import NodesConfig
from .slots import SlotBitmap, format_slot_ranges

ClusterHealth = BusClusterState
"""The cluster state: ``OK`` or ``FAIL`` (CLUSTER INFO ``cluster_state``; header ``state``)."""

ALL_SLOTS_MASK = (1 << CLUSTER_SLOTS) - 1
_MAX_IP_LEN = NET_IP_STR_LEN - 1  # IP strings are NUL-terminated in 46 bytes


# ----------------------------------------------------------------------------
# Errors of admin operations: Redis 7.0's exact replies (client-contract.md §2.7)
# ----------------------------------------------------------------------------
class ClusterAdminError(Exception):
    """An admin operation was refused; ``reply`` is Redis's error text (``ERR ...``).

    Raised before anything changed, so the state is untouched.
    """

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


ERR_INVALID_SLOT = "ERR Invalid or out of range slot"
ERR_SLOT_BUSY = "ERR Slot {} is already busy"
ERR_SLOT_UNASSIGNED = "ERR Slot {} is already unassigned"
ERR_SLOT_TWICE = "ERR Slot {} specified multiple times"
ERR_SLOT_RANGE_ORDER = "ERR start slot number {} is greater than end slot number {}"
ERR_SETSLOT_REPLICA = "ERR Please use SETSLOT only with masters."
ERR_NOT_OWNER = "ERR I'm not the owner of hash slot {}"
ERR_ALREADY_OWNER = "ERR I'm already the owner of hash slot {}"
ERR_DONT_KNOW_NODE = "ERR I don't know about node {}"
ERR_UNKNOWN_NODE = "ERR Unknown node {}"
ERR_TARGET_NOT_PRIMARY = "ERR Target node is not a master"
ERR_SLOT_HAS_KEYS = (
    "ERR Can't assign hashslot {} to a different node while I still hold keys for this hash slot."
)
ERR_SETSLOT_SYNTAX = "ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP"
ERR_FORGET_MYSELF = "ERR I tried hard but I can't forget myself..."
ERR_FORGET_MY_PRIMARY = "ERR Can't forget my master!"
ERR_REPLICATE_MYSELF = "ERR Can't replicate myself"
ERR_REPLICATE_REPLICA = "ERR I can only replicate a master, not a replica."
ERR_REPLICATE_NOT_EMPTY = "ERR To set a master the node must be empty and without assigned slots."
ERR_BAD_CONFIG_EPOCH = "ERR Invalid config epoch specified: {}"
ERR_CONFIG_EPOCH_KNOWS_NODES = (
    "ERR The user can assign a config epoch only when the node does not know any other node."
)
ERR_CONFIG_EPOCH_NONZERO = "ERR Node config epoch is already non-zero"
ERR_RESET_WITH_KEYS = "ERR CLUSTER RESET can't be called with master nodes containing keys"
ERR_FLUSHSLOTS_NOT_EMPTY = "ERR DB must be empty to perform CLUSTER FLUSHSLOTS."
ERR_MEET_BAD_ADDRESS = "ERR Invalid node address specified: {}:{}"


# ----------------------------------------------------------------------------
# Inputs from outside: settings and the keyspace
# ----------------------------------------------------------------------------
@dataclass
class ClusterSettings:
    """The cluster options the core acts on. Mutable: CONFIG SET changes them live.

    ``port``/``cport``/``pport`` are what we *announce* (after the
    cluster-announce-* overrides, Redis's deriveAnnouncedPorts).
    """

    port: int
    cport: int = 0  # 0: port + 10000
    pport: int = 0
    node_timeout: int = 15000  # cluster-node-timeout (ms)
    require_full_coverage: bool = True  # cluster-require-full-coverage
    allow_replica_migration: bool = True  # cluster-allow-replica-migration
    replica_no_failover: bool = False  # cluster-replica-no-failover: sets NOFAILOVER on myself
    announce_ip: str = ""  # cluster-announce-ip: sent in myip, disables IP self-discovery
    announce_hostname: str = ""  # cluster-announce-hostname: sent as the HOSTNAME ping extension
    replica_validity_factor: int = CLUSTER_DEFAULT_SLAVE_VALIDITY  # cluster-replica-validity-factor
    repl_ping_replica_period: int = CLUSTER_DEFAULT_REPL_PING_REPLICA_PERIOD  # repl-ping-replica-period (s)
    migration_barrier: int = CLUSTER_DEFAULT_MIGRATION_BARRIER  # cluster-migration-barrier
    #: CLUSTER_WRITABLE_DELAY: a primary keeps cluster_state:fail this long after start-up.
    #: Only the in-process test harness lowers it (to 0), for a cluster it seeded itself.
    writable_delay: int = CLUSTER_WRITABLE_DELAY

    def __post_init__(self) -> None:
        if not self.cport:
            self.cport = self.port + CLUSTER_PORT_INCR


class SlotKeys(Protocol):
    """What the core asks the keyspace (read-only): Redis's countKeysInSlot and dbsize."""

    def count_keys_in_slot(self, slot: int) -> int: ...

    def key_count(self) -> int: ...


class _NoKeys:
    def count_keys_in_slot(self, slot: int) -> int:
        return 0

    def key_count(self) -> int:
        return 0


NO_KEYS: SlotKeys = _NoKeys()


class SetSlotAction(enum.StrEnum):
    """CLUSTER SETSLOT <slot> <action> [node-id]."""

    IMPORTING = "importing"
    MIGRATING = "migrating"
    STABLE = "stable"
    NODE = "node"


class _Todo(enum.Flag):
    """Redis's ``todo_before_sleep`` flags: work deferred to the end of the call."""

    NONE = 0
    UPDATE_STATE = 1
    SAVE_CONFIG = 2
    FSYNC_CONFIG = 4
    HANDLE_FAILOVER = 8  # run the replica's election step (a vote arrived, a manual failover is ready)
    HANDLE_MANUALFAILOVER = 16  # check the manual failover (the paused offset arrived)


@dataclass(slots=True)
class Link:
    """One bus connection, as the core sees it (Redis's clusterLink minus the socket).

    Outbound links are created by the core (``Connect``) and always have a node.
    Inbound links start without one and get bound to the first known,
    non-handshake sender that talks on them.
    """

    id: LinkId
    inbound: bool
    node: ClusterNode | None
    ctime: int  # ms: creation time (the cron drops stale links only when older than node_timeout)
    peer_ip: str = ""  # the address at the other end (used when a header has no myip)
    local_ip: str = ""  # our address on this connection (a MEET teaches us our own IP)
    connected: bool = False  # outbound: the connect completed


@dataclass(frozen=True, slots=True)
class LinkView:
    """One row of CLUSTER LINKS, as far as the core knows (the bus adds buffers/events)."""

    link_id: LinkId
    direction: str  # "to" (outbound) or "from" (inbound)
    node: str
    create_time: int


def normalize_ip(ip: str) -> str | None:
    """The normalized text of an IPv4/IPv6 literal (inet_pton + inet_ntop), or None."""
    if "%" in ip:  # inet_pton rejects scope ids
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return f"::ffff:{addr.ipv4_mapped}"  # inet_ntop's spelling of a mapped address
    return str(addr)


# ----------------------------------------------------------------------------
# The state machine
# ----------------------------------------------------------------------------
class ClusterState:
    """One node's cluster state. See the module docstring; all times are Unix ms."""

    def __init__(
        self,
        settings: ClusterSettings,
        *,
        now_ms: int,
        rng: random.Random,
        node_id_source: Callable[[], str] | None = None,
        config: NodesConfig | None = None,
        keyspace: SlotKeys = NO_KEYS,
    ) -> None:
        self.settings = settings
        self.rng = rng
        self._new_node_id: Callable[[], str] = node_id_source or (lambda: random_node_id(rng))
        self.keyspace = keyspace

        self.nodes: dict[str, ClusterNode] = {}
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.state = ClusterHealth.FAIL  # clusterInit: FAIL until the first update says otherwise
        self.size = 1  # primaries serving at least one slot (computed by update_cluster_state)
        self.slot_owner: list[ClusterNode | None] = [None] * CLUSTER_SLOTS
        self.owner_not_claiming = 0  # bit s: slot s's owner stopped claiming it (not unbound yet)
        self.migrating_slots_to: dict[int, ClusterNode] = {}
        self.importing_slots_from: dict[int, ClusterNode] = {}
        self.blacklist: dict[str, int] = {}  # node id -> ms until which gossip may not re-add it
        self.stats_sent = [0] * CLUSTERMSG_TYPE_COUNT
        self.stats_received = [0] * CLUSTERMSG_TYPE_COUNT
        self.stats_pfail_nodes = 0  # counted by the cron; that many PFAIL entries go in each ping
        self.stat_links_buffer_limit_exceeded = 0  # kept for CLUSTER INFO; the bus owns the limit

        self._links: dict[LinkId, Link] = {}
        self._out: dict[str, Link] = {}  # node name -> our outbound link (Redis node->link)
        self._in: dict[str, Link] = {}  # node name -> its bound inbound link (node->inbound_link)
        self._next_link_id = 1
        self._iteration = 0  # clusterCron's call counter
        self._first_state_update: int | None = None  # for CLUSTER_WRITABLE_DELAY
        self._among_minority_time = 0  # last time update_cluster_state saw us in a minority

        self._now = now_ms
        self._effects: list[Effect] = []
        self._todo = _Todo.NONE

        # Failover (election.py, manual_failover.py) and what the server tells us about
        # replication (set_replication_info): our offset is ``myself.repl_offset``.
        self.election = ElectionState()
        self.mf = ManualFailoverState()
        self.repl_last_io_ms: int | None = None  # last interaction with our primary; None: never fed

        if config is None:
            # No nodes.conf: a fresh primary with a random id. Redis saves the file
            # right away (with fsync); the caller does that when ``fresh`` is True.
            self.myself = ClusterNode(
                self._new_node_id(), NodeFlags.MYSELF | NodeFlags.PRIMARY, ctime=now_ms
            )
            self.nodes[self.myself.name] = self.myself
            self.fresh = True
        else:
            self._load(config)
            self.fresh = False
        self.myself.port = settings.port
        self.myself.cport = settings.cport
        self.myself.pport = settings.pport
        self._announced_ip = settings.announce_ip
        if settings.announce_ip:
            self.myself.ip = settings.announce_ip[:_MAX_IP_LEN]
        self.myself.hostname = settings.announce_hostname
        if settings.replica_no_failover:
            self.myself.flags |= NodeFlags.NOFAILOVER

    def _load(self, config: NodesConfig) -> None:
        self.nodes = dict(config.nodes)
        self.myself = self.nodes[config.myself]
        self.current_epoch = config.current_epoch
        self.last_vote_epoch = config.last_vote_epoch
        for node in self.nodes.values():
            node.link_connected = False
            for slot in node.slots:
                self.slot_owner[slot] = node
        self.migrating_slots_to = {s: self.nodes[n] for s, n in config.migrating_slots_to.items()}
        self.importing_slots_from = {s: self.nodes[n] for s, n in config.importing_slots_from.items()}

    # ------------------------------------------------------------------------
    # Read-only accessors
    # ------------------------------------------------------------------------
    @property
    def myid(self) -> str:
        """CLUSTER MYID."""
        return self.myself.name

    @property
    def node_timeout(self) -> int:
        return self.settings.node_timeout

    @property
    def now(self) -> int:
        """The time of the call in progress (or of the last one)."""
        return self._now

    def lookup(self, name: str | None) -> ClusterNode | None:
        """Find a node by id (clusterLookupNode): invalid ids are never found."""
        if name is None or not is_valid_node_id(name):
            return None
        return self.nodes.get(name)

    def owner_of(self, slot: int) -> ClusterNode | None:
        return self.slot_owner[slot]

    def primary_of(self, node: ClusterNode) -> ClusterNode | None:
        """The node's primary if it is a replica with a known primary."""
        return self.nodes.get(node.primary_id) if node.primary_id is not None else None

    def has_outbound_link(self, node: ClusterNode) -> bool:
        return node.name in self._out

    def links(self) -> list[LinkView]:
        """Links bound to nodes, in node order, outbound before inbound (CLUSTER LINKS)."""
        rows = []
        for node in self.nodes.values():
            for link, direction in ((self._out.get(node.name), "to"), (self._in.get(node.name), "from")):
                if link is not None:
                    rows.append(LinkView(link.id, direction, node.name, link.ctime))
        return rows

    def link(self, link_id: LinkId) -> Link | None:
        return self._links.get(link_id)

    def is_blacklisted(self, name: str) -> bool:
        """clusterBlacklistExists (expired entries are purged first)."""
        self._blacklist_cleanup()
        return name in self.blacklist

    def to_nodes_config(self) -> NodesConfig:
        """The persistent part of the state, as helper nodes_conf.py writes it."""
        return NodesConfig(
            myself=self.myself.name,
            nodes=dict(self.nodes),
            current_epoch=self.current_epoch,
            last_vote_epoch=self.last_vote_epoch,
            migrating_slots_to={s: n.name for s, n in sorted(self.migrating_slots_to.items())},
            importing_slots_from={s: n.name for s, n in sorted(self.importing_slots_from.items())},
        )

    def nodes_conf_text(self) -> str:
        """nodes.conf content right now (what a ``SaveConfig`` effect writes)."""
        from .views import render_nodes_conf_text

        return render_nodes_conf_text(self)

    # ------------------------------------------------------------------------
    # Call framing: effects, events, deferred work
    # ------------------------------------------------------------------------
    def _begin(self, now_ms: int) -> None:
        self._now = now_ms
        self._effects = []
        self._todo = _Todo.NONE

    def _finish(self) -> list[Effect]:
        """Redis's clusterBeforeSleep: failover steps, update the state, then save, as requested."""
        # A failover step may ask for another one (a manual failover schedules its
        # election, then starts it): Redis runs that at the next before-sleep, a moment
        # later; we run it now. Bounded: each step moves the election forward.
        for _ in range(4):
            todo = self._todo
            self._todo &= ~(_Todo.HANDLE_FAILOVER | _Todo.HANDLE_MANUALFAILOVER)
            if _Todo.HANDLE_MANUALFAILOVER in todo:
                if self.myself.is_replica:
                    manual_failover.handle(self)
                    election.handle_replica_failover(self)
            elif _Todo.HANDLE_FAILOVER in todo:
                election.handle_replica_failover(self)
            else:
                break
        if _Todo.UPDATE_STATE in self._todo:
            failure.update_cluster_state(self)
        effects = self._effects
        if _Todo.SAVE_CONFIG in self._todo:
            save = SaveConfig(fsync=_Todo.FSYNC_CONFIG in self._todo)
            first_send = next((i for i, e in enumerate(effects) if isinstance(e, Send)), len(effects))
            effects.insert(first_send, save)
        self._effects = []
        self._todo = _Todo.NONE
        return effects

    def _request(
        self, *, save: bool = False, fsync: bool = False, update_state: bool = False,
        handle_failover: bool = False, handle_manual_failover: bool = False,
    ) -> None:
        """clusterDoBeforeSleep."""
        if handle_failover:
            self._todo |= _Todo.HANDLE_FAILOVER
        if handle_manual_failover:
            self._todo |= _Todo.HANDLE_MANUALFAILOVER
        if save:
            self._todo |= _Todo.SAVE_CONFIG
        if fsync:
            self._todo |= _Todo.FSYNC_CONFIG
        if update_state:
            self._todo |= _Todo.UPDATE_STATE

    def _save_now(self, fsync: bool) -> None:
        """clusterSaveConfigOrDie: save before anything that follows (clears pending saves)."""
        self._effects.append(SaveConfig(fsync=fsync))
        self._todo &= ~(_Todo.SAVE_CONFIG | _Todo.FSYNC_CONFIG)

    def _event(self, name: EventName, **fields: object) -> None:
        self._effects.append(Event(name, self._now, self.myself.name, fields))

    # ------------------------------------------------------------------------
    # Node table primitives
    # ------------------------------------------------------------------------
    def _create_node(self, name: str | None, flags: NodeFlags) -> ClusterNode:
        """createClusterNode: a random name when ``name`` is None (handshake nodes)."""
        return ClusterNode(name if name is not None else self._new_node_id(), flags, ctime=self._now)

    def _add_node(self, node: ClusterNode) -> None:
        assert node.name not in self.nodes, node.name
        self.nodes[node.name] = node

    def _rename_node(self, node: ClusterNode, new_name: str) -> None:
        """clusterRenameNode: the handshake node gets its real name."""
        old = node.name
        del self.nodes[old]
        node.name = new_name
        self.nodes[new_name] = node
        for table in (self._out, self._in):
            if old in table:
                table[new_name] = table.pop(old)
        self._event(EventName.NODE_RENAMED, old=old, node=new_name)

    def _del_node(self, node: ClusterNode, reason: str) -> None:
        """clusterDelNode: unbind its slots, drop its reports, detach replicas, close links."""
        for slot_table in (self.importing_slots_from, self.migrating_slots_to):
            for slot in [s for s, n in slot_table.items() if n is node]:
                del slot_table[slot]
        if node.slots:
            self._unassign_slots(node.slots.mask, reason=f"owner {node.name} deleted")
        for other in self.nodes.values():
            if other is not node and other.remove_failure_report(node.name):
                other.clean_failure_reports(self._now, self.node_timeout)
        for replica_name in node.replica_ids:
            replica = self.nodes.get(replica_name)
            if replica is not None and replica.primary_id == node.name:
                replica.primary_id = None
        primary = self.primary_of(node)
        if node.is_replica and primary is not None:
            self._remove_replica(primary, node)
        del self.nodes[node.name]
        for table in (self._out, self._in):
            link = table.get(node.name)
            if link is not None:
                self._free_link(link, reason="node deleted")
        self._event(EventName.NODE_DELETED, node=node.name, reason=reason)

    def _add_replica(self, primary: ClusterNode, replica: ClusterNode) -> None:
        """clusterNodeAddSlave: a primary that gains a replica is a migration target."""
        if replica.name in primary.replica_ids:
            return
        primary.replica_ids.append(replica.name)
        primary.flags |= NodeFlags.MIGRATE_TO

    def _remove_replica(self, primary: ClusterNode, replica: ClusterNode) -> None:
        """clusterNodeRemoveSlave."""
        if replica.name in primary.replica_ids:
            primary.replica_ids.remove(replica.name)
            if not primary.replica_ids:
                primary.flags = clear_flags(primary.flags, NodeFlags.MIGRATE_TO)

    def _set_node_as_primary(self, node: ClusterNode) -> None:
        """clusterSetNodeAsMaster: a node we took for a replica now acts as a primary."""
        if node.is_primary:
            return
        primary = self.primary_of(node)
        if node.primary_id is not None:
            if primary is not None:
                self._remove_replica(primary, node)
            if node is not self.myself:
                node.flags |= NodeFlags.MIGRATE_TO  # it failed over a primary that had replicas
        node.flags = clear_flags(node.flags, NodeFlags.REPLICA) | NodeFlags.PRIMARY
        node.primary_id = None
        self._request(save=True, update_state=True)
        self._event(EventName.ROLE_CHANGED, node=node.name, role="primary", of="", primary=None)

    def _set_my_primary(self, primary: ClusterNode) -> None:
        """clusterSetMaster: turn myself into a replica of ``primary`` (state only)."""
        me = self.myself
        assert primary is not me and not me.slots
        if me.is_primary:
            me.flags = clear_flags(me.flags, NodeFlags.PRIMARY | NodeFlags.MIGRATE_TO) | NodeFlags.REPLICA
            self._close_all_slots()
        else:
            old = self.primary_of(me)
            if old is not None:
                self._remove_replica(old, me)
        me.primary_id = primary.name
        self._add_replica(primary, me)
        self._effects.append(ReplicationChanged(primary.name, primary.ip, primary.port))
        self._reset_manual_failover()
        self._event(EventName.ROLE_CHANGED, node=me.name, role="replica", of=f" of {primary.name}",
                    primary=primary.name)

    def _close_all_slots(self) -> None:
        """clusterCloseAllSlots: forget every migrating/importing state."""
        self.migrating_slots_to.clear()
        self.importing_slots_from.clear()

    # ------------------------------------------------------------------------
    # Slot table primitives (bitmask based: 16384 one-by-one changes would be slow)
    # ------------------------------------------------------------------------
    def _assign_slots(self, node: ClusterNode, mask: int, reason: str) -> None:
        """clusterAddSlot for every slot in ``mask``; they must all be unassigned."""
        if not mask:
            return
        for slot in SlotBitmap(mask):
            assert self.slot_owner[slot] is None
            self.slot_owner[slot] = node
        had_slots = bool(node.slots)
        node.slots = SlotBitmap(node.slots.mask | mask)
        # clusterNodeSetSlotBit: a primary getting its first slot becomes a migration
        # target if some primary has replicas (redis issue #3043).
        if not had_slots and self._primaries_have_replicas():
            node.flags |= NodeFlags.MIGRATE_TO
        self._event(EventName.SLOT_OWNER_CHANGED, node=node.name, slots=format_slot_ranges(SlotBitmap(mask)),
                    reason=reason)

    def _unassign_slots(self, mask: int, reason: str, *, quiet: bool = False) -> None:
        """clusterDelSlot for every assigned slot in ``mask``."""
        removed = shard_lost = 0
        me = self.myself
        for node in self.nodes.values():
            lost = node.slots.mask & mask
            if lost:
                node.slots = SlotBitmap(node.slots.mask & ~lost)
                removed |= lost
                if node is me or node.name == me.primary_id:  # served by our shard
                    shard_lost |= lost
        if shard_lost:  # clusterDelSlot's removeChannelsInSlot
            self._effects.append(ShardChannelsLost(tuple(SlotBitmap(shard_lost))))
        for slot in SlotBitmap(removed):
            self.slot_owner[slot] = None
        if removed and not quiet:
            self._event(EventName.SLOT_OWNER_CHANGED, node=None, slots=format_slot_ranges(SlotBitmap(removed)),
                        reason=reason)

    def _primaries_have_replicas(self) -> bool:
        """clusterMastersHaveSlaves."""
        return any(n.replica_ids for n in self.nodes.values() if not n.is_replica)

    def _unclaimed(self, slot: int) -> bool:
        """isSlotUnclaimed: unassigned, or its owner stopped claiming it."""
        return self.slot_owner[slot] is None or bool(self.owner_not_claiming >> slot & 1)

    # ------------------------------------------------------------------------
    # Links
    # ------------------------------------------------------------------------
    def _alloc_link_id(self) -> LinkId:
        link_id = self._next_link_id
        self._next_link_id += 1
        return link_id

    def _connect(self, node: ClusterNode) -> None:
        """Create the outbound link and ask the transport to dial (clusterNodeCronHandleReconnect)."""
        link = Link(self._alloc_link_id(), inbound=False, node=node, ctime=self._now, peer_ip=node.ip)
        self._links[link.id] = link
        self._out[node.name] = link
        node.link_connected = True  # Redis prints "connected" as soon as node->link exists
        self._effects.append(Connect(link.id, node.name, node.ip, node.cport))
        self._event(EventName.LINK_CONNECTING, node=node.name, ip=node.ip, cport=node.cport, link=link.id)

    def _free_link(self, link: Link, reason: str, *, notify: bool = True) -> None:
        """freeClusterLink: forget the link; ``notify``: also ask the transport to close it."""
        if self._links.pop(link.id, None) is None:
            return
        node = link.node
        if node is not None:
            if self._out.get(node.name) is link:
                del self._out[node.name]
                node.link_connected = False
            elif self._in.get(node.name) is link:
                del self._in[node.name]
        if notify:
            self._effects.append(CloseLink(link.id, reason))
        self._event(
            EventName.LINK_DISCONNECTED,
            node=node.name if node is not None else None,
            direction="from" if link.inbound else "to",
            reason=reason,
            link=link.id,
        )

    def _bind_inbound(self, node: ClusterNode, link: Link) -> None:
        """setClusterNodeToInboundClusterLink: the older inbound link from the node is closed."""
        old = self._in.get(node.name)
        if old is not None and old is not link:
            self._free_link(old, reason="replaced by a newer inbound link")
        self._in[node.name] = link
        link.node = node

    # ------------------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------------------
    def _send(self, link: Link | None, message: Message) -> None:
        """clusterSendMessage: nothing happens without a link."""
        if link is None:
            return
        if 0 <= message.type < CLUSTERMSG_TYPE_COUNT:
            self.stats_sent[message.type] += 1
        self._effects.append(Send(link.id, message, link.node.name if link.node is not None else None))

    def _send_ping(self, link: Link, kind: type[Ping] | type[Pong] | type[Meet]) -> None:
        """clusterSendPing: a PING/PONG/MEET with gossip on ``link``."""
        self._send(link, gossip.build_ping(self, link, kind))

    def _broadcast(self, message: Message) -> int:
        """clusterBroadcastMessage: every node but myself and handshake nodes, on our link."""
        sent = 0
        for node in self.nodes.values():
            if node.flags & (NodeFlags.MYSELF | NodeFlags.HANDSHAKE):
                continue
            link = self._out.get(node.name)
            if link is not None:
                self._send(link, message)
                sent += 1
        return sent

    def _broadcast_pong(self, *, local_replicas_only: bool = False) -> None:
        """clusterBroadcastPong: spread a config change now instead of at the next ping.

        ``local_replicas_only``: only replicas of my primary (an election was scheduled).
        """
        me = self.myself
        for node in list(self.nodes.values()):
            link = self._out.get(node.name)
            if link is None or node is me or node.in_handshake:
                continue
            if local_replicas_only:
                is_local = node.is_replica and node.primary_id is not None and (
                    node.primary_id == me.name or node.primary_id == me.primary_id
                )
                if not is_local:
                    continue
            self._send_ping(link, Pong)

    # ------------------------------------------------------------------------
    # Inputs: the transport
    # ------------------------------------------------------------------------
    def accept_link(self, peer_ip: str, local_ip: str, now_ms: int) -> LinkId:
        """A peer connected to our bus port: register the inbound link, return its id.

        ``peer_ip`` is the remote address, ``local_ip`` ours on that socket (a MEET
        arriving on it teaches us our own IP). Nothing is sent: the peer talks first.
        """
        link = Link(self._alloc_link_id(), inbound=True, node=None, ctime=now_ms,
                    peer_ip=peer_ip, local_ip=local_ip, connected=True)
        self._links[link.id] = link
        return link.id

    def link_connected(self, link_id: LinkId, now_ms: int) -> list[Effect]:
        """Our outbound connect succeeded (clusterLinkConnectHandler): send PING or MEET."""
        self._begin(now_ms)
        link = self._links.get(link_id)
        if link is not None and not link.inbound and link.node is not None and not link.connected:
            link.connected = True
            node = link.node
            self._event(EventName.LINK_CONNECTED, node=node.name, link=link.id)
            # Send a PING (a MEET if the node came from CLUSTER MEET) at once: crucial to
            # avoid false failure detection. A reconnect keeps the ping already pending.
            old_ping_sent = node.ping_sent
            self._send_ping(link, Meet if NodeFlags.MEET in node.flags else Ping)
            if old_ping_sent:
                node.ping_sent = old_ping_sent
            node.flags = clear_flags(node.flags, NodeFlags.MEET)  # MEET is sent once
        return self._finish()

    def link_closed(self, link_id: LinkId, now_ms: int, *, connect_failed: bool = False) -> list[Effect]:
        """The transport lost a link (EOF, I/O or framing error) or could not connect it.

        The node stays; the cron dials it again on the next tick.
        """
        self._begin(now_ms)
        link = self._links.get(link_id)
        if link is not None:
            node = link.node
            if connect_failed and node is not None and not link.inbound and node.ping_sent == 0:
                # Without a pending ping, failure detection could not start (see module doc).
                node.ping_sent = now_ms
            self._free_link(link, reason="connect failed" if connect_failed else "closed", notify=False)
        return self._finish()

    def handle_dropped(self, link_id: LinkId, message_type: int, log: str | None, now_ms: int) -> list[Effect]:
        """The codec dropped a packet 7.0 would drop (``DroppedPacket``): count it, log it.

        Redis counts a received message by type before its sanity checks.
        """
        self._begin(now_ms)
        if 0 <= message_type < CLUSTERMSG_TYPE_COUNT:
            self.stats_received[message_type] += 1
        if log:
            self._event(EventName.PACKET_DROPPED, log=log, type=message_type, link=link_id)
        return self._finish()

    def handle_packet(self, link_id: LinkId, message: Message, now_ms: int) -> list[Effect]:
        """A decoded message arrived on link ``link_id`` (clusterProcessPacket)."""
        self._begin(now_ms)
        link = self._links.get(link_id)
        if link is not None:
            self._process_packet(link, message)
        return self._finish()

    # ------------------------------------------------------------------------
    # Packet processing
    # ------------------------------------------------------------------------
    def _sender_of(self, link: Link, message: Message) -> ClusterNode | None:
        """getNodeFromLinkAndMsg: the link's node, else a lookup of ``header.sender``.

        A node in handshake still has a random name, so it is not "known". The first
        known sender on an inbound link gets bound to it.
        """
        if link.node is not None and not link.node.in_handshake:
            return link.node
        sender = self.lookup(message.header.sender)
        if sender is not None and link.node is None:
            self._bind_inbound(sender, link)
        return sender

    def _process_packet(self, link: Link, msg: Message) -> None:
        if 0 <= msg.type < CLUSTERMSG_TYPE_COUNT:
            self.stats_received[msg.type] += 1
        if isinstance(msg, UnknownMessage):
            self._event(EventName.UNKNOWN_PACKET, type=msg.type)
            return
        h = msg.header
        sender = self._sender_of(link, msg)
        if sender is not None:
            sender.data_received = self._now  # any traffic counts as liveness (PFAIL check)
        sender_config_epoch = 0
        if sender is not None and not sender.in_handshake:
            sender_config_epoch = h.config_epoch
            epochs.update_from_header(self, sender, h)
            # A replica in a manual failover records the offset its paused primary
            # announces (mflags PAUSED).
            manual_failover.observe_header(self, sender, h)

        if isinstance(msg, Ping | Meet):
            self._learn_my_ip(link, msg)
            if sender is None and isinstance(msg, Meet):
                # A MEET from an unknown node: trust it because of the message type,
                # add it in handshake (we will dial it and learn its name from its PONG).
                node = self._create_node(None, NodeFlags.HANDSHAKE)
                node.ip = h.myip[:_MAX_IP_LEN] or link.peer_ip
                node.port, node.pport, node.cport = h.port, h.pport, h.cport
                self._add_node(node)
                self._request(save=True)
                self._event(EventName.HANDSHAKE_STARTED, node=node.name, ip=node.ip, port=node.port,
                            cport=node.cport, via="meet")
                gossip.process_gossip_section(self, msg, None)
            self._send_ping(link, Pong)  # always answered, on the same connection

        if isinstance(msg, Ping | Pong | Meet):
            self._process_ping_like(link, msg, sender, sender_config_epoch)
        elif isinstance(msg, Fail):
            failure.process_fail_message(self, msg, sender)
        elif isinstance(msg, Publish | PublishShard):
            if sender is not None:
                self._effects.append(PublishReceived(msg.channel, msg.message, isinstance(msg, PublishShard)))
        elif isinstance(msg, FailoverAuthRequest):
            if sender is not None:
                self._on_failover_auth_request(sender, msg)
        elif isinstance(msg, FailoverAuthAck):
            if sender is not None:
                self._on_failover_auth_ack(sender, msg)
        elif isinstance(msg, MFStart):
            if sender is not None and sender.primary_id == self.myself.name:
                self._on_mfstart(sender, link, msg)
        elif isinstance(msg, Update):
            epochs.process_update_message(self, msg, sender)
        elif isinstance(msg, Module):
            pass  # Modules are not supported; 7.0 hands the payload to the module (known senders only).

    def _learn_my_ip(self, link: Link, msg: Ping | Meet) -> None:
        """A MEET (or any PING while we have no IP) tells us our address, from the socket."""
        me = self.myself
        if (isinstance(msg, Meet) or not me.ip) and not self.settings.announce_ip:
            ip = link.local_ip
            if ip and ip != me.ip:
                me.ip = ip
                self._request(save=True)
                self._event(EventName.MY_IP_CHANGED, ip=ip)

    def _process_ping_like(
        self, link: Link, msg: Ping | Pong | Meet, sender: ClusterNode | None, sender_config_epoch: int
    ) -> None:
        h = msg.header
        if not link.inbound:
            node = link.node
            assert node is not None
            if node.in_handshake:
                if sender is not None:
                    # We MEET an address whose node we already know (by another name):
                    # refresh its address and drop the handshake node with its link.
                    if self._update_address_if_needed(sender, link, h):
                        self._request(save=True, update_state=True)
                    self._del_node(node, reason=f"handshake reached known node {sender.name}")
                    return
                if not is_valid_node_id(h.sender):
                    # 7.0 would take the bogus name (and later fail every lookup); drop it.
                    self._del_node(node, reason="handshake PONG with an invalid node id")
                    return
                # First PONG from a handshake node: its real name replaces the random one.
                # Role, slots and gossip of *this* packet are not applied (Redis looked the
                # sender up before the rename); they come with the next packet.
                self._rename_node(node, h.sender)
                node.flags = clear_flags(node.flags, NodeFlags.HANDSHAKE) | (
                    h.flags & (NodeFlags.PRIMARY | NodeFlags.REPLICA)
                )
                self._request(save=True)
                self._event(EventName.HANDSHAKE_COMPLETED, node=node.name, flags=format_flags(node.flags))
            elif node.name != h.sender:
                # Somebody else answers at that address now: the node has no address.
                node.flags |= NodeFlags.NOADDR
                node.ip, node.port, node.pport, node.cport = "", 0, 0, 0
                self._event(EventName.NODE_NOADDR, node=node.name, sender=h.sender)
                self._free_link(link, reason="PONG from a different node id")
                self._request(save=True)
                return

        if sender is not None:
            # NOFAILOVER is a live setting of the sender: always take the latest.
            sender.flags = clear_flags(sender.flags, NodeFlags.NOFAILOVER) | (h.flags & NodeFlags.NOFAILOVER)

        # A PING on a link that is not our outbound one tells us where the sender is.
        if (
            sender is not None
            and isinstance(msg, Ping)
            and not sender.in_handshake
            and self._update_address_if_needed(sender, link, h)
        ):
            self._request(save=True, update_state=True)

        # Liveness: only a PONG on our own outbound link counts.
        if not link.inbound and isinstance(msg, Pong):
            node = link.node
            assert node is not None
            node.pong_received = self._now
            node.ping_sent = 0
            if node.timed_out:
                node.flags = clear_flags(node.flags, NodeFlags.PFAIL)
                self._request(save=True, update_state=True)
                self._event(EventName.PFAIL_CLEARED, node=node.name)
            elif node.failed:
                failure.clear_node_failure_if_needed(self, node)

        if sender is not None:
            self._apply_role_from_header(sender, h.slaveof)

        # Slots: only if the claim differs from what we hold for the sender's primary.
        sender_primary: ClusterNode | None = None
        dirty_slots = False
        if sender is not None:
            sender_primary = sender if sender.is_primary else self.primary_of(sender)
            if sender_primary is not None:
                dirty_slots = sender_primary.slots != h.myslots
        if sender is not None and sender.is_primary and dirty_slots:
            epochs.update_slots_config_with(self, sender, sender_config_epoch, h.myslots)
        if sender is not None and dirty_slots:
            # The reverse case: the sender claims slots we know a newer owner for
            # (typically an old primary back from a partition). Tell it.
            owner = epochs.newer_slot_owner(self, sender, sender_config_epoch, h.myslots)
            if owner is not None:
                self._send_update(sender, owner)

        if (
            sender is not None
            and self.myself.is_primary
            and sender.is_primary
            and sender_config_epoch == self.myself.config_epoch
        ):
            epochs.handle_config_epoch_collision(self, sender)

        if sender is not None:
            gossip.process_gossip_section(self, msg, sender)
            gossip.process_ping_extensions(self, msg, sender)

    def _apply_role_from_header(self, sender: ClusterNode, slaveof: str | None) -> None:
        """The header's ``slaveof`` decides the sender's role (not its flag bits)."""
        if slaveof is None:
            self._set_node_as_primary(sender)
            return
        primary = self.lookup(slaveof)
        if sender.is_primary:
            # A primary turned into a replica (it was failed over, or reconfigured).
            if sender.slots:
                self._unassign_slots(sender.slots.mask, reason=f"{sender.name} became a replica")
            sender.flags = clear_flags(sender.flags, NodeFlags.PRIMARY | NodeFlags.MIGRATE_TO) | NodeFlags.REPLICA
            self._request(save=True, update_state=True)
            self._event(EventName.ROLE_CHANGED, node=sender.name, role="replica",
                        of=f" of {slaveof}", primary=slaveof)
        if primary is not None and sender.primary_id != primary.name:
            old = self.primary_of(sender)
            if old is not None:
                self._remove_replica(old, sender)
            self._add_replica(primary, sender)
            sender.primary_id = primary.name
            self._request(save=True)
            self._event(EventName.ROLE_CHANGED, node=sender.name, role="replica",
                        of=f" of {primary.name}", primary=primary.name)

    def _update_address_if_needed(self, node: ClusterNode, link: Link, h: MessageHeader) -> bool:
        """nodeUpdateAddressIfNeeded: the node talks from a new ip:port: adopt it, redial.

        Not done on our own outbound link (we chose that address ourselves).
        """
        if self._out.get(node.name) is link:
            return False
        port, pport, cport = h.port, h.pport, h.cport
        ip = h.myip[:_MAX_IP_LEN] if h.myip else link.peer_ip
        if not ip:
            return False  # peer address unknown: retry on a later PING (nodeIp2String failed)
        if node.port == port and node.cport == cport and node.pport == pport and node.ip == ip:
            return False
        node.ip, node.port, node.pport, node.cport = ip, port, pport, cport
        out = self._out.get(node.name)
        if out is not None:
            self._free_link(out, reason="address changed")
        node.flags = clear_flags(node.flags, NodeFlags.NOADDR)
        self._event(EventName.NODE_ADDRESS_CHANGED, node=node.name, ip=ip, port=port, cport=cport)
        if self.myself.is_replica and self.myself.primary_id == node.name:
            self._effects.append(ReplicationChanged(node.name, ip, port))
        return True

    def _send_update(self, sender: ClusterNode, owner: ClusterNode) -> None:
        """clusterSendUpdate, on our outbound link to ``sender`` (nothing if we have none)."""
        link = self._out.get(sender.name)
        if link is None:
            return
        claimed = SlotBitmap(owner.slots.mask & ~self.owner_not_claiming)
        self._send(link, Update(gossip.build_header(self), owner.config_epoch, owner.name, claimed))
        self._event(EventName.UPDATE_SENT, node=sender.name, about=owner.name, epoch=owner.config_epoch)

    # -- failover hooks (election.py, manual_failover.py, replica_migration.py) -----------
    def _on_failover_auth_request(self, sender: ClusterNode, msg: FailoverAuthRequest) -> None:
        """clusterSendFailoverAuthIfNeeded: primaries with slots vote here (bus.md §4.4)."""
        election.on_auth_request(self, sender, msg)

    def _on_failover_auth_ack(self, sender: ClusterNode, msg: FailoverAuthAck) -> None:
        """A vote for our election (bus.md §4.5)."""
        election.on_auth_ack(self, sender, msg.header)

    def _on_mfstart(self, sender: ClusterNode, link: Link, msg: MFStart) -> None:
        """One of our replicas asks us to pause for a manual failover (bus.md §5)."""
        manual_failover.on_mfstart(self, sender, link)

    def _reset_manual_failover(self) -> None:
        """resetManualFailover: a paused primary resumes writes."""
        manual_failover.reset(self)

    def _failover_cron(self, scan: replica_migration.OrphanScan) -> None:
        """The failover part of clusterCron, in Redis's order: manual-failover timeout
        (both roles); then, on a replica, the manual failover, the automatic failover
        (clusterHandleSlaveFailover) and replica migration."""
        manual_failover.check_timeout(self)
        if not self.myself.is_replica:
            return
        manual_failover.handle(self)
        election.handle_replica_failover(self)
        if scan.migration_possible(self):
            replica_migration.handle_replica_migration(self, scan.max_replicas)

    # ------------------------------------------------------------------------
    # Inputs: the clock
    # ------------------------------------------------------------------------
    def tick(self, now_ms: int) -> list[Effect]:
        """clusterCron, to be called every ``CLUSTER_CRON_PERIOD`` (100) ms."""
        self._begin(now_ms)
        self._iteration += 1
        me = self.myself
        nt = self.node_timeout
        if me.hostname != self.settings.announce_hostname:  # clusterUpdateMyselfHostname
            me.hostname = self.settings.announce_hostname
        handshake_timeout = max(nt, CLUSTER_HANDSHAKE_TIMEOUT_MIN)

        # 1. Reconnect links, expire handshakes, count PFAIL nodes for the gossip.
        self.stats_pfail_nodes = 0
        for node in list(self.nodes.values()):
            if node.flags & (NodeFlags.MYSELF | NodeFlags.NOADDR):
                continue
            if node.timed_out:
                self.stats_pfail_nodes += 1
            if node.in_handshake and now_ms - node.ctime > handshake_timeout:
                self._event(EventName.HANDSHAKE_TIMEOUT, node=node.name, ip=node.ip, port=node.port,
                            cport=node.cport)
                self._del_node(node, reason="handshake timeout")
                continue
            if node.name not in self._out:
                self._connect(node)

        # 2. About once a second, ping the node with the oldest PONG among 5 random ones.
        if self._iteration % (CLUSTER_RANDOM_PING_PERIOD // CLUSTER_CRON_PERIOD) == 0:
            candidates = list(self.nodes.values())
            best: ClusterNode | None = None
            for _ in range(CLUSTER_RANDOM_PING_SAMPLE):
                this = self.rng.choice(candidates)
                if this.name not in self._out or this.ping_sent != 0:
                    continue
                if this.flags & (NodeFlags.MYSELF | NodeFlags.HANDSHAKE):
                    continue
                if best is None or best.pong_received > this.pong_received:
                    best = this
            if best is not None:
                self._send_ping(self._out[best.name], Ping)

        # 3. Per node: drop stale links, ping nodes not heard from for node_timeout/2,
        #    flag PFAIL after node_timeout.
        update_state = False
        scan = replica_migration.OrphanScan()
        for node in list(self.nodes.values()):
            if node.flags & (NodeFlags.MYSELF | NodeFlags.NOADDR | NodeFlags.HANDSHAKE):
                continue
            scan.observe(self, node)  # orphaned primaries, for replica migration
            ping_delay = now_ms - node.ping_sent
            data_delay = now_ms - node.data_received
            link = self._out.get(node.name)
            if (
                link is not None
                and now_ms - link.ctime > nt  # not just reconnected
                and node.ping_sent  # a ping is pending...
                and ping_delay > nt // 2  # ... for more than node_timeout/2
                and data_delay > nt // 2  # ... and nothing at all arrived meanwhile
            ):
                self._free_link(link, reason="no data for node_timeout/2 with a ping pending")
                link = None
            if link is not None and node.ping_sent == 0 and now_ms - node.pong_received > nt // 2:
                self._send_ping(link, Ping)
                continue
            # A primary in a manual failover pings the replica every tick (PAUSED + offset).
            if self.mf.end and me.is_primary and self.mf.replica == node.name and link is not None:
                self._send_ping(link, Ping)
                continue
            if node.ping_sent == 0:
                continue
            # Any data counts as proof of liveness, not only PONGs (busy Pub/Sub links).
            node_delay = min(ping_delay, data_delay)
            if node_delay > nt and not node.flags & (NodeFlags.PFAIL | NodeFlags.FAIL):
                node.flags |= NodeFlags.PFAIL
                update_state = True
                self._event(EventName.PFAIL, node=node.name, delay_ms=node_delay)

        self._failover_cron(scan)
        if update_state or self.state == ClusterHealth.FAIL:
            failure.update_cluster_state(self)
        return self._finish()

    # ------------------------------------------------------------------------
    # Inputs: admin operations (CLUSTER subcommands)
    # ------------------------------------------------------------------------
    def meet(self, ip: str, port: int, cport: int | None, now_ms: int) -> list[Effect]:
        """CLUSTER MEET ip port [cport]: start a handshake (clusterStartHandshake).

        Asynchronous: the cron dials the node. A handshake already in progress with the
        same address is not started twice (still OK).
        """
        if cport is None:
            cport = port + CLUSTER_PORT_INCR
        norm_ip = normalize_ip(ip)
        if norm_ip is None or not (0 < port <= 65535 and 0 < cport <= 65535):
            raise ClusterAdminError(ERR_MEET_BAD_ADDRESS.format(ip, port))
        self._begin(now_ms)
        in_progress = any(
            n.in_handshake and n.ip.lower() == norm_ip.lower() and n.port == port and n.cport == cport
            for n in self.nodes.values()
        )
        if not in_progress:
            node = self._create_node(None, NodeFlags.HANDSHAKE | NodeFlags.MEET)
            node.ip, node.port, node.cport = norm_ip, port, cport
            self._add_node(node)
            self._event(EventName.HANDSHAKE_STARTED, node=node.name, ip=norm_ip, port=port, cport=cport,
                        via="cluster meet")
        return self._finish()

    def _check_slots(self, ranges: Iterable[tuple[int, int]], delete: bool) -> int:
        """checkSlotAssignmentsOrReply over ranges; returns the mask of slots to change."""
        seen = 0
        for start, end in ranges:
            if not (0 <= start < CLUSTER_SLOTS and 0 <= end < CLUSTER_SLOTS):
                raise ClusterAdminError(ERR_INVALID_SLOT)
            if start > end:
                raise ClusterAdminError(ERR_SLOT_RANGE_ORDER.format(start, end))
            for slot in range(start, end + 1):
                if delete and self.slot_owner[slot] is None:
                    raise ClusterAdminError(ERR_SLOT_UNASSIGNED.format(slot))
                if not delete and self.slot_owner[slot] is not None:
                    raise ClusterAdminError(ERR_SLOT_BUSY.format(slot))
                if seen >> slot & 1:
                    raise ClusterAdminError(ERR_SLOT_TWICE.format(slot))
                seen |= 1 << slot
        return seen

    def _update_slots(self, mask: int, delete: bool) -> None:
        """clusterUpdateSlots: assign to myself or unassign; an import in progress ends."""
        for slot in SlotBitmap(mask):
            self.importing_slots_from.pop(slot, None)
        if delete:
            self._unassign_slots(mask, reason="CLUSTER DELSLOTS")
        else:
            self._assign_slots(self.myself, mask, reason="CLUSTER ADDSLOTS")
        self._request(save=True, update_state=True)

    def addslots(self, slots: Sequence[int], now_ms: int) -> list[Effect]:
        """CLUSTER ADDSLOTS. Pass -1 for an argument that is not an integer: the error
        ("Invalid or out of range slot") is the same, and all arguments are parsed first."""
        return self._slots_op([(s, s) for s in slots], delete=False, parse_all_first=True, now_ms=now_ms)

    def delslots(self, slots: Sequence[int], now_ms: int) -> list[Effect]:
        """CLUSTER DELSLOTS (see ``addslots``)."""
        return self._slots_op([(s, s) for s in slots], delete=True, parse_all_first=True, now_ms=now_ms)

    def addslotsrange(self, ranges: Sequence[tuple[int, int]], now_ms: int) -> list[Effect]:
        """CLUSTER ADDSLOTSRANGE start end [start end ...] (pairs checked one by one)."""
        return self._slots_op(ranges, delete=False, parse_all_first=False, now_ms=now_ms)

    def delslotsrange(self, ranges: Sequence[tuple[int, int]], now_ms: int) -> list[Effect]:
        """CLUSTER DELSLOTSRANGE."""
        return self._slots_op(ranges, delete=True, parse_all_first=False, now_ms=now_ms)

    def _slots_op(
        self, ranges: Sequence[tuple[int, int]], *, delete: bool, parse_all_first: bool, now_ms: int
    ) -> list[Effect]:
        if parse_all_first and any(not 0 <= s < CLUSTER_SLOTS for s, _ in ranges):
            raise ClusterAdminError(ERR_INVALID_SLOT)
        mask = self._check_slots(ranges, delete)
        self._begin(now_ms)
        self._update_slots(mask, delete)
        return self._finish()

    def flushslots(self, now_ms: int) -> list[Effect]:
        """CLUSTER FLUSHSLOTS: unassign all my slots (only with an empty keyspace)."""
        if self.keyspace.key_count() != 0:
            raise ClusterAdminError(ERR_FLUSHSLOTS_NOT_EMPTY)
        self._begin(now_ms)
        self._unassign_slots(self.myself.slots.mask, reason="CLUSTER FLUSHSLOTS")
        self._request(save=True, update_state=True)
        return self._finish()

    def setslot(self, slot: int, action: str, node_id: str | None, now_ms: int) -> list[Effect]:
        """CLUSTER SETSLOT slot IMPORTING|MIGRATING|NODE node-id, or SETSLOT slot STABLE.

        ``slot`` -1 stands for an unparsable argument. ``node_id`` None means the
        argument is absent (a wrong count is the "Invalid ... action" error, as in 7.0).
        """
        me = self.myself
        if me.is_replica:
            raise ClusterAdminError(ERR_SETSLOT_REPLICA)
        if not 0 <= slot < CLUSTER_SLOTS:
            raise ClusterAdminError(ERR_INVALID_SLOT)
        try:
            act = SetSlotAction(action.lower())
        except ValueError:
            raise ClusterAdminError(ERR_SETSLOT_SYNTAX) from None
        if (act is SetSlotAction.STABLE) != (node_id is None):
            raise ClusterAdminError(ERR_SETSLOT_SYNTAX)

        if act is SetSlotAction.MIGRATING:
            if self.slot_owner[slot] is not me:
                raise ClusterAdminError(ERR_NOT_OWNER.format(slot))
            target = self._setslot_target(node_id, ERR_DONT_KNOW_NODE)
            self._begin(now_ms)
            self.migrating_slots_to[slot] = target
            self._event(EventName.SLOT_STATE_CHANGED, slot=slot, state="migrating", peer=target.name)
        elif act is SetSlotAction.IMPORTING:
            if self.slot_owner[slot] is me:
                raise ClusterAdminError(ERR_ALREADY_OWNER.format(slot))
            source = self._setslot_target(node_id, ERR_DONT_KNOW_NODE)
            self._begin(now_ms)
            self.importing_slots_from[slot] = source
            self._event(EventName.SLOT_STATE_CHANGED, slot=slot, state="importing", peer=source.name)
        elif act is SetSlotAction.STABLE:
            self._begin(now_ms)
            self.importing_slots_from.pop(slot, None)
            self.migrating_slots_to.pop(slot, None)
            self._event(EventName.SLOT_STATE_CHANGED, slot=slot, state="stable", peer="")
        else:
            target = self._setslot_target(node_id, ERR_UNKNOWN_NODE)
            keys = self.keyspace.count_keys_in_slot(slot)
            if self.slot_owner[slot] is me and target is not me and keys != 0:
                raise ClusterAdminError(ERR_SLOT_HAS_KEYS.format(slot))
            self._begin(now_ms)
            self._setslot_node(slot, target, keys)
        self._request(save=True, update_state=True)
        return self._finish()

    def _setslot_target(self, node_id: str | None, unknown_error: str) -> ClusterNode:
        node = self.lookup(node_id)
        if node is None:
            raise ClusterAdminError(unknown_error.format(node_id))
        if node.is_replica:
            raise ClusterAdminError(ERR_TARGET_NOT_PRIMARY)
        return node

    def _setslot_node(self, slot: int, target: ClusterNode, keys: int) -> None:
        me = self.myself
        if keys == 0 and slot in self.migrating_slots_to:
            del self.migrating_slots_to[slot]  # a finished migration: the slot is empty here
        was_mine = self.slot_owner[slot] is me
        self._unassign_slots(1 << slot, reason="CLUSTER SETSLOT NODE", quiet=True)
        self._assign_slots(target, 1 << slot, reason="CLUSTER SETSLOT NODE")
        if was_mine and target is not me and not me.slots and self.settings.allow_replica_migration:
            # We gave away our last slot: follow its new owner (Redis: "Configuration
            # change detected. Reconfiguring myself as a replica of ...").
            self._set_my_primary(target)
            self._request(save=True, update_state=True, fsync=True)
        if target is me and slot in self.importing_slots_from:
            # The import is complete. Take a new epoch without consensus so that our
            # claim wins everywhere (a collision, if any, gets resolved), and say so now.
            epochs.bump_config_epoch_without_consensus(self, reason=f"importing slot {slot}")
            del self.importing_slots_from[slot]
            self._broadcast_pong()

    def bumpepoch(self, now_ms: int) -> tuple[bool, list[Effect]]:
        """CLUSTER BUMPEPOCH: (bumped?, effects). Reply ``+BUMPED n`` or ``+STILL n`` with
        n = ``myself.config_epoch``."""
        self._begin(now_ms)
        bumped = epochs.bump_config_epoch_without_consensus(self, reason="CLUSTER BUMPEPOCH")
        return bumped, self._finish()

    def set_config_epoch(self, epoch: int, now_ms: int) -> list[Effect]:
        """CLUSTER SET-CONFIG-EPOCH: only on a node that knows nobody and has epoch 0."""
        if epoch < 0:
            raise ClusterAdminError(ERR_BAD_CONFIG_EPOCH.format(epoch))
        if len(self.nodes) > 1:
            raise ClusterAdminError(ERR_CONFIG_EPOCH_KNOWS_NODES)
        if self.myself.config_epoch != 0:
            raise ClusterAdminError(ERR_CONFIG_EPOCH_NONZERO)
        self._begin(now_ms)
        self.myself.config_epoch = epoch
        self._event(EventName.EPOCH_BUMPED, old=0, new=epoch, reason="CLUSTER SET-CONFIG-EPOCH")
        if self.current_epoch < epoch:
            self.current_epoch = epoch
        # No fsync: if this is lost, the collision handling gives us a unique epoch anyway.
        self._request(save=True, update_state=True)
        return self._finish()

    def count_failure_reports(self, node_id: str, now_ms: int) -> int:
        """CLUSTER COUNT-FAILURE-REPORTS (purges expired reports, like Redis)."""
        node = self.lookup(node_id)
        if node is None:
            raise ClusterAdminError(ERR_UNKNOWN_NODE.format(node_id))
        return node.failure_report_count(now_ms, self.node_timeout)

    def forget(self, node_id: str, now_ms: int) -> list[Effect]:
        """CLUSTER FORGET: delete the node and keep gossip from re-adding it for 60 s."""
        node = self.lookup(node_id)
        if node is None:
            raise ClusterAdminError(ERR_UNKNOWN_NODE.format(node_id))
        if node is self.myself:
            raise ClusterAdminError(ERR_FORGET_MYSELF)
        if self.myself.is_replica and self.myself.primary_id == node.name:
            raise ClusterAdminError(ERR_FORGET_MY_PRIMARY)
        self._begin(now_ms)
        self._blacklist_cleanup()
        until = now_ms + CLUSTER_BLACKLIST_TTL * 1000
        self.blacklist[node.name] = until
        self._del_node(node, reason="CLUSTER FORGET")
        self._event(EventName.NODE_FORGOTTEN, node=node.name, until_ms=until)
        self._request(save=True, update_state=True)
        return self._finish()

    def _blacklist_cleanup(self) -> None:
        for name in [n for n, until in self.blacklist.items() if until < self._now]:
            del self.blacklist[name]

    def replicate(self, node_id: str, now_ms: int) -> list[Effect]:
        """CLUSTER REPLICATE: become a replica of a primary (flags and pointer only)."""
        node = self.lookup(node_id)
        me = self.myself
        if node is None:
            raise ClusterAdminError(ERR_UNKNOWN_NODE.format(node_id))
        if node is me:
            raise ClusterAdminError(ERR_REPLICATE_MYSELF)
        if node.is_replica:
            raise ClusterAdminError(ERR_REPLICATE_REPLICA)
        if me.is_primary and (me.slots or self.keyspace.key_count() != 0):
            raise ClusterAdminError(ERR_REPLICATE_NOT_EMPTY)
        self._begin(now_ms)
        self._set_my_primary(node)
        self._request(save=True, update_state=True)
        return self._finish()

    def failover(self, mode: ManualFailoverMode | str, now_ms: int) -> list[Effect]:
        """CLUSTER FAILOVER [FORCE|TAKEOVER] (manual_failover.py): ``mode`` "default",
        "force" or "takeover". Raises ``ClusterAdminError`` with 7.0's texts."""
        mode = ManualFailoverMode(mode.lower() if isinstance(mode, str) else mode)
        error = manual_failover.check_preconditions(self, mode)
        if error is not None:
            raise ClusterAdminError(error)
        self._begin(now_ms)
        manual_failover.start(self, mode)
        return self._finish()

    # -- what the server tells the core about replication -------------------------------
    def set_replication_info(self, offset: int, last_io_ms: int | None, now_ms: int) -> list[Effect]:
        """The server's replication state, fed whenever it changes (or at least every tick).

        ``offset``: a primary's ``master_repl_offset``, a replica's processed offset
        (sent in every header; ranks replicas; ends a manual failover's catch-up).
        ``last_io_ms``: on a replica, the last interaction with its primary while the
        link is up, else the moment the link went down (0: it never synced); it
        decides the data-age rule (election.py). None: unknown, no data-age rule.
        """
        self._begin(now_ms)
        self.myself.repl_offset = offset
        self.repl_last_io_ms = last_io_ms
        mf = self.mf
        if self.myself.is_replica and mf.end and not mf.can_start and mf.primary_offset != -1:
            self._request(handle_manual_failover=True)  # maybe caught up with the paused primary
        return self._finish()

    def writes_paused(self, offset: int, now_ms: int) -> list[Effect]:
        """The server ran ``PauseWrites``: writes are paused at replication ``offset``.

        From now until the manual failover ends, our headers carry PAUSED and this
        offset (the first one at once, to the replica that asked).
        """
        self._begin(now_ms)
        manual_failover.writes_paused(self, offset)
        return self._finish()

    def reset(self, hard: bool, now_ms: int) -> list[Effect]:
        """CLUSTER RESET [HARD|SOFT] (clusterReset).

        Both: a replica becomes an empty primary; slots are closed and unassigned;
        every other node is forgotten. HARD also zeroes the epochs and takes a new id.
        """
        me = self.myself
        if me.is_primary and self.keyspace.key_count() != 0:
            raise ClusterAdminError(ERR_RESET_WITH_KEYS)
        self._begin(now_ms)
        if me.is_replica:
            self._set_node_as_primary(me)
            self._effects.append(ReplicationChanged(None))
            self._effects.append(FlushData())
        self._close_all_slots()
        self._reset_manual_failover()
        self._unassign_slots(ALL_SLOTS_MASK, reason="CLUSTER RESET")
        for node in list(self.nodes.values()):
            if node is not me:
                self._del_node(node, reason="CLUSTER RESET")
        if hard:
            old_epoch = me.config_epoch
            self.current_epoch = 0
            self.last_vote_epoch = 0
            me.config_epoch = 0
            self._event(EventName.EPOCH_BUMPED, old=old_epoch, new=0, reason="CLUSTER RESET HARD")
            del self.nodes[me.name]
            me.name = self._new_node_id()
            self.nodes[me.name] = me
        self._event(EventName.CLUSTER_RESET, mode="hard" if hard else "soft", node=me.name)
        self._request(save=True, update_state=True, fsync=True)
        return self._finish()

    def build_publish(self, channel: bytes, message: bytes, now_ms: int, *, sharded: bool = False) -> list[Effect]:
        """clusterPropagatePublish: the Sends that carry a local PUBLISH to the cluster.

        PUBLISH goes to every known node with a link; PUBLISHSHARD to the other members
        of my shard (my primary, or me, and its replicas).
        """
        self._begin(now_ms)
        header = gossip.build_header(self)
        if not sharded:
            self._broadcast(Publish(header, channel, message))
        else:
            me = self.myself
            primary = me if me.is_primary else self.primary_of(me)
            if primary is not None:
                members = [primary] + [self.nodes[r] for r in primary.replica_ids if r in self.nodes]
                for node in members:
                    if node.flags & (NodeFlags.MYSELF | NodeFlags.HANDSHAKE):
                        continue
                    self._send(self._out.get(node.name), PublishShard(header, channel, message))
        return self._finish()

    def apply_settings(self, now_ms: int) -> list[Effect]:
        """Re-read ``settings`` after CONFIG SET (clusterUpdateMyself{Flags,AnnouncedPorts,Ip})."""
        self._begin(now_ms)
        me = self.myself
        s = self.settings
        me.port, me.cport, me.pport = s.port, s.cport, s.pport
        old_flags = me.flags
        me.flags = clear_flags(me.flags, NodeFlags.NOFAILOVER)
        if s.replica_no_failover:
            me.flags |= NodeFlags.NOFAILOVER
        if me.flags != old_flags:
            self._request(save=True, update_state=True)
        if s.announce_ip != self._announced_ip:  # clusterUpdateMyselfIp
            me.ip = s.announce_ip[:_MAX_IP_LEN]  # "" forces autodetection from the next MEET
            self._announced_ip = s.announce_ip
        me.hostname = s.announce_hostname
        return self._finish()


__all__ = [
    "ALL_SLOTS_MASK",
    "NO_KEYS",
    "ClusterAdminError",
    "ClusterHealth",
    "ClusterSettings",
    "ClusterState",
    "Link",
    "LinkView",
    "SetSlotAction",
    "SlotKeys",
    "normalize_ip",
]
