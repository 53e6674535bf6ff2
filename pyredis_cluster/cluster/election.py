"""Replica elections: how a replica replaces its FAIL primary, and how primaries vote.

Theory of operation
-------------------
Redis Cluster has no leader and no consensus log; a failover is a small, one-shot
election among the primaries that serve slots, ordered by ``current_epoch``
(bus.md §4; Redis 7.0's clusterHandleSlaveFailover, clusterGetSlaveRank,
clusterSendFailoverAuthIfNeeded, clusterFailoverReplaceYourMaster).

**Replica side** (``handle_replica_failover``, run by the cron every 100 ms and
right after an ACK arrives, Redis's "before sleep"):

1. *Preconditions.* I am a replica, my primary is known, it is **FAIL** (not merely
   PFAIL) and serves at least one slot, and ``cluster-replica-no-failover`` is off.
   A manual failover that may start (``manual_failover.py``) lifts the FAIL and
   no-failover conditions.
2. *Data age.* How long since I last heard from my primary on the replication link
   (the server feeds it: ``ClusterState.set_replication_info``), minus
   node_timeout (being cut off that long is what FAIL means). If it exceeds
   ``repl-ping-replica-period`` x 1000 + node_timeout x
   ``cluster-replica-validity-factor`` (factor 0: no limit), my data is too old to
   serve: no election. Manual failovers skip this.
3. *Schedule.* If the previous attempt is older than the retry time (2 x the auth
   timeout, the auth timeout being max(2 x node_timeout, 2 s)), schedule a new one
   at now + 500 ms (so that the FAIL reaches every primary first) + random 0-499 ms
   (so that sibling replicas do not collide) + **rank** x 1000 ms, where the rank is
   the number of sibling replicas (not NOFAILOVER) whose advertised replication
   offset is greater than mine: the most up-to-date replica usually asks first and
   wins. A PONG to the siblings then tells them my offset. A manual failover runs
   at once with rank 0.
4. *Wait.* Until the election time, the rank is recomputed from the offsets the
   siblings advertise; a worse rank adds 1 s per place.
5. *Ask.* ``current_epoch += 1`` becomes the election epoch; FAILOVER_AUTH_REQUEST
   (a bare header: the epoch, my primary's config epoch and slots, FORCEACK for a
   manual failover) goes to every node; the config is saved with fsync.
6. *Count.* Each ACK from a primary with slots whose current epoch is at least the
   election epoch is one vote (not de-duplicated, as in 7.0: a voter votes once
   per epoch anyway). With ``size/2 + 1`` votes the replica **wins**: its config
   epoch becomes the election epoch, it turns primary (``ReplicationChanged(None)``),
   binds its old primary's slots to itself, saves with fsync and PONGs everybody.
   The receivers rebind the slots because the new config epoch is greater
   (epochs.py). If the auth timeout passes first, the attempt expired; a new one is
   scheduled once the retry time has passed.

**Voter side** (``on_auth_request``). A primary serving slots grants its vote only
if every rule of bus.md §4.4 holds (``check_vote`` returns the first one broken, as
a ``VoteRefusal``): the request's epoch is not older than ours; we have not voted
in this epoch (``last_vote_epoch``); the requester is a replica, of a primary we
know, which is FAIL (or the request has FORCEACK); we did not vote for a replica of
that primary within 2 x node_timeout (``voted_time``); and no slot the requester
claims is served by a node with a greater config epoch. Granting sets
``last_vote_epoch`` and ``voted_time`` and **saves with fsync before the ACK is
written** (SaveConfig precedes the Send in the effect list): a voter that crashes
and restarts must never vote twice in one epoch.

**The old primary**, back from its failure or partition, announces its old slots
with its old config epoch. Everybody answers with an UPDATE (or it hears the new
primary's PONGs): it sees its slots claimed with a greater epoch, loses its last
slot and becomes a replica of the winner (epochs.update_slots_config_with), which
emits ``ReplicationChanged`` so the server resynchronises from the new primary.

Deliberately weak
-----------------
* Safety comes from the epochs, not from the timing: one vote per epoch per primary
  means at most one winner per epoch. Two replicas may still both win in different
  epochs (the later one wins the slots: "last failover wins"), and a replica may
  win with data older than a sibling's: the rank delay makes it unlikely, never
  impossible. Acknowledged writes that did not reach the winner are lost; only a
  default-mode manual failover avoids that.
* Data age uses whole seconds, as 7.0 does. If the server never calls
  ``set_replication_info`` (``repl_last_io_ms`` None), the data-age rule is not
  applied at all; feed ``last_io_ms=0`` to reproduce a replica that never synced.
* The "Currently unable to failover" log is rate-limited per ``ClusterState``
  (7.0: per process, a static variable).

Deliberate differences from 7.0 (later fixed the same way in Valkey)
-------------------------------------------------------------------
7.0 never clears an attempt's fields once it is over. A replica that won, became a
replica again (a manual failover back) and is asked to fail over within the retry
time (4 s with node_timeout <= 1 s) finds its old attempt still "sent" with a
majority of votes: it "wins" at once, with no new epoch, takes the slots with a
stale config epoch, serves writes for a moment and is demoted again by an UPDATE,
so writes acknowledged meanwhile are lost. Here an attempt is cleared
(:func:`reset_election`) when it wins, and when an operator starts a manual
failover (a fresh election, as the operator asked, not a leftover one).
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import failure, gossip
from .constants import (
    CLUSTER_CANT_FAILOVER_NOLOG_EXTRA,
    CLUSTER_CANT_FAILOVER_RELOG_PERIOD,
    CLUSTER_ELECTION_FIXED_DELAY,
    CLUSTER_ELECTION_RANDOM_DELAY,
    CLUSTER_ELECTION_RANK_DELAY,
    CLUSTER_FAILOVER_AUTH_RETRY_MULT,
    CLUSTER_FAILOVER_AUTH_TIMEOUT_MIN,
    CLUSTER_FAILOVER_AUTH_TIMEOUT_MULT,
    CLUSTER_FAILOVER_VOTE_SPACING_MULT,
)
from .effects import ReplicationChanged
from .events import EventName
from .messages import FailoverAuthAck, FailoverAuthRequest, MessageFlags, MessageHeader
from .nodes import ClusterNode, NodeFlags
from .slots import SlotBitmap, format_slot_ranges

if TYPE_CHECKING:
    from .state import ClusterState


class CantFailoverReason(enum.IntEnum):
    """Why a replica whose primary is FAIL is not failing over (CLUSTER_CANT_FAILOVER_*)."""

    NONE = 0  # nothing to do: no failover needed
    DATA_AGE = 1  # disconnected from the primary for too long (validity factor)
    WAITING_DELAY = 2  # the election time has not come yet
    EXPIRED = 3  # the attempt timed out; waiting for the retry time
    WAITING_VOTES = 4  # request sent, majority not reached yet

    @property
    def message(self) -> str:
        """Redis's text after "Currently unable to failover: "."""
        return _CANT_FAILOVER_TEXT[self]


