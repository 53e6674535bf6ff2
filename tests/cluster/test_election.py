"""Replica elections and voting, stepped by hand (bus.md §4; election.py).

Every core here is loaded from a nodes.conf text describing the same 5-node cluster:
three primaries A, B, C (C FAIL unless a test says otherwise) and two replicas of C,
R and S. Messages cross the real codec (``wire``).
"""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from pyredis_cluster.cluster import election
from pyredis_cluster.cluster.codec import decode_packet, encode
from pyredis_cluster.cluster.effects import Connect, Effect, ReplicationChanged, SaveConfig, Send
from pyredis_cluster.cluster.election import CantFailoverReason, ElectionPhase, VoteRefusal
from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.gossip import build_header
from pyredis_cluster.cluster.messages import (
    FailoverAuthAck,
    FailoverAuthRequest,
    Message,
    MessageFlags,
    MessageHeader,
    Pong,
)
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.nodes_conf import parse_nodes_conf
from pyredis_cluster.cluster.slots import SlotBitmap
from pyredis_cluster.cluster.state import ClusterSettings, ClusterState

T0 = 1_700_000_000_000
NT = 1000
A, B, C, R, S = ("a" * 40, "b" * 40, "c" * 40, "e" * 40, "f" * 40)
PORTS = {A: 30001, B: 30002, C: 30003, R: 30004, S: 30005}
SLOTS = {A: (0, 5460), B: (5461, 10922), C: (10923, 16383)}


def c_slots() -> SlotBitmap:
    lo, hi = SLOTS[C]
    return SlotBitmap(((1 << (hi + 1)) - 1) & ~((1 << lo) - 1))


def conf(me: str, *, c_flags: str = "master,fail", current_epoch: int = 3, last_vote: int = 0) -> str:
    lines = []
    for name, port in PORTS.items():
        flags = {A: "master", B: "master", C: c_flags, R: "slave", S: "slave"}[name]
        if name == me:
            flags = "myself," + flags
        primary = C if name in (R, S) else "-"
        epoch = {A: 1, B: 2, C: 3}.get(name, 3)
        slots = "{}-{}".format(*SLOTS[name]) if name in SLOTS else ""
        lines.append(f"{name} 127.0.0.1:{port}@{port + 10000} {flags} {primary} 0 0 {epoch} connected {slots}")
    lines.append(f"vars currentEpoch {current_epoch} lastVoteEpoch {last_vote}")
    return "\n".join(lines) + "\n"


def load(me: str, **kw: object) -> ClusterState:
    """The cluster from ``me``'s point of view, with every outbound link connected."""
    opts: dict[str, object] = {"node_timeout": NT}
    opts.update({k: kw.pop(k) for k in list(kw) if k in ("replica_validity_factor", "replica_no_failover")})
    config = parse_nodes_conf(conf(me, **kw), T0)  # type: ignore[arg-type]
    state = ClusterState(ClusterSettings(port=PORTS[me], **opts), now_ms=T0,  # type: ignore[arg-type]
                         rng=random.Random(1), config=config)
    for effect in state.tick(T0):
        if isinstance(effect, Connect):
            state.link_connected(effect.link_id, T0)
    return state


def wire(message: Message) -> Message:
    return decode_packet(encode(message))  # type: ignore[return-value]


def events(effects: list[Effect], name: EventName) -> list[Event]:
    return [e for e in effects if isinstance(e, Event) and e.name == name]


def sends(effects: list[Effect], kind: type) -> list[Send]:
    return [e for e in effects if isinstance(e, Send) and isinstance(e.message, kind)]


def request(sender: str, epoch: int, *, config_epoch: int = 3, slots: SlotBitmap | None = None,
            force_ack: bool = False, primary: str | None = C) -> FailoverAuthRequest:
    header = MessageHeader(
        sender=sender, port=PORTS.get(sender, 30009), cport=PORTS.get(sender, 30009) + 10000,
        current_epoch=epoch, config_epoch=config_epoch, myslots=slots if slots is not None else c_slots(),
        slaveof=primary, flags=NodeFlags.REPLICA | NodeFlags.MYSELF if primary else NodeFlags.PRIMARY,
        mflags=MessageFlags.FORCEACK if force_ack else MessageFlags(0),
    )
    return FailoverAuthRequest(header)


