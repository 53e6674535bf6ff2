"""The shape of a new cluster: which node serves which slots, which node replicates which.

Both ways of making a cluster from scratch use it: the one-command local cluster
(``python -m pyredis_cluster cluster start``, :mod:`pyredis_cluster.localcluster`) and
the in-process test harness (:mod:`pyredis_cluster.testing.harness`).

The slot split is the one ``redis-cli --cluster create`` makes: 16384 / primaries
slots per primary, each range ending at the rounded running total, the last one
ending at 16383 (3 primaries: 0-5460, 5461-10922, 10923-16383). Nodes
``0 .. primaries-1`` are the primaries; the replicas follow, dealt round-robin
(with 3 primaries and 1 replica each, node 3 replicates node 0, node 4 node 1,
node 5 node 2). Config epochs are distinct, 1 .. N in node order, as redis-cli's
``CLUSTER SET-CONFIG-EPOCH`` pass gives them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .cluster.constants import CLUSTER_SLOTS


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """redis-cli's even split of the 16384 slots into ``primaries`` inclusive ranges."""
    if not 1 <= primaries <= CLUSTER_SLOTS:
        raise ValueError(f"a cluster needs between 1 and {CLUSTER_SLOTS} primaries, not {primaries}")
    per_node = CLUSTER_SLOTS / primaries
    ranges = []
    first = 0
    cursor = 0.0
    for index in range(primaries):
        last = math.floor(cursor + per_node - 1 + 0.5)  # C's lround, as redis-cli
        if last > CLUSTER_SLOTS - 1 or index == primaries - 1:
            last = CLUSTER_SLOTS - 1
        last = max(last, first)
        ranges.append((first, last))
        first = last + 1
        cursor += per_node
    return ranges


@dataclass(frozen=True)
class Layout:
    """``primaries`` primaries with ``replicas_per_primary`` replicas each, indexed 0 .. size-1."""

    primaries: int
    replicas_per_primary: int = 0

    def __post_init__(self) -> None:
        if self.primaries < 1:
            raise ValueError("a cluster needs at least one primary")
        if self.replicas_per_primary < 0:
            raise ValueError("replicas per primary cannot be negative")

    @classmethod
    def for_nodes(cls, nodes: int, replicas_per_primary: int) -> Layout:
        """redis-cli's ``--cluster-replicas``: ``nodes`` must leave at least 3 primaries."""
        primaries, remainder = divmod(nodes, replicas_per_primary + 1)
        if remainder or primaries < 3:
            raise ValueError(
                f"{nodes} nodes cannot make a cluster with {replicas_per_primary} replica(s) per primary: "
                f"Redis Cluster needs at least 3 primaries, and every primary the same number of replicas"
            )
        return cls(primaries, replicas_per_primary)

    @property
    def size(self) -> int:
        return self.primaries * (1 + self.replicas_per_primary)

    def primary_of(self, index: int) -> int | None:
        """The index of the primary node ``index`` replicates, or None if it is a primary."""
        if index < self.primaries:
            return None
        return (index - self.primaries) % self.primaries

    def slots_of(self, index: int) -> tuple[int, int] | None:
        """The slot range node ``index`` serves (None for a replica)."""
        if index >= self.primaries:
            return None
        return slot_ranges(self.primaries)[index]

    def config_epoch_of(self, index: int) -> int:
        return index + 1
