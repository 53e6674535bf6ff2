"""The cluster core stepped by hand: every message goes through the real codec.

Each test builds one to three ``ClusterState`` cores on a fixed clock and moves
messages between them explicitly, checking the effects and events 7.0's rules
predict (bus.md §1.9, §2, §3, §4.6-4.7).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from pyredis_cluster.cluster.codec import decode_packet, encode
from pyredis_cluster.cluster.effects import (
    CloseLink,
    Connect,
    DeleteKeysInSlots,
    Effect,
    PublishReceived,
    ReplicationChanged,
    SaveConfig,
    Send,
)
from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.gossip import build_header, gossip_entry, gossip_wanted
from pyredis_cluster.cluster.messages import (
    Fail,
    GossipEntry,
    HostnameExt,
    Meet,
    Message,
    Ping,
    Pong,
    Publish,
    PublishShard,
    UnknownExt,
    Update,
)
from pyredis_cluster.cluster.nodes import ClusterNode, NodeFlags
from pyredis_cluster.cluster.nodes_conf import parse_nodes_conf
from pyredis_cluster.cluster.slots import SlotBitmap
from pyredis_cluster.cluster.state import (
    ClusterAdminError,
    ClusterHealth,
    ClusterSettings,
    ClusterState,
    Link,
)
from pyredis_cluster.cluster.views import cluster_info, cluster_nodes_text, render_cluster_info

T0 = 1_700_000_000_000
NT = 1000  # node timeout used by these tests
IP = "127.0.0.1"


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------
def make(port: int, seed: int, **settings: object) -> ClusterState:
    opts: dict[str, object] = {"node_timeout": NT}
    opts.update(settings)
    return ClusterState(ClusterSettings(port=port, **opts), now_ms=T0, rng=random.Random(seed))  # type: ignore[arg-type]


def wire(message: Message) -> Message:
    """Encode and decode: what the peer really gets."""
    decoded = decode_packet(encode(message))
    assert not hasattr(decoded, "reason"), decoded
    return decoded  # type: ignore[return-value]


def sends(effects: list[Effect], kind: type | None = None) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and (kind is None or isinstance(e.message, kind))]


def events(effects: list[Effect], name: EventName) -> list[Event]:
    return [e for e in effects if isinstance(e, Event) and e.name == name]


def only(items: list) -> object:  # type: ignore[type-arg]
    assert len(items) == 1, items
    return items[0]


class Peer:
    """A fake remote node: a name, a port, and a header builder."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port

    def header(self, **fields: object):  # type: ignore[no-untyped-def]
        from pyredis_cluster.cluster.messages import MessageHeader

        base = {"sender": self.name, "port": self.port, "cport": self.port + 10000,
                "flags": NodeFlags.PRIMARY | NodeFlags.MYSELF}
        base.update(fields)
        return MessageHeader(**base)  # type: ignore[arg-type]


NAME_B = "b" * 40
NAME_C = "c" * 40
NAME_D = "d" * 40


def handshake(a: ClusterState, b: ClusterState, now: int = T0) -> tuple[int, int, int, int]:
    """Full MEET handshake a -> b, both directions. Returns (a_out, b_in, b_out, a_in) link ids."""
    a.meet(IP, b.settings.port, None, now)
    conn = only([e for e in a.tick(now + 100) if isinstance(e, Connect)])
    assert isinstance(conn, Connect)
    meet = only(sends(a.link_connected(conn.link_id, now + 101)))
    b_in = b.accept_link(IP, IP, now + 101)
    pong = only(sends(b.handle_packet(b_in, wire(meet.message), now + 102), Pong))
    a.handle_packet(conn.link_id, wire(pong.message), now + 103)
    # b dials back its handshake node for a, and PINGs
    b_conn = only([e for e in b.tick(now + 200) if isinstance(e, Connect)])
    assert isinstance(b_conn, Connect)
    ping = only(sends(b.link_connected(b_conn.link_id, now + 201), Ping))
    a_in = a.accept_link(IP, IP, now + 201)
    reply = only(sends(a.handle_packet(a_in, wire(ping.message), now + 202), Pong))
    b.handle_packet(b_conn.link_id, wire(reply.message), now + 203)
    return conn.link_id, b_in, b_conn.link_id, a_in


def attach(state: ClusterState, peer: Peer, now: int = T0, *, flags: NodeFlags = NodeFlags.PRIMARY,
           epoch: int = 0, slots: SlotBitmap | None = None) -> ClusterNode:
    """Put a known node in the table directly (as if learned) and give it slots."""
    node = ClusterNode(peer.name, flags, ip=IP, port=peer.port, cport=peer.port + 10000, ctime=now,
                       config_epoch=epoch, pong_received=now)
    state.nodes[node.name] = node
    if slots:
        state._assign_slots(node, slots.mask, reason="test")
    return node


def outbound(state: ClusterState, node_name: str, now: int) -> int:
    """Dial a known node: returns our outbound link id (connected)."""
    for effect in state.tick(now):
        if isinstance(effect, Connect) and effect.node == node_name:
            state.link_connected(effect.link_id, now)
            return effect.link_id
    link = state._out[node_name]
    return link.id


# ----------------------------------------------------------------------------
# fresh node, views
# ----------------------------------------------------------------------------
def test_fresh_node_is_a_lonely_primary() -> None:
    a = make(30001, 1)
    assert a.fresh and len(a.myid) == 40
    assert a.myself.flags == NodeFlags.MYSELF | NodeFlags.PRIMARY
    assert cluster_nodes_text(a) == f"{a.myid} :30001@40001 myself,master - 0 0 0 connected\n"
    info = cluster_info(a)
    assert info["cluster_state"] == "fail" and info["cluster_known_nodes"] == 1 and info["cluster_size"] == 1
    text = render_cluster_info(info)
    assert text.startswith("cluster_state:fail\r\ncluster_slots_assigned:0\r\n")
    assert text.endswith("cluster_stats_messages_sent:0\r\ncluster_stats_messages_received:0\r\n"
                         "total_cluster_links_buffer_limit_exceeded:0\r\n")
    assert a.nodes_conf_text().endswith("vars currentEpoch 0 lastVoteEpoch 0\n")


def test_same_rng_same_ids() -> None:
    assert make(30001, 7).myid == make(30001, 7).myid != make(30001, 8).myid


