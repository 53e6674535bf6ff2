"""Generic key commands and SORT, differential: the same scripts to our node and to a
real redis-server 7.0, replies compared in RESP2 and RESP3.

Most replies are compared byte for byte. The few that legitimately differ between two
correct servers are compared by property instead (:class:`Check`): KEYS and
unsorted-set orders as sorted lists, millisecond TTLs as ranges, SCAN by what a whole
iteration returns. Expected values are always whatever the real server answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import Map
from pyredis_cluster.protocol.reply_parser import NEED_DATA, ReplyParser
from tests.differential import assert_same
from tests.support import RawClient

FUTURE_S = 4102444800  # 2100-01-01
FUTURE_MS = FUTURE_S * 1000
LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


@dataclass
class Check:
    """A command whose reply is compared after ``normalize`` (applied to the parsed value)."""

    command: Sequence[Any]
    normalize: Callable[[Any], Any]


def parse(raw: bytes) -> Any:
    parser = ReplyParser()
    parser.feed(raw)
    result = parser.next_reply()
    assert result is not NEED_DATA
    return result[0]  # type: ignore[index]


def sorted_reply(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def in_range(low: int, high: int) -> Callable[[Any], Any]:
    return lambda value: low <= value <= high if isinstance(value, int) else value


def canonical(value: Any) -> Any:
    """A comparable form of a parsed reply that keeps the RESP3 types apart."""
    if isinstance(value, Map):
        return ("map", [(canonical(k), canonical(v)) for k, v in value.items])
    if isinstance(value, list):
        return (type(value).__name__, [canonical(item) for item in value])
    return (type(value).__name__, value)


def run_checked(port: int, script: Sequence[Any], resp: int) -> list[Any]:
    out = []
    with RawClient(port) as conn:
        conn.raw("HELLO", resp)
        conn.raw("FLUSHALL")
        for entry in script:
            if isinstance(entry, Check):
                out.append(canonical(entry.normalize(parse(conn.raw(*entry.command)))))
            else:
                out.append(conn.raw(*entry))
    return out


def assert_same_checked(ours: int, real: int, script: Sequence[Any], resps: Sequence[int] = (2, 3)) -> None:
    problems = []
    for resp in resps:
        mine, theirs = run_checked(ours, script, resp), run_checked(real, script, resp)
        for entry, a, b in zip(script, mine, theirs):
            if a != b:
                command = entry.command if isinstance(entry, Check) else entry
                problems.append(f"RESP{resp} {' '.join(map(str, command))!r}: ours={a!r} redis={b!r}")
    assert not problems, "replies differ from redis-server:\n" + "\n".join(problems)


# -- DEL, UNLINK, EXISTS, TOUCH, TYPE ------------------------------------------------------------


def test_del_unlink_exists_touch_type(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["DEL", "nokey"], ["SET", "a", "1"], ["SET", "b", "2"], ["SET", "c", ""],
        ["EXISTS", "a"], ["EXISTS", "a", "a", "a"], ["EXISTS", "a", "b", "c", "d"], ["EXISTS", "nokey"],
        ["TOUCH", "a", "b", "zz"], ["TOUCH", "zz"], ["TOUCH", "a", "a"],
        ["TYPE", "a"], ["TYPE", "c"], ["TYPE", "nokey"], ["SADD", "s", "x"], ["TYPE", "s"],
        ["DEL", "a", "a", "b"], ["EXISTS", "a", "b"], ["DEL", "c", "s", "nokey"], ["DBSIZE"],
        ["SET", "u1", "x"], ["SET", "u2", "y"], ["UNLINK", "u1", "u2", "u3"], ["UNLINK", "u1"],
        ["SET", "", "empty key"], ["EXISTS", ""], ["TYPE", ""], ["DEL", ""], ["EXISTS", ""],
        ["SET", "bin\x00\xff\r\n", "v"], ["EXISTS", "bin\x00\xff\r\n"], ["DEL", "bin\x00\xff\r\n"],
        # expired keys are gone for every one of them
        ["SET", "gone", "v", "PXAT", "1"], ["EXISTS", "gone"], ["TYPE", "gone"], ["TOUCH", "gone"],
        ["SET", "gone", "v", "PXAT", "1"], ["DEL", "gone"], ["SET", "gone", "v", "PXAT", "1"], ["UNLINK", "gone"],
        # arity
        ["DEL"], ["UNLINK"], ["EXISTS"], ["TOUCH"], ["TYPE"], ["TYPE", "a", "b"],
    ])  # fmt: skip


# -- EXPIRE family, TTL family, PERSIST ------------------------------------------------------------


def test_expire_family_replies_and_errors(our_port, real_redis_port):
    script: list[list[Any]] = [["SET", "k", "v"]]
    for cmd in ("EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"):
        script += [
            [cmd, "nokey", "100"], [cmd, "nokey", "100", "NX"], [cmd, "nokey", "100", "XX"],
            [cmd, "nokey", "100", "GT"], [cmd, "nokey", "100", "LT"],
            [cmd, "k", "abc"], [cmd, "k", ""], [cmd, "k", "1.5"], [cmd, "k", " 10"], [cmd, "k", "+10"],
            [cmd, "k", "010"], [cmd, "k", str(LLONG_MAX)], [cmd, "k", str(LLONG_MIN)],
            [cmd, "k", "99999999999999999999"], [cmd, "k", str(LLONG_MAX // 1000)],
            [cmd, "k", str(LLONG_MAX // 1000 + 1)], [cmd, "k", str(-(LLONG_MAX // 1000))],
            [cmd, "k", str(-(LLONG_MAX // 1000) - 1)], [cmd, "k", "9223370399119966"],
            [cmd, "k", "18446744073709561"], [cmd, "k", "9223372036854770000"],
            [cmd, "k", "100", "NX", "XX"], [cmd, "k", "100", "XX", "NX"], [cmd, "k", "100", "NX", "GT"],
            [cmd, "k", "100", "LT", "NX"], [cmd, "k", "100", "GT", "LT"], [cmd, "k", "100", "lt", "gt"],
            [cmd, "k", "100", "AB"], [cmd, "k", "100", "XX", "ab"], [cmd, "k", "100", "nx", "nx"],
            [cmd, "k", "abc", "AB"], [cmd, "k", "abc", "NX", "XX"], [cmd, "nokey", "abc"],
            [cmd, "k", "100", ""], [cmd, "k", "100", "NX", "FOO", "XX"],
            [cmd], [cmd, "k"], ["TTL", "k"], ["PTTL", "k"],
        ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_expire_options_against_existing_ttls(our_port, real_redis_port):
    """NX/XX/GT/LT decisions; absolute times so that every reply is exact."""
    far, farther = str(FUTURE_S), str(FUTURE_S + 1000)
    assert_same(our_port, real_redis_port, [
        ["SET", "k", "v"], ["EXPIREAT", "k", far, "XX"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", far, "GT"],
        ["EXPIRETIME", "k"], ["EXPIREAT", "k", farther, "LT"], ["EXPIRETIME", "k"],
        ["EXPIREAT", "k", far, "NX"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", farther, "NX"], ["EXPIRETIME", "k"],
        ["EXPIREAT", "k", farther, "GT"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", far, "GT"], ["EXPIRETIME", "k"],
        ["EXPIREAT", "k", farther, "GT"], ["EXPIREAT", "k", farther, "LT"], ["EXPIREAT", "k", far, "LT"],
        ["EXPIRETIME", "k"], ["EXPIREAT", "k", farther, "XX"], ["EXPIRETIME", "k"],
        ["EXPIREAT", "k", far, "XX", "LT"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", farther, "XX", "LT"],
        ["PEXPIREAT", "k", str(FUTURE_MS + 1), "GT"], ["PEXPIRETIME", "k"], ["EXPIRETIME", "k"],
        ["PEXPIREAT", "k", str(FUTURE_MS + 1499)], ["EXPIRETIME", "k"], ["PEXPIREAT", "k", str(FUTURE_MS + 1500)],
        ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
        ["PERSIST", "k"], ["PERSIST", "k"], ["TTL", "k"], ["PTTL", "k"], ["EXPIRETIME", "k"], ["PEXPIRETIME", "k"],
        ["EXPIREAT", "k", far, "GT"], ["EXPIRETIME", "k"], ["EXPIREAT", "k", far, "LT"], ["EXPIRETIME", "k"],
        ["PERSIST", "nokey"], ["TTL", "nokey"], ["PTTL", "nokey"], ["EXPIRETIME", "nokey"], ["PEXPIRETIME", "nokey"],
        # relative TTLs far from a rounding boundary are exact in seconds
        ["EXPIRE", "k", "100"], ["TTL", "k"], ["PEXPIRE", "k", "100000"], ["TTL", "k"],
        ["EXPIRE", "k", "99", "GT"], ["EXPIRE", "k", "200", "GT"], ["TTL", "k"], ["EXPIRE", "k", "50", "LT"],
        ["TTL", "k"], ["EXPIRE", "k", "60", "LT"], ["TTL", "k"],
        # a time in the past deletes the key (and says 1), whatever the command
        ["EXPIRE", "k", "-1"], ["EXISTS", "k"], ["SET", "k", "v"], ["EXPIRE", "k", "0"], ["EXISTS", "k"],
        ["SET", "k", "v"], ["PEXPIRE", "k", "-100"], ["EXISTS", "k"], ["SET", "k", "v"], ["EXPIREAT", "k", "1"],
        ["EXISTS", "k"], ["SET", "k", "v"], ["PEXPIREAT", "k", str(LLONG_MIN)], ["EXISTS", "k"],
        ["SET", "k", "v"], ["EXPIRE", "k", "-10", "LT"], ["EXISTS", "k"], ["SET", "k", "v", "EX", "100"],
        ["EXPIRE", "k", "-10", "GT"], ["EXISTS", "k"], ["EXPIRE", "k", "-10", "XX"], ["EXISTS", "k"],
        ["SET", "k", "v"], ["EXPIRE", "k", "-10", "NX"], ["EXISTS", "k"],
        # a key overwritten by SET loses its TTL; KEEPTTL keeps it; other writes keep it
        ["SET", "k", "v", "EXAT", far], ["SET", "k", "w"], ["TTL", "k"], ["SET", "k", "v", "EXAT", far],
        ["SET", "k", "w", "KEEPTTL"], ["EXPIRETIME", "k"], ["APPEND", "k", "x"], ["EXPIRETIME", "k"],
        ["SADD", "s", "a"], ["EXPIREAT", "s", far], ["SADD", "s", "b"], ["EXPIRETIME", "s"], ["TYPE", "s"],
        # arity
        ["TTL"], ["PTTL", "a", "b"], ["EXPIRETIME"], ["PEXPIRETIME", "a", "b"], ["PERSIST"], ["PERSIST", "a", "b"],
    ])  # fmt: skip


def test_relative_ttls_in_milliseconds(our_port, real_redis_port):
    assert_same_checked(our_port, real_redis_port, [
        ["SET", "k", "v"], ["PEXPIRE", "k", "100000"],
        Check(["PTTL", "k"], in_range(95000, 100000)), Check(["TTL", "k"], in_range(99, 100)),
        ["SET", "k", "v", "PX", "1500"], Check(["PTTL", "k"], in_range(1000, 1500)),
        Check(["TTL", "k"], in_range(1, 2)),
        Check(["PEXPIRETIME", "k"], lambda v: isinstance(v, int) and v > 1_600_000_000_000),
    ])  # fmt: skip


# -- RENAME, RENAMENX, COPY, MOVE -------------------------------------------------------------------


def test_rename_and_renamenx(our_port, real_redis_port):
    far = str(FUTURE_S)
    assert_same(our_port, real_redis_port, [
        ["RENAME", "nokey", "x"], ["RENAMENX", "nokey", "x"], ["RENAME", "nokey", "nokey"], ["RENAMENX", "nokey", "nokey"],
        ["SET", "a", "1"], ["RENAME", "a", "a"], ["RENAMENX", "a", "a"], ["GET", "a"],
        ["RENAME", "a", "b"], ["EXISTS", "a"], ["GET", "b"], ["RENAMENX", "b", "a"], ["GET", "a"], ["EXISTS", "b"],
        ["SET", "b", "2"], ["RENAMENX", "a", "b"], ["GET", "a"], ["GET", "b"], ["RENAME", "a", "b"], ["GET", "b"],
        ["EXISTS", "a"],
        # the TTL travels with the value; the destination's own TTL is dropped
        ["SET", "t", "v", "EXAT", far], ["RENAME", "t", "t2"], ["EXPIRETIME", "t2"], ["EXPIRETIME", "t"],
        ["SET", "plain", "p"], ["SET", "withttl", "w", "EXAT", far], ["RENAME", "plain", "withttl"],
        ["TTL", "withttl"], ["GET", "withttl"],
        # any type
        ["SADD", "s", "x", "y"], ["RENAME", "s", "s2"], ["TYPE", "s2"], ["SCARD", "s2"], ["RENAMENX", "s2", "b"],
        ["RENAME", "s2", "b"], ["TYPE", "b"],
        # expired source
        ["SET", "gone", "v", "PXAT", "1"], ["RENAME", "gone", "x"], ["RENAMENX", "gone", "x"],
        ["SET", "src", "v"], ["SET", "gonedest", "v", "PXAT", "1"], ["RENAMENX", "src", "gonedest"], ["GET", "gonedest"],
        ["RENAME"], ["RENAME", "a"], ["RENAME", "a", "b", "c"], ["RENAMENX", "a"],
    ])  # fmt: skip


def test_copy(our_port, real_redis_port):
    far = str(FUTURE_S)
    assert_same(our_port, real_redis_port, [
        ["COPY", "nokey", "x"], ["SET", "a", "hello", "EXAT", far], ["COPY", "a", "a"], ["COPY", "a", "b"],
        ["GET", "b"], ["EXPIRETIME", "b"], ["COPY", "a", "b"], ["SET", "a", "changed"], ["COPY", "a", "b", "REPLACE"],
        ["GET", "b"], ["TTL", "b"], ["COPY", "a", "b", "replace", "replace"],
        ["COPY", "a", "c", "DB", "1"], ["COPY", "a", "c", "DB", "0"], ["COPY", "a", "a", "DB", "0"],
        ["COPY", "a", "a", "DB", "1"], ["COPY", "a", "a", "DB", "1"], ["COPY", "a", "a", "DB", "1", "REPLACE"],
        ["SELECT", "1"], ["GET", "a"], ["GET", "c"], ["SELECT", "0"],
        ["COPY", "a", "x", "DB"], ["COPY", "a", "x", "DB", "notanumber"], ["COPY", "a", "x", "DB", "16"],
        ["COPY", "a", "x", "DB", "-1"], ["COPY", "a", "x", "DB", "4294967296"], ["COPY", "a", "x", "FOO"],
        ["COPY", "a", "x", "DB", "1", "FOO"], ["COPY", "a", "x", "REPLACE", "DB"], ["COPY", "nokey", "x", "FOO"],
        ["COPY", "nokey", "nokey"], ["COPY", "nokey", "x", "DB", "99"],
        # deep copies: changing the copy leaves the original alone
        ["SADD", "s", "1", "2", "3"], ["COPY", "s", "s2"], ["SADD", "s2", "4"], ["SREM", "s2", "1"],
        ["SCARD", "s"], ["SISMEMBER", "s", "1"], ["SISMEMBER", "s", "4"], ["OBJECT", "ENCODING", "s2"],
        ["SADD", "hs", "a", "b"], ["COPY", "hs", "hs2"], ["SADD", "hs", "c"], ["SCARD", "hs2"],
        ["OBJECT", "ENCODING", "hs2"],
        ["RPUSH", "l", "a", "b"], ["COPY", "l", "l2"], ["RPUSH", "l2", "c"], ["LPOP", "l"], ["LRANGE", "l", "0", "-1"],
        ["LRANGE", "l2", "0", "-1"], ["OBJECT", "ENCODING", "l2"],
        ["ZADD", "z", "1", "a", "2", "b"], ["COPY", "z", "z2"], ["ZADD", "z2", "3", "c"], ["ZINCRBY", "z", "5", "a"],
        ["ZRANGE", "z", "0", "-1", "WITHSCORES"], ["ZRANGE", "z2", "0", "-1", "WITHSCORES"], ["OBJECT", "ENCODING", "z2"],
        ["HSET", "h", "f", "1", "g", "2"], ["COPY", "h", "h2"], ["HSET", "h2", "f", "changed"], ["HDEL", "h", "g"],
        ["HGETALL", "h"], ["HGETALL", "h2"], ["OBJECT", "ENCODING", "h2"], ["TYPE", "h2"], ["TYPE", "z2"], ["TYPE", "l2"],
        ["SET", "gone", "v", "PXAT", "1"], ["COPY", "gone", "x"], ["SET", "d", "v", "PXAT", "1"], ["COPY", "a", "d"],
        ["GET", "d"],
        ["COPY"], ["COPY", "a"],
    ])  # fmt: skip


def test_move(our_port, real_redis_port):
    far = str(FUTURE_S)
    assert_same(our_port, real_redis_port, [
        ["MOVE", "nokey", "1"], ["SET", "a", "1", "EXAT", far], ["MOVE", "a", "0"], ["MOVE", "a", "16"],
        ["MOVE", "a", "-1"], ["MOVE", "a", "x"], ["MOVE", "a", "1.0"], ["MOVE", "a", "2147483648"],
        ["MOVE", "nokey", "0"], ["MOVE", "nokey", "99"],
        ["MOVE", "a", "1"], ["EXISTS", "a"], ["SELECT", "1"], ["GET", "a"], ["EXPIRETIME", "a"],
        ["SET", "b", "in1"], ["SELECT", "0"], ["SET", "b", "in0"], ["MOVE", "b", "1"], ["GET", "b"],
        ["SELECT", "1"], ["GET", "b"], ["MOVE", "a", "0"], ["SELECT", "0"], ["EXPIRETIME", "a"],
        ["SET", "gone", "v", "PXAT", "1"], ["MOVE", "gone", "1"],
        ["MOVE"], ["MOVE", "a"], ["MOVE", "a", "1", "2"],
    ])  # fmt: skip


# -- KEYS, SCAN, RANDOMKEY -----------------------------------------------------------------------

_KEY_NAMES = ["foo", "foobar", "fo", "f", "bar", "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo",
              "a?b", "a[b", "a\\b", "x-y", "key:1", "key:10", "key:2", "KEY:3", "", "^", "]", "-", "\xff\x80"]  # fmt: skip
_PATTERNS = ["*", "**", "f*", "*o", "*oo*", "h?llo", "h*llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo",
             "h[b-a]llo", "h\\*llo", "a\\?b", "a[[]b", "a[\\[]b", "a\\\\b", "key:[0-9]", "key:[0-9]*",
             "KEY:*", "key:*", "[", "[^", "[]]", "[a-]", "x[-]y", "?", "", "\\", "*\\", "h[a-", "[\\]]",
             "*[\x80-\xff]*", "[\x80-a]*", "*[!-.]*"]  # fmt: skip


def test_keys_patterns(our_port, real_redis_port):
    script: list[Any] = [["SET", name, "v"] for name in _KEY_NAMES]
    script += [Check(["KEYS", pattern], sorted_reply) for pattern in _PATTERNS]
    script += [
        ["SET", "gone", "v", "PXAT", "1"],
        Check(["KEYS", "*"], sorted_reply),
        Check(["KEYS", "g*"], sorted_reply),
    ]
    script += [["KEYS"], ["KEYS", "a", "b"], ["FLUSHALL"], ["KEYS", "*"]]
    assert_same_checked(our_port, real_redis_port, script)


_GLOB_ALPHABET = ["a", "b", "*", "?", "[", "]", "^", "-", "\\", "\x00", "\xfe", "A"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    patterns=st.lists(
        st.lists(st.sampled_from(_GLOB_ALPHABET), max_size=7).map("".join), min_size=5, max_size=10
    ),
    names=st.sets(
        st.lists(st.sampled_from(["a", "b", "-", "]", "^", "\\", "\xfe", "A", "\x00"]), max_size=5).map(
            "".join
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_keys_glob_matches_redis_on_random_patterns(our_port, real_redis_port, patterns, names):
    """Our stringmatchlen against Redis's, through KEYS, on random hostile patterns."""
    script: list[Any] = [["SET", name.encode("latin-1"), "v"] for name in names]
    script += [Check(["KEYS", p.encode("latin-1")], sorted_reply) for p in patterns]
    assert_same_checked(our_port, real_redis_port, script, resps=(2,))