def ask(voter: ClusterState, req: FailoverAuthRequest, now: int) -> list[Effect]:
    """Deliver an AUTH_REQUEST on a fresh inbound link."""
    link = voter.accept_link("127.0.0.1", "127.0.0.1", now)
    return voter.handle_packet(link, wire(req), now)


def refusal(effects: list[Effect]) -> str | None:
    refused = events(effects, EventName.VOTE_REFUSED)
    return refused[0]["reason"] if refused else None


# ----------------------------------------------------------------------------
# timing helpers
# ----------------------------------------------------------------------------
def test_auth_timeout_and_retry_follow_7_0() -> None:
    assert election.auth_timeout(15000) == 30000 and election.auth_retry_time(15000) == 60000
    assert election.auth_timeout(500) == 2000 and election.auth_retry_time(500) == 4000  # 2 s minimum


# ----------------------------------------------------------------------------
# voter side: every rule of clusterSendFailoverAuthIfNeeded
# ----------------------------------------------------------------------------
def test_vote_granted_and_persisted_before_the_ack() -> None:
    voter = load(A)
    effects = ask(voter, request(R, 4), T0 + 10)
    assert refusal(effects) is None
    granted = events(effects, EventName.VOTE_GRANTED)[0]
    assert granted["node"] == R and granted["epoch"] == 4 and granted["sent"]
    ack = sends(effects, FailoverAuthAck)[0]
    assert ack.link_id == voter._out[R].id  # on our outbound link to the requester
    save = effects.index(SaveConfig(fsync=True))
    assert save < effects.index(ack)  # the vote is on disk before it leaves
    assert voter.last_vote_epoch == 4 and voter.current_epoch == 4
    assert voter.nodes[C].voted_time == T0 + 10
    assert voter.nodes_conf_text().endswith("vars currentEpoch 4 lastVoteEpoch 4\n")
    assert wire(ack.message).header.current_epoch == 4


def test_a_restarted_voter_does_not_vote_twice_in_an_epoch() -> None:
    voter = load(A)
    ask(voter, request(R, 4), T0 + 10)
    restarted = ClusterState(ClusterSettings(port=30001, node_timeout=NT), now_ms=T0 + 20, rng=random.Random(2),
                             config=parse_nodes_conf(voter.nodes_conf_text(), T0 + 20))
    effects = ask(restarted, request(S, 4), T0 + 5000)
    assert refusal(effects) == VoteRefusal.ALREADY_VOTED
    assert not sends(effects, FailoverAuthAck)


@pytest.mark.parametrize(
    ("setup", "req", "reason", "why"),
    [
        ("", request(R, 2), VoteRefusal.STALE_EPOCH, "reqEpoch (2) < curEpoch(3)"),
        ("voted", request(S, 3), VoteRefusal.ALREADY_VOTED, "already voted for epoch 3"),
        ("", request(B, 4, primary=None), VoteRefusal.REQUESTER_IS_PRIMARY, "it is a master node"),
        ("orphan", request(R, 4), VoteRefusal.PRIMARY_UNKNOWN, "I don't know its master"),
        ("c_up", request(R, 4), VoteRefusal.PRIMARY_UP, "its master is up"),
        ("recent", request(R, 4), VoteRefusal.VOTED_RECENTLY, "can't vote about this master before 1500 milliseconds"),
        ("", request(R, 4, slots=SlotBitmap(1 << 7), config_epoch=0), VoteRefusal.SLOT_EPOCH_NEWER,
         "slot 7 epoch (1) > reqEpoch (0)"),
    ],
)
def test_vote_refusals(setup: str, req: FailoverAuthRequest, reason: VoteRefusal, why: str) -> None:
    voter = load(A, c_flags="master" if setup == "c_up" else "master,fail",
                 last_vote=3 if setup == "voted" else 0)
    if setup == "orphan":
        voter.nodes[R].primary_id = "9" * 40
    if setup == "recent":
        voter.nodes[C].voted_time = T0 - 500  # voted 500 ms ago; spacing is 2 x 1000
    effects = ask(voter, req, T0)
    refused = events(effects, EventName.VOTE_REFUSED)
    assert len(refused) == 1 and refused[0]["reason"] == reason and refused[0]["why"] == why
    assert refused[0].describe().startswith("Failover auth denied to ")
    assert not sends(effects, FailoverAuthAck)
    assert voter.last_vote_epoch == (3 if setup == "voted" else 0)