# ----------------------------------------------------------------------------
# MEET and the handshake
# ----------------------------------------------------------------------------
def test_meet_validates_the_address() -> None:
    a = make(30001, 1)
    with pytest.raises(ClusterAdminError) as err:
        a.meet("notanip", 30002, None, T0)
    assert err.value.reply == "ERR Invalid node address specified: notanip:30002"
    with pytest.raises(ClusterAdminError):
        a.meet(IP, 0, None, T0)
    with pytest.raises(ClusterAdminError):
        a.meet(IP, 60000, None, T0)  # cport 70000
    a.meet("::ffff:1.2.3.4", 7000, 17000, T0)
    assert any(n.ip == "::ffff:1.2.3.4" for n in a.nodes.values())


def test_meet_adds_one_handshake_node_and_dials_it() -> None:
    a = make(30001, 1)
    effects = a.meet(IP, 30002, None, T0)
    hs = [n for n in a.nodes.values() if n.in_handshake]
    assert len(hs) == 1 and hs[0].flags == NodeFlags.HANDSHAKE | NodeFlags.MEET
    assert (hs[0].ip, hs[0].port, hs[0].cport) == (IP, 30002, 40002)
    assert events(effects, EventName.HANDSHAKE_STARTED)
    a.meet(IP, 30002, None, T0)  # already in progress: nothing new
    assert len(a.nodes) == 2
    assert " handshake - 0 0 0 connected" not in cluster_nodes_text(a)
    conn = only([e for e in a.tick(T0 + 100) if isinstance(e, Connect)])
    assert conn == Connect(conn.link_id, hs[0].name, IP, 40002)  # type: ignore[union-attr]
    # CLUSTER NODES shows the pending link as connected, as Redis does (node->link exists).
    assert f"{hs[0].name} 127.0.0.1:30002@40002 handshake - 0 0 0 connected" in cluster_nodes_text(a)
    sent = only(sends(a.link_connected(conn.link_id, T0 + 101)))  # type: ignore[union-attr]
    assert isinstance(sent.message, Meet)  # type: ignore[attr-defined]
    assert NodeFlags.MEET not in hs[0].flags
    assert hs[0].ping_sent == 0  # a MEET does not start the ping clock
    # handshake nodes stay out of nodes.conf
    assert hs[0].name not in a.nodes_conf_text()


def test_handshake_renames_nodes_on_both_sides() -> None:
    a, b = make(30001, 1), make(30002, 2)
    a.meet(IP, 30002, None, T0)
    conn = only([e for e in a.tick(T0 + 100) if isinstance(e, Connect)])
    meet = only(sends(a.link_connected(conn.link_id, T0 + 101)))  # type: ignore[union-attr]

    # b: an unknown node MEETs us. We learn our IP from the socket, add a handshake
    # node for a (address: socket peer + header ports), and answer PONG on that link.
    b_in = b.accept_link(IP, IP, T0 + 101)
    effects = b.handle_packet(b_in, wire(meet.message), T0 + 102)  # type: ignore[attr-defined]
    assert b.myself.ip == IP and events(effects, EventName.MY_IP_CHANGED)
    hs_b = only([n for n in b.nodes.values() if n.in_handshake])
    assert hs_b.flags == NodeFlags.HANDSHAKE and (hs_b.port, hs_b.cport) == (30001, 40001)  # type: ignore[attr-defined]
    pong = only(sends(effects))
    assert pong.link_id == b_in and isinstance(pong.message, Pong)  # type: ignore[attr-defined]
    assert SaveConfig(fsync=False) in effects
    assert effects.index(SaveConfig(fsync=False)) < effects.index(pong)  # saved before the send

    # a: the PONG on our outbound link reveals b's real name.
    effects = a.handle_packet(conn.link_id, wire(pong.message), T0 + 103)  # type: ignore[union-attr,attr-defined]
    assert b.myid in a.nodes and not a.nodes[b.myid].in_handshake
    assert a.nodes[b.myid].flags == NodeFlags.PRIMARY
    assert a.nodes[b.myid].pong_received == T0 + 103
    assert only(events(effects, EventName.HANDSHAKE_COMPLETED))["node"] == b.myid  # type: ignore[index]
    assert events(effects, EventName.NODE_RENAMED)
    assert SaveConfig(fsync=False) in effects

    # b dials its handshake node with a PING (not MEET) and a's PONG renames it.
    b_conn = only([e for e in b.tick(T0 + 200) if isinstance(e, Connect)])
    ping = only(sends(b.link_connected(b_conn.link_id, T0 + 201)))  # type: ignore[union-attr]
    assert isinstance(ping.message, Ping)  # type: ignore[attr-defined]
    a_in = a.accept_link(IP, IP, T0 + 201)
    reply = only(sends(a.handle_packet(a_in, wire(ping.message), T0 + 202)))  # type: ignore[attr-defined]
    assert a._in[b.myid].id == a_in  # the inbound link is bound to the known sender
    b.handle_packet(b_conn.link_id, wire(reply.message), T0 + 203)  # type: ignore[union-attr,attr-defined]
    assert a.myid in b.nodes and not any(n.in_handshake for n in b.nodes.values())
    assert cluster_nodes_text(b).count("connected") == 2


def test_handshake_toward_a_known_node_drops_the_handshake_node() -> None:
    a, b = make(30001, 1), make(30002, 2)
    a_out, *_ = handshake(a, b)
    a.meet(IP, 30002, None, T0 + 1000)  # MEET the same node again
    hs = only([n for n in a.nodes.values() if n.in_handshake])
    conn = only([e for e in a.tick(T0 + 1100) if isinstance(e, Connect) and e.node == hs.name])  # type: ignore[attr-defined]
    meet = only(sends(a.link_connected(conn.link_id, T0 + 1101)))  # type: ignore[union-attr]
    b_in = b.accept_link(IP, IP, T0 + 1101)
    pong = only(sends(b.handle_packet(b_in, wire(meet.message), T0 + 1102), Pong))  # type: ignore[attr-defined]
    effects = a.handle_packet(conn.link_id, wire(pong.message), T0 + 1103)  # type: ignore[union-attr,attr-defined]
    assert len(a.nodes) == 2 and not any(n.in_handshake for n in a.nodes.values())
    assert CloseLink(conn.link_id, "node deleted") in effects  # type: ignore[union-attr]
    assert a._out[b.myid].id == a_out  # the real link is untouched