def full_scan(conn: RawClient, *options: Any) -> tuple[list[bytes], int]:
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, page = conn.call("SCAN", cursor, *options)
        seen += page
        calls += 1
        if cursor == b"0":
            return seen, calls


def test_scan_errors_and_small_replies(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["SCAN", "0"], ["SCAN", "x"], ["SCAN", "-1"], ["SCAN", "+0"], ["SCAN", ""], ["SCAN", " 0"], ["SCAN", "0 "],
        ["SCAN", "18446744073709551615"], ["SCAN", "18446744073709551616"], ["SCAN", "-18446744073709551615"],
        ["SCAN", "-18446744073709551616"], ["SCAN", "1.5"], ["SCAN", "+"], ["SCAN", "-"], ["SCAN", "0x10"],
        ["SCAN", "0\x00junk"], ["SCAN", "00"],
        ["SCAN", "0", "COUNT"], ["SCAN", "0", "COUNT", "0"], ["SCAN", "0", "COUNT", "-1"], ["SCAN", "0", "COUNT", "x"],
        ["SCAN", "0", "COUNT", "1.5"], ["SCAN", "0", "MATCH"], ["SCAN", "0", "TYPE"], ["SCAN", "0", "FOO", "bar"],
        ["SCAN", "0", "COUNT", "10", "MATCH"], ["SCAN", "x", "COUNT", "0"], ["SCAN", "0", "COUNT", "0", "FOO"],
        ["SCAN", "0", "count", "5", "match", "*", "type", "string"], ["SCAN"],
        ["SET", "only", "v"], ["SCAN", "0"], ["SCAN", "0", "MATCH", "o*"], ["SCAN", "0", "MATCH", "x*"],
        ["SCAN", "0", "TYPE", "string"], ["SCAN", "0", "TYPE", "STRING"], ["SCAN", "0", "TYPE", "list"],
        ["SCAN", "0", "TYPE", "nosuchtype"], ["SCAN", "0", "COUNT", "1000000"],
        ["SET", "only", "v", "PXAT", "1"], ["SCAN", "0"], ["SCAN", "0", "TYPE", "none"], ["DBSIZE"],
    ])  # fmt: skip