def test_force_ack_lifts_only_the_fail_requirement() -> None:
    voter = load(A, c_flags="master")
    assert refusal(ask(voter, request(R, 4, force_ack=True), T0)) is None
    voter = load(A, c_flags="master")
    voter.nodes[C].voted_time = T0 - 10
    assert refusal(ask(voter, request(R, 4, force_ack=True), T0)) == VoteRefusal.VOTED_RECENTLY


def test_one_vote_per_primary_within_two_node_timeouts_then_again() -> None:
    voter = load(A)
    assert refusal(ask(voter, request(R, 4), T0)) is None
    assert refusal(ask(voter, request(S, 5), T0 + 2 * NT - 1)) == VoteRefusal.VOTED_RECENTLY
    assert refusal(ask(voter, request(S, 6), T0 + 2 * NT)) is None
    assert voter.last_vote_epoch == 6


def test_slot_claims_served_with_a_newer_epoch_are_refused() -> None:
    voter = load(A)
    voter.nodes[C].config_epoch = 9  # C's slots are now served at epoch 9 (say, after a failover)
    voter.current_epoch = 9
    effects = ask(voter, request(R, 10, config_epoch=3), T0)
    assert refusal(effects) == VoteRefusal.SLOT_EPOCH_NEWER
    assert events(effects, EventName.VOTE_REFUSED)[0]["why"] == "slot 10923 epoch (9) > reqEpoch (3)"
    # unclaimed slots do not count
    voter.owner_not_claiming = c_slots().mask
    assert refusal(ask(voter, request(R, 10, config_epoch=3), T0)) is None


@pytest.mark.parametrize("who", [B, R])
def test_replicas_and_slotless_primaries_never_vote(who: str) -> None:
    state = load(who)
    if who == B:
        state._unassign_slots(state.myself.slots.mask, reason="test")
    effects = ask(state, request(S, 4), T0)
    assert not events(effects, EventName.VOTE_REQUESTED) and not events(effects, EventName.VOTE_REFUSED)
    assert not sends(effects, FailoverAuthAck) and state.last_vote_epoch == 0


def test_no_outbound_link_the_vote_counts_but_nothing_is_sent() -> None:
    voter = load(A)
    voter._free_link(voter._out[R], reason="test")
    effects = ask(voter, request(R, 4), T0)
    assert events(effects, EventName.VOTE_GRANTED)[0]["sent"] is False
    assert not sends(effects, FailoverAuthAck) and voter.last_vote_epoch == 4


# ----------------------------------------------------------------------------
# replica side: schedule, rank, request, count, win
# ----------------------------------------------------------------------------
def replica(**kw: object) -> ClusterState:
    state = load(R, **kw)
    state.size = 3  # three primaries serve slots (C included: FAIL still counts in size)
    state.election = election.ElectionState()  # forget what load()'s first tick scheduled
    state.election.last_cant_log_s = 0
    return state


