"""Manual failover: CLUSTER FAILOVER [FORCE|TAKEOVER], sent to a replica.

Theory of operation
-------------------
An operator (or a rolling upgrade) wants a replica to take over from a primary that
is still alive, without losing a single acknowledged write. Asynchronous
replication makes that impossible for a plain election (the replica may lag), so
the default mode first makes the primary stand still (bus.md §5; Redis 7.0's
resetManualFailover, manualFailoverCheckTimeout, clusterHandleManualFailover and
the FAILOVER branch of clusterCommand).

**Default mode, replica side** (``start`` then the cron / ``handle``):

1. ``CLUSTER FAILOVER`` checks that I am a replica of a known primary that is
   neither FAIL nor unreachable (no outbound link), sets ``end`` = now + 5 s
   (CLUSTER_MF_TIMEOUT) and sends **MFSTART** to the primary.
2. The first header from my primary carrying mflags **PAUSED** gives me its
   ``offset``: the primary's replication offset once writes stopped
   (``observe_header``).
3. When my own replication offset (``set_replication_info``) equals it, I have
   every write the primary acknowledged: ``can_start``.
4. The election (election.py) then runs at once: rank 0, no delay, no data-age or
   no-failover check, and the request carries **FORCEACK** so primaries vote
   although my primary is up. It still needs a majority.

**Primary side** (``on_mfstart``): on MFSTART from one of *my* replicas, reset any
manual failover, set ``end`` = now + 5 s, and ask the server to pause writes for
10 s (``PauseWrites``, Redis's CLIENT_PAUSE_WRITE). When the server confirms with
the offset it reached (``writes_paused``), every header we send carries PAUSED
with that offset, starting with a PING on the connection MFSTART came in on, and
the cron PINGs the replica every 100 ms until the end. The primary resumes writes
(``ResumeWrites``) when the manual failover ends: timed out, or because the
replica won and we became its replica (``_set_my_primary`` resets it).

**FORCE** skips the primary: ``can_start`` at once (for a primary that is down or
unreachable). The vote still needs a majority. **TAKEOVER** skips the vote too:
the replica bumps its config epoch on its own
(``bump_config_epoch_without_consensus``) and takes the slots at once; collisions
are resolved later by the epoch rules.

**Timeout.** On either side, when ``end`` passes, everything is reset ("Manual
failover timed out."): the primary resumes writes, the replica gives up.

Why the pause acknowledgement (a deliberate difference from 7.0)
----------------------------------------------------------------
Redis pauses and builds the PAUSED ping in the same single-threaded step, so the
offset it sends is exact. Our core learns the primary's offset only when the
server tells it; a PING built from a stale offset could let the replica take over
while writes acknowledged after that offset are missing. So the PAUSED flag (and
the offset) are sent only after the server has paused and reported the exact
offset with ``ClusterState.writes_paused``. A server that never acknowledges makes
manual failovers time out: safe, never lossy.

Deliberately weak
-----------------
The pause lasts 10 s even though the failover gives up after 5 s: the primary
resumes on timeout, but a replica that won at 4.9 s and a primary that has not
heard of it yet still both refuse writes for a moment, exactly as in 7.0.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import election, epochs, gossip
from .constants import CLUSTER_MF_PAUSE_MULT, CLUSTER_MF_TIMEOUT
from .effects import LinkId, PauseWrites, ResumeWrites
from .events import EventName
from .messages import NO_MESSAGE_FLAGS, MessageFlags, MessageHeader, MFStart, Ping

if TYPE_CHECKING:
    from .nodes import ClusterNode
    from .state import ClusterState, Link

ERR_FAILOVER_TO_PRIMARY = "ERR You should send CLUSTER FAILOVER to a replica"
ERR_FAILOVER_PRIMARY_UNKNOWN = "ERR I'm a replica but my master is unknown to me"
ERR_FAILOVER_PRIMARY_DOWN = "ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"


class ManualFailoverMode(enum.StrEnum):
    """CLUSTER FAILOVER's option."""

    DEFAULT = "default"  # pause the primary, catch up, then elect with FORCEACK
    FORCE = "force"  # no agreement with the primary: elect with FORCEACK at once
    TAKEOVER = "takeover"  # no election: bump the epoch alone and take the slots


