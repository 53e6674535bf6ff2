"""CLUSTER FAILOVER [FORCE|TAKEOVER] (bus.md §5; manual_failover.py).

First stepped by hand on cores loaded from nodes.conf (the cluster of
test_election.py: primaries A B C, replicas R S of C), then as simulation
scenarios with the replication model, counting every acknowledged write.
"""

from __future__ import annotations

import pytest

from pyredis_cluster.cluster.effects import Effect, PauseWrites, ResumeWrites, SaveConfig, Send
from pyredis_cluster.cluster.election import ElectionPhase
from pyredis_cluster.cluster.events import EventName
from pyredis_cluster.cluster.gossip import build_header
from pyredis_cluster.cluster.manual_failover import (
    ERR_FAILOVER_PRIMARY_DOWN,
    ERR_FAILOVER_PRIMARY_UNKNOWN,
    ERR_FAILOVER_TO_PRIMARY,
    ManualFailoverPhase,
)
from pyredis_cluster.cluster.messages import (
    FailoverAuthAck,
    FailoverAuthRequest,
    MessageFlags,
    MFStart,
    Ping,
    Pong,
)
from pyredis_cluster.cluster.state import ClusterAdminError, ClusterState
from pyredis_cluster.testing.simulation import Simulation
from tests.cluster.test_election import T0, A, B, C, R, S, c_slots, events, load, wire

NT = 2000


def sends(effects: list[Effect], kind: type) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def healthy(me: str) -> ClusterState:
    state = load(me, c_flags="master")
    state.size = 3
    return state


# ----------------------------------------------------------------------------
# preconditions and error texts
# ----------------------------------------------------------------------------
def test_errors_are_7_0s() -> None:
    with pytest.raises(ClusterAdminError) as err:
        healthy(A).failover("default", T0)
    assert err.value.reply == ERR_FAILOVER_TO_PRIMARY == "ERR You should send CLUSTER FAILOVER to a replica"
    orphan = healthy(R)
    orphan.myself.primary_id = "9" * 40
    with pytest.raises(ClusterAdminError) as err:
        orphan.failover("force", T0)
    assert err.value.reply == ERR_FAILOVER_PRIMARY_UNKNOWN == "ERR I'm a replica but my master is unknown to me"
    failed = load(R)  # C is FAIL
    with pytest.raises(ClusterAdminError) as err:
        failed.failover("default", T0)
    assert err.value.reply == ERR_FAILOVER_PRIMARY_DOWN == (
        "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"
    )
    unreachable = healthy(R)
    unreachable._free_link(unreachable._out[C], reason="test")
    with pytest.raises(ClusterAdminError):
        unreachable.failover("default", T0)
    unreachable.failover("FORCE", T0)  # FORCE does not need the primary
    failed.failover("takeover", T0)


