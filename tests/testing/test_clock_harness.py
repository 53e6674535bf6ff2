"""Time you control, through the harness (pyredis_cluster/testing/timecontrol.py).

Scaled clusters are compared on protocol time against wall time (each event carries the
protocol time it happened at; a listener notes the wall time it was seen at). Manual
clusters never wait for anything: time moves only in ``advance``.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest
import redis.asyncio

from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import cluster_in_thread, start_cluster
from pyredis_cluster.testing.harness import LocalCluster


def core(node: Node) -> Any:
    assert node.cluster is not None and node.cluster.state is not None
    return node.cluster.state


def flags_seen(observer: Node, subject: Node) -> NodeFlags:
    return core(observer).nodes[core(subject).myid].flags


class EventTimes:
    """(event, wall ms when it was seen) for every node's events from now on."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.seen: list[tuple[Event, float]] = []
        for node in cluster.nodes:
            assert node.cluster is not None
            node.cluster.listeners.append(lambda event: self.seen.append((event, time.time() * 1000)))

    def first(self, name: EventName, node_id: str) -> tuple[Event, float] | None:
        return next(((e, wall) for e, wall in self.seen if e.name == name and e.get("node") == node_id), None)


# ----------------------------------------------------------------------------
# Scaled time
# ----------------------------------------------------------------------------
async def test_time_scale_tenth_fails_over_ten_times_faster_than_node_timeout() -> None:
    node_timeout = 2000
    async with start_cluster(3, 1, node_timeout=node_timeout, time_scale=0.1) as cluster:
        seen = EventTimes(cluster)
        victim = cluster.primaries[0]
        victim_id = core(victim).myid
        killed_protocol_ms, killed_wall_ms = cluster.protocol_time_ms(), time.time() * 1000
        await cluster.kill(victim)
        await cluster.wait_for_event("failover_won", {"primary": victim_id}, timeout=30)
        fail = seen.first(EventName.FAIL, victim_id)
        assert fail is not None
        event, wall_ms = fail
        # The protocol's own rule holds in protocol time: no FAIL before node-timeout...
        assert event.time_ms - killed_protocol_ms >= node_timeout
        # ... which took a tenth of it in wall time (at scale 1 it could not be under node_timeout).
        assert wall_ms - killed_wall_ms < node_timeout
        assert cluster.nodes[1].config.cluster_time_scale == "0.1"


async def test_slow_motion_ten_times_pfail_not_before_ten_node_timeouts_of_wall_time() -> None:
    node_timeout = 100
    async with start_cluster(3, 0, node_timeout=node_timeout, time_scale=10) as cluster:
        seen = EventTimes(cluster)
        victim, observer, _ = cluster.primaries
        victim_id = core(victim).myid
        killed_protocol_ms, killed_wall_ms = cluster.protocol_time_ms(), time.time() * 1000
        await cluster.kill(victim)
        event = await cluster.wait_for_event("pfail", {"node": victim_id}, node=observer, timeout=30)
        pfail = seen.first(EventName.PFAIL, victim_id)
        assert pfail is not None
        _, wall_ms = pfail
        assert event.time_ms - killed_protocol_ms >= node_timeout
        assert wall_ms - killed_wall_ms >= node_timeout * 10  # slow motion: 10x in wall time
        # The protocol time the nodes see is a tenth of the wall time that passed.
        assert abs((cluster.protocol_time_ms() - killed_protocol_ms) * 10 - (time.time() * 1000 - killed_wall_ms)) < 200


async def test_set_time_scale_at_run_time_keeps_time_continuous_on_every_node() -> None:
    async with start_cluster(3, 0, time_scale=1) as cluster:
        before = cluster.protocol_time_ms()
        cluster.set_time_scale(1000)  # protocol time almost stops
        readings = [node.cluster.now() for node in cluster.nodes if node.cluster is not None]
        assert max(readings) - min(readings) <= 1  # one base: the nodes agree
        assert readings[0] >= before
        assert all(node.config.cluster_time_scale == "1000" for node in cluster.nodes)
        for node in cluster.nodes:  # from now on, a second of wall time is 1 ms of protocol time
            assert node.cluster is not None
            scaled = node.cluster.clock.scaled
            now = time.time() * 1000
            assert scaled.core_ms_at(now + 1000) - scaled.core_ms_at(now) == 1


