"""Set commands, differentially: the same scripts on our node and on redis-server 7.0.

Replies are compared byte for byte in RESP2 and RESP3 wherever Redis's reply is
deterministic: intsets walk in numeric order, errors, counts, RESP3 set types. Replies
listing a hashtable set come in Redis's hash-table order, which is arbitrary, so those
are compared as sorted member lists (:func:`assert_same_members`), and a full SSCAN is
compared as the set of members it returned.
"""

from __future__ import annotations

from collections.abc import Sequence

from tests.differential import Command, assert_same, run_script
from tests.support import RawClient, encode_command

INTSET_SCRIPT: list[Command] = [
    # SADD / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS on an intset: numeric order
    ["SADD", "s", "3", "1", "2", "-5", "100", "1"], ["SMEMBERS", "s"], ["SCARD", "s"],
    ["SISMEMBER", "s", "3"], ["SISMEMBER", "s", "4"], ["SISMEMBER", "s", "03"], ["SISMEMBER", "nokey", "1"],
    ["SMISMEMBER", "s", "1", "2", "x", "-5"], ["SMISMEMBER", "nokey", "1", "2"], ["SMISMEMBER", "s"],
    ["SADD", "s"], ["SADD"], ["SCARD", "nokey"], ["SMEMBERS", "nokey"], ["SCARD"], ["SCARD", "a", "b"],
    ["SADD", "s", "9223372036854775807", "-9223372036854775808"], ["SMEMBERS", "s"],
    ["OBJECT", "ENCODING", "s"],
    # SREM
    ["SREM", "s", "100", "nothere", "3"], ["SREM", "s", "nothere"], ["SREM", "nokey", "1"], ["SMEMBERS", "s"],
    ["SREM", "s"],
    # set algebra on intsets (results are intsets: numeric order)
    ["SADD", "a", "1", "2", "3", "4", "5"], ["SADD", "b", "4", "5", "6", "7"], ["SADD", "c", "5", "7", "9"],
    ["SINTER", "a", "b"], ["SINTER", "a", "b", "c"], ["SINTER", "a", "nokey"], ["SINTER", "a"],
    ["SINTER", "a", "a"], ["SUNION", "a", "b", "c"], ["SUNION", "nokey"], ["SUNION", "a", "nokey"],
    ["SDIFF", "a", "b"], ["SDIFF", "a", "b", "c"], ["SDIFF", "b", "a"], ["SDIFF", "a", "a"], ["SDIFF", "nokey", "a"],
    ["SDIFF", "a", "nokey"], ["SDIFF", "a", "b", "a"],
    ["SINTERSTORE", "d", "a", "b"], ["SMEMBERS", "d"], ["OBJECT", "ENCODING", "d"],
    ["SUNIONSTORE", "d", "a", "b", "c"], ["SMEMBERS", "d"], ["SDIFFSTORE", "d", "a", "b"], ["SMEMBERS", "d"],
    ["SINTERSTORE", "d", "a", "nokey"], ["EXISTS", "d"], ["SUNIONSTORE", "d", "nokey"], ["EXISTS", "d"],
    ["SDIFFSTORE", "d", "a", "a"], ["EXISTS", "d"], ["SET", "d", "x"], ["SDIFFSTORE", "d", "nokey"], ["EXISTS", "d"],
    ["SET", "d", "x"], ["SINTERSTORE", "d", "a", "b"], ["TYPE", "d"],
    ["SET", "d", "x"], ["EXPIRE", "d", "100"], ["SUNIONSTORE", "d", "a"], ["TTL", "d"],
    ["SINTERSTORE", "a", "a", "b"], ["SMEMBERS", "a"],
    # SINTERCARD and its errors
    ["SINTERCARD", "2", "b", "c"], ["SINTERCARD", "1", "b"], ["SINTERCARD", "2", "b", "nokey"],
    ["SINTERCARD", "1", "b", "LIMIT", "2"], ["SINTERCARD", "1", "b", "limit", "0"],
    ["SINTERCARD", "1", "b", "LIMIT", "-1"], ["SINTERCARD", "1", "b", "LIMIT", "x"], ["SINTERCARD", "1", "b", "LIMIT"],
    ["SINTERCARD", "1", "b", "FOO", "1"], ["SINTERCARD", "0", "b"], ["SINTERCARD", "-1", "b"],
    ["SINTERCARD", "x", "b"], ["SINTERCARD", "3", "b", "c"], ["SINTERCARD", "1"], ["SINTERCARD", "2", "b", "c", "LIMIT", "1", "LIMIT", "5"],
    # SMOVE
    ["SMOVE", "b", "c", "4"], ["SMEMBERS", "b"], ["SMEMBERS", "c"], ["SMOVE", "b", "c", "nothere"],
    ["SMOVE", "nokey", "c", "1"], ["SMOVE", "b", "b", "5"], ["SMOVE", "b", "b", "99"], ["SMOVE", "b", "new", "6"],
    ["SMEMBERS", "new"], ["SMOVE", "new", "other", "6"], ["EXISTS", "new"], ["SMEMBERS", "other"],
    ["SMOVE", "b", "c", "5"], ["SMOVE", "b", "c", "7"], ["EXISTS", "b"],
    # SPOP / SRANDMEMBER shapes that do not depend on chance
    ["SPOP", "nokey"], ["SPOP", "nokey", "3"], ["SPOP", "c", "0"], ["SPOP", "c", "-1"], ["SPOP", "c", "x"],
    ["SPOP", "c", "1", "2"], ["SPOP", "c", "100"], ["EXISTS", "c"], ["SADD", "one", "7"], ["SPOP", "one"],
    ["EXISTS", "one"], ["SADD", "one", "7"], ["SPOP", "one", "1"], ["SADD", "one", "7"], ["SRANDMEMBER", "one"],
    ["SRANDMEMBER", "one", "5"], ["SRANDMEMBER", "one", "-3"], ["SRANDMEMBER", "one", "0"],
    ["SRANDMEMBER", "nokey"], ["SRANDMEMBER", "nokey", "3"], ["SRANDMEMBER", "nokey", "-3"],
    ["SRANDMEMBER", "one", "x"], ["SRANDMEMBER", "one", "1", "2"], ["SRANDMEMBER", "one", "-9223372036854775808"],
    ["SRANDMEMBER", "one", "9223372036854775808"], ["SADD", "many", "5", "3", "1"], ["SRANDMEMBER", "many", "3"],
    ["SRANDMEMBER", "many", "10"], ["SPOP", "many", "3"], ["SADD", "many", "5", "3", "1"], ["SPOP", "many", "5"],
    # SSCAN of an intset: everything at once, cursor 0
    ["SADD", "sc", "10", "2", "33", "4"], ["SSCAN", "sc", "0"], ["SSCAN", "sc", "0", "MATCH", "3*"],
    ["SSCAN", "sc", "0", "COUNT", "1"], ["SSCAN", "sc", "0", "MATCH", "*", "COUNT", "100"],
    ["SSCAN", "sc", "12345"], ["SSCAN", "sc", "-1"], ["SSCAN", "sc", ""], ["SSCAN", "sc", "+1"],
    ["SSCAN", "sc", " 1"], ["SSCAN", "sc", "1x"], ["SSCAN", "sc", "18446744073709551616"],
    ["SSCAN", "sc", "0", "COUNT", "0"], ["SSCAN", "sc", "0", "COUNT", "-1"], ["SSCAN", "sc", "0", "COUNT", "x"],
    ["SSCAN", "sc", "0", "MATCH"], ["SSCAN", "sc", "0", "TYPE", "set"], ["SSCAN", "sc", "0", "BOGUS", "1"],
    ["SSCAN", "nokey", "0"], ["SSCAN", "nokey", "0", "COUNT", "0"], ["SSCAN", "nokey", "x"], ["SSCAN", "sc"],
]  # fmt: skip

