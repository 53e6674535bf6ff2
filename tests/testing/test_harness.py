"""The in-process cluster harness: ready, usable by redis-py, real afterwards, closed cleanly.

What "ready" means is checked from the outside, over RESP (CLUSTER INFO / NODES /
REPLICAS as any client sees them), not through the harness's own predicate.
"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

from pyredis_cluster.cluster.bus import now_ms
from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.layout import Layout, slot_ranges
from pyredis_cluster.testing import ClusterNotReady, cluster_in_thread, start_cluster
from tests.support import async_command, async_raw_reply, refuses_connections

#: Loose on purpose (timings never go in tests; the measured numbers are in harness.py).
READY_WITHIN_SECONDS = 5.0


def parse_info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def topology_seen_by(nodes_text: str) -> set[tuple[str, ...]]:
    """CLUSTER NODES minus what legitimately differs per viewer (myself, times, link state)."""
    rows = set()
    for line in nodes_text.splitlines():
        fields = line.split()
        flags = ",".join(f for f in fields[2].split(",") if f != "myself")
        rows.add((fields[0], fields[1], flags, fields[3], fields[6], *fields[8:]))
    return rows


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_six_nodes_ready_and_agreeing() -> None:
    started = time.perf_counter()
    async with start_cluster(primaries=3, replicas_per_primary=1, node_timeout=5000) as cluster:
        elapsed = time.perf_counter() - started
        assert elapsed < READY_WITHIN_SECONDS
        assert len(cluster.nodes) == 6 and len(cluster.primaries) == 3 and len(cluster.replicas) == 3
        assert sorted(cluster.startup_nodes) == sorted(("127.0.0.1", node.port) for node in cluster.nodes)
        views = []
        for node in cluster.nodes:
            info = parse_info(await async_command(node.port, "CLUSTER", "INFO"))
            assert info["cluster_state"] == "ok", node.port
            assert info["cluster_slots_assigned"] == "16384"
            assert info["cluster_known_nodes"] == "6"
            assert info["cluster_size"] == "3"
            views.append(topology_seen_by(await async_command(node.port, "CLUSTER", "NODES")))
        assert all(view == views[0] for view in views)
        # Every node has an established outbound link to each of the others.
        for node in cluster.nodes:
            nodes_text = await async_command(node.port, "CLUSTER", "NODES")
            assert all(line.split()[7] == "connected" for line in nodes_text.splitlines())


async def test_slots_split_like_redis_cli_and_replicas_follow_their_primary() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1) as cluster:
        expected = slot_ranges(3)
        assert expected == [(0, 5460), (5461, 10922), (10923, 16383)]  # redis-cli's split, a known fact
        for primary, (first, last) in zip(cluster.primaries, expected):
            assert cluster.node_for_slot(first) is primary and cluster.node_for_slot(last) is primary
            replicas = await async_command(primary.port, "CLUSTER", "REPLICAS", primary.cluster.state.myid)
            assert len(replicas) == 1
            [replica] = cluster.replicas_of(primary)
            assert replicas[0].split()[0] == replica.cluster.state.myid
        # Distinct config epochs for the primaries (as after redis-cli's SET-CONFIG-EPOCH pass).
        epochs = [int(parse_info(await async_command(p.port, "CLUSTER", "INFO"))["cluster_my_epoch"])
                  for p in cluster.primaries]  # fmt: skip
        assert len(set(epochs)) == 3


async def test_redis_py_asyncio_cluster_client_in_the_same_loop() -> None:
    async with start_cluster(primaries=3, replicas_per_primary=1) as cluster:
        host, port = cluster.startup_nodes[0]
        client = AsyncRedisCluster(host=host, port=port)
        try:
            keys = [f"key:{i}".encode() for i in range(300)]
            for key in keys:
                await client.set(key, key + b"!")
            assert [await client.get(key) for key in keys] == [key + b"!" for key in keys]
            await client.mset_nonatomic({"{user1}:a": "1", "{user1}:b": "2"})
            assert await client.mget("{user1}:a", "{user1}:b") == [b"1", b"2"]
            # Each key really lives on the primary serving its slot and no other primary
            # (its replica gets a copy through replication).
            for key in keys[:50]:
                owner = cluster.node_for_slot(key_hash_slot(key))
                holders = [node for node in cluster.primaries if key in node.keyspace[0].data]
                assert holders == [owner]
        finally:
            await client.aclose()
        # A plain client is redirected with Redis's MOVED text to the owner.
        key = b"key:0"
        owner = cluster.node_for_slot(key_hash_slot(key))
        other = next(node for node in cluster.primaries if node is not owner)
        reply = await async_raw_reply(other.port, b"*2\r\n$3\r\nGET\r\n$5\r\nkey:0\r\n")
        assert reply == b"-MOVED %d 127.0.0.1:%d\r\n" % (key_hash_slot(key), owner.port)


async def test_close_leaves_no_task_socket_or_file() -> None:
    baseline_fds = open_fds()
    me = asyncio.current_task()
    async with start_cluster(primaries=3, replicas_per_primary=1) as cluster:
        ports = [node.port for node in cluster.nodes] + [node.cluster.bus.port for node in cluster.nodes]
        directory = cluster.directory
        assert os.listdir(directory)  # the nodes.conf files
    await asyncio.sleep(0)  # let transports finish their close callbacks
    assert [task for task in asyncio.all_tasks() if task is not me] == []
    assert all(refuses_connections(port) for port in ports)
    assert not os.path.exists(directory)
    assert open_fds() <= baseline_fds


async def test_close_while_links_are_being_redialled() -> None:
    """Closing while a node is reconnecting leaves no connect task and no socket behind."""
    baseline_fds = open_fds()
    me = asyncio.current_task()
    async with start_cluster(primaries=3) as cluster:
        support = cluster.nodes[0].cluster
        for peer in cluster.nodes[1:]:
            support.bus.kill_links(peer.cluster.state.myid, "all")
        support.run(support.state.tick(now_ms()))  # the cron redials at once: connects in flight
    await asyncio.sleep(0)
    assert [task for task in asyncio.all_tasks() if task is not me] == []
    assert open_fds() <= baseline_fds


async def test_failure_detection_is_real_after_start() -> None:
    """The cluster is not a snapshot: closing a primary is detected over the bus."""
    async with start_cluster(primaries=3, replicas_per_primary=0, node_timeout=300) as cluster:
        victim = cluster.primaries[0]
        victim_id = victim.cluster.state.myid
        survivors = cluster.nodes[1:]
        await victim.close()

        async def flagged_fail_everywhere() -> None:
            while True:
                texts = [await async_command(node.port, "CLUSTER", "NODES") for node in survivors]
                if all(any(line.startswith(victim_id) and "fail" in line.split()[2].split(",")
                           for line in text.splitlines()) for text in texts):  # fmt: skip
                    return
                await asyncio.sleep(0.02)

        await asyncio.wait_for(flagged_fail_everywhere(), timeout=10)
        info = parse_info(await async_command(survivors[0].port, "CLUSTER", "INFO"))
        assert info["cluster_state"] == "fail"  # its slots have no serving node


async def test_writable_delay_is_only_skipped_on_request() -> None:
    """With Redis's start-up delay kept, a primary is not ok straight away (and the
    harness says why)."""
    with pytest.raises(ClusterNotReady, match="cluster_state:fail"):
        async with start_cluster(primaries=1, writable_delay=60_000, ready_timeout=0.3):
            pass


async def test_node_options_reach_every_node() -> None:
    async with start_cluster(primaries=3, cluster_allow_reads_when_down=True, node_timeout=4321) as cluster:
        for node in cluster.nodes:
            client = redis.asyncio.Redis(port=node.port, decode_responses=True)
            try:
                config = await client.config_get("cluster-*")
            finally:
                await client.aclose()
            assert config["cluster-allow-reads-when-down"] == "yes"
            assert config["cluster-node-timeout"] == "4321"


def test_layout_rejects_what_redis_cli_rejects() -> None:
    assert Layout.for_nodes(6, 1) == Layout(3, 1)
    with pytest.raises(ValueError, match="at least 3 primaries"):
        Layout.for_nodes(4, 1)
    with pytest.raises(ValueError):
        Layout.for_nodes(7, 1)


def test_cluster_in_thread_with_redis_py_sync() -> None:
    with cluster_in_thread(primaries=3, replicas_per_primary=1) as cluster:
        client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in cluster.startup_nodes])
        try:
            for i in range(100):
                client.set(f"k{i}", i)
            assert [int(client.get(f"k{i}")) for i in range(100)] == list(range(100))
            assert client.cluster_info()["cluster_state"] == "ok"
        finally:
            client.close()
        cluster.wait_until_ok(timeout=5)
        ports = [node.port for node in cluster.nodes]
    assert all(refuses_connections(port) for port in ports)
