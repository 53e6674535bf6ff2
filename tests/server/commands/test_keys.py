"""Generic key command handlers without sockets (Node + Client + dispatch pipeline).

Expected values are facts of Redis's documented behaviour and of C's strtoul; the
byte-exact replies are checked against the real server in
tests/integration/test_diff_keys.py. Here: what needs a controlled clock or internal
state (frozen time, active expiry from the cron, access times, LFU, deep copies).
"""

from __future__ import annotations

from typing import Any

import pytest

from pyredis_cluster.protocol.encoder import OK, ErrorReply, Status
from pyredis_cluster.server import errors
from pyredis_cluster.server.commands import keys
from pyredis_cluster.server.commands.lists import new_list
from pyredis_cluster.server.commands.sets import SetValue
from pyredis_cluster.server.commands.sorted_sets import ZSetValue
from pyredis_cluster.server.dispatch import process_command
from pyredis_cluster.server.errors import CommandError
from pyredis_cluster.server.node import Node


@pytest.fixture
def env() -> Any:
    node = Node()
    client = node.new_client(lambda data: None)
    events: list[tuple[str, str, bytes, int]] = []
    node.notify_keyspace_event = lambda cls, event, key, dbid: events.append((cls, event, key, dbid))  # type: ignore[method-assign]

    def run(*words: str | bytes) -> Any:
        return process_command(client, [w if isinstance(w, bytes) else w.encode() for w in words])

    run.node = node  # type: ignore[attr-defined]
    run.db = node.keyspace[0]  # type: ignore[attr-defined]
    run.events = events  # type: ignore[attr-defined]
    return run


@pytest.fixture
def clock(monkeypatch) -> Any:
    """A settable wall clock (time.time) for the dispatcher, which freezes it per command,
    for keys.py, which reads it where Redis reads mstime(), and for the node's cron."""

    class Clock:
        now = 1_700_000_000.0

        def time(self) -> float:
            return self.now

    fake = Clock()
    monkeypatch.setattr("time.time", fake.time)
    return fake


# -- SCAN cursors: C's strtoul --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0), (b"", 0), (b"42", 42), (b"+42", 42), (b"0042", 42), (b"-1", 2**64 - 1),
        (b"-18446744073709551615", 1), (b"18446744073709551615", 2**64 - 1), (b"7\x00junk", 7),
        (b"\x00", 0),
    ],
)  # fmt: skip
def test_scan_cursor_reads_like_strtoul(text, value):
    assert keys.parse_scan_cursor(text) == value


@pytest.mark.parametrize("text", [b" 1", b"\t1", b"1 ", b"x", b"1x", b"+", b"-", b"0x10", b"1.0", b"18446744073709551616",
                                  b"-18446744073709551616", b"+-1"])  # fmt: skip
def test_scan_cursor_errors(text):
    with pytest.raises(CommandError) as err:
        keys.parse_scan_cursor(text)
    assert err.value.reply == errors.INVALID_CURSOR


# -- time: frozen per command, read from the clock where Redis reads it ------------------------


def test_ttl_counts_down_with_the_clock_and_the_key_expires(env, clock):
    env("SET", "k", "v")
    assert env("EXPIRE", "k", "10") == 1
    assert env("TTL", "k") == 10
    clock.now += 4.4
    assert env("TTL", "k") == 6  # 5.6 s left, rounded to the nearest second
    assert env("PTTL", "k") == 5600
    assert env("EXPIRETIME", "k") == 1_700_000_010
    assert env("PEXPIRETIME", "k") == 1_700_000_010_000
    clock.now += 5.6
    assert env("GET", "k") is None
    assert env("TTL", "k") == -2
    assert ("x", "expired", b"k", 0) in env.events
    assert env.node.keyspace.expired_keys == 1


def test_active_expiry_runs_from_the_cron(env, clock):
    for i in range(10):
        env("SET", f"k{i}", "v", "PX", "100")
    env("SET", "stays", "v")
    clock.now += 0.05
    env.node.cron()
    assert len(env.db) == 11
    clock.now += 0.05
    env.node.cron()
    assert set(env.db.data) == {b"stays"}
    assert env.node.keyspace.expired_keys == 10
    assert [e for e in env.events if e[1] == "expired"] == [
        ("x", "expired", b"k%d" % i, 0) for i in range(10)
    ]


# -- the EXPIRE family ---------------------------------------------------------------------------


def test_expire_in_the_past_deletes_and_reports_del(env):
    env("SET", "k", "v")
    env.events.clear()
    assert env("EXPIRE", "k", "-1") == 1
    assert env.events == [("g", "del", b"k", 0)]
    assert env.node.keyspace.expired_keys == 0
    assert env("EXPIRE", "k", "10") == 0


def test_expire_on_a_replica_stores_a_past_time_instead(env):
    env("SET", "k", "v")
    env.node.keyspace.is_replica = True
    assert env("PEXPIREAT", "k", "1") == 1
    assert env.db.get_expire(b"k") == 1
    assert b"k" in env.db.data  # hidden, waiting for the primary's DEL
    assert env("EXISTS", "k") == 0


def test_expire_option_conflicts_are_reported_before_the_number(env):
    assert env("EXPIRE", "k", "abc", "NX", "XX") == ErrorReply(errors.EXPIRE_NX_CONFLICT)
    assert env("EXPIRE", "k", "abc", "GT", "LT") == ErrorReply(errors.EXPIRE_GT_LT_CONFLICT)
    assert env("EXPIRE", "k", "abc", "Foo") == ErrorReply("ERR Unsupported option Foo")
    assert env("EXPIRE", "k", "abc") == ErrorReply(errors.NOT_INTEGER)


