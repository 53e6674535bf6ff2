"""DUMP / RESTORE / RESTORE-ASKING against a real redis-server 7.0, and RDB files both ways.

* Interchange: keys of every type and encoding are written natively on one server,
  DUMPed there and RESTOREd on the other; both views (TYPE, OBJECT ENCODING, content,
  TTL) must agree, and a payload of ours must give the real server the encoding a
  native write gives. Where the layout is deterministic our DUMP is byte-identical.
* RESTORE's checks and their order, option errors, legacy RDB types and hand-built
  payloads, config-dependent encodings: differential scripts, byte for byte.
* Hostile payloads: mutated real payloads (CRC fixed up so they reach the decoder) are
  refused cleanly or give a usable value, and the node keeps answering.
* Whole RDB files: a file saved by the real server loads into the same values, and a
  file we write is loaded by a real server (the full-sync direction of replication).
"""

from __future__ import annotations

import os
import random
import re
import struct
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyredis_cluster.server import rdb
from tests.differential import Command, assert_same
from tests.server.test_rdb import build_ziplist, build_zipmap, rdb_string
from tests.support import RawClient, real_redis_server, wait_until

_RNG = random.Random(20240607)
INCOMPRESSIBLE = _RNG.randbytes(3000)

#: Writes that leave one key of each type and encoding a 7.0 server produces.
POPULATE: list[Command] = [
    ["SET", "str:word", "hello"], ["SET", "str:int8", "-5"], ["SET", "str:int16", "1000"],
    ["SET", "str:int32", "-2147483648"], ["SET", "str:int64", "1099511627776"], ["SET", "str:lead0", "0123"],
    ["SET", "str:empty", ""], ["SET", "str:lzf", "x" * 100 + "0"], ["SET", "str:random", INCOMPRESSIBLE],
    ["SET", "str:binary", b"\x00\xff\r\n-0"], ["SET", "str:long", "abc" * 5000],
    ["RPUSH", "list:small", "a", "1", "-7", "bb", "300000"],
    ["RPUSH", "list:big", *[f"element-{i:012d}" for i in range(1000)]],
    ["RPUSH", "list:ints", *[str(i) for i in range(-70000, 70000, 997)]],
    ["LPUSH", "list:lpush", *[f"head-{i}" for i in range(700)]],
    ["RPUSH", "list:bulky", "y" * 9000, "a", "z" * 5000, "b" * 4095, "c" * 4096],
    # LZF would save exactly 4 bytes: liblzf's conservative end checks refuse, Redis writes raw
    ["RPUSH", "list:barely", "0", b"\0" * 6, b"\0" * 6],
    ["SET", "str:barely", b"\x19\0\0\0\x03\0\0\x01\x86" + b"\0" * 6 + b"\x07\x86" + b"\0" * 6 + b"\x07\xff"],
    ["HSET", "hash:small", "f1", "v1", "f2", "2", "f3", "-40000"],
    ["HSET", "hash:200", *[x for i in range(200) for x in (f"f{i}", f"v{i}")]],
    ["HSET", "hash:big", *[x for i in range(600) for x in (f"f{i}", f"v{i}")]],
    ["HSET", "hash:longval", "f", "v" * 100],
    ["SADD", "set:intset", "1", "2", "3"], ["SADD", "set:intset64", "-9223372036854775808", "5", "9223372036854775807"],
    ["SADD", "set:intset32", "70000", "-1"], ["SADD", "set:strings", "a", "b", "c"],
    ["SADD", "set:manyints", *[str(i * 3) for i in range(600)]], ["SADD", "set:mixed", "1", "x"],
    ["ZADD", "zset:small", "1", "a", "2.5", "b"],
    ["ZADD", "zset:scores", "inf", "i", "-inf", "j", "1e17", "k", "0.1", "l", "-0", "m", "4611686018427387904", "n",
     "4611686018427387905", "o", "-3", "p"],
    ["ZADD", "zset:big", *[x for i in range(200) for x in (str(i * 1.5), f"m{i}")]],
    ["ZADD", "zset:longmember", "1", "m" * 100],
    ["SET", "ttl:str", "v", "PX", "500000"], ["HSET", "ttl:hash", "a", "1"], ["PEXPIRE", "ttl:hash", "900000"],
]  # fmt: skip

