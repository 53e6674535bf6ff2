"""The teaching trace's records (cluster/trace.py): every message type, events, the simulation."""

from __future__ import annotations

import json

import pytest

from pyredis_cluster.cluster.effects import Send
from pyredis_cluster.cluster.election import VoteRefusal
from pyredis_cluster.cluster.events import Event, EventName
from pyredis_cluster.cluster.messages import (
    MESSAGE_CLASSES,
    Fail,
    FailoverAuthAck,
    FailoverAuthRequest,
    GossipEntry,
    HostnameExt,
    Meet,
    MessageFlags,
    MessageHeader,
    MessageType,
    MFStart,
    Module,
    Ping,
    Pong,
    Publish,
    PublishShard,
    UnknownMessage,
    Update,
)
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.slots import SlotBitmap
from pyredis_cluster.cluster.trace import (
    TRACE_CHANNEL,
    TRACE_FORMAT_VERSION,
    TraceFormatError,
    TraceRecorder,
    event_record,
    is_chatter,
    message_record,
    parse_record,
    to_json_line,
)
from pyredis_cluster.testing.simulation import Simulation

A, B, C = "a" * 40, "b" * 40, "c" * 40
HEADER = MessageHeader(
    sender=A, port=7000, cport=17000, current_epoch=9, config_epoch=4, offset=1234,
    myslots=SlotBitmap.from_ranges([(0, 10), (12, 12)]), slaveof=None, myip="10.0.0.1",
    flags=NodeFlags.MYSELF | NodeFlags.PRIMARY, mflags=MessageFlags.PAUSED,
)  # fmt: skip
GOSSIP = (
    GossipEntry(B, ping_sent=0, pong_received=1_700_000_001, ip="10.0.0.2", port=7001, cport=17001,
                flags=NodeFlags.PRIMARY | NodeFlags.PFAIL),
    GossipEntry(C, ping_sent=1_700_000_002, pong_received=0, ip="10.0.0.3", port=7002, cport=17002,
                flags=NodeFlags.REPLICA),
)  # fmt: skip

#: One message of every known type, with the fields its record must carry.
SAMPLES = [
    Ping(HEADER, gossip=GOSSIP, extensions=(HostnameExt("host-a"),)),
    Pong(HEADER, gossip=GOSSIP),
    Meet(HEADER),
    Fail(HEADER, nodename=B),
    Publish(HEADER, channel=b"news", message=b"hello \xff"),
    PublishShard(HEADER, channel=b"{s}news", message=b"x" * 5000),
    FailoverAuthRequest(HEADER),
    FailoverAuthAck(HEADER),
    Update(HEADER, config_epoch=12, nodename=C, slots=SlotBitmap.from_ranges([(100, 200)])),
    MFStart(HEADER),
    Module(HEADER, module_id=b"\x01\x02\x03\x04\x05\x06\x07\x08", module_type=3, payload=b"abc"),
]


def record_of(message: object, kind: str = "send") -> dict:
    return message_record(kind, message, t=1_700_000_000_123, node=A, port=7000,  # type: ignore[arg-type]
                          sender_addr="10.0.0.1:7000", receiver=B, receiver_addr="10.0.0.2:7001")  # fmt: skip


def test_samples_cover_every_known_message_type() -> None:
    assert {type(m) for m in SAMPLES} == set(MESSAGE_CLASSES.values())


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_every_message_type_has_a_record_with_the_header(message: object) -> None:
    record = record_of(message)
    assert record["v"] == TRACE_FORMAT_VERSION == 1
    assert record["kind"] == "send" and record["t"] == 1_700_000_000_123
    assert record["node"] == A and record["port"] == 7000
    assert record["type"] == MessageType(message.type).name  # type: ignore[attr-defined]
    assert record["code"] == message.type  # type: ignore[attr-defined]
    assert (record["from"], record["from_addr"]) == (A, "10.0.0.1:7000")
    assert (record["to"], record["to_addr"]) == (B, "10.0.0.2:7001")
    assert (record["current_epoch"], record["config_epoch"], record["offset"]) == (9, 4, 1234)
    assert record["flags"] == "myself,master"  # CLUSTER NODES words, as on the wire
    assert record["primary"] is None
    assert record["slots"] == "0-10 12"
    assert record["mflags"] == ["paused"]
    assert record["state"] == "ok"
    # JSON round trip: the record is plain JSON, and parse_record reads it back unchanged
    line = to_json_line(record)
    assert "\n" not in line
    assert parse_record(line) == record == json.loads(line)


