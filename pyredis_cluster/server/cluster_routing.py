"""Which node should serve a request: Redis's ``getNodeByQuery``, as a pure function.

Theory of operation
-------------------
In cluster mode every command with keys is checked against the slot map before it
runs (after the arity and auth gates, before MULTI queueing). :func:`route` looks at
the request (or, for EXEC, at every queued command as one group) and answers one of:

* ``LOCAL``: serve it here;
* ``MOVED slot host:port``: another primary owns the slot (clients update their map);
* ``ASK slot host:port``: the slot is migrating from us and a key is already gone;
  ask the target once, with ASKING;
* ``TRYAGAIN``: a multi-key request over a half-moved slot; retry later;
* ``CROSSSLOT``: keys in different slots;
* ``CLUSTERDOWN``: the slot has no owner, or the cluster is down (reads may still be
  allowed with cluster-allow-reads-when-down).

The steps and their order are 7.0's (client-contract.md §3.3), because clients see
which answer wins. The function reads the cluster state through a narrow view and
decides nothing else, so the whole matrix is testable without sockets.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cluster.slots import key_hash_slot

if TYPE_CHECKING:
    from ..cluster.nodes import ClusterNode
    from .command_table import CommandSpec

#: Sharded pub/sub commands: their channels route like keys, and replicas serve them.
SHARDED_PUBSUB = frozenset({"ssubscribe", "sunsubscribe", "spublish"})


class Route(enum.Enum):
    LOCAL = "local"
    MOVED = "moved"
    ASK = "ask"
    TRYAGAIN = "tryagain"
    CROSSSLOT = "crossslot"
    DOWN_UNBOUND = "down_unbound"
    DOWN_STATE = "down_state"
    DOWN_RO_STATE = "down_ro_state"


@dataclass(frozen=True)
class RouteDecision:
    route: Route
    slot: int = 0
    node: ClusterNode | None = None  # the node to redirect to (MOVED/ASK)


LOCAL = RouteDecision(Route.LOCAL)


@dataclass
class SlotView:
    """What routing needs to know about the cluster, as plain callables and values."""

    owner_of: Callable[[int], ClusterNode | None]
    myself: ClusterNode
    migrating_to: Callable[[int], ClusterNode | None]
    importing_from: Callable[[int], ClusterNode | None]
    cluster_ok: bool
    allow_reads_when_down: bool = False
    allow_pubsubshard_when_down: bool = True


def route(
    commands: Sequence[tuple[CommandSpec, list[bytes]]],
    view: SlotView,
    key_exists: Callable[[bytes], bool],
    *,
    asking: bool = False,
    readonly: bool = False,
) -> RouteDecision:
    """Decide where a request (one command, or EXEC's queued commands) is served."""
    slot = -1
    owner: ClusterNode | None = None
    first_key: bytes | None = None
    migrating = importing = multiple_keys = False
    missing = existing = 0
    any_write = sharded_pubsub = has_asking_flag = is_migrate = False

    for spec, args in commands:
        base = spec.parent.name if spec.parent else spec.name
        any_write = any_write or spec.is_write
        sharded = base in SHARDED_PUBSUB
        sharded_pubsub = sharded_pubsub or sharded
        has_asking_flag = has_asking_flag or "asking" in spec.flags
        is_migrate = is_migrate or base == "migrate"
        for key in spec.keys(args):
            key_slot = key_hash_slot(key)
            if first_key is None:
                first_key, slot = key, key_slot
                owner = view.owner_of(slot)
                if owner is None:
                    return RouteDecision(Route.DOWN_UNBOUND, slot)
                if owner is view.myself and view.migrating_to(slot) is not None:
                    migrating = True
                elif view.importing_from(slot) is not None:
                    importing = True
            elif key != first_key:
                if key_slot != slot:
                    return RouteDecision(Route.CROSSSLOT, slot)
                multiple_keys = True
            if (migrating or importing) and not sharded:
                if key_exists(key):
                    existing += 1
                else:
                    missing += 1

    if first_key is None:
        return LOCAL  # keyless: always served here
    if not view.cluster_ok:
        if sharded_pubsub:
            if not view.allow_pubsubshard_when_down:
                return RouteDecision(Route.DOWN_STATE, slot)
        elif not view.allow_reads_when_down:
            return RouteDecision(Route.DOWN_STATE, slot)
        elif any_write:
            return RouteDecision(Route.DOWN_RO_STATE, slot)
    if (migrating or importing) and is_migrate:
        return LOCAL
    if migrating and missing:
        if existing:
            return RouteDecision(Route.TRYAGAIN, slot)
        return RouteDecision(Route.ASK, slot, view.migrating_to(slot))
    if importing and (asking or has_asking_flag):
        if multiple_keys and missing:
            return RouteDecision(Route.TRYAGAIN, slot)
        return LOCAL
    assert owner is not None
    myself = view.myself
    if (
        owner is not myself
        and not any_write
        and (readonly or sharded_pubsub)
        and myself.is_replica
        and myself.primary_id == owner.name
    ):
        return LOCAL
    if owner is not myself:
        return RouteDecision(Route.MOVED, slot, owner)
    return LOCAL