_CANT_FAILOVER_TEXT = {
    CantFailoverReason.NONE: "Unknown reason code.",
    CantFailoverReason.DATA_AGE: (
        "Disconnected from master for longer than allowed. "
        "Please check the 'cluster-replica-validity-factor' configuration option."
    ),
    CantFailoverReason.WAITING_DELAY: "Waiting the delay before I can start a new failover.",
    CantFailoverReason.EXPIRED: "Failover attempt expired.",
    CantFailoverReason.WAITING_VOTES: "Waiting for votes, but majority still not reached.",
}


class ElectionPhase(enum.StrEnum):
    """Where this replica's election stands (Redis keeps only the raw fields)."""

    IDLE = "idle"  # nothing scheduled (or a previous attempt ended)
    SCHEDULED = "scheduled"  # waiting for ``auth_time`` (delay + rank)
    VOTING = "voting"  # AUTH_REQUEST sent for ``auth_epoch``; counting ACKs
    EXPIRED = "expired"  # no majority within the auth timeout; a retry comes after the retry time
    WON = "won"  # became the primary


class VoteRefusal(enum.StrEnum):
    """Why a primary does not vote for a replica (clusterSendFailoverAuthIfNeeded)."""

    NOT_A_VOTER = "not_a_voter"  # I am a replica or serve no slot (silent, as in 7.0)
    STALE_EPOCH = "stale_epoch"  # request epoch < my current epoch
    ALREADY_VOTED = "already_voted"  # one vote per epoch
    REQUESTER_IS_PRIMARY = "requester_is_primary"
    PRIMARY_UNKNOWN = "primary_unknown"  # I don't know the requester's primary
    PRIMARY_UP = "primary_up"  # its primary is not FAIL and no FORCEACK
    VOTED_RECENTLY = "voted_recently"  # voted for a replica of that primary < 2 x node_timeout ago
    SLOT_EPOCH_NEWER = "slot_epoch_newer"  # a claimed slot is served with a greater config epoch