def test_ping_like_records_carry_every_gossip_entry() -> None:
    for message in SAMPLES[:2]:
        record = record_of(message)
        assert record["gossip"] == [
            {"node": B, "flags": "master,fail?", "ping_sent": 0, "pong_received": 1_700_000_001,
             "addr": "10.0.0.2:7001@17001"},
            {"node": C, "flags": "slave", "ping_sent": 1_700_000_002, "pong_received": 0,
             "addr": "10.0.0.3:7002@17002"},
        ]  # fmt: skip
    assert record_of(SAMPLES[0])["hostname"] == "host-a"
    assert "hostname" not in record_of(SAMPLES[1])
    assert record_of(SAMPLES[2])["gossip"] == []


def test_type_specific_fields() -> None:
    fail, publish, shard, request, update, module = (record_of(SAMPLES[i]) for i in (3, 4, 5, 6, 8, 10))
    assert fail["about"] == B
    assert (update["about"], update["about_config_epoch"], update["about_slots"]) == (C, 12, "100-200")
    assert (publish["channel"], publish["message"], publish["message_len"]) == ("news", "hello \\xff", 7)
    assert len(shard["message"]) == 1024 and shard["message_len"] == 5000  # long payloads are cut
    assert (module["module_id"], module["module_type"], module["payload_len"]) == ("0102030405060708", 3, 3)
    assert "gossip" not in request and "about" not in request


def test_replica_sender_unknown_type_and_manual_failover_flags() -> None:
    header = MessageHeader(sender=C, slaveof=A, flags=NodeFlags.MYSELF | NodeFlags.REPLICA,
                           mflags=MessageFlags.FORCEACK, state=1)  # fmt: skip
    record = record_of(FailoverAuthRequest(header))
    assert (record["primary"], record["flags"], record["mflags"], record["state"]) == (A, "myself,slave",
                                                                                     ["forceack"], "fail")
    assert record["slots"] == ""
    unknown = record_of(UnknownMessage(header, message_type=42, data=b"zz"), kind="recv")
    assert (unknown["type"], unknown["code"], unknown["kind"]) == ("UNKNOWN", 42, "recv")


def test_event_records_are_json_safe_with_the_human_text() -> None:
    event = Event(EventName.VOTE_REFUSED, 1_700_000_000_500, A,
                  {"node": B, "reason": VoteRefusal.ALREADY_VOTED, "why": "already voted",
                   "flags": NodeFlags.PRIMARY | NodeFlags.FAIL, "slots": (1, 2), "raw": b"\xffk"})  # fmt: skip
    record = event_record(event, port=7000)
    assert record == {
        "v": 1, "t": 1_700_000_000_500, "kind": "event", "node": A, "port": 7000,
        "name": "vote_refused", "level": "warning",
        "fields": {"node": B, "reason": VoteRefusal.ALREADY_VOTED.value, "why": "already voted",
                   "flags": "master,fail", "slots": [1, 2], "raw": "\\xffk"},
        "text": event.describe(),
    }  # fmt: skip
    assert f"Failover auth denied to {B}" in record["text"]
    assert parse_record(to_json_line(record)) == record


def test_parse_record_refuses_what_is_not_a_v1_record() -> None:
    good = event_record(Event(EventName.PFAIL, 1, A, {"node": B}), port=1)
    for bad in ("not json", "[1, 2]", json.dumps({**good, "v": 2}), json.dumps({**good, "kind": "gossip"})):
        with pytest.raises(TraceFormatError):
            parse_record(bad)


def test_chatter_is_the_heartbeat_and_socket_events() -> None:
    assert is_chatter(record_of(SAMPLES[0])) and is_chatter(record_of(SAMPLES[1]))
    assert not any(is_chatter(record_of(m)) for m in SAMPLES[2:])
    assert is_chatter(event_record(Event(EventName.LINK_CONNECTED, 1, A, {"node": B}), port=1))
    assert not is_chatter(event_record(Event(EventName.PFAIL, 1, A, {"node": B}), port=1))
    assert TRACE_CHANNEL == "__pyredis__:trace"  # the live view and the scenarios subscribe to it


# ----------------------------------------------------------------------------
# A recorder on a real core, and the simulation
# ----------------------------------------------------------------------------
def failover_sim(seed: int = 7) -> tuple[Simulation, int, int]:
    """3 primaries (0, 1, 2) with a replica each (3, 4, 5); the trace starts when 1 is killed."""
    sim = Simulation(6, seed=seed, node_timeout=2000, base_port=7000, trace=True)
    sim.create_cluster(primaries=[0, 1, 2], replicas={3: 0, 4: 1, 5: 2})
    sim.run_for(1000)
    sim.trace.clear()
    sim.events.clear()
    sim.kill(1)
    assert sim.run_until(lambda: sim.state(4).myself.is_primary and sim.cluster_ok(), 20_000)
    sim.run_for(500)
    return sim, 1, 4