def test_handshake_times_out() -> None:
    a = make(30001, 1)
    a.meet(IP, 30002, None, T0)
    a.tick(T0 + 100)
    effects = a.tick(T0 + NT + 1)  # max(node_timeout, 1000)
    assert len(a.nodes) == 1
    assert events(effects, EventName.HANDSHAKE_TIMEOUT) and any(isinstance(e, CloseLink) for e in effects)


def test_unknown_senders() -> None:
    a = make(30001, 1)
    link = a.accept_link(IP, IP, T0)
    stranger = Peer(NAME_B, 30002)
    # PING from an unknown node: answered, nothing learned.
    effects = a.handle_packet(link, wire(Ping(stranger.header(), (GossipEntry(NAME_C, ip=IP, port=1, cport=2,
                                                                                flags=NodeFlags.PRIMARY),))), T0)
    assert isinstance(only(sends(effects)).message, Pong)  # type: ignore[attr-defined]
    assert len(a.nodes) == 1 and a.myself.ip == IP  # a PING teaches our IP only when we have none
    # FAIL / UPDATE / PUBLISH from an unknown node: ignored.
    effects = a.handle_packet(link, wire(Fail(stranger.header(), a.myid)), T0)
    assert events(effects, EventName.MESSAGE_IGNORED) and not a.myself.failed
    assert not a.handle_packet(link, wire(Publish(stranger.header(), b"ch", b"msg")), T0)
    # MEET from an unknown node: handshake node, gossip processed with no sender (adds nobody).
    effects = a.handle_packet(link, wire(Meet(stranger.header(), (GossipEntry(NAME_C, ip=IP, port=1, cport=2,
                                                                                flags=NodeFlags.PRIMARY),))), T0)
    assert len(a.nodes) == 2 and NAME_C not in a.nodes and NAME_B not in a.nodes


def test_pong_from_another_node_at_that_address_means_noaddr() -> None:
    a = make(30001, 1)
    attach(a, Peer(NAME_B, 30002))
    link = outbound(a, NAME_B, T0)
    effects = a.handle_packet(link, wire(Pong(Peer(NAME_C, 30002).header())), T0 + 1)
    node = a.nodes[NAME_B]
    assert NodeFlags.NOADDR in node.flags and (node.ip, node.port, node.cport) == ("", 0, 0)
    assert CloseLink(link, "PONG from a different node id") in effects
    assert not any(isinstance(e, Connect) for e in a.tick(T0 + 100))  # NOADDR nodes are not dialled


# ----------------------------------------------------------------------------
# Headers: epochs, roles, addresses, extensions
# ----------------------------------------------------------------------------
def test_header_epochs() -> None:
    a = make(30001, 1)
    b = Peer(NAME_B, 30002)
    attach(a, b)
    link = a.accept_link(IP, IP, T0)
    effects = a.handle_packet(link, wire(Ping(b.header(current_epoch=7, config_epoch=5, offset=42))), T0)
    assert a.current_epoch == 7 and a.nodes[NAME_B].config_epoch == 5
    assert a.nodes[NAME_B].repl_offset == 42
    assert SaveConfig(fsync=True) in effects
    assert events(effects, EventName.CURRENT_EPOCH_UPDATED) and events(effects, EventName.CONFIG_EPOCH_UPDATED)
    # lower values never move epochs back
    a.handle_packet(link, wire(Ping(b.header(current_epoch=3, config_epoch=2))), T0)
    assert a.current_epoch == 7 and a.nodes[NAME_B].config_epoch == 5


def test_header_roles() -> None:
    a = make(30001, 1)
    b, c = Peer(NAME_B, 30002), Peer(NAME_C, 30003)
    attach(a, b, slots=SlotBitmap.from_ranges([(0, 99)]), epoch=1)
    attach(a, c)
    link = a.accept_link(IP, IP, T0)
    # b announces it is now a replica of c: it loses its slots and becomes c's replica.
    effects = a.handle_packet(link, wire(Ping(b.header(slaveof=NAME_C, flags=NodeFlags.REPLICA | NodeFlags.MYSELF,
                                                       config_epoch=1))), T0)
    node_b = a.nodes[NAME_B]
    assert node_b.is_replica and node_b.primary_id == NAME_C and not node_b.slots
    assert a.nodes[NAME_C].replica_ids == [NAME_B] and NodeFlags.MIGRATE_TO in a.nodes[NAME_C].flags
    assert a.owner_of(5) is None and events(effects, EventName.ROLE_CHANGED)
    assert " slave cccc" in cluster_nodes_text(a)
    # ... and back to primary: detached from c, which loses MIGRATE_TO
    a.handle_packet(link, wire(Ping(b.header())), T0)
    assert node_b.is_primary and node_b.primary_id is None and NodeFlags.MIGRATE_TO in node_b.flags
    assert a.nodes[NAME_C].replica_ids == [] and NodeFlags.MIGRATE_TO not in a.nodes[NAME_C].flags


def test_ping_on_inbound_link_updates_the_address() -> None:
    a = make(30001, 1)
    b = Peer(NAME_B, 30002)
    attach(a, b)
    out = outbound(a, NAME_B, T0)
    link = a.accept_link("10.0.0.9", IP, T0)
    effects = a.handle_packet(link, wire(Ping(b.header(port=31002, cport=41002))), T0)
    node = a.nodes[NAME_B]
    assert (node.ip, node.port, node.cport) == ("10.0.0.9", 31002, 41002)
    assert CloseLink(out, "address changed") in effects and events(effects, EventName.NODE_ADDRESS_CHANGED)
    # an announced IP wins over the socket's
    a.handle_packet(link, wire(Ping(b.header(port=31002, cport=41002, myip="192.168.1.5"))), T0)
    assert node.ip == "192.168.1.5"
    # a PONG never updates the address, nor does a PING on our own outbound link
    a.handle_packet(link, wire(Pong(b.header(port=1, cport=2))), T0)
    assert node.port == 31002


def test_hostname_extension_is_set_and_cleared() -> None:
    a = make(30001, 1)
    b = Peer(NAME_B, 30002)
    attach(a, b)
    link = a.accept_link(IP, IP, T0)
    a.handle_packet(link, wire(Ping(b.header(), (), (HostnameExt("node-b.test"),))), T0)
    assert a.nodes[NAME_B].hostname == "node-b.test"
    assert "127.0.0.1:30002@40002,node-b.test " in cluster_nodes_text(a)
    effects = a.handle_packet(link, wire(Ping(b.header(), (), (UnknownExt(3, bytes(40)),))), T0)
    assert a.nodes[NAME_B].hostname == "" and events(effects, EventName.UNKNOWN_EXTENSION)


