"""Headers and gossip: what every PING/PONG/MEET says, and what a receiver learns from it.

Theory of operation
-------------------
**Sending side** (Redis's clusterBuildMessageHdr / clusterSendPing). Every bus
message starts with the same header about the sender: its id, ports, announced IP,
flags (MYSELF included), ``current_epoch``, and its *shard's* configuration: a
replica sends its primary's ``config_epoch`` and slots plus ``slaveof``, so that
the header always describes who serves which slots. PING, PONG and MEET add a
gossip section: entries about other nodes, so that membership, addresses and
failure suspicions spread epidemically without any node talking to all others:

* ``wanted`` = a tenth of the known nodes, at least 3, at most ``known - 2`` (us
  and the receiver). Why a tenth: within the failure-report validity window
  (2 x node_timeout) each node exchanges about 8 packets with every other, so with
  N/10 entries per packet a PFAIL node is reported by most primaries in time.
* Entries are random picks (``rng``), at most ``3 x wanted`` tries. Skipped: us;
  PFAIL nodes (they come later); handshake and NOADDR nodes; nodes with neither a
  link nor slots (each of those also lowers the budget, so the count may come out
  below ``wanted``, even 0: a real 7.0 node answering a MEET in a 3-node cluster
  sends 0 entries). No node twice.
* Then **every** PFAIL node is appended (as many as the last cron counted), so
  that failure reports reach the quorum quickly.
* The only ping extension a 7.0 node sends is HOSTNAME, on every PING/PONG/MEET,
  when ``cluster-announce-hostname`` is set.

**Receiving side** (clusterProcessGossipSection / clusterProcessPingExtensions),
for each entry:

* about a node we know: if the sender is a primary (7.0: with or without slots),
  a PFAIL/FAIL flag adds or refreshes its failure report (failure.py may then
  declare FAIL), a healthy entry withdraws it. If the entry says healthy, we have
  no ping pending and no reports, adopt its newer ``pong_received`` (seconds on the
  wire, not more than 500 ms in our future): a node we rarely ping looks alive if
  others hear from it. If *we* think the node is failing but the entry shows it
  healthy at another address, move to that address and redial.
* about a node we do not know: add it, with the exact gossiped id, flags and
  address, if the sender is known (a stranger could make us join another
  cluster), the entry is not NOADDR, and the id is not blacklisted by FORGET. We
  never dial unknown addresses from gossip: the id is what we trust.
* The HOSTNAME extension replaces the sender's hostname; a packet without it
  *clears* it. Unknown extension types are reported (7.0 logs a warning).

Deliberately weak
-----------------
Gossip entries about unknown nodes with an invalid id are skipped (7.0 would add
them and crash on the next one). Gossip about ourselves is processed like 7.0 does
(the ``pong_received`` of our own CLUSTER NODES line comes from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import failure, manual_failover
from .constants import (
    CLUSTER_GOSSIP_PONG_FUTURE_TOLERANCE,
    CLUSTER_GOSSIP_WANTED_DIV,
    CLUSTER_GOSSIP_WANTED_MIN,
    NET_IP_STR_LEN,
)
from .events import EventName
from .messages import (
    GossipEntry,
    HostnameExt,
    Meet,
    MessageHeader,
    Ping,
    PingExt,
    Pong,
)
from .nodes import ClusterNode, NodeFlags, clear_flags, format_flags, is_valid_node_id

if TYPE_CHECKING:
    from .state import ClusterState, Link

_FAILING = NodeFlags.PFAIL | NodeFlags.FAIL
_U32 = (1 << 32) - 1


def build_header(state: ClusterState) -> MessageHeader:
    """The header of every message we send (clusterBuildMessageHdr)."""
    me = state.myself
    primary = state.primary_of(me) if me.is_replica else None
    shard = primary if primary is not None else me  # a replica speaks for its primary's slots
    return MessageHeader(
        sender=me.name,
        port=me.port,
        cport=me.cport,
        pport=me.pport,
        current_epoch=state.current_epoch,
        config_epoch=shard.config_epoch,
        offset=me.repl_offset,
        myslots=shard.slots,
        slaveof=me.primary_id,
        myip=state.settings.announce_ip[: NET_IP_STR_LEN - 1],
        flags=me.flags,
        state=state.state,
        mflags=manual_failover.header_flags(state),  # PAUSED during a manual failover
    )


def gossip_wanted(known_nodes: int) -> int:
    """How many random gossip entries a ping carries (before PFAIL entries)."""
    wanted = max(known_nodes // CLUSTER_GOSSIP_WANTED_DIV, CLUSTER_GOSSIP_WANTED_MIN)
    return min(wanted, known_nodes - 2)


def gossip_entry(node: ClusterNode) -> GossipEntry:
    """clusterSetGossipEntry: our view of ``node``; times in seconds."""
    return GossipEntry(
        nodename=node.name,
        ping_sent=min(node.ping_sent // 1000, _U32),
        pong_received=min(node.pong_received // 1000, _U32),
        ip=node.ip,
        port=node.port,
        cport=node.cport,
        flags=node.flags,
        pport=node.pport,
    )


def build_ping(
    state: ClusterState, link: Link, kind: type[Ping] | type[Pong] | type[Meet]
) -> Ping | Pong | Meet:
    """clusterSendPing: a PING/PONG/MEET for ``link``, with gossip and extensions.

    A PING on our outbound link starts the node's pending-ping clock (``ping_sent``).
    """
    nodes = state.nodes
    fresh = len(nodes) - 2  # nodes we could possibly gossip about: all but us and the receiver
    wanted = gossip_wanted(len(nodes))
    pfail_wanted = state.stats_pfail_nodes
    if not link.inbound and kind is Ping and link.node is not None:
        link.node.ping_sent = state.now
    header = build_header(state)

    entries: list[GossipEntry] = []
    chosen: set[str] = set()  # membership only: never iterated (hash order is not deterministic)
    candidates = list(nodes.values())
    tries = wanted * 3
    while fresh > 0 and len(entries) < wanted and tries > 0:
        tries -= 1
        this = state.rng.choice(candidates)
        if this is state.myself:
            continue
        if this.flags & NodeFlags.PFAIL:
            continue  # appended below
        if this.flags & (NodeFlags.HANDSHAKE | NodeFlags.NOADDR) or (
            not state.has_outbound_link(this) and not this.slots
        ):
            fresh -= 1  # "technically not correct, but saves CPU" (Redis)
            continue
        if this.name in chosen:
            continue
        entries.append(gossip_entry(this))
        chosen.add(this.name)
        fresh -= 1

    if pfail_wanted:
        for node in nodes.values():
            if pfail_wanted <= 0:
                break
            if node.flags & (NodeFlags.HANDSHAKE | NodeFlags.NOADDR) or not node.flags & NodeFlags.PFAIL:
                continue
            entries.append(gossip_entry(node))
            pfail_wanted -= 1

    extensions: tuple[PingExt, ...] = ()
    if state.myself.hostname:
        extensions = (HostnameExt(state.myself.hostname),)
    return kind(header, tuple(entries), extensions)


def process_gossip_section(state: ClusterState, message: Ping | Pong | Meet, sender: ClusterNode | None) -> None:
    """clusterProcessGossipSection. ``sender`` None: a MEET from a stranger (adds nobody)."""
    now = state.now
    nt = state.node_timeout
    for g in message.gossip:
        flags = g.flags
        node = state.lookup(g.nodename)
        if node is not None:
            # Failure reports count only from primaries.
            if sender is not None and sender.is_primary and node is not state.myself:
                if flags & _FAILING:
                    if node.add_failure_report(sender.name, now):
                        state._event(EventName.FAILURE_REPORT_ADDED, node=node.name, reporter=sender.name)
                    failure.mark_node_as_failing_if_needed(state, node)
                elif node.remove_failure_report(sender.name):
                    node.clean_failure_reports(now, nt)
                    state._event(EventName.FAILURE_REPORT_REMOVED, node=node.name, reporter=sender.name)

            # Others heard from it recently: adopt their (newer) pong time.
            if not flags & _FAILING and node.ping_sent == 0 and node.failure_report_count(now, nt) == 0:
                pong_time = g.pong_received * 1000
                if pong_time <= now + CLUSTER_GOSSIP_PONG_FUTURE_TOLERANCE and pong_time > node.pong_received:
                    node.pong_received = pong_time

            # We cannot reach it, somebody else can, at another address: follow them.
            if (
                node.flags & _FAILING
                and not flags & NodeFlags.NOADDR
                and not flags & _FAILING
                and (node.ip.lower() != g.ip.lower() or node.port != g.port or node.cport != g.cport)
            ):
                out = state._out.get(node.name)
                if out is not None:
                    state._free_link(out, reason="address changed (gossip)")
                node.ip, node.port, node.pport, node.cport = g.ip, g.port, g.pport, g.cport
                node.flags = clear_flags(node.flags, NodeFlags.NOADDR)
                state._event(EventName.NODE_ADDRESS_CHANGED, node=node.name, ip=g.ip, port=g.port,
                             cport=g.cport)
        elif (
            sender is not None
            and not flags & NodeFlags.NOADDR
            and is_valid_node_id(g.nodename)
            and not state.is_blacklisted(g.nodename)
        ):
            # A node we never heard of, vouched for by a known node: add it as is.
            new = state._create_node(g.nodename, flags)
            new.ip, new.port, new.pport, new.cport = g.ip, g.port, g.pport, g.cport
            state._add_node(new)
            state._event(EventName.NODE_ADDED, node=new.name, ip=g.ip, port=g.port, cport=g.cport,
                         flags=format_flags(flags), via=f"gossip from {sender.name}")


def process_ping_extensions(state: ClusterState, message: Ping | Pong | Meet, sender: ClusterNode) -> None:
    """clusterProcessPingExtensions: HOSTNAME replaces (or, when absent, clears) the hostname."""
    hostname: str | None = None
    for ext in message.extensions:
        if isinstance(ext, HostnameExt):
            hostname = ext.hostname
        else:
            state._event(EventName.UNKNOWN_EXTENSION, type=ext.type, node=sender.name)
    new = hostname or ""
    if sender.hostname != new:
        sender.hostname = new
        state._event(EventName.HOSTNAME_CHANGED, node=sender.name, hostname=new)