ERRORS_SCRIPT: list[Command] = [
    ["SET", "str", "v"], ["SADD", "s", "1"],
    ["SADD", "str", "1"], ["SREM", "str", "1"], ["SMEMBERS", "str"], ["SISMEMBER", "str", "1"],
    ["SMISMEMBER", "str", "1"], ["SCARD", "str"], ["SPOP", "str"], ["SPOP", "str", "1"], ["SPOP", "str", "0"],
    ["SPOP", "str", "x"], ["SRANDMEMBER", "str"], ["SRANDMEMBER", "str", "2"], ["SRANDMEMBER", "str", "x"],
    ["SINTER", "s", "str"], ["SINTER", "nokey", "str"], ["SINTER", "str", "nokey"], ["SUNION", "s", "str"],
    ["SDIFF", "s", "str"], ["SDIFF", "nokey", "str"], ["SINTERSTORE", "d", "s", "str"],
    ["SUNIONSTORE", "d", "str"], ["SDIFFSTORE", "d", "s", "str"], ["SINTERSTORE", "str", "s"], ["TYPE", "str"],
    ["SINTERCARD", "2", "s", "str"], ["SMOVE", "str", "s", "1"], ["SMOVE", "s", "str", "1"],
    ["SMOVE", "nokey", "str", "1"], ["SMOVE", "s", "str", "nothere"], ["SSCAN", "str", "0"],
    ["SSCAN", "str", "x"], ["SSCAN", "str", "0", "COUNT", "0"],
    # arity
    ["SREM", "s"], ["SMOVE", "a", "b"], ["SISMEMBER", "s"], ["SISMEMBER", "s", "1", "2"], ["SPOP"],
    ["SRANDMEMBER"], ["SINTER"], ["SINTERSTORE", "d"], ["SUNION"], ["SUNIONSTORE", "d"], ["SDIFF"],
    ["SDIFFSTORE", "d"], ["SSCAN", "s"], ["SMEMBERS"], ["SMEMBERS", "a", "b"], ["SINTERCARD", "1"],
]  # fmt: skip