def test_our_hostname_goes_in_every_ping() -> None:
    a = make(30001, 1, announce_hostname="a.example")
    b = Peer(NAME_B, 30002)
    attach(a, b)
    link = a.accept_link(IP, IP, T0)
    pong = only(sends(a.handle_packet(link, wire(Ping(b.header())), T0)))
    assert wire(pong.message).hostname == "a.example"  # type: ignore[attr-defined,union-attr]


# ----------------------------------------------------------------------------
# Gossip
# ----------------------------------------------------------------------------
def test_gossip_wanted() -> None:
    assert [gossip_wanted(n) for n in (3, 6, 30, 50, 100)] == [1, 3, 3, 5, 10]


def test_gossip_teaches_a_third_node() -> None:
    a, b, c = make(30001, 1), make(30002, 2), make(30003, 3)
    _, b_link, _, _ = handshake(a, b)
    handshake(a, c, T0 + 1000)
    assert c.myid not in b.nodes
    # a's PINGs to b carry gossip; with 3 known nodes, 1 entry: about c.
    link = a._out[b.myid]
    ping = gossip_entry(a.nodes[c.myid])
    msg = Ping(build_header(a), (ping,))
    effects = b.handle_packet(b_link, wire(msg), T0 + 2000)
    assert b._in[a.myid].id == b_link  # bound now that a is known
    node = b.nodes[c.myid]
    assert node.flags == NodeFlags.PRIMARY and (node.ip, node.port, node.cport) == (IP, 30003, 40003)
    assert only(events(effects, EventName.NODE_ADDED))["via"] == f"gossip from {a.myid}"  # type: ignore[index]
    assert link.node is a.nodes[b.myid]
    # b then just dials c and PINGs (no MEET, no handshake)
    conn = only([e for e in b.tick(T0 + 2100) if isinstance(e, Connect)])
    assert isinstance(only(sends(b.link_connected(conn.link_id, T0 + 2101))).message, Ping)  # type: ignore[union-attr,attr-defined]


def test_gossip_entries_are_random_plus_every_pfail_node() -> None:
    a = make(30001, 1)
    peers = [Peer(f"{k:x}" * 40, 30002 + k) for k in range(1, 10)]
    for p in peers:
        attach(a, p)
    a.nodes[peers[0].name].flags |= NodeFlags.PFAIL
    a.nodes[peers[1].name].flags |= NodeFlags.PFAIL
    a.stats_pfail_nodes = 2
    link = Link(99, inbound=True, node=a.nodes[peers[2].name], ctime=T0)
    for peer in peers:  # every node has slots or a link, so it may be gossiped
        a._out[peer.name] = link
    msg = wire(Ping(build_header(a)))  # sanity: header alone encodes
    assert isinstance(msg, Ping)
    from pyredis_cluster.cluster.gossip import build_ping

    ping = build_ping(a, link, Pong)
    names = [g.nodename for g in ping.gossip]
    assert len(names) == 3 + 2 and len(set(names)) == 5  # wanted = max(10//10, 3) = 3
    assert names[-2:] == [peers[0].name, peers[1].name]
    assert a.myid not in names
    assert all(NodeFlags.MYSELF not in g.flags for g in ping.gossip)


def test_gossip_ignores_noaddr_blacklisted_and_invalid_names() -> None:
    a = make(30001, 1)
    b = Peer(NAME_B, 30002)
    attach(a, b)
    a.blacklist[NAME_D] = T0 + 60_000
    link = a.accept_link(IP, IP, T0)
    entries = (
        GossipEntry(NAME_C, ip=IP, port=1, cport=2, flags=NodeFlags.PRIMARY | NodeFlags.NOADDR),
        GossipEntry(NAME_D, ip=IP, port=3, cport=4, flags=NodeFlags.PRIMARY),
        GossipEntry("E" * 40, ip=IP, port=5, cport=6, flags=NodeFlags.PRIMARY),
    )
    a.handle_packet(link, wire(Ping(b.header(), entries)), T0)
    assert set(a.nodes) == {a.myid, NAME_B}


def test_gossip_pong_times_are_adopted_within_limits() -> None:
    a = make(30001, 1)
    b, c = Peer(NAME_B, 30002), Peer(NAME_C, 30003)
    attach(a, b)
    node_c = attach(a, c)
    node_c.pong_received = T0 - 5000
    link = a.accept_link(IP, IP, T0)
    a.handle_packet(link, wire(Ping(b.header(), (GossipEntry(NAME_C, pong_received=(T0 - 1000) // 1000, ip=IP,
                                                              port=30003, cport=40003, flags=NodeFlags.PRIMARY),))), T0)
    assert node_c.pong_received == T0 - 1000
    # not more than 500 ms in our future
    a.handle_packet(link, wire(Ping(b.header(), (GossipEntry(NAME_C, pong_received=(T0 + 2000) // 1000, ip=IP,
                                                              port=30003, cport=40003, flags=NodeFlags.PRIMARY),))), T0)
    assert node_c.pong_received == T0 - 1000


# ----------------------------------------------------------------------------
# Failure detection
# ----------------------------------------------------------------------------
def three_primaries() -> tuple[ClusterState, ClusterNode, ClusterNode, int]:
    """a with slots 0-5460, b and c known primaries with the rest; returns (a, b, c, link from b)."""
    a = make(30001, 1)
    a._assign_slots(a.myself, SlotBitmap.from_ranges([(0, 5460)]).mask, reason="test")
    b = attach(a, Peer(NAME_B, 30002), slots=SlotBitmap.from_ranges([(5461, 10922)]), epoch=2)
    c = attach(a, Peer(NAME_C, 30003), slots=SlotBitmap.from_ranges([(10923, 16383)]), epoch=3)
    a.myself.config_epoch = 1
    a.current_epoch = 3
    return a, b, c, a.accept_link(IP, IP, T0)


