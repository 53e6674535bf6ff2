"""Hash commands, differentially: the same scripts on our node and on redis-server 7.0.

A small hash is a listpack in Redis, whose order (insertion order, values replaced in
place) is deterministic: those scripts are compared byte for byte in RESP2 and RESP3,
HGETALL's RESP3 map and HSCAN's "everything at once, cursor 0" included. A big hash is
a hashtable in Redis, whose order depends on a random seed: replies listing one are
compared as sorted lists, and a whole HSCAN iteration by the fields it returned.
HRANDFIELD is random, so it is compared by shape and by properties.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Command, assert_same
from tests.support import RawClient, encode_command

BASIC_SCRIPT: list[Command] = [
    ["HSET", "h", "f1", "v1"], ["HSET", "h", "f2", "v2", "f3", "v3"], ["HSET", "h", "f1", "new", "f4", "v4"],
    ["HSET", "h", "f5", "a", "f5", "b"], ["HGETALL", "h"], ["HKEYS", "h"], ["HVALS", "h"], ["HLEN", "h"],
    ["TYPE", "h"], ["OBJECT", "ENCODING", "h"],
    ["HMSET", "h", "f6", "v6", "f2", "V2"], ["HGETALL", "h"], ["HSETNX", "h", "f1", "x"], ["HSETNX", "h", "f7", "v7"],
    ["HSETNX", "new", "f", "v"], ["HGETALL", "new"],
    ["HGET", "h", "f1"], ["HGET", "h", "nothere"], ["HGET", "nokey", "f"], ["HMGET", "h", "f1", "nothere", "f2", "f1"],
    ["HMGET", "nokey", "a", "b"], ["HEXISTS", "h", "f1"], ["HEXISTS", "h", "nothere"], ["HEXISTS", "nokey", "f"],
    ["HSTRLEN", "h", "f1"], ["HSTRLEN", "h", "nothere"], ["HSTRLEN", "nokey", "f"], ["HLEN", "nokey"],
    ["HKEYS", "nokey"], ["HVALS", "nokey"], ["HGETALL", "nokey"],
    # HDEL: order after deletes, duplicates counted once, the last field deletes the key
    ["HDEL", "h", "f2", "nothere", "f2"], ["HGETALL", "h"], ["HDEL", "h", "nothere"], ["HDEL", "nokey", "f"],
    ["HSET", "h", "f2", "back"], ["HGETALL", "h"], ["HDEL", "h", "f1", "f3", "f4", "f5", "f6", "f7", "f2"],
    ["EXISTS", "h"], ["HSET", "one", "f", "v"], ["HDEL", "one", "f", "f"], ["EXISTS", "one"],
    # numbers are kept as typed
    ["HSET", "n", "i", "10", "neg", "-5", "big", "9223372036854775807", "f", "1.5", "z", "007", "e", ""],
    ["HGETALL", "n"], ["HSTRLEN", "n", "z"], ["HSTRLEN", "n", "e"],
    # binary fields and values
    ["HSET", "b", b"\x00\xff", b"\r\n", b"", b"empty-field"], ["HGETALL", "b"], ["HGET", "b", b""],
]  # fmt: skip

COUNTERS_SCRIPT: list[Command] = [
    ["HINCRBY", "c", "n", "5"], ["HINCRBY", "c", "n", "-7"], ["HINCRBY", "c", "n", "0"], ["HGET", "c", "n"],
    ["HSET", "c", "max", "9223372036854775807", "min", "-9223372036854775808", "s", "abc", "sp", " 1", "p", "+1",
     "z", "01", "f", "1.0", "e", ""],
    ["HINCRBY", "c", "max", "1"], ["HINCRBY", "c", "max", "0"], ["HINCRBY", "c", "min", "-1"], ["HINCRBY", "c", "min", "1"],
    ["HINCRBY", "c", "s", "1"], ["HINCRBY", "c", "sp", "1"], ["HINCRBY", "c", "p", "1"], ["HINCRBY", "c", "z", "1"],
    ["HINCRBY", "c", "f", "1"], ["HINCRBY", "c", "e", "1"], ["HINCRBY", "c", "n", "x"], ["HINCRBY", "c", "n", "1.5"],
    ["HINCRBY", "c", "n", "9223372036854775808"], ["HINCRBY", "c", "n", ""], ["HINCRBY", "nokey", "n", "x"],
    ["EXISTS", "nokey"], ["HINCRBY", "c", "n", "-9223372036854775808"], ["HINCRBY", "c", "n", "-9223372036854775808"],
    # HINCRBYFLOAT: long double arithmetic, %.17Lf without trailing zeros
    ["HINCRBYFLOAT", "c", "fl", "10.5"], ["HINCRBYFLOAT", "c", "fl", "0.1"], ["HINCRBYFLOAT", "c", "fl", "-10.6"],
    ["HINCRBYFLOAT", "c", "fl", "3.0e3"], ["HINCRBYFLOAT", "c", "fl", "1.23456789012345678"],
    ["HINCRBYFLOAT", "c", "fl", "-0.00000000000000001"], ["HINCRBYFLOAT", "c", "fl", "0x10"],
    ["HINCRBYFLOAT", "hg", "fl", "1e300"], ["HINCRBYFLOAT", "hg", "fl", "-1e300"], ["HGET", "c", "fl"],
    ["HINCRBYFLOAT", "c", "t", "0.1"], ["HINCRBYFLOAT", "c", "t", "0.2"], ["HINCRBYFLOAT", "c", "t", "-0.3"],
    ["HINCRBYFLOAT", "c", "n", "1.5"], ["HINCRBYFLOAT", "c", "max", "1"], ["HINCRBYFLOAT", "c", "f", "1"],
    ["HINCRBYFLOAT", "c", "s", "1"], ["HINCRBYFLOAT", "c", "sp", "1"], ["HINCRBYFLOAT", "c", "e", "1"],
    ["HINCRBYFLOAT", "c", "fl", "x"], ["HINCRBYFLOAT", "c", "fl", "inf"], ["HINCRBYFLOAT", "c", "fl", "-inf"],
    ["HINCRBYFLOAT", "c", "fl", "nan"], ["HINCRBYFLOAT", "c", "fl", "1e5000"], ["HINCRBYFLOAT", "c", "fl", " 1"],
    ["HINCRBYFLOAT", "c", "fl", ""], ["HSET", "hg", "huge", "1e4000"], ["HINCRBYFLOAT", "hg", "huge", "1e4000"],
    ["HINCRBYFLOAT", "hg", "huge", "1e4932"], ["HSET", "hg", "inf", "inf"], ["HINCRBYFLOAT", "hg", "inf", "1"],
    ["HGET", "hg", "huge"],
    ["HINCRBYFLOAT", "nokey", "f", "x"], ["HINCRBYFLOAT", "nokey", "f", "inf"], ["EXISTS", "nokey"],
    ["HINCRBYFLOAT", "c", "big", "1e20"], ["HINCRBYFLOAT", "c", "small", "1e-20"], ["HINCRBYFLOAT", "c", "neg0", "-0.0"],
    ["OBJECT", "ENCODING", "c"], ["OBJECT", "ENCODING", "hg"], ["HGETALL", "c"],
]  # fmt: skip

ERRORS_SCRIPT: list[Command] = [
    ["SET", "str", "v"], ["HSET", "h", "f", "v"],
    ["HSET", "str", "f", "v"], ["HMSET", "str", "f", "v"], ["HSETNX", "str", "f", "v"], ["HGET", "str", "f"],
    ["HMGET", "str", "f"], ["HDEL", "str", "f"], ["HLEN", "str"], ["HSTRLEN", "str", "f"], ["HEXISTS", "str", "f"],
    ["HKEYS", "str"], ["HVALS", "str"], ["HGETALL", "str"], ["HINCRBY", "str", "f", "1"], ["HINCRBY", "str", "f", "x"],
    ["HINCRBYFLOAT", "str", "f", "1"], ["HINCRBYFLOAT", "str", "f", "x"], ["HINCRBYFLOAT", "str", "f", "inf"],
    ["HRANDFIELD", "str"], ["HRANDFIELD", "str", "1"], ["HRANDFIELD", "str", "x"], ["HRANDFIELD", "str", "1", "FOO"],
    ["HSCAN", "str", "0"], ["HSCAN", "str", "x"], ["HSCAN", "str", "0", "COUNT", "0"], ["GET", "str"],
    # arity, including HSET/HMSET's odd pair count
    ["HSET", "h", "f"], ["HSET", "h", "f", "v", "g"], ["HMSET", "h", "f", "v", "g"], ["HSET", "h"], ["HMSET", "h", "f"],
    ["HSETNX", "h", "f"], ["HSETNX", "h", "f", "v", "x"], ["HGET", "h"], ["HGET", "h", "f", "g"], ["HMGET", "h"],
    ["HDEL", "h"], ["HLEN"], ["HLEN", "h", "x"], ["HSTRLEN", "h"], ["HEXISTS", "h"], ["HKEYS"], ["HVALS", "h", "x"],
    ["HGETALL"], ["HINCRBY", "h", "f"], ["HINCRBYFLOAT", "h", "f"], ["HRANDFIELD"], ["HSCAN", "h"], ["hset", "h", "f"],
    ["HSET", "str", "f"], ["HGETALL", "h"],
]  # fmt: skip

RANDFIELD_SCRIPT: list[Command] = [
    # shapes that do not depend on chance
    ["HSET", "h", "a", "1", "b", "2", "c", "3"], ["HSET", "one", "f", "v"],
    ["HRANDFIELD", "one"], ["HRANDFIELD", "one", "1"], ["HRANDFIELD", "one", "-3"], ["HRANDFIELD", "one", "1", "WITHVALUES"],
    ["HRANDFIELD", "one", "-2", "withvalues"], ["HRANDFIELD", "h", "3"], ["HRANDFIELD", "h", "10"],
    ["HRANDFIELD", "h", "3", "WITHVALUES"], ["HRANDFIELD", "h", "100", "WITHVALUES"], ["HRANDFIELD", "h", "0"],
    ["HRANDFIELD", "h", "0", "WITHVALUES"], ["HRANDFIELD", "nokey"], ["HRANDFIELD", "nokey", "3"],
    ["HRANDFIELD", "nokey", "-3", "WITHVALUES"], ["HRANDFIELD", "nokey", "0"],
    # errors and their order
    ["HRANDFIELD", "h", "x"], ["HRANDFIELD", "h", "1.5"], ["HRANDFIELD", "h", "1", "FOO"], ["HRANDFIELD", "h", "1", "WITHVALUES", "x"],
    ["HRANDFIELD", "h", "-9223372036854775808"], ["HRANDFIELD", "nokey", "-9223372036854775807"],
    ["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"], ["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"],
    ["HRANDFIELD", "h", "4611686018427387904", "WITHVALUES"], ["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"],
    ["HRANDFIELD", "h", "4611686018427387903", "WITHVALUES"], ["HRANDFIELD", "nokey", "-9223372036854775808"],
    ["HRANDFIELD", "nokey", "x"], ["HRANDFIELD", "nokey", "1", "FOO"], ["HRANDFIELD", "nokey", "9223372036854775807", "WITHVALUES"],
    ["HRANDFIELD", "h", "9223372036854775808"],
]  # fmt: skip

SCAN_SMALL_SCRIPT: list[Command] = [
    ["HSET", "h", "name", "x", "nick", "y", "age", "3", "n", "z"],
    ["HSCAN", "h", "0"], ["HSCAN", "h", "0", "MATCH", "n*"], ["HSCAN", "h", "0", "COUNT", "1"], ["HSCAN", "h", "12345"],
    ["HSCAN", "h", "0", "MATCH", "*", "COUNT", "100"], ["HSCAN", "h", "0", "match", "?ick"], ["HSCAN", "h", "0", "MATCH", "[a-m]*"],
    ["HSCAN", "h", "-1"], ["HSCAN", "h", ""], ["HSCAN", "h", "+1"], ["HSCAN", "h", " 1"], ["HSCAN", "h", "1x"],
    ["HSCAN", "h", "18446744073709551616"], ["HSCAN", "h", "18446744073709551615"], ["HSCAN", "h", "0", "COUNT", "0"],
    ["HSCAN", "h", "0", "COUNT", "-1"], ["HSCAN", "h", "0", "COUNT", "x"], ["HSCAN", "h", "0", "MATCH"],
    ["HSCAN", "h", "0", "TYPE", "hash"], ["HSCAN", "h", "0", "NOVALUES"], ["HSCAN", "h", "0", "BOGUS", "1"],
    ["HSCAN", "nokey", "0"], ["HSCAN", "nokey", "0", "COUNT", "0"], ["HSCAN", "nokey", "x"],
]  # fmt: skip

ENCODING_SCRIPT: list[Command] = [
    # a long value or field converts to hashtable, for good
    ["HSET", "v", "f", "x" * 64], ["OBJECT", "ENCODING", "v"], ["HSET", "v", "g", "x" * 65], ["OBJECT", "ENCODING", "v"],
    ["HDEL", "v", "g"], ["OBJECT", "ENCODING", "v"], ["HSET", "k", "k" * 65, "v"], ["OBJECT", "ENCODING", "k"],
    ["HSET", "nx", "a", "b"], ["HSETNX", "nx", "big", "y" * 70], ["OBJECT", "ENCODING", "nx"],
    ["HSET", "inc", "a", "1"], ["HINCRBY", "inc", "f" * 65, "1"], ["OBJECT", "ENCODING", "inc"],
    ["HSET", "flt", "a", "1"], ["HINCRBYFLOAT", "flt", "a", "1e60"], ["OBJECT", "ENCODING", "flt"],
    ["HINCRBYFLOAT", "flt", "a", "1e70"], ["OBJECT", "ENCODING", "flt"],
    # entry count against hash-max-listpack-entries
    ["CONFIG", "SET", "hash-max-listpack-entries", "4"], ["HSET", "e", "1", "a", "2", "b", "3", "c", "4", "d"],
    ["OBJECT", "ENCODING", "e"], ["HSET", "e", "5", "e"], ["OBJECT", "ENCODING", "e"], ["HSET", "e2", "1", "a", "2", "b"],
    ["HMSET", "e2", "3", "c", "4", "d", "5", "e"], ["OBJECT", "ENCODING", "e2"], ["CONFIG", "SET", "hash-max-listpack-value", "3"],
    ["HSET", "w", "abc", "def"], ["OBJECT", "ENCODING", "w"], ["HSET", "w", "abcd", "x"], ["OBJECT", "ENCODING", "w"],
    ["CONFIG", "SET", "hash-max-listpack-entries", "512"], ["CONFIG", "SET", "hash-max-listpack-value", "64"],
]  # fmt: skip


def test_basic_commands(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, BASIC_SCRIPT)


def test_counters(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, COUNTERS_SCRIPT)


def test_errors_wrong_type_and_arity(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, ERRORS_SCRIPT)


def test_hrandfield_deterministic_shapes(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, RANDFIELD_SCRIPT)


def test_hscan_of_a_small_hash(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, SCAN_SMALL_SCRIPT)


def test_encodings(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, ENCODING_SCRIPT, resps=(2,))


# -- big (hashtable) hashes: compared up to order ----------------------------------------------------


def _parsed(port: int, script: Sequence[Command], resp: int) -> list[tuple[object, bytes]]:
    with RawClient(port) as conn:
        conn.call("HELLO", resp)
        conn.call("FLUSHALL")
        out = []
        for cmd in script:
            conn.send_raw(encode_command(cmd))
            out.append(conn.read_reply())
        return out


def _unordered(value: object) -> object:
    """A reply with arrays of bulks sorted and maps turned into sorted pairs."""
    pairs = getattr(value, "items", None)
    if isinstance(pairs, list):  # a RESP3 map, as the reply parser gives it
        return sorted(pairs)
    if isinstance(value, list):
        items = [_unordered(v) for v in value]
        if all(isinstance(v, bytes) for v in items):
            return sorted(items)  # type: ignore[type-var]
        return items
    return value


def _pairs(flat: list[bytes]) -> list[tuple[bytes, bytes]]:
    return sorted(zip(flat[::2], flat[1::2]))


BIG_FIELDS = [("field:%d" % i, "value:%d" % (i * 7)) for i in range(700)]
BIG_SCRIPT: list[Command] = [
    ["HSET", "big", *[word for pair in BIG_FIELDS for word in pair]], ["OBJECT", "ENCODING", "big"], ["HLEN", "big"],
    ["HKEYS", "big"], ["HVALS", "big"], ["HMGET", "big", "field:1", "field:699", "nothere"], ["HGET", "big", "field:350"],
    ["HDEL", "big", "field:1", "field:2", "nothere"], ["HLEN", "big"], ["HINCRBY", "big", "field:3", "5"],
    ["HINCRBYFLOAT", "big", "field:4", "0.5"], ["HSETNX", "big", "field:5", "x"], ["HEXISTS", "big", "field:5"],
    ["HSTRLEN", "big", "field:600"], ["OBJECT", "ENCODING", "big"],
]  # fmt: skip


def test_big_hash_up_to_order(our_port: int, real_redis_port: int) -> None:
    script = [*BIG_SCRIPT, ["HGETALL", "big"]]
    for resp in (2, 3):
        ours = _parsed(our_port, script, resp)
        theirs = _parsed(real_redis_port, script, resp)
        for cmd, (a, raw_a), (b, raw_b) in zip(script, ours, theirs):
            assert raw_a[:1] == raw_b[:1], (resp, cmd, raw_a[:40], raw_b[:40])
            if cmd[0] == "HGETALL" and resp == 2:
                assert _pairs(a) == _pairs(b)  # type: ignore[arg-type]
            else:
                assert _unordered(a) == _unordered(b), (resp, cmd)


def _full_scan(port: int, extra: Sequence[str] = ()) -> tuple[int, list[tuple[bytes, bytes]]]:
    """HSCAN the big hash to the end: (number of calls, sorted unique pairs returned)."""
    with RawClient(port) as conn:
        conn.call("FLUSHALL")
        conn.call("HSET", "big", *[word for pair in BIG_FIELDS for word in pair])
        cursor, calls, seen = b"0", 0, set()
        while True:
            cursor, flat = conn.call("HSCAN", "big", cursor, *extra)
            calls += 1
            seen.update(zip(flat[::2], flat[1::2]))
            if cursor == b"0":
                return calls, sorted(seen)


def test_big_hash_scan_returns_every_field(our_port: int, real_redis_port: int) -> None:
    calls, ours = _full_scan(our_port)
    _, theirs = _full_scan(real_redis_port)
    assert ours == theirs
    assert calls > 10  # COUNT 10 by default: a hashtable is walked in many calls
    _, ours_matched = _full_scan(our_port, ("MATCH", "field:1*", "COUNT", "50"))
    _, theirs_matched = _full_scan(real_redis_port, ("MATCH", "field:1*", "COUNT", "50"))
    assert ours_matched == theirs_matched


def test_hrandfield_properties(our_port: int) -> None:
    """Random replies: distinct fields for a positive count, repetitions allowed for a
    negative one, values that belong to their fields, the RESP3 pair shape."""
    with RawClient(our_port) as conn:
        conn.call("FLUSHALL")
        fields = {b"f%d" % i: b"v%d" % i for i in range(30)}
        conn.call("HSET", "h", *[w for pair in fields.items() for w in pair])
        for count in (2, 9, 20, 29):
            picked = conn.call("HRANDFIELD", "h", count)
            assert len(picked) == count and len(set(picked)) == count and set(picked) <= set(fields)
        many = conn.call("HRANDFIELD", "h", -200)
        assert len(many) == 200 and set(many) <= set(fields) and len(set(many)) < 200
        flat = conn.call("HRANDFIELD", "h", 5, "WITHVALUES")
        assert len(flat) == 10 and all(fields[f] == v for f, v in zip(flat[::2], flat[1::2]))
        assert conn.call("HRANDFIELD", "h") in fields
        conn.call("HELLO", 3)
        pairs = conn.call("HRANDFIELD", "h", -4, "WITHVALUES")
        assert len(pairs) == 4 and all(len(p) == 2 and fields[p[0]] == p[1] for p in pairs)


# -- keyspace notifications and random sequences -------------------------------------------------------


def _events(port: int, script: Sequence[Command]) -> list[object]:
    with RawClient(port) as conn, RawClient(port) as listener:
        conn.call("FLUSHALL")
        conn.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        try:
            listener.call("PSUBSCRIBE", "__key*__:*")
            listener.call("SUBSCRIBE", "end")
            for cmd in script:
                conn.call(*cmd)
            conn.call("PUBLISH", "end", "x")  # a marker: delivered after every event above
            messages = []
            while (message := listener.read_reply()[0])[0] != b"message":
                messages.append(message)
            return messages
        finally:
            conn.call("CONFIG", "SET", "notify-keyspace-events", "")


EVENTS_SCRIPT: list[Command] = [
    ["HSET", "h", "a", "1", "b", "2"], ["HMSET", "h", "c", "3"], ["HSETNX", "h", "a", "x"], ["HSETNX", "h", "d", "4"],
    ["HINCRBY", "h", "a", "1"], ["HINCRBYFLOAT", "h", "b", "1.5"], ["HINCRBY", "h", "c", "x"], ["HDEL", "h", "nothere"],
    ["HDEL", "h", "a", "b"], ["HDEL", "h", "c", "d"], ["HINCRBYFLOAT", "new", "f", "1"], ["HDEL", "new", "f"],
]  # fmt: skip


def test_keyspace_events(our_port: int, real_redis_port: int) -> None:
    assert _events(our_port, EVENTS_SCRIPT) == _events(real_redis_port, EVENTS_SCRIPT)


_FIELDS = st.sampled_from(["a", "b", "c", "n"])
_VALUES = st.sampled_from(["1", "-2", "x", "1.5", "", "10"])


def _hash_command() -> st.SearchStrategy[list[str]]:
    key = st.sampled_from(["h1", "h2"])
    return st.one_of(
        st.tuples(st.sampled_from(["HSET", "HMSET"]), key, st.lists(st.tuples(_FIELDS, _VALUES), min_size=1, max_size=3))
        .map(lambda t: [t[0], t[1], *[w for pair in t[2] for w in pair]]),
        st.tuples(st.just("HSETNX"), key, _FIELDS, _VALUES).map(list),
        st.tuples(st.just("HDEL"), key, st.lists(_FIELDS, min_size=1, max_size=3)).map(lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["HGET", "HEXISTS", "HSTRLEN"]), key, _FIELDS).map(list),
        st.tuples(st.sampled_from(["HINCRBY", "HINCRBYFLOAT"]), key, _FIELDS, _VALUES).map(list),
        st.tuples(st.sampled_from(["HGETALL", "HKEYS", "HVALS", "HLEN"]), key).map(list),
        st.tuples(st.just("HSCAN"), key, st.just("0")).map(list),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_hash_command(), min_size=5, max_size=25))
def test_random_sequences(our_port: int, real_redis_port: int, script: list[list[str]]) -> None:
    assert_same(our_port, real_redis_port, [*script, ["HGETALL", "h1"], ["HGETALL", "h2"]], resps=(3,))
