"""Expiry over real sockets: active and lazy expiry, the "expired" stat and keyspace
events, time frozen inside MULTI/EXEC, and the keyspace events of the generic commands
compared with a real redis-server. Every wait is on a condition, never a fixed sleep."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, real_redis_server, wait_until


def info_field(conn: RawClient, section: str, field: str) -> int:
    text = conn.call("INFO", section)
    text = text if isinstance(text, str) else bytes(text).decode()
    match = re.search(rf"^{field}:(\d+)", text, re.M)
    assert match, f"{field} not in INFO {section}"
    return int(match.group(1))


@pytest.fixture(params=["ours", "redis"])
def port(request, our_port, real_redis_port) -> Iterator[int]:
    """Each test runs against our node and against the real server: same expectations."""
    chosen = our_port if request.param == "ours" else real_redis_port
    with RawClient(chosen) as conn:
        conn.call("FLUSHALL")
        conn.call("CONFIG", "SET", "notify-keyspace-events", "")
    yield chosen
    with RawClient(chosen) as conn:
        conn.call("CONFIG", "SET", "notify-keyspace-events", "")
        conn.call("FLUSHALL")


def test_active_expiry_deletes_keys_nobody_touches(port):
    with RawClient(port) as conn:
        before = info_field(conn, "stats", "expired_keys")
        for i in range(50):
            conn.call("SET", f"k{i}", "v", "PX", "50")
        conn.call("SET", "stays", "v")
        conn.call("SET", "later", "v", "EX", "100")
        assert conn.call("DBSIZE") == 52
        # DBSIZE counts expired keys that are still stored, so it only drops by deletion.
        wait_until(lambda: conn.call("DBSIZE") == 2, timeout=10, what="active expiry")
        assert info_field(conn, "stats", "expired_keys") - before == 50
        assert conn.call("EXISTS", "stays", "later") == 2


@pytest.fixture(params=["ours", "redis"])
def debug_port(request) -> Iterator[int]:
    """A server that accepts DEBUG (enable-debug-command): ours or a real one."""
    if request.param == "ours":
        with node_in_thread(enable_debug_command="yes") as node:
            yield node.port
    else:
        with real_redis_server("--enable-debug-command", "yes") as real:
            yield real


def test_lazy_expiry_deletes_on_access(debug_port):
    with RawClient(debug_port) as conn:
        assert conn.call("DEBUG", "SET-ACTIVE-EXPIRE", "0") == "OK"
        for key in ("a", "b", "c"):
            conn.call("SET", key, "v", "PX", "30")
        # KEYS hides expired keys without deleting them: wait until all are expired.
        wait_until(lambda: conn.call("KEYS", "*") == [], what="keys to be logically expired")
        assert conn.call("DBSIZE") == 3
        assert conn.call("GET", "a") is None
        assert conn.call("DBSIZE") == 2
        assert conn.call("MGET", "b", "c") == [None, None]
        assert conn.call("DBSIZE") == 0
        assert info_field(conn, "stats", "expired_keys") == 3


def test_expired_event_is_published(port):
    with RawClient(port) as conn, RawClient(port) as sub:
        conn.call("CONFIG", "SET", "notify-keyspace-events", "Ex")
        assert sub.call("PSUBSCRIBE", "__keyevent@*__:expired")[0] == b"psubscribe"
        conn.call("SET", "soon", "v", "PX", "20")
        message = sub.read_reply()[0]
        assert message == [b"pmessage", b"__keyevent@*__:expired", b"__keyevent@0__:expired", b"soon"]


def test_time_is_frozen_inside_multi_exec(port):
    """A key with a 1 ms TTL set inside a transaction lives until the EXEC ends, however
    long the transaction runs (Redis caches the time for expiry during the whole EXEC)."""
    with RawClient(port) as conn:
        for start in range(0, 20000, 1000):
            conn.call(
                "MSET",
                *[f"filler:{i}" if j == 0 else "x" for i in range(start, start + 1000) for j in (0, 1)],
            )
        assert conn.call("MULTI") == "OK"
        conn.call("SET", "brief", "v", "PX", "1")
        for _ in range(5):
            conn.call("KEYS", "*")  # each scans 20000 keys: well over 1 ms
        conn.call("GET", "brief")
        conn.call("PTTL", "brief")
        replies = conn.call("EXEC")
        assert replies[-2] == b"v"
        # PTTL reads the clock, not the frozen time: the TTL is over, the key still there.
        assert replies[-1] == 0
        wait_until(lambda: conn.call("GET", "brief") is None, what="the key to expire after EXEC")


def collect_events(port: int, script: Sequence[Sequence[Any]]) -> list[Any]:
    """Run ``script`` with every keyspace event on, and return the events published."""
    with RawClient(port) as conn, RawClient(port) as sub:
        conn.call("FLUSHALL")
        conn.call("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.call("PSUBSCRIBE", "__key*__:*")
        sub.call("SUBSCRIBE", "end-of-script")
        for command in script:
            conn.call(*command)
        conn.call("CONFIG", "SET", "notify-keyspace-events", "")
        conn.call("PUBLISH", "end-of-script", "x")
        events = []
        while True:
            message = sub.read_reply()[0]
            if message[0] == b"message":
                return events
            events.append(message[2:])


def test_generic_commands_publish_redis_events(our_port, real_redis_port):
    far = "4102444800"
    script = [
        ["SET", "a", "1"],
        ["EXPIRE", "a", "100"],
        ["PEXPIREAT", "a", far + "000"],
        ["PERSIST", "a"],
        ["PERSIST", "a"],
        ["EXPIRE", "a", "100", "NX"],
        ["EXPIRE", "a", "-1"],
        ["EXPIRE", "nokey", "10"],
        ["SET", "b", "2"],
        ["RENAME", "b", "c"],
        ["SET", "d", "x"],
        ["RENAME", "c", "d"],
        ["RENAMENX", "d", "e"],
        ["RENAME", "e", "e"],
        ["COPY", "e", "f"],
        ["COPY", "e", "f", "REPLACE"],
        ["COPY", "e", "g", "DB", "2"],
        ["MOVE", "e", "3"],
        ["MOVE", "nokey", "3"],
        ["DEL", "f", "nokey", "g"],
        ["UNLINK", "f"],
        ["SET", "gone", "v", "PXAT", "1"],
        ["GET", "gone"],
        ["GET", "missing"],
        ["EXISTS", "missing"],
        ["TYPE", "missing"],
        ["TTL", "missing"],
        ["OBJECT", "ENCODING", "missing"],
        ["TOUCH", "missing"],
        ["SADD", "s", "2", "1"],
        ["SORT", "s", "STORE", "sorted"],
        ["SORT", "nokey", "STORE", "sorted"],
        ["SORT", "s", "BY", "w_*", "GET", "o_*"],
    ]
    assert collect_events(our_port, script) == collect_events(real_redis_port, script)