def test_pfail_after_node_timeout_without_pong() -> None:
    a, b, c, _ = three_primaries()
    link_c = outbound(a, NAME_C, T0)  # the connect sends a PING at once
    assert c.ping_sent == T0
    a.tick(T0 + NT)
    assert not c.timed_out  # not *more* than node_timeout yet
    effects = a.tick(T0 + NT + 1)  # no PONG, no data for > node_timeout
    assert c.timed_out and events(effects, EventName.PFAIL)
    # the link is older than node_timeout, with a ping pending and silence for > nt/2: dropped
    assert CloseLink(link_c, "no data for node_timeout/2 with a ping pending") in effects
    assert a.stats_pfail_nodes == 0  # counted at the start of the next tick
    effects = a.tick(T0 + NT + 100)
    assert a.stats_pfail_nodes == 1  # b's pong is recent: no ping pending to it
    conn = only([e for e in effects if isinstance(e, Connect) and e.node == NAME_C])
    a.link_connected(conn.link_id, T0 + NT + 101)  # type: ignore[attr-defined]
    assert c.ping_sent == T0  # a reconnect keeps the pending ping's age
    # the PONG comes back: PFAIL cleared at once
    effects = a.handle_packet(conn.link_id, wire(Pong(Peer(NAME_C, 30003).header(  # type: ignore[attr-defined]
        config_epoch=3, myslots=c.slots))), T0 + NT + 150)
    assert not c.timed_out and c.ping_sent == 0 and events(effects, EventName.PFAIL_CLEARED)
    # a PONG on an inbound link is not liveness
    a.tick(T0 + 3 * NT)
    a.tick(T0 + 4 * NT + 200)
    assert c.timed_out
    inbound = a.accept_link(IP, IP, T0)
    a.handle_packet(inbound, wire(Pong(Peer(NAME_C, 30003).header(config_epoch=3, myslots=c.slots))),
                    T0 + 4 * NT + 300)
    assert c.timed_out


def test_any_data_counts_as_liveness() -> None:
    a, b, c, link_b = three_primaries()
    outbound(a, NAME_C, T0)
    a.tick(T0 + NT)
    link_from_c = a.accept_link(IP, IP, T0)
    # c keeps talking on its own link (say PUBLISH traffic) but never answers our PING
    for t in range(T0 + NT + 100, T0 + 4 * NT, 100):
        a.handle_packet(link_from_c, wire(Publish(Peer(NAME_C, 30003).header(config_epoch=3, myslots=c.slots),
                                                  b"x", b"y")), t)
        a.tick(t)
    assert not c.timed_out


def test_fail_needs_a_majority_of_primaries_and_is_broadcast() -> None:
    a, b, c, link_b = three_primaries()
    link_to_b = outbound(a, NAME_B, T0)
    outbound(a, NAME_C, T0)
    c.flags |= NodeFlags.PFAIL
    # b (a primary) gossips c as PFAIL: 1 report + ourselves = 2 >= 3/2+1
    entry = replace(gossip_entry(c), flags=NodeFlags.PRIMARY | NodeFlags.PFAIL)
    effects = a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots),
                                                (entry,))), T0 + 10)
    assert c.failed and not c.timed_out and c.fail_time == T0 + 10
    assert events(effects, EventName.FAILURE_REPORT_ADDED) and events(effects, EventName.FAIL)
    fails = sends(effects, Fail)
    assert {s.link_id for s in fails} == {link_to_b, a._out[NAME_C].id}  # the failed node too
    assert all(s.message.nodename == NAME_C for s in fails)  # type: ignore[attr-defined]
    assert a.state == ClusterHealth.FAIL  # slots of a FAIL node: no full coverage
    assert a.count_failure_reports(NAME_C, T0 + 10) == 1
    # reports expire after 2 * node_timeout
    assert a.count_failure_reports(NAME_C, T0 + 10 + 2 * NT + 1) == 0


def test_replica_reports_do_not_count() -> None:
    a, b, c, link_b = three_primaries()
    d = attach(a, Peer(NAME_D, 30004), flags=NodeFlags.REPLICA)
    d.primary_id = NAME_B
    c.flags |= NodeFlags.PFAIL
    link_d = a.accept_link(IP, IP, T0)
    entry = replace(gossip_entry(c), flags=NodeFlags.PRIMARY | NodeFlags.PFAIL)
    a.handle_packet(link_d, wire(Ping(Peer(NAME_D, 30004).header(slaveof=NAME_B, config_epoch=2, myslots=b.slots,
                                                                 flags=NodeFlags.REPLICA), (entry,))), T0)
    assert c.fail_reports == [] and not c.failed


def test_fail_message_from_any_known_node() -> None:
    a, b, c, link_b = three_primaries()
    effects = a.handle_packet(link_b, wire(Fail(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots),
                                                NAME_C)), T0)
    assert c.failed and events(effects, EventName.FAIL)
    a.handle_packet(link_b, wire(Fail(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots), a.myid)), T0)
    assert not a.myself.failed  # never about myself


@pytest.mark.parametrize(("slots", "after", "cleared"), [
    (True, 2 * NT, False),  # a primary with slots: not before 2 * node_timeout
    (True, 2 * NT + 1, True),
    (False, 1, True),  # a primary without slots: at once
])
def test_fail_cleared_when_reachable_again(slots: bool, after: int, cleared: bool) -> None:
    a, b, c, link_b = three_primaries()
    if not slots:
        a._unassign_slots(c.slots.mask, reason="test")
    link_c = outbound(a, NAME_C, T0)
    c.flags |= NodeFlags.FAIL
    c.fail_time = T0
    a.handle_packet(link_c, wire(Pong(Peer(NAME_C, 30003).header(config_epoch=3, myslots=c.slots))), T0 + after)
    assert c.failed is not cleared


def test_fail_cleared_for_a_replica_at_once() -> None:
    a, b, c, _ = three_primaries()
    d = attach(a, Peer(NAME_D, 30004), flags=NodeFlags.REPLICA | NodeFlags.FAIL)
    d.primary_id = NAME_B
    d.fail_time = T0
    link_d = outbound(a, NAME_D, T0)
    effects = a.handle_packet(link_d, wire(Pong(Peer(NAME_D, 30004).header(
        slaveof=NAME_B, config_epoch=2, myslots=b.slots, flags=NodeFlags.REPLICA))), T0 + 1)
    assert not d.failed and "replica is reachable again." in only(events(effects, EventName.FAIL_CLEARED))["why"]  # type: ignore[index]


