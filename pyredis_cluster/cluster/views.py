"""Read-only views of a ``ClusterState`` for the CLUSTER command: NODES, INFO, SLOTS, SHARDS, LINKS.

Theory of operation
-------------------
The CLUSTER read subcommands show the state in fixed shapes that clients parse
(client-contract.md §2.1-§2.5, §7). These pure functions compute them from a
``ClusterState``; the RESP encoding (RESP2 flattening of maps, RESP3 verbatim
strings) is the command glue's job:

* ``cluster_nodes_text``: the CLUSTER NODES text (every node, handshake ones
  included, one ``\\n``-terminated line each, in table order; migrating/importing
  entries only on the myself line; a replica shows its primary's epoch). Lines
  are formatted by ``nodes_conf.format_node_line``, so nodes.conf and CLUSTER NODES
  can never disagree. ``render_nodes_conf_text`` is the nodes.conf content.
* ``cluster_info`` / ``render_cluster_info``: CLUSTER INFO's ordered fields and
  their CRLF text; message counters appear only when non-zero.
* ``cluster_slots``: one entry per maximal run of slots with the same owner, with
  the owner first and then its *available* replicas (not FAIL, non-zero
  replication offset).
* ``cluster_shards``: one entry per primary (slotless ones included): its slot
  ranges as flat start/end pairs and its nodes' details, keys in Redis's order.
* ``cluster_links``: the core's half of CLUSTER LINKS (the bus adds events and
  buffer sizes).

Deliberately weak
-----------------
Replication offsets come from ``ClusterNode.repl_offset``; for myself the server
keeps ``state.myself.repl_offset`` up to date. TLS (``tls-port``, ``pport``) is
modelled only through the ``use_pport``/``tls_cluster`` arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .messages import CLUSTERMSG_TYPE_COUNT, BusClusterState, message_type_log_name
from .nodes import ClusterNode, NodeFlags
from .nodes_conf import format_node_line, render_cluster_nodes, render_nodes_conf

if TYPE_CHECKING:
    from .state import ClusterState, LinkView


def cluster_nodes_text(state: ClusterState, *, use_pport: bool = False) -> str:
    """CLUSTER NODES: every line ends in ``\\n``."""
    config = state.to_nodes_config()
    return render_cluster_nodes(
        state.nodes.values(),
        migrating_slots_to=config.migrating_slots_to,
        importing_slots_from=config.importing_slots_from,
        use_pport=use_pport,
    )


def render_nodes_conf_text(state: ClusterState) -> str:
    """nodes.conf: CLUSTER NODES without handshake nodes, plus the ``vars`` line."""
    return render_nodes_conf(state.to_nodes_config())


def node_line(state: ClusterState, node: ClusterNode, *, use_pport: bool = False) -> str:
    """One CLUSTER NODES line without its ``\\n`` (CLUSTER REPLICAS entries)."""
    primary = state.primary_of(node)
    config = state.to_nodes_config() if node.is_myself else None
    return format_node_line(
        node,
        primary_config_epoch=primary.config_epoch if primary is not None else None,
        migrating_slots_to=config.migrating_slots_to if config else None,
        importing_slots_from=config.importing_slots_from if config else None,
        use_pport=use_pport,
    )


def replica_lines(state: ClusterState, primary: ClusterNode, *, use_pport: bool = False) -> list[str]:
    """CLUSTER REPLICAS <id>: the replicas' lines (the caller checks the node is a primary)."""
    return [node_line(state, state.nodes[r], use_pport=use_pport) for r in primary.replica_ids if r in state.nodes]


# ----------------------------------------------------------------------------
# CLUSTER INFO
# ----------------------------------------------------------------------------
def cluster_info(state: ClusterState) -> dict[str, int | str]:
    """CLUSTER INFO's fields, in Redis's order."""
    assigned = ok = pfail = fail = 0
    # Per owner, not per slot: a node's slots are exactly the slots bound to it, and
    # 16384 flag tests made CLUSTER INFO cost milliseconds.
    for owner in state.nodes.values():
        count = len(owner.slots)
        if not count:
            continue
        assigned += count
        if owner.failed:
            fail += count
        elif owner.timed_out:
            pfail += count
        else:
            ok += count
    me = state.myself
    primary = state.primary_of(me) if me.is_replica else None
    info: dict[str, int | str] = {
        "cluster_state": "ok" if state.state == BusClusterState.OK else "fail",
        "cluster_slots_assigned": assigned,
        "cluster_slots_ok": ok,
        "cluster_slots_pfail": pfail,
        "cluster_slots_fail": fail,
        "cluster_known_nodes": len(state.nodes),
        "cluster_size": state.size,
        "cluster_current_epoch": state.current_epoch,
        "cluster_my_epoch": (primary or me).config_epoch,
    }
    for direction, counters in (("sent", state.stats_sent), ("received", state.stats_received)):
        total = 0
        for mtype in range(CLUSTERMSG_TYPE_COUNT):
            if counters[mtype]:
                info[f"cluster_stats_messages_{message_type_log_name(mtype)}_{direction}"] = counters[mtype]
                total += counters[mtype]
        info[f"cluster_stats_messages_{direction}"] = total
    info["total_cluster_links_buffer_limit_exceeded"] = state.stat_links_buffer_limit_exceeded
    return info


def render_cluster_info(info: dict[str, int | str]) -> str:
    """``key:value\\r\\n`` lines."""
    return "".join(f"{key}:{value}\r\n" for key, value in info.items())


