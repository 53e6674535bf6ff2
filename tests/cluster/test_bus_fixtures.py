"""Decoding bus packets captured from real redis-server 7.0.15 nodes.

The fixtures were recorded by ``fixtures/capture.py``; ``captured.json`` holds what
was true when they were captured (node ids, ports, epochs, slots), so every field
is checked against the real cluster, not against our own encoder.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from pyredis_cluster.cluster.codec import NEED_DATA, BusDecoder, DroppedPacket, decode_packet, encode
from pyredis_cluster.cluster.messages import (
    Fail,
    HostnameExt,
    Meet,
    Message,
    MessageFlags,
    Ping,
    Pong,
    Publish,
    Update,
)
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.slots import SlotBitmap

FIXTURES = Path(__file__).parent / "fixtures"
FACTS = json.loads((FIXTURES / "captured.json").read_text())
NAMES = [
    "meet_from_a",
    "ping_from_a",
    "ping_from_b",
    "pong_from_a",
    "publish_from_b",
    "update_from_a",
    "fail_about_c",
]
WHO = {"a": FACTS["ids"]["a"], "b": FACTS["ids"]["b"], "c": FACTS["ids"]["c"]}
KEY_OF = {v: k for k, v in WHO.items()}


def raw(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text().strip())


def decoded(name: str) -> Message:
    message = decode_packet(raw(name))
    assert not isinstance(message, DroppedPacket)
    return message


def slots(key: str) -> SlotBitmap:
    a, _, b = FACTS["slots"][key].partition("-")
    return SlotBitmap.from_ranges([(int(a), int(b or a))])


def test_fixtures_come_from_redis_7_0_15() -> None:
    assert FACTS["redis_version"] == "7.0.15"


@pytest.mark.parametrize("name", NAMES)
def test_reencoding_gives_the_same_bytes(name: str) -> None:
    assert encode(decoded(name)) == raw(name)


@pytest.mark.parametrize("name", NAMES)
def test_header_matches_the_real_sender(name: str) -> None:
    message = decoded(name)
    h = message.header
    key = KEY_OF[h.sender]
    assert name.split("_")[-1] == key or name == "fail_about_c"
    assert h.port == FACTS["ports"][key]["port"]
    assert h.cport == FACTS["ports"][key]["cport"]
    assert h.pport == 0
    assert h.config_epoch == FACTS["epochs"][key]
    assert h.current_epoch == 3  # the largest config epoch in the cluster
    assert h.offset == 0
    assert h.myslots == slots(key)
    assert h.slaveof is None  # all primaries
    assert h.myip == ""  # no cluster-announce-ip
    assert h.flags == NodeFlags.PRIMARY | NodeFlags.MYSELF  # 17 on the wire
    assert h.mflags == MessageFlags(0)  # EXT_DATA (framing) is not kept in the header
    assert h.state in (0, 1)


def test_ping_from_a_with_gossip_and_hostname() -> None:
    data = raw("ping_from_a")
    message = decoded("ping_from_a")
    assert isinstance(message, Ping)
    assert data[2253] == MessageFlags.EXT_DATA.value  # mflags[0] on the wire
    assert struct.unpack_from(">H", data, 2214) == (1,)
    assert message.extensions == (HostnameExt("node-a.test"),)
    assert message.hostname == FACTS["hostnames"]["a"]
    assert len(data) == 2256 + 104 * len(message.gossip) + 24
    assert {g.nodename for g in message.gossip} == {WHO["b"], WHO["c"]}
    for g in message.gossip:
        key = KEY_OF[g.nodename]
        assert (g.ip, g.port, g.cport, g.pport) == (
            "127.0.0.1",
            FACTS["ports"][key]["port"],
            FACTS["ports"][key]["cport"],
            0,
        )
        assert g.flags == NodeFlags.PRIMARY
        assert g.ping_sent == 0
        assert g.pong_received > 1_600_000_000  # unix time in SECONDS, not ms


def test_ping_from_b_has_no_extensions() -> None:
    data = raw("ping_from_b")
    message = decoded("ping_from_b")
    assert isinstance(message, Ping)
    assert message.extensions == () and message.hostname is None
    assert data[2253] == 0 and len(data) == 2256 + 104 * len(message.gossip)
    assert {g.nodename for g in message.gossip} <= {WHO["a"], WHO["c"], FACTS["fake"]["name"]}


def test_meet_from_a() -> None:
    message = decoded("meet_from_a")
    assert isinstance(message, Meet)
    assert message.hostname == "node-a.test"
    assert all(g.nodename in (WHO["b"], WHO["c"]) for g in message.gossip)  # never the handshake node


def test_pong_from_a_gossips_about_the_fake_node() -> None:
    message = decoded("pong_from_a")
    assert isinstance(message, Pong)
    fake = FACTS["fake"]
    entries = {g.nodename: g for g in message.gossip}
    assert fake["name"] in entries or WHO["b"] in entries or WHO["c"] in entries
    if fake["name"] in entries:
        g = entries[fake["name"]]
        assert (g.port, g.cport, g.flags) == (fake["port"], fake["cport"], NodeFlags.PRIMARY)


def test_publish_from_b() -> None:
    message = decoded("publish_from_b")
    assert isinstance(message, Publish)
    assert (message.channel, message.message) == (b"news", b"hello from b")
    assert len(raw("publish_from_b")) == 2256 + 8 + 4 + 12


def test_update_from_a() -> None:
    message = decoded("update_from_a")
    assert isinstance(message, Update)
    assert len(raw("update_from_a")) == 4352
    assert message.nodename == WHO["a"] and message.config_epoch == 1 and message.slots == slots("a")


def test_fail_about_c() -> None:
    message = decoded("fail_about_c")
    assert isinstance(message, Fail)
    assert len(raw("fail_about_c")) == 2296
    assert message.nodename == WHO["c"]


def test_stream_of_all_fixtures_byte_by_byte() -> None:
    stream = b"".join(raw(n) for n in NAMES)
    decoder = BusDecoder()
    out = []
    for i in range(len(stream)):
        decoder.feed(stream[i : i + 1])
        item = decoder.next_message()
        if item is not NEED_DATA:
            out.append(item)
    assert out == [decoded(n) for n in NAMES]
