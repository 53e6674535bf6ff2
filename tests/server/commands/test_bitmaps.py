"""Bitmap command handlers, tested without sockets (Node + Client + dispatch pipeline).

Expected values are the examples of Redis's command documentation and facts of
two's complement arithmetic; byte-exact replies are checked against the real server
in tests/integration/test_diff_bitmaps.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import OK, ErrorReply
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands import bitmaps
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node


class FakeList:
    TYPE_NAME = "list"


@pytest.fixture
def env() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)
    events: list[tuple[str, str, bytes]] = []
    node.notify_keyspace_event = lambda cls, event, key, dbid: events.append((cls, event, key))  # type: ignore[method-assign]

    def run(*words: str | bytes) -> Any:
        return process_command(client, [w if isinstance(w, bytes) else w.encode() for w in words])

    run.node = node  # type: ignore[attr-defined]
    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


def test_setbit_getbit(env):
    assert env("SETBIT", "k", "7", "1") == 0
    assert env("GET", "k") == b"\x01"
    assert env("SETBIT", "k", "7", "0") == 1
    assert env("SETBIT", "k", "17", "1") == 0
    assert env("GET", "k") == b"\x00\x00\x40"
    assert env("GETBIT", "k", "17") == 1
    assert env("GETBIT", "k", "1000") == 0
    assert env("GETBIT", "missing", "3") == 0
    assert env("SETBIT", "k", "1", "2") == ErrorReply(errors.BIT_VALUE)
    assert env("SETBIT", "k", "-1", "1") == ErrorReply(errors.BIT_OFFSET)


def test_bit_offsets_are_limited_by_proto_max_bulk_len(env):
    env.node.config.proto_max_bulk_len = 2
    assert env("SETBIT", "k", "15", "1") == 0
    assert env("SETBIT", "k", "16", "1") == ErrorReply(errors.BIT_OFFSET)
    assert env("GETBIT", "k", "16") == ErrorReply(errors.BIT_OFFSET)
    assert env("BITFIELD", "k", "GET", "u8", "#2") == ErrorReply(errors.BIT_OFFSET)
    assert env("BITFIELD", "k", "GET", "u8", "#1") == [1]


def test_bitcount_documented_examples(env):
    env("SET", "mykey", "foobar")
    assert env("BITCOUNT", "mykey") == 26
    assert env("BITCOUNT", "mykey", "0", "0") == 4
    assert env("BITCOUNT", "mykey", "1", "1") == 6
    assert env("BITCOUNT", "mykey", "1", "1", "BYTE") == 6
    assert env("BITCOUNT", "mykey", "5", "30", "BIT") == 17


def test_bitpos_documented_examples(env):
    env("SET", "mykey", b"\xff\xf0\x00")
    assert env("BITPOS", "mykey", "0") == 12
    env("SET", "mykey", b"\x00\xff\xf0")
    assert env("BITPOS", "mykey", "1", "0") == 8
    assert env("BITPOS", "mykey", "1", "2") == 16
    assert env("BITPOS", "mykey", "1", "2", "-1", "BYTE") == 16
    assert env("BITPOS", "mykey", "1", "7", "15", "BIT") == 8
    env("SET", "mykey", b"\x00\x00\x00")
    assert env("BITPOS", "mykey", "1") == -1
    assert env("BITPOS", "mykey", "1", "7", "-3", "BIT") == -1


def test_bitpos_clear_bit_with_and_without_end(env):
    env("SET", "k", b"\xff\xff")
    assert env("BITPOS", "k", "0") == 16  # right of the string counts as zeros
    assert env("BITPOS", "k", "0", "0") == 16
    assert env("BITPOS", "k", "0", "0", "-1") == -1  # an explicit end does not
    assert env("BITPOS", "missing", "0") == 0
    assert env("BITPOS", "missing", "1") == -1
    assert env("BITPOS", "k", "2") == ErrorReply(errors.BITPOS_BIT)


@given(st.binary(max_size=8), st.integers(0, 1))
def test_first_bit_agrees_with_a_bit_by_bit_scan(data, bit):
    bits = [(byte >> (7 - i)) & 1 for byte in data for i in range(8)]
    expected = bits.index(bit) if bit in bits else (-1 if bit else len(bits))
    assert bitmaps._first_bit(data, bit) == expected


def test_bitop_documented_example(env):
    env("SET", "key1", "foobar")
    env("SET", "key2", "abcdef")
    assert env("BITOP", "AND", "dest", "key1", "key2") == 6
    assert env("GET", "dest") == b"`bc`ab"
    assert env("BITOP", "NOT", "dest", "key1", "key2") == ErrorReply(errors.BITOP_NOT_ONE_KEY)
    assert env("BITOP", "NAND", "dest", "key1") == ErrorReply(errors.SYNTAX)
    assert env("BITOP", "OR", "dest", "missing") == 0  # an empty result deletes the destination
    assert b"dest" not in env.db.data


def test_bitfield_documented_examples(env):
    assert env("BITFIELD", "mykey", "INCRBY", "i5", "100", "1", "GET", "u4", "0") == [1, 0]
    overflow = ["BITFIELD", "other", "INCRBY", "u2", "100", "1", "OVERFLOW", "SAT", "INCRBY", "u2", "102", "1"]
    assert [env(*overflow) for _ in range(4)] == [[1, 1], [2, 2], [3, 3], [0, 3]]
    assert env("BITFIELD", "other", "OVERFLOW", "FAIL", "INCRBY", "u2", "102", "1") == [None]


def test_bitfield_two_complement_facts():
    assert bitmaps._unsigned_overflow(255, 1, 8, bitmaps._WRAP) == (True, 0)
    assert bitmaps._unsigned_overflow(255, 1, 8, bitmaps._SAT) == (True, 255)
    assert bitmaps._unsigned_overflow(0, -1, 8, bitmaps._SAT) == (True, 0)
    assert bitmaps._unsigned_overflow(254, 1, 8, bitmaps._SAT) == (False, 0)
    assert bitmaps._signed_overflow(127, 1, 8, bitmaps._WRAP) == (True, -128)
    assert bitmaps._signed_overflow(-128, -1, 8, bitmaps._WRAP) == (True, 127)
    assert bitmaps._signed_overflow(-128, -1, 8, bitmaps._SAT) == (True, -128)
    assert bitmaps._signed_overflow(2**63 - 1, 1, 64, bitmaps._WRAP) == (True, -(2**63))
    assert bitmaps._signed_overflow(5, -3, 8, bitmaps._SAT) == (False, 0)


@given(st.binary(min_size=9, max_size=9), st.integers(0, 8), st.integers(1, 64), st.integers(0, 2**64 - 1))
def test_set_field_then_get_field_round_trips(data, offset, bits, value):
    buffer = bytearray(data)
    bitmaps._set_field(buffer, offset, bits, value)
    assert bitmaps._get_field(buffer, offset, bits) == value & ((1 << bits) - 1)
    # bits outside the field are untouched
    mask = ((1 << bits) - 1) << (72 - offset - bits)
    assert int.from_bytes(buffer, "big") & ~mask == int.from_bytes(data, "big") & ~mask


def test_bitfield_ro_and_errors(env):
    env("SET", "k", b"\x80")
    assert env("BITFIELD_RO", "k", "GET", "i8", "0") == [-128]
    assert env("BITFIELD_RO", "k", "SET", "u8", "0", "1") == ErrorReply(errors.BITFIELD_RO_GET_ONLY)
    assert env("BITFIELD", "k", "GET", "u64", "0") == ErrorReply(errors.BITFIELD_TYPE)
    assert env("BITFIELD", "k", "OVERFLOW", "MAYBE") == ErrorReply(errors.BITFIELD_OVERFLOW_TYPE)
    env.db.add(b"l", FakeList())
    for cmd in (["SETBIT", "l", "0", "1"], ["GETBIT", "l", "0"], ["BITCOUNT", "l"], ["BITPOS", "l", "1"],
                ["BITOP", "AND", "d", "l"], ["BITFIELD", "l", "GET", "u8", "0"], ["BITFIELD", "l", "SET", "u8", "0", "1"]):  # fmt: skip
        assert env(*cmd) == ErrorReply(errors.WRONGTYPE), cmd


def test_bitfield_fail_still_creates_the_key(env):
    # Redis makes room for the farthest written bit before running the operations.
    assert env("BITFIELD", "new", "OVERFLOW", "FAIL", "INCRBY", "u2", "8", "10") == [None]
    assert env("GET", "new") == b"\x00\x00"
    assert env.events == []  # but nothing changed, so no event


def test_bitmap_events_and_ttl(env):
    env("SET", "k", "a", "EX", "100")
    ttl = env.db.get_expire(b"k")
    env.events.clear()
    env("SETBIT", "k", "1", "1")  # 'a' is 0b01100001: bit 1 already set, no change
    env("SETBIT", "k", "0", "1")
    env("BITFIELD", "k", "SET", "u8", "8", "0")  # grows the string: a change
    env("BITFIELD", "k", "GET", "u8", "0")
    env("BITOP", "NOT", "dest", "k")
    env("BITOP", "AND", "dest", "missing")
    assert env.events == [("$", "setbit", b"k"), ("$", "setbit", b"k"), ("$", "set", b"dest"), ("g", "del", b"dest")]
    assert env.db.get_expire(b"k") == ttl
    assert env("SET", "k", "x") is OK
