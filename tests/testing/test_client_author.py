"""Written as the author of a cluster client would: redis-py's ``RedisCluster`` (sync and
asyncio) against redirections and errors scripted on cue, each test asserting what the
client did about them (from the nodes' own INFO commandstats and the rules' hit counts).

The cluster comes from the opt-in plugin (3 primaries with a replica each, port 0).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

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
