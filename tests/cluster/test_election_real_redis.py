"""Elections and manual failovers between our core and real redis-server 7.0.15 nodes.

The core runs on real sockets through the test-only ``CoreRunner``
(test_state_real_redis.py); the real nodes are the oracle. Our core votes for a
real replica, our replica wins votes from real primaries, real primaries honour
our FORCEACK, and a real replica runs a default-mode manual failover against our
core as its primary (MFSTART, pause acknowledged, PAUSED ping with the offset).
"""

from __future__ import annotations

from typing import Any

from pyredis_cluster.cluster.effects import Effect, PauseWrites, ReplicationChanged, ResumeWrites
from pyredis_cluster.cluster.events import EventName
from tests.cluster.cluster_real_redis import RealNode, read_log, wait_for
from tests.cluster.test_state_real_redis import (
    CoreRunner,
    assert_no_complaints,
    now_ms,
    real_cluster,
    real_view_of,
)


class FailoverRunner(CoreRunner):
    """CoreRunner that also plays the server's part of failovers: it pauses "writes"
    at once (acknowledging ``PauseWrites`` with its offset, 0: it holds no data) and
    records replication changes."""

    def __init__(self, seed: int, **settings: Any) -> None:
        super().__init__(seed, **settings)
        self.offset = 0
        self.pauses: list[PauseWrites] = []
        self.resumes = 0
        self.replication: list[ReplicationChanged] = []

    def _run(self, effects: list[Effect]) -> None:
        super()._run(effects)
        for effect in effects:
            if isinstance(effect, PauseWrites):
                self.pauses.append(effect)
                self._run(self.state.writes_paused(self.offset, now_ms()))
            elif isinstance(effect, ResumeWrites):
                self.resumes += 1
            elif isinstance(effect, ReplicationChanged):
                self.replication.append(effect)

    def named(self, name: EventName) -> list:  # type: ignore[type-arg]
        with self.lock:
            return [e for e in self.events if e.name == name]


def myself_line(real: RealNode) -> list[str]:
    return next(line for line in real.cluster_nodes() if "myself" in line[2])


def join(core: CoreRunner, reals: list[RealNode]) -> None:
    core.admin("meet", "127.0.0.1", reals[0].port, reals[0].cport)
    ids = [r.node_id for r in reals]

    def joined() -> bool:
        if not all(real_view_of(r, core.state.myid) for r in reals):
            return False
        return core.call(lambda s: s.state == 0 and all(
            i in s.nodes and not s.nodes[i].in_handshake and bool(s.nodes[i].slots) for i in ids))

    wait_for(joined, 20, "the core and the real nodes to know each other")


def give_slots_of(core: CoreRunner, reals: list[RealNode], donor: RealNode) -> tuple[int, int]:
    """Move ``donor``'s slots to the core (DELSLOTS everywhere, ADDSLOTS on the core)."""
    start, end = (int(x) for x in myself_line(donor)[8].split("-"))
    for real in reals:
        real.cmd("CLUSTER", "DELSLOTSRANGE", start, end)
    wait_for(lambda: donor.node_id not in {line[0] for r in reals for line in r.cluster_nodes() if line[8:]}, 10,
             "the donor's slots to be unassigned everywhere")
    core.admin("delslotsrange", [(start, end)])  # we still bind them to the donor (not claimed)
    core.admin("addslotsrange", [(start, end)])
    core.admin("bumpepoch")  # a unique, greatest config epoch for our claim
    wait_for(lambda: all((line := real_view_of(r, core.state.myid)) is not None and line[8:] == [f"{start}-{end}"]
                         for r in reals), 10, "the real nodes to see our slots")
    return start, end


def test_our_replica_wins_votes_from_real_primaries() -> None:
    with real_cluster(3) as reals, FailoverRunner(11) as core:
        join(core, reals)
        victim = reals[0]
        victim_id, victim_slots = victim.node_id, myself_line(victim)[8]
        core.admin("replicate", victim_id)
        wait_for(lambda: all((real_view_of(r, core.state.myid) or ["", "", "", ""])[3] == victim_id for r in reals),
                 10, "the real nodes to see our replica")
        victim.process.kill()
        victim.process.wait()
        wait_for(lambda: core.call(lambda s: s.myself.is_primary), 20, "our replica to win")
        won = core.named(EventName.FAILOVER_WON)[0]
        epoch = won["epoch"]
        assert won["votes"] >= 2 and sorted(won["voters"]) == sorted(r.node_id for r in reals[1:])
        assert core.replication[-1] == ReplicationChanged(None)
        for real in reals[1:]:
            assert f"Failover auth granted to {core.state.myid} for epoch {epoch}" in read_log(real)
            assert real.read_nodes_conf().rstrip().endswith(f"lastVoteEpoch {epoch}")
        # the real nodes serve the slots from us now, at our new config epoch
        wait_for(lambda: all((line := real_view_of(r, core.state.myid)) is not None and "master" in line[2]
                             and line[6] == str(epoch) and line[8:] == [victim_slots] for r in reals[1:]),
                 10, "the real nodes to move the slots to us")
        wait_for(lambda: all(r.cmd("CLUSTER", "INFO").startswith("cluster_state:ok") for r in reals[1:]), 10,
                 "cluster ok on the real nodes")
        assert_no_complaints(reals[1:])


