"""The cluster core's event stream: one ``Event`` per state change, with a stable name.

Theory of operation
-------------------
Every time ``ClusterState`` changes something a human (or a test) may care about
(a node learned, a handshake completed, PFAIL or FAIL set or cleared, an epoch
bumped, a slot rebound, the cluster state flipped, a link opened or lost...), it
appends an ``Event`` to the effects it returns. The same objects serve four
readers:

* **logs**: ``bus.py`` writes ``event.describe()`` at ``event.level``, Redis's
  verbosity (DEBUG < VERBOSE < NOTICE < WARNING). Where Redis 7.0 logs the same
  change, the text says the same thing, so an operator can grep for the familiar
  line ("Marking node ... as failing (quorum reached).").
* **the teaching trace**: events carry the simulated or real time and the id of
  the node that changed (``source``), so a merged stream reads like a story.
* **tests and the simulation**: assert on ``event.name`` and ``event.fields``,
  never on log text.
* **a live view**, later.

``name`` values are a contract: add new names freely, never rename one. Fields
are plain values (node ids as ``str``, slots as ``"a-b c"`` range strings, epochs
as ``int``), so events are cheap to compare and print. An event records a
*change*, not a message: sending and receiving packets is not an event (the
bus may trace those separately), except where a message *is* the change
(``fail_broadcast``, ``update_sent``).

Deliberately weak
-----------------
Events are advisory: nothing in the core reads them back, and dropping them
changes no behaviour. ``fields`` is a plain dict inside a frozen dataclass (so
an event is not hashable); treat it as read-only.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class LogLevel(enum.IntEnum):
    """Redis's log levels (``LL_DEBUG`` ... ``LL_WARNING``)."""

    DEBUG = 0
    VERBOSE = 1
    NOTICE = 2
    WARNING = 3