def test_scan_iterations_return_the_same_keys(our_port, real_redis_port):
    for port in (our_port, real_redis_port):
        with RawClient(port) as conn:
            conn.call("FLUSHALL")
    results = {}
    for port in (our_port, real_redis_port):
        with RawClient(port) as conn:
            for i in range(300):
                conn.call("SET", f"key:{i}", "v")
            for i in range(40):
                conn.call("SADD", f"set:{i}", "m")
            conn.call("SET", "gone", "v", "PXAT", "1")
            got = []
            for options in (
                (),
                ("COUNT", "7"),
                ("MATCH", "key:1*"),
                ("TYPE", "set"),
                ("TYPE", "string", "MATCH", "*:2?"),
            ):
                seen, _ = full_scan(conn, *options)
                got.append(sorted(set(seen)))
                assert len(seen) == len(set(seen)) or port == real_redis_port
            results[port] = got
            conn.call("FLUSHALL")
    assert results[our_port] == results[real_redis_port]


def test_randomkey(our_port, real_redis_port):
    assert_same_checked(our_port, real_redis_port, [
        ["RANDOMKEY"], ["SET", "only", "v"], ["RANDOMKEY"], ["DEL", "only"], ["RANDOMKEY"],
        ["SET", "gone", "v", "PXAT", "1"], ["SET", "gone2", "v", "PXAT", "1"], ["SET", "live", "v"], ["RANDOMKEY"],
        # how many expired keys RANDOMKEY met (and deleted) on its way is random
        Check(["DBSIZE"], in_range(1, 3)), ["RANDOMKEY", "x"],
    ])  # fmt: skip