# ----------------------------------------------------------------------------
# Cluster state
# ----------------------------------------------------------------------------
def test_cluster_state_delays_and_minority() -> None:
    a, b, c, _ = three_primaries()
    a.tick(T0 + 100)
    assert a.state == ClusterHealth.FAIL  # writable delay: 2 s after the first update
    a.tick(T0 + 2100)
    assert a.state == ClusterHealth.OK and a.size == 3
    b.ping_sent = c.ping_sent = T0 + 1000  # pending pings, never answered
    effects = a.tick(T0 + 2200)  # both PFAIL: 1 reachable of 3, a minority
    assert a.state == ClusterHealth.FAIL and only(events(effects, EventName.CLUSTER_STATE_CHANGED))["state"] == "fail"  # type: ignore[index]
    for node in (b, c):  # as if their PONGs arrived
        node.flags &= ~NodeFlags.PFAIL
        node.ping_sent = 0
    a.tick(T0 + 2300)
    assert a.state == ClusterHealth.FAIL  # rejoin delay: clamp(node_timeout, 500, 5000)
    a.tick(T0 + 2200 + NT + 100)
    assert a.state == ClusterHealth.OK


def test_cluster_state_without_full_coverage() -> None:
    a = make(30001, 1, require_full_coverage=False)
    a.addslots([0], T0)
    a.tick(T0 + 2100)
    assert a.state == ClusterHealth.OK
    b = make(30002, 2)
    b.addslots([0], T0)
    b.tick(T0 + 2100)
    assert b.state == ClusterHealth.FAIL  # slot 1.. unassigned


# ----------------------------------------------------------------------------
# Slot claims, UPDATE, collisions
# ----------------------------------------------------------------------------
def test_newer_claim_rebinds_slots() -> None:
    a, b, c, link_b = three_primaries()
    claim = SlotBitmap.from_ranges([(5461, 10922), (10923, 11000)])
    effects = a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(config_epoch=4, myslots=claim))), T0)
    assert a.owner_of(10950) is b and a.owner_of(11001) is c
    assert SaveConfig(fsync=True) in effects and events(effects, EventName.SLOT_OWNER_CHANGED)
    assert c.slots == SlotBitmap.from_ranges([(11001, 16383)])


def test_stale_claim_gets_an_update() -> None:
    a, b, c, link_b = three_primaries()
    to_b = outbound(a, NAME_B, T0)
    claim = SlotBitmap.from_ranges([(5461, 10922), (16000, 16001)])  # c owns these with epoch 3 > 2
    effects = a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(config_epoch=2, myslots=claim))), T0)
    assert a.owner_of(16000) is c
    update = only(sends(effects, Update))
    assert update.link_id == to_b  # on our outbound link to the sender  # type: ignore[attr-defined]
    msg = wire(update.message)  # type: ignore[attr-defined]
    assert isinstance(msg, Update) and msg.nodename == NAME_C and msg.config_epoch == 3 and msg.slots == c.slots
    assert events(effects, EventName.UPDATE_SENT)


def test_unclaimed_slots_stay_bound_but_leave_updates() -> None:
    a, b, c, link_b = three_primaries()
    outbound(a, NAME_B, T0)
    to_c = outbound(a, NAME_C, T0)
    link_c = a.accept_link(IP, IP, T0)
    # c stops claiming 16000-16383
    effects = a.handle_packet(link_c, wire(Ping(Peer(NAME_C, 30003).header(
        config_epoch=3, myslots=SlotBitmap.from_ranges([(10923, 15999)])))), T0)
    assert a.owner_of(16100) is c and events(effects, EventName.SLOTS_NOT_CLAIMED)
    # b claims 16100 with a lower epoch: the slot is unclaimed, so b gets it
    a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(
        config_epoch=2, myslots=b.slots | SlotBitmap.from_slots([16100])))), T0)
    assert a.owner_of(16100) is b
    # b claims 10923 (owned and claimed by c, epoch 3): UPDATE about c without the unclaimed slots
    effects = a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(
        config_epoch=2, myslots=b.slots | SlotBitmap.from_slots([10923])))), T0)
    update = wire(only(sends(effects, Update)).message)  # type: ignore[attr-defined]
    assert update.slots == SlotBitmap.from_ranges([(10923, 15999)])  # type: ignore[attr-defined]
    assert to_c


def test_update_makes_us_a_replica_when_we_lose_our_last_slot() -> None:
    a, b, c, link_b = three_primaries()
    a.myself.config_epoch = 1
    effects = a.handle_packet(link_b, wire(Update(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots),
                                                  5, NAME_B, b.slots | a.myself.slots)), T0)
    assert b.config_epoch == 5 and a.owner_of(0) is b
    assert a.myself.is_replica and a.myself.primary_id == NAME_B
    assert ReplicationChanged(NAME_B, IP, 30002) in effects
    assert events(effects, EventName.UPDATE_RECEIVED)
    # an UPDATE that is not newer changes nothing
    effects = a.handle_packet(link_b, wire(Update(Peer(NAME_B, 30002).header(), 5, NAME_C, SlotBitmap.all())), T0)
    assert a.owner_of(16000) is c


def test_losing_some_slots_with_keys_deletes_them() -> None:
    class Keys:
        def count_keys_in_slot(self, slot: int) -> int:
            return 1 if slot in (1, 2) else 0

        def key_count(self) -> int:
            return 2

    a, b, c, link_b = three_primaries()
    a.keyspace = Keys()
    a.myself.config_epoch = 1
    effects = a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(
        config_epoch=4, myslots=b.slots | SlotBitmap.from_ranges([(0, 10)])))), T0)
    assert DeleteKeysInSlots((1, 2)) in effects and a.myself.is_primary


def test_importing_slots_are_not_rebound() -> None:
    a, b, c, link_b = three_primaries()
    a.setslot(16000, "importing", NAME_C, T0)
    a.handle_packet(link_b, wire(Ping(Peer(NAME_B, 30002).header(
        config_epoch=9, myslots=b.slots | SlotBitmap.from_slots([16000, 16001])))), T0)
    assert a.owner_of(16000) is c and a.owner_of(16001) is b


@pytest.mark.parametrize("i_am_smaller", [True, False])
def test_config_epoch_collision(i_am_smaller: bool) -> None:
    a = make(30001, 1)
    other = ("0" if not i_am_smaller else "z") * 40
    peer = Peer(other, 30002)
    attach(a, peer, epoch=1)
    a.myself.config_epoch = 1
    a.current_epoch = 4
    link = a.accept_link(IP, IP, T0)
    effects = a.handle_packet(link, wire(Ping(peer.header(config_epoch=1, current_epoch=4))), T0)
    if i_am_smaller:
        assert a.myself.config_epoch == 5 and a.current_epoch == 5
        assert SaveConfig(fsync=True) in effects
        # the PONG was built before the collision was handled: it still carries epoch 1;
        # the next packet (after the save) carries 5
        assert wire(only(sends(effects)).message).header.config_epoch == 1  # type: ignore[attr-defined]
        assert build_header(a).config_epoch == 5
        assert only(events(effects, EventName.CONFIG_EPOCH_COLLISION))["node"] == other  # type: ignore[index]
    else:
        assert a.myself.config_epoch == 1 and not events(effects, EventName.CONFIG_EPOCH_COLLISION)