# ----------------------------------------------------------------------------
# Manual time
# ----------------------------------------------------------------------------
async def test_manual_clock_nothing_happens_until_advanced_then_failover_in_protocol_time() -> None:
    node_timeout = 1000
    async with start_cluster(3, 1, node_timeout=node_timeout, manual_clock=True, seed=3) as cluster:
        victim = cluster.primaries[0]
        replica = cluster.replicas_of(victim)[0]
        victim_id = core(victim).myid
        start = cluster.protocol_time_ms()
        await cluster.kill(victim)
        await cluster.settle()  # the links' closing is seen, but protocol time does not move
        assert not flags_seen(cluster.nodes[1], victim) & (NodeFlags.PFAIL | NodeFlags.FAIL)
        assert cluster.protocol_time_ms() == start

        await cluster.advance(node_timeout - 100)  # not yet node_timeout without a PONG
        assert not flags_seen(cluster.nodes[1], victim) & NodeFlags.PFAIL
        await cluster.advance(300)
        assert flags_seen(cluster.nodes[1], victim) & NodeFlags.PFAIL
        assert cluster.protocol_time_ms() == start + node_timeout + 200

        steps = 0
        while not core(replica).myself.is_primary:
            await cluster.advance(100)
            steps += 1
            assert steps < 100, "no failover within 10 s of protocol time"
        won = cluster.events.matching("failover_won", {"primary": victim_id})
        assert len(won) == 1 and won[0].source == core(replica).myid
        assert won[0].time_ms - start >= node_timeout  # FAIL needs node_timeout first


async def test_step_hands_over_one_held_message_at_a_time() -> None:
    async with start_cluster(3, 0, manual_clock=True, seed=5) as cluster:
        talker = cluster.nodes[0]
        assert talker.cluster is not None and talker.cluster.bus is not None
        assert cluster.held() == []
        assert talker.cluster.bus.advance(1000) == 10  # its ticks ping the others...
        await cluster.time.deliver_in_flight()  # ... whose buses hold the pings, unread
        pending = cluster.held()
        assert pending and all(held.message.header.sender == core(talker).myid for _, held in pending)
        node, held = pending[0]
        received = core(node).stats_received[held.message.type]
        assert await cluster.step() == pending[0]  # the oldest one, and only it
        assert cluster.held() == pending[1:]
        assert core(node).stats_received[held.message.type] == received + 1
        await cluster.settle()
        assert cluster.held() == []


async def test_unfreeze_lets_time_run_and_freeze_stops_it_again() -> None:
    async with start_cluster(3, 0, manual_clock=True, seed=9, node_timeout=500) as cluster:
        start = cluster.protocol_time_ms()
        await cluster.unfreeze()
        deadline = time.monotonic() + 10
        while cluster.protocol_time_ms() < start + 300:  # runs at scale 1 from the frozen time
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        ticked = cluster.events.mark()
        await cluster.kill(cluster.primaries[0])
        await cluster.wait_for_event("fail", timeout=10, after=ticked)  # real ticks, real FAIL
        cluster.freeze()
        frozen_at = cluster.protocol_time_ms()
        await cluster.settle()
        assert cluster.protocol_time_ms() == frozen_at


async def test_freezing_an_ordinary_tcp_cluster_then_advancing_it() -> None:
    node_timeout = 500
    async with start_cluster(3, 0, node_timeout=node_timeout) as cluster:
        cluster.freeze()
        frozen_at = cluster.protocol_time_ms()
        victim = cluster.primaries[0]
        await cluster.kill(victim)
        await cluster.settle()  # the closed links are noticed; frozen time does not move
        assert cluster.protocol_time_ms() == frozen_at
        assert not flags_seen(cluster.nodes[1], victim) & (NodeFlags.PFAIL | NodeFlags.FAIL)
        # Over TCP, "settled" is a short quiet period, so how many steps the FAIL takes may
        # vary under load; that each step moves time by exactly 100 ms may not.
        steps = 0
        while not all(flags_seen(node, victim) & NodeFlags.FAIL for node in cluster.nodes[1:]):
            assert await cluster.advance(100) == 1
            steps += 1
            assert cluster.protocol_time_ms() == frozen_at + 100 * steps
            assert steps <= 100, "no FAIL within 10 s of protocol time"
        assert steps * 100 > node_timeout  # PFAIL needs node_timeout of protocol time first
        await cluster.unfreeze()
        assert not cluster.time.frozen and cluster.held() == []


# ----------------------------------------------------------------------------
# Manual failover: protocol time crosses into the server (the write pause, admin commands)
# ----------------------------------------------------------------------------
def pause_seen_when_writes_paused(primary: Node) -> list[float]:
    """The wall time (s) until which ``primary`` holds writes, noted as it reports the pause."""
    ends: list[float] = []

    def note(event: Event) -> None:
        if event.name == EventName.MANUAL_FAILOVER_WRITES_PAUSED and primary.client_pause is not None:
            ends.append(primary.client_pause.until)

    assert primary.cluster is not None
    primary.cluster.listeners.append(note)
    return ends


async def cluster_failover(replica: Node) -> None:
    client = redis.asyncio.Redis(port=replica.port)
    try:
        await client.execute_command("CLUSTER", "FAILOVER")
    finally:
        await client.aclose()


