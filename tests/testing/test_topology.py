"""Topology on cue and observation (pyredis_cluster/testing/topology.py), in the test's loop.

Every change is checked from the outside too (what a client is answered over RESP), and
through the harness's own reads (view, the event stream). node-timeout is short where
failure detection is part of the story.
"""

from __future__ import annotations

import pytest

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.testing import start_cluster
from pyredis_cluster.testing.faults import WaitTimeout, node_id, wait_until
from pyredis_cluster.testing.harness import LocalCluster
from pyredis_cluster.testing.topology import TopologyError, call, view

DEADLINE = 10.0
#: A node PINGs every peer whose PONG is older than node_timeout/2: a short node-timeout
#: spreads news (a new node, a demoted primary) to everyone sooner.
FAST_GOSSIP = 1000
KEY = b"user:{7}"
SLOT = key_hash_slot(KEY)


async def write_keys(cluster: LocalCluster, count: int) -> list[bytes]:
    owner = cluster.node_for_slot(SLOT)
    keys = [b"%s:%d" % (KEY, i) for i in range(count)]
    for key in keys:
        assert await call(owner, "SET", key, b"v-" + key) == "OK"
    return keys


@pytest.mark.parametrize("mode", ["manual", "force", "takeover"])
async def test_failover_on_command(mode: str) -> None:
    async with start_cluster(3, 1, node_timeout=FAST_GOSSIP) as cluster:
        old = cluster.node_for_slot(SLOT)
        (replica,) = cluster.replicas_of(old)
        await call(old, "SET", KEY, "before")
        new = await cluster.failover(old, mode, timeout=DEADLINE)
        assert new is replica and view(old).primary_id == node_id(new)
        await cluster.wait_until_agree(DEADLINE)  # the others learn the old primary's new role
        for node in cluster.nodes:  # every node agrees, seen directly...
            seen = view(node)
            assert seen.owner_of(SLOT) == node_id(new) and seen.nodes[node_id(old)].primary_id == node_id(new)
        # ... and as a client sees it: the old primary redirects, the new one serves.
        assert await call(old, "GET", KEY, check=False) == f"MOVED {SLOT} 127.0.0.1:{new.port}"
        assert view(old).role == "replica"
        await cluster.wait_for_event("role_changed", {"node": new}, node=new, timeout=DEADLINE)


async def test_automatic_failover_then_the_old_primary_rejoins_as_replica() -> None:
    async with start_cluster(3, 1, node_timeout=500) as cluster:
        old = cluster.node_for_slot(SLOT)
        new = await cluster.failover(old, "auto", timeout=DEADLINE)
        assert new in cluster.nodes and new is not old
        # A real failure detection and election happened: the events say so.
        await cluster.wait_for_event("fail", {"node": old}, timeout=DEADLINE)
        await cluster.wait_for_event("election_started", node=new, timeout=DEADLINE)
        assert view(old).primary_id == node_id(new)
        await cluster.wait_until_slot_owner(SLOT, new, timeout=DEADLINE)


async def test_failover_refused_without_replica() -> None:
    async with start_cluster(3, 0) as cluster:
        with pytest.raises(TopologyError, match="no live replica"):
            await cluster.failover(cluster.primaries[0], "manual")
        with pytest.raises(ValueError, match="failover mode"):
            await cluster.failover(cluster.primaries[0], "sideways")


async def test_move_slot_half_way_then_finish() -> None:
    async with start_cluster(3, 0) as cluster:
        keys = await write_keys(cluster, 10)
        source = cluster.node_for_slot(SLOT)
        target = next(n for n in cluster.primaries if n is not source)
        move = await cluster.move_slots(SLOT, target, stop_half_way=True)
        assert not move.complete and len(move.moved_keys) == 5
        assert view(source).migrating == {SLOT: node_id(target)}
        assert view(target).importing == {SLOT: node_id(source)}
        moved, stayed = set(move.moved_keys), [k for k in keys if k not in move.moved_keys]
        assert view(target).keys == moved and moved.isdisjoint(view(source).keys)
        # The source still serves what it has and sends the client on with ASK for the rest.
        assert await call(source, "GET", stayed[0]) == b"v-" + stayed[0]
        assert await call(source, "GET", move.moved_keys[0], check=False) == f"ASK {SLOT} 127.0.0.1:{target.port}"
        assert view(cluster.nodes[2]).owner_of(SLOT) == node_id(source)  # nobody else knows yet
        await move.finish()
        assert move.complete and set(move.moved_keys) == set(keys)
        await cluster.wait_until_slot_owner(SLOT, target, timeout=DEADLINE)
        assert view(source).migrating == {} and view(target).importing == {}
        assert await call(source, "GET", keys[0], check=False) == f"MOVED {SLOT} 127.0.0.1:{target.port}"
        assert await call(target, "GET", keys[0]) == b"v-" + keys[0]