class ManualFailoverPhase(enum.StrEnum):
    """Where a manual failover stands, on the replica or on its primary."""

    NONE = "none"
    # replica side
    WAITING_PAUSED_OFFSET = "waiting_paused_offset"  # MFSTART sent; no PAUSED header yet
    CATCHING_UP = "catching_up"  # have the paused offset; replicating up to it
    ELECTION = "election"  # can_start: the election runs (with FORCEACK)
    # primary side
    PAUSING = "pausing"  # PauseWrites asked; waiting for the server's ``writes_paused``
    PAUSED = "paused"  # writes paused; PAUSED and the offset go in every header


@dataclass
class ManualFailoverState:
    """The ``mf_*`` fields of Redis's clusterState, plus what the pause ack needs."""

    end: int = 0  # mf_end: ms at which the attempt is abandoned; 0 = none in progress
    can_start: bool = False  # mf_can_start (replica)
    primary_offset: int = -1  # mf_master_offset (replica): the paused primary's offset, -1 = not yet
    mode: ManualFailoverMode | None = None  # replica: the mode requested
    replica: str | None = None  # mf_slave (primary): who asked
    link_id: LinkId | None = None  # primary: the link MFSTART arrived on (the first PAUSED ping)
    paused_offset: int | None = None  # primary: offset reported by ``writes_paused``
    pause_until: int = 0  # primary: the end of the write pause we asked for

    def phase(self, is_primary: bool) -> ManualFailoverPhase:
        if not self.end:
            return ManualFailoverPhase.NONE
        if is_primary:
            if self.replica is None:
                return ManualFailoverPhase.NONE
            return ManualFailoverPhase.PAUSING if self.paused_offset is None else ManualFailoverPhase.PAUSED
        if self.can_start:
            return ManualFailoverPhase.ELECTION
        if self.primary_offset == -1:
            return ManualFailoverPhase.WAITING_PAUSED_OFFSET
        return ManualFailoverPhase.CATCHING_UP


def header_flags(state: ClusterState) -> MessageFlags:
    """mflags[0] for our headers: PAUSED while we are a primary paused for a replica."""
    mf = state.mf
    if state.myself.is_primary and mf.end and mf.paused_offset is not None:
        return MessageFlags.PAUSED
    return NO_MESSAGE_FLAGS


def reset(state: ClusterState, why: str = "reset") -> None:
    """resetManualFailover: a primary that paused for a replica resumes writes."""
    mf = state.mf
    if mf.replica is not None:
        state._effects.append(ResumeWrites())
        state._event(EventName.MANUAL_FAILOVER_WRITES_RESUMED, why=why, node=mf.replica)
    mf.end = 0
    mf.can_start = False
    mf.primary_offset = -1
    mf.mode = None
    mf.replica = None
    mf.link_id = None
    mf.paused_offset = None
    mf.pause_until = 0


def check_timeout(state: ClusterState) -> None:
    """manualFailoverCheckTimeout (both roles)."""
    mf = state.mf
    if mf.end and mf.end < state.now:
        state._event(EventName.MANUAL_FAILOVER_TIMED_OUT, phase=mf.phase(state.myself.is_primary).value)
        reset(state, why="timed out")


# ----------------------------------------------------------------------------
# Replica side
# ----------------------------------------------------------------------------
def start(state: ClusterState, mode: ManualFailoverMode) -> None:
    """CLUSTER FAILOVER [FORCE|TAKEOVER] (the caller checked the preconditions)."""
    me = state.myself
    primary = state.primary_of(me)
    assert primary is not None
    reset(state)
    # A fresh election for this request, whatever a previous attempt left behind
    # (election.py, "Deliberate differences from 7.0").
    election.reset_election(state)
    mf = state.mf
    mf.end = state.now + CLUSTER_MF_TIMEOUT
    mf.mode = mode
    if mode is ManualFailoverMode.TAKEOVER:
        state._event(EventName.MANUAL_FAILOVER_REQUESTED, mode=mode.value, primary=primary.name,
                     why="Taking over the master (user request).")
        epochs.bump_config_epoch_without_consensus(state, reason="CLUSTER FAILOVER TAKEOVER")
        election.replace_primary(state)
    elif mode is ManualFailoverMode.FORCE:
        state._event(EventName.MANUAL_FAILOVER_REQUESTED, mode=mode.value, primary=primary.name,
                     why="Forced failover user request accepted.")
        mf.can_start = True
        state._event(EventName.MANUAL_FAILOVER_READY, forced=True, offset=me.repl_offset,
                     why="Forced failover: no agreement with the master, the election can start.")
    else:
        state._event(EventName.MANUAL_FAILOVER_REQUESTED, mode=mode.value, primary=primary.name,
                     why="Manual failover user request accepted.")
        state._send(state._out.get(primary.name), MFStart(gossip.build_header(state)))


