"""A half-migrated slot in the deterministic simulation: who answers what, and what a
failover of the source does to the migration (Redis 7.0's semantics).

Theory of operation
-------------------
Six cores (primaries 0, 1, 2; replicas 3, 4, 5 of them) on the simulated bus. Slot
``SLOT`` of primary 0 holds a few keys; it is opened towards primary 1 exactly as
``redis-cli --cluster reshard`` does (SETSLOT IMPORTING on the target, then MIGRATING
on the source) and some keys are MIGRATEd. The routing answers are the server's own
pure decision (server/cluster_routing.py) over each core's slot view and key names.

Then the source dies. In 7.0 the migration state is local to the two primaries: the
source's replica never had MIGRATING (SETSLOT is not replicated), so once promoted it
owns the slot as a plain slot (the keys already moved are simply absent there); the
target keeps IMPORTING, and a node importing a slot does not rebind it on anybody's
claim (only an admin closes it), so the target still names the dead source as the
owner, which makes its whole cluster state FAIL (a slot bound to a FAIL node counts as
uncovered) until SETSLOT STABLE. The revived source follows the promoted replica and
drops its MIGRATING state (clusterSetMaster closes all slots).
Each step is checked in the state and in the event stream.
"""

from __future__ import annotations

from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.cluster.state import ClusterHealth
from pyredis_cluster.cluster.views import cluster_nodes_text
from pyredis_cluster.server.cluster_routing import LOCAL, Route
from pyredis_cluster.testing.simulation import Simulation

NT = 2000
SLOT = 100
SOURCE, TARGET, OTHER, SOURCE_REPLICA = 0, 1, 2, 3


def keys_in_slot(slot: int, count: int) -> list[bytes]:
    tag = next(f"t{i}" for i in range(100_000) if key_hash_slot(f"t{i}".encode()) == slot)
    return [f"{{{tag}}}:{i}".encode() for i in range(count)]


def half_migrated(seed: int = 7) -> tuple[Simulation, list[bytes], list[bytes]]:
    """The cluster with SLOT half-way from 0 to 1: (sim, keys moved, keys still on 0)."""
    sim = Simulation(6, seed=seed, node_timeout=NT)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 1, 5: 2})
    assert sim.state(0).owner_of(SLOT) is sim.state(0).myself
    keys = keys_in_slot(SLOT, 10)
    sim.set_keys(SOURCE, keys)
    assert sim.run_until(lambda: sim.nodes[SOURCE_REPLICA].keyspace.count_keys_in_slot(SLOT) == 10, NT)
    sim.open_slot(SLOT, SOURCE, TARGET)
    moved = sim.migrate_keys(SOURCE, TARGET, keys[:4])
    assert moved == keys[:4]
    # The replica gets the source's DELs of the moved keys through replication.
    assert sim.run_until(lambda: sim.nodes[SOURCE_REPLICA].keyspace.count_keys_in_slot(SLOT) == 6, NT)
    return sim, moved, keys[4:]


def _covers(ranges: str, slot: int) -> bool:
    """Whether an event's slot ranges ("0-99 101-5460") include ``slot``."""
    for token in ranges.split():
        first, _, last = token.partition("-")
        if int(first) <= slot <= int(last or first):
            return True
    return False


def _states(sim: Simulation, name: EventName, slot_state: str) -> list[Event]:
    return [e for e in sim.events_named(name) if e["slot"] == SLOT and e["state"] == slot_state]


def test_source_and_target_views_during_migration() -> None:
    sim, moved, stays = half_migrated()
    source_id, target_id = sim.id(SOURCE), sim.id(TARGET)
    # CLUSTER NODES marks, only on the two primaries concerned.
    assert f"[{SLOT}->-{target_id}]" in cluster_nodes_text(sim.state(SOURCE))
    assert f"[{SLOT}-<-{source_id}]" in cluster_nodes_text(sim.state(TARGET))
    for i in (OTHER, SOURCE_REPLICA):
        assert "[" not in cluster_nodes_text(sim.state(i))
    assert not sim.state(SOURCE_REPLICA).migrating_slots_to  # SETSLOT is not replicated
    # The event stream says who opened what.
    assert [(e.source, e["peer"]) for e in _states(sim, EventName.SLOT_STATE_CHANGED, "importing")] == [
        (target_id, source_id)]  # fmt: skip
    assert [(e.source, e["peer"]) for e in _states(sim, EventName.SLOT_STATE_CHANGED, "migrating")] == [
        (source_id, target_id)]  # fmt: skip
    # Ownership did not move: everybody still maps the slot to the source.
    assert all(sim.state(i).owner_of(SLOT).name == source_id for i in range(6))

    def answer(i: int, key: bytes, **flags: bool) -> tuple[Route, str | None]:
        decision = sim.route_query(i, key, **flags)
        return decision.route, decision.node.name if decision.node is not None else None

    # The source serves what it still has and sends the rest to the target with ASK.
    assert sim.route_query(SOURCE, stays[0]) == LOCAL
    assert answer(SOURCE, moved[0]) == (Route.ASK, target_id)
    assert answer(SOURCE, b"{%s}new" % moved[0].split(b"}")[0][1:], write=True) == (Route.ASK, target_id)
    # The target serves the slot only after ASKING; without it, MOVED back to the owner.
    assert answer(TARGET, moved[0]) == (Route.MOVED, source_id)
    assert sim.route_query(TARGET, moved[0], asking=True) == LOCAL
    assert sim.route_query(TARGET, stays[0], asking=True) == LOCAL  # served here: not found
    # Everybody else: MOVED to the owner. The source's replica serves READONLY reads of
    # what it replicated, which no longer includes the moved keys.
    assert answer(OTHER, moved[0]) == (Route.MOVED, source_id)
    assert answer(SOURCE_REPLICA, stays[0]) == (Route.MOVED, source_id)
    assert sim.route_query(SOURCE_REPLICA, stays[0], readonly=True) == LOCAL
    assert stays[0] in sim.nodes[SOURCE_REPLICA].keyspace and moved[0] not in sim.nodes[SOURCE_REPLICA].keyspace