#: Keys whose DUMP layout is fully determined by the writes (no hash-table order, no
#: head-pushed quicklist nodes): our DUMP must equal 7.0's byte for byte.
DETERMINISTIC_LAYOUT = [
    "str:word", "str:int8", "str:int16", "str:int32", "str:int64", "str:lead0", "str:empty", "str:lzf",
    "str:random", "str:binary", "str:long", "list:small", "list:big", "list:ints", "list:bulky", "list:barely",
    "str:barely", "hash:small",
    "hash:200", "hash:longval", "set:intset", "set:intset64", "set:intset32", "zset:small", "zset:scores",
    "zset:big", "zset:longmember", "ttl:str", "ttl:hash",
]  # fmt: skip


def key_names() -> list[str]:
    names: list[str] = []
    for cmd in POPULATE:
        if cmd[0] in ("SET", "RPUSH", "LPUSH", "HSET", "SADD", "ZADD") and cmd[1] not in names:
            names.append(str(cmd[1]))
    return names


def populate(conn: RawClient) -> None:
    for cmd in POPULATE:
        reply = conn.raw(*cmd)
        assert not reply.startswith(b"-"), (cmd[:2], reply)


def view(conn: RawClient, key: str | bytes) -> list[Any]:
    """What a client can see of a key: type, encoding and content (hash-table orders,
    which are arbitrary in Redis, sorted; listpack and intset orders kept)."""
    kind = conn.call("TYPE", key)
    encoding = conn.call("OBJECT", "ENCODING", key)
    if kind == "string":
        content: Any = conn.call("GET", key)
    elif kind == "list":
        content = conn.call("LRANGE", key, 0, -1)
    elif kind == "hash":
        content = conn.call("HGETALL", key)
        if encoding == b"hashtable":
            content = sorted(zip(content[::2], content[1::2]))
    elif kind == "set":
        content = conn.call("SMEMBERS", key)
        if encoding == b"hashtable":
            content = sorted(content)
    elif kind == "zset":
        content = conn.call("ZRANGE", key, 0, -1, "WITHSCORES")
    else:
        content = None
    return [kind, encoding, content]


@pytest.fixture
def ours(our_port: int) -> Iterator[RawClient]:
    with RawClient(our_port) as conn:
        conn.call("FLUSHALL")
        yield conn


@pytest.fixture
def real(real_redis_port: int) -> Iterator[RawClient]:
    with RawClient(real_redis_port) as conn:
        conn.call("FLUSHALL")
        yield conn


@pytest.fixture(scope="module")
def real_payloads(real_redis_port: int) -> dict[str, bytes]:
    """DUMP of every POPULATE key, taken from the real server."""
    with RawClient(real_redis_port) as conn:
        conn.call("FLUSHALL")
        populate(conn)
        payloads = {name: conn.call("DUMP", name) for name in key_names()}
        conn.call("FLUSHALL")
    return payloads


def seal(body: bytes, version: int = 10) -> bytes:
    """A DUMP payload around ``body`` (type byte + object): version and CRC64 footer."""
    sealed = body + version.to_bytes(2, "little")
    return sealed + rdb.crc64(sealed).to_bytes(8, "little")


# -- interchange ---------------------------------------------------------------------------------


def test_real_dump_restores_on_ours_with_same_values_and_ttls(ours: RawClient, real: RawClient) -> None:
    populate(real)
    for name in key_names():
        payload, pttl = real.call("DUMP", name), real.call("PTTL", name)
        assert ours.call("RESTORE", name, max(pttl, 0), payload) == "OK", name
        assert view(ours, name) == view(real, name), name
        if pttl > 0:
            assert pttl - 5000 < ours.call("PTTL", name) <= pttl, name
        else:
            assert ours.call("PTTL", name) == -1


