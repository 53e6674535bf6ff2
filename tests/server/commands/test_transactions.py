"""Transactions without sockets: what the differential tests cannot show from outside
(frozen time, the call path, WATCH bookkeeping), on a Node driven through dispatch."""

from __future__ import annotations

import pytest

from pyredis_cluster.server import dispatch
from pyredis_cluster.server.node import Node
from tests.server.commands.test_pubsub import Wire


@pytest.fixture
def node() -> Node:
    return Node()


def test_time_is_frozen_for_the_whole_exec(node, monkeypatch):
    """Each clock read moves time one second forward; inside EXEC nobody reads it, so a
    key with a 1.5 s TTL set by the transaction survives to its end."""
    clock = [1_700_000_000.0]

    def ticking_time() -> float:
        clock[0] += 1.0
        return clock[0]

    monkeypatch.setattr(dispatch.time, "time", ticking_time)
    c = Wire(node)
    c.send("MULTI")
    c.send("SET", "k", "v", "PX", "1500")
    for _ in range(3):
        c.send("GET", "k")
    assert c.send("EXEC") == b"*4\r\n+OK\r\n$1\r\nv\r\n$1\r\nv\r\n$1\r\nv\r\n"
    c.send("PING")  # outside EXEC the clock moves again: one second per command
    assert c.send("GET", "k") == b"$-1\r\n"


def test_exec_runs_queued_commands_through_call(node, monkeypatch):
    """EXEC does not parse or look up again: it hands the queued (spec, argv) to call()."""
    seen = []
    real_call = dispatch.call

    def spy(c, spec, args):
        seen.append((spec.name, args))
        return real_call(c, spec, args)

    monkeypatch.setattr(dispatch, "call", spy)
    c = Wire(node)
    c.send("MULTI")
    c.send("set", "a", "1")
    c.send("CONFIG", "GET", "maxmemory")
    seen.clear()
    c.send("EXEC")
    assert seen[0][0] == "exec"
    assert seen[1:] == [("set", [b"set", b"a", b"1"]), ("config|get", [b"CONFIG", b"GET", b"maxmemory"])]


def test_watch_bookkeeping_is_released(node):
    a, b = Wire(node), Wire(node)
    a.send("WATCH", "k1", "k2", "k1")
    assert [key for _, key in a.client.watched_keys] == [b"k1", b"k2"]
    assert set(node.keyspace[0].watched) == {b"k1", b"k2"}
    b.send("WATCH", "k1")
    a.send("UNWATCH")
    assert set(node.keyspace[0].watched) == {b"k1"}
    node.forget_client(b.client)
    assert node.keyspace[0].watched == {}


def test_watch_in_other_db_is_tracked_there(node):
    a, b = Wire(node), Wire(node)
    a.send("SELECT", "3")
    a.send("WATCH", "k")
    b.send("SET", "k", "db0")  # another db: no effect
    a.send("MULTI")
    assert a.send("EXEC") == b"*0\r\n"
    a.send("WATCH", "k")
    b.send("SELECT", "3")
    b.send("SET", "k", "db3")
    a.send("MULTI")
    assert a.send("EXEC") == b"*-1\r\n"


def test_stale_watch_rules(node):
    """A key already expired when WATCHed: its deletion is no change, a new value is."""
    ks = node.keyspace
    c, other = Wire(node), Wire(node)
    db = ks[0]
    c.send("SET", "k", "v")
    db.set_expire(b"k", 1)  # long past, still stored (nobody looked it up yet)
    c.send("WATCH", "k")
    assert c.client.watched_stale == {(db, b"k")}
    ks.active_expire_cycle()  # background deletion
    assert b"k" not in db.data and not c.client.watch_dirty and not c.client.watched_stale
    c.send("MULTI")
    assert c.send("EXEC") == b"*0\r\n"
    c.send("SET", "k", "v")
    db.set_expire(b"k", 1)
    c.send("WATCH", "k")
    other.send("SET", "k", "new")  # lazy deletion first (no change), then a write (a change)
    c.send("MULTI")
    assert c.send("EXEC") == b"*-1\r\n"


def test_swapdb_stale_rules(node):
    """SWAPDB with expired keys on either side (Redis 7.0's touchAllWatchedKeysInDb)."""
    ks = node.keyspace
    c = Wire(node)
    db0, db1 = ks[0], ks[1]
    # A missing watched key replaced by an expired one: no change (it becomes stale).
    db1.set(b"x", b"v")
    db1.set_expire(b"x", 1)
    c.send("WATCH", "x")
    db0.touch_all(db1)
    assert not c.client.watch_dirty and (db0, b"x") in c.client.watched_stale
    c.send("UNWATCH")
    # A live watched key replaced by nothing: a change.
    db0.set(b"y", b"v")
    c.send("WATCH", "y")
    db0.touch_all(db1)
    assert c.client.watch_dirty