#: Hashtable sets: replies whose order is Redis's hash table order get compared sorted.
HASHTABLE_SCRIPT: list[Command] = [
    ["SADD", "h", "a", "b", "c", "1", "2"], ["SMEMBERS", "h"], ["OBJECT", "ENCODING", "h"],
    ["SADD", "i", "1", "2", "3"], ["OBJECT", "ENCODING", "i"], ["SADD", "i", "x"], ["OBJECT", "ENCODING", "i"],
    ["SREM", "i", "x"], ["OBJECT", "ENCODING", "i"], ["SMEMBERS", "i"],
    ["SADD", "k", "b", "c", "d", "z"], ["SINTER", "h", "k"], ["SUNION", "h", "k", "i"], ["SDIFF", "h", "k"],
    ["SINTERSTORE", "d", "h", "k"], ["SMEMBERS", "d"], ["SUNIONSTORE", "d", "h", "k"], ["SMEMBERS", "d"],
    ["SDIFFSTORE", "d", "h", "k"], ["SMEMBERS", "d"], ["SINTERCARD", "2", "h", "k"],
    ["SINTERCARD", "2", "h", "k", "LIMIT", "1"], ["SDIFF", "h", "i"], ["SUNION", "i", "k"],
    # an integer-only result of hashtable inputs is an intset again: numeric order
    ["SADD", "m", "10", "x", "2"], ["SADD", "n", "2", "10", "y"], ["SINTER", "m", "n"], ["SINTERSTORE", "mn", "m", "n"],
    ["OBJECT", "ENCODING", "mn"], ["SDIFF", "m", "n"], ["SUNION", "i", "mn"],
    ["SMOVE", "h", "i", "a"], ["OBJECT", "ENCODING", "i"], ["SMEMBERS", "i"],
    ["SRANDMEMBER", "h", "100"], ["SPOP", "k", "10"], ["EXISTS", "k"], ["SMEMBERS", "h"],
    ["SADD", "e", ""], ["SMEMBERS", "e"], ["SISMEMBER", "e", ""], ["SSCAN", "e", "0"],
    ["SADD", "big", "007", "+1", "1.0", " 2", "-0", "9223372036854775808"], ["OBJECT", "ENCODING", "big"],
    ["SMEMBERS", "big"],
    # SDIFF's second algorithm copies the first set before removing: its encoding sticks
    ["SADD", "da", "1", "2", "3", "4", "5", "x"], ["SADD", "db", "x"], ["SADD", "dc", "q"],
    ["SDIFFSTORE", "dd", "da", "db", "dc"], ["OBJECT", "ENCODING", "dd"], ["SDIFF", "da", "db", "dc"],
    ["SDIFFSTORE", "dd", "da", "db"], ["OBJECT", "ENCODING", "dd"], ["SMEMBERS", "dd"],
]  # fmt: skip