def test_our_dump_restores_on_real_like_a_native_write(ours: RawClient, real: RawClient) -> None:
    populate(ours)
    populate(real)  # db 0 of the real server: native writes, the reference
    with RawClient(real.sock.getpeername()[1]) as restored:
        restored.call("SELECT", 9)
        restored.call("FLUSHDB")
        for name in key_names():
            payload, pttl = ours.call("DUMP", name), ours.call("PTTL", name)
            assert restored.call("RESTORE", name, max(pttl, 0), payload) == "OK", name
            assert view(restored, name) == view(real, name), name
            assert view(ours, name) == view(real, name), name
            if pttl > 0:
                assert pttl - 5000 < restored.call("PTTL", name) <= pttl, name
            else:
                assert restored.call("PTTL", name) == -1
        restored.call("FLUSHDB")


def test_our_dump_is_byte_identical_where_the_layout_is_deterministic(ours: RawClient, real: RawClient) -> None:
    populate(ours)
    populate(real)
    different = [name for name in DETERMINISTIC_LAYOUT if ours.call("DUMP", name) != real.call("DUMP", name)]
    assert not different


def test_dump_round_trips_on_our_node(ours: RawClient) -> None:
    populate(ours)
    for name in key_names():
        before = view(ours, name)
        payload = ours.call("DUMP", name)
        assert ours.call("RESTORE", name, 0, payload, "REPLACE") == "OK"
        assert view(ours, name) == before, name


_elements = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i),
    st.binary(max_size=12),
    st.binary(min_size=60, max_size=90),  # past the 64-byte listpack value limit
    st.sampled_from([b"0", b"-0", b"007", b"x" * 30]),
)
_scores = st.one_of(st.integers(min_value=-(2**64), max_value=2**64).map(float),
                    st.floats(allow_nan=False, width=64), st.sampled_from([0.5, 1e17, 2.0**62, -(2.0**62) - 1024]))  # fmt: skip


@st.composite
def random_writes(draw: st.DrawFn) -> tuple[str, list[Command]]:
    """Commands that build one key of a random type, size and encoding."""
    kind = draw(st.sampled_from(["string", "list", "hash", "set", "zset"]))
    if kind == "string":
        return kind, [["SET", "key", draw(st.one_of(_elements, st.binary(min_size=21, max_size=300)))]]
    size = draw(st.sampled_from([1, 3, 20, 130, 600]))
    if kind == "list":
        return kind, [["RPUSH", "key", *draw(st.lists(_elements, min_size=size, max_size=size))]]
    if kind == "hash":
        fields = draw(st.lists(_elements, min_size=size, max_size=size, unique=True))
        return kind, [["HSET", "key", *[x for f in fields for x in (f, draw(_elements))]]]
    if kind == "set":
        pool = st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: b"%d" % i) if draw(st.booleans()) else _elements
        return kind, [["SADD", "key", *draw(st.lists(pool, min_size=size, max_size=size))]]
    members = draw(st.lists(_elements, min_size=size, max_size=size, unique=True))
    return kind, [["ZADD", "key", *[x for m in members for x in (repr(draw(_scores)), m)]]]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes=random_writes())
def test_random_values_interchange_both_ways(ours: RawClient, real: RawClient, writes: tuple[str, list[Command]]) -> None:
    kind, commands = writes
    for conn in (ours, real):
        conn.call("DEL", "key", "copy")
        for cmd in commands:
            assert not conn.raw(*cmd).startswith(b"-")
    native = view(real, "key")
    assert view(ours, "key") == native
    ours_payload, real_payload = ours.call("DUMP", "key"), real.call("DUMP", "key")
    assert real.call("RESTORE", "copy", 0, ours_payload) == "OK"
    assert ours.call("RESTORE", "copy", 0, real_payload) == "OK"
    assert view(real, "copy") == native
    assert view(ours, "copy") == native
    if native[1] not in (b"hashtable",):  # every other layout is determined by the writes
        assert ours_payload == real_payload


# -- RESTORE's checks, differentially ------------------------------------------------------------