# ----------------------------------------------------------------------------
# Admin operations
# ----------------------------------------------------------------------------
def test_addslots_and_delslots_errors() -> None:
    a = make(30001, 1)
    a.addslots([0, 1, 2], T0)
    cases = [
        (lambda: a.addslots([5, -1], T0), "ERR Invalid or out of range slot"),
        (lambda: a.addslots([16384], T0), "ERR Invalid or out of range slot"),
        (lambda: a.addslots([0], T0), "ERR Slot 0 is already busy"),
        (lambda: a.addslots([5, 5], T0), "ERR Slot 5 specified multiple times"),
        (lambda: a.delslots([7], T0), "ERR Slot 7 is already unassigned"),
        (lambda: a.addslotsrange([(5, 3)], T0), "ERR start slot number 5 is greater than end slot number 3"),
        (lambda: a.addslotsrange([(3, 5), (5, 6)], T0), "ERR Slot 5 specified multiple times"),
    ]
    for call, text in cases:
        with pytest.raises(ClusterAdminError) as err:
            call()
        assert err.value.reply == text
    assert a.myself.slots == SlotBitmap.from_ranges([(0, 2)])  # errors changed nothing
    effects = a.delslotsrange([(1, 2)], T0)
    assert a.myself.slots == SlotBitmap.from_slots([0]) and SaveConfig() in effects
    a.addslotsrange([(10, 20), (30, 40)], T0)
    assert "connected 0 10-20 30-40\n" in cluster_nodes_text(a)


def test_setslot() -> None:
    a, b, c, _ = three_primaries()
    with pytest.raises(ClusterAdminError, match="I'm not the owner of hash slot 6000"):
        a.setslot(6000, "migrating", NAME_B, T0)
    with pytest.raises(ClusterAdminError, match="I'm already the owner of hash slot 0"):
        a.setslot(0, "importing", NAME_B, T0)
    with pytest.raises(ClusterAdminError, match=f"I don't know about node {'e' * 40}"):
        a.setslot(0, "migrating", "e" * 40, T0)
    with pytest.raises(ClusterAdminError, match=f"Unknown node {'e' * 40}"):
        a.setslot(0, "node", "e" * 40, T0)
    with pytest.raises(ClusterAdminError, match="Invalid CLUSTER SETSLOT action"):
        a.setslot(0, "stable", NAME_B, T0)
    with pytest.raises(ClusterAdminError, match="Invalid CLUSTER SETSLOT action"):
        a.setslot(0, "bogus", NAME_B, T0)
    a.setslot(1, "migrating", NAME_B, T0)
    a.setslot(6000, "importing", NAME_B, T0)
    text = cluster_nodes_text(a)
    assert f"connected 0-5460 [1->-{NAME_B}] [6000-<-{NAME_B}]\n" in text
    a.setslot(1, "stable", None, T0)
    assert "[1->-" not in cluster_nodes_text(a)
    # SETSLOT NODE myself for an imported slot: epoch bumped without consensus, PONG to all
    outbound(a, NAME_B, T0)
    outbound(a, NAME_C, T0)
    effects = a.setslot(6000, "node", a.myid, T0)
    assert a.owner_of(6000) is a.myself and 6000 not in a.importing_slots_from
    assert a.myself.config_epoch == 4 and a.current_epoch == 4
    assert len(sends(effects, Pong)) == 2 and SaveConfig(fsync=True) in effects
    # giving our last slots away makes us a replica of the new owner
    a.delslotsrange([(0, 5460)], T0)
    a.delslots([6000], T0)
    a._assign_slots(a.myself, 1 << 7, reason="test")
    effects = a.setslot(7, "node", NAME_C, T0)
    assert a.myself.is_replica and a.myself.primary_id == NAME_C
    with pytest.raises(ClusterAdminError, match="Please use SETSLOT only with masters."):
        a.setslot(7, "stable", None, T0)


def test_setslot_node_refuses_to_give_away_a_slot_with_keys() -> None:
    class Keys:
        def count_keys_in_slot(self, slot: int) -> int:
            return 3

        def key_count(self) -> int:
            return 3

    a, b, c, _ = three_primaries()
    a.keyspace = Keys()
    with pytest.raises(ClusterAdminError) as err:
        a.setslot(5, "node", NAME_B, T0)
    assert err.value.reply == ("ERR Can't assign hashslot 5 to a different node while I still hold keys "
                               "for this hash slot.")
    with pytest.raises(ClusterAdminError, match="DB must be empty"):
        a.flushslots(T0)


def test_bumpepoch_and_set_config_epoch() -> None:
    a = make(30001, 1)
    with pytest.raises(ClusterAdminError, match="Invalid config epoch specified: -1"):
        a.set_config_epoch(-1, T0)
    a.set_config_epoch(5, T0)
    assert a.myself.config_epoch == 5 and a.current_epoch == 5
    with pytest.raises(ClusterAdminError, match="already non-zero"):
        a.set_config_epoch(6, T0)
    bumped, effects = a.bumpepoch(T0)
    assert not bumped and a.myself.config_epoch == 5  # +STILL 5: already the max
    attach(a, Peer(NAME_B, 30002), epoch=5)
    assert not a.bumpepoch(T0)[0]  # equal to the max is enough for STILL (7.0 compares with ==)
    a.nodes[NAME_B].config_epoch = 6
    bumped, effects = a.bumpepoch(T0)
    # currentEpoch + 1 (5 + 1): equal to b's, which the collision rule will sort out
    assert bumped and a.myself.config_epoch == 6 and SaveConfig(fsync=True) in effects
    with pytest.raises(ClusterAdminError, match="does not know any other node"):
        a.set_config_epoch(1, T0)
    fresh = make(30003, 3)
    bumped, _ = fresh.bumpepoch(T0)
    assert bumped and fresh.myself.config_epoch == 1  # epoch 0 always bumps