# ----------------------------------------------------------------------------
# default mode, stepped by hand across the replica and its primary
# ----------------------------------------------------------------------------
def test_default_mode_pause_offset_catch_up_election() -> None:
    replica, primary = healthy(R), healthy(C)
    replica.set_replication_info(400, T0, T0)

    # 1. the replica sends MFSTART to its primary
    effects = replica.failover("default", T0 + 10)
    req = events(effects, EventName.MANUAL_FAILOVER_REQUESTED)[0]
    assert req["mode"] == "default" and req.describe() == "Manual failover user request accepted."
    mfstart = sends(effects, MFStart)[0]
    assert mfstart.to == C and replica.mf.end == T0 + 10 + 5000
    assert replica.mf.phase(False) is ManualFailoverPhase.WAITING_PAUSED_OFFSET

    # 2. the primary asks the server to pause writes; no PAUSED flag before the ack
    link = primary.accept_link("127.0.0.1", "127.0.0.1", T0 + 11)
    effects = primary.handle_packet(link, wire(mfstart.message), T0 + 11)
    assert PauseWrites(T0 + 11 + 10_000) in effects
    assert events(effects, EventName.MANUAL_FAILOVER_MFSTART_RECEIVED)[0]["node"] == R
    assert not sends(effects, Ping)
    assert MessageFlags.PAUSED not in build_header(primary).mflags
    assert primary.mf.phase(True) is ManualFailoverPhase.PAUSING

    # 3. the server paused at offset 500: PING with PAUSED on the link MFSTART came in on
    effects = primary.writes_paused(500, T0 + 12)
    ping = sends(effects, Ping)[0]
    assert ping.link_id == link
    h = wire(ping.message).header
    assert MessageFlags.PAUSED in h.mflags and h.offset == 500
    assert primary.mf.phase(True) is ManualFailoverPhase.PAUSED
    assert primary.writes_paused(600, T0 + 13) == []  # a second ack changes nothing
    # the cron pings the replica every tick meanwhile
    assert [s.to for s in sends(primary.tick(T0 + 100), Ping)].count(R) == 1
    assert [s.to for s in sends(primary.tick(T0 + 200), Ping)].count(R) == 1

    # 4. the replica learns the paused offset; it is behind (400): it waits
    effects = replica.handle_packet(replica._out[C].id, wire(ping.message), T0 + 13)
    got = events(effects, EventName.MANUAL_FAILOVER_OFFSET_RECEIVED)[0]
    assert got["offset"] == 500 and got["my_offset"] == 400
    assert replica.mf.phase(False) is ManualFailoverPhase.CATCHING_UP
    assert not events(replica.tick(T0 + 100), EventName.ELECTION_STARTED)

    # 5. caught up: the election starts in the same call, rank 0, no delay, FORCEACK
    effects = replica.set_replication_info(500, T0 + 150, T0 + 150)
    assert events(effects, EventName.MANUAL_FAILOVER_READY)
    sched = events(effects, EventName.ELECTION_SCHEDULED)[0]
    assert sched["delay_ms"] == 0 and sched["rank"] == 0 and sched["manual"]
    started = events(effects, EventName.ELECTION_STARTED)[0]
    assert started["force_ack"] and started["epoch"] == 4
    reqs = sends(effects, FailoverAuthRequest)
    assert reqs and all(MessageFlags.FORCEACK in wire(r.message).header.mflags for r in reqs)
    assert effects.index(SaveConfig(fsync=True)) < effects.index(reqs[0])

    # 6. the primaries (C included: it is up, FORCEACK lets it vote) grant; 2 votes win
    for voter in (primary, healthy(A)):
        link_v = voter.accept_link("127.0.0.1", "127.0.0.1", T0 + 160)
        voted = voter.handle_packet(link_v, wire(reqs[0].message), T0 + 160)
        assert events(voted, EventName.VOTE_GRANTED)
        ack = sends(voted, FailoverAuthAck)[0]
        effects = replica.handle_packet(replica._out[voter.myid].id, wire(ack.message), T0 + 161)
    assert events(effects, EventName.FAILOVER_WON) and replica.myself.is_primary
    assert replica.mf.end == 0  # reset after the takeover

    # 7. the old primary hears the winner's PONG, follows it and resumes writes
    pong = next(p for p in sends(effects, Pong) if p.to == C)
    link_p = primary.accept_link("127.0.0.1", "127.0.0.1", T0 + 162)
    effects = primary.handle_packet(link_p, wire(pong.message), T0 + 162)
    assert primary.myself.primary_id == R
    assert ResumeWrites() in effects and primary.mf.end == 0
    assert MessageFlags.PAUSED not in build_header(primary).mflags