# -- OBJECT ------------------------------------------------------------------------------------------


def test_object_subcommands(our_port, real_redis_port):
    assert_same_checked(our_port, real_redis_port, [
        ["OBJECT", "ENCODING", "nokey"], ["OBJECT", "REFCOUNT", "nokey"], ["OBJECT", "IDLETIME", "nokey"],
        ["OBJECT", "FREQ", "nokey"],
        ["SET", "int", "123"], ["SET", "bigint", "12345"], ["SET", "neg", "-1"], ["SET", "str", "hello"],
        ["SET", "long", "x" * 45], ["SET", "edge", "x" * 44], ["SET", "numstr", "00123"],
        ["SET", "maxint", str(LLONG_MAX)], ["SET", "toobig", str(LLONG_MAX + 1)],
        ["OBJECT", "ENCODING", "int"], ["OBJECT", "ENCODING", "bigint"], ["OBJECT", "ENCODING", "neg"],
        ["OBJECT", "ENCODING", "str"], ["OBJECT", "ENCODING", "long"], ["OBJECT", "ENCODING", "edge"],
        ["OBJECT", "ENCODING", "numstr"], ["OBJECT", "ENCODING", "maxint"], ["OBJECT", "ENCODING", "toobig"],
        ["OBJECT", "REFCOUNT", "int"], ["OBJECT", "REFCOUNT", "bigint"], ["OBJECT", "REFCOUNT", "neg"],
        ["OBJECT", "REFCOUNT", "str"], ["SET", "zero", "0"], ["OBJECT", "REFCOUNT", "zero"],
        ["SET", "top", "9999"], ["OBJECT", "REFCOUNT", "top"], ["SET", "over", "10000"], ["OBJECT", "REFCOUNT", "over"],
        ["SADD", "intset", "1", "2"], ["SADD", "hset", "a"], ["OBJECT", "ENCODING", "intset"],
        ["OBJECT", "ENCODING", "hset"], ["OBJECT", "REFCOUNT", "hset"],
        Check(["OBJECT", "IDLETIME", "str"], in_range(0, 1)),
        ["OBJECT", "FREQ", "str"],
        ["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], ["OBJECT", "IDLETIME", "str"],
        ["SET", "fresh", "v"], ["OBJECT", "FREQ", "fresh"], ["OBJECT", "FREQ", "nokey"],
        ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
        ["OBJECT"], ["OBJECT", "ENCODING"], ["OBJECT", "ENCODING", "a", "b"], ["OBJECT", "FOO"], ["OBJECT", "FOO", "k"],
        ["OBJECT", "REFCOUNT"], ["OBJECT", "HELP", "x"],
        Check(["OBJECT", "HELP"], lambda lines: (lines[0], lines[-2])),
        Check(["OBJECT", "help"], lambda lines: lines[0]),
    ])  # fmt: skip


# -- SORT ---------------------------------------------------------------------------------------------


def test_sort_sets_and_weights(our_port, real_redis_port):
    assert_same_checked(our_port, real_redis_port, [
        ["SADD", "s", "3", "1", "2", "10", "-5", "2.5"], ["SORT", "s"], ["SORT", "s", "DESC"], ["SORT", "s", "ASC"],
        ["SORT", "s", "DESC", "ASC"], ["SORT", "s", "ALPHA"], ["SORT", "s", "ALPHA", "DESC"],
        ["SORT", "s", "LIMIT", "1", "2"], ["SORT", "s", "LIMIT", "0", "0"], ["SORT", "s", "LIMIT", "-5", "2"],
        ["SORT", "s", "LIMIT", "2", "-1"], ["SORT", "s", "LIMIT", "10", "5"], ["SORT", "s", "LIMIT", "5", "100"],
        ["SORT", "s", "LIMIT", "6", "1"], ["SORT", "s", "LIMIT", str(LLONG_MAX), str(LLONG_MAX)],
        ["SORT", "s", "LIMIT", str(LLONG_MIN), "3"], ["SORT", "s", "LIMIT", "1", "2", "LIMIT", "0", "1"],
        ["MSET", "w_3", "30", "w_1", "10", "w_2", "20", "w_10", "-1", "w_-5", "1e3", "w_2.5", "0"],
        ["SORT", "s", "BY", "w_*"], ["SORT", "s", "BY", "w_*", "DESC"], ["SORT", "s", "BY", "w_*", "LIMIT", "1", "3"],
        ["SORT", "s", "BY", "w_*", "ALPHA"], ["SORT", "s", "BY", "missing_*"],
        ["SORT", "s", "BY", "w_*", "GET", "#"], ["SORT", "s", "BY", "w_*", "GET", "w_*", "GET", "#"],
        ["SORT", "s", "GET", "w_*", "GET", "missing_*", "GET", "nostar"], ["SORT", "s", "GET", "#", "GET", "#"],
        ["MSET", "t_1", "x", "t_2", "y"], ["SORT", "s", "BY", "t_*"],
        # numeric weights read by strtod
        ["SADD", "ok5", "0x1p-1070", "1"], ["SORT", "ok5"],
        ["SADD", "n", "1e3", " 5", "0x10", "-inf", "+inf", ".5", "5.", "-0", "0"], ["SORT", "n"], ["SORT", "n", "DESC"],
        ["SADD", "bad", "1", "abc"], ["SORT", "bad"], ["SORT", "bad", "ALPHA"], Check(["SORT", "bad", "BY", "nosort"], sorted_reply),
        ["SADD", "bad2", "5 "], ["SORT", "bad2"], ["SADD", "bad3", "nan"], ["SORT", "bad3"], ["SADD", "bad4", "1e400"],
        ["SORT", "bad4"], ["SADD", "bad5", "1e-400"], ["SORT", "bad5"],
        ["SADD", "bad6", "1e-310"], ["SORT", "bad6"], ["SADD", "bad7", "1_0"], ["SORT", "bad7"],
        ["SET", "w_bad", "xyz"], ["SADD", "bw", "bad", "1"], ["SORT", "bw", "BY", "w_*"], ["SORT", "bw", "BY", "w_*", "ALPHA"],
        # ties are broken by the element itself
        ["SADD", "tie", "b", "a", "c"], ["MSET", "z_a", "1", "z_b", "1", "z_c", "0"], ["SORT", "tie", "BY", "z_*"],
        ["SORT", "tie", "BY", "z_*", "DESC"],
        # intsets keep numeric order when left unsorted
        ["SADD", "iset", "5", "3", "9", "1"], ["SORT", "iset", "BY", "nosort"], ["SORT", "iset", "BY", "nosort", "DESC"],
        ["SORT", "iset", "BY", "nosort", "LIMIT", "1", "2"], ["SORT", "iset", "BY", "nosort", "GET", "#"],
        ["SORT", "iset", "BY", "nosort", "BY", "w_*"],
    ])  # fmt: skip


def test_sort_store_and_errors(our_port, real_redis_port):
    far = str(FUTURE_S)
    assert_same_checked(our_port, real_redis_port, [
        ["SADD", "s", "b", "a", "c"], ["SORT", "s", "ALPHA", "STORE", "dst"], ["TYPE", "dst"],
        ["SET", "dst", "x", "EXAT", far], ["SORT", "s", "ALPHA", "STORE", "dst"], ["TTL", "dst"],
        ["SORT", "s", "BY", "nosort", "STORE", "dst2"], ["SORT", "s", "BY", "nosort", "DESC", "STORE", "dst3"],
        ["SORT", "s", "ALPHA", "GET", "missing_*", "GET", "#", "STORE", "dst4"], ["TYPE", "dst4"],
        ["SORT", "s", "ALPHA", "LIMIT", "0", "0", "STORE", "dst"], ["EXISTS", "dst"],
        ["SORT", "nokey", "STORE", "dst2"], ["EXISTS", "dst2"], ["SORT", "nokey", "STORE", "nothere"],
        ["SORT", "s", "ALPHA", "STORE", "a", "STORE", "b"], ["EXISTS", "a"], ["TYPE", "b"],
        ["SORT", "nokey"], ["SORT", "nokey", "DESC", "LIMIT", "0", "10", "ALPHA", "GET", "#", "BY", "x_*"],
        ["SET", "str", "x"], ["SORT", "str"], ["SORT_RO", "str"], ["SORT", "str", "FOO"], ["SORT", "str", "LIMIT", "x", "1"],
        ["SORT", "s", "LIMIT", "1"], ["SORT", "s", "LIMIT", "1", "x"], ["SORT", "s", "LIMIT", "x", "y"],
        ["SORT", "s", "LIMIT", "1.5", "2"], ["SORT", "s", "BY"], ["SORT", "s", "GET"], ["SORT", "s", "STORE"],
        ["SORT", "s", "FOO"], ["SORT", "s", "ALPHA", "FOO"], ["SORT", "s", "BY", "x", "FOO"],
        ["SORT_RO", "s", "STORE", "x"], ["SORT_RO", "s", "ALPHA"], ["SORT_RO", "s", "ALPHA", "DESC", "LIMIT", "0", "2"],
        Check(["SORT_RO", "s", "BY", "nosort", "GET", "#"], sorted_reply), ["SORT_RO", "nokey"], ["SORT"], ["SORT_RO"],
        ["SADD", "bad", "x"], ["SORT", "bad", "STORE", "dst5"], ["EXISTS", "dst5"],
    ])  # fmt: skip


def test_sort_lists_zsets_and_hash_patterns(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["RPUSH", "l", "3", "1", "2", "1", "10"], ["SORT", "l"], ["SORT", "l", "DESC"], ["SORT", "l", "ALPHA"],
        ["SORT", "l", "BY", "nosort"], ["SORT", "l", "BY", "nosort", "DESC"], ["SORT", "l", "BY", "nosort", "LIMIT", "1", "2"],
        ["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"], ["SORT", "l", "BY", "nosort", "LIMIT", "3", "100"],
        ["SORT", "l", "BY", "nosort", "LIMIT", "9", "1"], ["SORT", "l", "BY", "nosort", "LIMIT", "0", "0"],
        ["SORT", "l", "BY", "nosort", "STORE", "ld"], ["LRANGE", "ld", "0", "-1"],
        # equal weights: numeric ties go by the element, ALPHA ties keep the list order
        ["SORT", "l", "BY", "missing_*"], ["SORT", "l", "BY", "missing_*", "DESC"], ["SORT", "l", "BY", "missing_*", "ALPHA"],
        ["SORT", "l", "BY", "missing_*", "ALPHA", "DESC"], ["MSET", "t_1", "x", "t_3", "x"], ["SORT", "l", "BY", "t_*", "ALPHA"],
        ["SORT", "l", "BY", "t_*", "ALPHA", "DESC"], ["SORT", "l", "BY", "t_*", "ALPHA", "STORE", "ld2"], ["LRANGE", "ld2", "0", "-1"],
        ["RPUSH", "nul", "a\x00b", "a\x00a", "a", "b\x00"], ["SORT", "nul", "ALPHA"], ["SORT", "nul", "ALPHA", "DESC"],
        ["SORT", "nul", "ALPHA", "STORE", "nuld"], ["LRANGE", "nuld", "0", "-1"], ["RPUSH", "nw", "3\x00x", "2"], ["SORT", "nw"],
        ["ZADD", "z", "3", "c", "1", "a", "2", "b", "2", "bb"], ["SORT", "z", "ALPHA"], ["SORT", "z", "BY", "nosort"],
        ["SORT", "z", "BY", "nosort", "DESC"], ["SORT", "z", "BY", "nosort", "LIMIT", "1", "2"],
        ["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"], ["SORT", "z", "BY", "nosort", "LIMIT", "5", "2"],
        ["SORT", "z"], ["SORT", "z", "BY", "nosort", "GET", "#", "STORE", "zd"], ["LRANGE", "zd", "0", "-1"],
        ["HSET", "h_a", "f", "3", "name", "alpha"], ["HSET", "h_b", "f", "1", "name", "beta"],
        ["HSET", "h_c", "f", "2"], ["SET", "h_bb", "notahash"],
        ["SORT", "z", "BY", "h_*->f"], ["SORT", "z", "BY", "h_*->f", "GET", "h_*->name", "GET", "#"],
        ["SORT", "z", "BY", "h_*->f", "DESC", "GET", "h_*->name", "STORE", "hd"], ["LRANGE", "hd", "0", "-1"],
        ["SORT", "l", "BY", "h_*->nofield", "ALPHA"], ["SORT", "z", "ALPHA", "GET", "h_*->"], ["SORT", "z", "ALPHA", "GET", "h_*-"],
        ["SORT", "z", "ALPHA", "GET", "h_*->f->x"], ["SORT", "z", "ALPHA", "GET", "h_->f*"],
        ["SORT", "l", "BY", "h_*->f"], ["SORT", "l", "GET", "h_*"],
        ["HSET", "hash", "a", "1"], ["SORT", "hash"], ["SORT_RO", "hash"],
    ])  # fmt: skip