class EventName(enum.StrEnum):
    """Every kind of change the cluster core reports. Stable: never rename one."""

    # -- node table -----------------------------------------------------------
    NODE_ADDED = "node_added"  # learned from gossip (fields: node, ip, port, cport, flags, via)
    HANDSHAKE_STARTED = "handshake_started"  # CLUSTER MEET, or a MEET from an unknown node
    HANDSHAKE_COMPLETED = "handshake_completed"  # first PONG revealed the real name
    HANDSHAKE_TIMEOUT = "handshake_timeout"  # handshake node deleted after max(node_timeout, 1 s)
    NODE_RENAMED = "node_renamed"  # random handshake name -> real name
    NODE_DELETED = "node_deleted"  # removed from the table (reason: forget/handshake/reset/duplicate)
    NODE_FORGOTTEN = "node_forgotten"  # CLUSTER FORGET (also blacklisted for 60 s)
    NODE_ADDRESS_CHANGED = "node_address_changed"
    NODE_NOADDR = "node_noaddr"  # a different node answered at its address
    HOSTNAME_CHANGED = "hostname_changed"
    MY_IP_CHANGED = "my_ip_changed"  # learned our own IP from a MEET
    ROLE_CHANGED = "role_changed"  # a node (maybe myself) became primary or replica
    # -- links ------------------------------------------------------------------
    LINK_CONNECTING = "link_connecting"  # we dial a node's bus port
    LINK_CONNECTED = "link_connected"  # our outbound link is up
    LINK_DISCONNECTED = "link_disconnected"  # a link went away (closed by us or the peer)
    # -- failure detection ---------------------------------------------------------
    PFAIL = "pfail"  # no PONG for node_timeout: we suspect the node
    PFAIL_CLEARED = "pfail_cleared"  # a PONG came back in time
    FAILURE_REPORT_ADDED = "failure_report_added"  # a primary gossiped the node as PFAIL/FAIL
    FAILURE_REPORT_REMOVED = "failure_report_removed"  # ... and now as healthy
    FAIL = "fail"  # quorum reached (or FAIL message received): the node is FAIL
    FAIL_BROADCAST = "fail_broadcast"  # we told everybody
    FAIL_CLEARED = "fail_cleared"
    CLUSTER_STATE_CHANGED = "cluster_state_changed"  # ok <-> fail
    # -- epochs and slots -------------------------------------------------------------
    CURRENT_EPOCH_UPDATED = "current_epoch_updated"  # raised to a sender's currentEpoch
    CONFIG_EPOCH_UPDATED = "config_epoch_updated"  # another node's configEpoch, from header/UPDATE
    EPOCH_BUMPED = "epoch_bumped"  # OUR configEpoch changed (bump, collision, set-config-epoch, reset)
    CONFIG_EPOCH_COLLISION = "config_epoch_collision"
    SLOT_OWNER_CHANGED = "slot_owner_changed"  # slots bound to a new owner (or unbound)
    SLOTS_NOT_CLAIMED = "slots_not_claimed"  # the owner stopped claiming slots we still bind to it
    SLOT_STATE_CHANGED = "slot_state_changed"  # migrating / importing / stable
    UPDATE_SENT = "update_sent"  # told a node its slot claims are stale
    UPDATE_RECEIVED = "update_received"
    # -- replica elections (election.py) --------------------------------------------------
    ELECTION_SCHEDULED = "election_scheduled"  # replica: election at now + delay_ms (rank, offset, delay_ms)
    ELECTION_RANK_UPDATED = "election_rank_updated"  # replica: worse rank seen while waiting (rank, added_ms)
    ELECTION_STARTED = "election_started"  # replica: AUTH_REQUEST broadcast (epoch, recipients, force_ack)
    ELECTION_EXPIRED = "election_expired"  # replica: no majority within the auth timeout (epoch, votes)
    VOTE_REQUESTED = "vote_requested"  # voter: an AUTH_REQUEST arrived (node, epoch, force_ack)
    VOTE_GRANTED = "vote_granted"  # voter: ACK sent (node, primary, epoch, sent)
    VOTE_REFUSED = "vote_refused"  # voter: no ACK (node, reason: VoteRefusal value, why: Redis's text)
    VOTES_COUNTED = "votes_counted"  # replica: an ACK counted (node, votes, needed, epoch)
    FAILOVER_WON = "failover_won"  # replica: majority reached, taking over (epoch, votes, needed, primary)
    FAILOVER_TAKEN_OVER = "failover_taken_over"  # now serving the old primary's slots (old_primary, slots)
    CANT_FAILOVER = "cant_failover"  # "Currently unable to failover" (reason: CantFailoverReason name)
    # -- manual failover (manual_failover.py) -----------------------------------------------
    MANUAL_FAILOVER_REQUESTED = "manual_failover_requested"  # replica: CLUSTER FAILOVER accepted (mode)
    MANUAL_FAILOVER_MFSTART_RECEIVED = "manual_failover_mfstart_received"  # primary: a replica asked (node)
    MANUAL_FAILOVER_WRITES_PAUSED = "manual_failover_writes_paused"  # primary: pause acked (offset, until_ms)
    MANUAL_FAILOVER_OFFSET_RECEIVED = "manual_failover_offset_received"  # replica: PAUSED offset (offset)
    MANUAL_FAILOVER_READY = "manual_failover_ready"  # replica: caught up (or FORCE): election may start
    MANUAL_FAILOVER_TIMED_OUT = "manual_failover_timed_out"  # either side: mf_end passed
    MANUAL_FAILOVER_WRITES_RESUMED = "manual_failover_writes_resumed"  # primary: pause lifted (why)
    # -- replica migration (replica_migration.py) ---------------------------------------------
    REPLICA_MIGRATED = "replica_migrated"  # myself: moved to an orphaned primary (node, from_primary, to)
    # -- misc ---------------------------------------------------------------------------
    CLUSTER_RESET = "cluster_reset"
    PACKET_DROPPED = "packet_dropped"  # what 7.0 drops with a warning (bad length, padding...)
    UNKNOWN_PACKET = "unknown_packet"  # type >= 11: ignored
    UNKNOWN_EXTENSION = "unknown_extension"  # ping extension type 7.0 does not know
    MESSAGE_IGNORED = "message_ignored"  # e.g. FAIL from an unknown node; elections not implemented


