"""Sorted set command handlers, tested without sockets: a Node, a Client, the dispatch pipeline.

Expected values are facts (C's strtod, Redis's documented ordering, range and encoding
rules, event names) or come from an independent model (a plain dict of scores, sorted
with Python's ``sorted``); byte-exact replies are checked against the real server in
tests/integration/test_diff_sorted_sets.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import NULL_ARRAY, Double, ErrorReply
from pyredis_cluster.server import errors
from pyredis_cluster.server.client import Blocked
from pyredis_cluster.server.command_table import all_commands
from pyredis_cluster.server.commands.sorted_sets import (
    ScoreRange,
    ZSetValue,
    parse_score,
    strtod_whole,
    zset_encoding,
)
from pyredis_cluster.server.dispatch import call, process_command, resolve
from pyredis_cluster.server.errors import CommandError
from pyredis_cluster.server.node import Node


def make_env() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)
    events: list[tuple[str, str, bytes]] = []
    node.notify_keyspace_event = lambda cls, event, key, dbid: events.append((cls, event, key))  # type: ignore[method-assign]

    def run(*words: str | bytes | int | float) -> Any:
        args = [w if isinstance(w, bytes) else str(w).encode() for w in words]
        return process_command(client, args)

    run.node = node  # type: ignore[attr-defined]
    run.client = client  # type: ignore[attr-defined]
    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


@pytest.fixture
def env() -> Any:
    return make_env()


# -- number parsing: C's strtod and Redis's checks ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [(b"1", 1.0), (b"-2.5", -2.5), (b".5", 0.5), (b"5.", 5.0), (b"+3", 3.0), (b"1e3", 1000.0), (b"0x10", 16.0),
     (b"0X1P-2", 0.25), (b"-0x.8", -0.5), (b"inf", math.inf), (b"-Infinity", -math.inf), (b"4e-320", 4e-320)],
)  # fmt: skip
def test_scores_strtod_accepts(text: bytes, value: float) -> None:
    assert parse_score(text) == value


@pytest.mark.parametrize(
    "text",
    [b"", b" 1", b"1 ", b"1_0", b"nan", b"-nan", b"1e", b"0x", b"1p3", b"abc", b"1e400", b"-1e400", b"1e-400",
     b"0x1p-2000", b"1\x00", b"\xd9\xa1"],
)  # fmt: skip
def test_scores_strtod_rejects(text: bytes) -> None:
    with pytest.raises(CommandError):
        parse_score(text)


def test_strtod_range_errors() -> None:
    assert strtod_whole(b"1e400") == (math.inf, True)
    assert strtod_whole(b"1e-400") == (0.0, True)
    assert strtod_whole(b"0e-400") == (0.0, False)  # a zero is not an underflow
    assert strtod_whole(b"0x0p-5000") == (0.0, False)


def test_score_range_bounds() -> None:
    closed = ScoreRange(b"1", b"(2")
    assert (closed.min, closed.minex, closed.max, closed.maxex) == (1.0, False, 2.0, True)
    assert ScoreRange(b"", b"(").min == 0.0  # strtod of nothing is 0, and Redis only checks the end
    assert ScoreRange(b" 5", b"1e400").max == math.inf  # leading space and overflow are fine here
    assert ScoreRange(b"(1", b"(1").is_empty() and not ScoreRange(b"1", b"1").is_empty()
    for bad in (b"x", b"(x", b"1 ", b" ", b"nan"):
        with pytest.raises(CommandError):
            ScoreRange(bad, b"1")


# -- ordering and ranges against a model -------------------------------------------------------------

_member = st.binary(min_size=0, max_size=3)
_score = st.one_of(st.integers(-3, 3).map(float), st.floats(allow_nan=False), st.sampled_from([-0.0, math.inf]))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_score, _member), min_size=1, max_size=30), st.integers(-3, 3), st.integers(-3, 3))
def test_zadd_and_ranges_match_a_model(pairs: list[tuple[float, bytes]], low: int, high: int) -> None:
    env = make_env()
    model: dict[bytes, float] = {}
    for score, member in pairs:
        model[member] = score
        env("ZADD", "z", repr(score), member)
    ordered = sorted((score, member) for member, score in model.items())
    assert env("ZRANGE", "z", "0", "-1") == [m for _, m in ordered]
    assert env("ZREVRANGE", "z", "0", "-1") == [m for _, m in reversed(ordered)]
    assert env("ZCARD", "z") == len(model)
    in_range = [m for s, m in ordered if low <= s <= high]
    assert env("ZRANGEBYSCORE", "z", low, high) == in_range
    assert env("ZCOUNT", "z", low, high) == len(in_range)
    assert env("ZRANGEBYSCORE", "z", f"({low}", f"({high}") == [m for s, m in ordered if low < s < high]
    assert env("ZREVRANGEBYSCORE", "z", high, low) == in_range[::-1]
    for rank, (_, member) in enumerate(ordered):
        assert env("ZRANK", "z", member) == rank
        assert env("ZREVRANK", "z", member) == len(ordered) - 1 - rank


def test_members_with_equal_scores_order_by_bytes(env: Any) -> None:
    env("ZADD", "z", "1", "b", "1", "a", "1", "ab", "1", "", "0", "z", "1", b"\xff")
    assert env("ZRANGE", "z", "0", "-1") == [b"z", b"", b"a", b"ab", b"b", b"\xff"]


def test_lex_ranges(env: Any) -> None:
    env("ZADD", "z", *[x for m in ["a", "b", "c", "d", "e"] for x in ("0", m)])
    assert env("ZRANGEBYLEX", "z", "[b", "(d") == [b"b", b"c"]
    assert env("ZRANGEBYLEX", "z", "-", "+", "LIMIT", 1, 2) == [b"b", b"c"]
    assert env("ZREVRANGEBYLEX", "z", "+", "(c") == [b"e", b"d"]
    assert env("ZLEXCOUNT", "z", "(a", "[e") == 4
    assert env("ZRANGEBYLEX", "z", "b", "+") == ErrorReply(errors.ZSET_LEX_RANGE_INVALID)


def test_zadd_flags(env: Any) -> None:
    env("ZADD", "z", "10", "a")
    assert env("ZADD", "z", "GT", "CH", "5", "a", "1", "new") == 1  # only "new"
    assert env("ZSCORE", "z", "a") == Double(10.0)
    assert env("ZADD", "z", "LT", "CH", "5", "a") == 1
    assert env("ZADD", "z", "XX", "1", "absent") == 0 and env("ZSCORE", "z", "absent") is None
    assert env("ZADD", "z", "NX", "INCR", "1", "a") is None
    assert env("ZADD", "z", "INCR", "2.5", "a") == Double(7.5)
    assert env("ZADD", "z", "NX", "XX", "1", "a") == ErrorReply(errors.ZADD_XX_NX)
    assert env("ZADD", "z", "GT", "LT", "1", "a") == ErrorReply(errors.ZADD_GT_LT_NX)
    assert env("ZADD", "z", "INCR", "1", "a", "1", "b") == ErrorReply(errors.ZADD_INCR_PAIRS)


def test_nan_results_are_refused(env: Any) -> None:
    env("ZADD", "z", "inf", "a")
    assert env("ZINCRBY", "z", "-inf", "a") == ErrorReply(errors.ZSET_SCORE_NAN)
    assert env("ZSCORE", "z", "a") == Double(math.inf)


def test_union_and_inter_conventions(env: Any) -> None:
    env("ZADD", "p", "inf", "x")
    env("ZADD", "n", "-inf", "x")
    env("SADD", "s", "x", "y")
    # inf + -inf is NaN: Redis's convention is 0
    assert env("ZUNION", "2", "p", "n", "WITHSCORES") == [b"x", Double(0.0)]
    # plain set members score 1, weights multiply
    assert env("ZUNION", "1", "s", "WEIGHTS", "3", "WITHSCORES") == [b"x", Double(3.0), b"y", Double(3.0)]
    assert env("ZINTER", "2", "s", "p", "AGGREGATE", "MIN", "WITHSCORES") == [b"x", Double(1.0)]
    assert env("ZDIFF", "2", "s", "p") == [b"y"]
    assert env("ZINTERCARD", "2", "s", "s", "LIMIT", "1") == 1


# -- encodings ----------------------------------------------------------------------------------------------


def test_listpack_limits(env: Any) -> None:
    env("ZADD", "z", *[x for i in range(128) for x in (i, f"m{i}")])
    assert zset_encoding(env.db.get(b"z")) == "listpack"
    env("ZADD", "z", "1", "one-more")
    assert zset_encoding(env.db.get(b"z")) == "skiplist"
    env("ZREMRANGEBYRANK", "z", "0", "-10")
    assert zset_encoding(env.db.get(b"z")) == "skiplist"  # never converted back in place
    env("ZUNIONSTORE", "u", "1", "z")
    assert zset_encoding(env.db.get(b"u")) == "listpack"  # an operation's result is sized afresh
    env("ZADD", "long", "1", "x" * 65)
    assert zset_encoding(env.db.get(b"long")) == "skiplist"


def test_negative_zero_survives_only_in_a_skiplist(env: Any) -> None:
    env("ZADD", "lp", "-0", "a")
    assert math.copysign(1.0, env("ZSCORE", "lp", "a")) == 1.0  # listpacks store integers
    env("CONFIG", "SET", "zset-max-listpack-entries", "0")
    env("ZADD", "sl", "-0", "a")
    assert math.copysign(1.0, env("ZSCORE", "sl", "a")) == -1.0


def test_zscan_of_a_listpack_uses_listpack_number_text(env: Any) -> None:
    env("ZADD", "z", "1e17", "big", "2.5", "half", "-0", "zero")
    assert env("ZSCAN", "z", "0") == [b"0", [b"zero", b"0", b"half", b"2.5", b"big", b"100000000000000000"]]


@settings(max_examples=20, deadline=None)
@given(st.data())
def test_zscan_of_a_skiplist_returns_every_member_present_for_the_whole_scan(data: st.DataObject) -> None:
    env = make_env()
    env("CONFIG", "SET", "zset-max-listpack-entries", "0")
    stable = {f"s{i}".encode(): float(i) for i in range(data.draw(st.integers(1, 100)))}
    env("ZADD", "k", *[x for m, s in stable.items() for x in (s, m)])
    seen: dict[bytes, bytes] = {}
    cursor = b"0"
    while True:
        cursor, flat = env("ZSCAN", "k", cursor, "COUNT", data.draw(st.integers(1, 12)))
        seen.update(zip(flat[::2], flat[1::2]))
        if cursor == b"0":
            break
        churn = data.draw(st.lists(st.integers(0, 30), max_size=5))
        env("ZADD", "k", *[x for i in churn for x in (i, f"c{i}")])
        env("ZREM", "k", *[f"c{i}" for i in data.draw(st.lists(st.integers(0, 30), min_size=1, max_size=5))])
    assert all(seen[m] == b"%.17g" % s for m, s in stable.items())


# -- events, pops, blocking ---------------------------------------------------------------------------------


def test_events(env: Any) -> None:
    env("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d")
    env("ZADD", "z", "1", "a")  # no change: no event
    env("ZINCRBY", "z", "1", "a")
    env("ZREM", "z", "a")
    env("ZREMRANGEBYSCORE", "z", "2", "2")
    env("ZREMRANGEBYRANK", "z", "0", "0")
    env("ZPOPMAX", "z")
    env("ZADD", "y", "0", "m")
    env("ZREMRANGEBYLEX", "y", "-", "+")
    assert env.events == [
        ("z", "zadd", b"z"), ("z", "zincr", b"z"), ("z", "zrem", b"z"), ("z", "zremrangebyscore", b"z"),
        ("z", "zremrangebyrank", b"z"), ("z", "zpopmax", b"z"), ("g", "del", b"z"),
        ("z", "zadd", b"y"), ("z", "zremrangebylex", b"y"), ("g", "del", b"y"),
    ]  # fmt: skip


def test_pops_take_from_the_right_end(env: Any) -> None:
    env("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert env("ZPOPMIN", "z") == [b"a", Double(1.0)]
    assert env("ZPOPMAX", "z", "5") == [b"c", Double(3.0), b"b", Double(2.0)]
    assert b"z" not in env.db.data
    env("ZADD", "w", "1", "a", "2", "b")
    assert env("ZMPOP", "2", "nokey", "w", "MAX", "COUNT", "1") == [b"w", [[b"b", Double(2.0)]]]


def _handler_reply(env: Any, *words: str) -> Any:
    """Run a command's handler without the pipeline, which would park a blocked client."""
    args = [w.encode() for w in words]
    spec = resolve(args)
    return call(env.client, spec, args)  # type: ignore[arg-type]