def _set_like(value: object) -> object:
    """A reply with its member lists sorted, for replies whose order is arbitrary."""
    if isinstance(value, list):
        items = [_set_like(v) for v in value]
        if all(isinstance(v, (bytes, str)) for v in items):
            return sorted(items, key=lambda v: v if isinstance(v, bytes) else v.encode())
        return items
    return value


def assert_same_members(our_port: int, real_port: int, script: Sequence[Command], resps: Sequence[int] = (2, 3)) -> None:
    problems = []
    for resp in resps:
        ours = _parsed(our_port, script, resp)
        theirs = _parsed(real_port, script, resp)
        for cmd, (a, raw_a), (b, raw_b) in zip(script, ours, theirs):
            # the reply type (first byte) must agree exactly; the content up to order
            if raw_a[:1] != raw_b[:1] or _set_like(a) != _set_like(b):
                problems.append(f"RESP{resp} {cmd}: ours={raw_a!r} redis={raw_b!r}")
    assert not problems, "replies differ from redis-server:\n" + "\n".join(problems)


def _parsed(port: int, script: Sequence[Command], resp: int) -> list[tuple[object, bytes]]:
    with RawClient(port) as conn:
        conn.raw("HELLO", resp)
        conn.raw("FLUSHALL")
        out = []
        for cmd in script:
            conn.send_raw(encode_command(cmd))
            out.append(conn.read_reply())
        return out


def test_intsets_and_algebra(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, INTSET_SCRIPT)


def test_errors_and_arity(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, ERRORS_SCRIPT)


def test_hashtable_sets_up_to_order(our_port: int, real_redis_port: int) -> None:
    assert_same_members(our_port, real_redis_port, HASHTABLE_SCRIPT)


def test_intset_limit_and_conversion(our_port: int, real_redis_port: int) -> None:
    """set-max-intset-entries decides the encoding, hence the reply order."""
    script: list[Command] = [
        ["CONFIG", "SET", "set-max-intset-entries", "4"],
        ["SADD", "s", "5", "4", "3", "2"], ["OBJECT", "ENCODING", "s"], ["SMEMBERS", "s"],
        ["SADD", "s", "1"], ["OBJECT", "ENCODING", "s"], ["SREM", "s", "1"], ["OBJECT", "ENCODING", "s"],
        ["SADD", "t", "1", "2", "3", "4", "5", "6"], ["OBJECT", "ENCODING", "t"],
        ["SADD", "u", "1", "2"], ["SINTERSTORE", "v", "t", "t"], ["OBJECT", "ENCODING", "v"],
        ["SUNIONSTORE", "w", "u", "u"], ["OBJECT", "ENCODING", "w"], ["SMEMBERS", "w"],
        ["SADD", "f", "1"], ["SADD", "g", "2"], ["SDIFFSTORE", "h", "t", "f", "g"], ["OBJECT", "ENCODING", "h"],
        ["SDIFFSTORE", "h", "t", "f"], ["OBJECT", "ENCODING", "h"], ["SMEMBERS", "h"],
        ["CONFIG", "SET", "set-max-intset-entries", "512"],
    ]  # fmt: skip
    try:
        assert_same_members(our_port, real_redis_port, script)
    finally:
        for port in (our_port, real_redis_port):
            run_script(port, [["CONFIG", "SET", "set-max-intset-entries", "512"]])


