"""Six of our nodes as separate processes, driven by the real tools.

One cluster per module (starting six Python processes is the expensive part): it is
made by ``redis-cli --cluster create ... --cluster-replicas 1`` exactly as an operator
would, then used by redis-cli's other cluster subcommands, by redis-py's
``RedisCluster`` (sync and asyncio) and by ``redis-cli -c``. The last test restarts a
primary from its nodes.conf. Expected outputs are redis-cli's own success lines and
facts of the contract (client-contract.md §1.2, §6.7), never our own output.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio.cluster as async_cluster
from redis.cluster import RedisCluster

from pyredis_cluster.cluster.slots import key_hash_slot
from tests.cluster_procs import (
    ClusterProc,
    cluster_nodes,
    create_cluster,
    redis_cli,
    wait,
    wait_cluster_ok,
    wait_converged,
)

KEYS = 10_000


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[list[ClusterProc], str]]:
    """Six nodes of ours made into a 3x2 cluster by redis-cli; yields (nodes, create output)."""
    with cluster_nodes(ours=6) as nodes:
        created = create_cluster(nodes, replicas=1)
        output = created.stdout + created.stderr
        assert created.returncode == 0, output
        wait_cluster_ok(nodes)
        yield nodes, output


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_create_covers_every_slot(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, output = cluster
    output = _plain(output)
    assert "[OK] All nodes agree about slots configuration." in output
    assert "[OK] All 16384 slots covered." in output
    assert "[ERR]" not in output  # (an anti-affinity WARNING is expected: one host)


def test_check_and_info(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    for node in (nodes[0], nodes[4]):
        check = redis_cli("--cluster", "check", node.address)
        out = _plain(check.stdout)
        assert check.returncode == 0, out + check.stderr
        assert "[OK] All 16384 slots covered." in out and "[OK] All nodes agree about slots configuration." in out
        assert len(re.findall(r"^M: ", out, re.M)) == 3 and len(re.findall(r"^S: ", out, re.M)) == 3
        assert "[ERR]" not in out
    info = redis_cli("--cluster", "info", nodes[1].address)
    assert info.returncode == 0, info.stdout + info.stderr
    assert re.search(r"\[OK\] \d+ keys in 3 masters\.", _plain(info.stdout)), info.stdout
    assert len(re.findall(r"\| 1 slaves\.", info.stdout)) == 3


def test_call_runs_a_command_on_every_node(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    owner_reply = redis_cli("-c", "-p", str(nodes[0].port), "SET", "call-key", "v1")
    assert owner_reply.stdout.strip() == "OK", owner_reply
    called = redis_cli("--cluster", "call", nodes[2].address, "GET", "call-key")
    assert called.returncode == 0, called.stdout + called.stderr
    replies = re.findall(r"^127\.0\.0\.1:(\d+): (.*)$", _plain(called.stdout), re.M)
    assert sorted(int(port) for port, _ in replies) == sorted(n.port for n in nodes)
    # The owner answers the value, every other node redirects to it.
    assert [reply for _, reply in replies].count("v1") == 1
    assert all(reply == "v1" or reply.startswith("MOVED ") for _, reply in replies), replies
    dbsize = redis_cli("--cluster", "call", nodes[2].address, "DBSIZE", "--cluster-only-masters")
    assert len(re.findall(r"^127\.0\.0\.1:\d+: \d+$", _plain(dbsize.stdout), re.M)) == 3, dbsize.stdout


def test_set_timeout(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    before = nodes[0].call("CONFIG", "GET", "cluster-node-timeout")[1]
    result = redis_cli("--cluster", "set-timeout", nodes[3].address, "4000")
    out = _plain(result.stdout)
    assert result.returncode == 0, out + result.stderr
    # Like redis-server started without a config file: CONFIG SET works, CONFIG REWRITE fails.
    assert "New node timeout set. 0 OK, 6 ERR." in out, out
    assert out.count("ERR The server is running without a config file") == 6, out
    for node in nodes:
        assert node.call("CONFIG", "GET", "cluster-node-timeout") == [b"cluster-node-timeout", b"4000"]
        node.call("CONFIG", "SET", "cluster-node-timeout", before.decode())


# -- one topology everywhere --------------------------------------------------------------------


def _nodes_view(node: ClusterProc) -> set[tuple[str, ...]]:
    """CLUSTER NODES without what legitimately differs per observer (myself, ping times)."""
    rows = set()
    for fields in node.nodes_lines():
        flags = ",".join(f for f in fields[2].split(",") if f != "myself")
        rows.add((fields[0], fields[1], flags, fields[3], fields[6], fields[7], *fields[8:]))
    return rows


def _shards_view(node: ClusterProc) -> list[Any]:
    """CLUSTER SHARDS (RESP2) in a canonical order, without the per-observer offsets."""
    shards = []
    for shard in node.call("CLUSTER", "SHARDS"):
        fields = dict(zip(shard[::2], shard[1::2]))
        members = []
        for member in fields[b"nodes"]:
            entry = dict(zip(member[::2], member[1::2]))
            entry.pop(b"replication-offset")
            members.append(tuple(sorted(entry.items())))
        primary, replicas = members[0], sorted(members[1:])
        shards.append((tuple(fields[b"slots"]), primary, tuple(replicas)))
    return sorted(shards)


def test_every_node_prints_the_same_topology(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    signature = wait_converged(nodes)
    assert len(signature.split("|")) == 3

    def same(view: Any) -> Any:
        views = [view(n) for n in nodes]
        return views[0] if all(v == views[0] for v in views) else None

    nodes_view = wait(lambda: same(_nodes_view), what="the same CLUSTER NODES everywhere", nodes=nodes)
    assert len(nodes_view) == 6
    assert sum("master" in row[2] for row in nodes_view) == 3 and sum("slave" in row[2] for row in nodes_view) == 3
    assert all(row[5] == "connected" for row in nodes_view)
    slots = wait(lambda: same(lambda n: n.call("CLUSTER", "SLOTS")), what="the same CLUSTER SLOTS", nodes=nodes)
    assert [(entry[0], entry[1]) for entry in slots] == [(0, 5460), (5461, 10922), (10923, 16383)]
    shards = wait(lambda: same(_shards_view), what="the same CLUSTER SHARDS", nodes=nodes)
    assert [len(replicas) for _, _, replicas in shards] == [1, 1, 1]
    # RESP3 gives the same content as maps.
    with nodes[0].connect() as raw:
        raw.call("HELLO", "3")
        assert all(type(shard).__name__ == "Map" for shard in raw.call("CLUSTER", "SHARDS"))


# -- clients -----------------------------------------------------------------------------------


def _tagged(i: int) -> str:
    return f"{{user{i % 500}}}:item:{i}"


def test_redis_py_cluster_sync(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    rc = RedisCluster(host="127.0.0.1", port=nodes[1].port, decode_responses=True, socket_timeout=30)
    try:
        pipe = rc.pipeline(transaction=False)
        for i in range(KEYS):
            pipe.set(_tagged(i), f"v{i}")
        assert all(pipe.execute())
        pipe = rc.pipeline(transaction=False)
        for i in range(KEYS):
            pipe.get(_tagged(i))
        assert pipe.execute() == [f"v{i}" for i in range(KEYS)]
        # MSET/MGET on keys sharing a hash tag (one slot), and plain commands one by one.
        for tag in range(50):
            mapping = {f"{{mtag{tag}}}:{j}": f"{tag}-{j}" for j in range(10)}
            assert rc.mset(mapping)
            assert rc.mget(list(mapping)) == list(mapping.values())
        for i in range(0, KEYS, 97):
            assert rc.incr(f"counter:{i}") == 1
            assert rc.get(_tagged(i)) == f"v{i}"
        assert rc.dbsize(target_nodes=RedisCluster.PRIMARIES) >= KEYS + 500  # summed over primaries
        with pytest.raises(redis.exceptions.RedisClusterException):
            rc.mget("a-key", "another-key-in-another-slot")
    finally:
        rc.close()


def test_redis_py_cluster_asyncio(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster

    async def run() -> None:
        rc = async_cluster.RedisCluster(host="127.0.0.1", port=nodes[2].port, decode_responses=True)
        try:
            pipe = rc.pipeline()
            for i in range(KEYS):
                pipe.set(f"async:{_tagged(i)}", i)
            assert all(await pipe.execute())
            pipe = rc.pipeline()
            for i in range(KEYS):
                pipe.get(f"async:{_tagged(i)}")
            assert await pipe.execute() == [str(i) for i in range(KEYS)]
            for tag in range(20):
                mapping = {f"{{atag{tag}}}:{j}": str(j) for j in range(10)}
                assert await rc.mset(mapping)
                assert await rc.mget(list(mapping)) == list(mapping.values())
            values = await asyncio.gather(*(rc.get(f"async:{_tagged(i)}") for i in range(0, KEYS, 101)))
            assert values == [str(i) for i in range(0, KEYS, 101)]
        finally:
            await rc.aclose()

    asyncio.run(run())


def test_redis_cli_follows_moved(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    owner_port = int(nodes[0].call("CLUSTER", "SLOTS")[-1][2][1])  # the owner of slot 16383
    key = "foo"  # slot 12182, in the last range
    other = next(n for n in nodes if n.port != owner_port)
    plain = redis_cli("-p", str(other.port), "SET", key, "bar")
    assert f"MOVED 12182 127.0.0.1:{owner_port}" in plain.stdout, plain
    followed = redis_cli("-c", "-p", str(other.port), "SET", key, "bar")
    assert followed.stdout.strip() == "OK", followed
    assert redis_cli("-c", "-p", str(other.port), "GET", key).stdout.strip() == "bar"
    assert redis_cli("-p", str(owner_port), "GET", key).stdout.strip() == "bar"


def _shard_of_a_replica(nodes: list[ClusterProc]) -> tuple[ClusterProc, ClusterProc, int, ClusterProc]:
    """(a replica, its primary, the first slot of that primary, a node of another shard)."""
    for replica in nodes:
        mine = next(f for f in replica.nodes_lines() if "myself" in f[2])
        if "slave" in mine[2]:
            primary_line = next(f for f in replica.nodes_lines() if f[0] == mine[3])
            primary = next(n for n in nodes if n.address == primary_line[1].split("@")[0])
            slot = int(primary_line[8].split("-")[0])
            shard = {mine[0], primary_line[0]}
            other = next(n for n in nodes if n.myid() not in shard)
            return replica, primary, slot, other
    raise AssertionError("no replica")


def _key_in(slot: int, prefix: str = "k") -> str:
    return next(k for k in (f"{prefix}{i}" for i in range(200_000)) if key_hash_slot(k.encode()) == slot)


def test_readonly_replica_serves_reads_of_its_primary(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    replica, primary, slot, _ = _shard_of_a_replica(nodes)
    key = _key_in(slot)
    moved = b"-MOVED %d %s\r\n" % (slot, primary.address.encode())
    with replica.connect() as conn:
        assert conn.raw("GET", key) == moved
        assert conn.raw("READONLY") == b"+OK\r\n"
        assert conn.raw("GET", key) == b"$-1\r\n"  # served from the replica's own (empty) data
        assert conn.raw("EXISTS", key, "{%s}x" % key) == b":0\r\n"
        assert conn.raw("SET", key, "v") == moved  # writes still go to the primary
        assert conn.raw("READWRITE") == b"+OK\r\n"
        assert conn.raw("GET", key) == moved
    # SELECT: only db 0 in cluster mode.
    assert replica.raw("SELECT", "1") == b"-ERR SELECT is not allowed in cluster mode\r\n"


def test_sharded_pubsub_in_the_shard(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    replica, primary, slot, other = _shard_of_a_replica(nodes)
    channel = _key_in(slot, "ch")
    on_replica, on_primary = replica.connect(), primary.connect()
    # A replica serves sharded subscribers of its primary's slots, without READONLY.
    assert on_replica.call("SSUBSCRIBE", channel) == [b"ssubscribe", channel.encode(), 1]
    assert on_primary.call("SSUBSCRIBE", channel) == [b"ssubscribe", channel.encode(), 1]
    assert primary.call("SPUBLISH", channel, "from-primary") == 1
    for conn in (on_replica, on_primary):
        assert conn.read_reply()[0] == [b"smessage", channel.encode(), b"from-primary"]
    assert replica.call("SPUBLISH", channel, "from-replica") == 1
    for conn in (on_replica, on_primary):
        assert conn.read_reply()[0] == [b"smessage", channel.encode(), b"from-replica"]
    assert replica.call("PUBSUB", "SHARDCHANNELS") == [channel.encode()]
    # Outside the shard: MOVED to the primary.
    moved = b"-MOVED %d %s\r\n" % (slot, primary.address.encode())
    assert other.raw("SPUBLISH", channel, "x") == moved
    assert other.raw("SSUBSCRIBE", channel) == moved


def test_open_slot_ask_asking_and_tryagain(cluster: tuple[list[ClusterProc], str]) -> None:
    """A slot half-way from A to B (SETSLOT MIGRATING/IMPORTING): client-contract.md §3.6."""
    nodes, _ = cluster
    primaries = [n for n in nodes if any(f[2] == "myself,master" for f in n.nodes_lines())]
    source, target = primaries[0], primaries[1]
    slot = int(next(f for f in source.nodes_lines() if "myself" in f[2])[8].split("-")[0]) + 7
    stays, moved = "{%s}stays" % _key_in(slot), "{%s}moved" % _key_in(slot)
    assert source.call("SET", stays, "here") == "OK"
    assert target.call("CLUSTER", "SETSLOT", slot, "IMPORTING", source.myid()) == "OK"
    assert source.call("CLUSTER", "SETSLOT", slot, "MIGRATING", target.myid()) == "OK"
    ask = b"-ASK %d %s\r\n" % (slot, target.address.encode())
    try:
        assert source.raw("GET", stays) == b"$4\r\nhere\r\n"
        assert source.raw("GET", moved) == ask
        assert source.raw("MGET", stays, moved) == b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        # redis-cli -c follows the ASK: ASKING then the command, on the target.
        assert redis_cli("-c", "-p", str(source.port), "SET", moved, "there").stdout.strip() == "OK"
        assert redis_cli("-c", "-p", str(source.port), "GET", moved).stdout.strip() == "there"
        with target.connect() as conn:
            assert conn.raw("GET", moved) == b"-MOVED %d %s\r\n" % (slot, source.address.encode())
            assert conn.raw("ASKING") == b"+OK\r\n"
            assert conn.raw("GET", moved) == b"$5\r\nthere\r\n"
            assert conn.raw("GET", moved).startswith(b"-MOVED")  # ASKING is one-shot
            assert conn.raw("ASKING") == b"+OK\r\n"
            assert conn.raw("MGET", moved, "{%s}missing" % _key_in(slot)) == (
                b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n")  # fmt: skip
            for command in (["ASKING"], ["MULTI"], ["GET", moved], ["EXEC"]):  # ASKING lasts until EXEC
                reply = conn.raw(*command)
            assert reply == b"*1\r\n$5\r\nthere\r\n"
            assert conn.raw("ASKING") == b"+OK\r\n" and conn.raw("DEL", moved) == b":1\r\n"
        assert target.call("CLUSTER", "COUNTKEYSINSLOT", slot) == 0
    finally:
        for node in (source, target):
            node.call("CLUSTER", "SETSLOT", slot, "STABLE")
        source.call("DEL", stays)
    wait_converged(nodes)


def test_add_node_and_del_node(cluster: tuple[list[ClusterProc], str]) -> None:
    nodes, _ = cluster
    with cluster_nodes(ours=2) as (new_primary, new_replica):
        added = redis_cli("--cluster", "add-node", new_primary.address, nodes[0].address)
        assert "[OK] New node added correctly." in _plain(added.stdout), added.stdout + added.stderr
        primary_id = new_primary.myid()
        wait_cluster_ok([*nodes, new_primary])  # everyone must know it before it gets a replica
        added = redis_cli("--cluster", "add-node", new_replica.address, nodes[1].address, "--cluster-slave",
                          "--cluster-master-id", primary_id)  # fmt: skip
        assert "[OK] New node added correctly." in _plain(added.stdout), added.stdout + added.stderr
        everyone = [*nodes, new_primary, new_replica]
        wait_cluster_ok(everyone)
        wait(lambda: all(any(f[3] == primary_id for f in n.nodes_lines()) for n in everyone),
             what="the new replica everywhere", nodes=everyone)  # fmt: skip
        check = redis_cli("--cluster", "check", nodes[2].address)
        assert check.returncode == 0 and len(re.findall(r"^M: ", _plain(check.stdout), re.M)) == 4, check.stdout
        for gone in (new_replica, new_primary):
            removed = redis_cli("--cluster", "del-node", nodes[0].address, gone.myid())
            assert removed.returncode == 0 and "CLUSTER RESET SOFT" in removed.stdout, removed.stdout + removed.stderr
            # The removed node forgot everyone (RESET SOFT keeps its id).
            assert [f[2] for f in gone.nodes_lines()] == ["myself,master"]
    wait_cluster_ok(nodes)
    check = redis_cli("--cluster", "check", nodes[3].address)
    assert check.returncode == 0 and len(re.findall(r"^[MS]: ", _plain(check.stdout), re.M)) == 6, check.stdout


# -- restart from nodes.conf (keep last: it restarts a primary) -----------------------------------


def test_restarted_nodes_rejoin_with_their_id_slots_and_role(cluster: tuple[list[ClusterProc], str]) -> None:
    """A primary and a replica (of another shard) restarted from their nodes.conf."""
    nodes, _ = cluster
    primary = next(n for n in nodes if any(f[2] == "myself,master" for f in n.nodes_lines()))
    primary_id = primary.myid()
    replica = next(n for n in nodes if any(f[2] == "myself,slave" and f[3] != primary_id for f in n.nodes_lines()))
    before = {n.port: next(f for f in n.nodes_lines() if "myself" in f[2]) for n in (primary, replica)}
    for node in (primary, replica):
        node.stop()
    for node in (primary, replica):
        node.start()
    for node in (primary, replica):
        node.wait_ready()
        line = next(f for f in node.nodes_lines() if "myself" in f[2])
        old = before[node.port]
        # Same id, role, primary, config epoch and slots, straight from nodes.conf.
        assert (line[0], line[2], line[3], line[6], line[8:]) == (old[0], old[2], old[3], old[6], old[8:])
    wait_cluster_ok(nodes)
    for other in nodes:
        seen = {f[0]: f for f in other.nodes_lines()}
        for node in (primary, replica):
            old = before[node.port]
            assert seen[old[0]][8:] == old[8:] and seen[old[0]][3] == old[3] and seen[old[0]][7] == "connected"
    wait_converged(nodes)