# -- COMMAND metadata -----------------------------------------------------------------------------

_MY_COMMANDS = ["del", "unlink", "exists", "touch", "type", "expire", "pexpire", "expireat", "pexpireat",
                "ttl", "pttl", "expiretime", "pexpiretime", "persist", "rename", "renamenx", "move", "copy",
                "keys", "scan", "randomkey", "object", "sort", "sort_ro"]  # fmt: skip


def subcommands_sorted(info: Any) -> Any:
    """COMMAND INFO with the subcommands sorted: Redis lists them in its (randomly
    seeded) dict order, which changes from one redis-server process to the next."""
    if isinstance(info, list) and info and isinstance(info[0], list) and len(info[0]) > 9:
        entry = list(info[0])
        entry[9] = sorted(entry[9], key=lambda sub: sub[0])
        return [entry]
    return info


@pytest.mark.parametrize("name", _MY_COMMANDS)
def test_command_info(our_port, real_redis_port, name):
    assert_same_checked(our_port, real_redis_port, [Check(["COMMAND", "INFO", name], subcommands_sorted)])


def test_command_getkeys(our_port, real_redis_port):
    assert_same(our_port, real_redis_port, [
        ["COMMAND", "GETKEYS", "SORT", "k"], ["COMMAND", "GETKEYS", "SORT", "k", "STORE", "d"],
        ["COMMAND", "GETKEYS", "SORT", "k", "STORE", "d", "STORE", "e"], ["COMMAND", "GETKEYS", "SORT", "k", "GET", "store", "x"],
        ["COMMAND", "GETKEYS", "SORT", "k", "LIMIT", "0", "store", "STORE"], ["COMMAND", "GETKEYS", "SORT", "k", "STORE"],
        ["COMMAND", "GETKEYS", "SORT_RO", "k", "BY", "x"], ["COMMAND", "GETKEYS", "RENAME", "a", "b"],
        ["COMMAND", "GETKEYS", "COPY", "a", "b", "DB", "1"], ["COMMAND", "GETKEYS", "DEL", "a", "b", "c"],
        ["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"],
    ])  # fmt: skip


