"""Automatic failover scenarios in the deterministic simulation (bus.md §4).

Whole clusters of cores on a manual clock, every message through the real codec,
replication modelled by offsets (testing/simulation.py). Each runs in milliseconds.
"""

from __future__ import annotations

from pyredis_cluster.cluster.effects import ReplicationChanged
from pyredis_cluster.cluster.election import ElectionPhase, VoteRefusal
from pyredis_cluster.cluster.events import EventName
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.testing.simulation import Simulation

NT = 2000


def build(n: int, primaries: list[int], replicas: dict[int, int], seed: int = 5) -> Simulation:
    sim = Simulation(n, seed=seed, node_timeout=NT)
    sim.create_cluster(primaries=primaries, replicas=replicas)
    return sim


def force_tick(sim: Simulation, i: int) -> None:
    """An extra cron run on node i right now (as if its timer fired at this instant)."""
    sim._run(i, sim.state(i).tick(sim.now))


def primary_of(sim: Simulation, i: int) -> str | None:
    return sim.state(i).myself.primary_id


def test_best_offset_wins_and_siblings_follow() -> None:
    # primaries 0 1 2; replicas 3 4 5 of primary 0 with different lags
    sim = build(7, [0, 1, 2], {3: 0, 4: 0, 5: 0, 6: 1})
    sim.set_replication_lag(3, 30)
    sim.set_replication_lag(5, 10)
    for _ in range(10):
        assert sim.write(0, 10)
    sim.run_for(1500)  # replicas catch up (to their lag) and advertise their offsets
    assert [sim.nodes[i].repl_offset for i in (3, 4, 5)] == [70, 100, 90]
    victim = sim.id(0)
    sim.kill(0)
    assert sim.run_until(lambda: sim.state(4).myself.is_primary, 10 * NT)
    scheduled = {e.source: e["rank"] for e in sim.events_named(EventName.ELECTION_SCHEDULED)}
    assert scheduled[sim.id(4)] == 0 and scheduled[sim.id(5)] == 1 and scheduled[sim.id(3)] == 2
    won = sim.events_named(EventName.FAILOVER_WON)
    assert [e.source for e in won] == [sim.id(4)]
    assert won[0]["votes"] >= 2 and won[0]["primary"] == victim
    # the siblings follow the winner; the slots moved everywhere
    assert sim.run_until(lambda: primary_of(sim, 3) == primary_of(sim, 5) == sim.id(4) and sim.cluster_ok(), 5 * NT)
    assert sim.slot_maps_agree()
    assert sim.slot_map(1)[sim.id(4)] == sim.slot_map(1).get(sim.id(4))
    assert victim not in sim.slot_map(1)
    assert ReplicationChanged(None) in sim.nodes[4].effects
    assert ReplicationChanged(sim.id(4), "127.0.0.1", sim.nodes[4].port) in sim.nodes[3].effects
    # every voter voted once in that epoch; the winner's epoch is the greatest config epoch
    epoch = won[0]["epoch"]
    assert sim.state(4).myself.config_epoch == epoch == max(n.config_epoch for n in sim.state(1).nodes.values())
    granted = [e for e in sim.events_named(EventName.VOTE_GRANTED) if e["epoch"] == epoch]
    assert len({e.source for e in granted}) == len(granted)


def test_same_seed_same_events() -> None:
    def run() -> list:  # type: ignore[type-arg]
        sim = build(6, [0, 1, 2], {3: 0, 4: 1, 5: 2}, seed=9)
        sim.kill(1)
        sim.run_until(lambda: sim.state(4).myself.is_primary and sim.cluster_ok(), 10 * NT)
        sim.run_for(1000)
        return sim.event_signature()

    first = run()
    assert any(sig[2] == "failover_won" for sig in first)
    assert first == run()


def test_old_primary_returns_as_a_replica_of_the_winner() -> None:
    sim = build(6, [0, 1, 2], {3: 0, 4: 1, 5: 2})
    sim.kill(0)
    assert sim.run_until(lambda: sim.state(3).myself.is_primary and sim.cluster_ok(), 10 * NT)
    sim.revive(0)  # restarts from its nodes.conf: still thinks it is a primary with epoch 1
    assert sim.state(0).myself.is_primary
    assert sim.run_until(lambda: primary_of(sim, 0) == sim.id(3) and sim.converged(), 10 * NT)
    assert sim.events_named(EventName.UPDATE_SENT)  # somebody told it its claim was stale
    assert sim.nodes[0].effects[-1] == ReplicationChanged(sim.id(3), "127.0.0.1", sim.nodes[3].port)
    assert not sim.state(0).myself.slots
    assert sim.run_until(sim.cluster_ok, 5 * NT)


def test_two_replicas_in_the_same_epoch_only_one_wins() -> None:
    sim = build(5, [0, 1, 2], {3: 0, 4: 0})
    sim.kill(0)
    assert sim.run_until(
        lambda: all(sim.state(i).election.phase is ElectionPhase.SCHEDULED for i in (3, 4)), 10 * NT
    )
    # Both replicas start at the very same instant: neither has seen the other's request.
    for i in (3, 4):
        sim.state(i).election.auth_time = sim.now
        force_tick(sim, i)
    started = sim.events_named(EventName.ELECTION_STARTED)
    assert len(started) == 2 and started[0]["epoch"] == started[1]["epoch"]
    epoch = started[0]["epoch"]
    assert sim.run_until(lambda: sim.state(3).myself.is_primary or sim.state(4).myself.is_primary, 5 * NT)
    winner = 3 if sim.state(3).myself.is_primary else 4
    loser = 7 - winner
    # each primary voted once in that epoch; the loser got "already voted"
    refused = [e for e in sim.events_named(EventName.VOTE_REFUSED) if e["node"] == sim.id(loser)]
    assert refused and all(e["reason"] == VoteRefusal.ALREADY_VOTED for e in refused)
    won = sim.events_named(EventName.FAILOVER_WON)
    assert len(won) == 1 and won[0].source == sim.id(winner) and won[0]["epoch"] == epoch
    # the loser follows the winner
    assert sim.run_until(lambda: primary_of(sim, loser) == sim.id(winner) and sim.cluster_ok(), 5 * NT)
    assert len(sim.events_named(EventName.FAILOVER_WON)) == 1