async def test_manual_failover_on_a_manual_clock_pauses_writes_until_the_core_resumes_them() -> None:
    async with start_cluster(3, 1, manual_clock=True, seed=11) as cluster:
        primary = cluster.primaries[0]
        replica = cluster.replicas_of(primary)[0]
        pause_ends = pause_seen_when_writes_paused(primary)
        start = cluster.protocol_time_ms()
        await cluster_failover(replica)
        while not pause_ends:  # message by message, until the primary has paused its writes
            assert await cluster.step() is not None, "the primary never paused its writes"
        # Frozen time never reaches the pause's end by itself: no wall-time end of 10 s.
        assert pause_ends[0] - time.time() > 3600
        await cluster.settle()  # no protocol time is needed for a manual failover
        assert core(replica).myself.is_primary
        assert cluster.protocol_time_ms() == start
        assert primary.client_pause is None or primary.client_pause.until <= time.time()  # lifted


async def test_failover_write_pause_lasts_its_protocol_time_in_wall_time() -> None:
    # At scale 10 the primary's pause (10 s of protocol time) lasts 100 s of wall time.
    async with start_cluster(3, 1, time_scale=10) as cluster:
        primary = cluster.primaries[0]
        replica = cluster.replicas_of(primary)[0]
        pause_ends = pause_seen_when_writes_paused(primary)
        mark = cluster.event_mark()
        asked_at = time.time()
        await cluster_failover(replica)
        paused = await cluster.wait_for_event("manual_failover_writes_paused", node=primary, after=mark, timeout=30)
        assert primary.cluster is not None and pause_ends
        wall_end = primary.cluster.clock.wall_ms_at(paused["until_ms"])
        assert wall_end is not None and pause_ends[0] == pytest.approx(wall_end / 1000, abs=0.01)
        assert pause_ends[0] - asked_at > 50  # not the 10 s a wall clock would give


# ----------------------------------------------------------------------------
# Determinism
# ----------------------------------------------------------------------------
def event_signature(cluster: LocalCluster) -> list[str]:
    """Every event since start-up: node index, name, protocol time, fields. Ports differ
    from run to run (port 0); they are replaced by the index of the node that has them."""
    ports = {}
    for index, node in enumerate(cluster.nodes):
        assert node.cluster is not None and node.cluster.bus is not None
        ports[str(node.port)] = f"<port {index}>"
        ports[str(node.cluster.bus.port)] = f"<cport {index}>"
    lines = []
    for seen in cluster.events.entries:
        event = seen.event
        text = f"{cluster.nodes.index(seen.node)} {event.name} {event.time_ms} {sorted(event.fields.items())}"
        lines.append(re.sub(r"\b\d{2,5}\b", lambda m: ports.get(m.group(), m.group()), text))
    return lines


async def failover_story(seed: int) -> list[str]:
    async with start_cluster(3, 1, node_timeout=500, manual_clock=True, seed=seed) as cluster:
        victim = cluster.primaries[1]
        replica = cluster.replicas_of(victim)[0]
        await cluster.kill(victim)
        await cluster.advance(2500)
        assert core(replica).myself.is_primary
        return event_signature(cluster)


async def test_same_seed_same_story_fifty_times() -> None:
    first = await failover_story(seed=42)
    names = [line.split()[1] for line in first]
    assert {"pfail", "fail", "election_started", "vote_granted", "failover_won"} <= set(names)
    for run in range(49):
        assert await failover_story(seed=42) == first, f"run {run + 2} differs"


async def test_another_seed_another_story() -> None:
    # Node ids come from the seed (so does every random pick): the stories differ.
    assert await failover_story(seed=1) != await failover_story(seed=2)


def test_synchronous_cluster_advances_and_steps_too() -> None:
    with cluster_in_thread(3, 0, manual_clock=True, seed=4, node_timeout=500) as cluster:
        start = cluster.protocol_time_ms()
        victim = cluster.primaries[0]
        cluster.kill(victim)
        assert cluster.advance(1000) == 10
        assert cluster.protocol_time_ms() == start + 1000
        assert all(flags_seen(node, victim) & NodeFlags.FAIL for node in cluster.nodes[1:])
        assert cluster.held() == [] and cluster.step() is None  # advance leaves nothing held


async def isolation_story(seed: int) -> list[str]:
    async with start_cluster(3, 1, node_timeout=500, manual_clock=True, seed=seed) as cluster:
        victim = cluster.primaries[2]
        replica = cluster.replicas_of(victim)[0]
        cluster.isolate(victim)  # alive, but cut from the bus: its replica takes over
        await cluster.advance(3000)
        assert core(replica).myself.is_primary
        return event_signature(cluster)


async def test_isolated_primary_same_story_ten_times() -> None:
    first = await isolation_story(seed=7)
    assert "failover_won" in {line.split()[1] for line in first}
    for run in range(9):
        assert await isolation_story(seed=7) == first, f"run {run + 2} differs"