@dataclass(frozen=True, slots=True)
class EventSpec:
    level: LogLevel
    template: str  # str.format template over the event's fields


_V, _N, _W, _D = LogLevel.VERBOSE, LogLevel.NOTICE, LogLevel.WARNING, LogLevel.DEBUG

EVENT_SPECS: dict[EventName, EventSpec] = {
    EventName.NODE_ADDED: EventSpec(_V, "Node {node} ({ip}:{port}@{cport}) learned via {via}"),
    EventName.HANDSHAKE_STARTED: EventSpec(_V, "Handshake started with {ip}:{port}@{cport} as {node}"),
    EventName.HANDSHAKE_COMPLETED: EventSpec(_V, "Handshake with node {node} completed."),
    EventName.HANDSHAKE_TIMEOUT: EventSpec(_V, "Handshake with {ip}:{port}@{cport} timed out ({node})"),
    EventName.NODE_RENAMED: EventSpec(_D, "Renaming node {old} into {node}"),
    EventName.NODE_DELETED: EventSpec(_V, "Node {node} deleted ({reason})"),
    EventName.NODE_FORGOTTEN: EventSpec(_N, "Node {node} forgotten (blacklisted until {until_ms})"),
    EventName.NODE_ADDRESS_CHANGED: EventSpec(_W, "Address updated for node {node}, now {ip}:{port}"),
    EventName.NODE_NOADDR: EventSpec(
        _V, "PONG contains mismatching sender ID {sender}: node {node} loses its address"
    ),
    EventName.HOSTNAME_CHANGED: EventSpec(_V, "Hostname of node {node} is now '{hostname}'"),
    EventName.MY_IP_CHANGED: EventSpec(_W, "IP address for this node updated to {ip}"),
    EventName.ROLE_CHANGED: EventSpec(_N, "Node {node} is now a {role}{of}"),
    EventName.LINK_CONNECTING: EventSpec(_D, "Connecting with Node {node} at {ip}:{cport}"),
    EventName.LINK_CONNECTED: EventSpec(_D, "Link to node {node} connected"),
    EventName.LINK_DISCONNECTED: EventSpec(_D, "Link {direction} node {node} lost ({reason})"),
    EventName.PFAIL: EventSpec(_D, "*** NODE {node} possibly failing"),
    EventName.PFAIL_CLEARED: EventSpec(_D, "Node {node} is reachable again (PFAIL cleared)"),
    EventName.FAILURE_REPORT_ADDED: EventSpec(_V, "Node {reporter} reported node {node} as not reachable."),
    EventName.FAILURE_REPORT_REMOVED: EventSpec(_V, "Node {reporter} reported node {node} is back online."),
    EventName.FAIL: EventSpec(_N, "{why}"),
    EventName.FAIL_BROADCAST: EventSpec(_V, "FAIL message about {node} sent to {recipients} nodes"),
    EventName.FAIL_CLEARED: EventSpec(_N, "Clear FAIL state for node {node}: {why}"),
    EventName.CLUSTER_STATE_CHANGED: EventSpec(_W, "Cluster state changed: {state}"),
    EventName.CURRENT_EPOCH_UPDATED: EventSpec(_V, "currentEpoch {old} -> {new} (from {node})"),
    EventName.CONFIG_EPOCH_UPDATED: EventSpec(_V, "configEpoch of node {node} {old} -> {new}"),
    EventName.EPOCH_BUMPED: EventSpec(_W, "configEpoch set to {new} ({reason})"),
    EventName.CONFIG_EPOCH_COLLISION: EventSpec(
        _V, "WARNING: configEpoch collision with node {node}. configEpoch set to {new}"
    ),
    EventName.SLOT_OWNER_CHANGED: EventSpec(_V, "Slots {slots} now served by {node} ({reason})"),
    EventName.SLOTS_NOT_CLAIMED: EventSpec(_V, "Node {node} no longer claims slots {slots}"),
    EventName.SLOT_STATE_CHANGED: EventSpec(_V, "Slot {slot} is now {state} {peer}"),
    EventName.UPDATE_SENT: EventSpec(
        _V, "Node {node} has old slots configuration, sending an UPDATE message about {about}"
    ),
    EventName.UPDATE_RECEIVED: EventSpec(_V, "UPDATE from {sender} about {node}: configEpoch {epoch}"),
    EventName.ELECTION_SCHEDULED: EventSpec(
        _W, "Start of election delayed for {delay_ms} milliseconds (rank #{rank}, offset {offset})."
    ),
    EventName.ELECTION_RANK_UPDATED: EventSpec(
        _W, "Replica rank updated to #{rank}, added {added_ms} milliseconds of delay."
    ),
    EventName.ELECTION_STARTED: EventSpec(_W, "Starting a failover election for epoch {epoch}."),
    EventName.ELECTION_EXPIRED: EventSpec(_V, "Failover election for epoch {epoch} expired with {votes} votes"),
    EventName.VOTE_REQUESTED: EventSpec(_D, "Failover auth request from {node} for epoch {epoch}"),
    EventName.VOTE_GRANTED: EventSpec(_W, "Failover auth granted to {node} for epoch {epoch}"),
    EventName.VOTE_REFUSED: EventSpec(_W, "Failover auth denied to {node}: {why}"),
    EventName.VOTES_COUNTED: EventSpec(_V, "Failover auth ack from {node}: {votes}/{needed} votes"),
    EventName.FAILOVER_WON: EventSpec(_W, "Failover election won: I'm the new master."),
    EventName.FAILOVER_TAKEN_OVER: EventSpec(_N, "Took over slots {slots} from {old_primary}"),
    EventName.CANT_FAILOVER: EventSpec(_W, "Currently unable to failover: {why}"),
    EventName.MANUAL_FAILOVER_REQUESTED: EventSpec(_W, "{why}"),
    EventName.MANUAL_FAILOVER_MFSTART_RECEIVED: EventSpec(_W, "Manual failover requested by replica {node}."),
    EventName.MANUAL_FAILOVER_WRITES_PAUSED: EventSpec(
        _N, "Writes paused for the manual failover at offset {offset} (until {until_ms})"
    ),
    EventName.MANUAL_FAILOVER_OFFSET_RECEIVED: EventSpec(
        _W, "Received replication offset for paused master manual failover: {offset}"
    ),
    EventName.MANUAL_FAILOVER_READY: EventSpec(_W, "{why}"),
    EventName.MANUAL_FAILOVER_TIMED_OUT: EventSpec(_W, "Manual failover timed out."),
    EventName.MANUAL_FAILOVER_WRITES_RESUMED: EventSpec(_N, "Writes resumed after the manual failover ({why})"),
    EventName.REPLICA_MIGRATED: EventSpec(_W, "Migrating to orphaned master {to}"),
    EventName.CLUSTER_RESET: EventSpec(_N, "Cluster reset ({mode}), now I'm {node}"),
    EventName.PACKET_DROPPED: EventSpec(_W, "{log}"),
    EventName.UNKNOWN_PACKET: EventSpec(_W, "Received unknown packet type: {type}"),
    EventName.UNKNOWN_EXTENSION: EventSpec(_W, "Received unknown extension type {type}"),
    EventName.MESSAGE_IGNORED: EventSpec(_N, "{why}"),
}
assert set(EVENT_SPECS) == set(EventName), "every event name needs a spec"


@dataclass(frozen=True, slots=True)
class Event:
    """One change in one node's cluster state.

    ``source`` is the id of the node whose state changed (the one running the
    core), ``time_ms`` the time passed to the call that caused it, ``fields``
    the details (documented next to each ``EventName``).
    """

    name: EventName
    time_ms: int
    source: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    @property
    def level(self) -> LogLevel:
        return EVENT_SPECS[self.name].level

    def describe(self) -> str:
        """A Redis-like log line (without timestamp and pid)."""
        try:
            return EVENT_SPECS[self.name].template.format(**self.fields)
        except (KeyError, IndexError):  # a field missing: still print something useful
            return f"{self.name} {dict(self.fields)}"

    def __str__(self) -> str:
        return f"{self.time_ms} {self.source[:8]} {self.name}: {self.describe()}"
