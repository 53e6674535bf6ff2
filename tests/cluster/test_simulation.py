"""Deterministic simulation scenarios: whole clusters of cores over the real wire format.

Every message in these scenarios is encoded by codec.encode and decoded by a
BusDecoder. Times are simulated; each scenario takes milliseconds of real time.
"""

from __future__ import annotations

import pytest

from pyredis_cluster.cluster.events import EventName
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.state import ClusterHealth
from pyredis_cluster.cluster.views import cluster_nodes_text
from pyredis_cluster.testing.simulation import Simulation

NT = 2000


@pytest.fixture
def sim6() -> Simulation:
    sim = Simulation(6, seed=11, node_timeout=NT)
    sim.create_cluster()
    return sim


def test_six_nodes_handshake_and_converge() -> None:
    sim = Simulation(6, seed=3, node_timeout=NT, trace_messages=True)
    sim.set_config_epochs()
    sim.assign_slots()
    sim.meet_all()  # node 0 meets the 5 others; gossip does the rest
    assert sim.run_until(sim.converged, 10_000)
    assert sim.run_until(sim.cluster_ok, 5_000)
    for i in range(6):
        state = sim.state(i)
        assert len(state.nodes) == 6 and state.size == 6 and state.current_epoch == 6
        text = cluster_nodes_text(state)
        assert text.count("\n") == 6 and "handshake" not in text and "disconnected" not in text
        for j in range(6):
            assert state.nodes[sim.id(j)].config_epoch == j + 1
    # only node 0 ever sent MEET; the others joined through gossip
    meets = [m for m in sim.messages if m.type == "meet"]
    assert meets and {m.src for m in meets} == {0}
    assert len(sim.events_named(EventName.HANDSHAKE_COMPLETED)) == 10  # 5 pairs, both directions
    assert len(sim.events_named(EventName.NODE_ADDED)) == 20  # 5 nodes x 4 others learned by gossip


def test_kill_pfail_fail_and_revive(sim6: Simulation) -> None:
    victim = sim6.id(2)
    start = sim6.now
    sim6.kill(2)
    assert sim6.run_until(lambda: sim6.all_see_flag(victim, NodeFlags.FAIL), 5 * NT)
    pfails = sim6.events_named(EventName.PFAIL)
    assert pfails and all(e["node"] == victim for e in pfails)
    first_pfail = min(e.time_ms for e in pfails)
    assert first_pfail - start > NT  # never before node_timeout
    fails = sim6.events_named(EventName.FAIL)
    assert len(sim6.events_named(EventName.FAIL_BROADCAST)) >= 1
    assert {e.source for e in fails} == {sim6.id(i) for i in (0, 1, 3, 4, 5)}
    assert all(sim6.state(i).state == ClusterHealth.FAIL for i in (0, 1, 3, 4, 5))  # its slots are down

    sim6.revive(2)
    # a primary with slots: FAIL is cleared 2 x node_timeout after it was set, once reachable
    assert sim6.run_until(lambda: sim6.none_see_flag(victim, NodeFlags.FAIL) and sim6.cluster_ok(), 6 * NT)
    cleared = sim6.events_named(EventName.FAIL_CLEARED)
    assert cleared and all(e.time_ms - min(f.time_ms for f in fails) > 2 * NT for e in cleared)
    assert sim6.state(2).myid == victim and sim6.converged()


def test_killed_replica_fail_clears_at_once() -> None:
    sim = Simulation(4, seed=5, node_timeout=NT)
    sim.create_cluster(replicas={3: 0})
    replica = sim.id(3)
    sim.kill(3)
    assert sim.run_until(lambda: sim.all_see_flag(replica, NodeFlags.FAIL), 5 * NT)
    assert sim.cluster_ok()  # a failed replica does not hurt coverage
    sim.revive(3)
    t = sim.now
    assert sim.run_until(lambda: sim.none_see_flag(replica, NodeFlags.FAIL), 2 * NT)
    assert sim.now - t < 2 * NT
    assert all("replica is reachable again." in e["why"] for e in sim.events_named(EventName.FAIL_CLEARED))
    assert sim.state(3).myself.is_replica and sim.state(3).myself.primary_id == sim.id(0)


