"""rdb.py without a server: primitives, blobs, values and whole files.

Expected values are facts about the format (the CRC64 check value, layouts from the
RDB/listpack/ziplist/intset specifications in client-contract.md §4.4) or round trips;
payloads of a real redis-server are exercised in tests/integration/test_diff_dump.py.
Blobs of the legacy formats (ziplist, zipmap) are built here by small independent
builders written from the format description, so the parsers are not checked against
themselves; the integration tests show real 7.0 agrees with these builders.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.parser import strict_int
from pyredis_cluster.server import rdb
from pyredis_cluster.server.commands.hashes import HashValue
from pyredis_cluster.server.commands.lists import ListValue
from pyredis_cluster.server.commands.sets import SetValue
from pyredis_cluster.server.commands.sorted_sets import ZSetValue
from pyredis_cluster.server.rdb import EncodingLimits, RdbError

# -- independent builders of legacy blobs (from the format description) ----------------------


def ziplist_entry(item: bytes | int, prevlen: int) -> bytes:
    head = bytes([prevlen]) if prevlen < 254 else b"\xfe" + prevlen.to_bytes(4, "little")
    if isinstance(item, int):
        if 0 <= item <= 12:
            return head + bytes([0xF1 + item])
        if -128 <= item <= 127:
            return head + b"\xfe" + item.to_bytes(1, "little", signed=True)
        if -32768 <= item <= 32767:
            return head + b"\xc0" + item.to_bytes(2, "little", signed=True)
        if -(2**23) <= item < 2**23:
            return head + b"\xf0" + item.to_bytes(3, "little", signed=True)
        if -(2**31) <= item < 2**31:
            return head + b"\xd0" + item.to_bytes(4, "little", signed=True)
        return head + b"\xe0" + item.to_bytes(8, "little", signed=True)
    n = len(item)
    if n < 64:
        return head + bytes([n]) + item
    if n < 16384:
        return head + bytes([0x40 | (n >> 8), n & 0xFF]) + item
    return head + b"\x80" + n.to_bytes(4, "big") + item


def build_ziplist(items: list[bytes | int]) -> bytes:
    entries, prev, offsets, pos = [], 0, [], 10
    for item in items:
        entry = ziplist_entry(item, prev)
        offsets.append(pos)
        entries.append(entry)
        pos += len(entry)
        prev = len(entry)
    body = b"".join(entries)
    tail = offsets[-1] if offsets else 10
    return struct.pack("<IIH", 10 + len(body) + 1, tail, min(len(items), 0xFFFF)) + body + b"\xff"


def build_zipmap(pairs: list[tuple[bytes, bytes]], free: int = 0) -> bytes:
    def length(n: int) -> bytes:
        return bytes([n]) if n < 254 else b"\xfe" + n.to_bytes(4, "little")

    body = b"".join(length(len(k)) + k + length(len(v)) + bytes([free]) + v + b"\0" * free for k, v in pairs)
    return bytes([min(len(pairs), 254)]) + body + b"\xff"


def rdb_string(data: bytes) -> bytes:
    """A raw RDB string (length + bytes), written independently of rdb.encode_string."""
    n = len(data)
    if n < 64:
        return bytes([n]) + data
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF]) + data
    return b"\x80" + n.to_bytes(4, "big") + data


def load(type_byte: int, body: bytes, limits: EncodingLimits = rdb.DEFAULT_LIMITS) -> object:
    return rdb.decode_value(bytes([type_byte]) + body, limits)[0]


# -- primitives --------------------------------------------------------------------------------


def test_crc64_check_value() -> None:
    assert rdb.crc64(b"123456789") == 0xE9C6D914C4B8D9CA


def test_crc64_continues_a_running_checksum() -> None:
    assert rdb.crc64(b"6789", rdb.crc64(b"12345")) == rdb.crc64(b"123456789")


def test_lzf_round_trip_and_the_captured_101_byte_string() -> None:
    # client-contract §6.13: the 101-byte "x...x0" value came out LZF-compressed from 7.0.
    text = b"x" * 100 + b"0"
    encoded = rdb.encode_string(text)
    assert encoded[0] == 0xC3
    assert rdb._Reader(encoded).string() == text


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=1, max_value=40))
def test_python_lzf_decoder_agrees_with_liblzf(data: bytes, repeat: int) -> None:
    lzf = pytest.importorskip("lzf")
    text = data * repeat
    packed = lzf.compress(text) if text else None
    assume(packed)
    assert rdb.lzf_decompress_python(packed, len(text)) == text
    assert rdb.lzf_decompress(packed, len(text)) == text
    if len(text) > 1:
        assert rdb.lzf_decompress_python(packed, len(text) - 1) is None


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=1, max_value=3000))
def test_lzf_decoders_agree_on_garbage(garbage: bytes, expected: int) -> None:
    lzf = pytest.importorskip("lzf")
    try:
        theirs = lzf.decompress(garbage, expected)
    except ValueError:
        theirs = "error"
    try:
        ours = rdb.lzf_decompress_python(garbage, expected)
    except RdbError:
        ours = "error"
    assert ours == theirs


def test_without_python_lzf_strings_are_read_and_written_uncompressed(monkeypatch: pytest.MonkeyPatch) -> None:
    text = b"abc" * 50
    compressed = rdb.encode_string(text)
    assert compressed[0] == 0xC3
    monkeypatch.setattr(rdb, "_lzf", None)
    assert rdb._Reader(compressed).string() == text  # the pure-Python decoder
    assert rdb.encode_string(text) == rdb_string(text)  # no compressor: raw, still valid RDB


def test_lzf_refuses_an_impossible_expansion_without_allocating() -> None:
    with pytest.raises(RdbError):
        rdb.lzf_decompress(b"\x00a", 2**62)
    assert rdb.lzf_decompress(b"anything", 0) == b""  # Redis: liblzf writes 0 bytes == expected 0


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_length_round_trip(n: int) -> None:
    encoded = rdb.encode_length(n)
    reader = rdb._Reader(encoded)
    assert reader.length() == n and reader.pos == len(encoded)


def test_length_forms_from_the_format() -> None:
    assert rdb.encode_length(63) == b"\x3f"
    assert rdb.encode_length(64) == b"\x40\x40"
    assert rdb.encode_length(16383) == b"\x7f\xff"
    assert rdb.encode_length(16384) == b"\x80\x00\x00\x40\x00"
    assert rdb.encode_length(2**32) == b"\x81" + (2**32).to_bytes(8, "big")
    with pytest.raises(RdbError):
        rdb._Reader(b"\x82").length()  # 10xxxxxx other than 0x80/0x81


@pytest.mark.parametrize(
    ("text", "first"),
    [(b"0", 0xC0), (b"-5", 0xC0), (b"127", 0xC0), (b"128", 0xC1), (b"1000", 0xC1), (b"-32769", 0xC2),
     (b"2147483647", 0xC2), (b"2147483648", 10), (b"0123", 4), (b"-0", 2), (b"+1", 2), (b"", 0),
     (b"1099511627776", 13)],
)  # fmt: skip
def test_string_integer_encoding_rules(text: bytes, first: int) -> None:
    # 7.0 writes a canonical decimal of at most 11 chars that fits int32 as INT8/16/32,
    # anything else raw (client-contract §4.4 and §6.13).
    encoded = rdb.encode_string(text)
    assert encoded[0] == first
    assert rdb._Reader(encoded).string() == text


@settings(max_examples=200)
@given(st.binary(max_size=300), st.booleans())
def test_string_round_trip(data: bytes, compress: bool) -> None:
    encoded = rdb.encode_string(data, compress)
    reader = rdb._Reader(encoded)
    assert reader.string() == data and reader.pos == len(encoded)


def test_truncated_strings_raise() -> None:
    for encoded in (b"\x05abc", b"\xc1\x01", b"\xc2\x01\x02", b"\xc3\x05\x10ab", b"\xc4", b"", b"\x80\x00"):
        with pytest.raises(RdbError):
            rdb._Reader(encoded).string()


def test_ascii_doubles() -> None:
    assert rdb._Reader(b"\xfe").ascii_double() == math.inf
    assert rdb._Reader(b"\xff").ascii_double() == -math.inf
    assert math.isnan(rdb._Reader(b"\xfd").ascii_double())
    assert rdb._Reader(b"\x032.5").ascii_double() == 2.5
    assert rdb._Reader(b"\x05 1e3x").ascii_double() == 1000.0  # sscanf: leading space, numeric prefix
    with pytest.raises(RdbError):
        rdb._Reader(b"\x03abc").ascii_double()


# -- listpack ----------------------------------------------------------------------------------

lp_items = st.lists(
    st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.binary(max_size=70),
        st.binary(min_size=4094, max_size=4097),  # the 12-bit / 32-bit string length boundary
        st.sampled_from([b"0", b"-0", b"01", b"127", b"128", b"-4096", b"-4097", b"9223372036854775808"]),
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lp_items)
def test_listpack_round_trip(items: list[bytes | int]) -> None:
    parsed = rdb.parse_listpack(rdb.build_listpack(items))
    assert [rdb._as_bytes(x) for x in parsed] == [rdb._as_bytes(x) for x in items]


def test_listpack_entries_from_the_format() -> None:
    # 7-bit uint, 13-bit int, 6-bit string, each followed by its 1-byte back-length
    blob = rdb.build_listpack([5, -1, b"ab"])
    assert blob == struct.pack("<IH", 6 + 2 + 3 + 4 + 1, 3) + b"\x05\x01" + b"\xdf\xff\x02" + b"\x82ab\x03" + b"\xff"
    assert rdb.parse_listpack(blob) == [5, -1, b"ab"]


def test_listpack_back_length_is_most_significant_group_first() -> None:
    item = b"z" * 200  # 12-bit string: 2 + 200 = 202 bytes of entry -> backlen 2 bytes
    blob = rdb.build_listpack([item])
    assert blob[6 + 202:6 + 204] == bytes([202 >> 7, (202 & 127) | 128])


@pytest.mark.parametrize("corrupt", [
    lambda b: b[:-1],                                      # no terminator
    lambda b: b[:-1] + b"\x00",                            # wrong terminator
    lambda b: struct.pack("<I", len(b) + 1) + b[4:],       # total bytes mismatch
    lambda b: b[:4] + struct.pack("<H", 7) + b[6:],        # count mismatch
    lambda b: b[:7] + b"\x09" + b[8:],                     # back-length mismatch
    lambda b: b[:6] + b"\xf5" + b[7:],                     # invalid encoding byte
    lambda b: b[:6] + b"\xff" + b[7:],                     # terminator in the middle
    lambda b: b[:6] + b"\xbf" + b[7:],                     # string running past the end
])  # fmt: skip
def test_listpack_corruptions_are_refused(corrupt: object) -> None:
    blob = rdb.build_listpack([5, b"abc", 1000])
    with pytest.raises(RdbError):
        rdb.parse_listpack(corrupt(blob))  # type: ignore[operator]


def test_listpack_unknown_count_is_accepted() -> None:
    blob = rdb.build_listpack([b"a", b"b"])
    assert rdb.parse_listpack(blob[:4] + b"\xff\xff" + blob[6:]) == [b"a", b"b"]


# -- ziplist / intset / zipmap -----------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.binary(max_size=300)), max_size=30))
def test_ziplist_parse(items: list[bytes | int]) -> None:
    assert rdb.parse_ziplist(build_ziplist(items)) == items


def test_ziplist_corruptions_are_refused() -> None:
    blob = build_ziplist([b"a", 7, b"bcd"])
    bad_tail = blob[:4] + struct.pack("<I", 10) + blob[8:]
    bad_prevlen = blob[:13] + b"\x07" + blob[14:]  # second entry's prevlen
    bad_count = blob[:8] + struct.pack("<H", 5) + blob[10:]
    bad_encoding = blob[:11] + b"\xc5" + blob[12:]
    for corrupt in (blob[:-1], bad_tail, bad_prevlen, bad_count, bad_encoding, blob[:10] + b"\xff"):
        with pytest.raises(RdbError):
            rdb.parse_ziplist(corrupt)


def test_intset_layout_from_the_capture() -> None:
    # client-contract §4.4: {1,2,3} is 02000000 03000000 0100 0200 0300
    assert rdb.build_intset([3, 1, 2]) == bytes.fromhex("0200000003000000010002000300")
    assert rdb.parse_intset(bytes.fromhex("0200000003000000010002000300")) == [1, 2, 3]


@given(st.sets(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=50))
def test_intset_round_trip(values: set[int]) -> None:
    assert rdb.parse_intset(rdb.build_intset(values)) == sorted(values)


@pytest.mark.parametrize("blob", [
    bytes.fromhex("0200000002000000020001000000"),  # size mismatch
    bytes.fromhex("020000000200000002000100"),      # descending
    bytes.fromhex("020000000200000001000100"),      # duplicate
    bytes.fromhex("0200000000000000"),              # empty
    bytes.fromhex("030000000100000001000000"),      # bad width
    bytes.fromhex("02000000"),                      # short header
])  # fmt: skip
def test_intset_corruptions_are_refused(blob: bytes) -> None:
    with pytest.raises(RdbError):
        rdb.parse_intset(blob)


def test_zipmap_parse_and_refusals() -> None:
    pairs = [(b"a", b"1"), (b"long" * 80, b"v")]
    assert rdb.parse_zipmap(build_zipmap(pairs, free=2)) == pairs
    for corrupt in (build_zipmap(pairs)[:-1], b"\x00\xff", b"\x05" + build_zipmap(pairs)[1:], b"\x01\x05ab\xff"):
        with pytest.raises(RdbError):
            rdb.parse_zipmap(corrupt)


# -- values ------------------------------------------------------------------------------------

members = st.one_of(st.binary(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i))
scores = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(float),
                   st.floats(allow_nan=False), st.sampled_from([0.5, -0.0, 1e17, 2.0**62, 2.0**62 + 2**10]))  # fmt: skip


def same_value(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, bytes | ListValue):
        return a == b
    if isinstance(a, HashValue):
        return list(a.items()) == list(b.items()) and a.hashtable == b.hashtable  # type: ignore[union-attr]
    if isinstance(a, SetValue):
        return a.members == b.members and a.intset == b.intset  # type: ignore[union-attr]
    if isinstance(a, ZSetValue):
        return list(a.order) == list(b.order) and a.listpack == b.listpack  # type: ignore[union-attr]
    raise AssertionError(type(a))


@st.composite
def values(draw: st.DrawFn) -> object:
    kind = draw(st.sampled_from(["string", "list", "hash", "set", "zset"]))
    if kind == "string":
        return draw(st.one_of(st.binary(max_size=200), members))
    if kind == "list":
        return ListValue(draw(st.lists(st.one_of(members, st.binary(min_size=60, max_size=400)), min_size=1, max_size=80)))
    if kind == "hash":
        items = draw(st.dictionaries(members, members, min_size=1, max_size=30))
        return HashValue(items.items(), hashtable=draw(st.booleans()))
    if kind == "set":
        if draw(st.booleans()):
            ints = draw(st.sets(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=40))
            return SetValue({b"%d" % i for i in ints}, intset=True)
        return SetValue(draw(st.sets(members, min_size=1, max_size=40)), intset=False)
    listpack = draw(st.booleans())
    value = ZSetValue(listpack)
    for member, score in draw(st.dictionaries(members, scores, min_size=1, max_size=30)).items():
        value.insert(member, score)
    return value


# Limits high enough that decoding keeps the encoding each generated value claims.
ROOMY = EncodingLimits(hash_max_listpack_entries=10**6, hash_max_listpack_value=10**6, set_max_intset_entries=10**6,
                       zset_max_listpack_entries=10**6, zset_max_listpack_value=10**6)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values(), st.booleans(), st.sampled_from([-1, -2, -5, -6, 1, 3, 128]))
def test_value_round_trip(value: object, compress: bool, fill: int) -> None:
    limits = EncodingLimits(**{**ROOMY.__dict__, "rdbcompression": compress, "list_max_listpack_size": fill})
    payload = rdb.create_dump_payload(value, limits)
    assert rdb.verify_dump_payload(payload)
    loaded = rdb.load_dump_payload(payload, limits)
    if isinstance(value, HashValue) and value.hashtable:
        value.hashtable = False  # a HASH (type 4) of short fields loads as a listpack, as in 7.0
        assert same_value(loaded, value) or loaded.hashtable  # type: ignore[union-attr]
        return
    if isinstance(value, ZSetValue) and not value.listpack:
        value = _as_listpack(value)  # a small ZSET_2 loads as a listpack, as in 7.0
    if isinstance(value, SetValue) and not value.intset:
        # a SET (type 2) of integers only loads as an intset, as in 7.0
        value.intset = all(strict_int(m) is not None for m in value.members)
    assert same_value(loaded, value)


def _as_listpack(value: ZSetValue) -> ZSetValue:
    converted = ZSetValue(True)
    for score, member in value.order:
        converted.insert(member, score)
    return converted


def test_payload_footer() -> None:
    payload = rdb.create_dump_payload(b"hello")
    assert payload[-10:-8] == b"\x0a\x00"
    assert payload[-8:] == rdb.crc64(payload[:-8]).to_bytes(8, "little")
    assert not rdb.verify_dump_payload(payload[:-1] + bytes([payload[-1] ^ 1]))
    assert rdb.verify_dump_payload(payload[:-1] + bytes([payload[-1] ^ 1]), check_crc=False)
    newer = payload[:-10] + b"\x0b\x00"
    assert not rdb.verify_dump_payload(newer + rdb.crc64(newer).to_bytes(8, "little"))
    older = payload[:-10] + b"\x01\x00"
    assert rdb.verify_dump_payload(older + rdb.crc64(older).to_bytes(8, "little"))
    assert not rdb.verify_dump_payload(b"\x0a\x00" + b"\0" * 7)


def test_quicklist_nodes_follow_the_fill_rules() -> None:
    # fill -2: a node grows while its listpack stays within 8 KB (with 8 bytes of estimate)
    items = [b"value-%014d" % i for i in range(1000)]
    nodes = rdb._quicklist_nodes(items, -2)
    assert len(nodes) > 1 and all(len(blob) <= 8192 for _, blob in nodes)
    assert sum(len(rdb.parse_listpack(blob)) for _, blob in nodes) == 1000
    # a positive fill counts entries
    assert [len(rdb.parse_listpack(b)) for _, b in rdb._quicklist_nodes(items[:10], 3)] == [3, 3, 3, 1]


def test_legacy_and_plain_types_load_with_7_0_encoding_rules() -> None:
    limits = EncodingLimits(hash_max_listpack_entries=2, hash_max_listpack_value=5, set_max_intset_entries=3,
                            zset_max_listpack_entries=2, zset_max_listpack_value=5)  # fmt: skip
    # type 1: plain list
    assert load(rdb.TYPE_LIST, b"\x02" + rdb_string(b"a") + rdb_string(b"b")) == ListValue([b"a", b"b"])
    # type 2: an intset only when all integers and few enough
    assert load(rdb.TYPE_SET, b"\x02" + rdb_string(b"1") + rdb_string(b"2"), limits).intset  # type: ignore[attr-defined]
    assert not load(rdb.TYPE_SET, b"\x02" + rdb_string(b"1") + rdb_string(b"x"), limits).intset  # type: ignore[attr-defined]
    four = b"\x04" + b"".join(rdb_string(b"%d" % i) for i in range(4))
    assert not load(rdb.TYPE_SET, four, limits).intset  # type: ignore[attr-defined]
    # type 11: intset unless too many members
    assert not load(rdb.TYPE_SET_INTSET, rdb_string(rdb.build_intset(range(4))), limits).intset  # type: ignore[attr-defined]
    # type 3: ASCII scores, inf; listpack only if small and short
    zset = load(rdb.TYPE_ZSET, b"\x02" + rdb_string(b"a") + b"\x032.5" + rdb_string(b"b") + b"\xfe", limits)
    assert list(zset.order) == [(2.5, b"a"), (math.inf, b"b")] and zset.listpack  # type: ignore[attr-defined]
    long_member = load(rdb.TYPE_ZSET_2, b"\x01" + rdb_string(b"toolong") + struct.pack("<d", 1.0), limits)
    assert not long_member.listpack  # type: ignore[attr-defined]
    # type 4: hashtable when a field or value is too long, or too many fields
    assert load(rdb.TYPE_HASH, b"\x01" + rdb_string(b"f") + rdb_string(b"v"), limits).hashtable is False  # type: ignore[attr-defined]
    assert load(rdb.TYPE_HASH, b"\x01" + rdb_string(b"f") + rdb_string(b"value!"), limits).hashtable  # type: ignore[attr-defined]
    # type 16: a long value stays listpack (7.0 checks only the count there)
    lp = rdb.build_listpack([b"f", b"value!"])
    assert load(rdb.TYPE_HASH_LISTPACK, rdb_string(lp), limits).hashtable is False  # type: ignore[attr-defined]
    # ziplist-based types
    assert load(rdb.TYPE_LIST_ZIPLIST, rdb_string(build_ziplist([b"a", 5]))) == ListValue([b"a", b"5"])
    hashed = load(rdb.TYPE_HASH_ZIPLIST, rdb_string(build_ziplist([b"f", 1, b"g", b"x"])))
    assert dict(hashed) == {b"f": b"1", b"g": b"x"}  # type: ignore[call-overload]
    zipped = load(rdb.TYPE_ZSET_ZIPLIST, rdb_string(build_ziplist([b"m", b"1.5", b"n", 2])))
    assert list(zipped.order) == [(1.5, b"m"), (2.0, b"n")]  # type: ignore[attr-defined]
    quick = b"\x02" + rdb_string(build_ziplist([b"a"])) + rdb_string(build_ziplist([b"b", b"c"]))
    assert load(rdb.TYPE_LIST_QUICKLIST, quick) == ListValue([b"a", b"b", b"c"])
    zipmap = load(rdb.TYPE_HASH_ZIPMAP, rdb_string(build_zipmap([(b"k", b"v")])))
    assert dict(zipmap) == {b"k": b"v"}  # type: ignore[call-overload]
    # QUICKLIST_2 with a PLAIN node then a PACKED node
    mixed = b"\x02\x01" + rdb_string(b"plain") + b"\x02" + rdb_string(rdb.build_listpack([b"x"]))
    assert load(rdb.TYPE_LIST_QUICKLIST_2, mixed) == ListValue([b"plain", b"x"])


@pytest.mark.parametrize(("type_byte", "body"), [
    (rdb.TYPE_SET, b"\x00"),                                                   # empty collection
    (rdb.TYPE_LIST, b"\x00"),
    (rdb.TYPE_SET, b"\x02" + rdb_string(b"a") + rdb_string(b"a")),             # duplicate member
    (rdb.TYPE_HASH, b"\x02" + rdb_string(b"f") + rdb_string(b"1") + rdb_string(b"f") + rdb_string(b"2")),
    (rdb.TYPE_ZSET_2, b"\x01" + rdb_string(b"a") + struct.pack("<d", math.nan)),  # NaN score
    (rdb.TYPE_ZSET, b"\x01" + rdb_string(b"a") + b"\xfd"),
    (rdb.TYPE_ZSET_LISTPACK, rdb_string(rdb.build_listpack([b"a", b"nan"]))),
    (rdb.TYPE_ZSET_LISTPACK, rdb_string(rdb.build_listpack([b"a", 1, b"b"]))),     # odd pairs
    (rdb.TYPE_HASH_LISTPACK, rdb_string(rdb.build_listpack([b"a", 1, b"a", 2]))),   # duplicate field
    (rdb.TYPE_HASH_LISTPACK, rdb_string(rdb.build_listpack([]))),                   # empty
    (rdb.TYPE_LIST_QUICKLIST_2, b"\x01\x03" + rdb_string(rdb.build_listpack([b"a"]))),  # bad container
    (rdb.TYPE_LIST_QUICKLIST_2, b"\x01\x02\x00"),                                   # empty node string
    (rdb.TYPE_LIST_QUICKLIST_2, b"\x01\x02" + rdb_string(rdb.build_listpack([]))),  # only empty nodes
    (rdb.TYPE_MODULE_PRE_GA, b""), (rdb.TYPE_MODULE_2, b"\x00"), (8, b""),
    (rdb.TYPE_STREAM_LISTPACKS, b"\x00"), (rdb.TYPE_STREAM_LISTPACKS_2, b"\x00"), (20, b""), (200, b""),
])  # fmt: skip
def test_bad_values_are_refused(type_byte: int, body: bytes) -> None:
    with pytest.raises(RdbError):
        load(type_byte, body)


def test_bytes_after_the_object_are_ignored() -> None:
    value, used = rdb.decode_value(b"\x00\x01a" + b"trailing")
    assert value == b"a" and used == 3


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values(), st.data())
def test_mutated_payloads_never_raise_anything_but_rdb_error(value: object, data: st.DataObject) -> None:
    encoded = bytearray(rdb.encode_value(value))
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        pos = data.draw(st.integers(min_value=0, max_value=max(len(encoded) - 1, 0)))
        if action == "flip" and encoded:
            encoded[pos] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif action == "truncate":
            del encoded[pos:]
        elif action == "insert":
            encoded[pos:pos] = data.draw(st.binary(min_size=1, max_size=5))
        elif encoded:
            del encoded[pos]
    try:
        loaded, _ = rdb.decode_value(bytes(encoded))
    except RdbError:
        return
    rdb.encode_value(loaded)  # whatever loaded is a value we can serialize again


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_never_raise_anything_but_rdb_error(blob: bytes) -> None:
    for parse in (rdb.parse_listpack, rdb.parse_ziplist, rdb.parse_intset, rdb.parse_zipmap):
        try:
            parse(blob)
        except RdbError:
            pass
    try:
        rdb.decode_value(blob)
    except RdbError:
        pass


# -- whole files -------------------------------------------------------------------------------


def test_rdb_file_round_trip() -> None:
    writer = rdb.RdbWriter()
    for name, content in rdb.standard_aux("7.0.15", 1_700_000_000, 12345, repl_id="a" * 40, repl_offset=7):
        writer.aux(name, content)
    writer.function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    writer.select_db(0, keys=2, expires=1)
    writer.key(b"s", b"v", expire_ms=1_800_000_000_000)
    writer.key(b"l", ListValue([b"a", b"b"]), idle_s=30)
    writer.select_db(3, keys=1, expires=0)
    writer.key(b"z", SetValue({b"1", b"2"}), freq=7)
    data = writer.finish()
    assert data.startswith(b"REDIS0010")
    assert data[-8:] == rdb.crc64(data[:-8]).to_bytes(8, "little")
    parsed = rdb.load_rdb(data)
    assert parsed.version == 10
    assert parsed.aux[b"redis-ver"] == b"7.0.15" and parsed.aux[b"repl-offset"] == b"7"
    assert parsed.functions[0].startswith(b"#!lua")
    assert parsed.db_sizes == {0: (2, 1), 3: (1, 0)}
    keys = [(e.db, e.key, e.expire_ms, e.idle_s, e.freq) for e in parsed.entries]
    assert keys == [(0, b"s", 1_800_000_000_000, None, None), (0, b"l", None, 30, None), (3, b"z", None, None, 7)]


def test_rdb_file_checksum_and_structure_errors() -> None:
    writer = rdb.RdbWriter()
    writer.select_db(0, 1, 0)
    writer.key(b"k", b"v")
    data = writer.finish()
    with pytest.raises(RdbError):
        rdb.load_rdb(data[:-1] + bytes([data[-1] ^ 1]))
    assert rdb.load_rdb(data[:-8] + b"\0" * 8).entries[0].key == b"k"  # rdbchecksum no
    assert rdb.load_rdb(data[:-1] + bytes([data[-1] ^ 1]), verify_checksum=False).entries
    for bad in (b"REDIS0011" + data[9:], b"RADIS0010" + data[9:], data[:-9], data[:20]):
        with pytest.raises(RdbError):
            rdb.load_rdb(bad)
    duplicate = rdb.RdbWriter()
    duplicate.select_db(0, 2, 0)
    duplicate.key(b"k", b"1")
    duplicate.key(b"k", b"2")
    with pytest.raises(RdbError):
        rdb.load_rdb(duplicate.finish())
    old = b"REDIS0004" + data[9:-8]  # before version 5 there is no checksum
    assert rdb.load_rdb(old).entries[0].value == b"v"


def test_save_databases_writes_every_non_empty_db() -> None:
    class FakeDb:
        def __init__(self, index: int, data: dict, expires: dict) -> None:
            self.index, self.data, self.expires = index, data, expires

    dbs = [FakeDb(0, {b"a": b"1"}, {b"a": 99}), FakeDb(1, {}, {}), FakeDb(2, {b"b": ListValue([b"x"])}, {})]
    parsed = rdb.load_rdb(rdb.save_databases(dbs, aux=[(b"redis-ver", b"7.0.15")]))
    assert [(e.db, e.key, e.expire_ms) for e in parsed.entries] == [(0, b"a", 99), (2, b"b", None)]