@dataclass
class ElectionState:
    """The replica-side election fields of Redis's clusterState (``failover_auth_*``)."""

    auth_time: int = 0  # ms: when the election may start (or started); 0: never
    auth_count: int = 0  # votes received in this attempt
    auth_sent: bool = False  # AUTH_REQUEST broadcast for this attempt
    auth_rank: int = 0  # my rank among my primary's replicas
    auth_epoch: int = 0  # the epoch of the request (current_epoch at the time)
    cant_failover_reason: CantFailoverReason = CantFailoverReason.NONE
    last_cant_log_s: int = 0  # seconds: when "Currently unable to failover" was last reported
    phase: ElectionPhase = ElectionPhase.IDLE
    voters: list[str] = field(default_factory=list)  # who ACKed this attempt (for traces)


# ----------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------
def auth_timeout(node_timeout: int) -> int:
    """How long an election may collect votes: max(2 x node_timeout, 2 s)."""
    return max(node_timeout * CLUSTER_FAILOVER_AUTH_TIMEOUT_MULT, CLUSTER_FAILOVER_AUTH_TIMEOUT_MIN)


def auth_retry_time(node_timeout: int) -> int:
    """How long after an attempt's start the next one may be scheduled: 2 x auth timeout."""
    return auth_timeout(node_timeout) * CLUSTER_FAILOVER_AUTH_RETRY_MULT


def votes_needed(state: ClusterState) -> int:
    """A majority of the primaries serving slots."""
    return state.size // 2 + 1


def replica_rank(state: ClusterState) -> int:
    """clusterGetSlaveRank: sibling replicas (not NOFAILOVER) with a greater offset than mine.

    Equal offsets share a rank, so two equally fresh replicas both get 0.
    """
    me = state.myself
    primary = state.primary_of(me)
    if primary is None:
        return 0
    rank = 0
    for name in primary.replica_ids:
        node = state.nodes.get(name)
        if node is None or node is me or NodeFlags.NOFAILOVER in node.flags:
            continue
        if node.repl_offset > me.repl_offset:
            rank += 1
    return rank