def test_forget_and_blacklist() -> None:
    a, b, c, link_b = three_primaries()
    with pytest.raises(ClusterAdminError, match="Unknown node"):
        a.forget("e" * 40, T0)
    with pytest.raises(ClusterAdminError, match="can't forget myself"):
        a.forget(a.myid, T0)
    to_c = outbound(a, NAME_C, T0)
    c.add_failure_report(NAME_B, T0)
    b.add_failure_report(NAME_C, T0)
    effects = a.forget(NAME_C, T0)
    assert NAME_C not in a.nodes and a.owner_of(16000) is None and b.fail_reports == []
    assert CloseLink(to_c, "node deleted") in effects and events(effects, EventName.NODE_FORGOTTEN)
    gossip_c = GossipEntry(NAME_C, ip=IP, port=30003, cport=40003, flags=NodeFlags.PRIMARY)
    ping = Ping(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots), (gossip_c,))
    a.handle_packet(link_b, wire(ping), T0 + 59_000)
    assert NAME_C not in a.nodes  # blacklisted for 60 s
    a.handle_packet(link_b, wire(ping), T0 + 60_001)
    assert NAME_C in a.nodes
    # a replica cannot forget its primary
    a2 = make(30005, 5)
    attach(a2, Peer(NAME_B, 30002))
    a2.replicate(NAME_B, T0)
    with pytest.raises(ClusterAdminError, match="Can't forget my master!"):
        a2.forget(NAME_B, T0)


def test_replicate() -> None:
    a, b, c, _ = three_primaries()
    with pytest.raises(ClusterAdminError, match="To set a master the node must be empty"):
        a.replicate(NAME_B, T0)
    a.flushslots(T0)
    with pytest.raises(ClusterAdminError, match="Can't replicate myself"):
        a.replicate(a.myid, T0)
    effects = a.replicate(NAME_B, T0)
    assert a.myself.is_replica and a.myself.primary_id == NAME_B and b.replica_ids == [a.myid]
    assert ReplicationChanged(NAME_B, IP, 30002) in effects
    header = build_header(a)  # a replica speaks for its primary's slots and epoch
    assert header.slaveof == NAME_B and header.myslots == b.slots and header.config_epoch == 2
    assert cluster_info(a)["cluster_my_epoch"] == 2
    d = attach(a, Peer(NAME_D, 30004), flags=NodeFlags.REPLICA)
    with pytest.raises(ClusterAdminError, match="I can only replicate a master, not a replica."):
        a.replicate(d.name, T0)
    a.replicate(NAME_C, T0)  # a replica may switch primaries
    assert b.replica_ids == [] and c.replica_ids == [a.myid]


@pytest.mark.parametrize("hard", [False, True])
def test_reset(hard: bool) -> None:
    a, b, c, _ = three_primaries()
    a.flushslots(T0)
    a.replicate(NAME_B, T0)
    old_id = a.myid
    effects = a.reset(hard, T0)
    assert list(a.nodes) == [a.myid] and a.myself.is_primary and not a.myself.slots
    assert all(o is None for o in a.slot_owner)
    assert ReplicationChanged(None) in effects and SaveConfig(fsync=True) in effects
    if hard:
        assert a.myid != old_id and (a.current_epoch, a.myself.config_epoch) == (0, 0)
    else:
        assert a.myid == old_id and a.current_epoch == 3
    with pytest.raises(ClusterAdminError):
        a.setslot(1, "node", NAME_B, T0)


def test_reset_refuses_a_primary_with_keys() -> None:
    class Keys:
        def count_keys_in_slot(self, slot: int) -> int:
            return 0

        def key_count(self) -> int:
            return 1

    a = make(30001, 1)
    a.keyspace = Keys()
    with pytest.raises(ClusterAdminError) as err:
        a.reset(False, T0)
    assert err.value.reply == "ERR CLUSTER RESET can't be called with master nodes containing keys"


# ----------------------------------------------------------------------------
# Pub/Sub, persistence
# ----------------------------------------------------------------------------
def test_publish_both_ways() -> None:
    a, b, c, link_b = three_primaries()
    effects = a.handle_packet(link_b, wire(Publish(Peer(NAME_B, 30002).header(config_epoch=2, myslots=b.slots),
                                                   b"chan", b"hello")), T0)
    assert PublishReceived(b"chan", b"hello", False) in effects
    effects = a.handle_packet(link_b, wire(PublishShard(Peer(NAME_B, 30002).header(config_epoch=2,
                                                                                   myslots=b.slots),
                                                        b"chan", b"hi")), T0)
    assert PublishReceived(b"chan", b"hi", True) in effects
    to_b = outbound(a, NAME_B, T0)
    out = a.build_publish(b"ch", b"m", T0)
    # every node with a link (a pending connect counts, as in Redis)
    assert [s.link_id for s in sends(out, Publish)] == [to_b, a._out[NAME_C].id]
    a._free_link(a._out[NAME_C], reason="test")
    assert [s.link_id for s in sends(a.build_publish(b"ch", b"m", T0), Publish)] == [to_b]
    d = attach(a, Peer(NAME_D, 30004), flags=NodeFlags.REPLICA)
    d.primary_id = a.myid
    a.myself.replica_ids.append(NAME_D)
    to_d = outbound(a, NAME_D, T0)
    out = a.build_publish(b"ch", b"m", T0, sharded=True)
    assert [s.link_id for s in sends(out, PublishShard)] == [to_d]
    assert a.stats_sent[4] == 3 and a.stats_sent[10] == 1


def test_state_survives_nodes_conf_round_trip() -> None:
    a, b, c, _ = three_primaries()
    a.setslot(1, "migrating", NAME_B, T0)
    text = a.nodes_conf_text()
    config = parse_nodes_conf(text, T0)  # non-zero ping/pong times load as "now"
    assert config is not None
    again = ClusterState(a.settings, now_ms=T0 + 5, rng=random.Random(9), config=config)
    assert not again.fresh and again.myid == a.myid and again.current_epoch == 3
    assert again.owner_of(16000).name == NAME_C  # type: ignore[union-attr]
    assert again.migrating_slots_to[1].name == NAME_B
    assert again.nodes_conf_text() == text


def test_unknown_and_dropped_packets_are_counted() -> None:
    a = make(30001, 1)
    effects = a.handle_dropped(1, 0, "Received invalid ping packet of length 2264 but expected length 2256", T0)
    assert a.stats_received[0] == 1 and events(effects, EventName.PACKET_DROPPED)
    assert cluster_info(a)["cluster_stats_messages_ping_received"] == 1