# -- RENAME / MOVE / COPY --------------------------------------------------------------------------


def test_rename_events_and_blocking_readiness(env):
    env("SET", "a", "1")
    env.events.clear()
    assert env("RENAME", "a", "b") == OK
    assert env.events == [("g", "rename_from", b"a", 0), ("g", "rename_to", b"b", 0)]


def test_move_events_name_each_database(env):
    env("SET", "a", "1")
    env.events.clear()
    assert env("MOVE", "a", "3") == 1
    assert env.events == [("g", "move_from", b"a", 0), ("g", "move_to", b"a", 3)]
    assert env.node.keyspace[3].get(b"a") == b"1"


def test_move_and_copy_db_are_refused_in_cluster_mode(env):
    env.node.config.cluster_enabled = True
    env("SET", "a", "1")
    assert env("MOVE", "a", "1") == ErrorReply(errors.MOVE_IN_CLUSTER)
    assert env("COPY", "a", "b", "DB", "1") == ErrorReply(errors.COPY_DB_IN_CLUSTER)
    assert env("COPY", "a", "b", "DB", "0") == 1


def test_copy_values_are_independent(env):
    db = env.db
    zset = ZSetValue()
    zset.insert(b"m", 1.0)
    db.add(b"z", zset)
    db.add(b"l", new_list([b"a", b"b"]))
    db.add(b"s", SetValue({b"x"}, intset=False))
    for key in (b"z", b"l", b"s"):
        assert env("COPY", key, key + b"2") == 1
        original, duplicate = db.data[key], db.data[key + b"2"]
        assert duplicate is not original and type(duplicate) is type(original)
    db.data[b"z2"].insert(b"n", 2.0)
    db.data[b"l2"].append(b"c")
    db.data[b"s2"].members.add(b"y")
    assert len(db.data[b"z"]) == 1 and list(db.data[b"l"]) == [b"a", b"b"] and db.data[b"s"].members == {b"x"}


def test_copy_value_of_strings_shares_the_immutable_bytes():
    value = b"abc"
    assert keys.copy_value(value) is value


# -- TYPE, KEYS, SCAN, RANDOMKEY ---------------------------------------------------------------


def test_type_names(env):
    env("SET", "s", "v")
    env("SADD", "set", "a")
    env("RPUSH", "list", "a")
    env("ZADD", "z", "1", "a")
    assert [env("TYPE", k) for k in ("s", "set", "list", "z", "nokey")] == [
        Status("string"), Status("set"), Status("list"), Status("zset"), Status("none"),
    ]  # fmt: skip


def test_keys_skips_expired_keys_without_deleting_them(env, clock):
    env("SET", "a", "1")
    env("SET", "b", "1", "PX", "5")
    clock.now += 1
    assert env("KEYS", "*") == [b"a"]
    assert b"b" in env.db.data
    assert env("SCAN", "0") == [b"0", [b"a"]]  # SCAN expires what it meets
    assert b"b" not in env.db.data


def test_scan_type_and_match_filters_apply_after_the_page(env):
    for i in range(30):
        env("SET", f"str:{i}", "v")
        env("SADD", f"set:{i}", "m")
    cursor, seen = b"0", []
    while True:
        cursor, page = env("SCAN", cursor, "COUNT", "4", "TYPE", "SET", "MATCH", "*:1*")
        assert len(page) <= 5
        seen += page
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(b"set:%d" % i for i in range(30) if str(i).startswith("1"))


def test_randomkey_on_empty_and_single_key_databases(env):
    assert env("RANDOMKEY") is None
    env("SET", "only", "v")
    assert env("RANDOMKEY") == b"only"


# -- OBJECT ------------------------------------------------------------------------------------------


def test_object_idletime_follows_accesses_but_not_notouch_lookups(env, clock):
    env("SET", "k", "v")
    clock.now += 30
    for command in (["TYPE", "k"], ["EXISTS", "k"], ["TTL", "k"], ["OBJECT", "ENCODING", "k"]):
        env(*command)
    assert env("OBJECT", "IDLETIME", "k") == 30
    env("GET", "k")
    assert env("OBJECT", "IDLETIME", "k") == 0
    clock.now += 5
    env("TOUCH", "k")
    assert env("OBJECT", "IDLETIME", "k") == 0


def test_object_freq_under_an_lfu_policy(env):
    assert env("SET", "k", "v") == OK
    assert env("OBJECT", "FREQ", "k") == ErrorReply(errors.OBJECT_FREQ_WITHOUT_LFU)
    env.node.config.maxmemory_policy = "allkeys-lfu"
    assert env("OBJECT", "IDLETIME", "k") == ErrorReply(errors.OBJECT_IDLETIME_UNDER_LFU)
    env("SET", "fresh", "v")
    assert env("OBJECT", "FREQ", "fresh") == 5  # LFU_INIT_VAL for a new key
    for _ in range(300):
        env("GET", "fresh")
    assert env("OBJECT", "FREQ", "fresh") > 5


def test_object_encoding_asks_the_type_modules(env):
    env("SET", "n", "12")
    env("SET", "s", "x" * 44)
    env("SET", "r", "x" * 45)
    env("SADD", "i", "1")
    env("RPUSH", "l", "a")
    assert [env("OBJECT", "ENCODING", k) for k in ("n", "s", "r", "i", "l", "nokey")] == [
        b"int", b"embstr", b"raw", b"intset", b"quicklist", None,
    ]  # fmt: skip
    assert env("OBJECT", "REFCOUNT", "n") == keys.SHARED_REFCOUNT
    assert env("OBJECT", "REFCOUNT", "s") == 1