def test_primary_side_timeout_resumes_writes() -> None:
    primary = healthy(C)
    link = primary.accept_link("127.0.0.1", "127.0.0.1", T0)
    primary.handle_packet(link, wire(MFStart(build_header(healthy(R)))), T0)
    primary.writes_paused(10, T0)
    assert not events(primary.tick(T0 + 5000), EventName.MANUAL_FAILOVER_TIMED_OUT)
    effects = primary.tick(T0 + 5001)
    assert events(effects, EventName.MANUAL_FAILOVER_TIMED_OUT)[0].describe() == "Manual failover timed out."
    assert ResumeWrites() in effects and MessageFlags.PAUSED not in build_header(primary).mflags


def test_mfstart_from_a_node_that_is_not_my_replica_is_ignored() -> None:
    primary = healthy(C)
    link = primary.accept_link("127.0.0.1", "127.0.0.1", T0)
    effects = primary.handle_packet(link, wire(MFStart(build_header(healthy(A)))), T0)
    assert not [e for e in effects if isinstance(e, PauseWrites)] and primary.mf.end == 0


def test_replica_side_timeout_without_the_paused_offset() -> None:
    replica = healthy(R)
    replica.failover("default", T0)
    effects = replica.tick(T0 + 5001)
    assert events(effects, EventName.MANUAL_FAILOVER_TIMED_OUT)[0]["phase"] == "waiting_paused_offset"
    assert replica.mf.phase(False) is ManualFailoverPhase.NONE and replica.myself.is_replica
    assert ResumeWrites() not in effects  # only a paused primary resumes


def test_force_skips_the_primary_and_the_data_age() -> None:
    replica = healthy(R)
    replica.settings.replica_validity_factor = 1
    replica.set_replication_info(100, T0 - 3_600_000, T0)  # an hour without the primary
    effects = replica.failover("force", T0)
    assert not sends(effects, MFStart) and replica.mf.can_start
    assert replica.mf.phase(False) is ManualFailoverPhase.ELECTION
    effects = replica.tick(T0 + 100)  # the cron runs the election at once
    assert events(effects, EventName.ELECTION_SCHEDULED)[0]["delay_ms"] == 0
    assert events(effects, EventName.ELECTION_STARTED)[0]["force_ack"]
    assert replica.election.phase is ElectionPhase.VOTING


def test_takeover_needs_nobody() -> None:
    replica = healthy(R)
    effects = replica.failover("takeover", T0)
    assert events(effects, EventName.MANUAL_FAILOVER_REQUESTED)[0].describe() == (
        "Taking over the master (user request)."
    )
    assert not sends(effects, FailoverAuthRequest) and not sends(effects, MFStart)
    me = replica.myself
    assert me.is_primary and me.slots == c_slots() and me.config_epoch == 4 == replica.current_epoch
    bumped = events(effects, EventName.EPOCH_BUMPED)[0]
    assert bumped["reason"] == "CLUSTER FAILOVER TAKEOVER" and bumped["new"] == 4
    pongs = sends(effects, Pong)
    assert sorted(p.to for p in pongs) == sorted([A, B, C, S])
    assert effects.index(SaveConfig(fsync=True)) < effects.index(pongs[0])
    assert replica.mf.end == 0


# ----------------------------------------------------------------------------
# simulation scenarios
# ----------------------------------------------------------------------------
def cluster(seed: int = 3) -> Simulation:
    sim = Simulation(6, seed=seed, node_timeout=NT)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 1, 5: 2})
    return sim


