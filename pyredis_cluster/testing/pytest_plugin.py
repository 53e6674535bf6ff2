"""pytest fixtures for a ready Redis Cluster on ephemeral ports: opt in with

    pytest_plugins = ["pyredis_cluster.testing.pytest_plugin"]   # in a conftest.py / test module
    # or: pytest -p pyredis_cluster.testing.pytest_plugin

Fixtures
--------
``redis_cluster``
    function-scoped, synchronous: a :class:`~pyredis_cluster.testing.ThreadedCluster`
    (nodes on a loop in a background thread, so redis-py sync, redis-cli and any other
    blocking client can talk to it). Default shape: 3 primaries with 1 replica each.
``redis_cluster_async``
    function-scoped, for async tests (pytest-asyncio): a
    :class:`~pyredis_cluster.testing.LocalCluster` in the test's own event loop.
``redis_cluster_session``
    one synchronous cluster shared by the whole session (start-up paid once). Tests
    sharing it must undo their own faults (``heal``, ``resume``,
    ``clear_scripted_replies``) and data; killing a node in it spoils it for the others.
``redis_cluster_session_primaries``
    the same, in the other common shape: 3 primaries without replicas.

Change the shape or any node option per test with a marker (underscores for dashes)::

    @pytest.mark.redis_cluster(primaries=3, replicas=0, node_timeout=300)
    def test_failover(redis_cluster): ...

Every fixture closes its nodes (sockets, timers, nodes.conf directory) when the test
ends, passed or failed. Nodes get ``enable-test-commands yes``, so non-Python clients
can script errors and faults with PYREDIS.FAULT (see faults.py). What a test can do with
the cluster (faults, failovers, slot moves, events) is in the README section "Testing your
client against pyredis_cluster".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .harness import LocalCluster, ThreadedCluster, cluster_in_thread, start_cluster

DEFAULT_SHAPE = {"primaries": 3, "replicas": 1}
MARKER = "redis_cluster"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(primaries=3, replicas=1, **node_options): shape and node options of the "
        "pyredis_cluster fixtures for this test",
    )


def cluster_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The fixture's keyword arguments: defaults, then the test's marker (if any)."""
    options: dict[str, Any] = {**DEFAULT_SHAPE, "enable_test_commands": True}
    marker = request.node.get_closest_marker(MARKER) if request.scope == "function" else None
    if marker is not None:
        options.update(marker.kwargs)
    options["replicas_per_primary"] = options.pop("replicas")
    return options


@pytest.fixture
def redis_cluster(request: pytest.FixtureRequest) -> Iterator[ThreadedCluster]:
    with cluster_in_thread(**cluster_options(request)) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster_session(request: pytest.FixtureRequest) -> Iterator[ThreadedCluster]:
    with cluster_in_thread(**cluster_options(request)) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster_session_primaries(request: pytest.FixtureRequest) -> Iterator[ThreadedCluster]:
    with cluster_in_thread(**{**cluster_options(request), "replicas_per_primary": 0}) as cluster:
        yield cluster


try:
    import pytest_asyncio
except ImportError:  # no pytest-asyncio: the async fixture is simply not offered
    pass
else:

    @pytest_asyncio.fixture
    async def redis_cluster_async(request: pytest.FixtureRequest) -> AsyncIterator[LocalCluster]:
        async with start_cluster(**cluster_options(request)) as cluster:
            yield cluster