def test_blocking_pops_block_only_on_empty_keys(env: Any) -> None:
    blocked = _handler_reply(env, "BZPOPMIN", "a", "b", "0")
    assert type(blocked) is Blocked and blocked.keys == [b"a", b"b"] and blocked.deadline_ms == 0
    assert blocked.timeout_reply is NULL_ARRAY
    env("ZADD", "b", "5", "x")
    assert env("BZPOPMAX", "a", "b", "0") == [b"b", b"x", Double(5.0)]
    assert env("BZPOPMIN", "a", "-1") == ErrorReply(errors.TIMEOUT_NEGATIVE)
    assert env("BZPOPMIN", "a", "x") == ErrorReply(errors.TIMEOUT_NOT_FLOAT)
    timed = _handler_reply(env, "BZMPOP", "1.5", "1", "a", "MIN")
    assert type(timed) is Blocked and timed.deadline_ms == env.node.keyspace.now_ms + 1500


def test_zrandmember_counts(env: Any) -> None:
    env("ZADD", "z", "1", "a", "2", "b", "3", "c")
    assert sorted(env("ZRANDMEMBER", "z", "2")) in ([b"a", b"b"], [b"a", b"c"], [b"b", b"c"])
    assert len(env("ZRANDMEMBER", "z", "-7")) == 7
    pairs = env("ZRANDMEMBER", "z", "-4", "WITHSCORES")
    assert len(pairs) == 8 and all(pairs[i + 1] == {b"a": 1.0, b"b": 2.0, b"c": 3.0}[pairs[i]] for i in range(0, 8, 2))


