"""SORT's building blocks without sockets: strtod-exact weights, pattern lookups, key
extraction, LIMIT clamping, STORE bookkeeping.

Weight cases are facts of glibc's strtod (each also checked against a real
redis-server 7.0 in tests/integration/test_diff_keys.py); whole SORT replies are
compared with the real server there too.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from pyredis_cluster.protocol.encoder import ErrorReply
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands import sort
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.keyspace import Keyspace
from pyredis_cluster.server.node import Node


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"1", 1.0), (b"-2.5", -2.5), (b" 5", 5.0), (b"\t\n3", 3.0), (b"", 0.0), (b"+.5", 0.5), (b"5.", 5.0),
        (b"1e3", 1000.0), (b"0x10", 16.0), (b"0x.8p1", 1.0), (b"inf", math.inf), (b"-Infinity", -math.inf),
        (b"INF", math.inf), (b"0e-500", 0.0), (b"1e308", 1e308), (b"3\x00junk", 3.0),
        (b"0x1p-1070", 2.0**-1070),  # an exact denormal: no ERANGE
        (b"2.2250738585072014e-308", 2.2250738585072014e-308),  # the smallest normal
    ],
)  # fmt: skip
def test_weights_read_like_strtod(text, value):
    assert sort.sort_weight(text) == value


@pytest.mark.parametrize(
    "text",
    [b"5 ", b"abc", b"1x", b"nan", b"-nan", b"NaN(123)", b"1e400", b"-1e400", b"1e-400", b"1e-310",
     b"2.2250738585072011e-308", b"1_0", b"0x", b"1e", b".", b"-", b" ", b"0x1p99999"],
)  # fmt: skip
def test_weights_strtod_refuses(text):
    assert sort.sort_weight(text) is None


@pytest.mark.parametrize(
    ("args", "positions"),
    [
        (["SORT", "k"], [1]),
        (["SORT", "k", "STORE", "d"], [1, 3]),
        (["SORT", "k", "STORE", "d", "STORE", "e"], [1, 5]),  # the last STORE wins, as in SORT itself
        (["SORT", "k", "GET", "store", "x"], [1]),  # GET's argument is skipped
        (["SORT", "k", "BY", "store", "STORE", "d"], [1, 5]),
        (["SORT", "k", "LIMIT", "0", "store", "STORE"], [1]),  # LIMIT skips two arguments
        (["SORT", "k", "STORE"], [1]),
        (["SORT", "k", "store", "store"], [1, 3]),
    ],
)  # fmt: skip
def test_getkeys(args, positions):
    assert sort.sort_getkeys([a.encode() for a in args]) == positions


def make_db() -> Any:
    keyspace = Keyspace(1)
    return keyspace[0]


class FakeHash:
    TYPE_NAME = "hash"

    def __init__(self, fields: dict[bytes, bytes]) -> None:
        self.fields = fields

    def get(self, field: bytes) -> bytes | None:
        return self.fields.get(field)


def test_pattern_lookups():
    db = make_db()
    db.add(b"w_a", b"10")
    db.add(b"h_a", FakeHash({b"f": b"3", b"f->g": b"nested"}))
    db.add(b"pre_a_post", b"mid")
    assert sort.lookup_by_pattern(db, b"#", b"a") == b"a"
    assert sort.lookup_by_pattern(db, b"#\x00ignored", b"a") == b"a"  # C string: "#"
    assert sort.lookup_by_pattern(db, b"w_*", b"a") == b"10"
    assert sort.lookup_by_pattern(db, b"w_*", b"zz") is None
    assert sort.lookup_by_pattern(db, b"nostar", b"a") is None
    assert sort.lookup_by_pattern(db, b"pre_*_post", b"a") == b"mid"
    assert sort.lookup_by_pattern(db, b"h_*->f", b"a") == b"3"
    assert sort.lookup_by_pattern(db, b"h_*->f->g", b"a") == b"nested"  # the first -> splits
    assert sort.lookup_by_pattern(db, b"h_*->missing", b"a") is None
    assert sort.lookup_by_pattern(db, b"h_*", b"a") is None  # a hash is not a string
    assert sort.lookup_by_pattern(db, b"w_*->f", b"a") is None  # a string is not a hash
    assert sort.lookup_by_pattern(db, b"h_*->", b"a") is None  # nothing after -> : a key "h_a->"
    assert sort.lookup_by_pattern(db, b"h\x00_*", b"a") is None  # the * is past the C string


def test_limit_is_clamped_like_redis():
    def limit(start: int, count: int, size: int) -> tuple[int, int]:
        request = sort._SortRequest()
        request.limit_start, request.limit_count = start, count
        return sort._limit_range(request, size)

    assert limit(0, -1, 5) == (0, 4)
    assert limit(1, 2, 5) == (1, 2)
    assert limit(-3, 2, 5) == (0, 1)
    assert limit(3, 100, 5) == (3, 4)
    assert limit(5, 1, 5) == (4, 3)  # past the end: empty
    assert limit(0, 0, 5) == (0, -1)  # count 0: empty
    assert limit(0, -1, 0) == (-1, -2)


@pytest.fixture
def run() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)

    def execute(*words: str) -> Any:
        return process_command(client, [w.encode() for w in words])

    execute.node = node  # type: ignore[attr-defined]
    return execute


def test_store_replaces_destination_and_counts_dirty(run):
    run("RPUSH", "l", "3", "1", "2")
    run("SET", "dst", "old", "EX", "100")
    dirty = run.node.dirty
    assert run("SORT", "l", "STORE", "dst") == 3
    assert run.node.dirty - dirty == 3
    assert run("LRANGE", "dst", "0", "-1") == [b"1", b"2", b"3"]
    assert run("TTL", "dst") == -1
    assert run("SORT", "nokey", "STORE", "dst") == 0
    assert run("EXISTS", "dst") == 0


def test_patterns_are_refused_in_cluster_mode(run):
    run.node.config.cluster_enabled = True
    assert run("SORT", "k", "BY", "w_*") == ErrorReply(errors.SORT_BY_IN_CLUSTER)
    assert run("SORT", "k", "GET", "#") == ErrorReply(errors.SORT_GET_IN_CLUSTER)
    assert run("SORT", "k", "BY", "constant") == []  # no '*': no key is read


def test_the_acl_hook_can_refuse_patterns(run, monkeypatch):
    monkeypatch.setattr(sort, "pattern_access_allowed", lambda c, args: False)
    assert run("SORT", "k", "BY", "w_*") == ErrorReply(errors.SORT_BY_ACL_DENIED)
    assert run("SORT_RO", "k", "GET", "#") == ErrorReply(errors.SORT_GET_ACL_DENIED)


def test_sorting_a_listpack_zset_converts_it(run):
    run("ZADD", "z", "2", "b", "1", "a")
    assert run("OBJECT", "ENCODING", "z") == b"listpack"
    assert run("SORT", "z", "BY", "nosort") == [b"a", b"b"]
    assert run("OBJECT", "ENCODING", "z") == b"skiplist"
