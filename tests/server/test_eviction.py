"""server/eviction.py on its own: the cases a standalone differential test cannot reach."""

from __future__ import annotations

from pyredis_cluster.server.eviction import perform_evictions
from pyredis_cluster.server.node import Node


def test_replica_leaves_eviction_to_its_primary() -> None:
    """replica-ignore-maxmemory (default yes): a replica neither evicts nor answers OOM."""
    node = Node()
    node.keyspace[0].set(b"k", b"v")
    node.config.maxmemory = 1
    node.config.maxmemory_policy = "allkeys-random"
    node.keyspace.is_replica = True
    assert perform_evictions(node) is True
    assert node.keyspace[0].get(b"k") == b"v"
    node.config.replica_ignore_maxmemory = False
    assert perform_evictions(node) is False  # everything evicted, still over the limit
    assert node.keyspace[0].get(b"k") is None


def test_no_limit_means_no_work() -> None:
    node = Node()
    node.keyspace[0].set(b"k", b"v")
    node.config.maxmemory_policy = "allkeys-random"
    assert perform_evictions(node) is True
    assert node.keyspace[0].get(b"k") == b"v"