def test_restore_checks_and_options_like_redis(our_port: int, real_redis_port: int, real_payloads: dict[str, bytes]) -> None:
    good = real_payloads["str:word"]
    listed = real_payloads["list:small"]
    bad_crc = good[:-1] + bytes([good[-1] ^ 1])
    newer = seal(good[:-10], 11)
    older = seal(good[:-10], 6)
    script: list[Command] = [
        ["RESTORE", "k", "0", good], ["GET", "k"], ["RESTORE", "k", "0", good],
        ["RESTORE", "k", "0", bad_crc], ["RESTORE", "k", "-1", good], ["RESTORE", "k", "x", good],
        ["RESTORE", "k", "0", good, "REPLACE"], ["GET", "k"], ["RESTORE", "k", "0", listed, "replace"], ["TYPE", "k"],
        ["RESTORE", "n", "-1", good], ["RESTORE", "n", "x", bad_crc], ["RESTORE", "n", "0", bad_crc],
        ["RESTORE", "n", "0", newer], ["RESTORE", "n", "0", "short"], ["RESTORE", "n", "0", ""],
        ["RESTORE", "n", "0", older], ["GET", "n"],
        ["RESTORE", "o", "0", good, "foo"], ["RESTORE", "o", "0", good, "REPLACE", "foo"],
        ["RESTORE", "o", "0", good, "IDLETIME"], ["RESTORE", "o", "0", good, "IDLETIME", "-1"],
        ["RESTORE", "o", "0", good, "IDLETIME", "x"], ["RESTORE", "o", "0", good, "FREQ"],
        ["RESTORE", "o", "0", good, "FREQ", "256"], ["RESTORE", "o", "0", good, "FREQ", "-1"],
        ["RESTORE", "o", "0", good, "FREQ", "x"], ["RESTORE", "o", "0", good, "FREQ", "1", "IDLETIME", "1"],
        ["RESTORE", "o", "0", good, "IDLETIME", "1", "FREQ", "1"], ["RESTORE", "o", "-1", good, "foo"],
        ["RESTORE", "k", "0", good, "IDLETIME", "-1"], ["RESTORE", "k", "0", good, "bar"],
        ["RESTORE", "o", "0", bad_crc, "IDLETIME", "-5"],
        ["RESTORE", "o", "0", good, "IDLETIME", "1", "IDLETIME", "1000"],
        ["RESTORE", "r", "0", good, "FREQ", "100"], ["OBJECT", "FREQ", "r"],
        ["RESTORE", "t", "1000", good, "ABSTTL"], ["EXISTS", "t"],
        ["RESTORE", "k", "1000", good, "ABSTTL", "REPLACE"], ["EXISTS", "k"],
        ["RESTORE", "u", "9999999999999", good, "ABSTTL"], ["PEXPIRETIME", "u"],
        ["RESTORE", "v", "100000", good], ["TTL", "v"],
        ["RESTORE", "huge", "9223372036854775807", good], ["EXISTS", "huge"],
        ["RESTORE", "huge", "9223372036854775807", good, "ABSTTL"], ["PEXPIRETIME", "huge"],
        ["SET", "w", "old", "EX", "100"], ["RESTORE", "w", "0", good, "REPLACE"], ["TTL", "w"],
        ["RESTORE", "x", "0", seal(b"\x08" + good[1:-10])], ["RESTORE", "x", "0", seal(b"\x13\x00")],
        ["RESTORE", "x", "0", seal(b"\x15\x00")], ["RESTORE", "x", "0", seal(b"")],
        ["RESTORE", "x", "0", seal(good[:-10] + b"trailing bytes")], ["GET", "x"],
        ["RESTORE-ASKING", "y", "0", good], ["GET", "y"], ["RESTORE-ASKING", "y", "0", good],
        ["DUMP", "nokey"], ["DUMP"], ["DUMP", "a", "b"], ["RESTORE", "a", "0"], ["RESTORE"],
        ["RESTORE-ASKING", "a", "0"],
        ["SET", "big", "1099511627776"], ["DUMP", "big"], ["SET", "neg0", "-0"], ["DUMP", "neg0"],
        ["COMMAND", "INFO", "dump", "restore", "restore-asking"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_restore_under_lfu_and_lru_policies(our_port: int, real_redis_port: int, real_payloads: dict[str, bytes]) -> None:
    good = real_payloads["str:word"]
    script: list[Command] = [
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
        ["RESTORE", "a", "0", good, "FREQ", "42"], ["OBJECT", "FREQ", "a"],
        ["RESTORE", "b", "0", good, "IDLETIME", "100"], ["OBJECT", "FREQ", "b"],
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
        ["RESTORE", "c", "0", good, "FREQ", "42"], ["OBJECT", "IDLETIME", "c"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script, resps=(2,))


@pytest.mark.parametrize("idle", [0, 1000, 12345, 100_000_000_000, 2**62, 9223372036854775807])
def test_restore_idletime_goes_through_the_lru_clock_like_redis(ours: RawClient, real: RawClient,
                                                                real_payloads: dict[str, bytes], idle: int) -> None:  # fmt: skip
    """OBJECT IDLETIME after RESTORE ... IDLETIME, including the 24-bit clock's wrap-around
    (compared within a second: the clocks of the two servers tick independently)."""
    payload = real_payloads["str:word"]
    seen = []
    for conn in (ours, real):
        assert conn.call("RESTORE", "idle", 0, payload, "IDLETIME", idle) == "OK"
        seen.append(conn.call("OBJECT", "IDLETIME", "idle"))
    assert abs(seen[0] - seen[1]) <= 1, seen


def test_encodings_follow_the_restoring_servers_config(our_port: int, real_redis_port: int,
                                                       real_payloads: dict[str, bytes]) -> None:  # fmt: skip
    limits = [("hash-max-listpack-entries", 2, 512), ("hash-max-listpack-value", 3, 64),
              ("zset-max-listpack-entries", 2, 128), ("zset-max-listpack-value", 3, 64),
              ("set-max-intset-entries", 2, 512)]  # fmt: skip
    script: list[Command] = [["CONFIG", "SET", name, low] for name, low, _ in limits]
    for name in ("hash:small", "hash:200", "hash:big", "hash:longval", "set:intset", "set:intset32", "set:strings",
                 "set:manyints", "zset:small", "zset:scores", "zset:big", "zset:longmember", "list:small"):
        script += [["RESTORE", name, 0, real_payloads[name]], ["OBJECT", "ENCODING", name]]
    # hand-built plain types: HASH (4) and ZSET_2 (5) and SET (2) of short items stay small
    script += [
        ["RESTORE", "h4", 0, seal(b"\x04\x01" + rdb_string(b"f") + rdb_string(b"v"))], ["OBJECT", "ENCODING", "h4"],
        ["RESTORE", "h4long", 0, seal(b"\x04\x01" + rdb_string(b"f") + rdb_string(b"long"))],
        ["OBJECT", "ENCODING", "h4long"],
        ["RESTORE", "z5", 0, seal(b"\x05\x01" + rdb_string(b"m") + struct.pack("<d", 1.5))],
        ["OBJECT", "ENCODING", "z5"], ["ZRANGE", "z5", 0, -1, "WITHSCORES"],
        ["RESTORE", "s2", 0, seal(b"\x02\x02" + rdb_string(b"1") + rdb_string(b"2"))], ["OBJECT", "ENCODING", "s2"],
        ["RESTORE", "s3", 0, seal(b"\x02\x03" + rdb_string(b"1") + rdb_string(b"2") + rdb_string(b"3"))],
        ["OBJECT", "ENCODING", "s3"],
    ]  # fmt: skip
    script += [["CONFIG", "SET", name, default] for name, _, default in limits]
    assert_same(our_port, real_redis_port, script, resps=(2,))


def lp(*items: bytes | int) -> bytes:
    return rdb_string(rdb.build_listpack(items))


def test_legacy_types_and_hand_built_payloads_like_redis(our_port: int, real_redis_port: int) -> None:
    """Payloads 7.0 does not write but loads (client-contract §4.4), and malformed ones
    its default shallow checks refuse too; each followed by what a client sees."""
    intset = rdb_string(rdb.build_intset([5, -3, 70000]))
    payloads: dict[str, bytes] = {
        "int16": b"\x00\xc1\xe8\x03",
        "list1": b"\x01\x03" + rdb_string(b"a") + b"\xc0\x07" + rdb_string(b"c" * 70),
        "set2": b"\x02\x03" + rdb_string(b"x") + rdb_string(b"1") + rdb_string(b"y"),
        "set2ints": b"\x02\x02" + rdb_string(b"10") + b"\xc0\x02",
        "zset3": b"\x03\x03" + rdb_string(b"a") + b"\x032.5" + rdb_string(b"b") + b"\xfe" + rdb_string(b"c") + b"\xff",
        "hash4": b"\x04\x02" + rdb_string(b"f") + b"\xc0\x01" + rdb_string(b"g") + rdb_string(b"v" * 8),
        "zset5": b"\x05\x02" + rdb_string(b"a") + struct.pack("<d", -0.0) + rdb_string(b"b") + struct.pack("<d", 3e100),
        "zipmap9": b"\x09" + rdb_string(build_zipmap([(b"k1", b"v1"), (b"k2", b"22")], free=1)),
        "ziplist10": b"\x0a" + rdb_string(build_ziplist([b"a", 1, 300, -70000, 2**40, b"s" * 100])),
        "intset11": b"\x0b" + intset,
        "zsetzl12": b"\x0c" + rdb_string(build_ziplist([b"o", b"-inf", b"n", b"1.25", b"m", 3])),
        "hashzl13": b"\x0d" + rdb_string(build_ziplist([b"f", b"v", b"n", 12])),
        "quick14": b"\x0e\x02" + rdb_string(build_ziplist([b"a", 2])) + rdb_string(build_ziplist([b"c"])),
        "hashlp16": b"\x10" + lp(b"f", 1, b"g", b"value"),
        "zsetlp17": b"\x11" + lp(b"a", 1, b"b", b"2.5", b"c", b"inf"),
        "quick18": b"\x12\x02\x01" + rdb_string(b"plain element") + b"\x02" + lp(b"x", 5),
        # refused by 7.0's default checks as well as ours
        "empty-set": b"\x02\x00", "empty-list": b"\x01\x00", "type8": b"\x08\x00", "type6": b"\x06\x00",
        "dup-set": b"\x02\x02" + rdb_string(b"a") + rdb_string(b"a"),
        "dup-zset": b"\x05\x02" + (rdb_string(b"a") + struct.pack("<d", 1.0)) * 2,
        "nan-zset": b"\x05\x01" + rdb_string(b"a") + struct.pack("<d", float("nan")),
        "nan-zset3": b"\x03\x01" + rdb_string(b"a") + b"\xfd",
        "bad-container": b"\x12\x01\x03" + lp(b"a"), "empty-node": b"\x12\x01\x02\x00",
        "lp-size": b"\x10" + rdb_string(rdb.build_listpack([b"f", b"v"])[:-1] + b"\x00\xff"),
        "lp-no-end": b"\x10" + rdb_string(rdb.build_listpack([b"f", b"v"])[:-1] + b"\x00"),
        "intset-size": b"\x0b" + rdb_string(rdb.build_intset([1, 2]) + b"\x00"),
        "intset-empty": b"\x0b" + rdb_string(bytes.fromhex("0200000000000000")),
        "truncated": b"\x04\x02" + rdb_string(b"f"), "bad-lzf": b"\x00\xc3\x02\x10ab",
        "bad-len": b"\x00\x82", "bad-strenc": b"\x00\xc5",
    }
    script: list[Command] = []
    for name, body in payloads.items():
        script += [["RESTORE", name, 0, seal(body)], ["TYPE", name], ["OBJECT", "ENCODING", name]]
        script += [["LRANGE", name, 0, -1], ["ZRANGE", name, 0, -1, "WITHSCORES"], ["HGETALL", name], ["GET", name]]
    script += [["SMEMBERS", "intset11"], ["SMEMBERS", "set2ints"], ["SCARD", "set2"], ["SISMEMBER", "set2", "y"]]
    # a HASH with a long value: a hashtable (whose order is arbitrary in Redis)
    long_value = seal(b"\x04\x02" + rdb_string(b"f") + b"\xc0\x01" + rdb_string(b"g") + rdb_string(b"v" * 80))
    script += [["RESTORE", "hash4long", 0, long_value], ["OBJECT", "ENCODING", "hash4long"], ["HLEN", "hash4long"],
               ["HGET", "hash4long", "g"], ["HGET", "hash4long", "f"]]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


# -- events and WATCH ------------------------------------------------------------------------------


def events_of(port: int, payload: bytes) -> list[Any]:
    """Keyspace notifications and WATCH outcomes around RESTOREs, as seen by clients."""
    with RawClient(port) as writer, RawClient(port) as listener, RawClient(port) as watcher:
        writer.call("FLUSHALL")
        writer.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        listener.call("PSUBSCRIBE", "__key*__:*")
        seen: list[Any] = []
        for commands in (
            [["RESTORE", "k", 0, payload]],
            [["RESTORE", "k", 0, payload]],  # BUSYKEY: no event, WATCH intact
            [["RESTORE", "k", 0, payload, "REPLACE"]],
            [["RESTORE", "k", 1, payload, "REPLACE", "ABSTTL"]],  # deleted: a "del"
            [["RESTORE", "gone", 1, payload, "ABSTTL"]],  # nothing at all
            [["RESTORE", "t", 100000, payload]],
        ):
            watcher.call("WATCH", "k", "t", "gone")
            seen += [writer.call(*cmd) for cmd in commands]
            watcher.call("MULTI")
            seen.append(watcher.call("EXEC"))
        writer.call("CONFIG", "SET", "notify-keyspace-events", "")
        listener.sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        while True:
            message = listener.read_reply()[0]
            if message[0] in ("pong", b"pong"):
                break
            seen.append(message)
    return seen


def test_restore_events_and_watch_like_redis(our_port: int, real_redis_port: int,
                                             real_payloads: dict[str, bytes]) -> None:  # fmt: skip
    payload = real_payloads["hash:small"]
    assert events_of(our_port, payload) == events_of(real_redis_port, payload)


# -- hostile payloads --------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_real_payloads_are_refused_cleanly_or_usable(ours: RawClient, real_payloads: dict[str, bytes],
                                                            data: st.DataObject) -> None:  # fmt: skip
    name = data.draw(st.sampled_from(sorted(real_payloads)))
    body = bytearray(real_payloads[name][:-10])
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        pos = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        action = data.draw(st.sampled_from(["byte", "bit", "truncate", "insert"]))
        if action == "byte":
            body[pos] = data.draw(st.integers(min_value=0, max_value=255))
        elif action == "bit":
            body[pos] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))
        elif action == "truncate":
            del body[max(pos, 1):]
        else:
            body[pos:pos] = data.draw(st.binary(min_size=1, max_size=4))
    reply = ours.raw("RESTORE", "fuzzed", 0, seal(bytes(body)), "REPLACE")
    assert reply in (b"+OK\r\n", b"-ERR Bad data format\r\n")
    if reply == b"+OK\r\n":  # a valid value: it dumps and restores again
        again = ours.call("DUMP", "fuzzed")
        assert ours.call("RESTORE", "copy", 0, again, "REPLACE") == "OK"
        assert view(ours, "copy") == view(ours, "fuzzed")
    assert ours.call("PING") == "PONG"