def test_real_replica_needs_and_gets_our_vote() -> None:
    with real_cluster(3) as reals, FailoverRunner(12) as core:
        join(core, reals)
        # the core takes node 2's slots; node 2 becomes a real replica of node 0 (real replication)
        give_slots_of(core, reals, reals[2])
        reals[2].cmd("CLUSTER", "REPLICATE", reals[0].node_id)
        wait_for(lambda: core.call(lambda s: s.nodes[reals[2].node_id].primary_id == reals[0].node_id), 10,
                 "the core to see the real replica")
        wait_for(lambda: reals[2].client.info("replication").get("master_link_status") == "up",
                 10, "real replication to be up")
        # primaries with slots: node 0 (killed), node 1, our core. The replica needs 2 votes: ours is one.
        reals[0].process.kill()
        reals[0].process.wait()
        wait_for(lambda: "master" in myself_line(reals[2])[2], 30, "the real replica to win")
        granted = core.named(EventName.VOTE_GRANTED)
        assert granted and granted[0]["node"] == reals[2].node_id
        epoch = granted[0]["epoch"]
        assert "Failover election won" in read_log(reals[2])
        assert core.call(lambda s: s.last_vote_epoch) == epoch
        assert f"lastVoteEpoch {epoch}" in core.call(lambda s: s.nodes_conf_text())
        wait_for(lambda: core.call(lambda s: s.nodes[reals[2].node_id].is_primary
                                   and s.nodes[reals[2].node_id].config_epoch == epoch), 10,
                 "the core to see the new primary")
        assert_no_complaints(reals[1:])


def test_real_primaries_honour_our_force_ack() -> None:
    with real_cluster(3) as reals, FailoverRunner(13) as core:
        join(core, reals)
        primary = reals[0]
        core.admin("replicate", primary.node_id)
        wait_for(lambda: all((real_view_of(r, core.state.myid) or ["", "", "", ""])[3] == primary.node_id
                             for r in reals), 10, "the real nodes to see our replica")
        core.admin("failover", "force")  # the primary is alive: only FORCEACK gets us votes
        wait_for(lambda: core.call(lambda s: s.myself.is_primary), 10, "our forced failover to win")
        started = core.named(EventName.ELECTION_STARTED)[0]
        assert started["force_ack"]
        # the old primary (alive) sees its slots claimed with a greater epoch and follows us
        wait_for(lambda: myself_line(primary)[3] == core.state.myid, 10, "the old primary to follow us")
        assert "Configuration change detected" in read_log(primary)
        assert_no_complaints(reals)


def test_real_replica_manual_failover_against_our_primary() -> None:
    with real_cluster(3) as reals, FailoverRunner(14) as core:
        join(core, reals)
        give_slots_of(core, reals, reals[2])
        replica = reals[2]
        replica.cmd("CLUSTER", "REPLICATE", core.state.myid)
        wait_for(lambda: core.call(lambda s: s.nodes[replica.node_id].primary_id == s.myid), 10,
                 "the core to see its real replica")
        wait_for(lambda: core.call(lambda s: replica.node_id in s._out), 10, "a link to the replica")
        assert replica.cmd("CLUSTER", "FAILOVER") == "OK"
        wait_for(lambda: "master" in myself_line(replica)[2], 10, "the real replica to take over")
        log = read_log(replica)
        assert "Received replication offset for paused master manual failover: 0" in log
        assert "All master replication stream processed, manual failover can start." in log
        assert core.pauses and core.named(EventName.MANUAL_FAILOVER_WRITES_PAUSED)
        # (our vote may come too late to count: the two real primaries are a majority already)
        wait_for(lambda: core.call(lambda s: s.myself.primary_id == replica.node_id), 10, "us to follow it")
        assert core.resumes >= 1  # demoted: writes resumed
        assert core.replication[-1].primary == replica.node_id
        assert_no_complaints([r for r in reals if r is not replica])
