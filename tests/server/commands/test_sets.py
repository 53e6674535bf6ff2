"""Set command handlers, tested without sockets: a Node, a Client, the dispatch pipeline.

Expected values are facts of Redis's documented behaviour (encodings, event names, the
count rules of SPOP/SRANDMEMBER, SSCAN's guarantee) or come from an independent model
(Python's own set algebra); byte-exact replies are checked against the real server in
tests/integration/test_diff_sets.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import ErrorReply, SetReply
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands.sets import SetValue, set_encoding
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.node import Node


def make_env() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)
    events: list[tuple[str, str, bytes]] = []
    node.notify_keyspace_event = lambda cls, event, key, dbid: events.append((cls, event, key))  # type: ignore[method-assign]

    def run(*words: str | bytes | int) -> Any:
        args = [w if isinstance(w, bytes) else str(w).encode() for w in words]
        return process_command(client, args)

    run.node = node  # type: ignore[attr-defined]
    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


@pytest.fixture
def env() -> Any:
    return make_env()


def test_intset_encoding_rules(env: Any) -> None:
    env("SADD", "s", "1", "-2", "9223372036854775807")
    assert set_encoding(env.db.get(b"s")) == "intset"
    env("SADD", "s", "007")  # not the canonical spelling of 7
    assert set_encoding(env.db.get(b"s")) == "hashtable"
    env("SREM", "s", "007")
    assert set_encoding(env.db.get(b"s")) == "hashtable"  # never converted back
    env("SADD", "t", "9223372036854775808")  # does not fit in 64 bits
    assert set_encoding(env.db.get(b"t")) == "hashtable"
    env("CONFIG", "SET", "set-max-intset-entries", "3")
    env("SADD", "u", "1", "2", "3")
    assert set_encoding(env.db.get(b"u")) == "intset"
    env("SADD", "u", "4")
    assert set_encoding(env.db.get(b"u")) == "hashtable"


def test_intsets_reply_in_numeric_order(env: Any) -> None:
    env("SADD", "s", "10", "-3", "2", "100")
    assert env("SMEMBERS", "s") == [b"-3", b"2", b"10", b"100"]
    assert type(env("SMEMBERS", "s")) is SetReply
    assert env("SSCAN", "s", "0") == [b"0", [b"-3", b"2", b"10", b"100"]]


def test_events_and_emptied_sets_are_deleted(env: Any) -> None:
    env("SADD", "s", "a", "b")
    env("SADD", "s", "a")  # nothing added: no event
    env("SREM", "s", "a", "b", "c")
    assert b"s" not in env.db.data
    env("SADD", "x", "m")
    env("SMOVE", "x", "y", "m")
    env("SADD", "p", "1")
    env("SPOP", "p")
    env("SADD", "q", "1", "2")
    env("SINTERSTORE", "d", "q", "q")
    env("SUNIONSTORE", "d", "q")
    env("SDIFFSTORE", "d", "q", "q")
    assert env.events == [
        ("s", "sadd", b"s"), ("s", "srem", b"s"), ("g", "del", b"s"),
        ("s", "sadd", b"x"), ("s", "srem", b"x"), ("g", "del", b"x"), ("s", "sadd", b"y"),
        ("s", "sadd", b"p"), ("s", "spop", b"p"), ("g", "del", b"p"),
        ("s", "sadd", b"q"), ("s", "sinterstore", b"d"), ("s", "sunionstore", b"d"), ("g", "del", b"d"),
    ]  # fmt: skip


def test_dirty_counts_each_member(env: Any) -> None:
    before = env.node.dirty
    env("SADD", "s", "a", "b", "c", "a")
    assert env.node.dirty - before == 3


def test_wrong_type(env: Any) -> None:
    env("SET", "str", "v")
    for command in (["SADD", "str", "a"], ["SMEMBERS", "str"], ["SINTER", "nokey", "str"], ["SSCAN", "str", "0"]):
        assert env(*command) == ErrorReply(errors.WRONGTYPE)


@given(
    st.lists(st.sets(st.sampled_from(["1", "2", "3", "a", "b", "c", "-7", "10"])), min_size=1, max_size=4),
)
def test_algebra_matches_python_sets(groups: list[set[str]]) -> None:
    env = make_env()
    keys = []
    for i, group in enumerate(groups):
        key = f"k{i}"
        keys.append(key)
        if group:
            env("SADD", key, *group)
    as_bytes = [{m.encode() for m in g} for g in groups]
    assert set(env("SINTER", *keys)) == set.intersection(*as_bytes)
    assert set(env("SUNION", *keys)) == set.union(*as_bytes)
    assert set(env("SDIFF", *keys)) == as_bytes[0].difference(*as_bytes[1:])
    assert env("SINTERCARD", len(keys), *keys) == len(set.intersection(*as_bytes))
    assert env("SINTERCARD", len(keys), *keys, "LIMIT", 1) == min(1, len(set.intersection(*as_bytes)))
    assert env("SUNIONSTORE", "dest", *keys) == len(set.union(*as_bytes))


def test_spop_with_count_removes_what_it_returns(env: Any) -> None:
    members = {f"m{i}".encode() for i in range(50)}
    env("SADD", "s", *members)
    for count in (1, 7, 30):  # the last one takes "most of the set": the rebuild strategy
        before = set(env.db.get(b"s").members)
        popped = env("SPOP", "s", count)
        after = set(env.db.get(b"s").members) if env.db.get(b"s") else set()
        assert type(popped) is SetReply and len(set(popped)) == len(popped) == min(count, len(before))
        assert set(popped) | after == before and not set(popped) & after
    assert env("SPOP", "s", 100) and b"s" not in env.db.data


def test_spop_rebuild_gives_back_an_intset(env: Any) -> None:
    env("SADD", "s", *range(20), "x")
    env("SREM", "s", "x")
    assert set_encoding(env.db.get(b"s")) == "hashtable"
    env("SPOP", "s", 18)  # 2 left: Redis builds a new set from the survivors
    assert set_encoding(env.db.get(b"s")) == "intset"


def test_srandmember_count_rules(env: Any) -> None:
    env("SADD", "s", "a", "b", "c", "d")
    distinct = env("SRANDMEMBER", "s", 3)
    assert len(distinct) == len(set(distinct)) == 3
    assert sorted(env("SRANDMEMBER", "s", 10)) == [b"a", b"b", b"c", b"d"]
    repeated = env("SRANDMEMBER", "s", -20)
    assert len(repeated) == 20 and set(repeated) <= {b"a", b"b", b"c", b"d"}
    assert env("SRANDMEMBER", "s") in {b"a", b"b", b"c", b"d"}
    assert env("SCARD", "s") == 4


def test_srandmember_is_roughly_uniform(env: Any) -> None:
    env("SADD", "s", *range(10))
    counts: dict[bytes, int] = {}
    for member in env("SRANDMEMBER", "s", -10000):
        counts[member] = counts.get(member, 0) + 1
    assert len(counts) == 10 and all(700 < n < 1300 for n in counts.values())


@settings(max_examples=15, deadline=None)
@given(st.data())
def test_sscan_returns_every_member_present_for_the_whole_scan(data: st.DataObject) -> None:
    """SSCAN's guarantee, with members added and removed between the calls."""
    env = make_env()
    stable = {f"s{i}".encode() for i in range(data.draw(st.integers(0, 120)))}
    churn = [f"c{i}".encode() for i in range(60)]
    env("SADD", "k", "x", *stable)  # "x": never an intset
    seen: set[bytes] = set()
    cursor = b"0"
    for _ in range(1000):
        cursor, page = env("SSCAN", "k", cursor, "COUNT", data.draw(st.integers(1, 15)))
        seen.update(page)
        if cursor == b"0":
            break
        env("SADD", "k", *data.draw(st.lists(st.sampled_from(churn), max_size=10)))
        env("SREM", "k", *data.draw(st.lists(st.sampled_from(churn), min_size=1, max_size=10)))
    assert cursor == b"0"
    assert stable <= seen


def test_value_copy_is_independent() -> None:
    original = SetValue({b"1", b"2"}, intset=True)
    clone = original.copy()
    clone.members.add(b"3")
    assert original.members == {b"1", b"2"} and clone.intset