def test_election_is_scheduled_with_delay_and_rank() -> None:
    state = replica()
    state.set_replication_info(100, T0, T0)
    state.nodes[S].repl_offset = 50  # sibling behind: rank 0
    effects = state.tick(T0 + 100)
    sched = events(effects, EventName.ELECTION_SCHEDULED)[0]
    assert sched["rank"] == 0 and 500 <= sched["delay_ms"] < 1000 and sched["offset"] == 100
    assert state.election.phase is ElectionPhase.SCHEDULED
    # the PONG goes to the sibling replica only
    pongs = sends(effects, Pong)
    assert [p.to for p in pongs] == [S]

    state2 = replica()
    state2.set_replication_info(100, T0, T0)
    state2.nodes[S].repl_offset = 200  # sibling ahead: rank 1, one more second
    sched2 = events(state2.tick(T0 + 100), EventName.ELECTION_SCHEDULED)[0]
    assert sched2["rank"] == 1 and 1500 <= sched2["delay_ms"] < 2000


def test_nofailover_siblings_do_not_rank_and_equal_offsets_share_a_rank() -> None:
    state = replica()
    state.set_replication_info(100, T0, T0)
    state.nodes[S].repl_offset = 100
    assert election.replica_rank(state) == 0
    state.nodes[S].repl_offset = 101
    assert election.replica_rank(state) == 1
    state.nodes[S].flags |= NodeFlags.NOFAILOVER
    assert election.replica_rank(state) == 0


def test_rank_recomputed_while_waiting() -> None:
    state = replica()
    state.set_replication_info(100, T0, T0)
    state.tick(T0 + 100)
    before = state.election.auth_time
    state.nodes[S].repl_offset = 500  # a sibling's header shows a better offset
    effects = state.tick(T0 + 200)
    upd = events(effects, EventName.ELECTION_RANK_UPDATED)[0]
    assert upd["rank"] == 1 and upd["added_ms"] == 1000
    assert state.election.auth_time == before + 1000


def start_election(state: ClusterState) -> list[Effect]:
    state.set_replication_info(100, T0, T0)
    state.tick(T0 + 100)
    return state.tick(state.election.auth_time)


def test_request_broadcast_with_the_new_epoch_saved_first() -> None:
    state = replica()
    effects = start_election(state)
    started = events(effects, EventName.ELECTION_STARTED)[0]
    assert started["epoch"] == 4 and started["force_ack"] is False and started["needed"] == 2
    assert state.current_epoch == 4 and state.election.phase is ElectionPhase.VOTING
    reqs = sends(effects, FailoverAuthRequest)
    assert sorted(r.to for r in reqs) == sorted([A, B, C, S])  # every node with a link
    h = wire(reqs[0].message).header
    assert (h.current_epoch, h.config_epoch, h.slaveof, h.offset) == (4, 3, C, 100)
    assert h.myslots == c_slots() and MessageFlags.FORCEACK not in h.mflags
    assert effects.index(SaveConfig(fsync=True)) < effects.index(reqs[0])


def ack_from(state: ClusterState, voter: str, epoch: int, now: int) -> list[Effect]:
    header = build_header(load(voter))  # the voter's own view: a primary with its slots
    header = replace(header, current_epoch=epoch)
    return state.handle_packet(state._out[voter].id, wire(FailoverAuthAck(header)), now)


def test_majority_wins_at_once_and_takes_over() -> None:
    state = replica()
    start_election(state)
    now = state.election.auth_time + 5
    first = ack_from(state, A, 4, now)
    assert events(first, EventName.VOTES_COUNTED)[0]["votes"] == 1 and not events(first, EventName.FAILOVER_WON)
    effects = ack_from(state, B, 4, now + 1)
    won = events(effects, EventName.FAILOVER_WON)[0]
    assert won["votes"] == 2 and won["epoch"] == 4 and won["voters"] == [A, B]
    me = state.myself
    assert me.is_primary and me.config_epoch == 4 and me.slots == c_slots()
    assert not state.nodes[C].slots and state.slot_owner[10923] is me
    assert ReplicationChanged(None) in effects
    pongs = sends(effects, Pong)
    assert sorted(p.to for p in pongs) == sorted([A, B, C, S])  # PONG to all
    assert effects.index(SaveConfig(fsync=True)) < effects.index(pongs[0])
    assert wire(pongs[0].message).header.slaveof is None
    assert state.election.phase is ElectionPhase.WON
    assert f"{R} 127.0.0.1:30004@40004 myself,master - 0 0 4 connected 10923-16383" in state.nodes_conf_text()