def test_value_copy_is_independent() -> None:
    original = ZSetValue()
    original.insert(b"a", 1.0)
    clone = original.copy()
    clone.insert(b"b", 2.0)
    assert len(original) == 1 and list(clone) == [(1.0, b"a"), (2.0, b"b")]


# -- robustness: arbitrary arguments never crash a handler nor break a value's invariants ------------------

#: Every set and sorted set command, from the command table.
_COMMANDS = sorted(spec.name for spec in all_commands() if spec.group in ("set", "sorted-set"))
_TOKENS = [
    b"k", b"s", b"z", b"str", b"0", b"1", b"2", b"-1", b"(1", b"[a", b"(a", b"-", b"+", b"inf", b"-inf", b"nan", b"",
    b"a", b"WITHSCORES", b"LIMIT", b"BYSCORE", b"BYLEX", b"REV", b"NX", b"XX", b"GT", b"INCR", b"WEIGHTS",
    b"AGGREGATE", b"MIN", b"MAX", b"COUNT", b"MATCH", b"*", b"9223372036854775807", b"-9223372036854775808",
    b"1e400", b"0.5", b"\x00", b"18446744073709551615",
]  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_COMMANDS), st.lists(st.sampled_from(_TOKENS), max_size=7)), max_size=40))
def test_arbitrary_arguments_never_crash(commands: list[tuple[str, list[bytes]]]) -> None:
    env = make_env()
    env("SET", "str", "v")
    env("CONFIG", "SET", "zset-max-listpack-entries", "2")  # cross the listpack limit often
    for name, words in commands:
        args = [name.encode(), *words]
        spec = resolve(args)
        if isinstance(spec, ErrorReply):
            continue  # arity: the pipeline answers before any handler runs
        reply = call(env.client, spec, args)
        assert not (isinstance(reply, ErrorReply) and "internal error" in reply), args
        for key, value in env.db.data.items():
            if isinstance(value, ZSetValue):
                assert value.scores and sorted((s, m) for m, s in value.scores.items()) == list(value.order), key
            elif not isinstance(value, bytes):
                assert value.members, key  # Redis never keeps an empty collection
