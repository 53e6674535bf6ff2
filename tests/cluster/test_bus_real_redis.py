"""Live interop with a real redis-server 7.0: our bytes in, its bytes out.

Needs ``redis-server`` (``apt-get install -y redis-server redis-tools``); without
it these tests fail with that hint rather than skip, as the design asks.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator

import pytest
from cluster_real_redis import FakeBusPeer, RealNode, read_log, real_nodes, wait_for

from pyredis_cluster.cluster.codec import BusDecoder, BusFramingError, DroppedPacket, decode_packet, encode
from pyredis_cluster.cluster.messages import Meet, Ping, Pong, UnknownExt
from pyredis_cluster.cluster.nodes import random_node_id

FAKE_NAME = "f" * 8 + "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def real_node() -> Iterator[RealNode]:
    with real_nodes(1) as (node,):
        yield node


def _line_for(node: RealNode, predicate) -> list[str] | None:  # type: ignore[no-untyped-def]
    for fields in node.cluster_nodes():
        if predicate(fields):
            return fields
    return None


def test_real_node_accepts_our_meet_and_pong(real_node: RealNode) -> None:
    name = random_node_id(random.Random(1))
    with FakeBusPeer(name, port=real_node.port + 1, hostname="fake-host.example") as fake:
        fake.connect("out", real_node.cport)
        fake.send_ping("out", Meet)
        pong = fake.pump_until(
            lambda r: r.conn == "out" and isinstance(r.message, Pong), what="PONG to our MEET"
        )
        assert isinstance(pong.message, Pong)
        assert pong.message.header.sender == real_node.node_id
        assert pong.message.header.port == real_node.port and pong.message.header.cport == real_node.cport

        # The real node now lists a handshake node at our address (a random name)...
        address = f"127.0.0.1:{fake.port}@{fake.cport},fake-host.example"
        # ...dials our bus port and PINGs us with its real name; our PONG completes
        # the handshake and it renames the entry to our id, with our hostname.
        fake.pump_while(
            lambda: (
                _line_for(real_node, lambda f: f[0] == name and f[2] == "master" and f[7] == "connected")
                is not None
            ),
            timeout=10,
            what="real node to list us as a connected master",
        )
        # The packet completing a handshake is not applied beyond the rename
        # (bus.md §2.2): our hostname arrives with the next packet we send.
        fake.send_ping("out")
        fake.pump_while(
            lambda: _line_for(real_node, lambda f: f[0] == name and f[1] == address) is not None,
            timeout=10,
            what="real node to learn our hostname",
        )
        fields = _line_for(real_node, lambda f: f[0] == name)
        assert fields is not None and fields[2:4] == ["master", "-"] and fields[6:8] == ["0", "connected"]
        ping = fake.pump_until(lambda r: isinstance(r.message, Ping), what="PING from the real node")
        assert ping.message.header.sender == real_node.node_id  # type: ignore[union-attr]
        # Every live packet decodes cleanly and re-encodes to the very same bytes.
        assert fake.received
        for item in fake.received:
            assert not isinstance(item.message, DroppedPacket)
            assert encode(item.message) == item.raw
    # Forget us again so later tests start from a one-node cluster.
    real_node.cmd("CLUSTER", "FORGET", name)


def _exchange(real_node: RealNode, label: str, first: bytes) -> FakeBusPeer:
    """Send ``first`` then a valid PING on one connection; return once the PONG is in."""
    fake = FakeBusPeer(FAKE_NAME, port=real_node.port + 2)
    fake.connect(label, real_node.cport)
    fake.send(label, first)
    fake.send_ping(label)
    fake.pump_until(lambda r: isinstance(r.message, Pong), what="PONG")
    return fake


def _good_ping() -> bytes:
    fake = FakeBusPeer(FAKE_NAME, port=1)
    try:
        return encode(Ping(fake.header()))
    finally:
        fake.close()


def test_length_mismatch_dropped_with_same_log_line(real_node: RealNode) -> None:
    bad = bytearray(_good_ping() + bytes(8))
    struct.pack_into(">I", bad, 4, len(bad))
    ours = decode_packet(bytes(bad))
    assert isinstance(ours, DroppedPacket) and ours.log is not None
    fake = _exchange(real_node, "len", bytes(bad))
    try:
        # Packets on one link are processed in order: a reply to the bad packet would
        # have arrived before the PONG to the good one.
        assert [type(r.message) for r in fake.received] == [Pong]
        assert "len" in fake.conns  # the link was kept
        wait_for(lambda: ours.log in read_log(real_node), 5, "the real node's warning")
    finally:
        fake.close()


def test_bad_padding_dropped_with_same_log_line(real_node: RealNode) -> None:
    fake0 = FakeBusPeer(FAKE_NAME, port=1)
    data = bytearray(encode(Ping(fake0.header(), (), (UnknownExt(9, bytes(8)),))))
    fake0.close()
    struct.pack_into(">I", data, 2256, 13)
    ours = decode_packet(bytes(data))
    assert (
        isinstance(ours, DroppedPacket)
        and ours.log == "Received a ping packet without proper padding (13 bytes)"
    )
    fake = _exchange(real_node, "pad", bytes(data))
    try:
        assert [type(r.message) for r in fake.received] == [Pong]
        wait_for(lambda: ours.log in read_log(real_node), 5, "the real node's warning")
    finally:
        fake.close()


def test_wrong_version_ignored_silently(real_node: RealNode) -> None:
    bad = bytearray(_good_ping())
    struct.pack_into(">H", bad, 8, 2)
    ours = decode_packet(bytes(bad))
    assert isinstance(ours, DroppedPacket) and ours.log is None
    fake = _exchange(real_node, "ver", bytes(bad))
    try:
        assert [type(r.message) for r in fake.received] == [Pong]
    finally:
        fake.close()


@pytest.mark.parametrize("mutation", ["signature", "short_totlen"])
def test_framing_errors_close_the_link(real_node: RealNode, mutation: str) -> None:
    bad = bytearray(_good_ping())
    if mutation == "signature":
        bad[0:4] = b"RCmX"
    else:
        struct.pack_into(">I", bad, 4, 2000)
    decoder = BusDecoder()
    decoder.feed(bytes(bad))
    with pytest.raises(BusFramingError):
        decoder.next_message()
    with FakeBusPeer(FAKE_NAME, port=1) as fake:
        fake.connect("bad", real_node.cport)
        fake.send("bad", bytes(bad))
        fake.pump_while(lambda: "bad" not in fake.conns, 10, "the real node to close the link")
        assert fake.received == []
    wait_for(
        lambda: "Bad message length or signature received from Cluster bus." in read_log(real_node),
        5,
        "the real node's warning",
    )
