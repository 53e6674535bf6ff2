"""The bus codec: round trips of every message type, framing, and 7.0's drop rules."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.cluster.codec import (
    FAIL_LEN,
    HEADER_SIZE,
    NEED_DATA,
    UPDATE_LEN,
    BusDecoder,
    BusFramingError,
    DroppedPacket,
    DropReason,
    EncodeError,
    decode_packet,
    encode,
)
from pyredis_cluster.cluster.messages import (
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
    UnknownExt,
    UnknownMessage,
    Update,
)
from pyredis_cluster.cluster.nodes import NodeFlags
from pyredis_cluster.cluster.slots import SlotBitmap

NAME_A = "a" * 40
NAME_B = "0123456789abcdef0123456789abcdef01234567"

# --- strategies ------------------------------------------------------------------
names = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
ips = st.sampled_from(["", "127.0.0.1", "10.0.0.255", "::1", "fe80::1%eth0", "a" * 45])
flags = st.integers(0, 0xFFFF).map(NodeFlags)
slot_sets = st.one_of(
    st.just(SlotBitmap()),
    st.tuples(st.integers(0, 16383), st.integers(0, 16383)).map(
        lambda t: SlotBitmap.from_ranges([sorted(t)])
    ),  # type: ignore[list-item]
    st.sets(st.integers(0, 16383), max_size=20).map(SlotBitmap.from_slots),
)
# EXT_DATA is framing derived from the extension list, so generated headers leave it out.
mflags = st.sampled_from([0, 1, 2, 3, 8, 0xF3]).map(MessageFlags)

headers = st.builds(
    MessageHeader,
    sender=names,
    port=u16,
    cport=u16,
    pport=u16,
    current_epoch=u64,
    config_epoch=u64,
    offset=u64,
    myslots=slot_sets,
    slaveof=st.one_of(st.none(), names),
    myip=ips,
    flags=flags,
    state=st.integers(0, 255),
    mflags=mflags,
)
gossip = st.builds(
    GossipEntry,
    nodename=names,
    ping_sent=u32,
    pong_received=u32,
    ip=ips,
    port=u16,
    cport=u16,
    flags=flags,
    pport=u16,
)
hostnames = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789.-", min_size=1, max_size=255)
extensions = st.one_of(
    st.builds(HostnameExt, hostnames),
    st.builds(UnknownExt, st.integers(1, 0xFFFF), st.integers(0, 6).map(lambda n: bytes(range(8 * n)))),
)
ping_like = st.builds(
    lambda cls, h, g, e: cls(h, tuple(g), tuple(e)),
    st.sampled_from([Ping, Pong, Meet]),
    headers,
    st.lists(gossip, max_size=6),
    st.lists(extensions, max_size=3),
)
messages = st.one_of(
    ping_like,
    st.builds(Fail, headers, names),
    st.builds(Publish, headers, st.binary(max_size=64), st.binary(max_size=200)),
    st.builds(PublishShard, headers, st.binary(max_size=64), st.binary(max_size=200)),
    st.builds(FailoverAuthRequest, headers),
    st.builds(FailoverAuthAck, headers),
    st.builds(MFStart, headers),
    st.builds(Update, headers, u64, names, slot_sets),
    st.builds(
        Module, headers, st.binary(min_size=8, max_size=8), st.integers(0, 255), st.binary(max_size=100)
    ),
    st.builds(UnknownMessage, headers, st.integers(11, 0xFFFF), st.binary(max_size=100)),
)


# --- round trips -------------------------------------------------------------------
@settings(max_examples=300)
@given(messages)
def test_round_trip_every_type(message) -> None:  # type: ignore[no-untyped-def]
    data = encode(message)
    assert struct.unpack_from(">I", data, 4)[0] == len(data)
    assert data[:4] == b"RCmb"
    assert decode_packet(data) == message
    assert encode(decode_packet(data)) == data  # type: ignore[arg-type]


@given(st.lists(messages, min_size=1, max_size=4), st.integers(1, 5000))
def test_stream_decoder_any_chunking(msgs, chunk: int) -> None:  # type: ignore[no-untyped-def]
    stream = b"".join(encode(m) for m in msgs)
    decoder = BusDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        decoder.feed(stream[i : i + chunk])
        while (item := decoder.next_message()) is not NEED_DATA:
            out.append(item)
    assert out == msgs
    assert not decoder.in_partial_frame


def test_every_message_type_has_its_wire_number_and_size() -> None:
    h = MessageHeader(sender=NAME_A)
    cases = [
        (Ping(h), MessageType.PING, HEADER_SIZE),
        (Pong(h), MessageType.PONG, HEADER_SIZE),
        (Meet(h), MessageType.MEET, HEADER_SIZE),
        (Fail(h, NAME_B), MessageType.FAIL, 2296),
        (Publish(h, b"chan1", b"hello world 123"), MessageType.PUBLISH, 2284),
        (FailoverAuthRequest(h), MessageType.FAILOVER_AUTH_REQUEST, 2256),
        (FailoverAuthAck(h), MessageType.FAILOVER_AUTH_ACK, 2256),
        (Update(h, 1, NAME_B, SlotBitmap.from_ranges([(0, 5460)])), MessageType.UPDATE, 4352),
        (MFStart(h), MessageType.MFSTART, 2256),
        (Module(h, b"\x01" * 8, 7, b"xyz"), MessageType.MODULE, 2272),
        (PublishShard(h, b"c", b"m"), MessageType.PUBLISHSHARD, 2266),
    ]
    assert [int(t) for _, t, _ in cases] == list(range(11))
    for message, mtype, size in cases:
        data = encode(message)
        assert struct.unpack_from(">H", data, 12)[0] == mtype
        assert len(data) == size, message


def test_header_field_offsets() -> None:
    """Every field lands at the offset of bus.md §1.2."""
    h = MessageHeader(
        sender=NAME_A,
        port=30001,
        cport=40001,
        pport=7,
        current_epoch=0x0102030405060708,
        config_epoch=5,
        offset=6,
        myslots=SlotBitmap.from_slots([0, 16383]),
        slaveof=NAME_B,
        myip="10.1.2.3",
        flags=NodeFlags.REPLICA | NodeFlags.MYSELF,
        state=1,
        mflags=MessageFlags.PAUSED | MessageFlags.FORCEACK,
    )
    data = encode(
        Meet(
            h,
            (GossipEntry(NAME_B, 1, 2, "1.2.3.4", 5, 6, NodeFlags.PFAIL, 7),),
            (HostnameExt("node-b.test"),),
        )
    )
    assert data[0:4] == b"RCmb"
    assert struct.unpack_from(">IHHHH", data, 4) == (len(data), 1, 30001, 2, 1)
    assert struct.unpack_from(">QQQ", data, 16) == (0x0102030405060708, 5, 6)
    assert data[40:80] == NAME_A.encode()
    assert data[80] == 1 and data[2127] == 0x80
    assert data[2128:2168] == NAME_B.encode()
    assert data[2168:2214] == b"10.1.2.3".ljust(46, b"\0")
    assert struct.unpack_from(">H", data, 2214) == (1,)  # extensions
    assert data[2216:2246] == bytes(30)
    assert struct.unpack_from(">HHHBBBB", data, 2246) == (7, 40001, 18, 1, 1 | 2 | 4, 0, 0)
    # gossip entry
    g = data[2256 : 2256 + 104]
    assert g[:40] == NAME_B.encode()
    assert struct.unpack_from(">II", g, 40) == (1, 2)
    assert g[48:94] == b"1.2.3.4".ljust(46, b"\0")
    assert struct.unpack_from(">HHHHH", g, 94) == (5, 6, 4, 7, 0)
    # hostname extension: length 24, type 0, "node-b.test" + 5 NULs (as captured from 7.0.15 in bus.md)
    ext = data[2360:]
    assert ext == struct.pack(">IHH", 24, 0, 0) + b"node-b.test" + bytes(5)
    assert len(data) == 2256 + 104 + 24


def test_hostname_extension_padding() -> None:
    for length in range(1, 20):
        data = encode(Ping(MessageHeader(sender=NAME_A), (), (HostnameExt("h" * length),)))
        ext_len = struct.unpack_from(">I", data, HEADER_SIZE)[0]
        assert ext_len % 8 == 0
        assert ext_len == 8 + (length + 1 + 7) // 8 * 8
        assert len(data) == HEADER_SIZE + ext_len


def test_meet_with_hostname_is_2288_bytes() -> None:
    # bus.md §9: "MEET with no gossip plus one hostname extension = 2288 bytes"
    assert len(encode(Meet(MessageHeader(sender=NAME_A), (), (HostnameExt("fake-host.example"),)))) == 2288


def test_ping_without_extensions_leaves_ext_data_clear() -> None:
    data = encode(Ping(MessageHeader(sender=NAME_A)))
    assert data[2253] == 0 and struct.unpack_from(">H", data, 2214) == (0,)


def test_valkey_flag_bits_survive() -> None:
    h = MessageHeader(sender=NAME_A, flags=NodeFlags(1024 | 2048 | 17))
    decoded = decode_packet(encode(Ping(h)))
    assert isinstance(decoded, Ping)
    assert decoded.header.flags.value == 1024 | 2048 | 17


def test_encode_rejects_what_does_not_fit() -> None:
    h = MessageHeader(sender=NAME_A)
    bad = [
        Ping(MessageHeader(sender="short")),
        Ping(MessageHeader(sender=NAME_A, port=70000)),
        Ping(MessageHeader(sender=NAME_A, myip="x" * 46)),
        Ping(MessageHeader(sender=NAME_A, current_epoch=2**64)),
        Ping(h, (GossipEntry("b" * 39),)),
        Ping(h, (), (UnknownExt(5, b"abc"),)),
        Fail(h, "nope"),
        Module(h, b"1234", 1),
        Module(h, b"12345678", 256),
        Ping(MessageHeader(sender="é" * 39 + "\u20ac")),
    ]
    for message in bad:
        with pytest.raises(EncodeError):
            encode(message)


# --- malformed packets ----------------------------------------------------------------
def _ping_bytes(**kw: object) -> bytes:
    return encode(Ping(MessageHeader(sender=NAME_A, port=1, cport=2), **kw))  # type: ignore[arg-type]


def _set(data: bytes, offset: int, fmt: str, *values: int) -> bytes:
    buf = bytearray(data)
    struct.pack_into(fmt, buf, offset, *values)
    return bytes(buf)


def test_bad_signature_closes_the_link() -> None:
    decoder = BusDecoder()
    decoder.feed(b"RCmX" + _ping_bytes()[4:])
    with pytest.raises(BusFramingError) as info:
        decoder.next_message()
    assert info.value.log == "Bad message length or signature received from Cluster bus."
    assert decoder.failed
    decoder.feed(_ping_bytes())  # the link is dead: nothing more is decoded
    with pytest.raises(BusFramingError):
        decoder.next_message()


def test_totlen_below_header_size_closes_the_link() -> None:
    decoder = BusDecoder()
    decoder.feed(b"RCmb" + struct.pack(">I", 2000))
    with pytest.raises(BusFramingError):
        decoder.next_message()
    with pytest.raises(BusFramingError):
        decode_packet(_set(_ping_bytes(), 4, ">I", 2255)[:2255])


def test_signature_checked_as_soon_as_8_bytes_arrive() -> None:
    decoder = BusDecoder()
    decoder.feed(b"RCm")
    assert decoder.next_message() is NEED_DATA
    decoder.feed(b"Z\x00\x00\x10\x00")
    with pytest.raises(BusFramingError):
        decoder.next_message()


def test_truncated_stream_needs_data_and_reports_partial_frame() -> None:
    data = _ping_bytes()
    decoder = BusDecoder()
    decoder.feed(data[:-1])
    assert decoder.next_message() is NEED_DATA
    assert decoder.in_partial_frame and decoder.buffered == len(data) - 1
    decoder.feed(data[-1:])
    assert isinstance(decoder.next_message(), Ping)
    assert decoder.next_message() is NEED_DATA and not decoder.in_partial_frame


def test_size_cap_is_optional() -> None:
    big = encode(Publish(MessageHeader(sender=NAME_A), b"c", b"x" * 10000))
    decoder = BusDecoder()
    decoder.feed(big)
    assert isinstance(decoder.next_message(), Publish)
    capped = BusDecoder(max_message_size=5000)
    capped.feed(big[:8])
    with pytest.raises(BusFramingError):
        capped.next_message()


def test_wrong_version_is_dropped_silently_and_link_kept() -> None:
    decoder = BusDecoder()
    decoder.feed(_set(_ping_bytes(), 8, ">H", 2) + _ping_bytes())
    dropped = decoder.next_message()
    assert isinstance(dropped, DroppedPacket)
    assert dropped.reason is DropReason.BAD_VERSION and dropped.log is None
    assert isinstance(decoder.next_message(), Ping)  # the next packet still decodes


@pytest.mark.parametrize(
    ("mtype", "extra", "expected"),
    [
        (MessageType.PING, 8, 2256),
        (MessageType.PONG, 104, 2256),
        (MessageType.FAIL, 0, FAIL_LEN),
        (MessageType.FAILOVER_AUTH_REQUEST, 1, 2256),
        (MessageType.FAILOVER_AUTH_ACK, 1, 2256),
        (MessageType.MFSTART, 1, 2256),
        (MessageType.UPDATE, 0, UPDATE_LEN),
    ],
)
def test_length_mismatch_is_dropped_with_redis_log_line(mtype: int, extra: int, expected: int) -> None:
    data = _set(_ping_bytes() + bytes(extra), 12, ">H", mtype)
    data = _set(data, 4, ">I", len(data))
    dropped = decode_packet(data)
    assert isinstance(dropped, DroppedPacket)
    assert dropped.reason is DropReason.BAD_LENGTH
    assert dropped.expected_len == expected
    names = {0: "ping", 1: "pong", 3: "fail", 5: "auth-req", 6: "auth-ack", 7: "update", 8: "mfstart"}
    assert dropped.log == (
        f"Received invalid {names[mtype]} packet of length {len(data)} but expected length {expected}"
    )


def test_bad_gossip_count_is_a_length_mismatch() -> None:
    data = _set(_ping_bytes(gossip=(GossipEntry(NAME_B),)), 14, ">H", 2)
    dropped = decode_packet(data)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.BAD_LENGTH
    assert dropped.expected_len == 2256 + 208 and dropped.totlen == 2256 + 104
    # count too large even with EXT_DATA: still a length mismatch, never a crash
    data = _set(_ping_bytes(extensions=(HostnameExt("h"),)), 14, ">H", 500)
    dropped = decode_packet(data)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.BAD_LENGTH


def test_publish_and_module_lengths_checked() -> None:
    h = MessageHeader(sender=NAME_A)
    data = encode(Publish(h, b"chan", b"msg"))
    bad = _set(data, HEADER_SIZE + 4, ">I", 4)  # message_len 3 -> 4
    dropped = decode_packet(bad)
    assert isinstance(dropped, DroppedPacket)
    assert (
        dropped.log
        == f"Received invalid publish packet of length {len(data)} but expected length {len(data) + 1}"
    )
    bad = _set(data, HEADER_SIZE, ">I", 0xFFFFFFFF)  # would wrap in C; here simply wrong
    assert isinstance(decode_packet(bad), DroppedPacket)
    # a PUBLISH too short to hold its own length fields
    short = _set(encode(MFStart(h)), 12, ">H", MessageType.PUBLISH)
    dropped = decode_packet(short)
    assert isinstance(dropped, DroppedPacket) and dropped.expected_len == 2264
    mod = encode(Module(h, b"12345678", 1, b"abc"))
    dropped = decode_packet(_set(mod, HEADER_SIZE + 8, ">I", 2))
    assert (
        isinstance(dropped, DroppedPacket)
        and dropped.log is not None
        and "invalid module packet" in dropped.log
    )


def test_extension_padding_and_overrun() -> None:
    data = _ping_bytes(extensions=(UnknownExt(9, bytes(8)),))  # one 16-byte extension
    padded = _set(data, HEADER_SIZE, ">I", 13)
    dropped = decode_packet(padded)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.EXT_PADDING
    assert dropped.log == "Received a ping packet without proper padding (13 bytes)"  # as logged by 7.0.15
    short = decode_packet(_set(data, HEADER_SIZE, ">I", 5))  # 7.0 checks padding first
    assert isinstance(short, DroppedPacket) and short.reason is DropReason.EXT_PADDING
    over = _set(data, HEADER_SIZE, ">I", 24)
    dropped = decode_packet(over)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.EXT_OVERRUN
    assert (
        dropped.log
        == f"Received invalid ping packet with extension data that exceeds total packet length ({len(data)})"
    )
    # extension count larger than the data present
    more = _set(data, 2214, ">H", 2)
    dropped = decode_packet(more)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.EXT_OVERRUN
    # extensions fit but leave bytes over: plain length mismatch
    extra = _set(data + bytes(8), 4, ">I", len(data) + 8)
    dropped = decode_packet(extra)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.BAD_LENGTH


@pytest.mark.parametrize("length", [0, 0x10008])
def test_extension_lengths_7_0_would_misread_are_dropped(length: int) -> None:
    data = _set(_ping_bytes(extensions=(UnknownExt(9, bytes(8)),)), HEADER_SIZE, ">I", length)
    dropped = decode_packet(data)
    assert isinstance(dropped, DroppedPacket) and dropped.reason is DropReason.MALFORMED_EXTENSION


def test_extensions_ignored_without_ext_data_flag() -> None:
    # 7.0 validates extensions only under EXT_DATA; without it the bytes must fit exactly
    data = _set(_ping_bytes(), 2214, ">H", 3)
    decoded = decode_packet(data)
    assert isinstance(decoded, Ping) and decoded.extensions == ()


def test_unknown_extension_type_is_kept_raw() -> None:
    shard = UnknownExt(3, b"s" * 40)  # a 7.2 SHARDID extension: 8 + 40 = 48 bytes
    decoded = decode_packet(_ping_bytes(extensions=(HostnameExt("x"), shard)))
    assert isinstance(decoded, Ping)
    assert decoded.extensions == (HostnameExt("x"), shard)
    assert decoded.hostname == "x"


def test_unknown_message_type_is_accepted_with_any_length() -> None:
    data = encode(UnknownMessage(MessageHeader(sender=NAME_A), 11, b"whatever"))
    decoded = decode_packet(data)
    assert isinstance(decoded, UnknownMessage) and decoded.type == 11 and decoded.log_name == "unknown"


def test_hostile_bytes_never_crash() -> None:
    # Non-ASCII names and unterminated strings decode (latin-1), they do not raise.
    data = bytearray(_ping_bytes(extensions=(HostnameExt("abcdefg"),)))
    data[40:80] = bytes(range(200, 240))
    data[2168:2214] = b"\xff" * 46
    data[HEADER_SIZE + 8 : HEADER_SIZE + 16] = b"\xfe" * 8  # hostname without NUL
    decoded = decode_packet(bytes(data))
    assert isinstance(decoded, Ping)
    assert len(decoded.header.sender) == 40 and decoded.hostname == "\xfe" * 8


@settings(max_examples=400)
@given(st.binary(min_size=0, max_size=3000), st.integers(0, 2400))
def test_random_garbage_yields_only_clean_outcomes(noise: bytes, cut: int) -> None:
    base = _ping_bytes(gossip=(GossipEntry(NAME_B),), extensions=(HostnameExt("h"),))
    candidates = [
        noise,
        b"RCmb" + struct.pack(">I", len(noise) + 8) + noise,
        base[:cut] + noise[: len(base) - cut],
    ]
    for data in candidates:
        decoder = BusDecoder()
        decoder.feed(data)
        try:
            while decoder.next_message() is not NEED_DATA:
                pass
        except BusFramingError:
            pass
