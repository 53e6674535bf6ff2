"""Replica migration: a spare replica moves to a primary that has lost all of its own.

Theory of operation
-------------------
A primary whose last replica failed (or whose replica was promoted elsewhere) is a
single point of failure. Redis 7.0 lets a replica of a well-covered primary move
to it on its own, with no coordination (bus.md §6; clusterCron's orphan scan and
clusterHandleSlaveMigration). Only replicas do this, from their cron:

1. **Scan** (``OrphanScan``, during the cron's node loop, which skips myself,
   NOADDR and handshake nodes): for every primary that is not FAIL, count its *ok*
   replicas (not FAIL; PFAIL still counts). It is **orphaned** if it serves slots,
   has 0 ok replicas and the MIGRATE_TO flag (it used to have replicas, or failed
   over a primary that had some: we only migrate where replicas were expected).
   Record the greatest ok-replica count (``max_replicas``) and my primary's.
2. **Gate**: some primary is orphaned, ``max_replicas >= 2``, my primary has that
   many, and ``cluster-allow-replica-migration`` is on.
3. **Decide** (``handle_replica_migration``): the cluster state is ok; my primary
   keeps more than ``cluster-migration-barrier`` replicas that are neither FAIL nor
   PFAIL once I leave; and I am *the* candidate: the replica with the smallest
   node id among all replicas of every primary with ``max_replicas`` ok replicas
   (so, without talking, only one replica moves). The target is the first orphaned
   primary with slots in node-table order, and it must have been orphaned for more
   than CLUSTER_SLAVE_MIGRATION_DELAY (5 s), giving a failed-over shard's replicas
   time to announce their new primary first.
4. **Move**: become a replica of the target, exactly as CLUSTER REPLICATE does
   (``ReplicationChanged`` to the target; the server resynchronises).

Deliberately weak
-----------------
No coordination: two replicas with different views may both move (7.0 says the
race is unlikely and harmless); the next scans even things out. ``orphaned_time``
is tracked only while a replica is considering a move (as in 7.0), so the 5 s
count starts when this node first sees the gate open. Node-table order is
insertion order here (Redis: hash-table order), so the target may differ from a
real node's choice when several primaries are orphaned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .constants import CLUSTER_SLAVE_MIGRATION_DELAY
from .events import EventName
from .messages import BusClusterState
from .nodes import ClusterNode, NodeFlags

if TYPE_CHECKING:
    from .state import ClusterState


def count_non_failing_replicas(state: ClusterState, primary: ClusterNode) -> int:
    """clusterCountNonFailingSlaves: replicas that are not FAIL (PFAIL counts as ok)."""
    count = 0
    for name in primary.replica_ids:
        node = state.nodes.get(name)
        if node is not None and not node.failed:
            count += 1
    return count


@dataclass
class OrphanScan:
    """What clusterCron counts in its node loop when myself is a replica."""

    orphaned_primaries: int = 0
    max_replicas: int = 0  # the greatest number of ok replicas of one (non-FAIL) primary
    my_primary_replicas: int = 0  # ok replicas of my own primary

    def observe(self, state: ClusterState, node: ClusterNode) -> None:
        """Account for ``node`` (the cron already skipped myself, NOADDR and handshake nodes)."""
        if not state.myself.is_replica or not node.is_primary or node.failed:
            return
        ok = count_non_failing_replicas(state, node)
        if ok == 0 and node.slots and NodeFlags.MIGRATE_TO in node.flags:
            self.orphaned_primaries += 1
        self.max_replicas = max(self.max_replicas, ok)
        if state.myself.primary_id == node.name:
            self.my_primary_replicas = ok

    def migration_possible(self, state: ClusterState) -> bool:
        """The cron's gate before clusterHandleSlaveMigration."""
        return (
            self.orphaned_primaries > 0
            and self.max_replicas >= 2
            and self.my_primary_replicas == self.max_replicas
            and state.settings.allow_replica_migration
        )


def handle_replica_migration(state: ClusterState, max_replicas: int) -> None:
    """clusterHandleSlaveMigration: maybe move to an orphaned primary."""
    me = state.myself
    # 1. Only in a healthy cluster.
    if state.state != BusClusterState.OK:
        return
    # 2. My primary must keep more than migration-barrier working replicas.
    my_primary = state.primary_of(me)
    if my_primary is None:
        return
    ok_replicas = 0
    for name in my_primary.replica_ids:
        node = state.nodes.get(name)
        if node is not None and not node.failed and not node.timed_out:
            ok_replicas += 1
    if ok_replicas <= state.settings.migration_barrier:
        return
    # 3. Find the target and the candidate (the smallest replica id among the
    #    replicas of the primaries with the most ok replicas), tracking orphan times.
    candidate = me
    target: ClusterNode | None = None
    now = state.now
    for node in state.nodes.values():
        ok = 0
        orphaned = True
        if node.is_replica or node.failed:
            orphaned = False
        if NodeFlags.MIGRATE_TO not in node.flags:
            orphaned = False
        if node.is_primary:
            ok = count_non_failing_replicas(state, node)
        if ok > 0:
            orphaned = False
        if orphaned:
            if target is None and node.slots:
                target = node
            if not node.orphaned_time:
                node.orphaned_time = now
        else:
            node.orphaned_time = 0
        if ok == max_replicas:
            for name in node.replica_ids:
                replica = state.nodes.get(name)
                if replica is not None and replica.name < candidate.name:
                    candidate = replica
    # 4. Move, if I am the one and the target has been orphaned long enough.
    if target is not None and candidate is me and now - target.orphaned_time > CLUSTER_SLAVE_MIGRATION_DELAY:
        state._event(EventName.REPLICA_MIGRATED, node=me.name, from_primary=my_primary.name, to=target.name,
                     orphaned_ms=now - target.orphaned_time)
        state._set_my_primary(target)
        state._request(save=True, update_state=True)


__all__ = ["OrphanScan", "count_non_failing_replicas", "handle_replica_migration"]
