"""Failure detection and the cluster state: PFAIL, failure reports, FAIL, ok/fail.

Theory of operation
-------------------
Redis Cluster detects failures in two steps, so that one node's bad link cannot
take a healthy node out of service (bus.md §3, the spec's "Failure detection"):

1. **PFAIL, local suspicion** (in ``ClusterState.tick``). When a PING we sent on
   our outbound link has been pending for more than ``node_timeout`` *and* nothing
   at all arrived from the node in that time, we flag it PFAIL. A PONG on our link
   clears it at once. PFAIL is never acted upon alone.
2. **FAIL, weak agreement** (here). Primaries gossip their PFAIL/FAIL views; each
   one becomes a *failure report* about the node, valid for ``2 x node_timeout``.
   When we see the node PFAIL ourselves and reports from a majority of the
   primaries that serve slots (``size/2 + 1``, counting ourselves if we are a
   primary) are valid, we flag it FAIL and broadcast a FAIL message, which every
   receiver applies without re-checking. Replicas may declare FAIL too; they just do
   not count themselves.

FAIL is "sticky": it is cleared only when a PONG from the node arrives on our link
and either the node is a replica or a primary without slots (nothing to fail over),
or it has been FAIL for more than ``2 x node_timeout`` while still owning slots
(apparently no replica took over, so let it serve again).

**Cluster state** (clusterUpdateState) is FAIL when
``cluster-require-full-coverage`` is on and some slot is unassigned or served by a
FAIL node, or when fewer than a majority of the slot-serving primaries are
reachable (neither PFAIL nor FAIL: we are in a minority partition). Two delays
keep a primary from serving too early: after startup it stays FAIL for
``CLUSTER_WRITABLE_DELAY`` (2 s) to let the cluster reconfigure it, and after
leaving a minority it waits a *rejoin delay* of node_timeout clamped to 0.5-5 s,
to receive a possible UPDATE first.

Deliberately weak
-----------------
The agreement is weak by design (Redis's, not ours): reports are collected over a
time window, not in one round, and a FAIL message may not reach everybody during a
partition. Either a majority saw the failure, and FAIL spreads; or it did not, no
replica gets a majority of votes, and FAIL is eventually cleared.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import gossip
from .constants import (
    CLUSTER_FAIL_UNDO_TIME_MULT,
    CLUSTER_MAX_REJOIN_DELAY,
    CLUSTER_MIN_REJOIN_DELAY,
    CLUSTER_SLOTS,
)
from .events import EventName
from .messages import BusClusterState, Fail
from .nodes import ClusterNode, NodeFlags, clear_flags

if TYPE_CHECKING:
    from .state import ClusterState

ALL_SLOTS_MASK = (1 << CLUSTER_SLOTS) - 1


def failure_quorum(state: ClusterState) -> int:
    """Reports needed for FAIL (and votes needed to win an election): size/2 + 1."""
    return state.size // 2 + 1


def mark_node_as_failing_if_needed(state: ClusterState, node: ClusterNode) -> None:
    """markNodeAsFailingIfNeeded: PFAIL + a majority of primary reports -> FAIL, broadcast."""
    if not node.timed_out or node.failed:
        return  # we can reach it, or it is FAIL already
    failures = node.failure_report_count(state.now, state.node_timeout)
    if state.myself.is_primary:
        failures += 1  # our own PFAIL counts as a report
    if failures < failure_quorum(state):
        return
    node.flags = clear_flags(node.flags, NodeFlags.PFAIL) | NodeFlags.FAIL
    node.fail_time = state.now
    state._event(EventName.FAIL, node=node.name, reports=failures,
                 why=f"Marking node {node.name} as failing (quorum reached).")
    # Tell everybody (replicas too: we only help the news spread).
    recipients = state._broadcast(Fail(gossip.build_header(state), node.name))
    state._event(EventName.FAIL_BROADCAST, node=node.name, recipients=recipients)
    state._request(save=True, update_state=True)


def clear_node_failure_if_needed(state: ClusterState, node: ClusterNode) -> None:
    """clearNodeFailureIfNeeded: a FAIL node answered our PING again."""
    assert node.failed
    if node.is_replica or not node.slots:
        node.flags = clear_flags(node.flags, NodeFlags.FAIL)
        what = "replica" if node.is_replica else "master without slots"
        state._event(EventName.FAIL_CLEARED, node=node.name, why=f"{what} is reachable again.")
        state._request(save=True, update_state=True)
    if (
        node.is_primary
        and node.slots
        and state.now - node.fail_time > state.node_timeout * CLUSTER_FAIL_UNDO_TIME_MULT
    ):
        node.flags = clear_flags(node.flags, NodeFlags.FAIL)
        state._event(EventName.FAIL_CLEARED, node=node.name,
                     why="is reachable again and nobody is serving its slots after some time.")
        state._request(save=True, update_state=True)


def process_fail_message(state: ClusterState, message: Fail, sender: ClusterNode | None) -> None:
    """A FAIL message: any known sender is believed (no quorum check on this side)."""
    if sender is None:
        state._event(EventName.MESSAGE_IGNORED, type="fail", sender=message.header.sender,
                     why=f"Ignoring FAIL message from unknown node {message.header.sender} "
                         f"about {message.nodename}")
        return
    failing = state.lookup(message.nodename)
    if failing is None or failing.flags & (NodeFlags.FAIL | NodeFlags.MYSELF):
        return
    failing.flags = clear_flags(failing.flags, NodeFlags.PFAIL) | NodeFlags.FAIL
    failing.fail_time = state.now
    state._event(EventName.FAIL, node=failing.name, reporter=sender.name,
                 why=f"FAIL message received from {sender.name} about {failing.name}")
    state._request(save=True, update_state=True)


def rejoin_delay(node_timeout: int) -> int:
    """How long a primary back from a minority waits before serving again."""
    return min(max(node_timeout, CLUSTER_MIN_REJOIN_DELAY), CLUSTER_MAX_REJOIN_DELAY)


def update_cluster_state(state: ClusterState) -> None:
    """clusterUpdateState: recompute ``size`` and the ok/fail state."""
    now = state.now
    me = state.myself
    if state._first_state_update is None:
        state._first_state_update = now
    if (
        me.is_primary
        and state.state == BusClusterState.FAIL
        and now - state._first_state_update < state.settings.writable_delay
    ):
        return  # just started: give the cluster a chance to reconfigure us first

    new_state = BusClusterState.OK
    if state.settings.require_full_coverage:
        # Every slot assigned (the union of the owners' bitmaps is complete), none to a FAIL node.
        covered = 0
        for node in state.nodes.values():
            if node.slots:
                if node.failed:
                    new_state = BusClusterState.FAIL
                covered |= node.slots.mask
        if covered != ALL_SLOTS_MASK:
            new_state = BusClusterState.FAIL

    size = 0
    reachable = 0
    for node in state.nodes.values():
        if node.is_primary and node.slots:
            size += 1
            if not node.flags & (NodeFlags.FAIL | NodeFlags.PFAIL):
                reachable += 1
    state.size = size

    if reachable < size // 2 + 1:
        new_state = BusClusterState.FAIL
        state._among_minority_time = now

    if new_state != state.state:
        if (
            new_state == BusClusterState.OK
            and me.is_primary
            and now - state._among_minority_time < rejoin_delay(state.node_timeout)
        ):
            return  # back from a minority: wait for a possible UPDATE before serving
        state.state = new_state
        state._event(EventName.CLUSTER_STATE_CHANGED, state="ok" if new_state == BusClusterState.OK else "fail",
                     size=size, reachable=reachable)