def test_repeated_manual_failovers_lose_no_acknowledged_write() -> None:
    sim = cluster()
    acked = 0
    pair = (0, 3)  # (primary, replica) of the shard
    for round_ in range(6):
        primary, replica = pair
        for _ in range(20):  # some traffic before the failover
            acked += 7 * sim.write(primary, 7)
            sim.run_for(10)
        sim.admin(replica, "failover", "default")
        refused = 0
        # keep writing to the old primary while the failover runs: paused writes are refused
        while not sim.state(replica).myself.is_primary:
            ok = sim.write(primary, 7)
            acked += 7 * ok
            refused += not ok
            sim.run_for(5)
            assert sim.now < sim.nodes[replica].state.mf.end or sim.state(replica).myself.is_primary, round_
        assert refused > 0  # the pause was effective
        # the new primary had every byte the old one acknowledged
        assert sim.nodes[replica].repl_offset == acked, round_
        assert sim.run_until(lambda r=replica, p=primary: sim.state(p).myself.primary_id == sim.id(r), 2000)
        assert sim.run_until(lambda: sim.converged() and sim.cluster_ok(), 5000)
        assert ResumeWrites() in sim.nodes[primary].effects
        pair = (replica, primary)
        sim.run_for(9000)  # the same replica may run another election only after the retry time
    assert len(sim.events_named(EventName.FAILOVER_WON)) == 6
    phases = [e.name for e in sim.events if e.name.startswith("manual_failover")]
    assert phases[:6] == [
        EventName.MANUAL_FAILOVER_REQUESTED,
        EventName.MANUAL_FAILOVER_MFSTART_RECEIVED,
        EventName.MANUAL_FAILOVER_WRITES_PAUSED,
        EventName.MANUAL_FAILOVER_OFFSET_RECEIVED,
        EventName.MANUAL_FAILOVER_READY,
        EventName.MANUAL_FAILOVER_WRITES_RESUMED,
    ]


def test_timeout_when_the_replica_cannot_catch_up() -> None:
    sim = cluster()
    sim.write(0, 10)
    sim.set_replication_lag(3, 1)  # always one byte behind
    sim.run_for(500)
    sim.admin(3, "failover", "default")
    assert sim.run_until(lambda: len(sim.events_named(EventName.MANUAL_FAILOVER_TIMED_OUT)) == 2, 7000)
    assert {e.source for e in sim.events_named(EventName.MANUAL_FAILOVER_TIMED_OUT)} == {sim.id(0), sim.id(3)}
    assert not sim.events_named(EventName.ELECTION_STARTED)
    assert sim.state(0).myself.is_primary and sim.state(3).myself.is_replica
    assert ResumeWrites() in sim.nodes[0].effects and sim.write(0)


def test_force_with_the_primary_dead_before_it_is_even_flagged_fail() -> None:
    sim = cluster()
    sim.kill(0)
    sim.run_for(200)
    assert not sim.state(3).nodes[sim.id(0)].failed
    sim.admin(3, "failover", "force")
    assert sim.run_until(lambda: sim.state(3).myself.is_primary, 1000)
    assert sim.now - sim.events_named(EventName.MANUAL_FAILOVER_REQUESTED)[0].time_ms < 200
    granted = {e.source for e in sim.events_named(EventName.VOTE_GRANTED)}
    assert granted == {sim.id(1), sim.id(2)}
    assert sim.run_until(lambda: sim.cluster_ok([1, 2, 3, 4, 5]), 10 * NT)


def test_takeover_while_the_primary_is_alive() -> None:
    sim = cluster()
    sim.admin(3, "failover", "takeover")
    assert sim.state(3).myself.is_primary  # at once
    assert sim.run_until(lambda: sim.state(0).myself.primary_id == sim.id(3) and sim.converged(), 5000)
    assert not sim.events_named(EventName.VOTE_REQUESTED) and not sim.events_named(EventName.ELECTION_STARTED)
    epochs = [sim.state(1).nodes[sim.id(i)].config_epoch for i in (1, 2, 3)]
    assert len(set(epochs)) == 3 and sim.state(3).myself.config_epoch == max(epochs)
    assert sim.run_until(sim.cluster_ok, 5000)


def test_takeover_from_the_minority_side_of_a_partition() -> None:
    sim = cluster()
    sim.partition([0, 1, 2], [3, 4, 5])
    sim.admin(3, "failover", "takeover")  # no majority needed
    assert sim.state(3).myself.is_primary
    sim.heal()
    assert sim.run_until(lambda: sim.state(0).myself.primary_id == sim.id(3) and sim.converged()
                         and sim.cluster_ok(), 10 * NT)