def test_second_replica_in_the_next_epoch_is_refused_as_voted_recently() -> None:
    sim = build(5, [0, 1, 2], {3: 0, 4: 0})
    sim.kill(0)
    assert sim.run_until(
        lambda: all(sim.state(i).election.phase is ElectionPhase.SCHEDULED for i in (3, 4)), 10 * NT
    )
    # 3 asks; 1 ms later its request has reached everybody (4's current epoch went up with
    # it) but 3's victory has not: 4 asks in the next epoch.
    sim.state(3).election.auth_time = sim.now
    force_tick(sim, 3)
    sim.run_for(1)
    sim.state(4).election.auth_time = sim.now
    force_tick(sim, 4)
    started = {e.source: e["epoch"] for e in sim.events_named(EventName.ELECTION_STARTED)}
    assert started[sim.id(4)] == started[sim.id(3)] + 1
    sim.run_for(100)
    refused = {e.source: e["reason"] for e in sim.events_named(EventName.VOTE_REFUSED) if e["node"] == sim.id(4)}
    # not "already voted" (a new epoch), but a vote about primary 0 was given < 2 x node_timeout ago
    assert refused[sim.id(1)] == refused[sim.id(2)] == VoteRefusal.VOTED_RECENTLY
    # and 3, a voter now, sees 4 claim slots it serves with a newer config epoch
    assert refused[sim.id(3)] == VoteRefusal.SLOT_EPOCH_NEWER
    assert sim.state(3).myself.is_primary
    assert sim.run_until(lambda: primary_of(sim, 4) == sim.id(3), 5 * NT)


def test_epoch_collision_after_a_failover_is_resolved() -> None:
    sim = build(4, [0, 1, 2], {3: 0})
    sim.kill(0)
    assert sim.run_until(lambda: sim.state(3).election.phase is ElectionPhase.SCHEDULED, 10 * NT)
    # The election and a CLUSTER BUMPEPOCH on primary 1 take the same epoch at the same instant.
    sim.state(3).election.auth_time = sim.now
    force_tick(sim, 3)
    assert sim.admin(1, "bumpepoch") is True
    epoch = sim.events_named(EventName.ELECTION_STARTED)[0]["epoch"]
    assert sim.state(1).myself.config_epoch == epoch
    assert sim.run_until(lambda: sim.state(3).myself.is_primary, 5 * NT)
    assert sim.state(3).myself.config_epoch == epoch  # both primaries at the same config epoch...
    assert sim.run_until(
        lambda: len({sim.state(1).nodes[sim.id(i)].config_epoch for i in (1, 2, 3)}) == 3 and sim.converged(),
        10 * NT,
    )
    collisions = sim.events_named(EventName.CONFIG_EPOCH_COLLISION)
    mover = min(sim.id(1), sim.id(3))  # ...until the smaller node id takes a new one
    assert collisions and {e.source for e in collisions} == {mover}
    assert sim.run_until(sim.cluster_ok, 5 * NT)


def test_partition_minority_primary_then_heal() -> None:
    sim = build(6, [0, 1, 2], {3: 0, 4: 1, 5: 2})
    assert sim.write(0)
    sim.partition([0], [1, 2, 3, 4, 5])
    # the majority fails 0 over to its replica; 0 itself stops taking writes
    assert sim.run_until(lambda: sim.state(3).myself.is_primary and sim.cluster_ok([1, 2, 3, 4, 5]), 10 * NT)
    assert sim.run_until(lambda: not sim.write(0), 5 * NT)
    assert sim.state(0).myself.is_primary  # it does not know yet
    sim.heal()
    assert sim.run_until(
        lambda: primary_of(sim, 0) == sim.id(3) and sim.converged() and sim.cluster_ok()
        and sim.none_see_flag(sim.id(0), NodeFlags.FAIL | NodeFlags.PFAIL),
        10 * NT,
    )
    assert sim.write(3) and not sim.write(0)


def test_no_majority_no_failover() -> None:
    # once the replica knows its primary is FAIL, one of the two other primaries freezes:
    # one vote out of two needed. The replica asks, expires, asks again.
    sim = build(4, [0, 1, 2], {3: 0})
    sim.kill(0)
    assert sim.run_until(lambda: sim.state(3).election.phase is ElectionPhase.SCHEDULED, 10 * NT)
    sim.pause(1)
    sim.run_for(15 * NT)
    assert sim.state(3).myself.is_replica
    started = sim.events_named(EventName.ELECTION_STARTED)
    assert len(started) >= 2 and started[1]["epoch"] > started[0]["epoch"]  # retried
    # the retry comes no sooner than the retry time (2 x auth timeout) after the first attempt
    assert started[1].time_ms - started[0].time_ms > 2 * 2 * NT
    assert sim.events_named(EventName.ELECTION_EXPIRED)
    assert {e.source for e in sim.events_named(EventName.VOTE_GRANTED)} == {sim.id(2)}
    assert not sim.events_named(EventName.FAILOVER_WON)