def test_acks_from_replicas_or_older_epochs_do_not_count() -> None:
    state = replica()
    start_election(state)
    now = state.election.auth_time + 5
    stale = ack_from(state, A, 3, now)  # current epoch 3 < election epoch 4
    assert not events(stale, EventName.VOTES_COUNTED)
    header = replace(build_header(load(S)), current_epoch=4)
    effects = state.handle_packet(state._out[S].id, wire(FailoverAuthAck(header)), now)
    assert not events(effects, EventName.VOTES_COUNTED) and state.election.auth_count == 0


def test_attempt_expires_then_retries_after_the_retry_time() -> None:
    state = replica()
    start_election(state)
    t_start = state.election.auth_time
    assert not events(state.tick(t_start + 2000), EventName.ELECTION_EXPIRED)  # auth timeout = 2 s
    expired = events(state.tick(t_start + 2001), EventName.ELECTION_EXPIRED)
    assert expired and state.election.phase is ElectionPhase.EXPIRED
    assert not events(state.tick(t_start + 4000), EventName.ELECTION_SCHEDULED)  # retry = 4 s
    again = state.tick(t_start + 4001)
    assert events(again, EventName.ELECTION_SCHEDULED)
    assert state.election.auth_count == 0 and not state.election.auth_sent


def test_data_age_blocks_the_election_and_is_logged_later() -> None:
    state = replica(replica_validity_factor=1)
    # limit = 10 s (repl-ping-replica-period) + 1 x 1 s; data age = 20 s - node_timeout
    state.set_replication_info(100, T0 - 20_000, T0)
    effects = state.tick(T0 + 100)
    assert not events(effects, EventName.ELECTION_SCHEDULED) and not events(effects, EventName.CANT_FAILOVER)
    assert state.election.cant_failover_reason is CantFailoverReason.DATA_AGE
    # C was marked FAIL at T0: the log waits node_timeout + 5 s, and then uses Redis's text.
    state.election.cant_failover_reason = CantFailoverReason.NONE
    cant = events(state.tick(T0 + 6100), EventName.CANT_FAILOVER)
    assert cant and cant[0]["reason"] == "data_age"
    assert cant[0].describe().startswith("Currently unable to failover: Disconnected from master for longer")
    assert not events(state.tick(T0 + 6200), EventName.CANT_FAILOVER)  # not again for 5 minutes
    # validity factor 0: no limit
    state.settings.replica_validity_factor = 0
    assert events(state.tick(T0 + 6300), EventName.ELECTION_SCHEDULED)


@pytest.mark.parametrize("case", ["primary_up", "nofailover", "no_slots"])
def test_no_election_without_the_preconditions(case: str) -> None:
    state = replica(c_flags="master" if case == "primary_up" else "master,fail",
                    replica_no_failover=case == "nofailover")
    if case == "no_slots":
        state._unassign_slots(state.nodes[C].slots.mask, reason="test")
    effects = state.tick(T0 + 100) + state.tick(T0 + 5000)
    assert not events(effects, EventName.ELECTION_SCHEDULED)
    assert state.election.cant_failover_reason is CantFailoverReason.NONE


def test_failover_modules_stay_pure() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys\n"
        "import pyredis_cluster.cluster.election, pyredis_cluster.cluster.manual_failover\n"
        "import pyredis_cluster.cluster.replica_migration, pyredis_cluster.cluster.state\n"
        "bad = [m for m in sys.modules if m == 'asyncio' or m.startswith('pyredis_cluster.server')]\n"
        "print(','.join(bad))\n"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == ""