async def test_move_a_range_of_slots() -> None:
    async with start_cluster(3, 0) as cluster:
        source, target = cluster.primaries[0], cluster.primaries[1]
        slots = range(100, 110)
        assert all(view(source).owner_of(s) == node_id(source) for s in slots)
        mark = cluster.event_mark()
        move = await cluster.move_slots(slots, target)
        assert move.complete
        for node in cluster.nodes:
            assert all(view(node).owner_of(s) == node_id(target) for s in slots)
        await cluster.wait_for_event("slot_owner_changed", node=cluster.primaries[2], after=mark, timeout=DEADLINE)


async def test_add_a_primary_and_a_replica_then_remove_them() -> None:
    async with start_cluster(3, 0, node_timeout=FAST_GOSSIP) as cluster:
        primary = cluster.primaries[0]
        empty = await cluster.add_node()
        replica = await cluster.add_node(replica_of=primary)
        assert len(cluster.nodes) == 5
        for node in cluster.nodes:
            seen = view(node)
            assert {node_id(empty), node_id(replica)} <= set(seen.nodes)
            assert seen.nodes[node_id(replica)].primary_id == node_id(primary)
            assert seen.nodes[node_id(empty)].is_primary and not seen.slots_of(node_id(empty))
        key = next(k for k in (b"k%d" % i for i in range(100_000)) if cluster.node_for_slot(key_hash_slot(k)) is primary)
        await call(primary, "SET", key, "copied")  # replication really runs to the new replica
        await wait_until(lambda: key in view(replica).keys, "the key reaches the new replica", DEADLINE)
        # A new primary takes slots like any other.
        await cluster.move_slots(range(0, 5), empty)
        with pytest.raises(TopologyError, match="still serves slots"):
            await cluster.remove_node(empty)
        await cluster.remove_node(replica)
        assert replica not in cluster.nodes
        for node in cluster.nodes:
            assert node_id(replica) not in view(node).nodes


async def test_restart_a_killed_node_keeps_its_id_and_rejoins() -> None:
    async with start_cluster(3, 0, node_timeout=300) as cluster:
        victim = cluster.primaries[1]
        victim_id, port = node_id(victim), victim.port
        await cluster.kill(victim)
        await cluster.wait_until_failed_everywhere(victim, timeout=DEADLINE)
        observer = cluster.primaries[0]
        assert view(observer).nodes[victim_id].failed and "fail" in view(observer).nodes[victim_id].flags
        fresh = await cluster.restart(victim)
        assert fresh is not victim and fresh in cluster.nodes and victim not in cluster.nodes
        assert node_id(fresh) == victim_id and fresh.port == port
        await cluster.wait_for_healthy(fresh, timeout=DEADLINE)
        await cluster.wait_for_event("fail_cleared", lambda event: event["node"] == victim_id, node=observer,
                                     timeout=DEADLINE)  # fmt: skip
        assert not view(observer).nodes[victim_id].failed
        assert await call(fresh, "CLUSTER", "MYID") == victim_id.encode()
        await cluster.wait_until_ok(DEADLINE)


async def test_waits_time_out_with_a_clear_message() -> None:
    async with start_cluster(3, 0) as cluster:
        first = cluster.primaries[0]
        with pytest.raises(WaitTimeout, match=r"no 'fail' event where \{node='[0-9a-f]{40}'\} within 0.05s; no 'fail' event at all"):
            await cluster.wait_for_event("fail", {"node": first}, timeout=0.05)
        not_owner = next(n for n in cluster.primaries if n is not cluster.node_for_slot(SLOT))
        with pytest.raises(WaitTimeout, match=f"slot {SLOT} belongs to {not_owner.port}"):
            await cluster.wait_until_slot_owner(SLOT, not_owner, timeout=0.05)
        with pytest.raises(WaitTimeout, match="is FAIL for"):
            await cluster.wait_until_failed_everywhere(first, timeout=0.05)