def test_partition_majority_fails_the_minority(sim6: Simulation) -> None:
    sim6.partition([0, 1, 2, 3], [4, 5])
    minority = [sim6.id(4), sim6.id(5)]
    assert sim6.run_until(
        lambda: all(sim6.all_see_flag(n, NodeFlags.FAIL, among=[0, 1, 2, 3]) for n in minority), 5 * NT
    )
    # the minority sees the majority PFAIL, never FAIL (2 reports < 6/2+1), and stops serving
    assert sim6.run_until(lambda: all(sim6.state(i).state == ClusterHealth.FAIL for i in (4, 5)), NT)
    for i in (4, 5):
        for j in (0, 1, 2, 3):
            node = sim6.state(i).nodes[sim6.id(j)]
            assert node.timed_out and not node.failed
    sim6.heal()
    assert sim6.run_until(lambda: sim6.cluster_ok() and all(
        sim6.none_see_flag(n, NodeFlags.FAIL) and sim6.none_see_flag(n, NodeFlags.PFAIL)
        for n in [sim6.id(i) for i in range(6)]), 10 * NT)
    assert sim6.converged()


def test_one_way_loss_gives_pfail_but_no_fail(sim6: Simulation) -> None:
    sim6.one_way_loss(1, 0)  # node 0 never hears from node 1; everyone else does
    assert sim6.run_until(lambda: sim6.state(0).nodes[sim6.id(1)].timed_out, 5 * NT)
    sim6.run_for(4 * NT)
    assert sim6.none_see_flag(sim6.id(1), NodeFlags.FAIL)
    assert sim6.cluster_ok()
    sim6.heal()
    assert sim6.run_until(lambda: not sim6.state(0).nodes[sim6.id(1)].timed_out, 3 * NT)


def test_pause_and_resume(sim6: Simulation) -> None:
    sim6.pause(4)
    assert sim6.run_until(lambda: sim6.all_see_flag(sim6.id(4), NodeFlags.FAIL), 5 * NT)
    sim6.resume(4)
    assert sim6.run_until(lambda: sim6.none_see_flag(sim6.id(4), NodeFlags.FAIL) and sim6.cluster_ok(), 6 * NT)


def test_epoch_collisions_resolve_to_unique_epochs() -> None:
    sim = Simulation(6, seed=8, node_timeout=NT)
    sim.assign_slots()
    sim.meet_all()  # every node starts with configEpoch 0: all collide

    def unique() -> bool:
        epochs = [s.myself.config_epoch for s in sim.states]
        return len(set(epochs)) == 6 and all(
            s.nodes[sim.id(j)].config_epoch == sim.state(j).myself.config_epoch for s in sim.states for j in range(6)
        )

    assert sim.run_until(unique, 20 * NT)
    collisions = sim.events_named(EventName.CONFIG_EPOCH_COLLISION)
    assert collisions
    # the node with the greatest id never moves
    largest = max(range(6), key=sim.id)
    assert sim.state(largest).myself.config_epoch == 0
    assert all(e.source != sim.id(largest) for e in collisions)
    assert sim.run_until(lambda: sim.converged() and sim.cluster_ok(), 5 * NT)


def test_stale_primary_gets_update_and_follows_the_new_owner() -> None:
    sim = Simulation(3, seed=2, node_timeout=NT)
    sim.set_config_epochs()
    sim.admin(0, "addslotsrange", [(0, 8000)])
    sim.admin(1, "addslotsrange", [(8001, 16000)])
    sim.admin(2, "addslotsrange", [(16001, 16383)])
    sim.meet_all()
    assert sim.run_until(lambda: sim.converged() and sim.cluster_ok(), 10 * NT)
    sim.isolate(2)
    assert sim.run_until(lambda: sim.all_see_flag(sim.id(2), NodeFlags.FAIL, among=[0, 1]), 5 * NT)
    # the majority reassigns node 2's slots to node 0, which takes a new epoch (a
    # "resharding" while node 2 is away); node 1 learns it from node 0's PONGs
    for slot in range(16001, 16384):
        sim.admin(0, "setslot", slot, "node", sim.id(0))
    assert sim.admin(0, "bumpepoch") is True
    assert sim.run_until(lambda: sim.slot_maps_agree([0, 1]), 2 * NT)
    assert sim.state(1).owner_of(16383) is sim.state(1).nodes[sim.id(0)]
    sim.heal()
    sim.one_way_loss(0, 2)  # node 2 cannot hear node 0 itself: only an UPDATE can tell it
    # node 2 still claims 16001-16383 with epoch 3 < 4: node 1 sends it an UPDATE about
    # node 0; node 2 loses its last slot and becomes node 0's replica
    assert sim.run_until(lambda: sim.state(2).myself.is_replica, 5 * NT)
    assert sim.state(2).myself.primary_id == sim.id(0)
    assert sim.events_named(EventName.UPDATE_SENT) and sim.events_named(EventName.UPDATE_RECEIVED, source=sim.id(2))
    sim.heal()
    assert sim.run_until(lambda: sim.converged() and sim.cluster_ok() and all(
        s.nodes[sim.id(2)].is_replica for s in sim.states), 10 * NT)


