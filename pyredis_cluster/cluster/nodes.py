"""Cluster nodes as one node sees them: flags, addresses, epochs, slots, failure reports.

Theory of operation
-------------------
Every node keeps a table of the nodes it knows (itself included, flagged MYSELF).
Each entry is a ``ClusterNode``: the 40-character node id, the announced address
(ip, client port, bus port ``cport``, plaintext port ``pport``, optional
hostname), the role (primary, or replica of ``primary_id``), the node's
``config_epoch``, the slots it serves, and the liveness bookkeeping of failure
detection: ``ping_sent`` (when our still unanswered PING left, 0 if none),
``pong_received`` (last PONG on our outbound link), ``data_received`` (any
traffic at all), ``fail_time``, and the *failure reports* other primaries
gossiped about it.

* **Sending side.** The same ``NodeFlags`` bits go on the wire twice: in the
  header ``flags`` (the sender's own flags, MYSELF included) and in every gossip
  entry (the sender's view of another node; never MYSELF/HANDSHAKE/MEET there,
  since receivers copy gossip flags verbatim).
* **Receiving side.** A receiver mostly trusts ``slaveof`` for the role rather
  than the flag bits, copies NOFAILOVER, and turns PFAIL/FAIL bits in gossip from
  primaries into ``FailureReport`` entries. When enough reports are valid (not
  older than ``CLUSTER_FAIL_REPORT_VALIDITY_MULT * node_timeout``) PFAIL becomes
  FAIL. The counting and purging helpers live here; the decision lives in the
  cluster core.
* **Text side.** ``CLUSTER NODES`` and ``nodes.conf`` print flags as words in a
  fixed order (myself, master, slave, fail?, fail, handshake, noaddr, nofailover)
  and ``noflags`` when none is set. ``FLAG_WORDS`` is the one place where the wire
  spellings ``master``/``slave`` appear; identifiers say primary/replica.

Deliberately weak
-----------------
``ClusterNode`` is a plain mutable record, not a guarded object: the cluster core
owns the invariants (a replica has no slots of its own, ``replica_ids`` mirrors the
replicas' ``primary_id``...). Times are plain integers in milliseconds on whatever
clock the core is given; nothing here reads a clock. Links are represented only by
whether they exist (``link_connected``); sockets belong to ``bus.py``.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field

from .constants import CLUSTER_FAIL_REPORT_VALIDITY_MULT, CLUSTER_NAMELEN
from .slots import EMPTY_SLOTS, SlotBitmap


class NodeFlags(enum.Flag, boundary=enum.KEEP):
    """Node flag bits, exactly as in the bus header, gossip entries and Redis 7.0.

    ``boundary=KEEP``: bits we do not know (valkey 8 sends 1024 and 2048) survive a
    decode/encode round trip instead of raising. Beware: ``~NodeFlags.X`` inverts
    only the known bits, so ``flags & ~NodeFlags.X`` also drops unknown ones; that
    is right for our own state, and what ``clear_flags`` avoids for wire values.
    """

    PRIMARY = 1  # wire word "master"
    REPLICA = 2  # wire word "slave"
    PFAIL = 4  # "fail?": we (locally) think it is down
    FAIL = 8  # "fail": a majority of primaries agreed it is down
    MYSELF = 16  # "myself": this entry is the local node
    HANDSHAKE = 32  # "handshake": no PONG yet; the name is still a random placeholder
    NOADDR = 64  # "noaddr": address unknown
    MEET = 128  # not printed: send MEET instead of PING on the next connect
    MIGRATE_TO = 256  # not printed: primary is a valid replica-migration target
    NOFAILOVER = 512  # "nofailover": this replica never starts an election


NO_FLAGS = NodeFlags(0)


def clear_flags(flags: NodeFlags, remove: NodeFlags) -> NodeFlags:
    """``flags`` without ``remove``, keeping bits unknown to this version."""
    return NodeFlags(flags.value & ~remove.value)


# The one mapping from flags to the words of CLUSTER NODES / nodes.conf, in the
# order Redis prints them. MEET and MIGRATE_TO are never printed.
FLAG_WORDS: tuple[tuple[NodeFlags, str], ...] = (
    (NodeFlags.MYSELF, "myself"),
    (NodeFlags.PRIMARY, "master"),
    (NodeFlags.REPLICA, "slave"),
    (NodeFlags.PFAIL, "fail?"),
    (NodeFlags.FAIL, "fail"),
    (NodeFlags.HANDSHAKE, "handshake"),
    (NodeFlags.NOADDR, "noaddr"),
    (NodeFlags.NOFAILOVER, "nofailover"),
)
NOFLAGS_WORD = "noflags"
_WORD_TO_FLAG = {word: flag for flag, word in FLAG_WORDS}


def format_flags(flags: NodeFlags) -> str:
    """Comma-separated flag words as in CLUSTER NODES, or ``noflags``."""
    words = [word for flag, word in FLAG_WORDS if flag in flags]
    return ",".join(words) if words else NOFLAGS_WORD


def parse_flags(text: str) -> NodeFlags:
    """Inverse of ``format_flags``, as nodes.conf loading does it.

    Words are compared case-insensitively; ``noflags`` adds nothing. Any other word
    (including an empty one, as in ``master,,slave``) raises ``ValueError``: Redis
    panics with "Unknown flag in redis cluster config file".
    """
    flags = NO_FLAGS
    for word in text.split(","):
        lowered = word.lower()
        if lowered == NOFLAGS_WORD:
            continue
        try:
            flags |= _WORD_TO_FLAG[lowered]
        except KeyError:
            raise ValueError(f"Unknown flag in redis cluster config file: {word!r}") from None
    return flags


def is_valid_node_id(name: str) -> bool:
    """True if ``name`` is 40 characters of ``[a-z0-9]`` (Redis's verifyClusterNodeId).

    Uppercase hex is rejected, as in Redis.
    """
    return len(name) == CLUSTER_NAMELEN and all("a" <= c <= "z" or "0" <= c <= "9" for c in name)


def random_node_id(rng: random.Random) -> str:
    """A fresh node id: 40 lowercase hex characters drawn from the injected RNG.

    The RNG is a parameter (never the global one) so simulations are reproducible.
    """
    return f"{rng.getrandbits(160):040x}"


@dataclass(slots=True)
class FailureReport:
    """``reporter`` (a primary) told us, at ``time`` ms, that the node is PFAIL/FAIL."""

    reporter: str
    time: int


@dataclass(slots=True)
class ClusterNode:
    """One entry of a node's cluster table (Redis's ``clusterNode``)."""

    name: str
    flags: NodeFlags = NO_FLAGS
    ip: str = ""  # "" until known (then CLUSTER NODES prints ":port@cport")
    port: int = 0  # client port (the TLS port when tls-cluster is on)
    cport: int = 0  # bus port
    pport: int = 0  # plaintext client port when port is TLS, else 0; never saved in nodes.conf
    hostname: str = ""  # cluster-announce-hostname, from the HOSTNAME ping extension
    config_epoch: int = (
        0  # for a replica Redis keeps the last epoch it advertised; printing uses the primary's
    )
    primary_id: str | None = None  # Redis "slaveof": the primary this replica follows
    replica_ids: list[str] = field(default_factory=list)  # Redis "slaves", for primaries
    slots: SlotBitmap = EMPTY_SLOTS
    ctime: int = 0  # creation time (ms): handshake nodes expire relative to it
    ping_sent: int = 0  # ms when our pending PING was sent; 0 = no PING pending
    pong_received: int = 0  # ms of the last PONG received on our outbound link
    data_received: int = 0  # ms of the last packet of any kind from this node
    fail_time: int = 0  # ms when FAIL was set
    voted_time: int = 0  # ms of our last vote for a replica of this primary
    repl_offset_time: int = 0  # ms when repl_offset was last updated
    orphaned_time: int = 0  # ms since when this primary has no working replica (0 = not orphaned)
    repl_offset: int = 0  # last replication offset the node announced in a header
    link_connected: bool = False  # we hold an outbound link to it ("connected" in CLUSTER NODES)
    fail_reports: list[FailureReport] = field(default_factory=list)

    # -- role and state ---------------------------------------------------------
    @property
    def is_myself(self) -> bool:
        return NodeFlags.MYSELF in self.flags

    @property
    def is_primary(self) -> bool:
        return NodeFlags.PRIMARY in self.flags

    @property
    def is_replica(self) -> bool:
        return NodeFlags.REPLICA in self.flags

    @property
    def in_handshake(self) -> bool:
        return NodeFlags.HANDSHAKE in self.flags

    @property
    def has_addr(self) -> bool:
        return NodeFlags.NOADDR not in self.flags

    @property
    def timed_out(self) -> bool:
        """PFAIL: locally suspected."""
        return NodeFlags.PFAIL in self.flags

    @property
    def failed(self) -> bool:
        """FAIL: agreed failed by a majority of primaries."""
        return NodeFlags.FAIL in self.flags

    @property
    def flag_words(self) -> str:
        return format_flags(self.flags)

    # -- failure reports ------------------------------------------------------------
    def add_failure_report(self, reporter: str, now: int) -> bool:
        """Record (or refresh) ``reporter``'s report. True if it is a new reporter."""
        for report in self.fail_reports:
            if report.reporter == reporter:
                report.time = now
                return False
        self.fail_reports.append(FailureReport(reporter, now))
        return True

    def remove_failure_report(self, reporter: str) -> bool:
        """Forget ``reporter``'s report (it now gossips the node as healthy)."""
        for i, report in enumerate(self.fail_reports):
            if report.reporter == reporter:
                del self.fail_reports[i]
                return True
        return False

    def clean_failure_reports(self, now: int, node_timeout: int) -> None:
        """Drop reports older than ``CLUSTER_FAIL_REPORT_VALIDITY_MULT * node_timeout``."""
        max_age = node_timeout * CLUSTER_FAIL_REPORT_VALIDITY_MULT
        self.fail_reports = [r for r in self.fail_reports if now - r.time <= max_age]

    def failure_report_count(self, now: int, node_timeout: int) -> int:
        """Valid reports, purging stale ones first (as Redis does whenever it counts)."""
        self.clean_failure_reports(now, node_timeout)
        return len(self.fail_reports)
