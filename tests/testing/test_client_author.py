"""Written as the author of a cluster client would: redis-py's ``RedisCluster`` (sync and
asyncio) against redirections and errors scripted on cue, each test asserting what the
client did about them (from the nodes' own INFO commandstats and the rules' hit counts).

The cluster comes from the opt-in plugin (3 primaries with a replica each, port 0). The
second half makes real topology changes happen under the client: a failover between
queuing a pipeline and sending it, a slot left half migrated, a primary partitioned away.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio
import redis
import redis.asyncio
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import ClusterDownError
from redis.retry import Retry

from pyredis_cluster.cluster.slots import key_hash_slot
from pyredis_cluster.server.node import Node
from pyredis_cluster.testing import LocalCluster, ThreadedCluster
from tests import support
from tests.support import RawClient

pytest_plugins = ["pyredis_cluster.testing.pytest_plugin"]

KEY = "user:{42}"
SLOT = key_hash_slot(KEY.encode())
#: Few retries and no backoff between them, as a client's own test suite would configure.
RETRIES = 2


def command_stats(node: Node, command: str) -> dict[str, int]:
    """``cmdstat_<command>`` of INFO commandstats on one node ({} if never called)."""
    client = redis.Redis(port=node.port)
    try:
        return client.info("commandstats").get(f"cmdstat_{command}", {})
    finally:
        client.close()


def other_primary(cluster: ThreadedCluster | LocalCluster, owner: Node) -> Node:
    return next(node for node in cluster.primaries if node is not owner)


# -- sync ---------------------------------------------------------------------------------------


@pytest.fixture
def client(redis_cluster: ThreadedCluster) -> Iterator[RedisCluster]:
    client = RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in redis_cluster.startup_nodes],
        retry=Retry(NoBackoff(), RETRIES),
    )
    client.set(KEY, "v")
    try:
        yield client
    finally:
        client.close()


def test_moved_client_follows_and_retries(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    owner = redis_cluster.node_for_slot(SLOT)
    elsewhere = other_primary(redis_cluster, owner)
    rule = redis_cluster.script_reply(owner, "MOVED", key=KEY, target=elsewhere)
    assert client.get(KEY) == b"v"
    assert rule.hits == 1
    # The client believed the MOVED: it asked the node named in it, which (not owning the
    # slot) sent it back with a real MOVED; the owner then served it.
    assert command_stats(elsewhere, "get").get("rejected_calls") == 1
    assert client.get_node_from_key(KEY).port == owner.port


def test_ask_client_sends_asking_then_the_command(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    owner = redis_cluster.node_for_slot(SLOT)
    elsewhere = other_primary(redis_cluster, owner)
    rule = redis_cluster.script_reply(owner, "ASK", key=KEY, target=elsewhere)
    assert client.get(KEY) == b"v"
    assert rule.hits == 1
    assert command_stats(elsewhere, "asking").get("calls") == 1
    assert command_stats(elsewhere, "get").get("rejected_calls") == 1  # ASKING then GET, there
    # ASK is one request's detour: the client's slot map still points at the owner.
    assert client.get_node_from_key(KEY).port == owner.port


def test_tryagain_client_retries_until_served(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    owner = redis_cluster.node_for_slot(SLOT)
    rule = redis_cluster.script_reply(owner, "TRYAGAIN", key=KEY, times=3)
    assert client.get(KEY) == b"v"
    assert rule.hits == 3 and command_stats(owner, "get").get("rejected_calls") == 3


def test_clusterdown_raises_after_the_retries(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    owner = redis_cluster.node_for_slot(SLOT)
    rule = redis_cluster.script_reply(owner, "CLUSTERDOWN", key=KEY, times=None)
    with pytest.raises(ClusterDownError, match="The cluster is down"):
        client.get(KEY)
    assert rule.hits == RETRIES + 1
    redis_cluster.clear_scripted_replies()
    assert client.get(KEY) == b"v"


def test_connection_drop_client_reconnects_and_retries(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    owner = redis_cluster.node_for_slot(SLOT)
    rule = redis_cluster.script_reply(owner, "DROP", key=KEY)
    assert client.get(KEY) == b"v"
    assert rule.hits == 1 and command_stats(owner, "get").get("calls") == 1  # the retry, served


# -- asyncio -----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def async_client(redis_cluster_async: LocalCluster) -> AsyncIterator[AsyncRedisCluster]:
    host, port = redis_cluster_async.startup_nodes[0]
    client = AsyncRedisCluster(host=host, port=port, retry=Retry(NoBackoff(), RETRIES))
    await client.set(KEY, "v")
    try:
        yield client
    finally:
        await client.aclose()


async def async_command_stats(node: Node, command: str) -> dict[str, int]:
    client = redis.asyncio.Redis(port=node.port)
    try:
        return (await client.info("commandstats")).get(f"cmdstat_{command}", {})
    finally:
        await client.aclose()


async def test_async_moved(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    owner = redis_cluster_async.node_for_slot(SLOT)
    elsewhere = other_primary(redis_cluster_async, owner)
    rule = redis_cluster_async.script_reply(owner, "MOVED", key=KEY, target=elsewhere)
    assert await async_client.get(KEY) == b"v"
    assert rule.hits == 1
    assert (await async_command_stats(elsewhere, "get")).get("rejected_calls") == 1


async def test_async_ask(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    owner = redis_cluster_async.node_for_slot(SLOT)
    elsewhere = other_primary(redis_cluster_async, owner)
    rule = redis_cluster_async.script_reply(owner, "ASK", key=KEY, target=elsewhere)
    assert await async_client.get(KEY) == b"v"
    assert rule.hits == 1
    assert (await async_command_stats(elsewhere, "asking")).get("calls") == 1


async def test_async_tryagain(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    owner = redis_cluster_async.node_for_slot(SLOT)
    rule = redis_cluster_async.script_reply(owner, "TRYAGAIN", key=KEY, times=2)
    assert await async_client.get(KEY) == b"v"
    assert rule.hits == 2


async def test_async_clusterdown(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    owner = redis_cluster_async.node_for_slot(SLOT)
    rule = redis_cluster_async.script_reply(owner, "CLUSTERDOWN", key=KEY, times=None)
    with pytest.raises(ClusterDownError):
        await async_client.get(KEY)
    assert rule.hits == RETRIES + 1


async def test_async_connection_drop(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    owner = redis_cluster_async.node_for_slot(SLOT)
    rule = redis_cluster_async.script_reply(owner, "DROP", key=KEY)
    assert await async_client.get(KEY) == b"v"
    assert rule.hits == 1


# -- real topology changes ----------------------------------------------------------------------
# A client's slot map goes stale when the cluster really changes under it: these tests make
# the change happen for real (a failover, a migration, a partition) and look at what the
# client did about it.

DEADLINE = 10.0


def write_slot_keys(client: RedisCluster, count: int) -> list[str]:
    keys = [f"{KEY}:{i}" for i in range(count)]
    for key in keys:
        client.set(key, key)
    return keys


def test_failover_mid_pipeline(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    old = redis_cluster.node_for_slot(SLOT)
    pipe = client.pipeline()
    pipe.set(KEY, "after").get(KEY).incr(f"{KEY}:counter")
    new = redis_cluster.failover(old, "manual")  # between queuing and sending
    assert pipe.execute() == [True, b"after", 1]
    # It went to the old primary first (its map was stale), was told MOVED, and followed.
    assert command_stats(old, "set").get("rejected_calls", 0) >= 1
    assert client.get_node_from_key(KEY).port == new.port
    assert {KEY.encode(), f"{KEY}:counter".encode()} <= redis_cluster.view(new).keys


def test_half_migrated_slot_ask_then_moved(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    keys = write_slot_keys(client, 6)
    source = redis_cluster.node_for_slot(SLOT)
    target = other_primary(redis_cluster, source)
    move = redis_cluster.move_slots(SLOT, target, stop_half_way=True)
    moved = move.moved_keys[0].decode()
    stayed = next(key for key in keys if key.encode() not in move.moved_keys)
    assert client.get(moved) == moved.encode()  # ASK: ASKING + GET on the target
    assert client.get(stayed) == stayed.encode()  # still served by the source
    assert command_stats(target, "asking").get("calls") == 1
    assert command_stats(source, "get").get("rejected_calls") == 1  # the ASK
    assert client.get_node_from_key(KEY).port == source.port  # ASK does not change the map
    redis_cluster.finish_move(move)
    assert client.get(stayed) == stayed.encode()  # MOVED now: the client follows for good
    assert client.get_node_from_key(KEY).port == target.port


@pytest.mark.redis_cluster(primaries=3, replicas=1, node_timeout=500)
def test_partitioned_primary(redis_cluster: ThreadedCluster, client: RedisCluster) -> None:
    old = redis_cluster.node_for_slot(SLOT)
    (replica,) = redis_cluster.replicas_of(old)
    redis_cluster.partition([old], [n for n in redis_cluster.nodes if n is not old])
    redis_cluster.wait_for_event("failover_won", node=replica, timeout=DEADLINE)
    wait_until(lambda: redis_cluster.view(old).cluster_state == "fail")  # it knows it is in a minority
    # The client's map still names the old primary: it is refused there (CLUSTERDOWN), rebuilds
    # its map from another node and follows the new primary (or raises, and the next try does).
    wait_until(lambda: set_or_cluster_down(client, KEY, "kept"))
    assert command_stats(old, "set").get("rejected_calls", 0) >= 1
    assert client.get_node_from_key(KEY).port == replica.port
    assert client.get(KEY) == b"kept" and KEY.encode() in redis_cluster.view(replica).keys
    # The minority primary accepts no write from anyone.
    with RawClient(old.port) as raw:
        assert raw.raw("SET", KEY, "lost") == b"-CLUSTERDOWN The cluster is down\r\n"
    redis_cluster.heal()


def set_or_cluster_down(client: RedisCluster, key: str, value: str) -> bool:
    try:
        return bool(client.set(key, value))
    except ClusterDownError:  # the map came from the minority side again: retry later
        return False


def wait_until(predicate: Callable[[], Any]) -> Any:
    """Poll a check made from this thread (the nodes run on their own loop)."""
    return support.wait_until(predicate, timeout=DEADLINE, interval=0.01)


async def test_async_failover_mid_pipeline(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    cluster = redis_cluster_async
    old = cluster.node_for_slot(SLOT)
    pipe = async_client.pipeline()
    pipe.set(KEY, "after").get(KEY).incr(f"{KEY}:counter")
    new = await cluster.failover(old, "manual")
    assert await pipe.execute() == [True, b"after", 1]
    assert (await async_command_stats(old, "set")).get("rejected_calls", 0) >= 1
    assert async_client.get_node_from_key(KEY).port == new.port


async def test_async_half_migrated_slot(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    cluster = redis_cluster_async
    keys = [f"{KEY}:{i}" for i in range(6)]
    for key in keys:
        await async_client.set(key, key)
    source = cluster.node_for_slot(SLOT)
    target = other_primary(cluster, source)
    move = await cluster.move_slots(SLOT, target, stop_half_way=True)
    moved = move.moved_keys[0].decode()
    stayed = next(key for key in keys if key.encode() not in move.moved_keys)
    assert await async_client.get(moved) == moved.encode()
    assert await async_client.get(stayed) == stayed.encode()
    assert (await async_command_stats(target, "asking")).get("calls") == 1
    assert async_client.get_node_from_key(KEY).port == source.port
    await move.finish()
    assert await async_client.get(stayed) == stayed.encode()
    assert async_client.get_node_from_key(KEY).port == target.port


@pytest.mark.redis_cluster(primaries=3, replicas=1, node_timeout=500)
async def test_async_partitioned_primary(redis_cluster_async: LocalCluster, async_client: AsyncRedisCluster) -> None:
    cluster = redis_cluster_async
    old = cluster.node_for_slot(SLOT)
    (replica,) = cluster.replicas_of(old)
    cluster.partition([old], [n for n in cluster.nodes if n is not old])
    await cluster.wait_for_event("failover_won", node=replica, timeout=DEADLINE)
    await async_wait_until(lambda: cluster.view(old).cluster_state == "fail")
    deadline = time.monotonic() + DEADLINE
    while True:  # as an application would: retry until the client has found the new primary
        try:
            assert await async_client.set(KEY, "kept")
            break
        except ClusterDownError:
            assert time.monotonic() < deadline, "the client never found the new primary"
    assert (await async_command_stats(old, "set")).get("rejected_calls", 0) >= 1
    assert async_client.get_node_from_key(KEY).port == replica.port
    assert KEY.encode() in cluster.view(replica).keys
    direct = redis.asyncio.Redis(port=old.port)
    try:
        with pytest.raises(ClusterDownError, match="The cluster is down"):
            await direct.set(KEY, "lost")
    finally:
        await direct.aclose()
    cluster.heal()


async def async_wait_until(predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + DEADLINE
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        await asyncio.sleep(0.01)
