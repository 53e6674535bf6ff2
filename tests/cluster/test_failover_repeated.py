"""Failing the same shard over and back quickly (simulation, manual clock).

7.0 never clears a finished election's fields: a replica that won, was failed back,
and is asked again within the retry time (2 x max(2 x node_timeout, 2 s)) "wins" at
once on its old votes, with no new epoch, and is demoted again by an UPDATE
(election.py, "Deliberate differences from 7.0"). These scenarios pin the fixed
behaviour: every manual failover runs an election of its own in a new epoch.
"""

from __future__ import annotations

import pytest

from pyredis_cluster.cluster.election import auth_retry_time
from pyredis_cluster.cluster.events import EventName
from pyredis_cluster.testing.simulation import Simulation

#: Well under a second in the simulation: the election starts at once.
FAILOVER_MS = 500


def manual_failover(sim: Simulation, replica: int, primary: int) -> None:
    sim.admin(replica, "failover", "default")
    assert sim.run_until(lambda: sim.state(replica).myself.is_primary
                         and sim.state(primary).myself.primary_id == sim.id(replica)
                         and sim.converged() and sim.cluster_ok(), FAILOVER_MS)  # fmt: skip


# 500 ms: 7.0's stale attempt is still within its auth timeout (2 s) and "wins" at once;
# 1000 ms: it has expired and 7.0 waits for the retry time (4 s) before a new election.
@pytest.mark.parametrize("node_timeout", [500, 1000])
def test_each_failover_back_and_forth_within_the_retry_time_runs_its_own_election(node_timeout: int) -> None:
    sim = Simulation(4, seed=11, node_timeout=node_timeout)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0})
    # Primaries do not vote about one primary twice within 2 x node_timeout (7.0's rule):
    # the failover after next is about the same primary, so half of that per round.
    pace = node_timeout + 50
    pair = (0, 3)
    started = sim.now
    for _ in range(4):
        primary, replica = pair
        manual_failover(sim, replica, primary)
        pair = (replica, primary)
        sim.run_for(pace)
    assert sim.now - started < 2 * auth_retry_time(node_timeout)  # each replica won twice within its retry time
    won = sim.events_named(EventName.FAILOVER_WON)
    elections = sim.events_named(EventName.ELECTION_STARTED)
    assert len(won) == 4 and len(elections) == 4
    epochs = [event["epoch"] for event in won]
    assert epochs == sorted(set(epochs)), "every win is in an epoch of its own"
    assert sim.state(1).nodes[sim.id(0)].config_epoch == epochs[-1]  # node 0 won last
