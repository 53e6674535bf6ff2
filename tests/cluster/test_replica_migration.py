"""Replica migration (bus.md §6; replica_migration.py): stepped by hand, then simulated."""

from __future__ import annotations

from pyredis_cluster.cluster.effects import ReplicationChanged
from pyredis_cluster.cluster.events import EventName
from pyredis_cluster.cluster.messages import BusClusterState
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.replica_migration import OrphanScan, handle_replica_migration
from pyredis_cluster.cluster.state import ClusterState
from pyredis_cluster.testing.simulation import Simulation
from tests.cluster.test_election import T0, A, B, C, R, S, events, load

NT = 2000


def with_orphan(me: str) -> ClusterState:
    """C (healthy) has replicas R and S; A used to have replicas (MIGRATE_TO) and has none."""
    state = load(me, c_flags="master")
    state.nodes[A].flags |= NodeFlags.MIGRATE_TO
    state.state = BusClusterState.OK
    return state


def scan(state: ClusterState) -> OrphanScan:
    result = OrphanScan()
    for node in state.nodes.values():
        if not node.is_myself:
            result.observe(state, node)
    return result


def test_scan_counts_orphans_and_the_best_covered_primary() -> None:
    state = with_orphan(R)
    result = scan(state)
    assert (result.orphaned_primaries, result.max_replicas, result.my_primary_replicas) == (1, 2, 2)
    assert result.migration_possible(state)
    state.nodes[S].flags |= NodeFlags.FAIL  # a FAIL sibling is not an ok replica
    assert scan(state).max_replicas == 1 and not scan(state).migration_possible(state)
    state.nodes[S].flags = NodeFlags.REPLICA | NodeFlags.PFAIL  # PFAIL still counts as ok here
    assert scan(state).max_replicas == 2
    state.settings.allow_replica_migration = False
    assert not scan(state).migration_possible(state)


def test_smallest_id_migrates_after_the_orphan_delay() -> None:
    state = with_orphan(R)  # R = "eee..." < S = "fff...": R is the candidate
    handle_replica_migration(state, 2)
    assert state.nodes[A].orphaned_time == T0 and state.myself.primary_id == C
    state._now = T0 + 5000
    handle_replica_migration(state, 2)
    assert state.myself.primary_id == C  # must be orphaned for MORE than 5 s
    state._begin(T0 + 5001)
    handle_replica_migration(state, 2)
    effects = state._finish()
    assert state.myself.primary_id == A
    moved = events(effects, EventName.REPLICA_MIGRATED)[0]
    assert moved["from_primary"] == C and moved["to"] == A and moved.describe() == f"Migrating to orphaned master {A}"
    assert ReplicationChanged(A, "127.0.0.1", 30001) in effects


def test_the_other_replica_stays() -> None:
    state = with_orphan(S)
    state._now = T0
    handle_replica_migration(state, 2)
    state._now = T0 + 10_000
    handle_replica_migration(state, 2)
    assert state.myself.primary_id == C


def test_barrier_and_cluster_state_keep_it_home() -> None:
    state = with_orphan(R)
    state.settings.migration_barrier = 2  # C would keep 1 replica: not enough
    handle_replica_migration(state, 2)
    state._now = T0 + 10_000
    handle_replica_migration(state, 2)
    assert state.myself.primary_id == C
    state = with_orphan(R)
    state.state = BusClusterState.FAIL
    handle_replica_migration(state, 2)
    assert state.nodes[A].orphaned_time == 0  # not even tracked while the cluster is down


def test_a_primary_without_migrate_to_is_not_an_orphan() -> None:
    state = with_orphan(R)
    state.nodes[A].flags &= ~NodeFlags.MIGRATE_TO
    assert scan(state).orphaned_primaries == 0
    assert B in state.nodes


# ----------------------------------------------------------------------------
# simulation
# ----------------------------------------------------------------------------
def test_replica_moves_to_a_primary_whose_replica_died() -> None:
    sim = Simulation(6, seed=21, node_timeout=NT)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 0, 5: 1})
    sim.kill(5)
    mover = 3 if sim.id(3) < sim.id(4) else 4
    stayer = 7 - mover
    assert sim.run_until(lambda: sim.state(mover).myself.primary_id == sim.id(1), 20 * NT)
    moved = sim.events_named(EventName.REPLICA_MIGRATED)
    assert [e.source for e in moved] == [sim.id(mover)] and moved[0]["to"] == sim.id(1)
    assert moved[0]["orphaned_ms"] > 5000
    assert sim.state(stayer).myself.primary_id == sim.id(0)
    assert sim.run_until(lambda: all(sim.state(i).nodes[sim.id(mover)].primary_id == sim.id(1)
                                     for i in (0, 1, 2, 3, 4)), 5 * NT)


def test_orphan_left_by_a_failover_gets_a_replica() -> None:
    # the tutorial's case: 2's only replica (5) takes over; 5 now has no replica of its
    # own but MIGRATE_TO (it replaced a primary that had one); a replica of 0 moves to it.
    sim = Simulation(6, seed=4, node_timeout=NT)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 0, 5: 2})
    sim.kill(2)
    assert sim.run_until(lambda: sim.state(5).myself.is_primary, 10 * NT)
    assert sim.run_until(lambda: sim.events_named(EventName.REPLICA_MIGRATED), 20 * NT)
    mover = sim.index_of(sim.events_named(EventName.REPLICA_MIGRATED)[0].source)
    assert mover in (3, 4) and sim.state(mover).myself.primary_id == sim.id(5)
    assert len(sim.events_named(EventName.REPLICA_MIGRATED)) == 1


def test_barrier_two_means_no_migration() -> None:
    sim = Simulation(6, seed=21, node_timeout=NT)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 0, 5: 1})
    for i in range(6):
        sim.state(i).settings.migration_barrier = 2
    sim.kill(5)
    sim.run_for(15 * NT)
    assert not sim.events_named(EventName.REPLICA_MIGRATED)