def check_preconditions(state: ClusterState, mode: ManualFailoverMode) -> str | None:
    """The error reply of CLUSTER FAILOVER, or None when it may proceed."""
    me = state.myself
    if me.is_primary:
        return ERR_FAILOVER_TO_PRIMARY
    primary = state.primary_of(me)
    if primary is None:
        return ERR_FAILOVER_PRIMARY_UNKNOWN
    if mode is ManualFailoverMode.DEFAULT and (primary.failed or not state.has_outbound_link(primary)):
        return ERR_FAILOVER_PRIMARY_DOWN
    return None


def observe_header(state: ClusterState, sender: ClusterNode, header: MessageHeader) -> None:
    """A header from a known node: my paused primary's first PAUSED header gives its offset."""
    mf = state.mf
    me = state.myself
    if (
        mf.end
        and me.is_replica
        and me.primary_id == sender.name
        and MessageFlags.PAUSED in header.mflags
        and mf.primary_offset == -1
    ):
        mf.primary_offset = sender.repl_offset
        state._event(EventName.MANUAL_FAILOVER_OFFSET_RECEIVED, offset=mf.primary_offset, primary=sender.name,
                     my_offset=me.repl_offset)
        state._request(handle_manual_failover=True)


def handle(state: ClusterState) -> None:
    """clusterHandleManualFailover: start the election once I have the paused offset."""
    mf = state.mf
    if not mf.end or mf.can_start or mf.primary_offset == -1:
        return
    if mf.primary_offset == state.myself.repl_offset:
        mf.can_start = True
        state._event(EventName.MANUAL_FAILOVER_READY, forced=False, offset=mf.primary_offset,
                     why="All master replication stream processed, manual failover can start.")
        state._request(handle_failover=True)
    # Otherwise wait: the next ``set_replication_info`` (or cron) checks again.


# ----------------------------------------------------------------------------
# Primary side
# ----------------------------------------------------------------------------
def on_mfstart(state: ClusterState, sender: ClusterNode, link: Link) -> None:
    """MFSTART from one of my replicas: pause writes, then tell it my offset."""
    reset(state, why="new manual failover")
    mf = state.mf
    mf.end = state.now + CLUSTER_MF_TIMEOUT
    mf.replica = sender.name
    mf.link_id = link.id
    until = mf.pause_until = state.now + CLUSTER_MF_TIMEOUT * CLUSTER_MF_PAUSE_MULT
    state._event(EventName.MANUAL_FAILOVER_MFSTART_RECEIVED, node=sender.name, until_ms=until)
    state._effects.append(PauseWrites(until))


def writes_paused(state: ClusterState, offset: int) -> None:
    """The server paused writes at ``offset``: from now on our headers say PAUSED."""
    mf = state.mf
    me = state.myself
    if not (me.is_primary and mf.end and mf.replica is not None and mf.paused_offset is None):
        return  # a late acknowledgement of a manual failover that is already over
    mf.paused_offset = offset
    me.repl_offset = offset
    state._event(EventName.MANUAL_FAILOVER_WRITES_PAUSED, offset=offset, node=mf.replica,
                 until_ms=mf.pause_until)
    # The ping Redis sends at once on the link MFSTART came in on (else our own link).
    link = state.link(mf.link_id) if mf.link_id is not None else None
    if link is None:
        link = state._out.get(mf.replica)
    if link is not None:
        state._send_ping(link, Ping)


__all__ = [
    "ERR_FAILOVER_PRIMARY_DOWN",
    "ERR_FAILOVER_PRIMARY_UNKNOWN",
    "ERR_FAILOVER_TO_PRIMARY",
    "ManualFailoverMode",
    "ManualFailoverPhase",
    "ManualFailoverState",
    "check_preconditions",
    "check_timeout",
    "handle",
    "header_flags",
    "observe_header",
    "on_mfstart",
    "reset",
    "start",
    "writes_paused",
]