def test_recorder_names_the_receiver_from_the_node_table() -> None:
    sim = Simulation(2, seed=1, base_port=7000)
    sim.create_cluster()
    records: list[dict] = []
    recorder = TraceRecorder(lambda: sim.state(0), records.append)
    recorder.sent(Send(0, FailoverAuthAck(MessageHeader(sender=sim.id(0))), to=sim.id(1)))
    recorder.event(Event(EventName.PFAIL, sim.now, sim.id(0), {"node": sim.id(1)}))
    send, event = records
    assert (send["to"], send["to_addr"], send["t"]) == (sim.id(1), "127.0.0.1:7001", sim.state(0).now)
    assert (send["node"], send["port"], send["from_addr"]) == (sim.id(0), 7000, "127.0.0.1:7000")
    assert (event["node"], event["port"], event["name"]) == (sim.id(0), 7000, "pfail")


def test_simulation_records_every_message_at_both_ends() -> None:
    sim, _victim, _winner = failover_sim()
    sends = [r for r in sim.trace if r["kind"] == "send"]
    recvs = [r for r in sim.trace if r["kind"] == "recv"]
    events = [r for r in sim.trace if r["kind"] == "event"]
    assert len(events) == len(sim.events)  # the same stream as sim.events, in order
    assert [r["name"] for r in events] == [str(e.name) for e in sim.events]
    # every received message was sent before (same type, sender, receiver and epochs)
    def key(r: dict) -> tuple:
        return (r["type"], r["from"], r["to"], r["current_epoch"], r["config_epoch"], r["slots"])

    sent_keys = [key(r) for r in sends]
    for r in recvs:
        assert key(r) in sent_keys and r["to"] == r["node"]
    # nothing reaches the dead node: what was sent to it has no receive
    dead = sim.id(1)
    assert any(r["to"] == dead for r in sends) and not any(r["node"] == dead for r in sim.trace)
    assert all(r["node"] == r["from"] for r in sends)
    assert [r["t"] for r in sim.trace] == sorted(r["t"] for r in sim.trace)


def test_simulated_failover_trace_tells_the_story_and_is_reproducible() -> None:
    sim, victim_index, winner_index = failover_sim()
    victim, winner = sim.id(victim_index), sim.id(winner_index)
    voters = [sim.id(0), sim.id(2)]  # the live primaries
    story = ("pfail", "fail", "election_scheduled", "election_started", "votes_counted", "failover_won",
             "failover_taken_over")  # fmt: skip
    winner_story = [r["name"] for r in sim.trace if r["kind"] == "event" and r["node"] == winner
                    and r["name"] in story]  # fmt: skip
    # the winner suspects, learns FAIL, schedules and runs one election, counts the two
    # live primaries' votes (a majority of 3 primaries is 2) and takes over
    assert winner_story == ["pfail", "fail", "election_scheduled", "election_started", "votes_counted",
                            "votes_counted", "failover_won", "failover_taken_over"]  # fmt: skip
    won = next(r for r in sim.trace if r["kind"] == "event" and r["name"] == "failover_won")
    epoch = won["fields"]["epoch"]
    assert won["fields"]["primary"] == victim
    requests = [r for r in sim.trace if r["kind"] == "send" and r["type"] == "FAILOVER_AUTH_REQUEST"]
    assert {r["to"] for r in requests} >= set(voters) and {r["from"] for r in requests} == {winner}
    assert all(r["current_epoch"] == epoch and r["primary"] == victim for r in requests)
    acks = [r for r in sim.trace if r["kind"] == "send" and r["type"] == "FAILOVER_AUTH_ACK"]
    assert sorted(r["from"] for r in acks) == sorted(voters) and all(r["to"] == winner for r in acks)
    # each voter records the request before its vote (recv first, then the reaction)
    for voter in voters:
        mine = [r for r in sim.trace if r["node"] == voter]
        got = next(i for i, r in enumerate(mine) if r["kind"] == "recv" and r["type"] == "FAILOVER_AUTH_REQUEST")
        granted = next(i for i, r in enumerate(mine) if r["kind"] == "event" and r["name"] == "vote_granted")
        acked = next(i for i, r in enumerate(mine) if r["kind"] == "send" and r["type"] == "FAILOVER_AUTH_ACK")
        assert got < granted and got < acked
    fails = [r for r in sim.trace if r["kind"] == "send" and r["type"] == "FAIL"]
    assert fails and all(r["about"] == victim for r in fails)
    # after the failover, the winner's heartbeats claim the slots with the new epoch
    pongs = [r for r in sim.trace if r["kind"] == "send" and r["from"] == winner and r["t"] > won["t"]
             and r["type"] in ("PING", "PONG")]  # fmt: skip
    assert pongs and all(r["flags"] == "myself,master" and r["config_epoch"] == epoch for r in pongs)
    assert pongs[-1]["slots"] == sim.state(winner_index).myself.slots.format()
    # same seed, same trace, record for record
    again, _, _ = failover_sim()
    assert again.trace == sim.trace