#: ../shared/ beside the repository (as for developers and CI).
TCL_TARBALL = Path(__file__).resolve().parents[3] / "shared/conformance/redis-tcl/redis-7.0.15-tests.tar.gz"
_TCL_RESTORE = re.compile(r'restore\s+\S+\s+\d+\s+"((?:[^"\\]|\\.)*)"')


def corrupt_dump_corpus() -> list[bytes]:
    """The payloads of Redis's own corrupt-dump.tcl (crashes found by fuzzing 6.x/7.0),
    read from the conformance tarball at test time; Tcl's ``\\xHH`` escapes decoded."""
    if not os.path.exists(TCL_TARBALL):
        return []
    with tarfile.open(TCL_TARBALL) as tar:
        member = tar.extractfile("redis-7.0.15/tests/integration/corrupt-dump.tcl")
        text = member.read().decode("latin-1") if member else ""
    payloads = []
    for match in _TCL_RESTORE.finditer(text):
        decoded = re.sub(r"\\x([0-9A-Fa-f]{1,2})", lambda h: chr(int(h.group(1), 16)), match.group(1))
        payloads.append(decoded.replace('\\"', '"').replace("\\\\", "\\").encode("latin-1"))
    return payloads


def test_redis_corrupt_dump_corpus_is_refused_like_a_sanitizing_redis(ours: RawClient, real: RawClient) -> None:
    corpus = corrupt_dump_corpus()
    assert corpus, f"{TCL_TARBALL} is missing: the shared/ folder must sit beside the repository"
    # Some of these rely on DEBUG SET-SKIP-CHECKSUM-VALIDATION: give them a valid CRC.
    sealed = [seal(payload[:-10]) for payload in corpus]
    for payload in sealed:
        reply = ours.raw("RESTORE", "corrupt", 0, payload, "REPLACE")
        assert reply in (b"+OK\r\n", b"-ERR Bad data format\r\n"), payload
        if reply == b"+OK\r\n":
            assert ours.call("RESTORE", "copy", 0, ours.call("DUMP", "corrupt"), "REPLACE") == "OK"
        assert ours.call("PING") == "PONG"
    # We always validate as deeply as 7.0 with sanitize-dump-payload yes: same answers.
    real.call("CONFIG", "SET", "sanitize-dump-payload", "yes")
    try:
        theirs = [real.raw("RESTORE", "corrupt", 0, payload, "REPLACE") for payload in sealed]
    finally:
        real.call("CONFIG", "SET", "sanitize-dump-payload", "no")
    assert [ours.raw("RESTORE", "corrupt", 0, payload, "REPLACE") for payload in sealed] == theirs