# ----------------------------------------------------------------------------
# CLUSTER SLOTS / SHARDS
# ----------------------------------------------------------------------------
ENDPOINT_IP = "ip"
ENDPOINT_HOSTNAME = "hostname"
ENDPOINT_UNKNOWN = "unknown-endpoint"


def preferred_endpoint(node: ClusterNode, endpoint_type: str) -> str | None:
    """getPreferredEndpoint (SLOTS uses None for unknown-endpoint, SHARDS ``""``)."""
    if endpoint_type == ENDPOINT_HOSTNAME:
        return node.hostname or "?"
    if endpoint_type == ENDPOINT_UNKNOWN:
        return None
    return node.ip


@dataclass(frozen=True, slots=True)
class SlotsNode:
    """A node element of CLUSTER SLOTS: 4 items in 7.0."""

    endpoint: str | None  # None: RESP null (unknown-endpoint)
    port: int
    node_id: str
    metadata: dict[str, str] = field(default_factory=dict)  # "ip" / "hostname" extras, in that order


@dataclass(frozen=True, slots=True)
class SlotsEntry:
    start: int
    end: int
    nodes: list[SlotsNode]  # the primary, then available replicas


def _replica_available(state: ClusterState, node: ClusterNode) -> bool:
    """isReplicaAvailable: listed in CLUSTER SLOTS only when not FAIL and synced a bit."""
    return not node.failed and node.repl_offset != 0


def _slots_node(node: ClusterNode, endpoint_type: str, use_pport: bool) -> SlotsNode:
    metadata: dict[str, str] = {}
    if endpoint_type != ENDPOINT_IP:
        metadata["ip"] = node.ip
    if endpoint_type != ENDPOINT_HOSTNAME and node.hostname:
        metadata["hostname"] = node.hostname
    port = node.pport if use_pport and node.pport else node.port
    return SlotsNode(preferred_endpoint(node, endpoint_type), port, node.name, metadata)


def cluster_slots(state: ClusterState, *, endpoint_type: str = ENDPOINT_IP, use_pport: bool = False) -> list[SlotsEntry]:
    """CLUSTER SLOTS: maximal runs of slots with one owner, unassigned slots omitted."""
    entries: list[SlotsEntry] = []
    for start, end, owner in _owner_runs(state):
        nodes = [_slots_node(owner, endpoint_type, use_pport)]
        for replica_name in owner.replica_ids:
            replica = state.nodes.get(replica_name)
            if replica is not None and _replica_available(state, replica):
                nodes.append(_slots_node(replica, endpoint_type, use_pport))
        entries.append(SlotsEntry(start, end, nodes))
    return entries


def _owner_runs(state: ClusterState) -> list[tuple[int, int, ClusterNode]]:
    runs: list[tuple[int, int, ClusterNode]] = []
    owners = state.slot_owner
    start = 0
    n = len(owners)
    while start < n:
        owner = owners[start]
        end = start
        while end + 1 < n and owners[end + 1] is owner:
            end += 1
        if owner is not None:
            runs.append((start, end, owner))
        start = end + 1
    return runs


def cluster_shards(
    state: ClusterState, *, endpoint_type: str = ENDPOINT_IP, tls_cluster: bool = False
) -> list[dict[str, Any]]:
    """CLUSTER SHARDS: ``[{"slots": [s, e, ...], "nodes": [{id, port, ip, ...}, ...]}, ...]``."""
    shards: list[dict[str, Any]] = []
    for node in state.nodes.values():
        if not node.is_primary:
            continue
        slots: list[int] = []
        for start, end in node.slots.ranges():
            slots += [start, end]
        members = [node] + [state.nodes[r] for r in node.replica_ids if r in state.nodes]
        shards.append({"slots": slots, "nodes": [_shard_node(m, endpoint_type, tls_cluster) for m in members]})
    return shards


def _shard_node(node: ClusterNode, endpoint_type: str, tls_cluster: bool) -> dict[str, Any]:
    details: dict[str, Any] = {"id": node.name}
    plaintext_port = node.pport if tls_cluster else node.port
    tls_port = node.port if tls_cluster else 0
    if plaintext_port:
        details["port"] = plaintext_port
    if tls_port:
        details["tls-port"] = tls_port
    details["ip"] = node.ip
    details["endpoint"] = preferred_endpoint(node, endpoint_type) or ""
    if node.hostname:
        details["hostname"] = node.hostname
    details["role"] = "replica" if node.is_replica else "master"
    details["replication-offset"] = node.repl_offset
    if node.failed:
        health = "fail"
    elif node.is_replica and node.repl_offset == 0:
        health = "loading"
    else:
        health = "online"
    details["health"] = health
    return details


def cluster_links(state: ClusterState) -> list[LinkView]:
    """CLUSTER LINKS rows the core knows (direction, node, create-time, link id)."""
    return state.links()


__all__ = [
    "ENDPOINT_HOSTNAME",
    "ENDPOINT_IP",
    "ENDPOINT_UNKNOWN",
    "NodeFlags",
    "SlotsEntry",
    "SlotsNode",
    "cluster_info",
    "cluster_links",
    "cluster_nodes_text",
    "cluster_shards",
    "cluster_slots",
    "node_line",
    "preferred_endpoint",
    "render_cluster_info",
    "render_nodes_conf_text",
    "replica_lines",
]
