"""List commands, differentially: the same scripts on our node and on redis-server 7.0,
replies compared byte for byte in RESP2 and RESP3.

List replies are fully deterministic, so every script is compared exactly: values,
null shapes (null bulk vs null array), errors and their precedence, arity, keyspace
notifications. Blocking commands are exercised here where they do not block (data
present, inside MULTI, bad arguments); waiting and waking are in test_blocking.py. A
hypothesis test drives random command sequences over a few small lists.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.differential import Command, assert_same
from tests.support import RawClient, encode_command

PUSH_POP_SCRIPT: list[Command] = [
    ["LPUSH", "l", "a"], ["LPUSH", "l", "b", "c"], ["RPUSH", "l", "d", "e", "f"], ["LRANGE", "l", "0", "-1"],
    ["LLEN", "l"], ["TYPE", "l"], ["OBJECT", "ENCODING", "l"],
    ["LPUSHX", "l", "x", "y"], ["RPUSHX", "l", "z"], ["LPUSHX", "nokey", "x"], ["RPUSHX", "nokey", "x"],
    ["EXISTS", "nokey"], ["LRANGE", "l", "0", "-1"],
    ["LPOP", "l"], ["RPOP", "l"], ["LPOP", "l", "2"], ["RPOP", "l", "2"], ["LRANGE", "l", "0", "-1"],
    ["LPOP", "l", "0"], ["RPOP", "l", "0"], ["LPOP", "l", "100"], ["EXISTS", "l"],
    ["LPOP", "nokey"], ["RPOP", "nokey"], ["LPOP", "nokey", "1"], ["RPOP", "nokey", "0"], ["LPOP", "nokey", "-1"],
    ["RPUSH", "l", "1", "2", "3"], ["LPOP", "l", "-1"], ["LPOP", "l", "x"], ["LPOP", "l", "1.5"],
    ["LPOP", "l", "9223372036854775808"], ["LPOP", "l", "1", "2"], ["RPOP", "l", "1", "2", "3"],
    ["RPOP", "l", "9223372036854775807"], ["EXISTS", "l"], ["LLEN", "l"], ["LLEN", "nokey"],
    ["RPUSH", "n", "1", "-1", "9223372036854775808", "0x10", "", " ", "3.14"], ["LRANGE", "n", "0", "-1"],
    ["LPOP", "n", "1"], ["RPOP", "n", "1"], ["LLEN", "n"],
    ["RPUSH", "one", "x"], ["RPOP", "one"], ["EXISTS", "one"], ["LPUSH", "one", "x"], ["LPOP", "one", "5"],
    ["EXISTS", "one"],
]  # fmt: skip

POSITIONAL_SCRIPT: list[Command] = [
    ["RPUSH", "l", "a", "b", "c", "d", "e", "f", "g"],
    # LINDEX
    ["LINDEX", "l", "0"], ["LINDEX", "l", "6"], ["LINDEX", "l", "7"], ["LINDEX", "l", "-1"], ["LINDEX", "l", "-7"],
    ["LINDEX", "l", "-8"], ["LINDEX", "l", "x"], ["LINDEX", "l", "1.0"], ["LINDEX", "nokey", "0"],
    ["LINDEX", "nokey", "x"], ["LINDEX", "l", "9223372036854775807"], ["LINDEX", "l", "-9223372036854775808"],
    ["LINDEX", "l", "9223372036854775808"],
    # LSET
    ["LSET", "l", "0", "A"], ["LSET", "l", "-1", "G"], ["LSET", "l", "3", "D"], ["LSET", "l", "7", "x"],
    ["LSET", "l", "-8", "x"], ["LSET", "l", "x", "y"], ["LSET", "nokey", "0", "x"], ["LSET", "nokey", "x", "y"],
    ["LRANGE", "l", "0", "-1"],
    # LRANGE
    ["LRANGE", "l", "0", "0"], ["LRANGE", "l", "2", "4"], ["LRANGE", "l", "-3", "-1"], ["LRANGE", "l", "-100", "100"],
    ["LRANGE", "l", "5", "2"], ["LRANGE", "l", "7", "10"], ["LRANGE", "l", "-1", "-2"], ["LRANGE", "l", "0", "-8"],
    ["LRANGE", "l", "0", "-7"], ["LRANGE", "l", "6", "6"], ["LRANGE", "l", "x", "1"], ["LRANGE", "l", "0", "y"],
    ["LRANGE", "nokey", "0", "-1"], ["LRANGE", "nokey", "x", "1"],
    ["LRANGE", "l", "-9223372036854775808", "9223372036854775807"],
    # LTRIM
    ["RPUSH", "t", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], ["LTRIM", "t", "1", "-2"],
    ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "0", "100"], ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "-3", "-1"],
    ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "1", "1"], ["LRANGE", "t", "0", "-1"], ["LTRIM", "t", "5", "1"],
    ["EXISTS", "t"], ["LTRIM", "nokey", "0", "1"], ["LTRIM", "nokey", "x", "1"], ["LTRIM", "l", "x", "1"],
    ["LTRIM", "l", "0", "y"], ["RPUSH", "t", "a", "b", "c"], ["LTRIM", "t", "0", "-4"], ["EXISTS", "t"],
    ["RPUSH", "t", "a", "b", "c", "d", "e", "f", "g", "h"], ["LTRIM", "t", "3", "3"], ["LRANGE", "t", "0", "-1"],
    ["RPUSH", "t2", "a", "b", "c", "d", "e", "f", "g", "h"], ["LTRIM", "t2", "1", "6"], ["LRANGE", "t2", "0", "-1"],
    # LREM
    ["RPUSH", "r", "a", "b", "a", "c", "a", "b", "a"], ["LREM", "r", "2", "a"], ["LRANGE", "r", "0", "-1"],
    ["LREM", "r", "-1", "b"], ["LRANGE", "r", "0", "-1"], ["LREM", "r", "0", "a"], ["LRANGE", "r", "0", "-1"],
    ["LREM", "r", "0", "zz"], ["LREM", "r", "1", "zz"], ["LREM", "r", "x", "a"], ["LREM", "nokey", "1", "a"],
    ["LREM", "nokey", "x", "a"], ["LREM", "r", "1", "c"], ["LREM", "r", "-5", "b"], ["EXISTS", "r"],
    ["RPUSH", "r", "x", "y", "x", "y", "x"], ["LREM", "r", "-2", "x"], ["LRANGE", "r", "0", "-1"],
    ["LREM", "r", "100", "y"], ["LRANGE", "r", "0", "-1"], ["LREM", "r", "1", "x"], ["EXISTS", "r"],
    ["RPUSH", "r", "q", "q", "q"], ["LREM", "r", "0", "q"], ["EXISTS", "r"],
    # LINSERT
    ["RPUSH", "i", "a", "b", "c"], ["LINSERT", "i", "BEFORE", "b", "X"], ["LINSERT", "i", "after", "c", "Y"],
    ["LINSERT", "i", "before", "a", "Z"], ["LRANGE", "i", "0", "-1"], ["LINSERT", "i", "BEFORE", "nothere", "x"],
    ["LINSERT", "i", "MIDDLE", "a", "x"], ["LINSERT", "nokey", "BEFORE", "a", "x"], ["LINSERT", "nokey", "MIDDLE", "a", "x"],
    ["EXISTS", "nokey"], ["RPUSH", "dup", "p", "p"], ["LINSERT", "dup", "AFTER", "p", "q"], ["LRANGE", "dup", "0", "-1"],
]  # fmt: skip

LPOS_SCRIPT: list[Command] = [
    ["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c", "a"],
    ["LPOS", "l", "a"], ["LPOS", "l", "c"], ["LPOS", "l", "zz"], ["LPOS", "l", "c", "RANK", "2"],
    ["LPOS", "l", "c", "RANK", "3"], ["LPOS", "l", "c", "RANK", "4"], ["LPOS", "l", "c", "RANK", "-1"],
    ["LPOS", "l", "c", "RANK", "-3"], ["LPOS", "l", "c", "RANK", "-4"], ["LPOS", "l", "c", "COUNT", "0"],
    ["LPOS", "l", "c", "COUNT", "2"], ["LPOS", "l", "c", "COUNT", "10"], ["LPOS", "l", "zz", "COUNT", "0"],
    ["LPOS", "l", "c", "RANK", "-1", "COUNT", "2"], ["LPOS", "l", "c", "RANK", "2", "COUNT", "0"],
    ["LPOS", "l", "c", "MAXLEN", "3"], ["LPOS", "l", "c", "MAXLEN", "2"], ["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"],
    ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "1"], ["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "0"],
    ["LPOS", "l", "c", "rank", "1", "count", "1", "maxlen", "0"], ["LPOS", "l", "c", "RANK", "1", "RANK", "2"],
    ["LPOS", "l", "1"], ["LPOS", "l", "01"],
    # errors and their order
    ["LPOS", "l", "c", "RANK", "0"], ["LPOS", "l", "c", "RANK", "x"], ["LPOS", "l", "c", "COUNT", "-1"],
    ["LPOS", "l", "c", "COUNT", "x"], ["LPOS", "l", "c", "MAXLEN", "-1"], ["LPOS", "l", "c", "MAXLEN", "x"],
    ["LPOS", "l", "c", "RANK"], ["LPOS", "l", "c", "COUNT"], ["LPOS", "l", "c", "FOO", "1"], ["LPOS", "l", "c", "FOO"],
    ["LPOS", "l", "c", "RANK", "0", "COUNT", "-1"], ["LPOS", "l", "c", "COUNT", "-1", "RANK", "0"],
    ["LPOS", "nokey", "a"], ["LPOS", "nokey", "a", "COUNT", "1"], ["LPOS", "nokey", "a", "RANK", "0"],
    ["LPOS", "l", "c", "RANK", "-9223372036854775808"], ["LPOS", "l", "c", "RANK", "-9223372036854775808", "COUNT", "2"],
    ["LPOS", "l", "c", "RANK", "-9223372036854775808", "COUNT", "0"], ["LPOS", "l", "c", "RANK", "-9223372036854775807"],
    ["LPOS", "l", "c", "RANK", "-9223372036854775808", "MAXLEN", "2"], ["LPOS", "l", "c", "RANK", "9223372036854775807"], ["LPOS", "l", "c", "COUNT", "9223372036854775808"],
    ["LPOS", "l"],
]  # fmt: skip

MOVE_SCRIPT: list[Command] = [
    ["RPUSH", "src", "a", "b", "c", "d"],
    ["LMOVE", "src", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "dst", "right", "left"],
    ["LMOVE", "src", "dst", "LEFT", "LEFT"], ["LMOVE", "src", "dst", "RIGHT", "RIGHT"], ["EXISTS", "src"],
    ["LRANGE", "dst", "0", "-1"], ["LMOVE", "dst", "dst", "LEFT", "RIGHT"], ["LRANGE", "dst", "0", "-1"],
    ["LMOVE", "dst", "dst", "RIGHT", "LEFT"], ["LRANGE", "dst", "0", "-1"],
    ["LMOVE", "nokey", "dst", "LEFT", "RIGHT"], ["LMOVE", "src", "dst", "UP", "RIGHT"],
    ["LMOVE", "src", "dst", "LEFT", "DOWN"], ["LMOVE", "nokey", "dst", "UP", "RIGHT"],
    ["RPOPLPUSH", "dst", "other"], ["RPOPLPUSH", "dst", "other"], ["LRANGE", "other", "0", "-1"],
    ["RPOPLPUSH", "nokey", "other"], ["RPOPLPUSH", "other", "other"], ["LRANGE", "other", "0", "-1"],
    ["RPUSH", "single", "x"], ["RPOPLPUSH", "single", "single"], ["LRANGE", "single", "0", "-1"],
    ["LMOVE", "single", "single", "LEFT", "LEFT"], ["LRANGE", "single", "0", "-1"],
    ["RPOPLPUSH", "single", "gone"], ["EXISTS", "single"], ["LRANGE", "gone", "0", "-1"],
    # LMPOP
    ["RPUSH", "m1", "a", "b", "c"], ["RPUSH", "m2", "x", "y"],
    ["LMPOP", "2", "nokey", "m1", "LEFT"], ["LMPOP", "2", "m1", "m2", "RIGHT", "COUNT", "5"], ["EXISTS", "m1"],
    ["LMPOP", "2", "m1", "m2", "left", "count", "1"], ["LMPOP", "1", "nokey", "LEFT"], ["LMPOP", "2", "a", "b", "RIGHT"],
    ["LMPOP", "1", "m2", "LEFT", "COUNT", "10"], ["EXISTS", "m2"],
    ["LMPOP", "0", "m1", "LEFT"], ["LMPOP", "-1", "m1", "LEFT"], ["LMPOP", "x", "m1", "LEFT"],
    ["LMPOP", "3", "m1", "LEFT"], ["LMPOP", "1", "m1", "MIDDLE"], ["LMPOP", "1", "m1", "LEFT", "COUNT"],
    ["LMPOP", "1", "m1", "LEFT", "COUNT", "0"], ["LMPOP", "1", "m1", "LEFT", "COUNT", "-1"],
    ["LMPOP", "1", "m1", "LEFT", "COUNT", "x"], ["LMPOP", "1", "m1", "LEFT", "COUNT", "1", "COUNT", "2"],
    ["LMPOP", "1", "m1", "LEFT", "FOO"], ["LMPOP", "9223372036854775807", "m1", "LEFT"],
    ["LMPOP", "9223372036854775806", "m1", "LEFT"], ["LMPOP", "2", "m1", "LEFT"],
]  # fmt: skip

BLOCKING_NOWAIT_SCRIPT: list[Command] = [
    ["RPUSH", "a", "1", "2", "3"], ["RPUSH", "b", "x"],
    ["BLPOP", "nokey", "a", "b", "0"], ["BRPOP", "nokey", "a", "b", "0"], ["BLPOP", "b", "a", "1"],
    ["EXISTS", "b"], ["BLPOP", "a", "0.5"], ["EXISTS", "a"],
    ["RPUSH", "a", "1", "2", "3"], ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"], ["BRPOPLPUSH", "a", "b", "0"],
    ["LRANGE", "b", "0", "-1"], ["BLMPOP", "0", "2", "nokey", "b", "RIGHT", "COUNT", "2"],
    ["BLMPOP", "0", "1", "a", "LEFT"], ["EXISTS", "a"],
    # timeouts: bad, negative, out of range (Redis casts a huge ms count to a negative one)
    ["BLPOP", "a", "x"], ["BLPOP", "a", "-1"], ["BLPOP", "a", "-0.5"], ["BLPOP", "a", "1e30"], ["BLPOP", "a", "inf"],
    ["BLPOP", "a", "-inf"], ["BLPOP", "a", "nan"], ["BLPOP", "a", " 1"], ["BLPOP", "a", "1 "], ["BLPOP", "a", ""],
    ["BLPOP", "a", "9.3e15"], ["BLPOP", "a", "1e5000"], ["BRPOP", "a", "x"], ["BLMOVE", "a", "b", "LEFT", "LEFT", "x"],
    ["BLMOVE", "a", "b", "LEFT", "LEFT", "-1"], ["BLMOVE", "a", "b", "UP", "LEFT", "x"],
    ["BLMOVE", "a", "b", "LEFT", "UP", "-1"], ["BRPOPLPUSH", "a", "b", "x"], ["BRPOPLPUSH", "a", "b", "-1"],
    ["BLMPOP", "x", "1", "a", "LEFT"], ["BLMPOP", "-1", "1", "a", "LEFT"], ["BLMPOP", "x", "0", "a", "LEFT"],
    ["BLMPOP", "x", "1", "a", "UP"], ["BLMPOP", "0", "1", "a", "LEFT", "COUNT", "0"], ["BLMPOP", "0", "2", "a", "LEFT"],
    # inside MULTI nothing blocks: the timeout reply comes at once
    ["MULTI"], ["BLPOP", "nokey", "0"], ["BRPOP", "nokey", "nokey2", "10"], ["BLMOVE", "nokey", "b", "LEFT", "LEFT", "0"],
    ["BRPOPLPUSH", "nokey", "b", "0"], ["BLMPOP", "0", "1", "nokey", "LEFT"], ["RPUSH", "nokey", "v"],
    ["BLPOP", "nokey", "0"], ["EXEC"],
    ["MULTI"], ["BLPOP", "nokey", "x"], ["EXEC"],
    ["MULTI"], ["RPUSH", "q", "1"], ["BLMOVE", "q", "q2", "RIGHT", "LEFT", "0"], ["LRANGE", "q2", "0", "-1"], ["EXEC"],
]  # fmt: skip

ERRORS_SCRIPT: list[Command] = [
    ["SET", "str", "v"], ["RPUSH", "l", "a", "b"],
    ["LPUSH", "str", "a"], ["RPUSH", "str", "a"], ["LPUSHX", "str", "a"], ["RPUSHX", "str", "a"], ["LPOP", "str"],
    ["RPOP", "str"], ["LPOP", "str", "1"], ["LPOP", "str", "0"], ["LPOP", "str", "x"], ["LPOP", "str", "-1"],
    ["LLEN", "str"], ["LINDEX", "str", "0"], ["LINDEX", "str", "x"], ["LSET", "str", "0", "a"],
    ["LSET", "str", "x", "a"], ["LRANGE", "str", "0", "-1"], ["LRANGE", "str", "x", "-1"], ["LTRIM", "str", "0", "1"],
    ["LTRIM", "str", "x", "1"], ["LREM", "str", "0", "a"], ["LREM", "str", "x", "a"], ["LINSERT", "str", "BEFORE", "a", "b"],
    ["LINSERT", "str", "FOO", "a", "b"], ["LPOS", "str", "a"], ["LPOS", "str", "a", "RANK", "0"],
    ["LMOVE", "str", "l", "LEFT", "LEFT"], ["LMOVE", "l", "str", "LEFT", "LEFT"], ["LMOVE", "nokey", "str", "LEFT", "LEFT"],
    ["LRANGE", "l", "0", "-1"], ["RPOPLPUSH", "str", "l"], ["RPOPLPUSH", "l", "str"], ["RPOPLPUSH", "nokey", "str"],
    ["LMPOP", "1", "str", "LEFT"], ["LMPOP", "2", "str", "l", "LEFT"], ["LMPOP", "2", "nokey", "str", "LEFT"],
    ["LMPOP", "2", "l", "str", "LEFT"], ["BLPOP", "str", "0"], ["BLPOP", "nokey", "str", "l", "0"],
    ["BRPOP", "str", "l", "0"], ["BLMOVE", "str", "l", "LEFT", "LEFT", "0"], ["BLMOVE", "l", "str", "LEFT", "LEFT", "0"],
    ["BRPOPLPUSH", "str", "l", "0"], ["BRPOPLPUSH", "l", "str", "0"], ["BLMPOP", "0", "1", "str", "LEFT"],
    ["BLMPOP", "0", "2", "l", "str", "LEFT"], ["BLPOP", "str", "x"], ["LRANGE", "l", "0", "-1"], ["GET", "str"],
    # arity
    ["LPUSH"], ["LPUSH", "l"], ["RPUSH", "l"], ["LPUSHX", "l"], ["RPUSHX", "l"], ["LPOP"], ["RPOP"], ["LLEN"],
    ["LLEN", "l", "x"], ["LINDEX", "l"], ["LINDEX", "l", "0", "1"], ["LSET", "l", "0"], ["LRANGE", "l", "0"],
    ["LTRIM", "l", "0"], ["LREM", "l", "0"], ["LINSERT", "l", "BEFORE", "a"], ["LPOS", "l"], ["LMOVE", "a", "b", "LEFT"],
    ["RPOPLPUSH", "a"], ["LMPOP", "1", "l"], ["BLPOP", "l"], ["BRPOP", "l"], ["BLMOVE", "a", "b", "LEFT", "LEFT"],
    ["BRPOPLPUSH", "a", "b"], ["BLMPOP", "0", "1", "l"], ["lpush", "l"], ["LpOp", "l", "1", "2"],
]  # fmt: skip


def test_push_and_pop(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, PUSH_POP_SCRIPT)


def test_positional_commands(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, POSITIONAL_SCRIPT)


def test_lpos(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, LPOS_SCRIPT)


def test_moves_and_multi_pops(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, MOVE_SCRIPT)


def test_blocking_commands_that_do_not_wait(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, BLOCKING_NOWAIT_SCRIPT)


def test_errors_wrong_type_and_arity(our_port: int, real_redis_port: int) -> None:
    assert_same(our_port, real_redis_port, ERRORS_SCRIPT)


def test_big_list_ranges(our_port: int, real_redis_port: int) -> None:
    """Long lists with elements of many sizes: ranges from both ends, trims, removals."""
    elements = [("e%d" % i) * (1 + i % 7) for i in range(600)]
    script: list[Command] = [["RPUSH", "big", *elements[:300]], ["LPUSH", "big", *elements[300:]]]
    for start, end in [(0, 9), (-10, -1), (250, 260), (-400, -390), (590, 700), (-700, 5), (100, 50)]:
        script.append(["LRANGE", "big", start, end])
    script += [
        ["LINDEX", "big", "299"], ["LINDEX", "big", "-301"], ["LSET", "big", "-300", "mid"], ["LINDEX", "big", "300"],
        ["LINSERT", "big", "AFTER", "mid", "after-mid"], ["LPOS", "big", "after-mid"], ["LREM", "big", "-3", elements[5]],
        ["LTRIM", "big", "10", "-20"], ["LLEN", "big"], ["LRANGE", "big", "0", "-1"], ["LPOP", "big", "7"],
        ["RPOP", "big", "7"], ["LMPOP", "1", "big", "RIGHT", "COUNT", "3"], ["LTRIM", "big", "500", "520"], ["EXISTS", "big"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


def test_binary_and_empty_elements(our_port: int, real_redis_port: int) -> None:
    script: list[Command] = [
        ["RPUSH", "bin", b"\x00\xff", b"", b"\r\n", b"a\x00b"], ["LRANGE", "bin", "0", "-1"],
        ["LPOS", "bin", b""], ["LREM", "bin", "0", b"\x00\xff"], ["LINSERT", "bin", "BEFORE", b"", b"\x01"],
        ["LRANGE", "bin", "0", "-1"], ["LSET", "bin", "0", b""], ["LPOP", "bin", "10"],
    ]  # fmt: skip
    assert_same(our_port, real_redis_port, script)


# -- keyspace notifications ---------------------------------------------------------------------------


def _events(port: int, script: Sequence[Command]) -> list[object]:
    """The keyspace and keyevent messages a script fires, in order."""
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
            while True:
                message = listener.read_reply()[0]
                if message[0] == b"message":
                    return messages
                messages.append(message)
        finally:
            conn.call("CONFIG", "SET", "notify-keyspace-events", "")


EVENTS_SCRIPT: list[Command] = [
    ["RPUSH", "l", "a", "b", "c", "d", "e"], ["LPUSH", "l", "z"], ["LPUSHX", "l", "y"], ["RPUSHX", "l", "x"],
    ["RPUSHX", "nokey", "x"], ["LPOP", "l"], ["RPOP", "l", "2"], ["LSET", "l", "0", "q"], ["LINSERT", "l", "AFTER", "q", "r"],
    ["LINSERT", "l", "AFTER", "nothere", "r"], ["LREM", "l", "1", "r"], ["LREM", "l", "1", "nothere"],
    ["LTRIM", "l", "0", "-1"], ["LMOVE", "l", "m", "LEFT", "RIGHT"], ["RPOPLPUSH", "l", "m"], ["LMPOP", "1", "l", "LEFT"],
    ["BLPOP", "m", "0"], ["BRPOP", "m", "0"], ["BLMOVE", "l", "m", "RIGHT", "LEFT", "0"], ["BRPOPLPUSH", "m", "l", "0"],
    ["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "10"], ["RPUSH", "t", "1", "2"], ["LTRIM", "t", "5", "6"],
    ["RPUSH", "t", "1"], ["LREM", "t", "0", "1"], ["RPUSH", "s", "1"], ["LMOVE", "s", "s", "LEFT", "RIGHT"],
    ["LMOVE", "s", "d", "LEFT", "RIGHT"], ["LPOP", "d", "0"], ["LPOP", "d", "5"],
]  # fmt: skip


def test_keyspace_events(our_port: int, real_redis_port: int) -> None:
    assert _events(our_port, EVENTS_SCRIPT) == _events(real_redis_port, EVENTS_SCRIPT)


# -- random sequences -----------------------------------------------------------------------------------

_KEYS = st.sampled_from(["k1", "k2", "k3"])
_ELEMENTS = st.sampled_from(["a", "b", "c", "1", ""])
_INDEXES = st.integers(min_value=-6, max_value=6).map(str)
_SIDES = st.sampled_from(["LEFT", "RIGHT"])


def _list_command() -> st.SearchStrategy[list[str]]:
    return st.one_of(
        st.tuples(st.sampled_from(["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]), _KEYS, st.lists(_ELEMENTS, min_size=1, max_size=4))
        .map(lambda t: [t[0], t[1], *t[2]]),
        st.tuples(st.sampled_from(["LPOP", "RPOP"]), _KEYS).map(list),
        st.tuples(st.sampled_from(["LPOP", "RPOP"]), _KEYS, st.integers(0, 4).map(str)).map(list),
        st.tuples(st.just("LRANGE"), _KEYS, _INDEXES, _INDEXES).map(list),
        st.tuples(st.just("LTRIM"), _KEYS, _INDEXES, _INDEXES).map(list),
        st.tuples(st.just("LINDEX"), _KEYS, _INDEXES).map(list),
        st.tuples(st.just("LSET"), _KEYS, _INDEXES, _ELEMENTS).map(list),
        st.tuples(st.just("LREM"), _KEYS, st.integers(-3, 3).map(str), _ELEMENTS).map(list),
        st.tuples(st.just("LINSERT"), _KEYS, st.sampled_from(["BEFORE", "AFTER"]), _ELEMENTS, _ELEMENTS).map(list),
        st.tuples(st.just("LPOS"), _KEYS, _ELEMENTS, st.sampled_from(["RANK", "COUNT", "MAXLEN"]), st.integers(-2, 3).map(str))
        .map(list),
        st.tuples(st.just("LMOVE"), _KEYS, _KEYS, _SIDES, _SIDES).map(list),
        st.tuples(st.just("LMPOP"), st.just("2"), _KEYS, _KEYS, _SIDES, st.just("COUNT"), st.integers(1, 3).map(str))
        .map(list),
        st.tuples(st.just("LLEN"), _KEYS).map(list),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_list_command(), min_size=5, max_size=30))
def test_random_sequences(our_port: int, real_redis_port: int, script: list[list[str]]) -> None:
    assert_same(our_port, real_redis_port, [*script, ["LRANGE", "k1", "0", "-1"], ["LRANGE", "k2", "0", "-1"]], resps=(2,))


def test_pipelined_script_matches(our_port: int, real_redis_port: int) -> None:
    """The whole push/pop script sent as one pipeline gets the same bytes back."""
    payload = b"".join(encode_command(cmd) for cmd in PUSH_POP_SCRIPT)

    def run(port: int) -> list[bytes]:
        with RawClient(port) as conn:
            conn.call("FLUSHALL")
            conn.send_raw(payload)
            return [conn.read_reply()[1] for _ in PUSH_POP_SCRIPT]

    assert run(our_port) == run(real_redis_port)
