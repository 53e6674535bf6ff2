"""Test doubles for client-library and application authors.

* :func:`start_cluster` / :func:`cluster_in_thread` (harness.py): a real cluster of
  in-process nodes on ephemeral ports, ready in milliseconds.
* :func:`node_in_thread` (threaded.py): one node on a background loop.
* faults.py: faults on demand (also ``PYREDIS.FAULT`` over RESP, and
  :func:`partition_over_resp` for nodes in other processes); topology.py: failovers,
  slot moves and waits on the event stream, behind the harness's cluster methods.
* simulation.py: cluster cores on a manual clock and a simulated network.

The names are loaded on first use (PEP 562), so that importing the pure simulation
does not pull in asyncio and the server.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "ClusterNotReady": "harness",
    "LocalCluster": "harness",
    "ThreadedCluster": "harness",
    "cluster_in_thread": "harness",
    "start_cluster": "harness",
    "node_in_thread": "threaded",
    "WaitTimeout": "faults",
    "fault_over_resp": "faults",
    "partition_over_resp": "faults",
    "heal_over_resp": "faults",
    "NodeView": "topology",
    "SlotMove": "topology",
    "TopologyError": "topology",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pyredis_cluster.testing' has no attribute {name!r}")
    return getattr(import_module(f".{module}", __name__), name)
