"""The opt-in pytest plugin, run the way a user runs it: in a pytest of its own
(pytester, in a subprocess), with a failing test among them."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

USER_TESTS = '''
import json, pathlib, socket
import pytest
import redis
from redis.cluster import ClusterNode, RedisCluster

PORTS = pathlib.Path(__file__).with_name("ports.json")


def node_id_at(port):
    """The cluster node id answering on ``port``; None if nothing (or no such node) answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"CLUSTER MYID\\r\\n")
            reply = sock.recv(100)
    except OSError:
        return None
    return reply[5:45].decode() if reply.startswith(b"$40\\r\\n") else None


def record(cluster, scope="function"):
    seen = json.loads(PORTS.read_text()) if PORTS.exists() else []
    PORTS.write_text(json.dumps(seen + [[scope, node.port, node.cluster.state.myid] for node in cluster.nodes]))


def test_default_shape_serves_redis_py(redis_cluster):
    record(redis_cluster)
    assert len(redis_cluster.primaries) == 3 and len(redis_cluster.replicas) == 3
    client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in redis_cluster.startup_nodes])
    try:
        assert client.set("k", "v") and client.get("k") == b"v"
    finally:
        client.close()


@pytest.mark.redis_cluster(primaries=2, replicas=0, node_timeout=300)
def test_marker_shape(redis_cluster):
    record(redis_cluster)
    assert len(redis_cluster.nodes) == 2
    info = redis.Redis(port=redis_cluster.nodes[0].port).execute_command("CONFIG", "GET", "cluster-node-timeout")
    assert info == {b"cluster-node-timeout": b"300"}


def test_failing_test_still_cleans_up(redis_cluster):
    record(redis_cluster)
    assert False, "on purpose"


async def test_async_fixture(redis_cluster_async):
    record(redis_cluster_async)
    client = redis.asyncio.RedisCluster(host="127.0.0.1", port=redis_cluster_async.nodes[0].port)
    try:
        assert await client.set("k", "v") and await client.get("k") == b"v"
    finally:
        await client.aclose()


def test_session_one(redis_cluster_session):
    record(redis_cluster_session, "session")
    redis_cluster_session.script_reply(redis_cluster_session.nodes[0], "LOADING", command="ping")
    assert redis.Redis(port=redis_cluster_session.nodes[0].port).execute_command("PYREDIS.FAULT", "CLEAR") == 1


def test_session_two(redis_cluster_session):
    record(redis_cluster_session, "session")


def test_session_primaries_only(redis_cluster_session_primaries):
    record(redis_cluster_session_primaries, "session")
    assert len(redis_cluster_session_primaries.primaries) == 3 and not redis_cluster_session_primaries.replicas


def test_function_clusters_are_closed_when_their_test_ends():
    # Checked here, while this process (and the session clusters) still run: once the
    # pytest process exits, every socket closes whatever the fixtures did.
    closed = {(port, node) for scope, port, node in json.loads(PORTS.read_text()) if scope == "function"}
    assert len(closed) == 6 + 2 + 6 + 6 and all(node for _, node in closed)
    # A freed port may serve a later cluster by now, never the node that had it.
    assert [port for port, node in closed if node_id_at(port) == node] == []
'''


def test_plugin_fixtures_and_cleanup(pytester: pytest.Pytester) -> None:
    """Enabled with ``-p`` (test_client_author.py enables it with ``pytest_plugins``)."""
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "pyredis_cluster.testing.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=7, failed=1)
    records = json.loads((pytester.path / "ports.json").read_text())
    # 6 + 2 + 6 + 6 + 3 nodes, and the session cluster's 6 once more: the same nodes. By
    # node id, not port: a port freed by a function-scoped cluster may serve a later one.
    assert len(records) == 35
    function_ids = [node for scope, _, node in records if scope == "function"]
    session_nodes = [(port, node) for scope, port, node in records if scope == "session"]
    assert len(function_ids) == len(set(function_ids)) == 6 + 2 + 6 + 6  # a new cluster per test
    assert len(session_nodes) == 6 + 6 + 3 and len(set(session_nodes)) == 6 + 3  # reused, same ports
