"""ShardChannelsLost: the core tells the server when our shard stops serving slots.

Redis's clusterDelSlot runs removeChannelsInSlot when the slot's owner is a node of our
own shard (we, or the primary we replicate): sharded subscribers of those channels are
unsubscribed. Slots lost by another shard change nothing here.
"""

from __future__ import annotations

import random

from pyredis_cluster.cluster.effects import Effect, ShardChannelsLost
from pyredis_cluster.cluster.nodes_conf import parse_nodes_conf
from pyredis_cluster.cluster.state import ClusterSettings, ClusterState

T0 = 1_700_000_000_000
ME, PRIMARY, OTHER = "a" * 40, "b" * 40, "c" * 40


def lost(effects: list[Effect]) -> list[tuple[int, ...]]:
    return [e.slots for e in effects if isinstance(e, ShardChannelsLost)]


def state_from(lines: list[str]) -> ClusterState:
    text = "\n".join(lines) + "\nvars currentEpoch 3 lastVoteEpoch 0\n"
    config = parse_nodes_conf(text, T0)
    assert config is not None
    return ClusterState(ClusterSettings(port=30001, node_timeout=1000), now_ms=T0, rng=random.Random(1), config=config)


def test_a_primary_losing_its_slots() -> None:
    me = state_from([
        f"{ME} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-9",
        f"{OTHER} 127.0.0.1:30003@40003 master - 0 0 3 connected 10-20",
    ])  # fmt: skip
    assert lost(me.delslots([3, 1], T0)) == [(1, 3)]
    assert lost(me.setslot(5, "node", OTHER, T0)) == [(5,)]
    assert lost(me.addslots([30], T0)) == []
    assert lost(me.flushslots(T0)) == [(0, 2, 4, 6, 7, 8, 9, 30)]


def test_a_replica_loses_channels_with_its_primary_but_not_with_another_shard() -> None:
    me = state_from([
        f"{ME} 127.0.0.1:30001@40001 myself,slave {PRIMARY} 0 0 2 connected",
        f"{PRIMARY} 127.0.0.1:30002@40002 master - 0 0 2 connected 0-9",
        f"{OTHER} 127.0.0.1:30003@40003 master - 0 0 3 connected 10-20",
    ])  # fmt: skip
    assert lost(me.delslots([3], T0)) == [(3,)]  # our primary's slot
    assert lost(me.delslots([15], T0)) == []  # another shard's
    # RESET makes us a primary first (clusterSetNodeAsMaster): the old primary's slots
    # are no longer our shard's when they are unassigned, so nothing is dropped (7.0).
    assert lost(me.reset(False, T0)) == []


def test_slots_of_another_shard_change_nothing() -> None:
    me = state_from([
        f"{ME} 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-9",
        f"{OTHER} 127.0.0.1:30003@40003 master - 0 0 3 connected 10-20",
    ])  # fmt: skip
    assert lost(me.setslot(15, "node", ME, T0)) == []  # taking a slot is no loss
