"""Hash command handlers, tested without sockets: a Node, a Client, the dispatch pipeline.

Expected values are documented facts of Redis (encoding thresholds, event names,
HINCRBYFLOAT's documented examples, HRANDFIELD's count rules, HSCAN's guarantee) or
come from an independent model (a Python dict); byte-exact replies are checked against
the real server in tests/integration/test_diff_hashes.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyredis_cluster.protocol.encoder import OK, ErrorReply, Map
from pyredis_cluster.server.commands.hashes import HashValue, hash_encoding
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

    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    run.client = client  # type: ignore[attr-defined]
    return run


@pytest.fixture
def env() -> Any:
    return make_env()


def test_encoding_thresholds(env: Any) -> None:
    env("HSET", "h", "f", "x" * 64)
    assert hash_encoding(env.db.get(b"h")) == "listpack"  # 64 bytes is still small
    env("HSET", "h", "g", "x" * 65)
    assert hash_encoding(env.db.get(b"h")) == "hashtable"
    env("HDEL", "h", "g")
    assert hash_encoding(env.db.get(b"h")) == "hashtable"  # never converted back
    env("HSET", "many", *[w for i in range(512) for w in (f"f{i}", "v")])
    assert hash_encoding(env.db.get(b"many")) == "listpack"  # 512 entries fit
    env("HSET", "many", "one-more", "v")
    assert hash_encoding(env.db.get(b"many")) == "hashtable"
    env("HINCRBY", "inc", "f" * 65, "1")  # HINCRBY's field counts too
    assert hash_encoding(env.db.get(b"inc")) == "hashtable"


def test_copy_keeps_the_encoding(env: Any) -> None:
    env("HSET", "h", "f", "x" * 100)
    value = env.db.get(b"h")
    duplicate = value.copy()
    assert type(duplicate) is HashValue and duplicate == value and duplicate is not value
    assert hash_encoding(duplicate) == "hashtable"


def test_replies_and_order(env: Any) -> None:
    assert env("HSET", "h", "b", "1", "a", "2", "b", "3") == 2  # b counted once
    assert env("HMSET", "h", "c", "4") == OK
    assert env("HSETNX", "h", "a", "x") == 0 and env("HSETNX", "h", "d", "5") == 1
    reply = env("HGETALL", "h")
    assert type(reply) is Map and reply.items == [(b"b", b"3"), (b"a", b"2"), (b"c", b"4"), (b"d", b"5")]
    assert env("HDEL", "h", "a", "a", "zz") == 1
    assert env("HKEYS", "h") == [b"b", b"c", b"d"] and env("HVALS", "h") == [b"3", b"4", b"5"]
    assert env("HMGET", "nokey", "a", "b") == [None, None]


def test_hincrbyfloat_documented_examples(env: Any) -> None:
    # The examples of the HINCRBYFLOAT documentation.
    env("HSET", "mykey", "field", "10.50")
    assert env("HINCRBYFLOAT", "mykey", "field", "0.1") == b"10.6"
    assert env("HINCRBYFLOAT", "mykey", "field", "-5") == b"5.6"
    env("HSET", "mykey", "field", "5.0e3")
    assert env("HINCRBYFLOAT", "mykey", "field", "2.0e2") == b"5200"


def test_counter_errors(env: Any) -> None:
    env("HSET", "h", "s", "abc", "max", "9223372036854775807")
    assert env("HINCRBY", "h", "s", "1") == ErrorReply("ERR hash value is not an integer")
    assert env("HINCRBY", "h", "max", "1") == ErrorReply("ERR increment or decrement would overflow")
    assert env("HINCRBYFLOAT", "h", "s", "1") == ErrorReply("ERR hash value is not a float")
    assert env("HINCRBYFLOAT", "h", "f", "inf") == ErrorReply("ERR value is NaN or Infinity")
    assert env("HGET", "h", "max") == b"9223372036854775807"


def test_events_and_deletion_of_an_emptied_hash(env: Any) -> None:
    env("HSET", "h", "a", "1")
    env("HSETNX", "h", "b", "2")
    env("HSETNX", "h", "b", "2")  # nothing written: no event
    env("HINCRBY", "h", "a", "1")
    env("HINCRBYFLOAT", "h", "a", "1")
    env("HDEL", "h", "nothere")  # nothing deleted: no event
    env("HDEL", "h", "a", "b")
    assert env.events == [
        ("h", "hset", b"h"), ("h", "hset", b"h"), ("h", "hincrby", b"h"), ("h", "hincrbyfloat", b"h"),
        ("h", "hdel", b"h"), ("g", "del", b"h"),
    ]  # fmt: skip
    assert env("EXISTS", "h") == 0


def test_hrandfield_count_rules(env: Any) -> None:
    fields = {b"f%d" % i: b"v%d" % i for i in range(10)}
    env("HSET", "h", *[w for pair in fields.items() for w in pair])
    distinct = env("HRANDFIELD", "h", "6")
    assert len(distinct) == 6 == len(set(distinct)) and set(distinct) <= set(fields)
    assert env("HRANDFIELD", "h", "50") == list(fields)  # the whole hash, in its order
    repeated = env("HRANDFIELD", "h", "-40")
    assert len(repeated) == 40 and set(repeated) <= set(fields)
    flat = env("HRANDFIELD", "h", "3", "WITHVALUES")
    assert len(flat) == 6 and all(fields[f] == v for f, v in zip(flat[::2], flat[1::2]))
    env.client.resp = 3
    pairs = env("HRANDFIELD", "h", "-3", "WITHVALUES")
    assert all(type(p) is list and fields[p[0]] == p[1] for p in pairs)


def _scan_all(env: Any, key: str, during: Any = None, count: int = 10) -> set[bytes]:
    cursor, seen, step = b"0", set(), 0
    while True:
        cursor, flat = env("HSCAN", key, cursor, "COUNT", count)
        seen.update(flat[::2])
        if during is not None:
            during(step)
        step += 1
        if cursor == b"0":
            return seen


def test_small_hash_scans_whole_with_cursor_zero(env: Any) -> None:
    env("HSET", "h", "a", "1", "b", "2")
    assert env("HSCAN", "h", "999", "COUNT", "1") == [b"0", [b"a", b"1", b"b", b"2"]]


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 30))
def test_hscan_returns_every_field_present_throughout_despite_writes(seed: int, count: int) -> None:
    """SCAN's guarantee: fields present from start to end are all returned, even while
    other fields are added and removed between calls."""
    env = make_env()
    stable = [b"stable:%d" % i for i in range(300)]
    env("HSET", "h", *[w for f in stable for w in (f, b"v")])

    def churn(step: int) -> None:
        env("HSET", "h", *[w for i in range(5) for w in (b"new:%d:%d:%d" % (seed, step, i), b"v")])
        env("HDEL", "h", *[b"new:%d:%d:%d" % (seed, step - 1, i) for i in range(3)])

    seen = _scan_all(env, "h", churn, count)
    assert set(stable) <= seen


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["HSET", "HDEL", "HSETNX", "HINCRBY"]), st.sampled_from(["a", "b", "c"]),
                          st.integers(-3, 3)), max_size=30))  # fmt: skip
def test_commands_agree_with_a_dict_model(ops: list[tuple[str, str, int]]) -> None:
    env = make_env()
    model: dict[bytes, bytes] = {}
    for name, field, number in ops:
        f, v = field.encode(), str(number).encode()
        if name == "HSET":
            expected: Any = int(f not in model)
            model[f] = v
        elif name == "HSETNX":
            expected = int(f not in model)
            model.setdefault(f, v)
        elif name == "HDEL":
            expected = int(model.pop(f, None) is not None)
        else:
            model[f] = expected = str(int(model.get(f, b"0")) + number).encode()
            expected = int(expected)
        assert env(name, "k", field, *([] if name == "HDEL" else [number])) == expected
        got = env("HGETALL", "k").items
        assert got == list(model.items())
        assert env("EXISTS", "k") == (1 if model else 0)