def test_failover_of_the_source_during_migration() -> None:
    sim, moved, stays = half_migrated()
    source_id, target_id, promoted_id = sim.id(SOURCE), sim.id(TARGET), sim.id(SOURCE_REPLICA)
    killed_at = sim.now
    sim.kill(SOURCE)
    survivors = [1, 2, 3, 4, 5]
    assert sim.run_until(lambda: sim.state(SOURCE_REPLICA).myself.is_primary
                         and all(sim.state(i).owner_of(SLOT).name == promoted_id for i in (2, 4, 5)), 20 * NT)  # fmt: skip

    # Events: the source was failed, its replica won the election and took its slots.
    assert any(e["node"] == source_id for e in sim.events_named(EventName.FAIL))
    won = sim.events_named(EventName.FAILOVER_WON, source=promoted_id)
    assert won and won[0].time_ms > killed_at
    taken = sim.events_named(EventName.FAILOVER_TAKEN_OVER, source=promoted_id)
    assert taken and taken[0]["old_primary"] == source_id
    # The promoted replica owns the slot as a plain slot: it never had MIGRATING.
    promoted = sim.state(SOURCE_REPLICA)
    assert promoted.owner_of(SLOT) is promoted.myself and not promoted.migrating_slots_to
    assert f"[{SLOT}->-" not in cluster_nodes_text(promoted)
    # So it serves every key of the slot itself: the keys already moved are not there
    # (a client reads nil for them: no ASK any more), the others are.
    assert sim.route_query(SOURCE_REPLICA, moved[0]) == LOCAL and moved[0] not in sim.nodes[SOURCE_REPLICA].keyspace
    assert sim.route_query(SOURCE_REPLICA, stays[0]) == LOCAL and stays[0] in sim.nodes[SOURCE_REPLICA].keyspace

    # The target is still importing from the dead source and, as 7.0, lets nobody's claim
    # rebind an importing slot: it took the promoted replica's other slots, not this one.
    target = sim.state(TARGET)
    assert target.importing_slots_from[SLOT].name == source_id
    assert target.owner_of(SLOT).name == source_id and NodeFlags.FAIL in target.owner_of(SLOT).flags
    rebound = [e for e in sim.events_named(EventName.SLOT_OWNER_CHANGED, source=target_id)
               if e.time_ms > killed_at and e["node"] == promoted_id]  # fmt: skip
    assert rebound and not any(_covers(e["slots"], SLOT) for e in rebound)
    # A slot bound to a FAIL node is an uncovered slot: the whole target is down
    # (cluster_state:fail, CLUSTERDOWN for every key) until the admin acts.
    assert target.state is ClusterHealth.FAIL
    assert sim.route_query(TARGET, moved[0]).route is Route.DOWN_STATE
    assert sim.route_query(TARGET, keys_in_slot(16000, 1)[0]).route is Route.DOWN_STATE

    # The admin closes the import on the target: the next claim of the promoted replica
    # binds the slot there too, and the cluster agrees again.
    sim.admin(TARGET, "setslot", SLOT, "stable", None)
    assert sim.run_until(lambda: target.owner_of(SLOT).name == promoted_id and sim.converged(survivors), 10 * NT)
    assert sim.run_until(lambda: target.state is ClusterHealth.OK, NT)
    decision = sim.route_query(TARGET, moved[0])
    assert decision.route is Route.MOVED and decision.node.name == promoted_id
    # The moved keys are now keys of a slot the target does not own (what --cluster fix finds).
    assert all(key in sim.nodes[TARGET].keyspace for key in moved)

    # The old source comes back with its saved MIGRATING state, learns that its slots
    # have a newer owner, follows it as a replica and closes its open slots.
    assert f"[{SLOT}->-{target_id}]" in (sim.nodes[SOURCE].nodes_conf or "")
    sim.revive(SOURCE)
    assert sim.run_until(lambda: sim.state(SOURCE).myself.primary_id == promoted_id, 10 * NT)
    assert not sim.state(SOURCE).migrating_slots_to
    roles = [e for e in sim.events_named(EventName.ROLE_CHANGED, source=source_id) if e.time_ms > killed_at]
    assert roles and roles[-1]["primary"] == promoted_id
    assert sim.run_until(lambda: sim.converged() and sim.cluster_ok(), 10 * NT)


def test_the_scenario_is_deterministic() -> None:
    runs = []
    for _ in range(2):
        sim, _, _ = half_migrated(seed=21)
        sim.kill(SOURCE)
        sim.run_for(10 * NT)
        runs.append(sim.event_signature())
    assert runs[0] == runs[1] and len(runs[0]) > 50