def test_forget_everywhere_removes_a_dead_node(sim6: Simulation) -> None:
    victim = sim6.id(5)
    sim6.admin(5, "flushslots")  # give its slots to node 0 first
    for k in range(6):
        if k != 5:
            sim6.admin(k, "delslotsrange", [r for r in sim6.state(k).nodes[victim].slots.ranges()]) \
                if sim6.state(k).nodes[victim].slots else None
    sim6.kill(5)
    for k in range(5):
        sim6.admin(k, "forget", victim)
    sim6.run_for(10 * NT)
    assert all(victim not in sim6.state(k).nodes for k in range(5))  # gossip cannot re-add it
    assert sim6.all_know_each_other([0, 1, 2, 3, 4])


def test_hostnames_travel_in_every_ping() -> None:
    sim = Simulation(3, seed=4, node_timeout=NT, hostnames=True)
    sim.create_cluster()
    for i in range(3):
        for j in range(3):
            if i != j:
                assert sim.state(i).nodes[sim.id(j)].hostname == f"node{j}.sim"
    assert "127.0.0.1:30002@40002,node1.sim " in cluster_nodes_text(sim.state(0))


def test_publish_reaches_every_node() -> None:
    sim = Simulation(3, seed=6, node_timeout=NT)
    sim.create_cluster()
    sim.admin(1, "build_publish", b"news", b"hello")
    sim.run_for(10)
    assert [(p.channel, p.message) for p in sim.nodes[0].published] == [(b"news", b"hello")]
    assert [(p.channel, p.message) for p in sim.nodes[2].published] == [(b"news", b"hello")]
    assert sim.nodes[1].published == []


def test_random_loss_is_survived() -> None:
    sim = Simulation(5, seed=9, node_timeout=NT)
    sim.create_cluster()  # MEET is one-shot, as in Redis: join first, then lose packets
    sim.drop_rate = 0.05
    sim.run_for(20 * NT)
    assert sim.all_know_each_other()
    sim.heal()
    assert sim.run_until(lambda: sim.converged() and sim.cluster_ok() and all(
        sim.none_see_flag(sim.id(i), NodeFlags.PFAIL | NodeFlags.FAIL) for i in range(5)), 10 * NT)


def _run_scenario(seed: int) -> list[tuple[int, str, str, tuple[tuple[str, str], ...]]]:
    sim = Simulation(6, seed=seed, node_timeout=NT, jitter_ms=3)
    sim.create_cluster()
    sim.kill(1)
    sim.run_for(4 * NT)
    sim.revive(1)
    sim.partition([0, 1, 2], [3, 4, 5])
    sim.run_for(3 * NT)
    sim.heal()
    sim.run_for(4 * NT)
    return sim.event_signature()


def test_same_seed_same_events_different_seed_different_events() -> None:
    first = _run_scenario(42)
    assert first == _run_scenario(42)
    assert first != _run_scenario(43)
    assert len(first) > 100


def test_events_do_not_depend_on_the_hash_seed() -> None:
    """Set/dict-of-str iteration order varies with PYTHONHASHSEED; the simulation must not."""
    import os
    import subprocess
    import sys

    code = (
        "import hashlib\n"
        "from tests.cluster.test_simulation import _run_scenario\n"
        "print(hashlib.sha256(repr(_run_scenario(7)).encode()).hexdigest())\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    digests = set()
    for hash_seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=root)
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True,
                             check=True, timeout=120)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