# -- whole RDB files ---------------------------------------------------------------------------------


def test_rdb_file_saved_by_redis_loads_into_the_same_values(real: RawClient) -> None:
    populate(real)
    real.call("SELECT", 3)
    real.call("SET", "in-db-3", "x")
    real.call("SELECT", 0)
    assert real.call("SAVE") == "OK"
    directory = real.call("CONFIG", "GET", "dir")[1].decode()
    filename = real.call("CONFIG", "GET", "dbfilename")[1].decode()
    with open(os.path.join(directory, filename), "rb") as handle:
        parsed = rdb.load_rdb(handle.read())
    assert parsed.version == 10
    assert parsed.aux[b"redis-ver"].startswith(b"7.0")
    entries = {(e.db, e.key): e for e in parsed.entries}
    assert set(entries) == {(0, name.encode()) for name in key_names()} | {(3, b"in-db-3")}
    for name in key_names():
        entry = entries[(0, name.encode())]
        from_dump = rdb.load_dump_payload(real.call("DUMP", name))
        assert rdb.encode_value(entry.value) == rdb.encode_value(from_dump), name
        expire = real.call("PEXPIRETIME", name)
        assert entry.expire_ms == (expire if expire > 0 else None), name


def test_rdb_file_we_write_is_loaded_by_redis(ours: RawClient, our_port: int) -> None:
    populate(ours)
    ours.call("SELECT", 5)
    ours.call("RPUSH", "db5-list", "a", "b")
    ours.call("SELECT", 0)
    expected = {name: view(ours, name) for name in key_names()}
    ttls = {name: ours.call("PEXPIRETIME", name) for name in key_names()}
    # The node object is not reachable from here: rebuild its keyspace from DUMPs and
    # PEXPIRETIME, which is exactly what an RDB of it must contain.
    writer = rdb.RdbWriter()
    for field_name, content in rdb.standard_aux("7.0.15", 1_700_000_000, 1 << 20):
        writer.aux(field_name, content)
    writer.select_db(0, len(expected), sum(1 for t in ttls.values() if t > 0))
    for name in key_names():
        value = rdb.load_dump_payload(ours.call("DUMP", name))
        writer.key(name.encode(), value, ttls[name] if ttls[name] > 0 else None)
    ours.call("SELECT", 5)
    writer.select_db(5, 1, 0)
    writer.key(b"db5-list", rdb.load_dump_payload(ours.call("DUMP", "db5-list")))
    directory = tempfile.mkdtemp(prefix="rdb-from-ours-")
    with open(os.path.join(directory, "ours.rdb"), "wb") as handle:
        handle.write(writer.finish())
    with real_redis_server("--dir", directory, "--dbfilename", "ours.rdb") as port, RawClient(port) as loaded:
        wait_until(lambda: loaded.call("DBSIZE") == len(expected), what="the RDB to load")
        for name in key_names():
            assert view(loaded, name) == expected[name], name
            assert loaded.call("PEXPIRETIME", name) == ttls[name], name
        loaded.call("SELECT", 5)
        assert loaded.call("LRANGE", "db5-list", 0, -1) == [b"a", b"b"]