def data_age(state: ClusterState) -> int:
    """Milliseconds since the last interaction with my primary (whole seconds, as 7.0),
    less node_timeout when greater than it. 0 when the server feeds nothing."""
    last_io = state.repl_last_io_ms
    if last_io is None:
        return 0
    age = (state.now // 1000 - last_io // 1000) * 1000
    if age > state.node_timeout:
        age -= state.node_timeout
    return age


def data_age_limit(state: ClusterState) -> int | None:
    """The greatest acceptable data age, or None when the validity factor is 0."""
    s = state.settings
    if not s.replica_validity_factor:
        return None
    return s.repl_ping_replica_period * 1000 + state.node_timeout * s.replica_validity_factor


# ----------------------------------------------------------------------------
# Replica side
# ----------------------------------------------------------------------------
def log_cant_failover(state: ClusterState, reason: CantFailoverReason) -> None:
    """clusterLogCantFailover: report a stalled replica, not one that is just waiting.

    Reported when the reason changed or after CLUSTER_CANT_FAILOVER_RELOG_PERIOD, and
    never within node_timeout + 5 s of the primary's FAIL (a normal failover takes
    about that long).
    """
    e = state.election
    now_s = state.now // 1000
    if reason == e.cant_failover_reason and now_s - e.last_cant_log_s < CLUSTER_CANT_FAILOVER_RELOG_PERIOD:
        return
    e.cant_failover_reason = reason
    primary = state.primary_of(state.myself)
    if (
        primary is not None
        and primary.failed
        and state.now - primary.fail_time < state.node_timeout + CLUSTER_CANT_FAILOVER_NOLOG_EXTRA
    ):
        return
    e.last_cant_log_s = now_s
    state._event(EventName.CANT_FAILOVER, reason=reason.name.lower(), why=reason.message)


def handle_replica_failover(state: ClusterState) -> None:
    """clusterHandleSlaveFailover: one step of the replica's election state machine."""
    e = state.election
    mf = state.mf
    me = state.myself
    now = state.now
    nt = state.node_timeout
    auth_age = now - e.auth_time
    manual = mf.end != 0 and mf.can_start
    timeout = auth_timeout(nt)
    retry = auth_retry_time(nt)

    # 1. Preconditions (both automatic and manual failovers).
    primary = state.primary_of(me)
    if (
        me.is_primary
        or primary is None
        or (not primary.failed and not manual)
        or (state.settings.replica_no_failover and not manual)
        or not primary.slots
    ):
        e.cant_failover_reason = CantFailoverReason.NONE
        return

    # 2. Is my data recent enough? (Manual failovers do not care.)
    limit = data_age_limit(state)
    if limit is not None and data_age(state) > limit and not manual:
        log_cant_failover(state, CantFailoverReason.DATA_AGE)
        return

    # 3. The previous attempt is over (or there was none): schedule a new one.
    if auth_age > retry:
        e.auth_time = now + CLUSTER_ELECTION_FIXED_DELAY + state.rng.randrange(CLUSTER_ELECTION_RANDOM_DELAY)
        e.auth_count = 0
        e.auth_sent = False
        e.voters = []
        e.auth_rank = replica_rank(state)
        e.auth_time += e.auth_rank * CLUSTER_ELECTION_RANK_DELAY
        if mf.end:
            # A manual failover does not wait (the primary agreed, or FORCE said so).
            e.auth_time = now
            e.auth_rank = 0
            state._request(handle_failover=True)
        e.phase = ElectionPhase.SCHEDULED
        state._event(EventName.ELECTION_SCHEDULED, delay_ms=e.auth_time - now, rank=e.auth_rank,
                     offset=me.repl_offset, primary=primary.name, manual=bool(mf.end))
        # Tell my siblings my offset now, so that their ranks account for it.
        state._broadcast_pong(local_replicas_only=True)
        return

    # 4. Offsets learned since scheduling may have made my rank worse: wait longer.
    if not e.auth_sent and mf.end == 0:
        new_rank = replica_rank(state)
        if new_rank > e.auth_rank:
            added = (new_rank - e.auth_rank) * CLUSTER_ELECTION_RANK_DELAY
            e.auth_time += added
            e.auth_rank = new_rank
            state._event(EventName.ELECTION_RANK_UPDATED, rank=new_rank, added_ms=added)

    if now < e.auth_time:
        log_cant_failover(state, CantFailoverReason.WAITING_DELAY)
        return

    if auth_age > timeout:
        if e.phase is not ElectionPhase.EXPIRED:
            e.phase = ElectionPhase.EXPIRED
            state._event(EventName.ELECTION_EXPIRED, epoch=e.auth_epoch, votes=e.auth_count,
                         retry_in_ms=max(0, retry - auth_age))
        log_cant_failover(state, CantFailoverReason.EXPIRED)
        return

    # 5. Ask for votes.
    if not e.auth_sent:
        state.current_epoch += 1
        e.auth_epoch = state.current_epoch
        e.auth_sent = True
        e.phase = ElectionPhase.VOTING
        recipients = request_failover_auth(state)
        state._event(EventName.ELECTION_STARTED, epoch=e.auth_epoch, recipients=recipients,
                     force_ack=bool(mf.end), primary=primary.name, needed=votes_needed(state))
        state._request(save=True, fsync=True, update_state=True)
        return

    # 6. Count.
    needed = votes_needed(state)
    if e.auth_count >= needed:
        e.phase = ElectionPhase.WON
        state._event(EventName.FAILOVER_WON, epoch=e.auth_epoch, votes=e.auth_count, needed=needed,
                     primary=primary.name, voters=list(e.voters))
        if me.config_epoch < e.auth_epoch:
            old = me.config_epoch
            me.config_epoch = e.auth_epoch
            state._event(EventName.EPOCH_BUMPED, old=old, new=me.config_epoch, reason="after successful failover")
        replace_primary(state)
        reset_election(state, ElectionPhase.WON)  # its votes must never count again
    else:
        log_cant_failover(state, CantFailoverReason.WAITING_VOTES)


def reset_election(state: ClusterState, phase: ElectionPhase = ElectionPhase.IDLE) -> None:
    """Forget the current attempt: the next failover schedules a new one at once (see
    "Deliberate differences" above). ``phase`` says why (WON, or IDLE for a fresh start)."""
    e = state.election
    e.auth_time = 0
    e.auth_count = 0
    e.auth_sent = False
    e.voters = []
    e.phase = phase


def request_failover_auth(state: ClusterState) -> int:
    """clusterRequestFailoverAuth: broadcast the request; returns how many nodes got it."""
    header = gossip.build_header(state)
    if state.mf.end:
        header = dataclasses.replace(header, mflags=header.mflags | MessageFlags.FORCEACK)
    return state._broadcast(FailoverAuthRequest(header))


def on_auth_ack(state: ClusterState, sender: ClusterNode, header: MessageHeader) -> None:
    """A FAILOVER_AUTH_ACK: one vote if from a primary with slots, in our epoch or later."""
    e = state.election
    if sender.is_primary and sender.slots and header.current_epoch >= e.auth_epoch:
        e.auth_count += 1
        e.voters.append(sender.name)
        state._event(EventName.VOTES_COUNTED, node=sender.name, votes=e.auth_count,
                     needed=votes_needed(state), epoch=e.auth_epoch)
        state._request(handle_failover=True)  # maybe a majority now: check before the call returns


def replace_primary(state: ClusterState) -> None:
    """clusterFailoverReplaceYourMaster: become the primary and take its slots.

    The caller has already given us the new config epoch (election or TAKEOVER).
    """
    me = state.myself
    old = state.primary_of(me)
    if me.is_primary or old is None:
        return
    state._set_node_as_primary(me)
    state._effects.append(ReplicationChanged(None))  # stop replicating: we are the primary now
    mask = old.slots.mask
    if mask:
        state._unassign_slots(mask, reason="", quiet=True)
        state._assign_slots(me, mask, reason=f"failover of {old.name}")
        state.owner_not_claiming &= ~mask
    state._event(EventName.FAILOVER_TAKEN_OVER, old_primary=old.name,
                 slots=format_slot_ranges(SlotBitmap(mask)), config_epoch=me.config_epoch)
    failure.update_cluster_state(state)
    state._save_now(fsync=True)  # on disk before any PONG announces it
    state._broadcast_pong()
    state._reset_manual_failover()


# ----------------------------------------------------------------------------
# Voter side
# ----------------------------------------------------------------------------
def check_vote(state: ClusterState, node: ClusterNode, header: MessageHeader) -> tuple[VoteRefusal | None, str]:
    """The vote rules of clusterSendFailoverAuthIfNeeded, in Redis's order.

    Returns ``(None, "")`` when the vote may be granted, else the first rule broken
    and Redis's log text for it.
    """
    me = state.myself
    if me.is_replica or not me.slots:
        return VoteRefusal.NOT_A_VOTER, "I am not a master serving slots"
    req_epoch = header.current_epoch
    if req_epoch < state.current_epoch:
        return VoteRefusal.STALE_EPOCH, f"reqEpoch ({req_epoch}) < curEpoch({state.current_epoch})"
    if state.last_vote_epoch == state.current_epoch:
        return VoteRefusal.ALREADY_VOTED, f"already voted for epoch {state.current_epoch}"
    primary = state.primary_of(node)
    force_ack = MessageFlags.FORCEACK in header.mflags
    if node.is_primary:
        return VoteRefusal.REQUESTER_IS_PRIMARY, "it is a master node"
    if primary is None:
        return VoteRefusal.PRIMARY_UNKNOWN, "I don't know its master"
    if not primary.failed and not force_ack:
        return VoteRefusal.PRIMARY_UP, "its master is up"
    spacing = state.node_timeout * CLUSTER_FAILOVER_VOTE_SPACING_MULT
    if state.now - primary.voted_time < spacing:
        left = spacing - (state.now - primary.voted_time)
        return VoteRefusal.VOTED_RECENTLY, f"can't vote about this master before {left} milliseconds"
    req_config_epoch = header.config_epoch
    for slot in header.myslots:
        if state._unclaimed(slot):
            continue
        owner = state.slot_owner[slot]
        assert owner is not None
        if owner.config_epoch <= req_config_epoch:
            continue
        return VoteRefusal.SLOT_EPOCH_NEWER, (
            f"slot {slot} epoch ({owner.config_epoch}) > reqEpoch ({req_config_epoch})"
        )
    return None, ""


def on_auth_request(state: ClusterState, node: ClusterNode, request: FailoverAuthRequest) -> None:
    """clusterSendFailoverAuthIfNeeded: vote for ``node`` if every rule allows it."""
    header = request.header
    me = state.myself
    if me.is_replica or not me.slots:
        return  # not a voter: 7.0 says nothing either (every node receives every request)
    state._event(EventName.VOTE_REQUESTED, node=node.name, epoch=header.current_epoch,
                 force_ack=MessageFlags.FORCEACK in header.mflags)
    refusal, why = check_vote(state, node, header)
    if refusal is not None:
        state._event(EventName.VOTE_REFUSED, node=node.name, reason=refusal.value, why=why,
                     epoch=header.current_epoch)
        return
    primary = state.primary_of(node)
    assert primary is not None
    state.last_vote_epoch = state.current_epoch
    primary.voted_time = state.now
    state._save_now(fsync=True)  # the vote is on disk before the ACK leaves
    link = state._out.get(node.name)
    state._send(link, FailoverAuthAck(gossip.build_header(state)))
    state._event(EventName.VOTE_GRANTED, node=node.name, primary=primary.name, epoch=state.current_epoch,
                 sent=link is not None)


__all__ = [
    "CantFailoverReason",
    "ElectionPhase",
    "ElectionState",
    "VoteRefusal",
    "auth_retry_time",
    "auth_timeout",
    "check_vote",
    "data_age",
    "data_age_limit",
    "handle_replica_failover",
    "log_cant_failover",
    "on_auth_ack",
    "on_auth_request",
    "replace_primary",
    "replica_rank",
    "request_failover_auth",
    "reset_election",
    "votes_needed",
]