# -- random sequences -------------------------------------------------------------------------------

_KEYS = ["a", "b", "c", "{x}"]
_TIMES = [str(FUTURE_S), str(FUTURE_S + 7), "1", "-5"]


def _random_command() -> st.SearchStrategy[list[str]]:
    key = st.sampled_from(_KEYS)
    when = st.sampled_from(_TIMES)
    flag = st.sampled_from([[], ["NX"], ["XX"], ["GT"], ["LT"], ["XX", "GT"]])
    return st.one_of(
        st.builds(lambda k, v: ["SET", k, v], key, st.sampled_from(["1", "v"])),
        st.builds(lambda k, v: ["SET", k, v, "KEEPTTL"], key, st.sampled_from(["2", "w"])),
        st.builds(lambda k: ["SADD", k, "m"], key),
        st.builds(lambda k: ["RPUSH", k, "e"], key),
        st.builds(lambda ks: ["DEL", *ks], st.lists(key, min_size=1, max_size=3)),
        st.builds(lambda ks: ["EXISTS", *ks], st.lists(key, min_size=1, max_size=3)),
        st.builds(lambda k, t, f: ["EXPIREAT", k, t, *f], key, when, flag),
        st.builds(lambda k, t, f: ["PEXPIREAT", k, t + "000", *f], key, when, flag),
        st.builds(lambda k: ["PERSIST", k], key),
        st.builds(lambda k: ["EXPIRETIME", k], key),
        st.builds(lambda k: ["TTL", k], key),
        st.builds(lambda k: ["TYPE", k], key),
        st.builds(lambda a, b: ["RENAME", a, b], key, key),
        st.builds(lambda a, b: ["RENAMENX", a, b], key, key),
        st.builds(lambda a, b, r: ["COPY", a, b, *r], key, key, st.sampled_from([[], ["REPLACE"]])),
        st.builds(lambda k, d: ["MOVE", k, d], key, st.sampled_from(["0", "1"])),
        st.builds(lambda k: ["SORT", k, "ALPHA"], key),
        st.builds(lambda k, d: ["SORT", k, "ALPHA", "STORE", d], key, key),
        st.just(["DBSIZE"]),
    )


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(_random_command(), min_size=10, max_size=40))
def test_random_generic_command_sequences(our_port, real_redis_port, script):
    """Random interleavings of writes, TTL changes, renames, copies and moves over a few
    keys: every reply byte for byte (absolute expire times keep them deterministic)."""
    script = [*script, ["SELECT", "1"], ["DBSIZE"], ["EXPIRETIME", "a"], ["TYPE", "b"]]
    assert_same(our_port, real_redis_port, script, resps=(2,))
