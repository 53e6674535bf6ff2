"""maxmemory (the OOM gate, eviction) and min-replicas-to-write (NOREPLICAS), compared
with a real redis-server 7.0 byte for byte.

``maxmemory 1`` puts any server over the limit, so the outcome does not depend on how
much memory either process uses. Each test gets its own pair of servers (module
scope) so a forgotten maxmemory cannot leak into other tests. Transcripts use two
clients, as Redis's own tests do, because a client inside MULTI cannot CONFIG SET.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, real_redis_server, wait_until

Step = tuple[int, Sequence[str | int]]  # (client number, command); no command: read a push


@pytest.fixture(scope="module")
def ports() -> Iterator[tuple[int, int]]:
    with node_in_thread() as ours, real_redis_server() as real:
        yield ours.port, real


def transcript(port: int, steps: Sequence[Step], resp: int) -> list[bytes]:
    """Run the steps on fresh clients of one server; the server is reset afterwards."""
    clients = [RawClient(port), RawClient(port)]
    try:
        for conn in clients:
            conn.raw("HELLO", resp)
        clients[0].raw("FLUSHALL")
        # An empty command reads the next pushed message (a pub/sub event) instead.
        return [clients[who].raw(*cmd) if cmd else clients[who].read_reply()[1] for who, cmd in steps]
    finally:
        for conn in clients:
            conn.close()
        with RawClient(port) as admin:
            admin.raw("CONFIG", "SET", "maxmemory", 0, "maxmemory-policy", "noeviction", "notify-keyspace-events", "",
                      "min-replicas-to-write", 0, "min-replicas-max-lag", 10)


def assert_same_transcript(ports: tuple[int, int], steps: Sequence[Step]) -> None:
    ours, real = ports
    for resp in (2, 3):
        mine, theirs = transcript(ours, steps, resp), transcript(real, steps, resp)
        diffs = [f"RESP{resp} {step}: ours={a!r} redis={b!r}" for step, a, b in zip(steps, mine, theirs) if a != b]
        assert not diffs, "replies differ from redis-server:\n" + "\n".join(diffs)


def test_noeviction_refuses_denyoom_commands_only(ports: tuple[int, int]) -> None:
    assert_same_transcript(ports, [
        (0, ["SET", "k", "v"]), (0, ["RPUSH", "l", "a", "b"]),
        (0, ["CONFIG", "SET", "maxmemory", 1]),
        (0, ["SET", "k2", "v"]), (0, ["APPEND", "k", "x"]), (0, ["LPUSH", "l", "c"]), (0, ["INCR", "n"]),
        (0, ["GET", "k"]), (0, ["LRANGE", "l", 0, -1]), (0, ["PING"]), (0, ["LPOP", "l"]),
        (0, ["DEL", "k"]), (0, ["EXPIRE", "l", 100]), (0, ["DBSIZE"]),
        (0, ["CONFIG", "SET", "maxmemory", 0]),
        (0, ["SET", "k3", "v"]), (0, ["GET", "k3"]),
    ])  # fmt: skip


def test_multi_under_oom(ports: tuple[int, int]) -> None:
    assert_same_transcript(ports, [
        # Queueing anything but EXEC/DISCARD is refused and flags the transaction.
        (1, ["CONFIG", "SET", "maxmemory", 1]),
        (0, ["MULTI"]), (0, ["GET", "x"]), (0, ["SET", "x", 1]), (0, ["EXEC"]),
        (0, ["MULTI"]), (0, ["SET", "x", 1]), (0, ["DISCARD"]), (0, ["PING"]),
        (1, ["CONFIG", "SET", "maxmemory", 0]),
        # A transaction queued before the limit: EXEC runs it if it only reads...
        (0, ["SET", "x", "value"]), (0, ["MULTI"]), (0, ["GET", "x"]), (0, ["PING"]),
        (1, ["CONFIG", "SET", "maxmemory", 1]), (0, ["EXEC"]),
        (1, ["CONFIG", "SET", "maxmemory", 0]),
        # ...and refuses it as a whole if one command may use memory.
        (0, ["MULTI"]), (0, ["SET", "x", 1]), (0, ["GET", "x"]),
        (1, ["CONFIG", "SET", "maxmemory", 1]), (0, ["EXEC"]), (0, ["EXEC"]),
        (1, ["CONFIG", "SET", "maxmemory", 0]), (0, ["GET", "x"]),
    ])  # fmt: skip


def test_eviction_policies_and_evicted_events(ports: tuple[int, int]) -> None:
    assert_same_transcript(ports, [
        (0, ["CONFIG", "SET", "notify-keyspace-events", "Ee"]),
        (1, ["SUBSCRIBE", "__keyevent@0__:evicted"]),
        # volatile-*: only keys with a TTL may go; then writes are refused.
        (0, ["CONFIG", "SET", "maxmemory-policy", "volatile-ttl"]),
        (0, ["SET", "persistent", "v"]), (0, ["SET", "volatile", "v", "EX", 100]),
        (0, ["CONFIG", "SET", "maxmemory", 1]), (1, []),
        (0, ["EXISTS", "persistent", "volatile"]), (0, ["SET", "other", "v"]),
        (0, ["CONFIG", "SET", "maxmemory", 0]),
        # allkeys-lru: every key goes, at once when the limit is set.
        (0, ["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        (0, ["CONFIG", "SET", "maxmemory", 1]), (1, []),
        (0, ["DBSIZE"]), (0, ["SET", "new", "v"]),
    ])  # fmt: skip


def test_min_replicas_to_write_refuses_writes(ports: tuple[int, int]) -> None:
    assert_same_transcript(ports, [
        (0, ["SET", "xx", 1]), (0, ["MULTI"]), (0, ["INCR", "xx"]),
        (1, ["CONFIG", "SET", "min-replicas-to-write", 2]),
        (0, ["EXEC"]), (0, ["GET", "xx"]), (0, ["SET", "xx", 2]), (0, ["DEL", "xx"]), (0, ["PING"]),
        (0, ["MULTI"]), (0, ["GET", "xx"]), (0, ["EXEC"]),
        (0, ["MULTI"]), (0, ["SET", "xx", 3]), (0, ["EXEC"]),
        # Without a lag limit the check is off, as in Redis.
        (1, ["CONFIG", "SET", "min-replicas-max-lag", 0]), (0, ["SET", "xx", 4]),
        (1, ["CONFIG", "SET", "min-replicas-max-lag", 10, "min-replicas-to-write", 0]), (0, ["INCR", "xx"]),
    ])  # fmt: skip


def test_evicting_many_keys_counts_every_one(ports: tuple[int, int]) -> None:
    """Eviction of a large keyspace finishes (in one pass for us) and counts in INFO."""
    for port in ports:
        with RawClient(port) as conn:
            conn.call("FLUSHALL")
            conn.call("CONFIG", "RESETSTAT")
            assert conn.call("MSET", *[f"key:{i}" for i in range(20000) for _ in (0, 1)]) == "OK"
            conn.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
            try:
                conn.call("CONFIG", "SET", "maxmemory", 1)
                # Redis evicts within a time budget per call and finishes in a timer.
                wait_until(lambda: conn.call("DBSIZE") == 0, what="every key evicted")
                stats = conn.call("INFO", "stats").decode()
                assert "\r\nevicted_keys:20000\r\n" in stats
            finally:
                conn.call("CONFIG", "SET", "maxmemory", 0, "maxmemory-policy", "noeviction")