def _full_sscan(port: int, key: str, count: int, match: str | None = None) -> tuple[set[bytes], int]:
    members: set[bytes] = set()
    calls = 0
    with RawClient(port) as conn:
        cursor = b"0"
        while True:
            extra = ["COUNT", count] + (["MATCH", match] if match else [])
            cursor, page = conn.call("SSCAN", key, cursor, *extra)
            members.update(page)
            calls += 1
            if cursor == b"0":
                return members, calls


def test_sscan_of_a_hashtable_set_returns_every_member(our_port: int, real_redis_port: int) -> None:
    members = [f"m:{i}" for i in range(1000)]
    for port in (our_port, real_redis_port):
        run_script(port, [["SADD", "big", *members]])
    ours, our_calls = _full_sscan(our_port, "big", 17)
    theirs, _ = _full_sscan(real_redis_port, "big", 17)
    assert ours == theirs == {m.encode() for m in members}
    assert our_calls > 10  # a cursor, not everything at once
    ours_match, _ = _full_sscan(our_port, "big", 50, "m:1?")
    theirs_match, _ = _full_sscan(real_redis_port, "big", 50, "m:1?")
    assert ours_match == theirs_match and len(ours_match) == 10


def test_random_replies_have_redis_shapes(our_port: int, real_redis_port: int) -> None:
    """SPOP/SRANDMEMBER answer random members: compare reply types and sizes."""
    script: list[Command] = [
        ["SADD", "s", *range(20)], ["SADD", "h", *(f"x{i}" for i in range(20))],
        ["SRANDMEMBER", "s", "5"], ["SRANDMEMBER", "h", "-30"], ["SRANDMEMBER", "h", "15"],
        ["SPOP", "s", "3"], ["SPOP", "h", "18"], ["SCARD", "h"], ["SPOP", "s"], ["SCARD", "s"],
    ]  # fmt: skip
    for resp in (2, 3):
        ours = [r for _, r in _parsed(our_port, script, resp)]
        theirs = [r for _, r in _parsed(real_redis_port, script, resp)]
        for cmd, a, b in zip(script, ours, theirs):
            # the same type, and for arrays and sets the same length
            if a[:1] in b"*~":
                assert a.split(b"\r\n", 1)[0] == b.split(b"\r\n", 1)[0], (resp, cmd, a, b)
            assert a[:1] == b[:1], (resp, cmd, a, b)


EVENTS_SCRIPT: list[Command] = [
    ["SADD", "s", "1", "2", "3"], ["SADD", "s", "1"], ["SREM", "s", "1", "9"], ["SREM", "s", "9"],
    ["SMOVE", "s", "t", "2"], ["SMOVE", "s", "t", "3"], ["SMOVE", "t", "t", "2"], ["SPOP", "t"], ["SPOP", "t", "5"],
    ["SADD", "a", "x", "y"], ["SADD", "b", "y"], ["SINTERSTORE", "d", "a", "b"], ["SUNIONSTORE", "d", "a", "b"],
    ["SDIFFSTORE", "d", "a", "b"], ["SDIFFSTORE", "d", "a", "a"], ["SINTERSTORE", "d", "a", "nokey"],
    ["SPOP", "a", "1"], ["SPOP", "a", "0"], ["SREM", "b", "y"],
]  # fmt: skip


def keyspace_events(port: int, script: Sequence[Command]) -> list[list[bytes]]:
    """The keyspace notifications (K and E) a script publishes, in order."""
    run_script(port, [])
    with RawClient(port) as admin, RawClient(port) as listener:
        admin.raw("CONFIG", "SET", "notify-keyspace-events", "KEA")
        try:
            listener.raw("PSUBSCRIBE", "__key*__:*", "done")
            listener.raw("SUBSCRIBE", "done")
            for cmd in script:
                admin.raw(*cmd)
            admin.raw("PUBLISH", "done", "x")
            events = []
            while True:
                message = listener.read_reply()[0]
                if message[0] == b"message":
                    return events
                events.append(message[2:])
        finally:
            admin.raw("CONFIG", "SET", "notify-keyspace-events", "")


def test_keyspace_events_match_redis(our_port: int, real_redis_port: int) -> None:
    assert keyspace_events(our_port, EVENTS_SCRIPT) == keyspace_events(real_redis_port, EVENTS_SCRIPT)
