"""Fixtures: our node (in a thread, port 0) and a real redis-server (the oracle)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyredis_cluster.testing.threaded import node_in_thread
from tests.support import RawClient, real_redis_server


@pytest.fixture
def node() -> Iterator[object]:
    """A standalone node of ours, listening on an ephemeral port, in a background thread."""
    with node_in_thread() as running:
        yield running


@pytest.fixture
def client(node: object) -> Iterator[RawClient]:
    with RawClient(node.port) as raw:  # type: ignore[attr-defined]
        yield raw


@pytest.fixture(scope="session")
def real_redis_port() -> Iterator[int]:
    """A real redis-server 7.0 for differential tests (shared by the session; flush it per use)."""
    with real_redis_server() as port:
        yield port


@pytest.fixture(scope="session")
def our_port() -> Iterator[int]:
    """A node of ours shared by the session's differential tests (flush it per use)."""
    with node_in_thread() as running:
        yield running.port
