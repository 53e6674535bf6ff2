"""Test doubles for client-library and application authors.

* :func:`start_cluster` / :func:`cluster_in_thread` (harness.py): a real cluster of
  in-process nodes on ephemeral ports, ready in milliseconds.
* :func:`node_in_thread` (threaded.py): one node on a background loop.
* simulation.py: cluster cores on a manual clock and a simulated network.
"""

from .harness import ClusterNotReady, LocalCluster, ThreadedCluster, cluster_in_thread, start_cluster
from .threaded import node_in_thread

__all__ = ["ClusterNotReady", "LocalCluster", "ThreadedCluster", "cluster_in_thread", "node_in_thread",
           "start_cluster"]  # fmt: skip
