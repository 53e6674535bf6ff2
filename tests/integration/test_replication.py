"""Replication end to end: our replica of our primary, and interop with redis-server 7.0.

Expected values are facts (what was written on the primary must read back on the
replica, TTLs included) or come from the real server's replies.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import (
    RawClient,
    encode_command,
    free_port,
    real_redis_server,
    require_redis_binaries,
    wait_until,
)

#: A dataset of every type, with TTLs; each entry: the command that writes it.
_DATASET: list[tuple[Any, ...]] = [
    ("SET", "s", "plain"),
    ("SET", "num", "12345"),
    ("SET", "ttl", "v", "EX", "1000"),
    ("RPUSH", "list", "a", "b", "c", "1", "2"),
    ("HSET", "hash", "f1", "v1", "f2", "2"),
    ("SADD", "set", "x", "y", "z"),
    ("SADD", "intset", "1", "2", "3"),
    ("ZADD", "zset", "1", "a", "2.5", "b", "-3", "c"),
    ("PEXPIRE", "hash", "500000"),
]
#: Read commands whose replies must be the same on the primary and its replica.
_READS: list[tuple[Any, ...]] = [
    ("GET", "s"), ("GET", "num"), ("GET", "ttl"), ("LRANGE", "list", "0", "-1"), ("HGETALL", "hash"),
    ("SMEMBERS", "set"), ("SMEMBERS", "intset"), ("ZRANGE", "zset", "0", "-1", "WITHSCORES"),
    ("DBSIZE",), ("PEXPIRETIME", "ttl"), ("PEXPIRETIME", "hash"), ("PEXPIRETIME", "list"),
    ("SELECT", "3"), ("GET", "in3"), ("SELECT", "0"),
]  # fmt: skip


def _sorted(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) else value


def _reads(port: int, reads: list[tuple[Any, ...]] = _READS) -> list[Any]:
    with RawClient(port) as client:
        return [_sorted(client.call(*command)) for command in reads]


def _write_dataset(port: int) -> None:
    with RawClient(port) as client:
        for command in _DATASET:
            client.call(*command)
        client.call("SELECT", "3")
        client.call("SET", "in3", "third-db")


def _info(port: int) -> dict[str, str]:
    with RawClient(port) as client:
        text = client.call("INFO", "replication")
    text = text.decode() if isinstance(text, bytes) else str(text)
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _synced(primary: int, replica: int) -> bool:
    info = _info(replica)
    return info.get("master_link_status") == "up" and info.get("slave_repl_offset") == _info(primary)["master_repl_offset"]


def _follow(primary: int, replica: int) -> None:
    with RawClient(replica) as client:
        assert client.call("REPLICAOF", "127.0.0.1", str(primary)) == "OK"
    wait_until(lambda: _synced(primary, replica), what="the replica to sync")


def test_our_replica_of_our_primary_full_sync_stream_and_partial_resync() -> None:
    with node_in_thread() as primary, node_in_thread() as replica:
        _write_dataset(primary.port)
        _follow(primary.port, replica.port)
        assert _reads(replica.port) == _reads(primary.port)

        # The stream: writes of every kind, relative expiries, MULTI/EXEC, SELECT.
        with RawClient(primary.port) as client:
            client.call("INCRBYFLOAT", "num", "0.5")
            client.call("SET", "px", "v", "PX", "100000")
            client.call("EXPIRE", "s", "300")
            client.call("SETEX", "sx", "200", "v")
            client.call("SPOP", "set")
            client.call("LPUSH", "list", "front")
            client.call("MULTI")
            client.call("HSET", "hash", "f3", "v3")
            client.call("ZINCRBY", "zset", "10", "a")
            client.call("EXEC")
            client.call("SELECT", "3")
            client.call("DEL", "in3")
            client.call("SET", "gone", "v", "PX", "1")
        reads = _READS + [("GET", "num"), ("PEXPIRETIME", "px"), ("PEXPIRETIME", "s"), ("PEXPIRETIME", "sx"),
                 ("SMEMBERS", "set"), ("HGETALL", "hash"), ("ZSCORE", "zset", "a"), ("LRANGE", "list", "0", "0")]  # fmt: skip
        wait_until(lambda: _synced(primary.port, replica.port), what="the stream to reach the replica")
        assert _reads(replica.port, reads) == _reads(primary.port, reads)
        with RawClient(primary.port) as client:
            client.call("SELECT", "3")
            # Once the 1 ms TTL has passed, GET's lazy expiry (or the active cycle) deletes
            # the key, and the primary sends the replica a DEL.
            wait_until(lambda: client.call("GET", "gone") is None, what="the 1 ms TTL to pass")
        wait_until(lambda: _synced(primary.port, replica.port))
        assert b"gone" not in replica.keyspace[3].data  # deleted by the DEL, not just hidden


        # Kill the link: the replica continues with a partial resync from the backlog.
        replid = _info(primary.port)["master_replid"]
        primary_side = primary.replication
        assert (primary_side.sync_full, primary_side.sync_partial_ok) == (1, 0)
        with RawClient(primary.port) as client:
            replica_line = next(line for line in client.call("CLIENT", "LIST").decode().splitlines()
                                if "cmd=replconf" in line or "cmd=psync" in line)  # fmt: skip
            replica_id = replica_line.split()[0].split("=")[1]
            assert client.call("CLIENT", "KILL", "ID", replica_id) == 1
        with RawClient(primary.port) as client:
            client.call("SET", "during-outage", "1")
        wait_until(lambda: _synced(primary.port, replica.port), what="the partial resync")
        with RawClient(replica.port) as client:
            assert client.call("GET", "during-outage") == b"1"
        assert _info(primary.port)["master_replid"] == replid
        assert (primary_side.sync_full, primary_side.sync_partial_ok) == (1, 1)


def _stream_writes(port: int) -> None:
    with RawClient(port) as client:
        for command in [("INCRBYFLOAT", "num", "1.5"), ("SET", "px", "v", "PX", "100000"), ("EXPIRE", "s", "300"),
                        ("SETEX", "sx", "200", "v"), ("SPOP", "set"), ("LPUSH", "list", "front"),
                        ("MULTI",), ("HSET", "hash", "f3", "v3"), ("ZINCRBY", "zset", "10", "a"), ("EXEC",),
                        ("SELECT", "3"), ("SET", "in3", "changed")]:  # fmt: skip
            client.call(*command)


_STREAM_READS = _READS + [("GET", "num"), ("PEXPIRETIME", "px"), ("PEXPIRETIME", "s"), ("PEXPIRETIME", "sx"),
                          ("SMEMBERS", "set"), ("HGETALL", "hash"), ("ZSCORE", "zset", "a"), ("LRANGE", "list", "0", "0"),
                          ("SELECT", "3"), ("GET", "in3")]  # fmt: skip


def test_real_redis_replica_of_our_primary() -> None:
    with node_in_thread() as primary:
        _write_dataset(primary.port)
        with real_redis_server("--replicaof", "127.0.0.1", str(primary.port)) as replica:
            wait_until(lambda: _synced(primary.port, replica), what="redis-server to sync from us")
            assert _reads(replica) == _reads(primary.port)
            _stream_writes(primary.port)
            wait_until(lambda: _synced(primary.port, replica), what="redis-server to follow the stream")
            assert _reads(replica, _STREAM_READS) == _reads(primary.port, _STREAM_READS)
            info = _info(primary.port)
            assert info["connected_slaves"] == "1"
            assert info["slave0"].startswith(f"ip=127.0.0.1,port={replica},state=online,")
            with RawClient(primary.port) as client:
                assert client.call("SET", "acked", "1") == "OK"
                assert client.call("WAIT", "1", "5000") == 1  # redis-server acknowledges our GETACK
            with RawClient(replica) as client:
                assert client.call("GET", "acked") == b"1"


def test_our_replica_of_a_real_primary() -> None:
    with real_redis_server("--repl-diskless-sync-delay", "0") as primary, node_in_thread() as replica:
        _write_dataset(primary)
        _follow(primary, replica.port)
        assert _reads(replica.port) == _reads(primary)
        _stream_writes(primary)
        wait_until(lambda: _synced(primary, replica.port), what="our replica to follow redis-server")
        assert _reads(replica.port, _STREAM_READS) == _reads(primary, _STREAM_READS)
        with RawClient(primary) as client:
            client.call("SET", "acked", "1")
            assert client.call("WAIT", "1", "5000") == 1  # our REPLCONF ACK reaches redis-server


def test_replica_refuses_writes_and_wait_and_reports_info() -> None:
    primary_options = ("--repl-diskless-sync-delay", "0")
    with real_redis_server(*primary_options) as real_primary, real_redis_server() as real_replica, node_in_thread() as ours:
        with RawClient(real_replica) as client:
            client.call("REPLICAOF", "127.0.0.1", str(real_primary))
        with RawClient(ours.port) as client:
            client.call("REPLICAOF", "127.0.0.1", str(real_primary))
        wait_until(lambda: _info(ours.port).get("master_link_status") == "up")
        wait_until(lambda: _info(real_replica).get("master_link_status") == "up")
        script = [("SET", "k", "v"), ("GET", "k"), ("WAIT", "0", "0"), ("MULTI",), ("LPUSH", "l", "x"), ("EXEC",),
                  ("REPLICAOF", "127.0.0.1", str(real_primary)), ("REPLICAOF", "127.0.0.1", "abc"),
                  ("SLAVEOF", "127.0.0.1", "70000"), ("REPLCONF", "foo", "bar"), ("REPLCONF", "foo"),
                  ("REPLCONF", "listening-port", "5")]  # fmt: skip
        with RawClient(ours.port) as mine, RawClient(real_replica) as theirs:
            for command in script:
                assert mine.raw(*command) == theirs.raw(*command), command
        ours_info, real_info = _info(ours.port), _info(real_replica)
        for field in ("role", "master_host", "master_port", "master_link_status", "master_sync_in_progress",
                      "slave_priority", "slave_read_only", "replica_announced", "connected_slaves",
                      "master_failover_state", "master_replid", "slave_repl_offset", "repl_backlog_active"):  # fmt: skip
            assert ours_info[field] == real_info[field], field
        with RawClient(ours.port) as mine, RawClient(real_replica) as theirs:
            for command in [("REPLICAOF", "NO", "ONE"), ("WAIT", "0", "0"), ("WAIT", "x", "0"), ("WAIT", "0", "-1"),
                            ("WAIT", "0", "x"), ("SET", "k", "v"), ("WAIT", "1", "10")]:  # fmt: skip
                assert mine.raw(*command) == theirs.raw(*command), command
        ours_info, real_info = _info(ours.port), _info(real_replica)
        for field in ("role", "connected_slaves", "master_replid2", "second_repl_offset"):
            assert ours_info[field] == real_info[field], field


def test_replicaof_is_refused_in_cluster_mode(tmp_path: Path) -> None:
    conf = str(tmp_path / "nodes.conf")
    with node_in_thread(cluster_enabled=True, cluster_config_file=conf) as node, real_redis_server("--cluster-enabled", "yes") as real:
        for port in (node.port, real):
            with RawClient(port) as client:
                assert client.raw("REPLICAOF", "127.0.0.1", "1") == b"-ERR REPLICAOF not allowed in cluster mode.\r\n"


def test_real_replica_continues_partially_and_blocking_pops_propagate_as_pops() -> None:
    with node_in_thread() as primary, real_redis_server("--replicaof", "127.0.0.1", str(primary.port)) as replica:
        wait_until(lambda: _synced(primary.port, replica), what="redis-server to sync from us")
        with RawClient(primary.port) as waiter, RawClient(primary.port) as pusher:
            waiter.send_raw(b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n")
            wait_until(lambda: "blocked_clients:1" in pusher.call("INFO", "clients").decode())
            pusher.call("RPUSH", "q", "a", "b")
            assert waiter.read_reply()[0] == [b"q", b"a"]
        wait_until(lambda: _synced(primary.port, replica))
        assert _reads(replica, [("LRANGE", "q", "0", "-1")]) == [[b"b"]]
        # Drop the link from our side: redis-server asks for PSYNC and gets +CONTINUE.
        with RawClient(primary.port) as client:
            replica_line = next(line for line in client.call("CLIENT", "LIST").decode().splitlines()
                                if "cmd=replconf" in line or "cmd=psync" in line)  # fmt: skip
            client.call("CLIENT", "KILL", "ID", replica_line.split()[0].split("=")[1])
            client.call("SET", "after", "1")
        wait_until(lambda: _synced(primary.port, replica), what="redis-server to resync")
        assert (primary.replication.sync_full, primary.replication.sync_partial_ok) == (1, 1)
        assert _reads(replica, [("GET", "after")]) == [b"1"]


def test_wait_without_replicas_times_out_with_zero() -> None:
    with node_in_thread() as node, RawClient(node.port) as client:
        client.call("SET", "k", "v")
        started = time.monotonic()
        assert client.raw("WAIT", "1", "100") == b":0\r\n"
        assert time.monotonic() - started >= 0.09


def test_role_matches_redis_server() -> None:
    primary_options = ("--repl-diskless-sync-delay", "0")
    with real_redis_server(*primary_options) as real_primary, real_redis_server() as real_replica, \
            node_in_thread() as ours, RawClient(ours.port) as mine, RawClient(real_replica) as theirs:  # fmt: skip
        assert mine.raw("ROLE") == theirs.raw("ROLE")  # a primary with no replicas
        for client in (mine, theirs):
            client.call("REPLICAOF", "127.0.0.1", str(real_primary))
        wait_until(lambda: _info(ours.port).get("master_link_status") == "up")
        wait_until(lambda: _info(real_replica).get("master_link_status") == "up")
        wait_until(lambda: _info(real_replica)["slave_repl_offset"] == _info(ours.port)["slave_repl_offset"])
        assert mine.raw("ROLE") == theirs.raw("ROLE")


# -- what a primary and a replica show of each other (INFO stats, CLIENT LIST) ----------------


def _sync_stats(port: int) -> tuple[int, int, int]:
    with RawClient(port) as client:
        text = client.call("INFO", "stats").decode()
    stats = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(stats["sync_full"]), int(stats["sync_partial_ok"]), int(stats["sync_partial_err"])


def _client_fields(port: int, kind: str) -> list[dict[str, str]]:
    with RawClient(port) as client:
        text = client.call("CLIENT", "LIST", "TYPE", kind).decode()
    return [dict(field.split("=", 1) for field in line.split()) for line in text.splitlines()]


def _connected_clients(port: int) -> int:
    with RawClient(port) as client:
        text = client.call("INFO", "clients").decode()
    return int(dict(line.split(":", 1) for line in text.splitlines() if ":" in line)["connected_clients"])


def _sync_story(primary: int, replica: int) -> list[object]:
    """A full sync, then CLIENT KILL TYPE master on the replica and the partial resync it
    triggers, as the two sides report them (ports replaced by who they are)."""
    story: list[object] = []
    with RawClient(primary) as client:
        client.call("SET", "before", "1")
    _follow(primary, replica)
    story.append(("full sync", _sync_stats(primary)))
    (link,) = _client_fields(primary, "replica")
    story.append(("replica's connection on the primary", link["flags"]))
    (master,) = _client_fields(replica, "master")
    story.append(("primary's connection on the replica", master["flags"], master["user"],
                  master["addr"] == f"127.0.0.1:{primary}"))  # fmt: skip
    # INFO clients: a replica's link is not a client of the primary, the primary's link is
    # one of the replica's (besides the caller; waited for: closed connections go lazily).
    wait_until(lambda: _connected_clients(primary) == 1, what="the primary to count only the caller")
    wait_until(lambda: _connected_clients(replica) == 2, what="the replica to count the caller and its primary")
    with RawClient(replica) as client:
        story.append(("kill", client.call("CLIENT", "KILL", "TYPE", "master")))
    with RawClient(primary) as client:
        client.call("SET", "during", "1")
    wait_until(lambda: _synced(primary, replica) and _sync_stats(primary)[1] == 1, what="the partial resync")
    story.append(("partial resync", _sync_stats(primary), _reads(replica, [("GET", "during")])))
    return story


def test_sync_stats_and_client_list_flags_match_redis() -> None:
    """INFO stats sync_full / sync_partial_ok / sync_partial_err on the primary, CLIENT
    LIST flags S (a replica) and M (the primary's link, which CLIENT KILL TYPE master
    drops), told the same way by redis-server pairs, our pairs and mixed pairs."""
    options = ("--repl-diskless-sync-delay", "0")
    with real_redis_server(*options) as real_primary, real_redis_server() as real_replica:
        expected = _sync_story(real_primary, real_replica)
    assert expected[0] == ("full sync", (1, 0, 1))  # a replica's first PSYNC names its own replid
    with node_in_thread() as primary, node_in_thread() as replica:
        assert _sync_story(primary.port, replica.port) == expected
    with node_in_thread() as primary, real_redis_server() as replica_port:
        assert _sync_story(primary.port, replica_port) == expected
    with real_redis_server(*options) as primary_port, node_in_thread() as replica:
        assert _sync_story(primary_port, replica.port) == expected


def test_expired_and_evicted_keys_are_deleted_on_a_real_replica() -> None:
    """A replica never expires or evicts keys itself: the primary's active expiry and
    its evictions reach it as DEL (UNLINK with lazyfree-lazy-eviction), as in 7.0. A
    redis-server replica counts a logically expired key in DBSIZE until that DEL."""
    with node_in_thread() as primary, real_redis_server("--replicaof", "127.0.0.1", str(primary.port)) as replica:
        wait_until(lambda: _synced(primary.port, replica), what="redis-server to sync from us")
        with RawClient(primary.port) as client:
            client.call("SET", "short", "v", "PX", "30")  # never read again: the active cycle expires it
            for i in range(5):
                client.call("SET", f"kept{i}", "v")
        wait_until(lambda: _synced(primary.port, replica) and _reads(replica, [("DBSIZE",)]) == [5],
                   what="the active expiry's DEL to reach the replica")  # fmt: skip
        with RawClient(primary.port) as client:
            client.call("CONFIG", "SET", "lazyfree-lazy-eviction", "yes")
            client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
            client.call("CONFIG", "SET", "maxmemory", "1")  # far below: every key is evicted at once
            client.call("CONFIG", "SET", "maxmemory", "0")
            assert client.call("DBSIZE") == 0
        wait_until(lambda: _synced(primary.port, replica) and _reads(replica, [("DBSIZE",)]) == [0],
                   what="the evictions to reach the replica")  # fmt: skip
        assert primary.replication is not None and primary.replication.backlog is not None
        stream = bytes(primary.replication.backlog)
        assert b"*2\r\n$3\r\nDEL\r\n$5\r\nshort\r\n" in stream
        assert b"*2\r\n$6\r\nUNLINK\r\n$5\r\nkept0\r\n" in stream and b"MULTI" not in stream


@contextmanager
def _real_replica_process(primary: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """A redis-server replica whose process we hold (to SIGSTOP it); stopped by PID."""
    port, workdir = free_port(), tempfile.mkdtemp(prefix="real-replica-")
    process = subprocess.Popen([require_redis_binaries(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", workdir, "--replicaof", "127.0.0.1", str(primary)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        wait_until(lambda: RawClient(port).raw("PING") == b"+PONG\r\n", what="redis-server to start")
        yield process, port
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_replica_that_stops_reading_is_disconnected_at_the_output_buffer_limit_and_resyncs() -> None:
    with node_in_thread() as primary:
        with RawClient(primary.port) as client:
            assert client.call("CONFIG", "SET", "client-output-buffer-limit", "replica 2mb 0 0") == "OK"
        with _real_replica_process(primary.port) as (process, replica):
            wait_until(lambda: _synced(primary.port, replica), what="redis-server to sync from us")
            process.send_signal(signal.SIGSTOP)  # it reads nothing from now on
            value = b"x" * 256 * 1024
            with RawClient(primary.port, timeout=30) as client:
                # Far more than the socket buffers of both ends take: the rest waits in
                # our output buffer for the stopped replica, up to the 2 MB limit.
                for i in range(100):
                    client.send_raw(encode_command(("SET", f"big{i}", value)))
                for _ in range(100):
                    assert client.read_reply()[1] == b"+OK\r\n"
                wait_until(lambda: client.call("INFO", "replication").decode().count("connected_slaves:0"),
                           what="the replica to be disconnected")  # fmt: skip
            process.send_signal(signal.SIGCONT)
            # It reconnects; its offset fell out of the 1 MB backlog: a full resync.
            wait_until(lambda: _synced(primary.port, replica), timeout=30, what="redis-server to resync")
            assert _reads(replica, [("DBSIZE",), ("STRLEN", "big99")]) == [100, len(value)]
            assert primary.replication is not None and primary.replication.sync_full == 2


def test_the_soft_output_buffer_limit_disconnects_only_after_its_seconds() -> None:
    with node_in_thread() as primary:
        with RawClient(primary.port) as client:
            assert client.call("CONFIG", "SET", "client-output-buffer-limit", "replica 0 1mb 1") == "OK"
        with _real_replica_process(primary.port) as (process, replica):
            wait_until(lambda: _synced(primary.port, replica), what="redis-server to sync from us")
            process.send_signal(signal.SIGSTOP)
            value = b"y" * 128 * 1024
            with RawClient(primary.port, timeout=30) as client:
                # Keep writing (the limit is checked as stream bytes are queued) until the
                # replica is cut off: over the soft limit for more than one second.
                started = time.monotonic()
                over_since: float | None = None
                i = 0
                while "connected_slaves:0" not in client.call("INFO", "replication").decode():
                    assert time.monotonic() - started < 20, "the replica was never disconnected"
                    client.call("SET", f"key{i % 50}", value)
                    i += 1
                    assert primary.replication is not None
                    (link,) = primary.replication.replicas
                    if over_since is None and min(link.client.output_buffered(), link.stream_sent) >= 1024 * 1024:
                        over_since = time.monotonic()
                # Not at once (as the hard limit would): about the soft seconds later (the
                # node crossed the limit a little before this client could see it).
                assert over_since is not None and time.monotonic() - over_since >= 0.5
            process.send_signal(signal.SIGCONT)
            wait_until(lambda: _synced(primary.port, replica), timeout=30, what="redis-server to resync")


def _server_ms(port: int) -> int:
    with RawClient(port) as client:
        seconds, micros = client.call("TIME")
    return int(seconds) * 1000 + int(micros) // 1000


def _paused_dataset_story(primary: int, replica: int) -> list[object]:
    """A key whose TTL passed, read during CLIENT PAUSE WRITE and after it."""
    _follow(primary, replica)
    with RawClient(primary) as client:
        client.call("DEBUG", "SET-ACTIVE-EXPIRE", "0")  # only lookups expire keys here
        client.call("SET", "other", "v")
        client.call("SET", "k", "v", "PX", "1")
    due = _server_ms(primary) + 2
    wait_until(lambda: _server_ms(primary) > due, what="the key's TTL to pass")
    wait_until(lambda: _synced(primary, replica), what="the replica to catch up")
    offset = _info(primary)["master_repl_offset"]
    story: list[object] = []
    with RawClient(primary) as client:
        assert client.call("CLIENT", "PAUSE", "20000", "WRITE") == "OK"
        story += [client.call("GET", "k"), client.call("EXISTS", "k"), client.call("DBSIZE")]
        client.call("WAIT", "1", "20")  # may ask the replicas for an ACK: not while paused
        story.append(_info(primary)["master_repl_offset"] == offset)  # nothing entered the stream
        assert client.call("CLIENT", "UNPAUSE") == "OK"
        story += [client.call("GET", "k"), client.call("DBSIZE")]
    wait_until(lambda: _synced(primary, replica), what="the DEL to reach the replica")
    story.append(_reads(replica, [("DBSIZE",)]))
    return story


def test_a_client_pause_keeps_the_dataset_and_the_replication_offset_still() -> None:
    """7.0 neither expires nor evicts keys nor sends GETACK while clients are paused (a
    manual failover's pause waits for the replica to reach an exact offset); expired
    keys read as missing meanwhile, and are deleted (and propagated) afterwards."""
    debug = ("--enable-debug-command", "yes")
    with real_redis_server(*debug, "--repl-diskless-sync-delay", "0") as primary, real_redis_server() as replica:
        expected = _paused_dataset_story(primary, replica)
    assert expected == [None, 0, 2, True, None, 1, [1]]
    with node_in_thread(enable_debug_command="yes") as primary, node_in_thread() as replica:
        assert _paused_dataset_story(primary.port, replica.port) == expected
